"""Legs between stops: the leg graph (fastest or street-risk weighted), leg times per
unit between its station and the hotspots, and the street path of a leg."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray
from scipy.sparse import csr_array
from scipy.sparse.csgraph import dijkstra

from layers.i18n import _, format_number
from routing._speeds import mode_name
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

#: A named place this close to a stop names it instead of its streets (metres).
PLACE_NAME_WITHIN_M = 50.0
#: A crossing street farther than this from a stop does not name it (metres).
CROSSING_WITHIN_M = 400.0


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

    @cached_property
    def _arc_keys(self) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Every arc as ``tail * n_nodes + head``, ascending, and its edge."""
        arcs = self.edge_csr.tocsr(copy=True)
        arcs.sort_indices()
        n = arcs.shape[0]
        tails = np.repeat(np.arange(n, dtype=np.int64), np.diff(arcs.indptr))
        return tails * n + arcs.indices.astype(np.int64), arcs.data.astype(np.int64) - 1

    def arc_edge(self, tails: NDArray[np.int64], heads: NDArray[np.int64]) -> NDArray[np.int64]:
        """The network edge of the arcs ``tails[i] -> heads[i]`` (each must be an arc)."""
        keys, edges = self._arc_keys
        return edges[np.searchsorted(keys, tails * self.edge_csr.shape[0] + heads)]

    def arc_time_s(self, tails: NDArray[np.int64], heads: NDArray[np.int64]) -> NDArray[np.float64]:
        """True travel time of the arcs ``tails[i] -> heads[i]`` (each must be an arc)."""
        return self.edge_time_s[self.arc_edge(tails, heads)]

    def reversed(self) -> LegGraph:
        """The same legs walked backwards: the arcs turned round, each keeping its edge."""
        return LegGraph(
            self.cost_csr.T.tocsr(), self.edge_csr.T.tocsr(), self.edge_time_s, self.weighted
        )


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


@dataclass(frozen=True)
class Trees:
    """Cheapest-path trees from some sources over a leg graph: the cost to every node
    (``inf`` where no path exists) and, when the cost is not the time, each node's
    predecessor (negative at a source and where no path exists)."""

    cost: NDArray[np.float64]  # (sources, nodes)
    predecessor: NDArray[np.int32] | None  # (sources, nodes), None for fastest paths


def cheapest_trees(
    legs_on: LegGraph, graph: csr_array, sources: Sequence[int] | NDArray[np.int64]
) -> Trees:
    """The cheapest-path trees of ``graph`` (``legs_on``'s cost, maybe restricted) from
    ``sources``: one multi-row Dijkstra."""
    if not legs_on.weighted:
        return Trees(np.atleast_2d(dijkstra(graph, directed=True, indices=sources)), None)
    dist, pred = dijkstra(graph, directed=True, indices=sources, return_predecessors=True)
    return Trees(np.atleast_2d(dist), np.atleast_2d(pred))


def tree_times(
    legs_on: LegGraph, trees: Trees, targets: Sequence[int] | NDArray[np.int64]
) -> NDArray[np.float64]:
    """Travel time (seconds) from every source of ``trees`` to every node of ``targets``
    along the trees' paths; ``inf`` where no path exists.

    With fastest paths these are Dijkstra's distances. Otherwise each target climbs its
    tree to the source, adding the true time of every arc on the way: all (source, target)
    pairs climb together, one arc per step, so the work is the legs' own arcs, not the
    whole network's.
    """
    targets = np.asarray(targets, dtype=np.int64)
    if trees.predecessor is None:
        return trees.cost[:, targets]
    pred = trees.predecessor
    rows = np.repeat(np.arange(len(pred)), len(targets))
    start = np.tile(targets, len(pred))
    node = start.copy()
    total = np.zeros(len(node))
    climbing = np.flatnonzero(pred[rows, node] >= 0)
    while len(climbing):
        row, head = rows[climbing], node[climbing]
        tail = pred[row, head].astype(np.int64)
        total[climbing] += legs_on.arc_time_s(tail, head)
        node[climbing] = tail
        climbing = climbing[pred[row, tail] >= 0]
    reached = np.isfinite(trees.cost[rows, start])
    return np.where(reached, total, np.inf).reshape(len(pred), len(targets))


