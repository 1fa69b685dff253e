"""The CLI and the web give the same answer about a saved plan: the same GPX per unit, the
same stops and routes."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from gisapp.cli import cli

PLAN_ID = "2014-09-18-night-s2"


@pytest.fixture
def app(plans_app: Flask) -> Flask:
    return plans_app


def _cli_export(app: Flask, out: Path, formats: str) -> Path:
    result = CliRunner().invoke(
        cli,
        [
            "export",
            app.config["WORKSPACE"],
            "--plan",
            PLAN_ID,
            "--format",
            formats,
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("unit", ["car-1", "car-2"])
def test_unit_gpx_is_the_same_from_the_cli_and_the_web(
    app: Flask, client: FlaskClient, login, tmp_path: Path, unit: str
) -> None:
    out = _cli_export(app, tmp_path / "brief", "gpx")
    login("captain")
    web = client.get(f"/plans/{PLAN_ID}/download/gpx?unit={unit}")
    assert web.status_code == 200
    assert web.data == (out / f"{unit}.gpx").read_bytes()
    # An officer downloads his own unit's GPX: the same file again.
    client.post("/auth/logout", data={"csrf_token": _token(client)})
    login("car1")
    if unit == "car-1":
        assert client.get(f"/plans/{PLAN_ID}/download/gpx").data == web.data


def test_stops_and_routes_are_the_same_from_the_cli_and_the_web(
    app: Flask, client: FlaskClient, login, tmp_path: Path
) -> None:
    out = _cli_export(app, tmp_path / "brief", "csv,geojson")
    login("captain")
    web_stops = pd.read_csv(
        io.BytesIO(client.get(f"/plans/{PLAN_ID}/download/csv").data), dtype={"unit_id": str}
    )
    cli_stops = pd.read_csv(out / "stops.csv", dtype={"unit_id": str})
    pd.testing.assert_frame_equal(web_stops, cli_stops)
    assert (
        client.get(f"/plans/{PLAN_ID}/download/geojson").data
        == (out / "routes.geojson").read_bytes()
    )


def _token(client: FlaskClient) -> str:
    import re

    page = client.get("/plans/").get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match
    return match.group(1)
