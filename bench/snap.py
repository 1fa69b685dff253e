"""Snapping 200k points to the Wuhan streets: ours against sjoin_nearest and a k-d tree.

Network: the Wuhan car network as ``gisapp network`` builds and stores it
(:func:`bench.reach.cli_network`). Generated input (seeded, labelled as generated): 200,000
points, each at a uniform random position along a uniformly drawn street segment, moved by
a normal offset of 20 m on each axis. Every side answers "nearest segment and its exact
distance" with the same 500 m limit and starts from a cold index (built inside the timed
call), timed interleaved (median of the repeats).

``ours``
    :func:`routing.snap.snap_points` (which also locates the snapped point along the
    segment and builds its output frame).
``sjoin_nearest``
    ``geopandas.sjoin_nearest(points, segments, max_distance=500, distance_col=...)`` on
    a fresh segments frame, so that its STRtree is built inside the call.
``kdtree``
    What a competent user writes with ``scipy.spatial.cKDTree`` for *exact* nearest
    segments: the segments densified to vertices at most ``SPACING_M`` apart, a k-d tree of
    those vertices, the nearest vertex of every point (distance ``d``), then every vertex
    within ``d + SPACING_M / 2`` (any segment nearer than the nearest vertex has a vertex
    that close, so no nearer segment is missed), found as the ``K`` nearest vertices and
    again with more for the few points whose ``K``-th vertex is still inside the radius;
    the exact ``shapely.distance`` to each candidate segment, minimum per point.
"""

from __future__ import annotations

import copy
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from bench.reach import SEED, cli_network
from bench.timing import interleaved
from routing.network import StreetNetwork
from routing.snap import snap_points

N_POINTS = 200_000
OFFSET_SD_M = 20.0
LIMIT_M = 500.0
#: Largest distance between the densified vertices of the k-d tree anchor.
SPACING_M = 10.0
#: Vertices the k-d tree anchor asks for at first.
K = 16


def generated_points(network: StreetNetwork, n: int, seed: int) -> gpd.GeoSeries:
    rng = np.random.default_rng(seed)
    segment = rng.integers(network.n_segments, size=n)
    on_street = shapely.line_interpolate_point(
        network.segment_geometry[segment], rng.uniform(size=n), normalized=True
    )
    xy = shapely.get_coordinates(on_street) + rng.normal(0.0, OFFSET_SD_M, size=(n, 2))
    return gpd.GeoSeries(shapely.points(xy), crs=network.crs)


