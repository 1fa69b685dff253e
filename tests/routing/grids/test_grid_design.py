"""Tests of routing.grids.design: grid design end to end on a small town."""

from __future__ import annotations

import geopandas as gpd

from routing.grids import design_grids


def test_design_nests_in_communities_and_beats_the_current_layout(
    communities: gpd.GeoDataFrame,
    current_grids: gpd.GeoDataFrame,
    streets: gpd.GeoDataFrame,
    incidents: gpd.GeoDataFrame,
) -> None:
    result = design_grids(
        communities=communities,
        roads=streets,
        incidents=incidents,
        grids=current_grids,
        n_grids=6,
        tolerance=0.15,
        seed=2,
    )
    designed = result.designed.table
    assert len(designed) == 6
    assert designed["contiguous"].all()
    assert (designed["n_parts"] == 1).all()
    kpis = result.kpis
    assert kpis["designed"]["grids_not_nested_1pct"] == 0
    assert kpis["designed"]["inside_community_share_min"] > 0.999
    assert kpis["designed"]["workload"]["cv"] < kpis["current"]["workload"]["cv"]
    assert kpis["designed"]["incidents_in_grids"] == kpis["current"]["incidents_in_grids"]


def test_design_assigns_every_grid_and_reports_unit_imbalance(
    communities: gpd.GeoDataFrame,
    current_grids: gpd.GeoDataFrame,
    streets: gpd.GeoDataFrame,
    incidents: gpd.GeoDataFrame,
) -> None:
    result = design_grids(
        communities=communities,
        roads=streets,
        incidents=incidents,
        grids=current_grids,
        n_grids=6,
        seed=2,
    )
    designed = result.designed.table
    assert designed["officer"].notna().all()
    current_officers = current_grids.groupby("community_id")["officer"].agg(set).to_dict()
    for row in designed.itertuples():
        assert row.officer in current_officers[row.community_id]
    assert len(result.assignment) == 6
    officers = result.changes[result.changes["level"] == "officer"]
    assert officers["grids_current"].sum() == 4
    assert officers["grids_designed"].sum() == 6
    kpis = result.kpis
    assert {"max_mean", "gini", "cv"} <= set(kpis["designed"]["units"])
    assert {"max_mean", "gini", "cv"} <= set(kpis["current"]["units"])
    assert kpis["assignment"]["method"] == "balanced"
    assert kpis["assignment"]["grids_assigned"] == 6
    # e2 has no unit: the designed grids inheriting from it have none either.
    no_unit = designed["unit_id"].isna()
    assert (result.assignment.loc[no_unit.to_numpy(), "source_grid_id"] == "e2").all()


def test_more_grids_than_blocks_are_given_where_there_is_room_then_said(
    lattice_blocks: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    streets: gpd.GeoDataFrame,
    incidents: gpd.GeoDataFrame,
) -> None:
    from routing.grids import GridDesign

    # heavier west blocks: the west's share of grids would exceed its blocks
    blocks = lattice_blocks.copy()
    west = blocks["parent_id"] == "west"
    blocks.loc[west, "workload"] *= 3
    n = len(blocks)
    design = GridDesign.from_blocks(blocks, n_grids=n - 1)
    assert sum(zone.n_grids for zone in design.zones) == n - 1
    capped = GridDesign.from_blocks(blocks, n_grids=n + 7)
    assert sum(zone.n_grids for zone in capped.zones) == n
    result = design_grids(
        communities=communities, roads=streets, incidents=incidents, n_grids=500, seed=1
    )
    note = result.kpis["design"]["note"]
    made = result.kpis["design"]["grids"]
    assert made == len(result.designed.table) < 500
    assert note.startswith(f"{made:,} grids made of the 500 asked for")
    assert result.kpis["design"]["grids_requested"] == 500