def leg_times(
    legs_on: LegGraph,
    graph: csr_array,
    sources: Sequence[int] | NDArray[np.int64],
    targets: Sequence[int] | NDArray[np.int64],
) -> NDArray[np.float64]:
    """Travel time (seconds) from every source to every target along the cheapest paths
    of ``graph`` (``legs_on``'s cost, maybe restricted); ``inf`` where no path exists."""
    return tree_times(legs_on, cheapest_trees(legs_on, graph, sources), targets)


def unit_data(
    networks: Mapping[str, StreetNetwork],
    hotspots: Hotspots,
    units: Sequence[PatrolUnit],
    leg_graphs: Mapping[str, LegGraph],
    *,
    extra: Mapping[str, Sequence[int]] | None = None,
) -> list[UnitData]:
    """Leg times between each unit's station and the hotspots, shared by alike units.

    A unit that may stop anywhere gets the leg times between all the hotspots. A unit with
    grids gets only what it can use: from its station to each hotspot of its grids and
    back (on the whole network), and between those hotspots inside its grids (on the whole
    network where the grids do not join them); the legs to other hotspots stay unreachable.
    So a city of units with their own grids costs a few searches per unit, not one per
    hotspot of the city. ``extra`` names, per unit id, hotspots outside its grids it must
    reach all the same (a captain's locks and orders).
    """
    points = gpd.GeoSeries(shapely.points(hotspots.x, hotspots.y), crs=hotspots.crs)
    hotspot_nodes = {
        mode: np.asarray(nearest_nodes(net, points, max_distance_m=None), dtype=np.int64)
        for mode, net in networks.items()
        if any(u.mode == mode for u in units)
    }
    rows = {mode: _RowCache(leg_graphs[mode]) for mode in hotspot_nodes}
    shared: dict[tuple[Any, ...], UnitData] = {}
    out = []
    for unit in units:
        net = networks[unit.mode]
        nodes = np.concatenate([[unit.station_node], hotspot_nodes[unit.mode]]).astype(np.int64)
        allowed_mask = unit.allowed_nodes
        if allowed_mask is not None and len(allowed_mask) != net.n_nodes:
            raise RoutingError(
                _(
                    "unit %(unit)r: 'allowed_nodes' has %(n)s entries but the %(mode)s network "
                    "has %(nodes)s nodes",
                    unit=unit.unit_id,
                    n=format_number(len(allowed_mask)),
                    mode=mode_name(unit.mode),
                    nodes=format_number(net.n_nodes),
                )
            )
        also = tuple(sorted((extra or {}).get(unit.unit_id, ())))
        key = (
            unit.mode,
            unit.station_node,
            None if allowed_mask is None else np.packbits(allowed_mask).tobytes(),
            also,
        )
        if key not in shared:
            shared[key] = _unit_times(unit, nodes, allowed_mask, also, rows[unit.mode])
        d = shared[key]
        out.append(UnitData(unit, d.place_node, d.time_s, d.inside, d.allowed))
    return out


class _RowCache:
    """Cheapest-path trees from (and to) network nodes on one leg graph, grown once each."""

    def __init__(self, legs_on: LegGraph) -> None:
        self.legs_on = legs_on
        self._reverse: LegGraph | None = None
        self._forward: dict[int, Trees] = {}
        self._backward: dict[int, Trees] = {}

    def from_nodes(
        self, sources: Sequence[int], targets: Sequence[int] | NDArray[np.int64]
    ) -> NDArray[np.float64]:
        """Leg times from each of ``sources`` to each of ``targets``."""
        missing = sorted(set(sources) - set(self._forward))
        if missing:
            trees = cheapest_trees(self.legs_on, self.legs_on.cost_csr, missing)
            for i, source in enumerate(missing):
                pred = None if trees.predecessor is None else trees.predecessor[i : i + 1]
                self._forward[source] = Trees(trees.cost[i : i + 1], pred)
        return np.vstack(
            [tree_times(self.legs_on, self._forward[int(a)], targets) for a in sources]
        )

    def to_node(
        self, target: int, sources: Sequence[int] | NDArray[np.int64]
    ) -> NDArray[np.float64]:
        """Leg times from each of ``sources`` to ``target``."""
        if self._reverse is None:
            self._reverse = self.legs_on.reversed()
        if target not in self._backward:
            self._backward[target] = cheapest_trees(self._reverse, self._reverse.cost_csr, [target])
        return tree_times(self._reverse, self._backward[target], sources)[0]


