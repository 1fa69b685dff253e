"""Tests of gisapp.responsibility and the ``gisapp grids`` command."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from gisapp.cli import cli
from gisapp.responsibility import (
    ResponsibilityError,
    assign_designed_grids,
    design_grids,
    grid_workload,
    imbalance,
    incidents_by_grid,
    officers_required,
    property_status,
    responsibility_changes,
    staffing_table,
    unit_workload,
)
from gisapp.samples import SAMPLE_DIR
from gisapp.workspace import Workspace

CRS = "EPSG:32618"


# -- staffing rule --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("households", "managed", "expected"),
    [
        (0, "semi", 3),
        (1500, "semi", 3),
        (1501, "semi", 4),
        (2000, "semi", 4),
        (2001, "semi", 5),
        (1500, "none", 5),
        (1501, "none", 6),
        (2000, "none", 6),
        (2001, "none", 7),
        (9000, "none", 7),
        (1500, "full", 0),
        (1501, "full", 0),
        (2000, "full", 0),
        (2001, "full", 0),
        (2001, "半物业", 5),
        (1200, "无物业", 5),
        (3000, "全物业", 0),
    ],
)
def test_staffing_rule(households: int, managed: str, expected: int) -> None:
    assert officers_required(households, managed) == expected


def test_property_status_words_and_errors() -> None:
    assert property_status(True) == "full"
    assert property_status(False) == "none"
    assert property_status(" Semi ") == "semi"
    assert property_status(None) is None
    with pytest.raises(ResponsibilityError, match="property_managed='sometimes'"):
        property_status("sometimes")
    with pytest.raises(ResponsibilityError, match="households=None"):
        officers_required(None, "semi")


def test_staffing_table_beside_current_officers() -> None:
    communities = pd.DataFrame(
        {
            "id": ["a", "b", "c", "d"],
            "name": ["A", "B", "C", "D"],
            "households": [1501, 2500, 900, 1000],
            "property_managed": ["semi", "full", "none", None],
        }
    )
    grids = pd.DataFrame(
        {
            "community_id": ["a", "a", "a", "b", "c"],
            "officer": ["Li", "Wang", "Li", "Zhao", " "],
        }
    )
    table = staffing_table(communities, grids).set_index("community_id")
    assert table.loc["a", "officers_required"] == 4
    assert table.loc["a", "officers_current"] == 2
    assert table.loc["a", "difference"] == -2
    assert table.loc["b", "officers_required"] == 0
    assert "property company is responsible" in str(table.loc["b", "note"])
    assert table.loc["c", "officers_required"] == 5
    assert table["officers_current"].isna()["c"]  # a blank name is no officer
    assert table["officers_required"].isna()["d"]
    assert "property management unknown" in str(table.loc["d", "note"])


# -- imbalance ------------------------------------------------------------------------


def test_imbalance_of_equal_and_concentrated_workloads() -> None:
    equal = imbalance([5, 5, 5, 5])
    assert equal["gini"] == pytest.approx(0.0)
    assert equal["cv"] == pytest.approx(0.0)
    assert equal["max_mean"] == pytest.approx(1.0)
    assert equal["within_tolerance_share"] == 1.0
    one = imbalance([0, 0, 0, 8])
    assert one["gini"] == pytest.approx(0.75)
    assert one["max_mean"] == pytest.approx(4.0)
    assert one["max_min"] == float("inf")
    mixed = imbalance([1.0, 2.0, 3.0], tolerance=0.15)
    assert mixed["cv"] == pytest.approx(np.std([1, 2, 3]) / 2)
    assert mixed["within_tolerance_share"] == pytest.approx(1 / 3)


# -- workload -------------------------------------------------------------------------


def two_communities() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "id": ["west", "east"],
            "name": ["West", "East"],
            "subdistrict_id": ["s1", "s1"],
            "households": [1200, 2400],
            "population": [3000, 6000],
            "property_managed": ["semi", "none"],
        },
        geometry=[shapely.box(0, 0, 300, 600), shapely.box(300, 0, 600, 600)],
        crs=CRS,
    )


def four_grids() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "id": ["w1", "w2", "e1", "e2"],
            "community_id": ["west", "west", "east", "east"],
            "officer": ["Li", "Wang", "Zhao", "Zhao"],
            "unit_id": ["car-1", "car-1", "car-2", None],
        },
        geometry=[
            shapely.box(0, 0, 300, 300),
            shapely.box(0, 300, 300, 600),
            shapely.box(300, 0, 600, 100),
            shapely.box(300, 100, 600, 600),
        ],
        crs=CRS,
    )


def lattice_roads() -> gpd.GeoDataFrame:
    lines = [shapely.LineString([(i * 100, -20), (i * 100, 620)]) for i in range(7)]
    lines += [shapely.LineString([(-20, i * 100), (620, i * 100)]) for i in range(7)]
    return gpd.GeoDataFrame({"name": [f"s{i}" for i in range(len(lines))]}, geometry=lines, crs=CRS)


def incidents_fixture(n: int = 200, seed: int = 5) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-50, 650, n)  # some fall outside every grid
    y = rng.uniform(0, 600, n)
    x[0], y[0] = 300.0, 50.0  # on the edge of w1 and e1
    times = pd.Timestamp("2024-03-04 00:00", tz="Asia/Shanghai") + pd.to_timedelta(
        rng.integers(0, 7 * 24 * 60, n), unit="min"
    )
    return gpd.GeoDataFrame(
        {
            "id": [str(i) for i in range(n)],
            "occurred_at": times,
            "category": "theft",
            "severity": rng.integers(1, 4, n),
        },
        geometry=gpd.points_from_xy(x, y),
        crs=CRS,
    )


SHIFTS = {"day": ("08:00", "16:00"), "evening": ("16:00", "00:00"), "night": ("00:00", "08:00")}


def test_every_incident_is_counted_once() -> None:
    incidents = incidents_fixture()
    counts, outside = incidents_by_grid(four_grids(), incidents, shifts=SHIFTS)
    assert counts["incidents"].sum() + len(outside) == len(incidents)
    assert len(outside) > 0
    inside = incidents[~incidents.index.isin(outside.index)]
    assert counts["incident_weight"].sum() == pytest.approx(inside["severity"].sum())
    # The three 8-hour shifts cover the day once.
    per_shift = counts[["incidents_day", "incidents_evening", "incidents_night"]].sum(axis=1)
    assert (per_shift == counts["incidents"]).all()


def test_incidents_in_another_crs_are_placed_the_same() -> None:
    incidents = incidents_fixture().to_crs("EPSG:4326")
    counts, outside = incidents_by_grid(four_grids(), incidents)
    expected_outside = (
        (incidents.to_crs(CRS).geometry.x < 0) | (incidents.to_crs(CRS).geometry.x > 600)
    ).sum()
    assert len(outside) == expected_outside
    assert counts["incidents"].sum() == len(incidents) - expected_outside


def test_grid_workload_shares_and_assignments() -> None:
    assignments = pd.DataFrame({"grid_id": ["e2"], "unit_id": ["car-3"], "phone": ["110"]})
    result = grid_workload(
        four_grids(),
        incidents=incidents_fixture(),
        roads=lattice_roads(),
        communities=two_communities(),
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


def test_unknown_assignment_grid_is_an_error() -> None:
    with pytest.raises(ResponsibilityError, match="'x9'"):
        grid_workload(
            four_grids(),
            roads=lattice_roads(),
            assignments=pd.DataFrame({"grid_id": ["x9"], "officer": ["Li"]}),
        )


def test_design_nests_in_communities_and_beats_the_current_layout() -> None:
    result = design_grids(
        communities=two_communities(),
        roads=lattice_roads(),
        incidents=incidents_fixture(),
        grids=four_grids(),
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


# -- CLI ------------------------------------------------------------------------------


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "ws.gpkg"
    stations = gpd.GeoDataFrame(
        {"id": ["hq"], "name": ["HQ"], "kind": ["station"]},
        geometry=[shapely.Point(300, 300)],
        crs=CRS,
    )
    Workspace.create(
        path,
        {
            "communities": two_communities(),
            "grids": four_grids(),
            "incidents": incidents_fixture(),
            "roads": lattice_roads(),
            "stations": stations,
        },
        meta={"timezone": "Asia/Shanghai"},
    )
    return path


def test_cli_report_writes_the_tables(workspace: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = CliRunner().invoke(cli, ["grids", str(workspace), "--report", "--out", str(out)])
    assert result.exit_code == 0, result.output
    for name in ("grids.csv", "grids.geojson", "staffing.csv", "units.csv", "kpis.json"):
        assert (out / name).is_file(), name
    kpis = json.loads((out / "kpis.json").read_text(encoding="utf-8"))
    assert kpis["grids"] == 4
    assert kpis["incidents_in_grids"] + kpis["incidents_outside_grids"] == 200
    staffing = pd.read_csv(out / "staffing.csv").set_index("community_id")
    assert staffing.loc["east", "officers_required"] == 7
    assert staffing.loc["west", "officers_required"] == 3


def test_cli_design_saves_beside_the_users_grids(workspace: Path, tmp_path: Path) -> None:
    out = tmp_path / "design"
    args = ["grids", str(workspace), "--design", "--n-grids", "6", "--save", "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    kpis = json.loads((out / "kpis.json").read_text(encoding="utf-8"))
    assert kpis["designed"]["contiguous_grids"] == 6
    assert "response_mean_s" in kpis["current"]
    assert (out / "designed_grids.gpkg").is_file()
    ws = Workspace.open(workspace)
    assert len(ws.layer("grids_designed")) == 6
    assert ws.layer("grids")["id"].tolist() == ["w1", "w2", "e1", "e2"]


def test_cli_refuses_to_overwrite_grids_and_needs_a_mode(workspace: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    overwrite = runner.invoke(
        cli,
        [
            "grids",
            str(workspace),
            "--design",
            "--save",
            "--layer",
            "grids",
            "--out",
            str(tmp_path / "x"),
        ],
    )
    assert overwrite.exit_code == 2
    assert "overwrite" in overwrite.output
    no_mode = runner.invoke(cli, ["grids", str(workspace), "--out", str(tmp_path / "x")])
    assert no_mode.exit_code == 2


# -- the New Haven sample -------------------------------------------------------------


@pytest.mark.slow
def test_new_haven_design_against_current_grids() -> None:
    path = SAMPLE_DIR / "new_haven.gpkg"
    if not path.is_file():
        pytest.skip("sample workspace not built")
    ws = Workspace.open(path)
    layers = {n: ws.layer(n) for n in ("communities", "grids", "incidents", "roads")}
    result = design_grids(
        communities=layers["communities"],
        roads=layers["roads"],
        incidents=layers["incidents"],
        grids=layers["grids"],
        tolerance=0.15,
        seed=0,
    )
    kpis = result.kpis
    designed = result.designed.table
    assert len(designed) == len(layers["grids"])
    assert designed["contiguous"].all()
    assert (designed["n_parts"] == 1).all()
    assert kpis["designed"]["grids_not_nested_1pct"] == 0
    assert (
        kpis["designed"]["incidents_in_grids"] + kpis["designed"]["incidents_outside_grids"] == 3293
    )
    assert kpis["designed"]["workload"]["gini"] < kpis["current"]["workload"]["gini"]
    assert kpis["designed"]["workload"]["cv"] < kpis["current"]["workload"]["cv"]


# -- responsibility of a designed layout ----------------------------------------------


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
    with pytest.raises(ResponsibilityError, match="method='fair'"):
        assign_designed_grids(designed, current, method="fair")  # type: ignore[arg-type]


def test_design_assigns_every_grid_and_reports_unit_imbalance() -> None:
    result = design_grids(
        communities=two_communities(),
        roads=lattice_roads(),
        incidents=incidents_fixture(),
        grids=four_grids(),
        n_grids=6,
        seed=2,
    )
    designed = result.designed.table
    assert designed["officer"].notna().all()
    current_officers = four_grids().groupby("community_id")["officer"].agg(set).to_dict()
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


def test_cli_design_writes_and_saves_the_assignment(workspace: Path, tmp_path: Path) -> None:
    out = tmp_path / "design"
    args = ["grids", str(workspace), "--design", "--n-grids", "6", "--save", "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "units     current max/mean" in result.output
    assert "assignment (balanced): 6 of 6 designed grids have an officer" in result.output
    assignment = pd.read_csv(out / "designed_assignment.csv", dtype={"phone": str})
    assert len(assignment) == 6
    assert assignment["officer"].notna().all()
    changes = pd.read_csv(out / "designed_changes.csv")
    for _, rows in changes.groupby("level"):
        assert rows["grids_current"].sum() == 4
        assert rows["grids_designed"].sum() == 6
    kpis = json.loads((out / "kpis.json").read_text(encoding="utf-8"))
    assert set(kpis["designed"]["units"]) >= {"max_mean", "gini", "cv"}
    assert kpis["assignment"]["grids_assigned"] == 6
    saved = Workspace.open(workspace).layer("grids_designed")
    assert {"officer", "team", "phone", "unit_id"} <= set(saved.columns)
    assert saved["officer"].tolist() == assignment["officer"].tolist()
    by_overlap = CliRunner().invoke(
        cli, [*args[:-3], "--assign", "overlap", "--out", str(tmp_path / "overlap")]
    )
    assert by_overlap.exit_code == 0, by_overlap.output
    assert "assignment (overlap)" in by_overlap.output


@pytest.mark.slow
def test_new_haven_designed_grids_all_get_a_unit() -> None:
    path = SAMPLE_DIR / "new_haven.gpkg"
    if not path.is_file():
        pytest.skip("sample workspace not built")
    ws = Workspace.open(path)
    layers = {n: ws.layer(n) for n in ("communities", "grids", "incidents", "roads")}
    result = design_grids(
        communities=layers["communities"],
        roads=layers["roads"],
        incidents=layers["incidents"],
        grids=layers["grids"],
        tolerance=0.15,
        seed=0,
    )
    designed = result.designed.table
    assert designed["unit_id"].notna().all()
    assert designed["officer"].notna().all()
    community_of = layers["grids"].set_index("officer")["community_id"]
    assert (designed["officer"].map(community_of) == designed["community_id"]).all()
    kpis = result.kpis
    current_units, designed_units = kpis["current"]["units"], kpis["designed"]["units"]
    assert current_units["n"] == designed_units["n"] == 6
    # Every community answers to one unit in the sample, and a community's workload does
    # not depend on how it is cut: the units' workload stays as it is.
    for key in ("max_mean", "gini", "cv"):
        assert designed_units[key] == pytest.approx(current_units[key], abs=1e-6)
    assert current_units["max_mean"] == pytest.approx(1.763, abs=1e-3)
    assert current_units["gini"] == pytest.approx(0.260, abs=1e-3)
    officers = result.changes[result.changes["level"] == "officer"]
    assert officers["grids_current"].sum() == officers["grids_designed"].sum() == 202
    assignment = kpis["assignment"]
    assert assignment["grids_assigned"] == 202
    assert assignment["officer"]["same_grids"] == 156
