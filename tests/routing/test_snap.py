from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely import LineString, Point, Polygon

from routing.errors import NetworkError
from routing.network import StreetNetwork, network_from_lines
from routing.snap import nearest_nodes, snap_points, snap_problems


def _sample_points(network: StreetNetwork, n: int, seed: int) -> gpd.GeoSeries:
    minx, miny, maxx, maxy = shapely.total_bounds(network.segment_geometry)
    rng = np.random.default_rng(seed)
    xy = rng.uniform([minx, miny], [maxx, maxy], size=(n, 2))
    return gpd.GeoSeries(shapely.points(xy), crs=network.crs)


def test_snapping_equals_brute_force(new_haven_network):
    points = _sample_points(new_haven_network, 300, seed=7)
    result = snap_points(new_haven_network, points, max_distance_m=1e6)
    brute = shapely.distance(
        points.to_numpy()[:, None], new_haven_network.segment_geometry[None, :]
    )
    assert result["snapped"].all()
    np.testing.assert_allclose(result["distance_m"], brute.min(axis=1))
    chosen = brute[np.arange(len(points)), result["segment"].to_numpy()]
    np.testing.assert_allclose(chosen, brute.min(axis=1))


def test_snapped_point_position_and_edge(new_haven_network):
    net = new_haven_network
    points = _sample_points(net, 200, seed=3).to_crs(4326)
    result = snap_points(net, points, max_distance_m=1e6)
    assert result.crs == net.crs
    lines = net.segment_geometry[result["segment"]]
    assert shapely.dwithin(lines, result.geometry.to_numpy(), 1e-6).all()
    np.testing.assert_allclose(
        result["position"], result["position_m"] / net.segment_length_m[result["segment"]]
    )
    assert result["position"].between(0, 1).all()
    np.testing.assert_array_equal(net.edge_segment[result["edge"]], result["segment"])
    original = points.to_crs(net.crs).to_numpy()
    np.testing.assert_allclose(
        shapely.distance(original, result.geometry.to_numpy()), result["distance_m"], atol=1e-6
    )


def test_far_points_are_flagged_not_snapped(square, caplog):
    net = network_from_lines(square, mode="foot")
    points = gpd.GeoDataFrame(
        {"id": ["near", "far", "none"]},
        geometry=[Point(50, 10), Point(50, 400), None],
        crs=square.crs,
    ).set_index("id")
    with caplog.at_level(logging.WARNING, logger="routing.snap"):
        result = snap_points(net, points, max_distance_m=50)
    assert result["snapped"].tolist() == [True, False, False]
    assert result.loc["near", "distance_m"] == pytest.approx(10)
    assert result.loc["far", "segment"] == -1
    assert result.loc["far", "distance_m"] == pytest.approx(300)
    assert result.geometry.isna().tolist() == [False, True, True]
    assert "1 of 3 points are farther than 50 m from any street" in caplog.text
    problems = snap_problems(result, layer="incidents", max_distance_m=50)
    assert [(p.feature_id, p.code) for p in problems] == [
        ("far", "far_from_street"),
        ("none", "far_from_street"),
    ]
    assert "300 m from the nearest street" in problems[0].message


def test_nearest_nodes_equal_brute_force(new_haven_network):
    net = new_haven_network
    points = _sample_points(net, 100, seed=11)
    nodes, dist = nearest_nodes(net, points, max_distance_m=None, return_distance_m=True)
    xy = shapely.get_coordinates(points.to_numpy())
    brute = np.hypot(xy[:, None, 0] - net.node_x[None], xy[:, None, 1] - net.node_y[None])
    np.testing.assert_allclose(dist, brute.min(axis=1))
    np.testing.assert_array_equal(nodes, brute.argmin(axis=1))


def test_nearest_nodes_far_point_is_named(square):
    net = network_from_lines(square, mode="foot")
    stations = gpd.GeoSeries([Point(0, 0), Point(5000, 0)], index=["HQ", "Lake"], crs=square.crs)
    with pytest.raises(
        NetworkError, match=r"1 point\(s\) .* farther than 500 m .*'Lake' \(4,900 m\)"
    ):
        nearest_nodes(net, stations)


@pytest.mark.parametrize(
    ("points", "message"),
    [
        (gpd.GeoSeries([Point(0, 0)]), "has no CRS"),
        (
            gpd.GeoSeries([Polygon([(0, 0), (1, 0), (1, 1)])], crs=32618),
            "should hold Point geometries, got 1 Polygon",
        ),
        ([Point(0, 0)], "should be a GeoDataFrame or GeoSeries of points, got list"),
    ],
)
def test_bad_points_are_named(square, points, message):
    net = network_from_lines(square, mode="foot")
    with pytest.raises(NetworkError, match=message):
        snap_points(net, points)


