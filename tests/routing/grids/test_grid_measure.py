"""Tests of routing.grids.measure: compactness, points and street length per polygon, overlaps."""

from __future__ import annotations

import math

import geopandas as gpd
import pytest
import shapely

from routing.grids import (
    GridError,
    assign_points,
    line_length_in_polygons,
    overlap_areas,
    polsby_popper,
)

CRS = "EPSG:32618"


def test_polsby_popper_of_a_square_and_a_strip() -> None:
    shapes = gpd.GeoSeries([shapely.box(0, 0, 10, 10), shapely.box(0, 0, 100, 1)], crs=CRS)
    value = polsby_popper(shapes)
    assert value.name == "polsby_popper"
    assert value.iloc[0] == pytest.approx(math.pi / 4)
    assert value.iloc[1] == pytest.approx(4 * math.pi * 100 / 202**2)


def test_each_point_is_counted_once(halves: gpd.GeoDataFrame) -> None:
    polygons = halves
    points = gpd.GeoSeries(
        [
            shapely.Point(100, 100),
            shapely.Point(300, 100),
            shapely.Point(500, 100),
            shapely.Point(900, 0),
        ],
        crs=CRS,
    )
    position = assign_points(points, polygons)
    assert position.iloc[0] == 0
    assert position.iloc[1] in (0, 1)  # on the shared edge: one of the two, not both
    assert position.iloc[2] == 1
    assert position.iloc[3] == -1


def test_street_on_a_shared_edge_counts_half_in_each(halves: gpd.GeoDataFrame) -> None:
    polygons = halves
    street = gpd.GeoSeries([shapely.LineString([(300, 0), (300, 600)])], crs=CRS)
    length_m = line_length_in_polygons(street, polygons)
    assert length_m.tolist() == pytest.approx([300.0, 300.0])
    inner = gpd.GeoSeries([shapely.LineString([(50, 50), (550, 50)])], crs=CRS)
    assert line_length_in_polygons(inner, polygons).sum() == pytest.approx(500.0)


def test_overlap_areas_pairs_within_groups() -> None:
    current = gpd.GeoDataFrame(
        {"group": ["a", "a", "b"]},
        geometry=[
            shapely.box(0, 0, 150, 100),
            shapely.box(150, 0, 300, 100),
            shapely.box(0, 200, 100, 300),
        ],
        crs=CRS,
    )
    designed = gpd.GeoDataFrame(
        {"group": ["a", "a", "a", "b"]},
        geometry=[
            shapely.box(0, 0, 100, 100),
            shapely.box(100, 0, 180, 100),
            shapely.box(180, 0, 300, 100),
            shapely.box(0, 200, 100, 300),
        ],
        crs=CRS,
    )
    # 'current' comes in another CRS and is measured in the CRS of 'designed'.
    table = overlap_areas(designed, current.to_crs("EPSG:4326"), group_column="group")
    # Pairs only within a group: 3 x 2 in 'a' and 1 x 1 in 'b'.
    assert len(table) == 7
    overlap = table.set_index(["polygon", "other"])["overlap_m2"]
    assert overlap[(0, 0)] == pytest.approx(10_000, rel=1e-3)
    assert overlap[(1, 0)] == pytest.approx(5_000, rel=1e-3)
    assert overlap[(1, 1)] == pytest.approx(3_000, rel=1e-3)
    assert overlap[(2, 1)] == pytest.approx(12_000, rel=1e-3)
    assert overlap[(3, 2)] == pytest.approx(10_000, rel=1e-3)
    distance = table.set_index(["polygon", "other"])["distance_m"]
    assert overlap[(0, 1)] == pytest.approx(0, abs=1.0)  # apart by 50 m
    assert distance[(0, 1)] == pytest.approx(50, rel=1e-2)
    assert distance[(2, 0)] == pytest.approx(30, rel=1e-2)
    # Every designed polygon's overlaps add up to its area (the layouts cover the same ground).
    assert table.groupby("polygon")["overlap_m2"].sum().to_numpy() == pytest.approx(
        [10_000, 8_000, 12_000, 10_000], rel=1e-3
    )


def test_overlap_areas_needs_the_group_column() -> None:
    boxes = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1, 1)], crs=CRS)
    with pytest.raises(GridError, match="no column 'community_id'"):
        overlap_areas(boxes, boxes, group_column="community_id")
    assert len(overlap_areas(boxes, boxes)) == 1
