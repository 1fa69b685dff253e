from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
from click.testing import CliRunner
from shapely import Point

from gisapp.cli import cli
from gisapp.store.geopackage import Workspace


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, shared_data) -> Path:
    roads = gpd.read_file(shared_data("new_haven.gpkg"), layer="streets")
    stations = gpd.GeoDataFrame(
        {"id": ["HQ", "Hill"], "name": ["Headquarters", "Hill district"], "kind": "station"},
        geometry=[Point(-72.9279, 41.3083), Point(-72.9400, 41.2950)],
        crs="EPSG:4326",
    )
    path = tmp_path_factory.mktemp("ws") / "ws.gpkg"
    Workspace.create(path, {"roads": roads, "stations": stations})
    return path


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_network_writes_edges_and_nodes(workspace, tmp_path):
    result = run("network", str(workspace), "--mode", "car", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "kept the largest: 3,678 nodes, 4,971 segments" in result.output
    layers = dict(pyogrio.list_layers(tmp_path / "network.gpkg"))
    assert set(layers) == {"edges", "nodes"}
    edges = gpd.read_file(tmp_path / "network.gpkg", layer="edges")
    assert edges.crs.to_epsg() == 4326
    assert {"u", "v", "length_m", "travel_time_s", "speed_kph", "name"} <= set(edges.columns)
    assert len(gpd.read_file(tmp_path / "network.gpkg", layer="nodes")) == 3_678


def test_reach_writes_bands_and_kpis(workspace, tmp_path):
    result = run(
        "reach", str(workspace), "--from", "stations", "--minutes", "1,3", "--out", str(tmp_path)
    )
    assert result.exit_code == 0, result.output
    kpis = json.loads((tmp_path / "kpis.json").read_text())
    assert kpis["sources"] == 2
    assert [b["file"] for b in kpis["bands"]] == ["reach_1min.geojson", "reach_3min.geojson"]
    one, three = (gpd.read_file(tmp_path / b["file"]) for b in kpis["bands"])
    assert one.crs.to_epsg() == 4326
    assert 0 < kpis["bands"][0]["reached_km"] < kpis["bands"][1]["reached_km"]
    assert three.geometry.iat[0].area > one.geometry.iat[0].area
    # the figures of 'gisapp coverage': no incidents or key places here, so no shares of them
    first = kpis["bands"][0]
    assert first["street_share"] == pytest.approx(
        first["reached_km"] / kpis["network_km"], abs=1e-4
    )
    assert first["risk_share"] is None and first["key_places_share"] is None
    assert "1 min:" in result.output


def test_reach_from_a_missing_layer_is_a_user_error(workspace, tmp_path):
    result = CliRunner().invoke(
        cli, ["reach", str(workspace), "--from", "duty_points", "--out", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert "duty_points" in result.output


def test_bad_minutes_is_a_usage_error(workspace, tmp_path):
    result = CliRunner().invoke(
        cli, ["reach", str(workspace), "--minutes", "0,x", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
