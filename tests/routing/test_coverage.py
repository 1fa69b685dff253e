"""Coverage, cameras, blind zones, coverage by hour and the placement seam on hand-made streets.

Every street here is residential (30 km/h for cars): 100 m takes 12 s.
"""

from __future__ import annotations

import itertools

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely import LineString, Point

from routing.coverage import (
    blind_zone_polygons,
    camera_coverage,
    camera_sectors,
    candidate_sites,
    coverage_by_hour,
    coverage_segments,
    locate_places,
    node_degree,
    node_weights,
    place_times,
    placement_input,
    reach_by_hour,
    sample_positions,
)
from routing.errors import InfeasiblePlanError, RoutingError
from routing.network import StreetNetwork, network_from_lines
from routing.placement import LSCP, MCLP
from routing.reach import reach_nodes

#: A projected CRS in metres for the hand-made layers (UTM 18N).
METRIC_CRS = "EPSG:32618"


def lines_gdf(coords: list[list[tuple[float, float]]], **columns: list[object]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(dict(columns), geometry=[LineString(c) for c in coords], crs=METRIC_CRS)


def node_at(net: StreetNetwork, x: float, y: float) -> int:
    return int(np.flatnonzero((np.abs(net.node_x - x) < 1e-6) & (np.abs(net.node_y - y) < 1e-6))[0])


def segment_between(net: StreetNetwork, a: int, b: int) -> int:
    both = ((net.segment_u == a) & (net.segment_v == b)) | (
        (net.segment_u == b) & (net.segment_v == a)
    )
    return int(np.flatnonzero(both)[0])


@pytest.fixture
def cross() -> StreetNetwork:
    """Four 100 m arms from a junction at the origin: east, north, west, south."""
    return network_from_lines(
        lines_gdf(
            [
                [(0, 0), (100, 0)],
                [(0, 0), (0, 100)],
                [(0, 0), (-100, 0)],
                [(0, 0), (0, -100)],
            ]
        )
    )


@pytest.fixture
def path4() -> StreetNetwork:
    """A straight street of four 100 m segments, x = 0 .. 400."""
    return network_from_lines(lines_gdf([[(x, 0), (x + 100, 0)] for x in range(0, 400, 100)]))


def cameras_gdf(
    rows: list[dict[str, float]], points: list[tuple[float, float]]
) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(rows, geometry=[Point(p) for p in points], crs=METRIC_CRS)


# -- cameras --------------------------------------------------------------------------------


def test_camera_sector_covers_exactly_the_street_in_view(cross: StreetNetwork) -> None:
    east = segment_between(cross, node_at(cross, 0, 0), node_at(cross, 100, 0))
    cams = cameras_gdf([{"range_m": 50.0, "heading_deg": 90.0, "fov_deg": 90.0}], [(0, 0)])
    seen = camera_coverage(cross, camera_sectors(cams, crs=cross.crs))
    assert seen[east] == pytest.approx(50.0, abs=1e-6)
    assert seen.drop(index=east).max() == pytest.approx(0.0, abs=1e-6)


def test_camera_looking_north_sees_only_the_north_arm_up_to_its_range(cross: StreetNetwork) -> None:
    north = segment_between(cross, node_at(cross, 0, 0), node_at(cross, 0, 100))
    cams = cameras_gdf([{"range_m": 80.0, "heading_deg": 0.0, "fov_deg": 30.0}], [(0, 0)])
    seen = camera_coverage(cross, camera_sectors(cams, crs=cross.crs))
    assert seen[north] == pytest.approx(80.0, abs=1e-6)
    assert seen.sum() == pytest.approx(80.0, abs=1e-6)


def test_camera_without_heading_or_range_sees_all_round_at_the_default_range(
    cross: StreetNetwork,
) -> None:
    cams = cameras_gdf([{"range_m": np.nan, "heading_deg": np.nan, "fov_deg": np.nan}], [(0, 0)])
    seen = camera_coverage(cross, camera_sectors(cams, crs=cross.crs, default_range_m=40.0))
    assert seen.to_numpy() == pytest.approx([40.0] * 4, abs=1e-6)


def test_camera_with_bad_range_is_refused(cross: StreetNetwork) -> None:
    cams = cameras_gdf([{"range_m": -5.0}], [(0, 0)])
    with pytest.raises(RoutingError, match="range_m or fov_deg"):
        camera_sectors(cams, crs=cross.crs)


# -- key places just inside / outside --------------------------------------------------------


def test_key_place_just_inside_and_just_outside_its_circle(path4: StreetNetwork) -> None:
    reach = reach_nodes(path4, [node_at(path4, 0, 0)])
    places = gpd.GeoSeries([Point(240, 5), Point(260, 5)], crs=METRIC_CRS)
    times = place_times(path4, reach, locate_places(path4, places))
    # 240 m at 30 km/h is 28.8 s, 260 m is 31.2 s: a 30 s circle holds the first only
    assert times == pytest.approx([28.8, 31.2])
    assert list(times <= 30.0) == [True, False]


def test_place_on_a_one_way_street_is_reached_only_from_its_open_end() -> None:
    net = network_from_lines(
        lines_gdf(
            [
                [(0, 0), (100, 0)],
                [(100, 0), (200, 0)],
                [(0, 0), (0, 100)],
                [(0, 100), (200, 100)],
                [(200, 100), (200, 0)],
            ],
            oneway=[False, True, False, False, False],
        ),
        mode="car",
    )
    # the middle segment runs east only; from (0,0) a place at x=190 lies 90 m past its start
    reach = reach_nodes(net, [node_at(net, 0, 0)])
    times = place_times(
        net, reach, locate_places(net, gpd.GeoSeries([Point(190, 0)], crs=METRIC_CRS))
    )
    assert times[0] == pytest.approx(12.0 + 0.9 * 12.0)


# -- blind zones -----------------------------------------------------------------------------


def test_blind_zone_polygons_hold_the_unreached_streets_and_not_the_reached(
    path4: StreetNetwork,
) -> None:
    start = node_at(path4, 0, 0)
    segs = [
        segment_between(path4, node_at(path4, x, 0), node_at(path4, x + 100, 0))
        for x in (0, 100, 200, 300)
    ]
    weights = np.zeros(path4.n_segments)
    weights[segs] = [1.0, 2.0, 4.0, 8.0]
    covered = coverage_segments(
        path4, reach_nodes(path4, [start]), required_s=30.0, weights=weights
    )
    # 30 s reach 250 m: half of the third segment and none of the fourth are blind
    assert covered.loc[segs, "reached_fraction"].to_numpy() == pytest.approx([1, 1, 0.5, 0])
    zones = blind_zone_polygons(path4, covered, buffer_m=10.0)
    assert len(zones) == 1
    zone = zones.geometry.iat[0]
    assert zones["length_m"].iat[0] == pytest.approx(150.0)
    assert zones["risk"].iat[0] == pytest.approx(4.0 * 0.5 + 8.0)
    assert zone.contains(path4.segment_geometry[segs[3]])
    assert zone.contains(Point(275, 0))
    for reached in segs[:2]:
        assert not zone.intersects(path4.segment_geometry[reached])
    assert not zone.contains(Point(225, 0))


def test_cameras_shrink_the_blind_zone(path4: StreetNetwork) -> None:
    covered = coverage_segments(path4, reach_nodes(path4, [node_at(path4, 0, 0)]), required_s=30.0)
    cams = camera_sectors(cameras_gdf([{"range_m": 50.0}], [(350, 0)]), crs=path4.crs)
    zones = blind_zone_polygons(path4, covered, buffer_m=10.0, cameras=cams)
    assert zones["length_m"].sum() == pytest.approx(50.0, abs=1e-6)
    assert zones.geometry.iat[0].contains(Point(275, 0))
    assert not zones.geometry.iat[0].contains(Point(350, 0))


def test_everything_reached_gives_no_blind_zone(path4: StreetNetwork) -> None:
    covered = coverage_segments(path4, reach_nodes(path4, [node_at(path4, 0, 0)]), required_s=60.0)
    assert len(blind_zone_polygons(path4, covered)) == 0


# -- coverage by hour ------------------------------------------------------------------------


def timed(rows: list[tuple[str, str, float, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["unit_id", "time", "x", "y"])
    frame["time"] = pd.to_datetime(frame["time"])
    return frame


def test_coverage_by_hour_follows_the_unit(path4: StreetNetwork) -> None:
    segs = [
        segment_between(path4, node_at(path4, x, 0), node_at(path4, x + 100, 0))
        for x in (0, 100, 200, 300)
    ]
    risk = np.zeros(path4.n_segments)
    risk[segs[0]], risk[segs[3]] = 1.0, 8.0
    positions = timed(
        [
            ("car-1", "2026-05-01T10:00:00+08:00", 0.0, 0.0),
            ("car-1", "2026-05-01T10:59:00+08:00", 0.0, 0.0),
            ("car-1", "2026-05-01T11:00:00+08:00", 400.0, 0.0),
            ("car-1", "2026-05-01T11:59:00+08:00", 400.0, 0.0),
        ]
    )
    places = locate_places(path4, gpd.GeoSeries([Point(50, 2)], crs=METRIC_CRS))
    hourly = coverage_by_hour(
        path4,
        positions,
        minutes=[0.2],
        segment_weights=risk,
        places=places,
        place_required_s=[12.0],
    )
    assert [h.hour for h in hourly["hour"]] == [10, 11]
    assert str(hourly["hour"].iat[0].tz) == "UTC+08:00"
    assert hourly["risk_share"].to_numpy() == pytest.approx([1 / 9, 8 / 9])
    assert hourly["street_share"].to_numpy() == pytest.approx([0.25, 0.25])
    assert hourly["key_places_share"].to_numpy() == pytest.approx([1.0, 0.0])
    assert hourly["samples"].tolist() == [60, 60]

    with_station = coverage_by_hour(
        path4, positions, minutes=[0.2], segment_weights=risk, fixed_sources=[node_at(path4, 0, 0)]
    )
    assert with_station["risk_share"].to_numpy() == pytest.approx([1 / 9, 1.0])


def test_reach_by_hour_is_the_union_of_the_hour_instants(path4: StreetNetwork) -> None:
    positions = timed(
        [
            ("car-1", "2026-05-01T10:00:00+08:00", 0.0, 0.0),
            ("car-1", "2026-05-01T10:30:00+08:00", 0.0, 0.0),
            ("car-1", "2026-05-01T10:31:00+08:00", 200.0, 0.0),
            ("car-1", "2026-05-01T10:59:00+08:00", 200.0, 0.0),
            ("car-1", "2026-05-01T11:00:00+08:00", 400.0, 0.0),
            ("car-1", "2026-05-01T11:59:00+08:00", 400.0, 0.0),
        ]
    )
    reached = reach_by_hour(path4, positions, minutes=0.2)
    assert [h.hour for h in reached] == [10, 11]
    # 12 s is one 100 m segment each way: from x=0, then from x=200, the same hour
    lengths = [float(f["reached_length_m"].sum()) for f in reached.values()]
    assert lengths == pytest.approx([300.0, 100.0])
    assert all(f["reached_fraction"].between(0, 1).all() for f in reached.values())
    with pytest.raises(RoutingError, match="'minutes' should be > 0"):
        reach_by_hour(path4, positions, minutes=0)


def test_sample_positions_moves_evenly_between_stops() -> None:
    samples = sample_positions(
        timed([("a", "2026-05-01T10:00:00Z", 0.0, 0.0), ("a", "2026-05-01T10:02:00Z", 240.0, 0.0)])
    )
    assert samples["x"].tolist() == [0.0, 120.0, 240.0]


def test_positions_without_time_zone_or_columns_are_refused() -> None:
    with pytest.raises(RoutingError, match="no time zone"):
        sample_positions(timed([("a", "2026-05-01T10:00:00", 0.0, 0.0)]))
    with pytest.raises(RoutingError, match="lacks column"):
        sample_positions(pd.DataFrame({"unit_id": ["a"], "time": ["x"]}))


# -- the placement seam ----------------------------------------------------------------------


@pytest.fixture
def grid3() -> StreetNetwork:
    """A 4 x 4 lattice of nodes 100 m apart (3 x 3 blocks)."""
    lines = []
    for i in range(4):
        for j in range(3):
            lines.append([(j * 100, i * 100), (j * 100 + 100, i * 100)])
            lines.append([(i * 100, j * 100), (i * 100, j * 100 + 100)])
    return network_from_lines(lines_gdf(lines))


def test_network_seam_gives_the_same_optimum_as_the_cost_matrix_model(grid3: StreetNetwork) -> None:
    rng = np.random.default_rng(7)
    weights = rng.integers(1, 10, grid3.n_nodes).astype(float)
    nodes = np.arange(grid3.n_nodes)
    candidates = pd.DataFrame({"node": nodes})
    instance = placement_input(
        grid3, demand_nodes=nodes, candidates=candidates, weights=weights, cutoff_s=24.0
    )
    seam = instance.build("mclp", p=2, radius_s=24.0).solve()

    # the same instance computed independently with networkx
    graph = nx.DiGraph()
    for u, v, t in zip(grid3.edge_u, grid3.edge_v, grid3.edge_travel_time_s, strict=True):
        graph.add_edge(int(u), int(v), weight=float(t))
    dense = np.full((grid3.n_nodes, grid3.n_nodes), np.inf)
    for source, lengths in nx.all_pairs_dijkstra_path_length(graph):
        for target, t in lengths.items():
            dense[target, source] = t  # demand row, candidate column
    matrix = MCLP.from_cost_matrix(dense, radius_s=24.0, p=2, weights=weights).solve()
    brute = max(
        weights[(dense[:, list(pair)] <= 24.0 + 1e-9).any(axis=1)].sum()
        for pair in itertools.combinations(range(grid3.n_nodes), 2)
    )
    assert seam.objective == pytest.approx(matrix.objective)
    assert seam.objective == pytest.approx(brute)

    lscp_seam = instance.build("lscp", radius_s=24.0).solve()
    lscp_matrix = LSCP.from_cost_matrix(dense, radius_s=24.0).solve()
    assert len(lscp_seam.selected) == len(lscp_matrix.selected)


def test_fixed_candidates_stay_open_and_come_first(grid3: StreetNetwork) -> None:
    nodes = np.arange(grid3.n_nodes)
    candidates = pd.concat(
        [
            pd.DataFrame({"node": nodes, "kind": "intersection", "fixed": False}),
            pd.DataFrame({"node": [15], "id": ["HQ"], "kind": "station", "fixed": [True]}),
        ]
    )
    instance = placement_input(grid3, demand_nodes=nodes, candidates=candidates, cutoff_s=24.0)
    assert len(instance.candidate_ids) == grid3.n_nodes  # node 15 is kept once, as the station
    assert instance.candidate_ids[0] == "HQ"
    model = instance.build("mclp", p=2, radius_s=24.0).solve()
    assert 0 in model.selected


def test_demand_radius_per_demand_limits_the_pairs(grid3: StreetNetwork) -> None:
    near, far = node_at(grid3, 0, 0), node_at(grid3, 300, 300)
    site = pd.DataFrame({"node": [node_at(grid3, 100, 0)]})
    loose = placement_input(
        grid3, demand_nodes=[near, far], candidates=site, demand_radius_s=[12.0, 1000.0]
    )
    # the site is 100 m (12 s) from the near corner and 500 m (60 s) from the far one
    assert loose.travel_time_s.toarray() == pytest.approx(np.array([[12.0], [60.0]]))
    tight = placement_input(
        grid3, demand_nodes=[near, far], candidates=site, demand_radius_s=[12.0, 40.0]
    )
    assert tight.travel_time_s.nnz == 1


def test_p_above_the_candidates_is_infeasible(grid3: StreetNetwork) -> None:
    instance = placement_input(
        grid3, demand_nodes=[0, 5], candidates=pd.DataFrame({"node": [1, 2]})
    )
    with pytest.raises(InfeasiblePlanError, match="only 2 candidate sites"):
        instance.build("mclp", p=3, radius_s=60.0)


def test_unreachable_demand_is_named(grid3: StreetNetwork) -> None:
    instance = placement_input(
        grid3,
        demand_nodes=[0, 15],
        candidates=pd.DataFrame({"node": [0]}),
        demand_ids=["school A", "school B"],
        cutoff_s=30.0,
    )
    with pytest.raises(InfeasiblePlanError, match="school B"):
        instance.build("lscp", radius_s=30.0)


def test_no_candidates_or_no_demand_is_refused(grid3: StreetNetwork) -> None:
    with pytest.raises(RoutingError, match="no candidate sites"):
        placement_input(grid3, demand_nodes=[0], candidates=pd.DataFrame({"node": []}))
    with pytest.raises(RoutingError, match="no demand to cover"):
        placement_input(grid3, demand_nodes=[], candidates=pd.DataFrame({"node": [0]}))


def test_unknown_model_is_refused(grid3: StreetNetwork) -> None:
    instance = placement_input(grid3, demand_nodes=[0], candidates=pd.DataFrame({"node": [0]}))
    with pytest.raises(RoutingError, match="'model' should be one of"):
        instance.build("kmeans", p=1)


def test_candidate_sites_keep_spread_out_intersections(grid3: StreetNetwork) -> None:
    degree = node_degree(grid3)
    assert sorted(np.bincount(degree)[2:].tolist()) == [4, 4, 8]  # corners, borders, inside
    every = candidate_sites(grid3, min_degree=3, spacing_m=0)
    assert len(every) == 12
    assert (degree[every["node"]] >= 3).all()
    thinned = candidate_sites(grid3, min_degree=3, spacing_m=250.0)
    xy = np.column_stack([grid3.node_x[thinned["node"]], grid3.node_y[thinned["node"]]])
    cells = {tuple(c) for c in np.floor(xy / 250.0).astype(int).tolist()}
    assert len(cells) == len(thinned) < len(every)
    capped = candidate_sites(grid3, min_degree=3, spacing_m=0, max_candidates=5, seed=1)
    assert len(capped) == 5
    assert capped.equals(
        candidate_sites(grid3, min_degree=3, spacing_m=0, max_candidates=5, seed=1)
    )


def test_node_weights_split_each_segment_between_its_ends(path4: StreetNetwork) -> None:
    weights = np.zeros(path4.n_segments)
    seg = segment_between(path4, node_at(path4, 0, 0), node_at(path4, 100, 0))
    weights[seg] = 4.0
    moved = node_weights(path4, weights)
    assert moved.sum() == pytest.approx(4.0)
    assert moved[node_at(path4, 0, 0)] == pytest.approx(2.0)
    assert moved[node_at(path4, 100, 0)] == pytest.approx(2.0)


def test_coverage_segments_checks_its_inputs(path4: StreetNetwork) -> None:
    reach = reach_nodes(path4, [0])
    with pytest.raises(RoutingError, match="'weights' should hold one value per segment"):
        coverage_segments(path4, reach, required_s=10.0, weights=[1.0])
    with pytest.raises(RoutingError, match="'required_s'"):
        coverage_segments(path4, reach, required_s=-1.0)


def test_unreached_pieces_are_the_complement_of_the_reached(path4: StreetNetwork) -> None:
    from routing.coverage import unreached_lines
    from routing.reach import reached_lines

    covered = coverage_segments(path4, reach_nodes(path4, [node_at(path4, 0, 0)]), required_s=30.0)
    reached = shapely.union_all(reached_lines(path4, covered))
    unreached = shapely.union_all(unreached_lines(path4, covered))
    assert reached.length + unreached.length == pytest.approx(path4.length_km * 1000)
    assert reached.intersection(unreached).length == pytest.approx(0.0, abs=1e-6)
