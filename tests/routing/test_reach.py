from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from shapely import Point

from routing.errors import NetworkError
from routing.network import StreetNetwork, network_from_lines
from routing.reach import (
    isochrones,
    reach_nodes,
    reached_lines,
    segment_reach,
    shortest_path,
    travel_time_matrix,
)


@pytest.fixture(scope="module")
def graph(new_haven_network: StreetNetwork) -> nx.MultiDiGraph:
    return new_haven_network.to_networkx()


def _node_at(net: StreetNetwork, x: float, y: float) -> int:
    return int(np.flatnonzero((net.node_x == x) & (net.node_y == y))[0])


def test_multi_source_reach_equals_networkx(new_haven_network, graph):
    sources = np.random.default_rng(42).choice(new_haven_network.n_nodes, 20, replace=False)
    reach = reach_nodes(new_haven_network, sources, cutoff_s=150.0)
    theirs = nx.multi_source_dijkstra_path_length(
        graph, set(sources.tolist()), cutoff=150.0, weight="travel_time"
    )
    reached = np.flatnonzero(reach.reached)
    assert set(reached.tolist()) == set(theirs)
    np.testing.assert_allclose(reach.time_s[reached], [theirs[i] for i in reached])
    # the named source is the nearest one: its own time to the node is the reach time
    per_source = travel_time_matrix(new_haven_network, sources, reached)
    np.testing.assert_allclose(
        per_source[reach.source[reached], np.arange(len(reached))], reach.time_s[reached]
    )
    assert (reach.source[~reach.reached] == -1).all()


def test_one_way_street_is_driven_around(square):
    car = network_from_lines(square, mode="car")
    foot = network_from_lines(square, mode="foot")
    a, b = _node_at(car, 0, 0), _node_at(car, 100, 0)
    assert shortest_path(car, a, b).travel_time_s == pytest.approx(12.0)
    assert shortest_path(car, b, a).travel_time_s == pytest.approx(36.0)
    assert shortest_path(car, b, a).length_m == pytest.approx(300.0)
    walk = shortest_path(foot, _node_at(foot, 100, 0), _node_at(foot, 0, 0))
    assert walk.length_m == pytest.approx(100.0)


def test_shortest_path_equals_networkx(new_haven_network, graph):
    rng = np.random.default_rng(5)
    for source, target in rng.choice(new_haven_network.n_nodes, size=(5, 2)):
        path = shortest_path(new_haven_network, int(source), int(target))
        expected = nx.shortest_path_length(graph, source, target, weight="travel_time")
        assert path.travel_time_s == pytest.approx(expected)
        assert path.nodes[0] == source and path.nodes[-1] == target
        # merged node ends may sit up to the node tolerance apart
        assert path.geometry.length == pytest.approx(path.length_m, abs=0.5 * len(path.edges))
        assert path.length_m == pytest.approx(
            sum(
                min(d["length"] for d in graph[u][v].values())
                for u, v in zip(path.nodes[:-1], path.nodes[1:], strict=True)
            ),
        )
        assert (
            Point(path.geometry.coords[0]).distance(
                Point(new_haven_network.node_x[source], new_haven_network.node_y[source])
            )
            < 1.0
        )


def test_no_path_names_both_ends(make_lines):
    roads = make_lines([[(0, 0), (100, 0)], [(500, 0), (600, 0)]])
    net = network_from_lines(roads, largest_component=False)
    with pytest.raises(NetworkError, match=r"no path from 'source' node 0 to 'target' node 3"):
        shortest_path(net, 0, 3)


def test_partial_segment_is_cut_at_the_reachable_length(make_lines):
    net = network_from_lines(make_lines([[(0, 0), (1000, 0)]]), speed_kph={"residential": 36.0})
    start = _node_at(net, 0, 0)
    segments = segment_reach(net, reach_nodes(net, [start], cutoff_s=60.0))
    assert segments["reached_length_m"].iat[0] == pytest.approx(600.0)
    (piece,) = reached_lines(net, segments)
    assert piece.length == pytest.approx(600.0)
    assert piece.coords[0] == (0.0, 0.0)
    iso = isochrones(net, [start], minutes=[1], buffer_m=10)
    assert iso["reached_km"].iat[0] == pytest.approx(0.6)
    polygon = iso.geometry.iat[0]
    assert polygon.contains(Point(590, 0)) and not polygon.contains(Point(620, 0))


