"""Legs between stops: the leg graph (fastest or street-risk weighted), leg times per
unit between its station and the hotspots, and the street path of a leg."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray
from scipy.sparse import csr_array
from scipy.sparse.csgraph import dijkstra

from routing.errors import RoutingError
from routing.network import MIN_TRAVEL_TIME_S, StreetNetwork
from routing.patrol.inputs import Hotspots, PatrolUnit
from routing.snap import nearest_nodes

#: Smallest share of its travel time a street may cost a leg, however risky (costs stay
#: positive, and a leg never detours more than twice its length for risk).
_MIN_LEG_COST_FACTOR = 0.5
#: Quantile of the positive street risks that counts as full risk in the leg cost.
_RISK_SCALE_QUANTILE = 0.95

#: Leg time of a pair of places with no street path between them.
UNREACHABLE = -1


@dataclass
class UnitData:
    """One unit's places and the leg times between them (shared by alike units)."""

    unit: PatrolUnit
    place_node: NDArray[np.int64]  # 0: station, 1..n: hotspots (in the unit's network)
    time_s: NDArray[np.int64]  # (n+1, n+1) leg times, whole seconds; -1 where unreachable
    inside: NDArray[np.bool_]  # (n+1, n+1) whether the leg stays inside the grids
    allowed: NDArray[np.bool_]  # (n,) hotspots the unit may stop at


def restricted_csr(graph: csr_array, allowed: NDArray[np.bool_] | None) -> csr_array:
    """``graph`` with only the arcs between allowed nodes."""
    if allowed is None or allowed.all():
        return graph
    coo = graph.tocoo()
    keep = allowed[coo.row] & allowed[coo.col]
    return csr_array((coo.data[keep], (coo.row[keep], coo.col[keep])), shape=graph.shape)


@dataclass(frozen=True)
class LegGraph:
    """The graph legs are routed on: node-by-node leg cost and edge (+ 1) of each arc, and
    the true travel time of every edge; ``weighted`` when the cost is not the time."""

    cost_csr: csr_array
    edge_csr: csr_array
    edge_time_s: NDArray[np.float64]
    weighted: bool


def street_risk_of(
    street_risk: NDArray[np.float64] | Mapping[str, NDArray[np.float64]] | None,
    mode: str,
    network: StreetNetwork,
) -> NDArray[np.float64] | None:
    """The shift risk per segment of ``mode``'s network, checked; ``None`` if not given."""
    if street_risk is None:
        return None
    if isinstance(street_risk, Mapping):
        if mode not in street_risk:
            return None
        risk = np.asarray(street_risk[mode], dtype=float)
    else:
        risk = np.asarray(street_risk, dtype=float)
    if risk.shape != (network.n_segments,):
        raise RoutingError(
            f"'street_risk' for the {mode} network should have shape ({network.n_segments},) "
            f"(one risk per segment), got {risk.shape}"
        )
    if (risk < 0).any() or not np.isfinite(risk).all():
        raise RoutingError("'street_risk' should be finite and >= 0")
    return risk


