"""Street blind zones a captain can act on: one per street stretch and grid, named.

The unreached street less what cameras see (:func:`routing.coverage.blind_pieces`) joins
into a few large zones on a city. A captain acts on stretches of one street inside one grid
(a connected run of blind segments that share a name and a grid): each is drawn as the
buffer of its own blind pieces, named after the street and the cross streets at its ends —
"Whalley Ave between Fitch St and Blake St, grid nh-g080, 12 incidents in the shift" — and
weighed by the incidents of the shift on its segments. The zones are the union of the
stretches' shapes (:func:`routing.coverage.blind_zones`): every piece is buffered once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components

from gisapp.services.coverage_inputs import minutes_or_none
from layers.i18n import _, _l, format_number, ngettext
from routing.coverage import BlindPieces, blind_zones, piece_shapes
from routing.network import StreetNetwork
from routing.risk import shift_mask, weighted_incidents

logger = logging.getLogger(__name__)

__all__ = ["StreetBlindZones", "shift_incident_counts", "street_blind_zones", "street_zone_name"]

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


@dataclass(frozen=True)
class StreetBlindZones:
    """The street blind zones, per stretch and whole."""

    #: One row per stretch of one street in one grid: the blind-zone columns (network CRS
    #: geometry) plus ``street``, ``grid`` and ``incidents``.
    rows: pd.DataFrame
    #: The zones the stretches divide (:func:`routing.coverage.blind_zones`).
    zones: gpd.GeoDataFrame


def street_blind_zones(
    network: StreetNetwork,
    segments: pd.DataFrame,
    pieces: BlindPieces,
    *,
    grids: gpd.GeoDataFrame | None,
    incidents: npt.NDArray[np.int64],
    street_minutes: float,
    buffer_m: float,
) -> StreetBlindZones:
    """One blind zone per stretch of one street in one grid, named and weighed, and the
    zones they divide.

    Parameters
    ----------
    network
        The street network.
    segments
        Per segment reach (``blind_length_m``, ``full_s``, ``weight``, ``covered_weight``).
    pieces
        The unreached street less what cameras see (:func:`routing.coverage.blind_pieces`).
    grids
        The workspace's grids, or ``None``.
    incidents
        Incidents of the shift per segment (:func:`shift_incident_counts`).
    street_minutes, buffer_m
        The required minutes and the half-width of a zone around its street.
    """
    blind_m = segments["blind_length_m"].to_numpy(dtype=float)
    chosen = np.flatnonzero(blind_m > 1e-6)
    if not len(chosen):
        one = np.zeros(len(pieces), dtype=np.int64)
        shapes = piece_shapes(pieces, one, 1, buffer_m=buffer_m)
        return StreetBlindZones(pd.DataFrame(), blind_zones(network, segments, pieces, shapes))
    names = np.array(
        [
            str(n).strip() if isinstance(n, str) and str(n).strip() else ""
            for n in network.segment_name
        ],
        dtype=object,
    )
    seg_grid = _segment_grids(network, grids)
    key_text = pd.Series([f"{seg_grid[s]}\x00{names[s]}" for s in chosen])
    runs = _runs(network, chosen, pd.factorize(key_text)[0].astype(np.int64))
    n_runs = int(runs.max()) + 1
    # each piece is drawn with its stretch; a piece too short to make its segment a
    # stretch still belongs to the zones (one more group)
    run_of = np.full(network.n_segments, n_runs, dtype=np.int64)
    run_of[chosen] = runs
    shapes = piece_shapes(pieces, run_of[pieces.segment], n_runs + 1, buffer_m=buffer_m)
    zones = blind_zones(network, segments, pieces, shapes)
    blind_risk = (segments["weight"] - segments["covered_weight"]).to_numpy(dtype=float)
    full_s = segments["full_s"].to_numpy(dtype=float)
    touching = _NodeSegments(network)
    rows = []
    # the segments of every run at once (a mask per run is quadratic on a city)
    order = np.argsort(runs, kind="stable")
    bounds = np.searchsorted(runs[order], np.arange(n_runs + 1))
    for run_id in range(n_runs):
        polygon = shapes[run_id]
        if polygon is None or shapely.is_empty(polygon) or shapely.area(polygon) <= 0:
            continue  # cameras see all of it
        run = chosen[order[bounds[run_id] : bounds[run_id + 1]]]
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
    logger.info("street blind zones: %s stretches in %s zones", f"{len(rows):,}", len(zones))
    return StreetBlindZones(pd.DataFrame(rows), zones)
