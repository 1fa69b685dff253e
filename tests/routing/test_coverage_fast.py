"""The fast paths of coverage by hour, street blind zones and kernel density give the answers
of straightforward references (one search per instant, one cut by the whole zone, every
point-cell pair) on small seeded networks and point sets."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely import LineString, Point

from gisapp.services import blind_streets
from routing.coverage import (
    blind_pieces,
    blind_zone_polygons,
    coverage_by_hour,
    coverage_segments,
    locate_places,
    place_times,
    reach_by_hour,
    sample_positions,
)
from routing.hotspots.grid import grid_cells, kde_density
from routing.network import StreetNetwork, network_from_lines
from routing.reach import QUAD_SEGMENTS, SegmentEnds, reach_nodes, segment_reach

#: A projected CRS in metres (UTM 18N).
METRIC_CRS = "EPSG:32618"


def jittered_lattice(seed: int, n: int = 9, step: float = 120.0) -> StreetNetwork:
    """An ``n`` x ``n`` lattice of named streets with jittered nodes, a few one-way."""
    rng = np.random.default_rng(seed)
    xy = np.stack(np.meshgrid(np.arange(n), np.arange(n), indexing="ij"), axis=-1) * step
    xy = xy + rng.uniform(-0.3, 0.3, xy.shape) * step
    lines, oneway, names = [], [], []
    for i in range(n):
        for j in range(n):
            for di, dj in ((1, 0), (0, 1)):
                if i + di < n and j + dj < n:
                    lines.append(LineString([xy[i, j], xy[i + di, j + dj]]))
                    oneway.append(bool(rng.random() < 0.15))
                    names.append(f"Row {j}" if di else f"Column {i}")
    frame = gpd.GeoDataFrame({"oneway": oneway, "name": names}, geometry=lines, crs=METRIC_CRS)
    return network_from_lines(frame)


def random_positions(network: StreetNetwork, seed: int, units: int = 3) -> pd.DataFrame:
    """Timed positions of ``units`` cars over two hours: stops at random nodes, some long."""
    rng = np.random.default_rng(seed)
    rows = []
    start = pd.Timestamp("2026-05-01T21:40:00+08:00")
    for unit in range(units):
        t = start + pd.Timedelta(minutes=int(rng.integers(0, 10)))
        while t < start + pd.Timedelta(hours=2):
            node = int(rng.integers(network.n_nodes))
            x, y = float(network.node_x[node]), float(network.node_y[node])
            rows.append((f"car-{unit}", t, x, y))
            t += pd.Timedelta(minutes=int(rng.integers(1, 12)))
            rows.append((f"car-{unit}", t, x, y))
            t += pd.Timedelta(minutes=int(rng.integers(1, 5)))
    return pd.DataFrame(rows, columns=["unit_id", "time", "x", "y"])


def reference_coverage_by_hour(
    network: StreetNetwork,
    positions: pd.DataFrame,
    bands: list[float],
    weight: np.ndarray,
    places: pd.DataFrame,
    required_s: np.ndarray,
    fixed: np.ndarray,
) -> pd.DataFrame:
    """One multi-source search per instant from its units and the fixed posts."""
    samples = sample_positions(positions)
    _, node = network.node_tree.query(samples[["x", "y"]].to_numpy())
    samples["node"] = node
    horizon = max(max(bands) * 60.0, float(required_s.max()))
    records = []
    for _, rows in samples.groupby("time", sort=True):
        sources = np.union1d(rows["node"].to_numpy(), fixed)
        reach = reach_nodes(network, sources, cutoff_s=horizon)
        place_share = float(np.mean(place_times(network, reach, places) <= required_s))
        for band in bands:
            seg = segment_reach(network, reach, cutoff_s=band * 60.0)
            fraction = seg["reached_fraction"].to_numpy()
            records.append(
                {
                    "hour": rows["time"].dt.floor("h").iloc[0],
                    "minutes": band,
                    "units": len(rows),
                    "risk_share": float((weight * fraction).sum() / weight.sum()),
                    "street_share": float(
                        (fraction * network.segment_length_m).sum() / network.segment_length_m.sum()
                    ),
                    "key_places_share": place_share,
                }
            )
    frame = pd.DataFrame(records)
    return (
        frame.groupby(["hour", "minutes"], sort=True)
        .agg(
            units=("units", "max"),
            risk_share=("risk_share", "mean"),
            street_share=("street_share", "mean"),
            key_places_share=("key_places_share", "mean"),
        )
        .reset_index()
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_coverage_by_hour_equals_one_search_per_instant(seed: int) -> None:
    network = jittered_lattice(seed)
    rng = np.random.default_rng(seed)
    positions = random_positions(network, seed)
    weight = rng.random(network.n_segments) * (rng.random(network.n_segments) < 0.5)
    place_points = gpd.GeoSeries(
        [Point(p) for p in rng.uniform(0, 8 * 120.0, (12, 2))], crs=METRIC_CRS
    )
    places = locate_places(network, place_points)
    required_s = rng.choice([30.0, 60.0, 120.0], len(places))
    fixed = rng.choice(network.n_nodes, 2, replace=False)
    bands = [0.5, 1.0, 2.0]
    fast = coverage_by_hour(
        network,
        positions,
        minutes=bands,
        segment_weights=weight,
        places=places,
        place_required_s=required_s,
        fixed_sources=fixed,
    )
    slow = reference_coverage_by_hour(network, positions, bands, weight, places, required_s, fixed)
    assert fast["hour"].tolist() == slow["hour"].tolist()
    assert fast["minutes"].tolist() == slow["minutes"].tolist()
    assert fast["units"].tolist() == slow["units"].tolist()
    for column in ("risk_share", "street_share", "key_places_share"):
        assert fast[column].to_numpy() == pytest.approx(slow[column].to_numpy(), rel=1e-12)
    # the figures move with the units: not every hour and band is the same
    assert fast["street_share"].nunique() > 1


@pytest.mark.parametrize("seed", [4, 5])
def test_reach_by_hour_equals_the_union_of_every_instant(seed: int) -> None:
    network = jittered_lattice(seed)
    positions = random_positions(network, seed)
    fast = reach_by_hour(network, positions, minutes=1.0)
    samples = sample_positions(positions)
    _, node = network.node_tree.query(samples[["x", "y"]].to_numpy())
    samples["node"] = node
    samples["hour"] = samples["time"].dt.floor("h")
    assert list(fast) == sorted(samples["hour"].unique())
    for _, rows in samples.groupby("hour"):
        from_start = np.zeros(network.n_segments)
        from_end = np.zeros(network.n_segments)
        for _, instant in rows.groupby("time"):
            reach = reach_nodes(network, instant["node"].to_numpy(), cutoff_s=60.0)
            seg = segment_reach(network, reach)
            from_start = np.maximum(from_start, seg["from_start"].to_numpy())
            from_end = np.maximum(from_end, seg["from_end"].to_numpy())
        frame = fast[rows["hour"].iloc[0]]
        assert frame["from_start"].to_numpy() == pytest.approx(from_start, abs=1e-12)
        assert frame["from_end"].to_numpy() == pytest.approx(from_end, abs=1e-12)
        assert frame["reached_length_m"].sum() > 0


def test_segment_ends_give_the_fractions_of_segment_reach() -> None:
    network = jittered_lattice(6)
    reach = reach_nodes(network, [0, network.n_nodes - 1])
    ends = SegmentEnds(network)
    cutoffs = np.array([5.0, 20.0, 45.0, 1e9])
    from_start, from_end = ends.fractions(reach.time_s, cutoffs)
    assert from_start.shape == (4, network.n_segments)
    for k, cutoff in enumerate(cutoffs):
        seg = segment_reach(network, reach, cutoff_s=float(cutoff))
        np.testing.assert_array_equal(from_start[k], seg["from_start"].to_numpy())
        np.testing.assert_array_equal(from_end[k], seg["from_end"].to_numpy())


# -- street blind zones ---------------------------------------------------------------------


def blind_inputs(seed: int) -> tuple[StreetNetwork, pd.DataFrame, gpd.GeoSeries]:
    network = jittered_lattice(seed, n=12)
    rng = np.random.default_rng(seed)
    weight = rng.random(network.n_segments)
    reach = reach_nodes(network, rng.choice(network.n_nodes, 3, replace=False))
    segments = coverage_segments(network, reach, required_s=40.0, weights=weight)
    # two round "cameras" that see some of the blind street
    cameras = gpd.GeoSeries(
        [Point(xy).buffer(100.0) for xy in rng.uniform(0, 11 * 120.0, (2, 2))], crs=METRIC_CRS
    )
    return network, segments, cameras


def street_zones(
    network: StreetNetwork, segments: pd.DataFrame, cameras: gpd.GeoSeries | None
) -> blind_streets.StreetBlindZones:
    return blind_streets.street_blind_zones(
        network,
        segments,
        blind_pieces(network, segments, cameras=cameras),
        grids=None,
        incidents=np.zeros(network.n_segments, dtype=np.int64),
        street_minutes=1.0,
        buffer_m=15.0,
    )


@pytest.mark.parametrize("seed", [8, 9, 12])
def test_a_stretch_is_the_buffer_of_its_own_blind_street(seed: int) -> None:
    network, segments, cameras = blind_inputs(seed)
    pieces = blind_pieces(network, segments, cameras=cameras)
    streets = street_zones(network, segments, cameras)
    assert len(streets.rows) > 3
    seen = shapely.union_all(cameras.to_numpy())
    names = np.array([str(n) for n in network.segment_name], dtype=object)[pieces.segment]
    midpoints = shapely.line_interpolate_point(pieces.geometry, 0.5, normalized=True)
    for row in streets.rows.itertuples():
        # the blind pieces of its street it covers (the same street's other stretches are
        # a block away), buffered one by one and joined
        own = pieces.geometry[shapely.contains(row.geometry, midpoints) & (names == row.street)]
        expected = shapely.union_all(shapely.buffer(own, 15.0, quad_segs=QUAD_SEGMENTS))
        differ = shapely.area(shapely.symmetric_difference(row.geometry, expected))
        assert differ < 1e-3 * row.area_m2  # the round ends are drawn with other vertices
        # the street a camera sees is not blind: no stretch runs along it
        assert shapely.length(shapely.intersection(own, seen)).sum() < 1e-6


@pytest.mark.parametrize("seed", [8, 9])
@pytest.mark.parametrize("with_cameras", [False, True])
def test_the_zones_are_the_union_of_the_stretches(seed: int, with_cameras: bool) -> None:
    network, segments, cameras = blind_inputs(seed)
    seen = cameras if with_cameras else None
    streets = street_zones(network, segments, seen)
    whole = blind_zone_polygons(network, segments, buffer_m=15.0, cameras=seen)
    zones = streets.zones
    assert len(zones) == len(whole) and len(zones) >= 1
    for column in ("length_m", "risk", "segments", "reached_s"):
        assert zones[column].to_numpy() == pytest.approx(whole[column].to_numpy())
    assert zones["area_m2"].to_numpy() == pytest.approx(whole["area_m2"].to_numpy(), rel=1e-3)
    drawn = shapely.union_all(streets.rows.geometry.to_numpy())
    union = shapely.union_all(zones.geometry.to_numpy())
    assert shapely.area(shapely.symmetric_difference(drawn, union)) < 1e-9 * shapely.area(union)
    # the blind street length the stretches report is the zones' (cameras aside)
    if not with_cameras:
        assert streets.rows["length_m"].sum() == pytest.approx(zones["length_m"].sum())


# -- kernel density ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [10, 11])
def test_kde_density_equals_the_sum_over_every_point_and_cell(seed: int) -> None:
    rng = np.random.default_rng(seed)
    xy = np.vstack([rng.normal(500, 150, (150, 2)), rng.uniform(0, 2000, (50, 2))])
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(*xy.T), crs=METRIC_CRS)
    weights = pd.Series(rng.integers(1, 4, len(points)).astype(float), index=points.index)
    area = gpd.GeoSeries([shapely.box(-200, -200, 2200, 2200)], crs=METRIC_CRS)
    cells = grid_cells(area, cell_size_m=100.0)
    radius = 333.0
    fast = kde_density(points, cells, bandwidth_m=radius, weights=weights)
    centres = np.column_stack(
        [(cells["col"].to_numpy() + 0.5) * 100.0, (cells["row"].to_numpy() + 0.5) * 100.0]
    )
    d2 = ((centres[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2)
    kernel = 3.0 / (math.pi * radius**2) * np.clip(1.0 - d2 / radius**2, 0.0, None) ** 2
    slow = (kernel * weights.to_numpy()[None, :]).sum(axis=1) * 1e6
    assert fast.to_numpy() == pytest.approx(slow, rel=1e-12, abs=1e-9)
    assert fast.attrs["bandwidth_m"] == radius
    assert (fast > 0).sum() > 10
