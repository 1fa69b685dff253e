from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import pytest
from geopandas.testing import assert_geodataframe_equal
from shapely import LineString, Point

from routing.errors import NetworkError
from routing.network import StreetNetwork, network_from_lines, network_from_osm


def test_tiger_lines_are_noded_where_they_cross(new_haven_streets):
    # same set-up as the toolchain notes: every line, no end merging
    network = network_from_lines(
        new_haven_streets, mode="car", node_tolerance_m=0.0, speed_kph={"footway": 5.0}
    )
    report = network.report
    assert report.input_lines == 1_537
    assert report.segments == 5_011
    assert report.nodes == 3_735
    assert report.components == 22
    assert report.kept_nodes == network.n_nodes == 3_693
    assert report.dropped_nodes == 42
    assert report.dropped_segments == 22
    assert round(report.kept_length_share, 3) == 0.995


def test_default_car_network_of_new_haven(new_haven_network, caplog):
    report = new_haven_network.report
    assert report.excluded_lines == {"footway": 7}
    assert (report.segments, report.nodes, report.components) == (4_988, 3_711, 18)
    assert (report.kept_nodes, report.kept_segments) == (3_678, 4_971)
    assert new_haven_network.length_km == pytest.approx(report.kept_length_km)
    assert round(report.kept_length_km, 1) == 520.6
    assert new_haven_network.crs.utm_zone == "18N"
    # lines named in TIGER keep their names, classes come from MTFCC
    assert "Chapel St" in set(new_haven_network.segment_name)
    assert set(new_haven_network.segment_highway) >= {"residential", "primary", "motorway"}


def test_network_arrays_are_consistent(new_haven_network: StreetNetwork):
    net = new_haven_network
    assert net.travel_time_csr.shape == (net.n_nodes, net.n_nodes)
    assert np.all(net.edge_travel_time_s > 0)
    seg = net.edge_segment
    np.testing.assert_allclose(net.edge_length_m, net.segment_length_m[seg])
    np.testing.assert_allclose(
        net.edge_travel_time_s, net.edge_length_m / (net.edge_speed_kph / 3.6)
    )
    # edges start where their (possibly reversed) segment starts
    edges = net.edges_gdf()
    start = np.array([g.coords[0] for g in edges.geometry])
    np.testing.assert_allclose(start[:, 0], net.node_x[net.edge_u], atol=0.5)
    np.testing.assert_allclose(start[:, 1], net.node_y[net.edge_u], atol=0.5)


def test_crossing_lines_become_a_junction(make_lines):
    roads = make_lines([[(0, 50), (100, 50)], [(50, 0), (50, 100)]])
    network = network_from_lines(roads, mode="foot")
    assert (network.n_segments, network.n_nodes, network.n_edges) == (4, 5, 8)
    assert network.report.components == 1


def test_trusting_the_noding_keeps_crossings_apart(make_lines):
    roads = make_lines([[(0, 50), (100, 50)], [(50, 0), (50, 100)]])
    network = network_from_lines(roads, mode="foot", node_lines=False, largest_component=False)
    assert (network.n_segments, network.n_nodes) == (2, 4)
    assert network.report.components == 2


def test_ends_within_tolerance_are_merged(make_lines):
    roads = make_lines([[(0, 0), (100, 0)], [(100.3, 0), (200, 0)]])
    assert network_from_lines(roads, node_tolerance_m=0.5).n_nodes == 3
    apart = network_from_lines(roads, node_tolerance_m=0.1, largest_component=False)
    assert apart.n_nodes == 4


def test_one_way_streets_and_foot(square):
    car = network_from_lines(square, mode="car")
    foot = network_from_lines(square, mode="foot")
    assert car.n_edges == 7
    assert foot.n_edges == 8
    south = np.flatnonzero(car.segment_name == "South St")[0]
    along = car.edge_segment == south
    assert along.sum() == 1 and car.edge_forward[along].all()
    x0, x1 = car.node_x[car.edge_u[along]], car.node_x[car.edge_v[along]]
    assert (x0[0], x1[0]) == (0.0, 100.0)