def test_segment_reached_from_both_ends(make_lines):
    # a 200 m street between two sources, 10 m/s: 60 s reach covers it fully
    net = network_from_lines(make_lines([[(0, 0), (1000, 0)]]), speed_kph={"residential": 36.0})
    both = [_node_at(net, 0, 0), _node_at(net, 1000, 0)]
    segments = segment_reach(net, reach_nodes(net, both, cutoff_s=30.0))
    assert segments["reached_length_m"].iat[0] == pytest.approx(600.0)
    assert segments["full_s"].iat[0] == pytest.approx(50.0)
    assert len(reached_lines(net, segments)) == 2


def test_isochrones_contain_exactly_the_reached_streets(new_haven_network):
    net = new_haven_network
    sources = np.random.default_rng(0).choice(net.n_nodes, 3, replace=False)
    buffer_m = 20.0
    iso = isochrones(net, sources, minutes=(1, 3), buffer_m=buffer_m)
    assert iso["minutes"].tolist() == [1.0, 3.0]
    assert iso["reached_km"].is_monotonic_increasing
    assert iso.geometry.iat[1].covers(iso.geometry.iat[0].buffer(-0.01))
    reach = reach_nodes(net, sources, cutoff_s=180.0)
    segments = segment_reach(net, reach)
    reached = reached_lines(net, segments)
    polygon = iso.geometry.iat[1].buffer(1e-6)
    shapely.prepare(polygon)
    assert shapely.covers(polygon, reached).all()
    untouched = net.segment_geometry[segments["reached_fraction"].to_numpy() == 0]
    near = shapely.STRtree(reached).query(untouched, predicate="dwithin", distance=buffer_m + 1e-3)
    beyond = np.ones(len(untouched), dtype=bool)
    beyond[near[0]] = False
    assert beyond.sum() > 100
    assert not shapely.intersects(polygon, untouched[beyond]).any()


def test_travel_time_matrix_dense_sparse_and_cutoff(new_haven_network, graph):
    net = new_haven_network
    rng = np.random.default_rng(9)
    origins = rng.choice(net.n_nodes, 4, replace=False)
    destinations = rng.choice(net.n_nodes, 6, replace=False)
    dense = travel_time_matrix(net, origins, destinations)
    for i, o in enumerate(origins):
        lengths = nx.single_source_dijkstra_path_length(graph, int(o), weight="travel_time")
        np.testing.assert_allclose(dense[i], [lengths[int(d)] for d in destinations])
    cut = travel_time_matrix(net, origins, destinations, cutoff_s=200.0, sparse=True)
    expected = np.where(dense <= 200.0, dense, 0.0)
    np.testing.assert_allclose(cut.toarray(), expected)
    assert cut.nnz == (dense <= 200.0).sum()


def test_sources_given_as_points(square):
    net = network_from_lines(square, mode="foot")
    stations = gpd.GeoSeries([Point(1, 1)], crs=square.crs)
    reach = reach_nodes(net, stations, cutoff_s=75.0)  # 100 m on foot take 72 s
    assert reach.sources.tolist() == [_node_at(net, 0, 0)]
    assert reach.reached.sum() == 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sources": []}, "'sources' is empty"),
        ({"sources": [99]}, r"'sources' holds \[99\], which are not nodes"),
        ({"sources": [0], "cutoff_s": -1}, "'cutoff_s' should be >= 0 seconds, got -1"),
    ],
)
def test_bad_reach_arguments(square, kwargs, message):
    net = network_from_lines(square)
    with pytest.raises(NetworkError, match=message):
        reach_nodes(net, **kwargs)


def test_bad_minutes(square):
    net = network_from_lines(square)
    with pytest.raises(NetworkError, match="'minutes' should be positive numbers"):
        isochrones(net, [0], minutes=[0, 3])
