"""Snap points onto a street network: to the nearest segment, or to the nearest node.

Points farther than a limit from every street are never snapped silently: they are flagged,
counted in the log and can be turned into problem reports with :func:`snap_problems`.
"""

from __future__ import annotations

import logging
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
#: Radius of the first, candidate-based search for the nearest segment.
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
        Indexed like ``points``, in the network CRS, with ``snapped``, ``segment``,
        ``edge`` (an edge along that segment, the forward one when there is one),
        ``distance_m``, ``position_m`` (from the start of the segment), ``position``
        (0..1 along it) and the snapped point as geometry.

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
        found, dist = _nearest_segments(network, geoms[valid], min(max_distance_m, _NEAR_M))
        nearest[valid] = found
        distance_m[valid] = dist
    snapped = (nearest >= 0) & (distance_m <= max_distance_m)
    segment[snapped] = nearest[snapped]
    far = np.setdiff1d(valid, np.flatnonzero(snapped))
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


def _nearest_segments(
    network: StreetNetwork, geoms: NDArray[np.object_], near_m: float
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Nearest segment of every point and its distance, exactly.

    Most points lie a few metres from a street: a ``dwithin`` query for them and a plain
    distance minimum beat GEOS's nearest-neighbour search (measured 1.5x on 200k Wuhan
    points); only the rest go through ``query_nearest``, unbounded because a bound makes
    GEOS slower, and so the rejected points are measured for the report on the way.
    """
    n = len(geoms)
    segment = np.full(n, -1, dtype=np.int64)
    distance_m = np.full(n, np.nan)
    point, candidate = network.segment_tree.query(geoms, predicate="dwithin", distance=near_m)
    if len(point):
        dist = shapely.distance(geoms[point], network.segment_geometry[candidate])
        order = np.lexsort((dist, point))
        point, candidate, dist = point[order], candidate[order], dist[order]
        first = np.ones(len(point), dtype=bool)
        first[1:] = point[1:] != point[:-1]
        segment[point[first]] = candidate[first]
        distance_m[point[first]] = dist[first]
    rest = np.flatnonzero(segment < 0)
    if len(rest):
        (which, found), dist = network.segment_tree.query_nearest(
            geoms[rest], return_distance=True, all_matches=False
        )
        segment[rest[which]] = found
        distance_m[rest[which]] = dist
    return segment, distance_m


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
