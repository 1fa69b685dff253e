"""Tests of the ``gisapp grids`` command, grid design on the New Haven workspace, and the
``gisapp.services.grids`` compatibility names.

The algorithms themselves are tested in ``tests/routing/grids/``.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

import gisapp.services.grids
import routing.grids
from gisapp.cli import cli
from gisapp.errors import USER_ERRORS
from gisapp.samples import SAMPLE_DIR
from gisapp.store import Workspace
from routing.errors import GridError, RoutingError
from routing.grids import design_grids

CRS = "EPSG:32618"


# -- compatibility --------------------------------------------------------------------


def test_responsibility_names_are_the_routing_grids_ones() -> None:
    for name in gisapp.services.grids.__all__:
        if name != "ResponsibilityError":
            assert getattr(gisapp.services.grids, name) is getattr(routing.grids, name), name
    assert gisapp.services.grids.ResponsibilityError is GridError
    assert issubclass(GridError, RoutingError)
    assert issubclass(GridError, USER_ERRORS)


# -- a small town: two communities, four grids on a 100 m street lattice -----------------


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


# -- CLI ------------------------------------------------------------------------------


@pytest.fixture
def workspace(location: str) -> str:
    """Two communities, four grids, 200 incidents and a lattice of roads, on every store."""
    stations = gpd.GeoDataFrame(
        {"id": ["hq"], "name": ["HQ"], "kind": ["station"]},
        geometry=[shapely.Point(300, 300)],
        crs=CRS,
    )
    Workspace.create(
        location,
        {
            "communities": two_communities(),
            "grids": four_grids(),
            "incidents": incidents_fixture(),
            "roads": lattice_roads(),
            "stations": stations,
        },
        meta={"timezone": "Asia/Shanghai"},
    )
    return location


def test_cli_report_writes_the_tables(workspace: str, tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = CliRunner().invoke(cli, ["grids", workspace, "--report", "--out", str(out)])
    assert result.exit_code == 0, result.output
    for name in ("grids.csv", "grids.geojson", "staffing.csv", "units.csv", "kpis.json"):
        assert (out / name).is_file(), name
    kpis = json.loads((out / "kpis.json").read_text(encoding="utf-8"))
    assert kpis["grids"] == 4
    assert kpis["incidents_in_grids"] + kpis["incidents_outside_grids"] == 200
    staffing = pd.read_csv(out / "staffing.csv").set_index("community_id")
    assert staffing.loc["east", "officers_required"] == 7
    assert staffing.loc["west", "officers_required"] == 3


def test_cli_design_saves_beside_the_users_grids(workspace: str, tmp_path: Path) -> None:
    out = tmp_path / "design"
    args = ["grids", workspace, "--design", "--n-grids", "6", "--save", "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    kpis = json.loads((out / "kpis.json").read_text(encoding="utf-8"))
    assert kpis["designed"]["contiguous_grids"] == 6
    assert "response_mean_s" in kpis["current"]
    assert (out / "designed_grids.gpkg").is_file()
    ws = Workspace.open(workspace)
    assert len(ws.layer("grids_designed")) == 6
    assert ws.layer("grids")["id"].tolist() == ["w1", "w2", "e1", "e2"]


def test_cli_refuses_to_overwrite_grids_and_needs_a_mode(workspace: str, tmp_path: Path) -> None:
    runner = CliRunner()
    overwrite = runner.invoke(
        cli,
        [
            "grids",
            workspace,
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
    no_mode = runner.invoke(cli, ["grids", workspace, "--out", str(tmp_path / "x")])
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


# -- responsibility of a designed layout (CLI and New Haven) ----------------------------


def test_cli_design_writes_and_saves_the_assignment(workspace: str, tmp_path: Path) -> None:
    out = tmp_path / "design"
    args = ["grids", workspace, "--design", "--n-grids", "6", "--save", "--out", str(out)]
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


def test_cli_too_few_grids_is_a_clean_user_error(workspace: str, tmp_path: Path) -> None:
    args = ["grids", workspace, "--design", "--n-grids", "1", "--out", str(tmp_path / "x")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    assert "fewer than the 2 communities" in result.output
    assert "Traceback" not in result.output
    assert "n_grids" not in result.output