def kdtree_nearest(
    segments: NDArray[np.object_], points: NDArray[np.object_], max_distance_m: float
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Exact nearest segment of every point (-1 and NaN beyond ``max_distance_m``)."""
    coords, owner = shapely.get_coordinates(
        shapely.segmentize(segments, SPACING_M), return_index=True
    )
    tree = cKDTree(coords)
    xy = shapely.get_coordinates(points)
    n = len(xy)
    slack = SPACING_M / 2
    nearest_vertex_m, _vertex = tree.query(xy, k=1)
    radius = nearest_vertex_m + slack
    point_ids: list[NDArray[np.int64]] = []
    vertex_ids: list[NDArray[np.int64]] = []
    todo = np.flatnonzero(nearest_vertex_m <= max_distance_m + slack)
    k = K
    while len(todo):
        dist, vertex = tree.query(xy[todo], k=k)
        inside = dist <= radius[todo, None]
        point_ids.append(np.repeat(todo, inside.sum(axis=1)))
        vertex_ids.append(vertex[inside])
        complete = ~inside[:, -1]
        todo = todo[~complete]
        if len(todo):
            # those points have K vertices or more in range: ask again for all of them
            point_ids[-1], vertex_ids[-1] = _drop(point_ids[-1], vertex_ids[-1], todo)
            k *= 4
    point = np.concatenate(point_ids) if point_ids else np.empty(0, dtype=np.int64)
    candidate = owner[np.concatenate(vertex_ids)] if vertex_ids else np.empty(0, dtype=np.int64)
    pairs = np.unique(np.column_stack([point, candidate]), axis=0)
    point, candidate = pairs[:, 0], pairs[:, 1]
    dist = shapely.distance(points[point], segments[candidate])
    order = np.lexsort((dist, point))
    point, candidate, dist = point[order], candidate[order], dist[order]
    first = np.ones(len(point), dtype=bool)
    first[1:] = point[1:] != point[:-1]
    segment = np.full(n, -1, dtype=np.int64)
    distance_m = np.full(n, np.nan)
    keep = first & (dist <= max_distance_m)
    segment[point[keep]] = candidate[keep]
    distance_m[point[keep]] = dist[keep]
    return segment, distance_m


def _drop(
    point: NDArray[np.int64], vertex: NDArray[np.int64], redo: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    keep = ~np.isin(point, redo)
    return point[keep], vertex[keep]


def _same_distances(ours: NDArray[np.float64], theirs: NDArray[np.float64]) -> bool:
    return bool(np.array_equal(np.isnan(ours), np.isnan(theirs))) and bool(
        np.allclose(ours, theirs, rtol=0, atol=1e-6, equal_nan=True)
    )


def run(repeats: int = 5) -> list[dict[str, Any]]:
    network = cli_network()
    points = generated_points(network, N_POINTS, SEED)
    points_gdf = gpd.GeoDataFrame(geometry=points)
    point_geoms = points.to_numpy()
    holder: dict[str, Any] = {}

    def cold_ours() -> None:
        # the network as a command loads it: no segment index yet, and no point set
        # snapped before (a network remembers the nearest segments of those)
        fresh = copy.copy(network)
        fresh.__dict__.pop("segment_tree", None)
        holder["network"] = fresh

    def cold_sjoin() -> None:
        holder["segments"] = gpd.GeoDataFrame(
            geometry=network.segment_geometry.copy(), crs=network.crs
        )

    def cold_kdtree() -> None:
        holder["segment_geometry"] = network.segment_geometry.copy()

    timings = interleaved(
        {
            "ours": lambda: snap_points(holder["network"], points, max_distance_m=LIMIT_M),
            "sjoin_nearest": lambda: gpd.sjoin_nearest(
                points_gdf, holder["segments"], max_distance=LIMIT_M, distance_col="distance_m"
            ),
            "kdtree": lambda: kdtree_nearest(holder["segment_geometry"], point_geoms, LIMIT_M),
        },
        repeats=repeats,
        setup={"ours": cold_ours, "sjoin_nearest": cold_sjoin, "kdtree": cold_kdtree},
    )
    ours = timings["ours"].result
    ours_distance = np.where(ours["snapped"], ours["distance_m"], np.nan)
    joined: pd.DataFrame = timings["sjoin_nearest"].result
    joined = joined[~joined.index.duplicated(keep="first")].reindex(points.index)
    kd_segment, kd_distance = timings["kdtree"].result
    same_sjoin = _same_distances(ours_distance, joined["distance_m"].to_numpy(dtype=float))
    same_kdtree = _same_distances(ours_distance, kd_distance)
    median = {name: timing.median_s for name, timing in timings.items()}
    return [
        {
            "bench": "snap",
            "instance": (
                f"wuhan car network as the CLI stores it ({network.n_segments:,} segments), "
                f"{N_POINTS:,} generated points (seed {SEED}), {LIMIT_M:g} m limit"
            ),
            "timing": f"interleaved, median of {repeats}, cold index every call",
            "ours_s": median["ours"],
            "anchor": "geopandas.sjoin_nearest",
            "anchor_s": median["sjoin_nearest"],
            "ratio": median["sjoin_nearest"] / median["ours"],
            "goal_ratio": 2.0,
            "goal_met": median["sjoin_nearest"] / median["ours"] >= 2.0,
            "kdtree_s": median["kdtree"],
            "ratio_kdtree": median["kdtree"] / median["ours"],
            "kdtree_spacing_m": SPACING_M,
            "min_s": {name: timing.min_s for name, timing in timings.items()},
            "same_answers": same_sjoin and same_kdtree,
            "same_answers_sjoin": same_sjoin,
            "same_answers_kdtree": same_kdtree,
            "same_segment_share_sjoin": float(
                (ours["segment"].to_numpy() == joined["index_right"].to_numpy()).mean()
            ),
            "same_segment_share_kdtree": float((ours["segment"].to_numpy() == kd_segment).mean()),
            "snapped": int(ours["snapped"].sum()),
        }
    ]
