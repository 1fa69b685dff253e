"""Two hot paths of a city's analysis, against the way they were written before.

``blind_zones``
    Blind-zone polygons on the Wuhan car network: 200 seeded sources, streets not fully
    reached within 3 minutes. Ours (:func:`routing.coverage.blind_zone_polygons`) joins
    the unreached pieces that continue one another into longer lines before buffering
    and unioning; the anchor is the former code: a buffer per piece and one union of
    all of them. Both then give every piece its zone by a point-in-zone query. Answers
    compared: zone count, total area (buffers are polygons, so joins and caps differ in
    their last vertices) and blind length.
``kde``
    Quartic KDE (:func:`routing.hotspots.kde_density`) of 50,000 seeded points over 150 m
    cells of the Wuhan street extent, radius 600 m. Ours finds point-cell pairs tree
    against tree into arrays; the anchor is the former code: ``query_ball_point`` per
    point into Python lists, flattened. Answers compared: the densities.
"""

from __future__ import annotations

import math
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from bench.reach import SEED, wuhan_network
from bench.timing import best_of
from routing.coverage import blind_zone_polygons, coverage_segments
from routing.coverage.segments import _unreached_pieces
from routing.hotspots import grid_cells, kde_density
from routing.network import StreetNetwork
from routing.reach import reach_nodes

N_SOURCES = 200
REQUIRED_S = 180.0
BUFFER_M = 25.0
N_POINTS = 50_000
CELL_M = 150.0
RADIUS_M = 600.0


def union_blind_zones(
    network: StreetNetwork, segments: pd.DataFrame, buffer_m: float
) -> tuple[NDArray[np.object_], NDArray[np.float64]]:
    """The former blind zones (no cameras): union of every buffered piece; zones, lengths."""
    pieces, owner = _unreached_pieces(network, segments)
    keep = ~shapely.is_empty(pieces) & (shapely.length(pieces) > 1e-6)
    pieces, owner = pieces[keep], owner[keep]
    zones = np.array(shapely.get_parts(shapely.union_all(shapely.buffer(pieces, buffer_m))))
    tree = shapely.STRtree(zones)
    mid = shapely.line_interpolate_point(pieces, 0.5, normalized=True)
    piece_idx, zone_idx = tree.query(mid, predicate="within")
    zone_of = np.zeros(len(pieces), dtype=np.int64)
    zone_of[piece_idx] = zone_idx
    length = np.bincount(zone_of, weights=shapely.length(pieces), minlength=len(zones))
    return zones, np.asarray(length, dtype=np.float64)


def list_kde(points_xy: NDArray[np.float64], centres: NDArray[np.float64], radius_m: float) -> Any:
    """The former KDE pair search: a Python list of cells per point, flattened."""
    near = cKDTree(centres).query_ball_point(points_xy, r=radius_m, return_sorted=False)
    counts = np.fromiter((len(c) for c in near), dtype=np.int64, count=len(near))
    cell = np.fromiter((c for cs in near for c in cs), dtype=np.int64, count=int(counts.sum()))
    point = np.repeat(np.arange(len(points_xy)), counts)
    d2 = ((centres[cell] - points_xy[point]) ** 2).sum(axis=1)
    kernel = 3.0 / (math.pi * radius_m**2) * np.clip(1.0 - d2 / radius_m**2, 0.0, None) ** 2
    return np.bincount(cell, weights=kernel, minlength=len(centres)) * 1e6


def _blind_line(network: StreetNetwork, repeats: int) -> dict[str, Any]:
    sources = np.random.default_rng(SEED).choice(network.n_nodes, N_SOURCES, replace=False)
    reach = reach_nodes(network, sources, cutoff_s=REQUIRED_S * 2)
    segments = coverage_segments(network, reach, required_s=REQUIRED_S)
    ours_s, ours = best_of(repeats, lambda: blind_zone_polygons(network, segments))
    anchor_s, (zones, length) = best_of(
        repeats, lambda: union_blind_zones(network, segments, BUFFER_M)
    )
    area_ours, area_anchor = float(ours["area_m2"].sum()), float(shapely.area(zones).sum())
    return {
        "bench": "hot_paths",
        "instance": f"blind zones, wuhan car, {N_SOURCES} sources, {REQUIRED_S / 60:g} min",
        "ours_s": round(ours_s, 3),
        "anchor": "buffer per piece + union_all",
        "anchor_s": round(anchor_s, 3),
        "ratio": round(anchor_s / ours_s, 2),
        "zones": [len(ours), len(zones)],
        "area_rel_diff": abs(area_ours - area_anchor) / area_anchor,
        "same_length": bool(np.isclose(ours["length_m"].sum(), length.sum(), rtol=1e-9)),
    }


def _kde_line(network: StreetNetwork, repeats: int) -> dict[str, Any]:
    rng = np.random.default_rng(SEED)
    lo = np.array([network.node_x.min(), network.node_y.min()])
    hi = np.array([network.node_x.max(), network.node_y.max()])
    xy = rng.uniform(lo, hi, size=(N_POINTS, 2))
    points = gpd.GeoDataFrame(geometry=shapely.points(xy), crs=network.crs)
    area = gpd.GeoSeries([shapely.box(*lo, *hi)], crs=network.crs)
    cells = grid_cells(area, cell_size_m=CELL_M)
    centres = np.column_stack(
        [(cells["col"].to_numpy() + 0.5) * CELL_M, (cells["row"].to_numpy() + 0.5) * CELL_M]
    )
    ours_s, ours = best_of(repeats, lambda: kde_density(points, cells, bandwidth_m=RADIUS_M))
    anchor_s, theirs = best_of(repeats, lambda: list_kde(xy, centres, RADIUS_M))
    return {
        "bench": "hot_paths",
        "instance": f"kde, {N_POINTS:,} points, {len(cells):,} cells of {CELL_M:g} m, "
        f"radius {RADIUS_M:g} m",
        "ours_s": round(ours_s, 3),
        "anchor": "query_ball_point lists",
        "anchor_s": round(anchor_s, 3),
        "ratio": round(anchor_s / ours_s, 2),
        "same_answers": bool(np.allclose(ours.to_numpy(), theirs, rtol=1e-9, atol=1e-12)),
    }


def run(repeats: int = 3) -> list[dict[str, Any]]:
    network, _ = wuhan_network(repeats=1)
    return [_blind_line(network, repeats), _kde_line(network, repeats)]
