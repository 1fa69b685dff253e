"""Tests of routing.grids.zoning: balanced, contiguous, nested grids from street blocks."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest

from routing.grids import GridDesign, GridError


def test_designed_grids_are_contiguous_nested_and_balanced(
    lattice_blocks: gpd.GeoDataFrame, halves: gpd.GeoDataFrame
) -> None:
    blocks = lattice_blocks
    design = GridDesign.from_blocks(blocks, n_grids=6, tolerance=0.15, seed=1).solve()
    grids = design.grids(parent_column="community_id")
    assert len(grids) == 6
    assert grids["community_id"].value_counts().to_dict() == {"west": 3, "east": 3}
    assert design.is_contiguous().all()
    assert (grids["n_parts"] == 1).all()
    communities = halves.set_index("id").geometry
    for _, grid in grids.iterrows():
        assert grid.geometry.within(communities[grid["community_id"]].buffer(0.01))
    # Every block in exactly one grid, and the workload is kept.
    assert grids["n_blocks"].sum() == len(blocks)
    assert grids["workload"].sum() == pytest.approx(blocks["workload"].sum())
    assert grids["within_tolerance"].all(), grids["deviation"].tolist()


def test_same_seed_same_layout(lattice_blocks: gpd.GeoDataFrame) -> None:
    blocks = lattice_blocks
    first = GridDesign.from_blocks(blocks, n_grids=6, seed=3).solve().labels_
    again = GridDesign.from_blocks(blocks, n_grids=6, seed=3).solve().labels_
    assert first is not None and again is not None
    assert np.array_equal(first, again)


def test_heavy_block_is_reported_as_indivisible(lattice_blocks: gpd.GeoDataFrame) -> None:
    blocks = lattice_blocks
    blocks.loc[0, "workload"] = 100.0
    grids = GridDesign.from_blocks(blocks, n_grids=6, seed=0).solve().grids()
    heavy = grids[grids["indivisible_block"]]
    assert len(heavy) == 1
    assert heavy["n_blocks"].iloc[0] >= 1
    assert not heavy["within_tolerance"].iloc[0]


def test_grid_counts_follow_the_workload(lattice_blocks: gpd.GeoDataFrame) -> None:
    blocks = lattice_blocks
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
def test_design_errors_name_the_argument(
    kwargs: dict[str, object], message: str, lattice_blocks: gpd.GeoDataFrame
) -> None:
    with pytest.raises(GridError, match=message):
        GridDesign.from_blocks(lattice_blocks, **kwargs).solve()  # type: ignore[arg-type]


def test_grids_before_solve_is_an_error(lattice_blocks: gpd.GeoDataFrame) -> None:
    design = GridDesign.from_blocks(lattice_blocks, n_grids=2)
    with pytest.raises(GridError, match=r"call \.solve"):
        design.grids()
