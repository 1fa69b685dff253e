"""The CLI and the web asked the same coverage questions give the same answers.

(a) A saved plan's coverage hour by hour: ``gisapp coverage --plan ID`` and the web
coverage page of that plan (its table and its ``kpis.json`` data route).
(b) Reach bands: ``gisapp reach``, ``gisapp coverage`` and the web's
``reach_<m>min.geojson`` data route, polygons and figures.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from flask.testing import FlaskClient

from gisapp.cli import cli

Login = Callable[[str], None]
#: The late plan (22:00-06:00) of two cars, saved first by the fixture.
LATE = "2014-09-18-late-s1"
BANDS = ("1", "3", "5")


@pytest.fixture
def app(plans_app: Flask) -> Flask:
    return plans_app


def run(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def web_json(client: FlaskClient, path: str) -> Any:
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    data = json.loads(response.get_data(as_text=True))
    response.close()
    return data


def web_text(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    text: str = response.get_data(as_text=True)
    response.close()
    return text


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def test_hourly_coverage_of_a_saved_plan_is_the_same_from_the_cli_and_the_web(
    app: Flask, client: FlaskClient, login: Login, tmp_path: Path
) -> None:
    workspace = app.config["WORKSPACE"]
    out = tmp_path / "cli"
    output = run("coverage", workspace, "--plan", LATE, "--mode", "car", "--out", str(out)).output
    cli_kpis = json.loads((out / "kpis.json").read_text(encoding="utf-8"))

    login("captain")
    web_kpis = web_json(client, f"/coverage/kpis.json?mode=car&plan={LATE}")
    hourly = cli_kpis["hourly"]
    assert hourly == web_kpis["hourly"]
    assert cli_kpis == web_kpis  # the stations' own figures too
    hours = [h["hour"][11:16] for h in hourly if h["minutes"] == 1.0]
    assert hours == ["22:00", "23:00", "00:00", "01:00", "02:00", "03:00", "04:00", "05:00"]
    assert all(h["units"] == 2 for h in hourly)
    risk = [h["risk_share"] for h in hourly]
    assert all(r is not None and 0 < r <= 1 for r in risk)
    assert "22:00: street" in output

    # the page's table shows the same shares, hour by hour and band by band
    page = web_text(client, f"/coverage/?mode=car&plan={LATE}")
    table = re.search(r'<table class="data" id="hourly">(.*?)</table>', page, re.S)
    assert table
    rows = re.findall(r'<tr data-hour="(\d\d:\d\d)">(.*?)</tr>', table.group(1), re.S)
    assert [hour for hour, _ in rows] == hours
    for (hour, cells), start in zip(rows, range(0, len(hourly), 3), strict=True):
        shown = re.findall(r'<td class="num">([^<]*)</td>', cells)[1:]  # after the units
        expected = [
            percent(band[key])
            for band in hourly[start : start + 3]
            for key in ("risk_share", "street_share", "key_places_share")
        ]
        assert shown == expected, hour


def test_reach_bands_are_the_same_from_reach_coverage_and_the_web(
    app: Flask, client: FlaskClient, login: Login, tmp_path: Path
) -> None:
    workspace = app.config["WORKSPACE"]
    reach_out, coverage_out = tmp_path / "reach", tmp_path / "coverage"
    # the sample's sources are its stations: the same for all three
    run("reach", workspace, "--from", "stations", "--minutes", "1,3,5", "--out", str(reach_out))
    run("coverage", workspace, "--minutes", "1,3,5", "--out", str(coverage_out))
    reach_kpis = json.loads((reach_out / "kpis.json").read_text(encoding="utf-8"))
    coverage_kpis = json.loads((coverage_out / "kpis.json").read_text(encoding="utf-8"))

    login("captain")
    web_kpis = web_json(client, "/coverage/kpis.json?mode=car")
    assert reach_kpis["bands"] == coverage_kpis["bands"] == web_kpis["bands"]
    assert [b["file"] for b in reach_kpis["bands"]] == [f"reach_{m}min.geojson" for m in BANDS]
    for band in reach_kpis["bands"]:
        assert {"reached_km", "street_share", "risk_share", "area_km2"} <= set(band)
        assert band["risk_share"] is not None and band["key_places_share"] is None
    for minutes in BANDS:
        name = f"reach_{minutes}min.geojson"
        from_reach = (reach_out / name).read_text(encoding="utf-8")
        from_coverage = (coverage_out / name).read_text(encoding="utf-8")
        from_web = web_text(client, f"/coverage/{name}?mode=car")
        assert from_reach == from_coverage == from_web, name
        feature = json.loads(from_web)["features"][0]
        assert feature["properties"]["minutes"] == float(minutes)
        assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")

    response = client.get("/coverage/reach_7min.geojson?mode=car")
    assert response.status_code == 404
    assert "reach_3min.geojson" in response.get_data(as_text=True)
    response.close()
