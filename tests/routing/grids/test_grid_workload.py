"""Tests of routing.grids.workload: incidents per grid and shift, workload index, units."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest

from routing.grids import GridError, grid_workload, incidents_by_grid, unit_workload

CRS = "EPSG:32618"
SHIFTS = {"day": ("08:00", "16:00"), "evening": ("16:00", "00:00"), "night": ("00:00", "08:00")}


def test_every_incident_is_counted_once(
    current_grids: gpd.GeoDataFrame, incidents: gpd.GeoDataFrame
) -> None:
    counts, outside = incidents_by_grid(current_grids, incidents, shifts=SHIFTS)
    assert counts["incidents"].sum() + len(outside) == len(incidents)
    assert len(outside) > 0
    inside = incidents[~incidents.index.isin(outside.index)]
    assert counts["incident_weight"].sum() == pytest.approx(inside["severity"].sum())
    # The three 8-hour shifts cover the day once.
    per_shift = counts[["incidents_day", "incidents_evening", "incidents_night"]].sum(axis=1)
    assert (per_shift == counts["incidents"]).all()


def test_incidents_in_another_crs_are_placed_the_same(
    current_grids: gpd.GeoDataFrame, incidents: gpd.GeoDataFrame
) -> None:
    incidents = incidents.to_crs("EPSG:4326")
    counts, outside = incidents_by_grid(current_grids, incidents)
    expected_outside = (
        (incidents.to_crs(CRS).geometry.x < 0) | (incidents.to_crs(CRS).geometry.x > 600)
    ).sum()
    assert len(outside) == expected_outside
    assert counts["incidents"].sum() == len(incidents) - expected_outside


def test_grid_workload_shares_and_assignments(
    communities: gpd.GeoDataFrame,
    current_grids: gpd.GeoDataFrame,
    streets: gpd.GeoDataFrame,
    incidents: gpd.GeoDataFrame,
) -> None:
    assignments = pd.DataFrame({"grid_id": ["e2"], "unit_id": ["car-3"], "phone": ["110"]})
    result = grid_workload(
        current_grids,
        incidents=incidents,
        roads=streets,
        communities=communities,
        assignments=assignments,
        shifts=SHIFTS,
    )
    table = result.table.set_index("id")
    # Households of a community are shared among its grids, never lost or made up.
    assert table.loc[["w1", "w2"], "households"].sum() == pytest.approx(1200)
    assert table.loc[["e1", "e2"], "households"].sum() == pytest.approx(2400)
    assert table["workload"].sum() == pytest.approx(100.0)
    assert table.loc["e2", "unit_id"] == "car-3"
    assert table.loc["e2", "phone"] == "110"
    assert table.loc["w1", "unit_id"] == "car-1"
    units = unit_workload(result.table).set_index("unit_id")
    assert units.loc["car-1", "grids"] == 2
    kpis = result.kpis()
    assert kpis["incidents_in_grids"] + kpis["incidents_outside_grids"] == kpis["incidents_total"]
    assert set(kpis) >= {"workload", "units", "incident_weight_night"}


def test_residents_are_the_population_else_the_households(
    communities: gpd.GeoDataFrame, current_grids: gpd.GeoDataFrame, streets: gpd.GeoDataFrame
) -> None:
    # East has a third more population than households would say: the workload follows it.
    communities = communities.assign(population=[3000, 8000])
    counted = grid_workload(current_grids, roads=streets, communities=communities)
    table = counted.table.set_index("id")
    assert table.loc[["e1", "e2"], "residents"].sum() == pytest.approx(8000)
    assert counted.weights["residents"] == pytest.approx(0.2 / 0.5)  # no incidents: 4 parts
    without = grid_workload(
        current_grids, roads=streets, communities=communities.drop(columns="population")
    ).table.set_index("id")
    assert without.loc[["e1", "e2"], "residents"].sum() == pytest.approx(2400)
    east = table.loc[["e1", "e2"], "workload"].sum()
    assert east > without.loc[["e1", "e2"], "workload"].sum()
    assert "residents" in counted.kpis()


def test_unknown_assignment_grid_is_an_error(
    current_grids: gpd.GeoDataFrame, streets: gpd.GeoDataFrame
) -> None:
    with pytest.raises(GridError, match="'x9'"):
        grid_workload(
            current_grids,
            roads=streets,
            assignments=pd.DataFrame({"grid_id": ["x9"], "officer": ["Li"]}),
        )
