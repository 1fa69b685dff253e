"""Street blind zones a captain can act on: one per street stretch and grid, named.

:func:`routing.coverage.blind_zone_polygons` joins every unreached piece of street it can
into one zone, which on a city is a few large shapes. Here those shapes are cut into
stretches of one street inside one grid (a connected run of blind segments that share a
name and a grid), each named after the street and the cross streets at its ends —
"Whalley Ave between Fitch St and Blake St, grid nh-g080, 12 incidents in the shift" — and
weighed by the incidents of the shift on its segments.
"""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components

from gisapp.services.coverage_inputs import minutes_or_none
from layers.i18n import _, _l, format_number, ngettext
from routing.network import StreetNetwork
from routing.risk import shift_mask, weighted_incidents

logger = logging.getLogger(__name__)

__all__ = ["shift_incident_counts", "street_blind_rows", "street_zone_name"]

#: Name given to a street without one.
UNNAMED = _l("unnamed street")


def shift_incident_counts(
    network: StreetNetwork,
    incidents: gpd.GeoDataFrame | None,
    *,
    timezone: str,
    window: tuple[str, str] | None,
    preventable_only: bool = True,
) -> npt.NDArray[np.int64]:
    """How many of the shift's incidents lie on each street segment.

    The incidents counted are those the risk counts (the risk incidents of the workspace,
    preventable ones by default, inside the shift window, near a street), each on the
    segment nearest to it.

    Returns
    -------
    numpy.ndarray
        One count per segment of ``network`` (zeros without incidents).
    """
    if incidents is None or len(incidents) == 0:
        return np.zeros(network.n_segments, dtype=np.int64)
    weighted = weighted_incidents(
        network,
        incidents,
        timezone=timezone,
        half_life_days=None,
        reference_time=None,
        preventable_only=preventable_only,
        max_snap_distance_m=100.0,
    )
    inside = shift_mask(weighted.local_time, window=window)
    return np.bincount(weighted.segment[inside], minlength=network.n_segments).astype(np.int64)


def street_zone_name(street: str, cross: list[str], grid: str, incidents: int) -> str:
    """The sentence naming a street blind zone, e.g. "Whalley Ave between Fitch St and
    Blake St, grid nh-g080, 12 incidents in the shift"."""
    if len(cross) >= 2:
        where = _(
            "%(street)s between %(first)s and %(second)s",
            street=street,
            first=cross[0],
            second=cross[1],
        )
    elif cross:
        where = _("%(street)s near %(cross)s", street=street, cross=cross[0])
    else:
        where = street
    count = format_number(incidents)
    if grid:
        return ngettext(
            "%(where)s, grid %(grid)s, %(num)s incident in the shift",
            "%(where)s, grid %(grid)s, %(num)s incidents in the shift",
            incidents,
            where=where,
            grid=grid,
            num=count,
        )
    return ngettext(
        "%(where)s, %(num)s incident in the shift",
        "%(where)s, %(num)s incidents in the shift",
        incidents,
        where=where,
        num=count,
    )


def _segment_grids(
    network: StreetNetwork, grids: gpd.GeoDataFrame | None
) -> npt.NDArray[np.object_]:
    """The id of the grid holding each segment's midpoint ("" outside every grid)."""
    out = np.full(network.n_segments, "", dtype=object)
    if grids is None or not len(grids) or "id" not in grids.columns:
        return out
    metric = grids.to_crs(network.crs)
    midpoints = shapely.line_interpolate_point(network.segment_geometry, 0.5, normalized=True)
    seg_idx, grid_idx = shapely.STRtree(metric.geometry.to_numpy()).query(
        midpoints, predicate="within"
    )
    ids = metric["id"].astype(str).to_numpy()
    # reversed, so the first grid listed wins where grids overlap
    out[seg_idx[::-1]] = ids[grid_idx[::-1]]
    return out


