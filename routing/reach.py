"""Reach over a street network: multi-source travel times, isochrones, matrices and paths.

All heavy work runs on the network's sparse travel-time matrix with
``scipy.sparse.csgraph.dijkstra``. Reach along a segment is exact: a segment whose start is
reached with time to spare is covered for the length that time allows, from either end.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.ops
from numpy.typing import ArrayLike, NDArray
from scipy.sparse import csr_array
from scipy.sparse.csgraph import connected_components, dijkstra

from layers.i18n import _, format_number
from routing._speeds import mode_name
from routing.errors import NetworkError
from routing.network import StreetNetwork
from routing.snap import nearest_nodes

logger = logging.getLogger(__name__)

Sources: TypeAlias = ArrayLike | gpd.GeoDataFrame | gpd.GeoSeries

#: Origins per Dijkstra batch in :func:`travel_time_matrix` (bounds memory to a few rows).
_MATRIX_BATCH = 256


#: Segments a quarter circle of a reach or blind-zone buffer is drawn with: about half a
#: metre off a true circle at 25 m, and a fifth fewer vertices to join than shapely's 8.
QUAD_SEGMENTS = 4


def as_nodes(
    network: StreetNetwork, nodes: Sources, *, argument: str = "sources"
) -> NDArray[np.int64]:
    """Node indices from node indices or from points (their nearest nodes).

    Raises
    ------
    NetworkError
        If an index is not a node of ``network``, or a point is far from it.
    """
    if isinstance(nodes, gpd.GeoDataFrame | gpd.GeoSeries):
        return np.asarray(nearest_nodes(network, nodes), dtype=np.int64)
    array: NDArray[Any] = np.atleast_1d(np.asarray(nodes))
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise NetworkError(
            f"'{argument}' should be node indices or points, got values of type {array.dtype}"
        )
    array = array.astype(np.int64).reshape(-1)
    bad = (array < 0) | (array >= network.n_nodes)
    if bad.any():
        raise NetworkError(
            _(
                "'%(argument)s' holds %(values)s, which are not nodes of the network (0..%(last)s); "
                "snap points with nearest_nodes first",
                argument=argument,
                values=array[bad][:5].tolist(),
                last=format_number(network.n_nodes - 1),
            )
        )
    return array


@dataclass(frozen=True)
class NodeReach:
    """Travel time from the nearest of several sources to every node.

    Parameters
    ----------
    time_s
        Seconds to every node, ``inf`` where not reached within the cutoff.
    source
        Position (in the given sources) of the source that reaches each node first, -1
        where not reached.
    sources
        The source nodes.
    cutoff_s
        The cutoff used, or ``None``.
    """

    time_s: NDArray[np.float64]
    source: NDArray[np.int64]
    sources: NDArray[np.int64]
    cutoff_s: float | None

    @property
    def reached(self) -> NDArray[np.bool_]:
        return np.isfinite(self.time_s)


def reach_nodes(
    network: StreetNetwork,
    sources: Sources,
    *,
    cutoff_s: float | None = None,
) -> NodeReach:
    """Multi-source reach: the travel time from the nearest source to every node.

    Parameters
    ----------
    network
        The street network.
    sources
        Source nodes (indices) or points (snapped to their nearest nodes).
    cutoff_s
        Stop at this many seconds; nodes beyond are unreached.

    Returns
    -------
    NodeReach

    Raises
    ------
    NetworkError
        If ``sources`` is empty or not on the network, or ``cutoff_s`` is negative.
    """
    nodes = as_nodes(network, sources)
    if len(nodes) == 0:
        raise NetworkError(_("'sources' is empty: give at least one source node or point"))
    if cutoff_s is not None and not cutoff_s >= 0:
        raise NetworkError(_("'cutoff_s' should be >= 0 seconds, got %(value)r", value=cutoff_s))
    time_s, _predecessors, reached_from = dijkstra(
        network.travel_time_csr,
        directed=True,
        indices=nodes,
        min_only=True,
        limit=np.inf if cutoff_s is None else float(cutoff_s),
        return_predecessors=True,
    )
    # scipy names the source node; report its position in the caller's list instead
    position = np.full(network.n_nodes, -1, dtype=np.int64)
    position[nodes[::-1]] = np.arange(len(nodes))[::-1]
    source = np.where(reached_from >= 0, position[np.maximum(reached_from, 0)], -1)
    logger.debug(
        "reach from %s sources: %s of %s nodes",
        f"{len(nodes):,}",
        f"{np.isfinite(time_s).sum():,}",
        f"{network.n_nodes:,}",
    )
    return NodeReach(time_s=time_s, source=source, sources=nodes, cutoff_s=cutoff_s)


def segment_reach(
    network: StreetNetwork,
    reach: NodeReach,
    *,
    cutoff_s: float | None = None,
) -> pd.DataFrame:
    """Travel times to every street segment, partial segments included.

    A segment is entered from its start by its forward edge and from its end by its
    backward edge (one-way segments only from one end).

    Parameters
    ----------
    network
        The street network.
    reach
        Node travel times from :func:`reach_nodes`.
    cutoff_s
        Time budget for the reached lengths; ``reach.cutoff_s`` by default.

    Returns
    -------
    DataFrame
        One row per segment: ``first_s`` (time to touch it), ``full_s`` (time by which all
        of it is reached), ``from_start`` and ``from_end`` (fractions reached from either
        end within the cutoff), ``reached_fraction`` and ``reached_length_m``.
    """
    cutoff = reach.cutoff_s if cutoff_s is None else cutoff_s
    n = network.n_segments
    t_start = np.full(n, np.inf)
    t_end = np.full(n, np.inf)
    crossing_s = np.zeros(n)
    fwd = network.edge_forward
    start_node_time = reach.time_s[network.edge_u]
    t_start[network.edge_segment[fwd]] = start_node_time[fwd]
    t_end[network.edge_segment[~fwd]] = start_node_time[~fwd]
    crossing_s[network.edge_segment] = network.edge_travel_time_s
    first_s = np.minimum(t_start, t_end)
    with np.errstate(invalid="ignore"):
        # both ends reached: the last point reached is where the two fronts meet
        meet_s = (t_start + t_end + crossing_s) / 2
        full_s = np.where(
            np.isfinite(t_start) & np.isfinite(t_end),
            np.minimum(meet_s, np.minimum(t_start, t_end) + crossing_s),
            first_s + crossing_s,
        )
    if cutoff is None:
        from_start = np.where(np.isfinite(t_start), 1.0, 0.0)
        from_end = np.where(np.isfinite(t_end), 1.0, 0.0)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            from_start = np.clip((cutoff - t_start) / crossing_s, 0.0, 1.0)
            from_end = np.clip((cutoff - t_end) / crossing_s, 0.0, 1.0)
        from_start = np.nan_to_num(from_start, nan=0.0)
        from_end = np.nan_to_num(from_end, nan=0.0)
    fraction = np.minimum(from_start + from_end, 1.0)
    frame = pd.DataFrame(
        {
            "first_s": first_s,
            "full_s": full_s,
            "from_start": from_start,
            "from_end": from_end,
            "reached_fraction": fraction,
            "reached_length_m": fraction * network.segment_length_m,
        }
    )
    frame.index.name = "segment"
    return frame


class SegmentEnds:
    """When the two ends of every segment are reached, and how much of it a budget covers.

    The arithmetic of :func:`segment_reach` split in two: the index arrays are built once
    per network, then node times for many instants or budgets cost a few array operations
    each, with no frame.

    Parameters
    ----------
    network
        The street network.
    """

    def __init__(self, network: StreetNetwork) -> None:
        fwd = network.edge_forward
        self._n = network.n_segments
        self._fwd_segment = network.edge_segment[fwd]
        self._fwd_node = network.edge_u[fwd]
        self._bwd_segment = network.edge_segment[~fwd]
        self._bwd_node = network.edge_u[~fwd]
        crossing_s = np.zeros(self._n)
        crossing_s[network.edge_segment] = network.edge_travel_time_s
        self.crossing_s = crossing_s

    def times(self, time_s: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Seconds to each segment's start (forward edge) and end (backward edge), inf
        where that end is not reached or not entered."""
        t_start = np.full(self._n, np.inf)
        t_end = np.full(self._n, np.inf)
        t_start[self._fwd_segment] = time_s[self._fwd_node]
        t_end[self._bwd_segment] = time_s[self._bwd_node]
        return t_start, t_end

    def fractions(
        self, time_s: NDArray[np.float64], cutoffs_s: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Fractions of each segment reached from its start and from its end within each
        budget: two arrays of shape ``(len(cutoffs_s), n_segments)``."""
        cutoffs = np.asarray(cutoffs_s, dtype=float).reshape(-1, 1)
        return tuple(self._fraction(cutoffs, t) for t in self.times(time_s))  # type: ignore[return-value]

    def _fraction(
        self, cutoffs: NDArray[np.float64], t: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """``clip((cutoff - t) / crossing, 0, 1)``, 0 where undefined (0/0, inf - inf), in
        place: this runs once per instant of a shift."""
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.subtract(cutoffs, t)
            np.divide(share, self.crossing_s, out=share)
        np.clip(share, 0.0, 1.0, out=share)
        share[np.isnan(share)] = 0.0
        return share


def reached_lines(network: StreetNetwork, segments: pd.DataFrame) -> NDArray[np.object_]:
    """The reached pieces of street, cut at the reachable length of partial segments.

    Parameters
    ----------
    network
        The street network.
    segments
        The result of :func:`segment_reach`.
    """
    from_start = segments["from_start"].to_numpy()
    from_end = segments["from_end"].to_numpy()
    whole = from_start + from_end >= 1.0
    pieces: list[Any] = list(network.segment_geometry[whole])
    geometry = network.segment_geometry
    length_m = network.segment_length_m
    # partial segments lie on the reach frontier: few, so a loop over them is cheap
    for seg in np.flatnonzero(~whole & (from_start > 0)):
        pieces.append(shapely.ops.substring(geometry[seg], 0.0, from_start[seg] * length_m[seg]))
    for seg in np.flatnonzero(~whole & (from_end > 0)):
        pieces.append(
            shapely.ops.substring(
                geometry[seg], (1.0 - from_end[seg]) * length_m[seg], length_m[seg]
            )
        )
    return np.array(pieces, dtype=object)


@dataclass(frozen=True)
class StreetChains:
    """The segments of a network joined end to end through every node where exactly two
    of them meet: the streets as a map draws them, from junction to junction."""

    #: The chain of every segment.
    chain: NDArray[np.int64]
    #: Segments per chain.
    size: NDArray[np.int64]
    #: One merged line per chain (network CRS).
    geometry: NDArray[np.object_]


def street_chains(network: StreetNetwork) -> StreetChains:
    """Join the segments of ``network`` into :class:`StreetChains` (once per network: the
    reach of every hour is then drawn from whole chains and a few frontier pieces)."""
    n = network.n_segments
    ends = np.concatenate([network.segment_u, network.segment_v]).astype(np.int64)
    owners = np.concatenate([np.arange(n), np.arange(n)])
    degree = np.bincount(ends, minlength=network.n_nodes)
    # at a node where two segments meet, those two continue one another
    through = degree[ends] == 2
    order = np.argsort(ends[through], kind="stable")
    pairs = owners[through][order].reshape(-1, 2)
    links = csr_array(
        (np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n), dtype=np.int8
    )
    _, chain = connected_components(links, directed=False)
    chain = chain.astype(np.int64)
    by_chain = np.argsort(chain, kind="stable")
    merged = shapely.line_merge(
        shapely.multilinestrings(network.segment_geometry[by_chain], indices=chain[by_chain])
    )
    return StreetChains(
        chain=chain, size=np.bincount(chain).astype(np.int64), geometry=np.asarray(merged)
    )


def reached_chain_lines(
    network: StreetNetwork, segments: pd.DataFrame, chains: StreetChains
) -> NDArray[np.object_]:
    """:func:`reached_lines`, with every chain reached from end to end as one line.

    Parameters
    ----------
    network
        The street network.
    segments
        The result of :func:`segment_reach`.
    chains
        The network's :func:`street_chains`.
    """
    from_start = segments["from_start"].to_numpy()
    from_end = segments["from_end"].to_numpy()
    whole = from_start + from_end >= 1.0
    full = np.bincount(chains.chain[whole], minlength=len(chains.size)) == chains.size
    rest = segments.copy()
    in_full = full[chains.chain]
    rest.loc[in_full, ["from_start", "from_end"]] = 0.0
    return np.concatenate([chains.geometry[full], reached_lines(network, rest)])


def isochrones(
    network: StreetNetwork,
    sources: Sources,
    *,
    minutes: Sequence[float] = (1, 3, 5),
    buffer_m: float = 25.0,
) -> gpd.GeoDataFrame:
    """Areas reached from the nearest source within each number of minutes.

    Polygons are the reached street pieces buffered by ``buffer_m``, never convex hulls,
    so rivers, parks and blocks that no street reaches stay outside.

    Parameters
    ----------
    network
        The street network.
    sources
        Source nodes or points (e.g. stations).
    minutes
        Time bands; each polygon holds everything reached within its minutes.
    buffer_m
        Half-width of the reached area around each street.

    Returns
    -------
    GeoDataFrame
        One row per band, in the network CRS: ``minutes``, ``reached_km``, ``area_km2``,
        ``reached_segments`` and the polygon.

    Raises
    ------
    NetworkError
        If ``minutes`` is empty or not positive, or ``sources`` is not on the network.
    """
    bands = sorted({float(m) for m in minutes})
    if not bands or bands[0] <= 0:
        raise NetworkError(
            _("'minutes' should be positive numbers, got %(value)r", value=list(minutes))
        )
    if not buffer_m > 0:
        raise NetworkError(_("'buffer_m' should be > 0, got %(value)r", value=buffer_m))
    reach = reach_nodes(network, sources, cutoff_s=bands[-1] * 60.0)
    rows = []
    for band in bands:
        segments = segment_reach(network, reach, cutoff_s=band * 60.0)
        lines = reached_lines(network, segments)
        # pieces that continue one another are joined into lines first, and the lines
        # buffered one by one and united: far fewer buffers to unite than pieces, and many
        # times faster than the buffer of one MultiLineString (the same polygon up to the
        # vertices of its round ends, areas within 1e-5)
        polygon = (
            shapely.union_all(shapely.buffer(_joined(lines), buffer_m, quad_segs=QUAD_SEGMENTS))
            if len(lines)
            else shapely.Polygon()
        )
        rows.append(
            {
                "minutes": band,
                "reached_km": float(segments["reached_length_m"].sum()) / 1000.0,
                "reached_segments": int((segments["reached_fraction"] > 0).sum()),
                "area_km2": float(shapely.area(polygon)) / 1e6,
                "geometry": polygon,
            }
        )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=network.crs)


def _joined(lines: NDArray[np.object_]) -> NDArray[np.object_]:
    """Lines joined where they continue one another (``shapely.line_merge``), as parts."""
    merged = shapely.line_merge(shapely.multilinestrings(shapely.get_parts(lines)))
    return np.asarray(shapely.get_parts(merged), dtype=object)


def travel_time_matrix(
    network: StreetNetwork,
    origins: Sources,
    destinations: Sources,
    *,
    cutoff_s: float | None = None,
    sparse: bool = False,
) -> NDArray[np.float64] | csr_array:
    """Travel times from every origin to every destination.

    Parameters
    ----------
    network
        The street network.
    origins, destinations
        Nodes or points.
    cutoff_s
        Pairs farther apart than this are left unreached.
    sparse
        Return a ``csr_array`` holding only the reached pairs (zeros of co-located pairs are
        stored explicitly), the natural input of coverage models; otherwise a dense array
        with ``inf`` for unreached pairs.

    Returns
    -------
    ndarray or csr_array
        Shape ``(len(origins), len(destinations))``, seconds.
    """
    origin_nodes = as_nodes(network, origins, argument="origins")
    destination_nodes = as_nodes(network, destinations, argument="destinations")
    if cutoff_s is not None and not cutoff_s >= 0:
        raise NetworkError(_("'cutoff_s' should be >= 0 seconds, got %(value)r", value=cutoff_s))
    limit = np.inf if cutoff_s is None else float(cutoff_s)
    unique, inverse = np.unique(origin_nodes, return_inverse=True)
    rows = np.empty((len(unique), len(destination_nodes)))
    for start in range(0, len(unique), _MATRIX_BATCH):
        batch = unique[start : start + _MATRIX_BATCH]
        times = dijkstra(network.travel_time_csr, directed=True, indices=batch, limit=limit)
        rows[start : start + len(batch)] = times[:, destination_nodes]
    dense = rows[inverse.reshape(-1)]
    if not sparse:
        return dense
    i, j = np.nonzero(np.isfinite(dense))
    return csr_array((dense[i, j], (i, j)), shape=dense.shape)


@dataclass(frozen=True)
class Path:
    """A shortest path: its nodes, edges, totals and geometry (network CRS)."""

    nodes: list[int]
    edges: list[int]
    travel_time_s: float
    length_m: float
    geometry: shapely.LineString


def shortest_path(
    network: StreetNetwork,
    source: int | Any,
    target: int | Any,
) -> Path:
    """The fastest path from ``source`` to ``target``.

    Parameters
    ----------
    network
        The street network.
    source, target
        Node indices, or single points (snapped to their nearest nodes).

    Returns
    -------
    Path

    Raises
    ------
    NetworkError
        If there is no path from ``source`` to ``target`` (naming both).
    """
    src = int(_single_node(network, source, "source"))
    dst = int(_single_node(network, target, "target"))
    time_s, predecessors = dijkstra(
        network.travel_time_csr, directed=True, indices=src, return_predecessors=True
    )
    if not np.isfinite(time_s[dst]):
        raise NetworkError(
            _(
                "no path from 'source' node %(source)s to 'target' node %(target)s in the "
                "%(mode)s network: they lie in parts the streets do not join (one-way streets or "
                "disconnected pieces); build the network with the largest component only or "
                "choose another target",
                source=format_number(src),
                target=format_number(dst),
                mode=mode_name(network.mode),
            )
        )
    nodes = [dst]
    while nodes[-1] != src:
        nodes.append(int(predecessors[nodes[-1]]))
    nodes.reverse()
    edge_ids = network.edge_id_csr
    edges = [int(edge_ids[u, v]) - 1 for u, v in itertools.pairwise(nodes)]
    parts = network.segment_geometry[network.edge_segment[edges]]
    parts = np.where(network.edge_forward[edges], parts, shapely.reverse(parts))
    if edges:
        coords = np.concatenate([shapely.get_coordinates(p) for p in parts])
        keep = np.ones(len(coords), dtype=bool)
        keep[1:] = np.any(coords[1:] != coords[:-1], axis=1)
        coords = coords[keep]
        geometry = shapely.LineString(coords) if len(coords) > 1 else shapely.LineString()
    else:
        geometry = shapely.LineString()
    return Path(
        nodes=nodes,
        edges=edges,
        travel_time_s=float(time_s[dst]),
        length_m=float(network.edge_length_m[edges].sum()) if edges else 0.0,
        geometry=geometry,
    )


def _single_node(network: StreetNetwork, value: Any, argument: str) -> int:
    if isinstance(value, shapely.Point):
        raise NetworkError(
            f"'{argument}' is a bare point with no CRS; pass a node index or a one-row "
            "GeoSeries with its CRS"
        )
    nodes = as_nodes(network, value, argument=argument)
    if len(nodes) != 1:
        raise NetworkError(
            _(
                "'%(argument)s' should be one node or point, got %(n)s",
                argument=argument,
                n=format_number(len(nodes)),
            )
        )
    return int(nodes[0])


def reach_summary(segments: pd.DataFrame, network: StreetNetwork) -> dict[str, float]:
    """Reached street length and share, for KPIs."""
    reached_m = float(segments["reached_length_m"].sum())
    return {
        "reached_km": reached_m / 1000.0,
        "network_km": network.length_km,
        "reached_share": reached_m / (network.length_km * 1000.0) if network.length_km else 0.0,
    }


__all__ = [
    "NodeReach",
    "Path",
    "SegmentEnds",
    "StreetChains",
    "as_nodes",
    "isochrones",
    "reach_nodes",
    "reach_summary",
    "reached_chain_lines",
    "reached_lines",
    "segment_reach",
    "shortest_path",
    "street_chains",
    "travel_time_matrix",
]