def test_reversed_one_way_and_text_flags(make_lines):
    roads = make_lines(
        [[(0, 0), (100, 0)], [(100, 0), (200, 0)], [(200, 0), (0, 0.0001)]],
        oneway=["-1", "yes", "no"],
    )
    net = network_from_lines(roads, largest_component=False, node_lines=False)
    pairs = {
        (round(net.node_x[u]), round(net.node_x[v]))
        for u, v in zip(net.edge_u, net.edge_v, strict=True)
    }
    assert (100, 0) in pairs and (0, 100) not in pairs
    assert (100, 200) in pairs and (200, 100) not in pairs


def test_speeds_per_mode_and_class(make_lines):
    roads = make_lines(
        [[(0, 0), (360, 0)], [(360, 0), (720, 0)], [(720, 0), (1080, 0)]],
        highway=["primary", "motorway", None],
        maxspeed=["60", None, "20 mph"],
    )
    car = network_from_lines(roads, mode="car")
    speeds = dict(
        zip(car.segment_highway, car.edge_speed_kph[np.argsort(car.edge_segment)][::2], strict=True)
    )
    assert speeds["primary"] == 60.0
    assert speeds["motorway"] == 90.0
    assert speeds["residential"] == pytest.approx(32.18688)
    ebike = network_from_lines(roads, mode="ebike", largest_component=False)
    assert "motorway" not in set(ebike.segment_highway)
    assert set(ebike.edge_speed_kph) == {20.0, 18.0}
    assert ebike.report.excluded_lines == {"motorway": 1}


def test_lines_without_class_are_residential(make_lines):
    net = network_from_lines(make_lines([[(0, 0), (250, 0)]]), mode="car")
    assert list(net.segment_highway) == ["residential"]
    assert net.edge_travel_time_s[0] == pytest.approx(250 / (30 / 3.6))


def test_lonlat_input_is_projected_and_not_mutated(make_lines):
    x0, y0 = 500_000, 4_500_000  # on the zone's central meridian: scale factor 0.9996
    roads = make_lines(
        [[(x0, y0), (x0 + 1000, y0)], [(x0 + 1000, y0), (x0 + 1000, y0 + 1000)]]
    ).to_crs(4326)
    before = roads.copy()
    net = network_from_lines(roads)
    assert net.crs.is_projected
    assert net.segment_length_m.sum() == pytest.approx(2000, rel=1e-3)
    assert_geodataframe_equal(roads, before)
    assert net.nodes_gdf(crs=4326).crs.to_epsg() == 4326


def test_smaller_components_are_dropped_and_reported(make_lines, caplog):
    roads = make_lines(
        [[(0, 0), (100, 0)], [(100, 0), (100, 100)], [(500, 500), (600, 500)]],
    )
    with caplog.at_level(logging.INFO, logger="routing.network"):
        net = network_from_lines(roads)
    assert net.n_segments == 2
    assert net.report.dropped_segments == 1
    assert net.report.dropped_nodes == 2
    assert net.report.dropped_length_km == pytest.approx(0.1)
    assert "dropped: 2 nodes, 1 segments, 0.1 km" in caplog.text


def test_to_networkx_is_osmnx_like(square):
    net = network_from_lines(square, mode="car")
    graph = net.to_networkx(geometry=True)
    assert graph.number_of_nodes() == 4 and graph.number_of_edges() == 7
    _, _, data = next(iter(graph.edges(data=True)))
    assert {"length", "travel_time", "geometry", "name", "highway"} <= set(data)
    assert {"x", "y"} <= set(graph.nodes[0])


def test_wuhan_loads_with_trusted_noding(shared_data):
    path = shared_data("wuhan_streets.parquet")
    net = network_from_lines(gpd.read_parquet(path), node_lines=False)
    assert net.report.components == 1
    assert net.n_nodes == 82_874
    assert net.report.collapsed_segments == 17
    assert net.n_segments == 92_650
    assert round(net.length_km) == 7_185


