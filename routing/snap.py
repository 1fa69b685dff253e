"""Snap points onto a street network: to the nearest segment, or to the nearest node.

Points farther than a limit from every street are never snapped silently: they are flagged,
counted in the log and can be turned into problem reports with :func:`snap_problems`.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import weakref
from collections import OrderedDict
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray

from layers.errors import Problem
from layers.i18n import _, format_number
from routing._speeds import mode_name
from routing.errors import NetworkError
from routing.network import StreetNetwork

logger = logging.getLogger(__name__)

#: Default largest distance between a point and the street it is snapped to.
MAX_SNAP_DISTANCE_M = 100.0
#: Radius of the first grid search for the nearest segment (the second: four times it).
_NEAR_M = 20.0


def _points_in_network_crs(
    network: StreetNetwork, points: gpd.GeoDataFrame | gpd.GeoSeries, argument: str
) -> NDArray[np.object_]:
    if not isinstance(points, gpd.GeoDataFrame | gpd.GeoSeries):
        raise NetworkError(
            f"'{argument}' should be a GeoDataFrame or GeoSeries of points, "
            f"got {type(points).__name__}"
        )
    geometry = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
    if len(geometry) and geometry.crs is None:
        raise NetworkError(
            _(
                "'%(argument)s' has no CRS; set it with .set_crs(...) (EPSG:4326 for lon/lat)",
                argument=argument,
            )
        )
    present = geometry.notna() & ~geometry.is_empty
    kinds = geometry[present].geom_type
    if (kinds != "Point").any():
        found = ", ".join(
            f"{format_number(n)} {k}" for k, n in kinds[kinds != "Point"].value_counts().items()
        )
        raise NetworkError(
            _(
                "'%(argument)s' should hold Point geometries, got %(found)s; use the centroids "
                "or representative points of other shapes",
                argument=argument,
                found=found,
            )
        )
    if len(geometry) and geometry.crs != network.crs:
        geometry = geometry.to_crs(network.crs)
    return geometry.to_numpy()


def snap_points(
    network: StreetNetwork,
    points: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    max_distance_m: float = MAX_SNAP_DISTANCE_M,
) -> gpd.GeoDataFrame:
    """Snap every point to the nearest street segment, up to ``max_distance_m`` away.

    Parameters
    ----------
    network
        The street network.
    points
        Points in any CRS (reprojected to the network's).
    max_distance_m
        Points farther than this from every segment are not snapped: their row has
        ``snapped`` False, ``segment`` and ``edge`` -1, the distance to the nearest street
        in ``distance_m`` and an empty geometry.

    Returns
    -------
    GeoDataFrame
        Indexed like ``points``, in the network CRS, with ``snapped``, ``segment`` (the
        nearest; of equally near ones, the lowest numbered), ``edge`` (an edge along that
        segment, the forward one when there is one), ``distance_m``, ``position_m`` (from
        the start of the segment), ``position`` (0..1 along it) and the snapped point as
        geometry.

    Raises
    ------
    NetworkError
        If ``points`` is not a point layer with a CRS, or ``max_distance_m`` is not positive.
    """
    if not max_distance_m > 0:
        raise NetworkError(_("'max_distance_m' should be > 0, got %(value)r", value=max_distance_m))
    geoms = _points_in_network_crs(network, points, "points")
    n = len(geoms)
    segment = np.full(n, -1, dtype=np.int64)
    distance_m = np.full(n, np.nan)
    valid = np.flatnonzero(~(shapely.is_missing(geoms) | shapely.is_empty(geoms)))
    nearest = np.full(n, -1, dtype=np.int64)
    if len(valid):
        found, dist = _nearest_remembered(network, geoms[valid])
        nearest[valid] = found
        distance_m[valid] = dist
    snapped = (nearest >= 0) & (distance_m <= max_distance_m)
    segment[snapped] = nearest[snapped]
    far = np.flatnonzero(~snapped & ~np.isnan(distance_m))
    if len(far):
        logger.warning(
            "%s of %s points are farther than %s m from any street and were not snapped "
            "(farthest %s m)",
            f"{len(far):,}",
            f"{n:,}",
            f"{max_distance_m:,.0f}",
            f"{np.nanmax(distance_m[far]):,.0f}",
        )
    if n - len(valid):
        logger.warning("%s of %s points have no geometry", f"{n - len(valid):,}", f"{n:,}")

    lines = network.segment_geometry[segment[snapped]]
    position_m = np.full(n, np.nan)
    position_m[snapped] = shapely.line_locate_point(lines, geoms[snapped])
    length_m = network.segment_length_m[segment[snapped]]
    position = np.full(n, np.nan)
    position[snapped] = np.divide(
        position_m[snapped], length_m, out=np.zeros(len(length_m)), where=length_m > 0
    )
    snapped_point = np.full(n, None, dtype=object)
    snapped_point[snapped] = shapely.line_interpolate_point(lines, position_m[snapped])
    edge = np.full(n, -1, dtype=np.int64)
    edge[snapped] = _segment_edge(network)[segment[snapped]]
    index = points.index
    return gpd.GeoDataFrame(
        {
            "snapped": snapped,
            "segment": segment,
            "edge": edge,
            "distance_m": distance_m,
            "position_m": position_m,
            "position": position,
        },
        geometry=gpd.GeoSeries(snapped_point, crs=network.crs, index=index),
        index=index,
    )


#: Point sets whose nearest segments each network remembers (a command weighs the same
#: incidents several times: risk, risk by hour, blind streets).
_REMEMBERED = 4
_remembered: weakref.WeakKeyDictionary[
    StreetNetwork, OrderedDict[bytes, tuple[NDArray[np.int64], NDArray[np.float64]]]
] = weakref.WeakKeyDictionary()
_remembered_lock = threading.Lock()


def _nearest_remembered(
    network: StreetNetwork, geoms: NDArray[np.object_]
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """:func:`_nearest_segments` of ``geoms``, found once per network and point set (the
    points are known by a digest of their coordinates)."""
    key = hashlib.blake2b(shapely.get_coordinates(geoms).tobytes(), digest_size=16).digest()
    with _remembered_lock:
        known = _remembered.setdefault(network, OrderedDict())
        if key in known:
            known.move_to_end(key)
            found, dist = known[key]
            return found.copy(), dist.copy()
    found, dist = _nearest_segments(network, geoms, _NEAR_M)
    with _remembered_lock:
        known[key] = (found.copy(), dist.copy())
        while len(known) > _REMEMBERED:
            known.popitem(last=False)
    return found, dist


def _nearest_segments(
    network: StreetNetwork, geoms: NDArray[np.object_], near_m: float
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Nearest segment of every point and its distance, exactly; ties go to the lowest
    segment number.

    Most points lie a few metres from a street. The straight pieces of the segments are
    binned in a grid once per search radius (``near_m``, then four times it) and each
    point's distance to the pieces of its cell is computed with numpy: a point with a
    piece within the radius has its nearest segment among them. Only the points left
    after both rounds go through GEOS's ``query_nearest`` (unbounded, which also measures
    the rejected points for the report). The distance returned is GEOS's distance to the
    chosen segment. Measured on 200k generated Wuhan points (cold index, median of 5):
    1.7x faster than a ``dwithin`` query with a distance minimum before it, with the same
    distances.
    """
    n = len(geoms)
    segment = np.full(n, -1, dtype=np.int64)
    xy = shapely.get_coordinates(geoms)
    start, end, piece_segment = _segment_pieces(network.segment_geometry, 4 * near_m)
    todo = np.arange(n)
    for radius_m in (near_m, 4 * near_m):
        if not len(todo):
            break
        grid = _PieceGrid(start, end, radius_m, xy[todo])
        for chunk in np.array_split(todo, -(-len(todo) // _CHUNK)):
            piece = grid.nearest(xy[chunk])
            near = piece >= 0
            segment[chunk[near]] = piece_segment[piece[near]]
        todo = np.flatnonzero(segment < 0)
    distance_m = np.full(n, np.nan)
    found = np.flatnonzero(segment >= 0)
    distance_m[found] = shapely.distance(geoms[found], network.segment_geometry[segment[found]])
    if len(todo):
        (which, nearest), dist = network.segment_tree.query_nearest(
            geoms[todo], return_distance=True, all_matches=True
        )
        order = np.lexsort((nearest, which))  # ties: the lowest segment number
        which, nearest, dist = which[order], nearest[order], dist[order]
        first = np.ones(len(which), dtype=bool)
        first[1:] = which[1:] != which[:-1]
        segment[todo[which[first]]] = nearest[first]
        distance_m[todo[which[first]]] = dist[first]
    return segment, distance_m


#: Points per batch of the grid search. It bounds the candidate pairs held at once: with
#: 65,536 points the temporaries of a batch were fresh memory every time (200,000 Wuhan
#: points, a new process's first snap: 2.3 s against 1.7 s in batches of this size,
#: median of 3).
_CHUNK = 16_384


def _segment_pieces(
    segments: NDArray[np.object_], max_length_m: float
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """Start and end of every straight piece of the segments, and its segment.

    Pieces longer than ``max_length_m`` are cut into equal parts, so that no piece spans
    more than a few grid cells (a long straight road would otherwise fill thousands).
    """
    parts, part_segment = shapely.get_parts(segments, return_index=True)
    coords, part = shapely.get_coordinates(parts, return_index=True)
    same = part[1:] == part[:-1]
    start, end = coords[:-1][same], coords[1:][same]
    segment = part_segment[part[:-1][same]].astype(np.int64)
    cuts = np.maximum(np.ceil(np.hypot(*(end - start).T) / max_length_m), 1).astype(np.int64)
    if (cuts == 1).all():
        return start, end, segment
    piece = np.repeat(np.arange(len(start)), cuts)
    k = np.arange(len(piece)) - np.repeat(np.cumsum(cuts) - cuts, cuts)
    step = (end - start)[piece] / cuts[piece, None]
    return start[piece] + k[:, None] * step, start[piece] + (k + 1)[:, None] * step, segment[piece]


class _PieceGrid:
    """Straight pieces binned in square cells, each piece in every cell within a radius.

    A piece is listed in every cell its bounding box, grown by the radius, overlaps: a
    point's cell lists every piece within the radius of the point (and some farther).
    """

    def __init__(
        self,
        start: NDArray[np.float64],
        end: NDArray[np.float64],
        radius_m: float,
        xy: NDArray[np.float64],
    ) -> None:
        self.start, self.end, self.radius_m = start, end, radius_m
        self.cell_m = 2 * radius_m
        # a hair wider, so that rounding never leaves a piece within the radius out
        grow = radius_m * (1 + 1e-9) + 1e-6
        low, high = np.minimum(start, end) - grow, np.maximum(start, end) + grow
        self.origin = np.minimum(low.min(axis=0), xy.min(axis=0)) - self.cell_m
        top = np.maximum(high.max(axis=0), xy.max(axis=0)) + self.cell_m
        self.rows = int((top[1] - self.origin[1]) // self.cell_m) + 1
        first = self._cells(low)
        last = self._cells(high)
        width, height = last[:, 0] - first[:, 0] + 1, last[:, 1] - first[:, 1] + 1
        count = width * height
        piece = np.repeat(np.arange(len(start)), count)
        k = np.arange(len(piece)) - np.repeat(np.cumsum(count) - count, count)
        column = first[piece, 0] + k // height[piece]
        row = first[piece, 1] + k % height[piece]
        key = column * self.rows + row
        order = np.argsort(key, kind="stable")
        self.key, self.piece = key[order], piece[order]

    def _cells(self, xy: NDArray[np.float64]) -> NDArray[np.int64]:
        return np.floor((xy - self.origin) / self.cell_m).astype(np.int64)

    def nearest(self, xy: NDArray[np.float64]) -> NDArray[np.int64]:
        """The nearest piece of every point when within the radius, else -1."""
        cell = self._cells(xy)
        key = cell[:, 0] * self.rows + cell[:, 1]
        first = np.searchsorted(self.key, key, side="left")
        count = np.searchsorted(self.key, key, side="right") - first
        point = np.repeat(np.arange(len(xy)), count)
        offset = np.arange(len(point)) - np.repeat(np.cumsum(count) - count, count)
        piece = self.piece[np.repeat(first, count) + offset]
        dist = _point_piece_distance(xy[point], self.start[piece], self.end[piece])
        # pairs come grouped by point: the first pair at its point's minimum wins
        has = count > 0
        least = np.repeat(np.minimum.reduceat(dist, (np.cumsum(count) - count)[has]), count[has])
        best = np.flatnonzero((dist == least) & (dist <= self.radius_m))
        first = np.ones(len(best), dtype=bool)
        first[1:] = point[best[1:]] != point[best[:-1]]
        best = best[first]
        point, piece = point[best], piece[best]
        nearest = np.full(len(xy), -1, dtype=np.int64)
        nearest[point] = piece
        return nearest


def _point_piece_distance(
    xy: NDArray[np.float64], start: NDArray[np.float64], end: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Distance of every point to its straight piece, as GEOS computes it."""
    px, py = xy[:, 0], xy[:, 1]
    ax, ay, bx, by = start[:, 0], start[:, 1], end[:, 0], end[:, 1]
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    with np.errstate(invalid="ignore", divide="ignore"):
        along = ((px - ax) * dx + (py - ay) * dy) / length2
        across = ((ay - py) * dx - (ax - px) * dy) / length2
    to_start = np.sqrt((px - ax) ** 2 + (py - ay) ** 2)
    to_end = np.sqrt((px - bx) ** 2 + (py - by) ** 2)
    inside = np.abs(across) * np.sqrt(length2)
    return np.where((length2 == 0) | (along <= 0), to_start, np.where(along >= 1, to_end, inside))


def _segment_edge(network: StreetNetwork) -> NDArray[np.int64]:
    """One edge per segment: the forward edge when there is one, else the backward one."""
    edge = np.full(network.n_segments, -1, dtype=np.int64)
    order = np.argsort(network.edge_forward, kind="stable")  # backward first, forward last
    edge[network.edge_segment[order]] = order
    return edge


def snap_problems(
    snapped: gpd.GeoDataFrame,
    *,
    layer: str,
    max_distance_m: float,
    ids: Any = None,
) -> list[Problem]:
    """Problems for the points :func:`snap_points` could not snap.

    Parameters
    ----------
    snapped
        The result of :func:`snap_points`.
    layer
        Layer the points come from, e.g. ``"incidents"``.
    max_distance_m
        The limit that was used.
    ids
        Feature ids aligned with ``snapped`` (its index by default).
    """
    ids = snapped.index if ids is None else ids
    problems = []
    for feature_id, ok, dist in zip(ids, snapped["snapped"], snapped["distance_m"], strict=True):
        if ok:
            continue
        if np.isnan(dist):
            message, fix = _("has no location."), _("Give the feature a point geometry.")
        else:
            message = _(
                "is %(distance)s m from the nearest street, beyond the %(limit)s m snapping "
                "limit; it is left out.",
                distance=format_number(dist),
                limit=format_number(max_distance_m),
            )
            fix = _(
                "Check its coordinates (CRS, swapped lon/lat, GCJ-02 offset) or raise the "
                "snapping limit."
            )
        problems.append(
            Problem(layer, str(feature_id), "far_from_street", message, fix, severity="warning")
        )
    return problems


def nearest_nodes(
    network: StreetNetwork,
    points: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    max_distance_m: float | None = 500.0,
    return_distance_m: bool = False,
) -> NDArray[np.int64] | tuple[NDArray[np.int64], NDArray[np.float64]]:
    """The nearest network node of every point (e.g. stations as reach sources).

    Parameters
    ----------
    network
        The street network.
    points
        Points in any CRS.
    max_distance_m
        Largest allowed distance to the nearest node, or ``None`` for no limit.
    return_distance_m
        Also return the distances in metres.

    Returns
    -------
    ndarray or tuple of ndarray
        Node index per point (and the distances with ``return_distance_m``).

    Raises
    ------
    NetworkError
        If a point has no geometry or lies farther than ``max_distance_m`` from every node;
        the message names the points and their distances.
    """
    geoms = _points_in_network_crs(network, points, "points")
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        names = points.index[missing][:10].tolist()
        raise NetworkError(
            _("'points' %(names)s have no geometry; give every point a location", names=names)
        )
    xy = shapely.get_coordinates(geoms)
    dist, node = network.node_tree.query(xy) if len(xy) else (np.empty(0), np.empty(0, int))
    node = np.asarray(node, dtype=np.int64)
    dist = np.asarray(dist, dtype=float)
    if max_distance_m is not None:
        far = dist > max_distance_m
        if far.any():
            listed = ", ".join(
                f"{label!r} ({format_number(d)} m)"
                for label, d in zip(points.index[far][:10], dist[far][:10], strict=True)
            )
            raise NetworkError(
                _(
                    "%(n)s point(s) of 'points' are farther than %(limit)s m from the %(mode)s "
                    "network: %(points)s; check their coordinates or pass a larger "
                    "'max_distance_m'",
                    n=format_number(int(far.sum())),
                    limit=format_number(max_distance_m),
                    mode=mode_name(network.mode),
                    points=listed,
                )
            )
    return (node, dist) if return_distance_m else node