def _runs(
    network: StreetNetwork, chosen: npt.NDArray[np.int64], keys: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Connected runs of the chosen segments: those sharing a node and a key join."""
    n = len(chosen)
    nodes = np.concatenate([network.segment_u[chosen], network.segment_v[chosen]])
    owner = np.concatenate([np.arange(n), np.arange(n)])
    order = np.lexsort((keys[owner], nodes))
    nodes, owner = nodes[order], owner[order]
    same = (nodes[1:] == nodes[:-1]) & (keys[owner[1:]] == keys[owner[:-1]])
    graph = coo_array((np.ones(int(same.sum())), (owner[:-1][same], owner[1:][same])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return np.asarray(labels, dtype=np.int64)


class _NodeSegments:
    """The segments touching each node, looked up without scanning the network."""

    def __init__(self, network: StreetNetwork) -> None:
        nodes = np.concatenate([network.segment_u, network.segment_v])
        segs = np.concatenate([np.arange(network.n_segments)] * 2)
        order = np.argsort(nodes, kind="stable")
        self._segments = segs[order]
        self._start = np.searchsorted(nodes[order], np.arange(network.n_nodes + 1))

    def at(self, node: int) -> npt.NDArray[np.int64]:
        return self._segments[self._start[node] : self._start[node + 1]]


def _cross_streets(
    network: StreetNetwork,
    touching: _NodeSegments,
    run: npt.NDArray[np.int64],
    names: npt.NDArray[np.object_],
) -> list[str]:
    """Names of the other streets met at the two ends of a run (ends: nodes used once)."""
    street = names[run[0]]
    nodes, counts = np.unique(
        np.concatenate([network.segment_u[run], network.segment_v[run]]), return_counts=True
    )
    ends = nodes[counts == 1]
    found: list[str] = []
    for node in ends[:2] if len(ends) else nodes[:1]:
        at_node = touching.at(int(node))
        others = sorted({str(names[s]) for s in at_node if names[s] and names[s] != street})
        if others and others[0] not in found:
            found.append(others[0])
    return found


#: Most vertices of a zone tile (:func:`_zone_tiles`); a cut by a larger polygon is slower.
TILE_COORDS = 2_000
#: Most quadrant cuts of a zone (a tile is then 1/65,536 of the zone's extent).
_TILE_LEVELS = 16


def _zone_tiles(
    zones: npt.NDArray[np.object_], max_coords: int = TILE_COORDS
) -> npt.NDArray[np.object_]:
    """The zones cut into quadrants until each piece has at most ``max_coords`` vertices.

    The pieces cover exactly the zones (cut along shared straight lines), so a shape cut
    by the pieces it meets and joined again is the shape cut by the zones; a city-wide zone
    of 100,000+ vertices costs milliseconds per cut, a tile a fraction of it.
    """
    done: list[npt.NDArray[np.object_]] = []
    todo = np.asarray(zones, dtype=object)
    todo = todo[~shapely.is_empty(todo)]
    for _level in range(_TILE_LEVELS):
        small = shapely.get_num_coordinates(todo) <= max_coords
        done.append(todo[small])
        big = todo[~small]
        if not len(big):
            break
        x0, y0, x1, y1 = shapely.bounds(big).T
        xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
        quads = np.concatenate(
            [
                shapely.box(x0, y0, xm, ym),
                shapely.box(xm, y0, x1, ym),
                shapely.box(x0, ym, xm, y1),
                shapely.box(xm, ym, x1, y1),
            ]
        )
        cut = shapely.intersection(np.tile(big, 4), quads)
        cut = shapely.get_parts(cut[~shapely.is_empty(cut)])
        todo = cut[(shapely.get_type_id(cut) == 3) & (shapely.area(cut) > 0)]
    else:
        done.append(todo)  # pieces still large after many cuts are kept as they are
    return np.concatenate(done)


def _wholly_in_zones(segments: pd.DataFrame) -> npt.NDArray[np.bool_]:
    """Segments that are zone from end to end: reached from neither end and (when the
    frame says what cameras see) seen by no camera. Their buffer lies inside the zones."""
    inside = (segments["from_start"].to_numpy() <= 0) & (segments["from_end"].to_numpy() <= 0)
    if "camera_length_m" not in segments.columns:
        return np.zeros(len(segments), dtype=bool)  # cameras may cut any of them
    return np.asarray(inside & (segments["camera_length_m"].to_numpy() <= 0))


class _StretchShapes:
    """The drawn shape of every stretch: its streets buffered, cut by the blind zones.

    Every stretch's segments are joined into lines where they continue one another and
    all those lines buffered at once; a stretch's shape is the union of its lines' buffers
    (many times faster than the buffer of its MultiLineString or the union of its
    segments' buffers). The cut is by the small tiles of the zones it meets
    (:func:`_zone_tiles`), not by a city-wide zone, and is skipped for a stretch whose
    streets are all zone (:func:`_wholly_in_zones`).
    """

    def __init__(
        self,
        network: StreetNetwork,
        street_zones: gpd.GeoDataFrame,
        segments: pd.DataFrame,
        run_segments: npt.NDArray[np.int64],
        run_ids: npt.NDArray[np.int64],
        buffer_m: float,
    ) -> None:
        self._tiles = _zone_tiles(street_zones.geometry.to_numpy(), TILE_COORDS)
        self._tree = shapely.STRtree(self._tiles)
        self._inside = _wholly_in_zones(segments)
        merged = shapely.line_merge(
            shapely.multilinestrings(network.segment_geometry[run_segments], indices=run_ids)
        )
        lines, line_run = shapely.get_parts(merged, return_index=True)
        self._buffered = shapely.buffer(lines, buffer_m)
        self._bounds = np.searchsorted(line_run, np.arange(int(run_ids.max()) + 2))

    def polygon(self, run_id: int, run: npt.NDArray[np.int64]) -> shapely.Geometry | None:
        """The shape of stretch ``run_id`` (segments ``run``); None when no zone meets it."""
        own = self._buffered[self._bounds[run_id] : self._bounds[run_id + 1]]
        shape = own[0] if len(own) == 1 else shapely.union_all(own)
        if self._inside[run].all():
            return shape  # all of its streets are zone: the cut would keep it whole
        near = self._tree.query(shape, predicate="intersects")
        if not len(near):
            return None
        pieces = shapely.intersection(shape, self._tiles[near])
        return pieces[0] if len(pieces) == 1 else shapely.union_all(pieces)


def street_blind_rows(
    network: StreetNetwork,
    segments: pd.DataFrame,
    street_zones: gpd.GeoDataFrame,
    *,
    grids: gpd.GeoDataFrame | None,
    incidents: npt.NDArray[np.int64],
    street_minutes: float,
    buffer_m: float,
) -> pd.DataFrame:
    """One blind zone per stretch of one street in one grid, named and weighed.

    Parameters
    ----------
    network
        The street network.
    segments
        Per segment reach (``blind_length_m``, ``full_s``, ``weight``, ``covered_weight``,
        ``from_start``, ``from_end``) and, when known, ``camera_length_m`` (the street
        cameras see); without it every stretch is cut by the zones.
    street_zones
        The street blind zones of :func:`routing.coverage.blind_zone_polygons` (network
        CRS): what is drawn is cut from them, so what cameras see stays out.
    grids
        The workspace's grids, or ``None``.
    incidents
        Incidents of the shift per segment (:func:`shift_incident_counts`).
    street_minutes, buffer_m
        The required minutes and the half-width of a zone around its street.

    Returns
    -------
    pandas.DataFrame
        The blind-zone columns (network CRS geometry) plus ``street``, ``grid`` and
        ``incidents``.
    """
    blind_m = segments["blind_length_m"].to_numpy(dtype=float)
    chosen = np.flatnonzero(blind_m > 1e-6)
    if not len(chosen) or not len(street_zones):
        return pd.DataFrame()
    names = np.array(
        [
            str(n).strip() if isinstance(n, str) and str(n).strip() else ""
            for n in network.segment_name
        ],
        dtype=object,
    )
    seg_grid = _segment_grids(network, grids)
    key_text = pd.Series([f"{seg_grid[s]}\x00{names[s]}" for s in chosen])
    keys = pd.factorize(key_text)[0].astype(np.int64)
    runs = _runs(network, chosen, keys)
    blind_risk = (segments["weight"] - segments["covered_weight"]).to_numpy(dtype=float)
    full_s = segments["full_s"].to_numpy(dtype=float)
    touching = _NodeSegments(network)
    rows = []
    # the segments of every run at once (a mask per run is quadratic on a city)
    order = np.argsort(runs, kind="stable")
    bounds = np.searchsorted(runs[order], np.arange(int(runs.max()) + 2))
    shapes = _StretchShapes(network, street_zones, segments, chosen[order], runs[order], buffer_m)
    for run_id in range(int(runs.max()) + 1):
        run = chosen[order[bounds[run_id] : bounds[run_id + 1]]]
        polygon = shapes.polygon(run_id, run)
        if polygon is None:
            continue  # cameras see all of it
        if shapely.is_empty(polygon) or shapely.area(polygon) <= 0:
            continue
        street = names[run[0]] or str(UNNAMED)
        grid = str(seg_grid[run[0]])
        count = int(incidents[run].sum())
        rows.append(
            {
                "id": f"street-{grid or 'none'}-{run_id + 1}",
                "kind": "street",
                "name": street_zone_name(
                    street, _cross_streets(network, touching, run, names), grid, count
                ),
                "street": street,
                "grid": grid,
                "incidents": count,
                "risk": float(blind_risk[run].sum()),
                "required_minutes": street_minutes,
                "reached_minutes": minutes_or_none(float(full_s[run].max())),
                "length_m": float(blind_m[run].sum()),
                "area_m2": float(shapely.area(polygon)),
                "geometry": polygon,
            }
        )
    logger.info("street blind zones: %s stretches in %s zones", f"{len(rows):,}", len(street_zones))
    return pd.DataFrame(rows)
