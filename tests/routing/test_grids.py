"""Tests of routing.grids: street blocks, adjacency, allocation and balanced grid design."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
import shapely

from routing.grids import (
    GridDesign,
    GridDesignError,
    assign_points,
    block_adjacency,
    blocks_from_lines,
    line_length_in_polygons,
    overlap_areas,
    polsby_popper,
)

CRS = "EPSG:32618"
SPACING_M = 100.0


def lattice(n_lines: int = 7) -> gpd.GeoDataFrame:
    """Streets on a square lattice, 100 m apart, overshooting by 20 m like real data."""
    end = (n_lines - 1) * SPACING_M
    lines = [
        shapely.LineString([(i * SPACING_M, -20), (i * SPACING_M, end + 20)])
        for i in range(n_lines)
    ]
    lines += [
        shapely.LineString([(-20, i * SPACING_M), (end + 20, i * SPACING_M)])
        for i in range(n_lines)
    ]
    return gpd.GeoDataFrame({"name": [f"s{i}" for i in range(len(lines))]}, geometry=lines, crs=CRS)


def halves(split_x: float = 300.0, size: float = 600.0) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"id": ["west", "east"]},
        geometry=[shapely.box(0, 0, split_x, size), shapely.box(split_x, 0, size, size)],
        crs=CRS,
    )


def test_blocks_are_the_faces_of_the_streets() -> None:
    blocks = blocks_from_lines(lattice())
    assert len(blocks) == 36
    assert np.allclose(blocks["area_m2"], 10_000.0)
    assert blocks["block_id"].tolist() == list(range(36))


def test_blocks_nest_in_boundaries_that_do_not_follow_streets() -> None:
    communities = halves(split_x=250.0)
    blocks = blocks_from_lines(lattice(), boundaries=communities)
    # The boundary at x=250 cuts the third column of blocks in two.
    assert len(blocks) == 42
    for community_id, community in communities.set_index("id").geometry.items():
        mine = blocks[blocks["parent_id"] == community_id]
        assert math.isclose(mine.area.sum(), community.area, rel_tol=1e-9)
        assert mine.geometry.within(community.buffer(0.01)).all()


def test_blocks_from_lines_rejects_points() -> None:
    points = gpd.GeoDataFrame(geometry=[shapely.Point(0, 0)], crs=CRS)
    with pytest.raises(GridDesignError, match="'lines' should hold"):
        blocks_from_lines(points)


def test_polsby_popper_of_a_square_and_a_strip() -> None:
    shapes = gpd.GeoSeries([shapely.box(0, 0, 10, 10), shapely.box(0, 0, 100, 1)], crs=CRS)
    value = polsby_popper(shapes)
    assert value.name == "polsby_popper"
    assert value.iloc[0] == pytest.approx(math.pi / 4)
    assert value.iloc[1] == pytest.approx(4 * math.pi * 100 / 202**2)


def test_adjacency_needs_a_shared_edge_not_a_corner() -> None:
    squares = gpd.GeoSeries(
        [shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1), shapely.box(2, 1, 3, 2)], crs=CRS
    )
    assert block_adjacency(squares, min_shared_m=0.5) == [{1}, {0}, set()]


def test_each_point_is_counted_once() -> None:
    polygons = halves()
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


def test_street_on_a_shared_edge_counts_half_in_each() -> None:
    polygons = halves()
    street = gpd.GeoSeries([shapely.LineString([(300, 0), (300, 600)])], crs=CRS)
    length_m = line_length_in_polygons(street, polygons)
    assert length_m.tolist() == pytest.approx([300.0, 300.0])
    inner = gpd.GeoSeries([shapely.LineString([(50, 50), (550, 50)])], crs=CRS)
    assert line_length_in_polygons(inner, polygons).sum() == pytest.approx(500.0)


def lattice_blocks(seed: int = 7) -> gpd.GeoDataFrame:
    blocks = blocks_from_lines(lattice(), boundaries=halves())
    rng = np.random.default_rng(seed)
    blocks["workload"] = rng.uniform(0.5, 1.5, len(blocks))
    return blocks


def test_designed_grids_are_contiguous_nested_and_balanced() -> None:
    blocks = lattice_blocks()
    design = GridDesign.from_blocks(blocks, n_grids=6, tolerance=0.15, seed=1).solve()
    grids = design.grids(parent_column="community_id")
    assert len(grids) == 6
    assert grids["community_id"].value_counts().to_dict() == {"west": 3, "east": 3}
    assert design.is_contiguous().all()
    assert (grids["n_parts"] == 1).all()
    communities = halves().set_index("id").geometry
    for _, grid in grids.iterrows():
        assert grid.geometry.within(communities[grid["community_id"]].buffer(0.01))
    # Every block in exactly one grid, and the workload is kept.
    assert grids["n_blocks"].sum() == len(blocks)
    assert grids["workload"].sum() == pytest.approx(blocks["workload"].sum())
    assert grids["within_tolerance"].all(), grids["deviation"].tolist()


def test_same_seed_same_layout() -> None:
    blocks = lattice_blocks()
    first = GridDesign.from_blocks(blocks, n_grids=6, seed=3).solve().labels_
    again = GridDesign.from_blocks(blocks, n_grids=6, seed=3).solve().labels_
    assert first is not None and again is not None
    assert np.array_equal(first, again)


def test_heavy_block_is_reported_as_indivisible() -> None:
    blocks = lattice_blocks()
    blocks.loc[0, "workload"] = 100.0
    grids = GridDesign.from_blocks(blocks, n_grids=6, seed=0).solve().grids()
    heavy = grids[grids["indivisible_block"]]
    assert len(heavy) == 1
    assert heavy["n_blocks"].iloc[0] >= 1
    assert not heavy["within_tolerance"].iloc[0]


def test_grid_counts_follow_the_workload() -> None:
    blocks = lattice_blocks()
    blocks.loc[blocks["parent_id"] == "east", "workload"] *= 3
    grids = GridDesign.from_blocks(blocks, n_grids=8, seed=0).solve().grids()
    assert grids["community_id"].value_counts().to_dict() == {"east": 6, "west": 2}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"workload_column": "nope", "n_grids": 2}, "no column 'nope'"),
        ({"n_grids": 2, "tolerance": 1.5}, "'tolerance' should be between 0 and 1"),
        ({}, "exactly one of 'n_grids' and 'target_workload'"),
        ({"n_grids": 1}, "fewer than the 2 communities"),
    ],
)
def test_design_errors_name_the_argument(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(GridDesignError, match=message):
        GridDesign.from_blocks(lattice_blocks(), **kwargs).solve()  # type: ignore[arg-type]


def test_grids_before_solve_is_an_error() -> None:
    design = GridDesign.from_blocks(lattice_blocks(), n_grids=2)
    with pytest.raises(GridDesignError, match=r"call \.solve"):
        design.grids()


# -- overlap between two layouts --------------------------------------------------------


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
    with pytest.raises(GridDesignError, match="no column 'community_id'"):
        overlap_areas(boxes, boxes, group_column="community_id")
    assert len(overlap_areas(boxes, boxes)) == 1
