"""Tests of routing.grids.assignment: designed grids handed to current officers, changes."""

from __future__ import annotations

from itertools import pairwise

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from routing.grids import GridError, assign_designed_grids, responsibility_changes

CRS = "EPSG:32618"


def strip_layouts(
    current_split_x: float, designed_edges: list[float]
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """A 300 m x 100 m community with two current grids (Li west, Wang east) and a
    designed layout cut at ``designed_edges``; a second community 'far' to the north
    has one current grid (Zhao) and one designed grid."""
    current = gpd.GeoDataFrame(
        {
            "id": ["A", "B", "F"],
            "community_id": ["strip", "strip", "far"],
            "officer": ["Li", "Wang", "Zhao"],
            "team": ["Team 1", "Team 2", "Team 3"],
            "phone": ["101", "102", "103"],
            "unit_id": ["car-1", "car-2", "car-3"],
            "workload": [30.0, 20.0, 50.0],
        },
        geometry=[
            shapely.box(0, 0, current_split_x, 100),
            shapely.box(current_split_x, 0, 300, 100),
            shapely.box(0, 200, 300, 300),
        ],
        crs=CRS,
    )
    edges = [0.0, *designed_edges, 300.0]
    n = len(edges) - 1
    designed = gpd.GeoDataFrame(
        {"id": [f"D{i + 1}" for i in range(n)] + ["DF"], "community_id": ["strip"] * n + ["far"]},
        geometry=[shapely.box(a, 0, b, 100) for a, b in pairwise(edges)]
        + [shapely.box(0, 200, 300, 300)],
        crs=CRS,
    )
    return designed, current


def test_two_grids_split_in_three_inherit_the_largest_overlap() -> None:
    designed, current = strip_layouts(150, [100, 180])
    for method in ("overlap", "balanced"):
        table = assign_designed_grids(designed, current, method=method).set_index("grid_id")
        # D1 lies in A; D2 is 50 m in A and 30 m in B; D3 lies mostly in B.
        assert table["source_grid_id"].to_dict() == {"D1": "A", "D2": "A", "D3": "B", "DF": "F"}
        assert table.loc["D2", "officer"] == "Li"
        assert table.loc["D2", "unit_id"] == "car-1"
        assert [table.loc["D3", c] for c in ("officer", "team", "phone", "unit_id")] == [
            "Wang",
            "Team 2",
            "102",
            "car-2",
        ]
        assert table.loc["D2", "overlap_share"] == pytest.approx(50 / 80)
        assert table.loc["D3", "overlap_share"] == pytest.approx(1.0)
    balanced = assign_designed_grids(designed, current).set_index("grid_id")
    # Two officers, one slot each: D1 and D3 are matched, D2 is left to the overlap rule.
    assert balanced["rule"].to_dict() == {
        "D1": "balanced",
        "D2": "largest_overlap",
        "D3": "balanced",
        "DF": "balanced",
    }


def test_balanced_assignment_keeps_each_officers_count() -> None:
    # A covers 250 m of the strip, so D2 overlaps A (100 m) more than B (50 m).
    designed, current = strip_layouts(250, [150])
    overlap = assign_designed_grids(designed, current, method="overlap").set_index("grid_id")
    assert overlap.loc[["D1", "D2"], "officer"].tolist() == ["Li", "Li"]
    balanced = assign_designed_grids(designed, current, method="balanced").set_index("grid_id")
    assert balanced.loc[["D1", "D2"], "officer"].tolist() == ["Li", "Wang"]
    assert (balanced["rule"] == "balanced").all()
    assert balanced.loc["D2", "officer_overlap_share"] == pytest.approx(50 / 150)


def test_overlap_ties_go_to_the_heavier_grid_then_the_smaller_id() -> None:
    designed, current = strip_layouts(150, [100, 200])  # D2 is half in A, half in B
    table = assign_designed_grids(designed, current, method="overlap").set_index("grid_id")
    assert table.loc["D2", "source_grid_id"] == "A"  # workload 30 against 20
    current["workload"] = [20.0, 30.0, 50.0]
    table = assign_designed_grids(designed, current, method="overlap").set_index("grid_id")
    assert table.loc["D2", "source_grid_id"] == "B"
    current["workload"] = [25.0, 25.0, 50.0]
    current["id"] = ["Z", "B", "F"]
    table = assign_designed_grids(designed, current, method="overlap").set_index("grid_id")
    assert table.loc["D2", "source_grid_id"] == "B"


def test_assignment_stays_in_the_community_and_changes_add_up() -> None:
    designed, current = strip_layouts(250, [60, 120, 200])
    designed.loc[len(designed)] = ["DX", "empty", shapely.box(0, 400, 100, 500)]
    for method in ("overlap", "balanced"):
        table = assign_designed_grids(designed, current, method=method)
        officers_of = current.groupby("community_id")["officer"].agg(set).to_dict()
        for row in table[table["community_id"] != "empty"].itertuples():
            assert row.officer in officers_of[row.community_id]
        # A community with no current grid has nobody to inherit from.
        empty = table.set_index("grid_id").loc["DX"]
        assert empty["rule"] == "unassigned"
        assert pd.isna(empty["officer"]) and pd.isna(empty["unit_id"])
        assigned = designed.assign(
            workload=np.arange(len(designed), dtype=float),
            **{c: table[c].to_numpy() for c in ("officer", "team", "phone", "unit_id")},
        )
        changes = responsibility_changes(current, assigned)
        assert set(changes["level"]) == {"officer", "unit", "team"}
        for _, rows in changes.groupby("level"):
            assert rows["grids_current"].sum() == len(current)
            assert rows["grids_designed"].sum() == len(designed)
            assert rows["workload_current"].sum() == pytest.approx(current["workload"].sum())
            assert rows["workload_designed"].sum() == pytest.approx(assigned["workload"].sum())
            assert (rows["grids_change"] == rows["grids_designed"] - rows["grids_current"]).all()
        officers = changes[changes["level"] == "officer"].set_index("name", drop=False)
        assert officers["name"].isna().sum() == 1  # the row of the unassigned grid
        assert officers.loc["Zhao", "grids_change"] == 0
    # Four designed grids for Li's and Wang's one each: D3 (80 m in A) goes to Li, D4 (the
    # only one touching B) to Wang; D1 and D2 are left to the rule and go to Li.
    balanced = assign_designed_grids(designed, current).set_index("grid_id")
    assert balanced["rule"].to_dict() == {
        "D1": "largest_overlap",
        "D2": "largest_overlap",
        "D3": "balanced",
        "D4": "balanced",
        "DF": "balanced",
        "DX": "unassigned",
    }
    assert balanced.loc[["D1", "D2", "D3", "D4"], "officer"].tolist() == ["Li", "Li", "Li", "Wang"]


def test_unknown_assignment_method_is_an_error() -> None:
    designed, current = strip_layouts(150, [100])
    with pytest.raises(GridError, match="method='fair'"):
        assign_designed_grids(designed, current, method="fair")  # type: ignore[arg-type]