def leg_graph(
    network: StreetNetwork,
    street_risk: NDArray[np.float64] | None,
    weight: float,
    *,
    closed: NDArray[np.bool_] | None = None,
) -> LegGraph:
    """Leg costs ``travel_time_s * max(1 - weight * r, floor)`` with ``r`` the segment's
    risk scaled to 0..1; parallel edges keep the cheapest (then the quickest, then the
    first). Without risk or weight, the network's own fastest-path graph. The segments of
    ``closed`` (a mask over the network's segments) carry no leg."""
    time_s = np.maximum(network.edge_travel_time_s, MIN_TRAVEL_TIME_S)
    positive = street_risk[street_risk > 0] if street_risk is not None else np.empty(0)
    no_closure = closed is None or not closed.any()
    if (street_risk is None or weight <= 0 or not len(positive)) and no_closure:
        return LegGraph(network.travel_time_csr, network.edge_id_csr, time_s, weighted=False)
    cost = time_s.copy()
    if street_risk is not None and weight > 0 and len(positive):
        scale = float(np.quantile(positive, _RISK_SCALE_QUANTILE))
        r = np.clip(street_risk[network.edge_segment] / scale, 0.0, 1.0)
        cost = time_s * np.maximum(1.0 - weight * r, _MIN_LEG_COST_FACTOR)
    edge = np.arange(network.n_edges)
    if closed is not None:
        if closed.shape != (network.n_segments,):
            raise RoutingError(
                f"'closed' should be one flag per segment ({network.n_segments}), got "
                f"shape {closed.shape}"
            )
        edge = edge[~closed[network.edge_segment]]
    order = edge[
        np.lexsort((edge, time_s[edge], cost[edge], network.edge_v[edge], network.edge_u[edge]))
    ]
    u, v = network.edge_u[order], network.edge_v[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
    u, v, best = u[first], v[first], order[first]
    shape = (network.n_nodes, network.n_nodes)
    return LegGraph(
        csr_array((cost[best], (u, v)), shape=shape),
        csr_array((best + 1, (u, v)), shape=shape),
        time_s,
        weighted=True,
    )


def leg_times(
    legs_on: LegGraph, graph: csr_array, sources: Sequence[int] | NDArray[np.int64]
) -> NDArray[np.float64]:
    """Travel time (seconds) from every source to every node along the cheapest paths of
    ``graph``; ``inf`` where no path exists.

    With fastest paths these are Dijkstra's distances. Otherwise the true times are summed
    up the shortest-path tree by pointer doubling: each pass adds the time from a node's
    current ancestor and jumps to that ancestor's ancestor.
    """
    if not legs_on.weighted:
        return np.atleast_2d(dijkstra(graph, directed=True, indices=sources))
    dist, pred = dijkstra(graph, directed=True, indices=sources, return_predecessors=True)
    dist, pred = np.atleast_2d(dist), np.atleast_2d(pred).astype(np.int64)
    reached = pred >= 0
    ancestor = np.where(reached, pred, -1)
    step = np.zeros(pred.shape, dtype=float)
    rows, cols = np.nonzero(reached)
    edges = np.asarray(legs_on.edge_csr[pred[rows, cols], cols]).astype(np.int64) - 1
    step[rows, cols] = legs_on.edge_time_s[edges]
    while (ancestor >= 0).any():
        has = ancestor >= 0
        safe = np.where(has, ancestor, 0)
        step = step + np.where(has, np.take_along_axis(step, safe, axis=1), 0.0)
        ancestor = np.where(has, np.take_along_axis(ancestor, safe, axis=1), -1)
    return np.where(np.isfinite(dist), step, np.inf)


def unit_data(
    networks: Mapping[str, StreetNetwork],
    hotspots: Hotspots,
    units: Sequence[PatrolUnit],
    leg_graphs: Mapping[str, LegGraph],
) -> list[UnitData]:
    """Leg times between each unit's station and the hotspots, shared by alike units."""
    points = gpd.GeoSeries(shapely.points(hotspots.x, hotspots.y), crs=hotspots.crs)
    hotspot_nodes = {
        mode: np.asarray(nearest_nodes(net, points, max_distance_m=None), dtype=np.int64)
        for mode, net in networks.items()
        if any(u.mode == mode for u in units)
    }
    full_cache: dict[str, dict[int, NDArray[np.float64]]] = {}
    shared: dict[tuple[Any, ...], UnitData] = {}
    out = []
    for unit in units:
        net = networks[unit.mode]
        legs_on = leg_graphs[unit.mode]
        nodes = np.concatenate([[unit.station_node], hotspot_nodes[unit.mode]]).astype(np.int64)
        allowed_mask = unit.allowed_nodes
        if allowed_mask is not None and len(allowed_mask) != net.n_nodes:
            raise RoutingError(
                f"unit {unit.unit_id!r}: 'allowed_nodes' has {len(allowed_mask):,} entries but "
                f"the {unit.mode} network has {net.n_nodes:,} nodes"
            )
        key = (
            unit.mode,
            unit.station_node,
            None if allowed_mask is None else np.packbits(allowed_mask).tobytes(),
        )
        if key in shared:
            d = shared[key]
            out.append(UnitData(unit, d.place_node, d.time_s, d.inside, d.allowed))
            continue
        cache = full_cache.setdefault(unit.mode, {})
        missing = sorted(set(nodes.tolist()) - set(cache))
        if missing:
            rows = leg_times(legs_on, legs_on.cost_csr, missing)
            for node, row in zip(missing, rows, strict=True):
                cache[node] = row
        full = np.array([cache[int(a)][nodes] for a in nodes])
        inside = np.zeros_like(full, dtype=bool)
        if allowed_mask is None:
            allowed = np.ones(len(hotspots), dtype=bool)
            times = full
            inside[:] = True
        else:
            allowed = allowed_mask[nodes[1:]].copy()
            times = full.copy()
            sub = np.flatnonzero(allowed) + 1
            if len(sub):
                restricted = leg_times(
                    legs_on, restricted_csr(legs_on.cost_csr, allowed_mask), nodes[sub]
                )[:, nodes[sub]]
                ok = np.isfinite(restricted)
                block = times[np.ix_(sub, sub)]
                times[np.ix_(sub, sub)] = np.where(ok, restricted, block)
                inside[np.ix_(sub, sub)] = ok
        whole = np.where(np.isfinite(times), np.ceil(times - 1e-9), UNREACHABLE).astype(np.int64)
        data = UnitData(unit, nodes, whole, inside, allowed)
        shared[key] = data
        out.append(data)
    return out


def street_path(
    edge_csr: csr_array,
    graph: csr_array,
    source: int,
    target: int,
    *,
    limit: float = np.inf,
) -> tuple[list[int], list[int]]:
    """Nodes and edges of the cheapest path on ``graph``; ``edge_csr`` holds edge + 1.

    ``limit`` bounds the search: a cost the path is known not to exceed (a leg's travel
    time bounds its cost, which is never above the time), so that a short leg in a large
    city explores only the streets around it.
    """
    if source == target:
        return [source], []
    _, predecessors = dijkstra(
        graph, directed=True, indices=source, return_predecessors=True, limit=limit
    )
    if predecessors[target] < 0:
        raise RoutingError(f"no street path from node {source} to node {target}")
    nodes = [target]
    while nodes[-1] != source:
        nodes.append(int(predecessors[nodes[-1]]))
    nodes.reverse()
    edges = [int(edge_csr[u, v]) - 1 for u, v in itertools.pairwise(nodes)]
    return nodes, edges