@pytest.mark.parametrize(
    ("roads", "message"),
    [
        (gpd.GeoDataFrame(geometry=[], crs=32618), "'roads' is empty"),
        (gpd.GeoDataFrame(geometry=[Point(0, 0)], crs=32618), "got 1 Point"),
        (gpd.GeoDataFrame(geometry=[LineString([(0, 0), (1, 1)])]), "has no CRS"),
        ("roads.shp", "should be a GeoDataFrame, got str"),
    ],
)
def test_bad_roads_are_named(roads, message):
    with pytest.raises(NetworkError, match=message):
        network_from_lines(roads)


def test_bad_mode_and_unusable_layer(make_lines):
    roads = make_lines([[(0, 0), (100, 0)]], highway=["footway"])
    with pytest.raises(NetworkError, match="'mode' should be one of car, ebike, foot, got 'bus'"):
        network_from_lines(roads, mode="bus")
    with pytest.raises(NetworkError, match=r"usable by mode 'car'.*classes: footway"):
        network_from_lines(roads, mode="car")


@pytest.mark.parametrize("name", ["liechtenstein-2013-08-03.osm.pbf", "helsinki.osm.pbf"])
def test_osm_networks_route_like_networkx(name, shared_data):
    pytest.importorskip("layers.osm")
    import networkx as nx

    from routing.reach import reach_nodes

    net = network_from_osm(shared_data(name), mode="car")
    assert net.report.kept_length_share > 0.8
    sources = np.random.default_rng(1).choice(net.n_nodes, 10, replace=False)
    ours = reach_nodes(net, sources, cutoff_s=180.0).time_s
    theirs = nx.multi_source_dijkstra_path_length(
        net.to_networkx(), set(sources.tolist()), cutoff=180.0, weight="travel_time"
    )
    reached = np.flatnonzero(np.isfinite(ours))
    assert set(reached.tolist()) == set(theirs)
    np.testing.assert_allclose(ours[reached], [theirs[i] for i in reached])


def test_parallel_edges_keep_the_quickest_in_matrix_order(make_lines):
    # two streets between the same ends: the straight one is quicker both ways
    net = network_from_lines(
        make_lines([[(0, 0), (100, 0)], [(0, 0), (0, 50), (100, 50), (100, 0)]]), mode="car"
    )
    assert net.n_edges == 4 and net.travel_time_csr.nnz == 2
    straight = int(np.argmin(net.segment_length_m))
    assert set(net.edge_segment[net.fastest_edge]) == {straight}
    pairs = np.column_stack([net.edge_u, net.edge_v])[net.fastest_edge]
    assert pairs.tolist() == sorted(pairs.tolist())
    csr = net.travel_time_csr
    assert csr.has_sorted_indices and csr.has_canonical_format
    for u, v, edge in zip(*pairs.T, net.fastest_edge, strict=True):
        assert csr[u, v] == net.edge_travel_time_s[edge]
        assert net.edge_id_csr[u, v] == edge + 1


def test_given_fastest_edges_and_lazy_geometry_give_the_same_network(new_haven_network):
    net = new_haven_network
    arrays = {
        name: getattr(net, name)
        for name in (
            "node_x", "node_y", "segment_u", "segment_v", "segment_length_m", "segment_name",
            "segment_highway", "segment_source", "edge_u", "edge_v", "edge_segment",
            "edge_forward", "edge_length_m", "edge_travel_time_s", "edge_speed_kph",
        )
    }  # fmt: skip
    decoded: list[int] = []

    def geometry() -> np.ndarray:
        decoded.append(1)
        return net.segment_geometry

    given = StreetNetwork(
        crs=net.crs,
        mode=net.mode,
        report=net.report,
        segment_geometry=geometry,
        fastest_edge=net.fastest_edge.copy(),
        **arrays,
    )
    for matrix in ("travel_time_csr", "edge_id_csr"):
        a, b = getattr(net, matrix), getattr(given, matrix)
        for part in ("data", "indices", "indptr"):
            np.testing.assert_array_equal(getattr(a, part), getattr(b, part))
            assert getattr(a, part).dtype == getattr(b, part).dtype
    assert decoded == []
    assert given.segment_geometry is net.segment_geometry
    assert given.segment_geometry is net.segment_geometry
    assert decoded == [1]
    with pytest.raises(TypeError, match="segment_geometry"):
        StreetNetwork(
            crs=net.crs, mode=net.mode, report=net.report, segment_geometry=None, **arrays
        )
