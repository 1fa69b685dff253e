"""Snapping 200k points to the Wuhan streets: ours against ``geopandas.sjoin_nearest``.

Generated input (seeded, labelled as generated): 200,000 points, each at a uniform random
position along a uniformly drawn street segment, moved by a normal offset of 20 m on each
axis. Both sides start from a cold spatial index and use the same 500 m limit.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from bench.reach import SEED, best_of, wuhan_network
from routing.network import StreetNetwork
from routing.snap import snap_points

N_POINTS = 200_000
OFFSET_SD_M = 20.0
LIMIT_M = 500.0


def generated_points(network: StreetNetwork, n: int, seed: int) -> gpd.GeoSeries:
    rng = np.random.default_rng(seed)
    segment = rng.integers(network.n_segments, size=n)
    on_street = shapely.line_interpolate_point(
        network.segment_geometry[segment], rng.uniform(size=n), normalized=True
    )
    xy = shapely.get_coordinates(on_street) + rng.normal(0.0, OFFSET_SD_M, size=(n, 2))
    return gpd.GeoSeries(shapely.points(xy), crs=network.crs)


def run(repeats: int = 3) -> list[dict[str, Any]]:
    network, _ = wuhan_network(repeats=1)
    points = generated_points(network, N_POINTS, SEED)
    points_gdf = gpd.GeoDataFrame(geometry=points)
    holder: dict[str, gpd.GeoDataFrame] = {}

    def cold_ours() -> None:
        network.__dict__.pop("segment_tree", None)

    def cold_anchor() -> None:
        holder["segments"] = gpd.GeoDataFrame(
            geometry=network.segment_geometry.copy(), crs=network.crs
        )

    ours_s, ours = best_of(
        repeats, lambda: snap_points(network, points, max_distance_m=LIMIT_M), setup=cold_ours
    )
    anchor_s, theirs = best_of(
        repeats,
        lambda: gpd.sjoin_nearest(
            points_gdf, holder["segments"], max_distance=LIMIT_M, distance_col="distance_m"
        ),
        setup=cold_anchor,
    )
    theirs = theirs[~theirs.index.duplicated(keep="first")].reindex(points.index)
    same_distance = bool(np.allclose(ours["distance_m"], theirs["distance_m"], rtol=0, atol=1e-6))
    same_segment = float((ours["segment"].to_numpy() == theirs["index_right"].to_numpy()).mean())
    return [
        {
            "bench": "snap",
            "instance": f"wuhan, {N_POINTS:,} generated points (seed {SEED})",
            "ours_s": ours_s,
            "anchor": "geopandas.sjoin_nearest",
            "anchor_s": anchor_s,
            "ratio": anchor_s / ours_s,
            "goal_ratio": 1.0,
            "same_answers": same_distance,
            "same_segment_share": same_segment,
            "snapped": int(ours["snapped"].sum()),
        }
    ]
