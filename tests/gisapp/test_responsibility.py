"""Tests of gisapp.responsibility and the ``gisapp grids`` command."""

from __future__ import annotations

import json
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
    design_grids,
    grid_workload,
    imbalance,
    incidents_by_grid,
    officers_required,
    property_status,
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