def _unit_times(
    unit: PatrolUnit,
    nodes: NDArray[np.int64],
    allowed_mask: NDArray[np.bool_] | None,
    also: Sequence[int],
    rows: _RowCache,
) -> UnitData:
    """The leg times of one unit (see :func:`unit_data`)."""
    n = len(nodes)
    if allowed_mask is None:
        times = rows.from_nodes(nodes.tolist(), nodes)
        inside = np.ones((n, n), dtype=bool)
        allowed = np.ones(n - 1, dtype=bool)
    else:
        allowed = allowed_mask[nodes[1:]].copy()
        inside = np.zeros((n, n), dtype=bool)
        times = np.full((n, n), np.inf)
        places = np.flatnonzero(np.concatenate([[True], allowed])).tolist()
        places = sorted({*places, *(h + 1 for h in also)})
        times[0, places] = rows.from_nodes([int(nodes[0])], nodes[places])[0]
        times[places, 0] = rows.to_node(int(nodes[0]), nodes[places])
        times[0, 0] = 0.0
        sub = np.flatnonzero(allowed) + 1
        if len(sub):
            legs_on = rows.legs_on
            restricted = leg_times(
                legs_on, restricted_csr(legs_on.cost_csr, allowed_mask), nodes[sub], nodes[sub]
            )
            ok = np.isfinite(restricted)
            times[np.ix_(sub, sub)] = restricted
            inside[np.ix_(sub, sub)] = ok
        # legs the grids do not join, and legs to the extra hotspots: the whole network
        hotspot_places = [p for p in places if p > 0]
        need = [p for p in hotspot_places if not np.isfinite(times[p, hotspot_places]).all()]
        if need:
            full = rows.from_nodes(nodes[need].tolist(), nodes[hotspot_places])
            block = times[np.ix_(need, hotspot_places)]
            times[np.ix_(need, hotspot_places)] = np.where(np.isfinite(block), block, full)
    whole = np.where(np.isfinite(times), np.ceil(times - 1e-9), UNREACHABLE).astype(np.int64)
    return UnitData(unit, nodes, whole, inside, allowed)


def street_path(
    legs_on: LegGraph,
    graph: csr_array,
    source: int,
    target: int,
    *,
    limit: float = np.inf,
) -> tuple[list[int], list[int]]:
    """Nodes and edges of the cheapest path on ``graph`` (``legs_on``'s cost, maybe
    restricted).

    ``limit`` bounds the search: a cost the path is known not to exceed (a leg's travel
    time bounds its cost, which is never above the time), so that a short leg in a large
    city explores only the streets around it.
    """
    if source == target:
        return [source], []
    _dist, predecessors = dijkstra(
        graph, directed=True, indices=source, return_predecessors=True, limit=limit
    )
    if predecessors[target] < 0 and np.isfinite(limit):
        # the bound was wrong (a leg timed elsewhere): search the whole graph
        _dist, predecessors = dijkstra(
            graph, directed=True, indices=source, return_predecessors=True
        )
    if predecessors[target] < 0:
        raise RoutingError(
            _(
                "no street path from node %(source)s to node %(target)s",
                source=source,
                target=target,
            )
        )
    nodes = [target]
    while nodes[-1] != source:
        nodes.append(int(predecessors[nodes[-1]]))
    nodes.reverse()
    path = np.asarray(nodes, dtype=np.int64)
    return nodes, legs_on.arc_edge(path[:-1], path[1:]).tolist()