def test_bad_limit(square):
    net = network_from_lines(square)
    with pytest.raises(NetworkError, match="'max_distance_m' should be > 0, got 0"):
        snap_points(net, gpd.GeoSeries([Point(0, 0)], crs=square.crs), max_distance_m=0)


def test_line_crossing_point_snaps_to_distance_zero(make_lines):
    net = network_from_lines(make_lines([[(0, 0), (100, 0)]]))
    result = snap_points(net, gpd.GeoSeries([Point(30, 0)], crs=net.crs))
    assert result["distance_m"].iat[0] == 0
    assert result["position_m"].iat[0] == pytest.approx(30)
    assert result.geometry.iat[0].equals(Point(30, 0))
    assert LineString([(0, 0), (100, 0)]).equals(net.segment_geometry[0])


def test_points_near_streets_equal_brute_force(new_haven_network):
    # points a few metres to ~150 m off the streets: every search round is used
    net = new_haven_network
    rng = np.random.default_rng(11)
    segment = rng.integers(net.n_segments, size=400)
    on_street = shapely.line_interpolate_point(
        net.segment_geometry[segment], rng.uniform(size=400), normalized=True
    )
    offset = rng.normal(0.0, 1.0, size=(400, 2)) * rng.choice([5.0, 40.0, 150.0], size=(400, 1))
    points = gpd.GeoSeries(shapely.points(shapely.get_coordinates(on_street) + offset), crs=net.crs)
    result = snap_points(net, points, max_distance_m=1e6)
    brute = shapely.distance(points.to_numpy()[:, None], net.segment_geometry[None, :])
    np.testing.assert_array_equal(result["distance_m"], brute.min(axis=1))
    # of equally near segments (e.g. at a junction) the lowest numbered one
    nearest = brute == brute.min(axis=1, keepdims=True)
    np.testing.assert_array_equal(result["segment"], nearest.argmax(axis=1))


def test_long_bent_street_snaps_along_its_whole_length(make_lines):
    net = network_from_lines(make_lines([[(0, 0), (5000, 0), (5000, 3000)]]), node_lines=False)
    points = gpd.GeoSeries(
        [Point(2500, 7), Point(4990, 1500), Point(2500, -60), Point(3000, 900)], crs=net.crs
    )
    result = snap_points(net, points, max_distance_m=500)
    np.testing.assert_allclose(result["distance_m"], [7, 10, 60, 900])
    assert result["snapped"].tolist() == [True, True, True, False]
    np.testing.assert_allclose(result["position_m"].iloc[:3], [2500, 6500, 2500])


def test_equally_near_segments_go_to_the_lowest_number(square):
    net = network_from_lines(square, mode="foot")
    # each point is as near to two sides of the block as to one of its corners
    points = gpd.GeoSeries([Point(-3, -3), Point(103, 103), Point(-200, -200)], crs=square.crs)
    result = snap_points(net, points, max_distance_m=500)
    corners = [(0.0, 0.0), (100.0, 100.0), (0.0, 0.0)]
    for row, corner in zip(result.itertuples(), corners, strict=True):
        touching = np.flatnonzero(shapely.dwithin(net.segment_geometry, Point(corner), 1e-9))
        assert row.segment == touching.min()


def test_the_same_points_are_searched_once_per_network_whatever_the_limit(
    new_haven_network, monkeypatch
):
    import routing.snap as snap

    points = _sample_points(new_haven_network, 200, seed=11)
    first = snap_points(new_haven_network, points, max_distance_m=1e6)
    calls = []
    original = snap._nearest_segments
    monkeypatch.setattr(
        snap, "_nearest_segments", lambda *a, **k: calls.append(1) or original(*a, **k)
    )
    again = snap_points(new_haven_network, points, max_distance_m=1e6)
    near = snap_points(new_haven_network, points, max_distance_m=50.0)
    assert calls == []
    assert again.drop(columns="geometry").equals(first.drop(columns="geometry"))
    kept = first["distance_m"] <= 50.0
    assert (near["snapped"] == kept).all()
    assert (near.loc[kept, "segment"] == first.loc[kept, "segment"]).all()
    assert (near.loc[~kept, "segment"] == -1).all()
    moved = points.translate(xoff=3.0)
    snap_points(new_haven_network, moved, max_distance_m=1e6)
    assert calls == [1]  # other points are searched
