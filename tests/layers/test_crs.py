"""Tests of layers.crs: offset coordinates, storage CRS and metric CRS."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, Point, Polygon

from layers.crs import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    convert_offset_coordinates,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    metric_crs,
    to_storage_crs,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from layers.errors import LayerError
from layers.io import read_layer

TRICKY = Path(__file__).parents[1] / "data" / "tricky"


def _distance_m(lon_a, lat_a, lon_b, lat_b) -> np.ndarray:
    """Return distances in metres, measured in the local UTM zone of the points."""
    a = gpd.GeoSeries(gpd.points_from_xy(lon_a, lat_a), crs="EPSG:4326")
    b = gpd.GeoSeries(gpd.points_from_xy(lon_b, lat_b), crs="EPSG:4326")
    utm = a.estimate_utm_crs()
    return a.to_crs(utm).distance(b.to_crs(utm)).to_numpy()


@pytest.fixture
def china_points() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(42)
    return rng.uniform(98.0, 125.0, 200), rng.uniform(20.0, 45.0, 200)


def test_gcj02_round_trip_within_a_centimetre(china_points):
    lon, lat = china_points
    back_lon, back_lat = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert _distance_m(lon[:20], lat[:20], back_lon[:20], back_lat[:20]).max() < 0.01
    assert np.abs(back_lon - lon).max() < 1e-7
    assert np.abs(back_lat - lat).max() < 1e-7


def test_bd09_round_trips_within_a_centimetre(china_points):
    lon, lat = china_points
    back_lon, back_lat = bd09_to_gcj02(*gcj02_to_bd09(lon, lat))
    assert np.abs(back_lon - lon).max() < 1e-7
    assert np.abs(back_lat - lat).max() < 1e-7
    back_lon, back_lat = bd09_to_wgs84(*wgs84_to_bd09(lon, lat))
    assert np.abs(back_lon - lon).max() < 1e-7
    assert np.abs(back_lat - lat).max() < 1e-7


def test_offsets_are_hundreds_of_metres_in_china():
    lon, lat = np.array([116.3975, 114.2705]), np.array([39.9087, 30.5853])
    gcj_shift = _distance_m(lon, lat, *wgs84_to_gcj02(lon, lat))
    bd_shift = _distance_m(lon, lat, *wgs84_to_bd09(lon, lat))
    assert ((gcj_shift > 100) & (gcj_shift < 1000)).all()
    assert (bd_shift > gcj_shift + 300).all()  # Baidu adds its own ~0.006 degree offset


def test_points_outside_china_are_unchanged():
    lon, lat = np.array([-72.93, 24.94, 9.52]), np.array([41.31, 60.17, 47.14])
    for transform in (wgs84_to_gcj02, gcj02_to_wgs84, bd09_to_wgs84, wgs84_to_bd09):
        out_lon, out_lat = transform(lon, lat)
        np.testing.assert_array_equal(out_lon, lon)
        np.testing.assert_array_equal(out_lat, lat)


def test_scalars_and_nan_pass_through():
    lon, _ = gcj02_to_wgs84(116.4, 39.9)
    assert lon.shape == () and 116.39 < float(lon) < 116.4
    nan_lon, nan_lat = gcj02_to_wgs84([np.nan, 116.4], [np.nan, 39.9])
    assert np.isnan(nan_lon[0]) and np.isnan(nan_lat[0])
    assert np.isfinite(nan_lon[1])


def test_mismatched_shapes_are_refused():
    with pytest.raises(LayerError, match="same shape"):
        wgs84_to_gcj02([1.0, 2.0], [3.0])


@pytest.mark.parametrize(
    ("name", "source"), [("places_gcj02.csv", "gcj02"), ("places_bd09.csv", "bd09")]
)
def test_offset_csv_converts_to_truth_within_2_m(name, source):
    truth = pd.read_csv(TRICKY / "places_wgs84.csv")
    offset = read_layer(TRICKY / name)
    # Read as if WGS84, the points are far off: that is the bug this guards against.
    raw_error = _distance_m(truth["lon"], truth["lat"], offset.geometry.x, offset.geometry.y)
    assert raw_error.min() > 100
    wgs = convert_offset_coordinates(offset, source)
    error_m = _distance_m(truth["lon"], truth["lat"], wgs.geometry.x, wgs.geometry.y)
    assert error_m.max() < 2.0
    assert wgs.crs == "EPSG:4326"
    # the input is not touched
    assert offset.geometry.x.iloc[0] != pytest.approx(wgs.geometry.x.iloc[0], abs=1e-5)


def test_read_layer_converts_offset_coordinates_when_told():
    truth = pd.read_csv(TRICKY / "places_wgs84.csv")
    wgs = read_layer(TRICKY / "places_bd09.csv", crs="bd09")
    assert _distance_m(truth["lon"], truth["lat"], wgs.geometry.x, wgs.geometry.y).max() < 2.0


def test_lines_and_polygons_convert_vertex_by_vertex():
    line = LineString([(114.26, 30.58), (114.27, 30.59), (114.28, 30.585)])
    polygon = Polygon([(114.26, 30.58), (114.27, 30.58), (114.27, 30.59), (114.26, 30.58)])
    gdf = gpd.GeoDataFrame({"id": ["a", "b"]}, geometry=[line, polygon], crs="EPSG:4326")
    out = convert_offset_coordinates(gdf, "gcj02")
    for before, after in zip(gdf.geometry, out.geometry, strict=True):
        coords = np.asarray(
            before.coords if before.geom_type == "LineString" else before.exterior.coords
        )
        expected = np.column_stack(gcj02_to_wgs84(coords[:, 0], coords[:, 1]))
        got = np.asarray(after.coords if after.geom_type == "LineString" else after.exterior.coords)
        np.testing.assert_allclose(got, expected, atol=1e-12)
    assert out.geometry.iloc[1].is_valid


def test_convert_offset_refuses_projected_and_unknown_source():
    gdf = gpd.GeoDataFrame(geometry=[Point(500000, 3380000)], crs="EPSG:32650")
    with pytest.raises(LayerError, match="EPSG:32650"):
        convert_offset_coordinates(gdf, "gcj02")
    with pytest.raises(LayerError, match="'source'"):
        convert_offset_coordinates(gdf.set_crs(None, allow_override=True), "wgs")  # type: ignore[arg-type]


def test_cgcs2000_is_reprojected_and_reported():
    communities = read_layer(TRICKY / "communities_4490.geojson")
    assert communities.crs.to_epsg() == 4490
    stored, problems = to_storage_crs(communities, layer="communities")
    assert stored.crs == "EPSG:4326"
    assert [p.severity for p in problems] == ["repaired"]
    assert "EPSG:4490" in problems[0].message and problems[0].code == "reprojected"
    # CGCS2000 and WGS84 agree to centimetres: the shapes must not move
    np.testing.assert_allclose(stored.total_bounds, communities.total_bounds, atol=1e-6)
    assert communities.crs.to_epsg() == 4490


def test_projected_layer_is_reprojected_back():
    gdf = gpd.GeoDataFrame(geometry=[Point(114.27, 30.58)], crs="EPSG:4326")
    projected = gdf.to_crs("EPSG:32650")
    stored, problems = to_storage_crs(projected, layer="stations")
    assert stored.geometry.iloc[0].x == pytest.approx(114.27, abs=1e-9)
    assert problems[0].severity == "repaired" and "EPSG:32650" in problems[0].message


def test_storage_crs_needs_no_problem():
    gdf = gpd.GeoDataFrame(geometry=[Point(114.27, 30.58)], crs="OGC:CRS84")
    stored, problems = to_storage_crs(gdf, layer="stations")
    assert problems == [] and stored.crs == "EPSG:4326"


def test_missing_crs_lonlat_is_assumed_with_a_warning():
    gdf = gpd.GeoDataFrame(geometry=[Point(114.27, 30.58)])
    stored, problems = to_storage_crs(gdf, layer="stations")
    assert stored.crs == "EPSG:4326" and gdf.crs is None
    assert [(p.severity, p.code) for p in problems] == [("warning", "crs_assumed")]


def test_missing_crs_metres_is_an_error():
    gdf = gpd.GeoDataFrame(geometry=[Point(38500000, 3380000)])
    stored, problems = to_storage_crs(gdf, layer="stations")
    assert stored.crs is None
    assert [(p.severity, p.code) for p in problems] == [("error", "missing_crs")]
    assert "crs=" in problems[0].fix


def test_metric_crs_is_local_utm():
    gdf = gpd.GeoDataFrame(geometry=[Point(114.27, 30.58)], crs="EPSG:4326")
    assert metric_crs(gdf).to_epsg() == 32650
    assert metric_crs(gdf.to_crs("EPSG:4490")).to_epsg() == 32650
    with pytest.raises(LayerError, match="should have a CRS"):
        metric_crs(gdf.set_crs(None, allow_override=True))
    with pytest.raises(LayerError, match="non-empty geometry"):
        metric_crs(gpd.GeoDataFrame(geometry=[Point()], crs="EPSG:4326"))
