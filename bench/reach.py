"""Multi-source reach on Wuhan: ours (scipy csgraph) against networkx on the same graph.

Instance: the whole-city Wuhan car network; 200 source nodes drawn with a fixed seed;
5-minute cutoff. Both sides answer "time from the nearest source to every node reached".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np

from routing.network import StreetNetwork, network_from_lines
from routing.reach import reach_nodes

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
WUHAN = DATA / "wuhan_streets.parquet"
#: Seed of every generated benchmark input.
SEED = 20_240_601


def best_of(
    repeats: int, func: Callable[[], Any], *, setup: Callable[[], None] | None = None
) -> tuple[float, Any]:
    """Best wall-clock seconds of ``repeats`` calls, and the last result.

    ``setup`` runs before each call, untimed (e.g. to drop a cached index so both sides
    of a comparison start cold).
    """
    best = float("inf")
    result = None
    for _ in range(repeats):
        if setup is not None:
            setup()
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result


@cache
def wuhan_roads() -> gpd.GeoDataFrame:
    return gpd.read_parquet(WUHAN)


def wuhan_network(repeats: int = 3) -> tuple[StreetNetwork, float]:
    """The Wuhan car network (its lines are already noded) and its best build time."""
    roads = wuhan_roads()
    build_s, network = best_of(repeats, lambda: network_from_lines(roads, node_lines=False))
    return network, build_s


N_SOURCES = 200
CUTOFF_S = 300.0


def run(repeats: int = 5) -> list[dict[str, Any]]:
    network, build_s = wuhan_network()
    sources = np.random.default_rng(SEED).choice(network.n_nodes, N_SOURCES, replace=False)
    network.travel_time_csr  # noqa: B018 - built once with the network, like the nx graph
    graph = network.to_networkx()
    ours_s, ours = best_of(repeats, lambda: reach_nodes(network, sources, cutoff_s=CUTOFF_S))
    anchor_s, theirs = best_of(
        repeats,
        lambda: nx.multi_source_dijkstra_path_length(
            graph, set(sources.tolist()), cutoff=CUTOFF_S, weight="travel_time"
        ),
    )
    reached = np.flatnonzero(ours.reached)
    same = set(reached.tolist()) == set(theirs) and bool(
        np.allclose(ours.time_s[reached], [theirs[i] for i in reached], rtol=0, atol=1e-6)
    )
    return [
        {
            "bench": "reach",
            "instance": f"wuhan car, {N_SOURCES} sources, {CUTOFF_S / 60:g} min",
            "ours_s": ours_s,
            "anchor": "networkx.multi_source_dijkstra_path_length",
            "anchor_s": anchor_s,
            "ratio": anchor_s / ours_s,
            "goal_ratio": 15.0,
            "same_answers": same,
            "reached_nodes": len(reached),
            "nodes": network.n_nodes,
            "edges": network.n_edges,
            "build_s": build_s,
        }
    ]
