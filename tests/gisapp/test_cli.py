"""The command line: help, info, validate, import, areas and the demo.

The commands that read or write a workspace run on both stores (a GeoPackage file and a
PostGIS schema, ``tests/conftest.py``)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlsplit

import geopandas as gpd
import pandas as pd
import pytest
from click.testing import CliRunner
from shapely.geometry import Point, box

from gisapp.cli import cli, main
from gisapp.outputs.gpx import GPX_NS
from gisapp.store import Workspace

BAD = Path(__file__).resolve().parents[1] / "data" / "bad"


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_help_and_usage_errors(capsys):
    assert main(["--help"]) == 0
    assert "validate" in capsys.readouterr().out
    assert main(["no-such-command"]) == 2
    assert main(["validate"]) == 2


def test_info_on_the_sample_shows_real_counts(sample_location):
    result = run("info", sample_location)
    assert result.exit_code == 0, result.output
    assert "3,293" in result.output
    assert "2014-09-01" in result.output and "2014-09-30" in result.output


def test_info_json_on_the_sample():
    result = run("info", "sample:new_haven", "--json")
    summary = json.loads(result.output)
    assert summary["timezone"] == "America/New_York"
    assert summary["layers"]["incidents"]["count"] == 3293
    assert summary["incidents"]["first"].startswith("2014-09-01")


@pytest.mark.parametrize("sample", ["new_haven", "liechtenstein"])
def test_samples_validate_clean(sample):
    result = run("validate", f"sample:{sample}", "--json")
    report = json.loads(result.output)
    errors = [p for p in report["problems"] if p["severity"] == "error"]
    assert errors == []
    assert result.exit_code == 0


def test_a_copy_of_the_sample_validates_as_the_sample_does(sample_location):
    copied = json.loads(run("validate", sample_location, "--json").output)
    bundled = json.loads(run("validate", "sample:new_haven", "--json").output)
    assert copied["problems"] == bundled["problems"]


@pytest.mark.slow
def test_demo_runs_the_whole_pipeline_on_a_copy(tmp_path):
    sample = Path(__file__).resolve().parents[2] / "sample_geodata" / "new_haven.gpkg"
    before = digest(sample)
    out = tmp_path / "out"
    result = run("demo", "--out", str(out), "--no-pdf")
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["layers"]["incidents"]["count"] == 3293
    for produced in (
        "hotspots/kpis.json",
        "grids/kpis.json",
        "coverage/blind_zones.geojson",
        "placement/duty_points.geojson",
        "plan/routes.geojson",
        "plan/stops.csv",
        "briefing",
    ):
        assert (out / produced).exists(), produced
    routes = gpd.read_file(out / "plan" / "routes.geojson")
    # One route per unit on the late shift: the four cars (the sample's e-bike and foot
    # units work day and evening shifts).
    assert sorted(routes["unit_id"]) == ["car-1", "car-2", "car-3", "car-4"]
    assert json.loads((out / "plan" / "kpis.json").read_text())["units_used"] == 4
    # one numbering: every unit's GPX waypoints are its timetable's stops, number and name
    for unit in routes["unit_id"]:
        timetable = pd.read_csv(
            out / "briefing" / f"timetable_{unit}.csv", encoding="utf-8-sig", dtype=str
        ).fillna("")
        expected = [
            f"{n} {name}".strip()
            for n, name in zip(timetable["stop"], timetable["name"], strict=True)
        ]
        gpx = ET.parse(out / "briefing" / f"{unit}.gpx").getroot()
        names = [w.findtext(f"{{{GPX_NS}}}name") for w in gpx.iter(f"{{{GPX_NS}}}wpt")]
        assert names == expected, unit
        assert (out / "plan" / f"{unit}.gpx").read_bytes() == (
            out / "briefing" / f"{unit}.gpx"
        ).read_bytes()  # one GPX per unit per plan, whichever folder it is in
    assert digest(sample) == before  # the bundled sample is never written


def _manifest() -> list[dict]:
    return json.loads((BAD / "MANIFEST.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "case", _manifest() if (BAD / "MANIFEST.json").exists() else [], ids=lambda c: c["file"]
)
def test_bad_corpus_gives_its_problem_and_changes_nothing(case):
    path = BAD / case["file"]
    before = digest(path) if path.is_file() else None
    args = ["validate", f"{case['layer']}={path}", "--json"]
    args += [f"{name}={BAD / rel}" for name, rel in case["context"].items()]
    result = CliRunner().invoke(cli, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    report = json.loads(result.stdout)
    found = [p for p in report["problems"] if p["code"] == case["expect"]]
    assert found, (case, [p["code"] for p in report["problems"]])
    has_errors = any(p["severity"] == "error" for p in report["problems"])
    assert result.exit_code == (1 if has_errors else 0)
    if found[0]["severity"] == "error":
        assert result.exit_code == 1
    if before is not None:
        assert digest(path) == before  # nothing the user gave us is changed


def test_console_script_shows_no_traceback(tmp_path):
    bogus = tmp_path / "incidents.geojson"
    bogus.write_text("name,value\nfoo,1\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "gisapp.cli", "validate", str(bogus)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr + proc.stdout


@pytest.fixture
def source_files(tmp_path):
    subdistricts = gpd.GeoDataFrame(
        {"id": ["s1"], "name": ["North"]}, geometry=[box(-72.95, 41.30, -72.90, 41.33)], crs=4326
    )
    sub_path = tmp_path / "subdistricts.geojson"
    subdistricts.to_file(sub_path)
    csv_path = tmp_path / "cases.csv"
    csv_path.write_text(
        "编号,发案时间,案件类别,经度,纬度\n"
        "1,2014-09-18 13:53,burglary-resforcible,-72.93,41.31\n"
        "2,2014-09-19 22:10,robbery-street-no-weapon,-72.92,41.32\n",
        encoding="utf-8",
    )
    return sub_path, csv_path


def test_import_then_failed_import_leaves_workspace_unchanged(tmp_path, source_files, location):
    sub_path, csv_path = source_files
    ok = run(
        "import",
        str(sub_path),
        f"incidents={csv_path}",
        "--out",
        location,
        "--map-fields",
        "incidents:id=编号,occurred_at=发案时间,category=案件类别",
        "--timezone",
        "America/New_York",
    )
    assert ok.exit_code == 0, ok.output
    ws = Workspace.open(location)
    assert f"Imported into {ws.label}: subdistricts 1, incidents 2" in ok.output
    assert ws.layer_names() == ["subdistricts", "incidents"]
    times = ws.layer("incidents")["occurred_at"]
    assert times.dt.strftime("%Y-%m-%d %H:%M").tolist() == ["2014-09-18 13:53", "2014-09-19 22:10"]

    file = ws.backend.path
    before = (ws.version, digest(file) if file else None)
    broken = tmp_path / "grids.geojson"
    gpd.GeoDataFrame(
        {"id": ["g1", "g1"], "community_id": ["c9", "c9"]},
        geometry=[box(-72.94, 41.31, -72.93, 41.32), Point(0, 0).buffer(1)],
        crs=4326,
    ).to_file(broken)
    failed = run("import", str(broken), "--out", location)
    assert failed.exit_code == 1
    assert f"{ws.label} is unchanged" in failed.output
    assert (Workspace.open(location).version, digest(file) if file else None) == before
    # a database URL's password is never printed: the messages name the workspace's label
    password = urlsplit(location).password
    assert password is None or f":{password}@" not in ok.output + failed.output


def test_import_osm_extract_as_roads_and_subdistricts(location, shared_data):
    pbf = shared_data("liechtenstein-2013-08-03.osm.pbf")
    result = run(
        "import",
        str(pbf),
        f"subdistricts={pbf}",
        "--out",
        location,
        "--map-fields",
        "subdistricts:id=osm_id",
        "--timezone",
        "Europe/Vaduz",
    )
    assert result.exit_code == 0, result.output
    ws = Workspace.open(location)
    roads = ws.layer("roads")
    assert len(roads) == 4633 and int(roads["car"].sum()) == 2728
    subdistricts = ws.layer("subdistricts")
    assert len(subdistricts) == 11
    assert "Vaduz" in set(subdistricts["name"])


def test_areas_counts_every_incident_of_the_period_once(tmp_path, sample_location):
    out = tmp_path / "areas"
    result = run(
        "areas",
        sample_location,
        "--level",
        "communities",
        "--from",
        "2014-09-08",
        "--to",
        "2014-09-15",
        "--keep-pileups",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    kpis = json.loads((out / "kpis.json").read_text(encoding="utf-8"))
    incidents = Workspace.open(sample_location).layer("incidents")
    times = incidents["occurred_at"]
    in_week = ((times >= "2014-09-08") & (times < "2014-09-15")).sum()
    assert kpis["incidents"] + kpis["outside_every_area"] == in_week
    before = ((times >= "2014-09-01") & (times < "2014-09-08")).sum()
    assert kpis["previous_incidents"] <= before
    assert kpis["areas"] == 30
    assert set(kpis["warning_levels"]) <= {"red", "orange", "yellow", "blue"}