def stop_names(
    network: StreetNetwork,
    x: Sequence[float] | NDArray[np.float64],
    y: Sequence[float] | NDArray[np.float64],
    *,
    streets: Sequence[Any] | NDArray[np.object_] | None = None,
    places: Sequence[Any] | NDArray[np.object_] | None = None,
    place_names: Sequence[Any] | NDArray[np.object_] | None = None,
    place_within_m: float = PLACE_NAME_WITHIN_M,
    crossing_within_m: float = CROSSING_WITHIN_M,
) -> list[str]:
    """The name officers read for each stop: the nearest named place within
    ``place_within_m``, else "street & cross street".

    The street is the stop's own (``streets``, else the nearest segment's name); the cross
    street is another street name at the nearest intersection along that street (a node
    where it meets a street of another name) within ``crossing_within_m``. Without a
    crossing the name is the street alone; without a street name it is ``""`` (the caller
    names such a stop from its own layers).

    Parameters
    ----------
    network
        The street network; ``x``, ``y`` and ``places`` are in its CRS.
    x, y
        Stop coordinates.
    streets
        Street of each stop (``None``/``""``: the nearest segment's).
    places, place_names
        Geometries (points or polygons) and names of key places, or ``None``.

    Returns
    -------
    list of str
        One name per stop.
    """
    xy = np.column_stack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)])
    points = np.asarray(shapely.points(xy), dtype=object)
    given = [_name_text(s) for s in streets] if streets is not None else [""] * len(xy)
    if len(given) != len(xy):
        raise RoutingError(f"'streets' has {len(given)} names for {len(xy)} stops")
    if any(not s for s in given):
        tree = shapely.STRtree(network.segment_geometry)
        nearest = tree.query_nearest(points, all_matches=False)[1]
        given = [s or _name_text(network.segment_name[nearest[i]]) for i, s in enumerate(given)]
    by_place = _nearest_place_names(points, places, place_names, place_within_m)
    crossings = _crossings(network)
    out = []
    for i, street in enumerate(given):
        if by_place[i]:
            out.append(by_place[i])
            continue
        cross = _cross_street(network, crossings, street, xy[i], crossing_within_m)
        # Translators: a stop named by the crossing of two streets (中山路与解放路交叉口).
        out.append(
            _("%(street)s & %(cross)s", street=street, cross=cross) if street and cross else street
        )
    return out


def _name_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return ""
    return str(value).strip()


def _nearest_place_names(
    points: NDArray[np.object_],
    places: Sequence[Any] | NDArray[np.object_] | None,
    names: Sequence[Any] | NDArray[np.object_] | None,
    within_m: float,
) -> list[str]:
    """The name of the nearest named place within ``within_m`` of each point, or ``""``."""
    found = [""] * len(points)
    if places is None or names is None or not len(places):
        return found
    geoms = np.asarray(places, dtype=object)
    labels = [_name_text(n) for n in names]
    keep = np.array(
        [
            bool(n) and g is not None and not shapely.is_empty(g)
            for g, n in zip(geoms, labels, strict=True)
        ]
    )
    if not keep.any():
        return found
    kept = np.flatnonzero(keep)
    tree = shapely.STRtree(geoms[kept])
    (point_i, place_i), dist = tree.query_nearest(
        points, max_distance=within_m, return_distance=True, all_matches=True
    )
    # ties (equal distance) go to the first place, so the name is reproducible
    for p, k, _d in sorted(
        zip(point_i, place_i, dist, strict=True), key=lambda t: (t[0], t[2], t[1])
    ):
        if not found[p]:
            found[p] = labels[kept[k]]
    return found


def _crossings(network: StreetNetwork) -> dict[str, dict[int, list[str]]]:
    """For each street name, its nodes where other named streets meet it, and those names
    (the most segments first, then alphabetical)."""
    names = np.array([_name_text(n) for n in network.segment_name], dtype=object)
    node = np.concatenate([network.segment_u, network.segment_v])
    name = np.concatenate([names, names])
    named = name != ""
    at: dict[int, dict[str, int]] = {}
    for n, s in zip(node[named].tolist(), name[named].tolist(), strict=True):
        counts = at.setdefault(n, {})
        counts[s] = counts.get(s, 0) + 1
    out: dict[str, dict[int, list[str]]] = {}
    for n, counts in at.items():
        if len(counts) < 2:
            continue
        ranked = sorted(counts, key=lambda s: (-counts[s], s))
        for s in counts:
            out.setdefault(s, {})[n] = [o for o in ranked if o != s]
    return out


def _cross_street(
    network: StreetNetwork,
    crossings: Mapping[str, Mapping[int, list[str]]],
    street: str,
    xy: NDArray[np.float64],
    within_m: float,
) -> str:
    """The other street at the intersection of ``street`` nearest to ``xy``, or ``""``."""
    nodes = crossings.get(street)
    if not nodes:
        return ""
    ids = np.fromiter(nodes, dtype=np.int64, count=len(nodes))
    dist = np.hypot(network.node_x[ids] - xy[0], network.node_y[ids] - xy[1])
    best = int(np.lexsort((ids, dist))[0])
    if dist[best] > within_m:
        return ""
    return nodes[int(ids[best])][0]
