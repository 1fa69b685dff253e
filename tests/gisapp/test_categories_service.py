"""Any category vocabulary weighs incidents through one lookup, and pile-ups stay out.

A workspace built here with Chinese categories (盗窃, 抢劫, 诈骗 and an unknown 其他) runs
hotspots, the grid report, the bulletin and the web hotspots page; a pile-up of desk
reports on a police station is left out of hotspot risk unless asked for.
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

from gisapp.cli import cli
from gisapp.services.analytics import load_incidents, workspace_categories
from gisapp.services.bulletin import community_bulletin
from gisapp.services.grids import workload_incidents
from gisapp.services.hotspots import HotspotOptions, shift_hotspots
from gisapp.settings import load_settings, parse_shift
from gisapp.store import Workspace, open_workspace

CRS = "EPSG:32650"
TZ = "Asia/Shanghai"
NIGHT = parse_shift("20:00-04:00", name="night")
STATION_XY = (500_150.0, 3_380_850.0)
CLUSTER_XY = (500_700.0, 3_380_300.0)


def _layers(*, with_pileup: bool) -> dict[str, gpd.GeoDataFrame | pd.DataFrame]:
    """Four weeks: 2 盗窃 a night around CLUSTER_XY, 2 抢劫 a night and 1 诈骗 a day anywhere,
    one 其他; with
    ``with_pileup``, 3 desk reports a night on the station's point."""
    rng = np.random.default_rng(7)
    rows: list[tuple[float, float, str, str]] = []
    for day in pd.date_range("2024-03-01", "2024-03-28", freq="D"):
        for p in rng.normal(CLUSTER_XY, 25, size=(2, 2)):
            rows.append((p[0], p[1], f"{day:%Y-%m-%d} 22:30", "盗窃"))
        for p in rng.uniform([500_000, 3_380_000], [501_000, 3_381_000], size=(2, 2)):
            rows.append((p[0], p[1], f"{day:%Y-%m-%d} 23:10", "抢劫"))
        for p in rng.uniform([500_000, 3_380_000], [501_000, 3_381_000], size=(1, 2)):
            rows.append((p[0], p[1], f"{day:%Y-%m-%d} 10:00", "诈骗"))
        if with_pileup:
            for _ in range(3):
                rows.append((*STATION_XY, f"{day:%Y-%m-%d} 21:00", "抢劫"))
    rows.append((500_500.0, 3_380_500.0, "2024-03-20 23:00", "其他"))
    xy = np.asarray([(r[0], r[1]) for r in rows])
    incidents = gpd.GeoDataFrame(
        {
            "id": [f"J{i:04d}" for i in range(len(rows))],
            "occurred_at": pd.to_datetime([r[2] for r in rows]).tz_localize(TZ),
            "category": [r[3] for r in rows],
        },
        geometry=shapely.points(xy),
        crs=CRS,
    )
    halves = [
        shapely.box(500_000, 3_380_000, 500_500, 3_381_000),
        shapely.box(500_500, 3_380_000, 501_000, 3_381_000),
    ]
    communities = gpd.GeoDataFrame(
        {"id": ["C1", "C2"], "name": ["东湖社区", "南湖社区"], "subdistrict_id": ["S", "S"],
         "households": [1200, 1800]},
        geometry=halves,
        crs=CRS,
    )  # fmt: skip
    quarters = [
        shapely.box(x, y, x + 500, y + 500)
        for x in (500_000, 500_500)
        for y in (3_380_000, 3_380_500)
    ]
    grids = gpd.GeoDataFrame(
        {"id": ["G1", "G2", "G3", "G4"], "community_id": ["C1", "C1", "C2", "C2"],
         "officer": ["李", "王", "张", "刘"]},
        geometry=quarters,
        crs=CRS,
    )  # fmt: skip
    lines = [
        shapely.LineString([(500_000, y), (501_000, y)]) for y in range(3_380_050, 3_381_000, 150)
    ]
    lines += [
        shapely.LineString([(x, 3_380_000), (x, 3_381_000)]) for x in range(500_050, 501_000, 150)
    ]
    roads = gpd.GeoDataFrame(
        {"name": [f"路{i}" for i in range(len(lines))]}, geometry=lines, crs=CRS
    )
    stations = gpd.GeoDataFrame(
        {"id": ["P1"], "name": ["东湖派出所"], "kind": ["station"]},
        geometry=shapely.points([STATION_XY]),
        crs=CRS,
    )
    return {"incidents": incidents, "communities": communities, "grids": grids,
            "roads": roads, "stations": stations}  # fmt: skip


def _workspace(location: str, *, with_pileup: bool) -> Workspace:
    return Workspace.create(location, _layers(with_pileup=with_pileup), meta={"timezone": TZ})


@pytest.fixture
def chinese(location: str) -> Workspace:
    """The Chinese categories' workspace, on every store."""
    return _workspace(location, with_pileup=False)


@pytest.fixture
def with_pileup(location: str) -> Workspace:
    """The same with a pile-up of desk reports on the station, on every store."""
    return _workspace(location, with_pileup=True)


def _unknown_warnings(problems: object) -> list[str]:
    return [p.message for p in problems if p.code == "unknown_category"]  # type: ignore[attr-defined]


# -- any vocabulary ------------------------------------------------------------------------


def test_chinese_categories_weigh_from_the_standard_tables(chinese: Workspace) -> None:
    incidents, problems = load_incidents(chinese)
    by_category = incidents.groupby("category")[["group", "severity", "preventable"]].first()
    assert by_category.loc["盗窃"].tolist() == ["theft", 2, True]
    assert by_category.loc["抢劫"].tolist() == ["robbery", 5, True]
    assert by_category.loc["诈骗"].tolist() == ["fraud", 2, False]
    assert by_category.loc["其他"].tolist() == ["other", 1, False]
    warnings = _unknown_warnings(problems)
    assert len(warnings) == 1 and "'其他' (1)" in warnings[0]


def test_hotspots_of_chinese_categories(chinese: Workspace) -> None:
    options = HotspotOptions(shift=NIGHT, method="kde", cell_size_m=50, preventable_only=True)
    result = shift_hotspots(chinese, options)
    assert result.kpis["incidents"] == 28 * 4  # 盗窃 and 抢劫 at night, not 诈骗 or 其他
    top = result.layer.to_crs(CRS).iloc[0].geometry.centroid
    assert top.distance(shapely.Point(CLUSTER_XY)) < 100
    assert len(_unknown_warnings(result.problems)) == 1


def test_grid_report_and_bulletin_of_chinese_categories(chinese: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "grids"
    result = CliRunner().invoke(
        cli, ["grids", str(chinese.location), "--report", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "'其他' (1)" in result.output and "Traceback" not in result.output
    table = pd.read_csv(out / "grids.csv")
    assert table["incidents"].sum() == len(chinese.layer("incidents"))

    bulletin = community_bulletin(chinese, month="2024-03")
    assert bulletin.table["incidents"].sum() == len(chinese.layer("incidents"))
    assert set(bulletin.table.columns) >= {"n_theft", "n_robbery", "n_fraud", "n_other"}
    assert len(_unknown_warnings(bulletin.problems)) == 1


def test_web_hotspots_page_of_chinese_categories(chinese: Workspace, tmp_path: Path) -> None:
    from gisapp.store.users import UserStore
    from web import create_app

    users = tmp_path / "users.sqlite"
    UserStore(users).add("captain", "correct horse battery", role="captain")
    app = create_app(
        {"TESTING": True, "SECRET_KEY": "test", "WORKSPACE": str(chinese.location),
         "USERS_DB": str(users)}
    )  # fmt: skip
    client = app.test_client()
    page = client.get("/auth/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    login = {"username": "captain", "password": "correct horse battery", "csrf_token": token}
    assert client.post("/auth/login", data=login).status_code == 302
    response = client.get("/hotspots/?shift=evening&method=kde&group=robbery")
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    assert "其他" in page and "Traceback" not in page
    exported = client.get("/hotspots/export.geojson?shift=evening&method=kde&group=preventable")
    assert exported.status_code == 200
    assert json.loads(exported.get_data(as_text=True))["features"]


def test_the_workspace_categories_table_is_the_lookup(chinese: Workspace, tmp_path: Path) -> None:
    table = tmp_path / "categories.csv"
    table.write_text(
        "category,label,severity,preventable\n其他,Other street crime,3,是\n盗窃,Theft,4,是\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        cli, ["import", f"categories={table}", "--out", str(chinese.location)]
    )
    assert result.exit_code == 0, result.output
    ws = open_workspace(str(chinese.location))
    assert workspace_categories(ws) is not None
    incidents, problems = load_incidents(ws)
    by_category = incidents.groupby("category")[["severity", "preventable"]].first()
    assert by_category.loc["其他"].tolist() == [3, True]
    assert by_category.loc["盗窃"].tolist() == [4, True]
    # The workspace's own table replaces the standard ones: 抢劫 and 诈骗 are now unknown.
    warnings = _unknown_warnings(problems)
    assert len(warnings) == 1 and "'抢劫'" in warnings[0] and "'诈骗'" in warnings[0]


# -- pile-ups ---------------------------------------------------------------------------------


def test_a_station_pileup_is_left_out_of_hotspot_risk(with_pileup: Workspace) -> None:
    options = HotspotOptions(shift=NIGHT, method="kde", cell_size_m=50, preventable_only=True)
    result = shift_hotspots(with_pileup, options)
    top = result.layer.to_crs(CRS).iloc[0].geometry.centroid
    assert top.distance(shapely.Point(CLUSTER_XY)) < 100
    assert result.kpis["incidents"] == 28 * 4 and result.kpis["keep_pileups"] is False
    left_out = [p for p in result.problems if p.code == "pileup_left_out"]
    assert len(left_out) == 1
    assert left_out[0].message.startswith("84 incident(s) sit at 1 point(s)")
    assert "from station 东湖派出所: 84" in left_out[0].message

    kept = shift_hotspots(with_pileup, HotspotOptions(**{**options.__dict__, "keep_pileups": True}))
    top = kept.layer.to_crs(CRS).iloc[0].geometry.centroid
    assert top.distance(shapely.Point(STATION_XY)) < 100
    assert kept.kpis["incidents"] == 28 * 4 + 84
    assert [p.code for p in kept.problems if p.code.startswith("pileup")] == ["pileup_kept"]


def test_workload_and_risk_inputs_leave_the_pileup_out(with_pileup: Workspace) -> None:
    incidents, _ = workload_incidents(with_pileup)
    assert incidents is not None
    assert len(incidents) == len(with_pileup.layer("incidents")) - 84
    everything, _ = load_incidents(with_pileup, keep_pileups=True)
    assert len(everything) == len(with_pileup.layer("incidents"))


def test_keep_pileups_is_a_setting(tmp_path: Path) -> None:
    config = tmp_path / "gisapp.toml"
    config.write_text("keep_pileups = true\n", encoding="utf-8")
    assert load_settings(config).keep_pileups is True
    assert load_settings(None, environ={"GISAPP_KEEP_PILEUPS": "1"}).keep_pileups is True


def test_a_bad_categories_file_is_refused_on_import(chinese: Workspace, tmp_path: Path) -> None:
    table = tmp_path / "categories.csv"
    table.write_text("category,label,severity,preventable\n盗窃,Theft,9,是\n", encoding="utf-8")
    before = chinese.version
    result = CliRunner().invoke(
        cli, ["import", f"categories={table}", "--out", str(chinese.location)]
    )
    assert result.exit_code == 1
    assert "severity of '盗窃' is not an integer from 1 to 5" in result.output
    assert "Traceback" not in result.output
    assert open_workspace(str(chinese.location)).version == before


def test_grid_report_gives_the_geocoding_quality_of_every_grid(
    with_pileup: Workspace, tmp_path: Path
) -> None:
    out = tmp_path / "grids"
    args = ["grids", str(with_pileup.location), "--report", "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "grids.csv").set_index("id")
    # The station's point lies in G2 (x < 500 500, y > 3 380 500).
    assert table.loc["G2", "at_pileups"] == 84
    assert table["at_pileups"].drop("G2").eq(0).all()
    g2 = table.loc["G2"]
    assert g2["geocoding_suspect_share"] == pytest.approx(84 / g2["geocoded_incidents"])
    # Workload leaves the pile-up out; the quality figure counts every incident.
    assert table["geocoded_incidents"].sum() == table["incidents"].sum() + 84
    kpis = json.loads((out / "kpis.json").read_text(encoding="utf-8"))
    assert kpis["geocoding_suspect_share"] == pytest.approx(
        84 / table["geocoded_incidents"].sum(), abs=1e-4
    )


def test_incidents_at_a_grid_centroid_are_suspect(location: str) -> None:
    from gisapp.services.grids import grid_workload, with_geocoding_quality

    layers = _layers(with_pileup=False)
    incidents = layers["incidents"]
    assert isinstance(incidents, gpd.GeoDataFrame)
    centre = gpd.GeoDataFrame(
        {
            "id": [f"K{i}" for i in range(5)],
            "occurred_at": pd.Timestamp("2024-03-05 09:00", tz=TZ),
            "category": "诈骗",
        },
        geometry=shapely.points(np.repeat([[500_750.0, 3_380_250.0]], 5, axis=0)),
        crs=CRS,
    )
    layers["incidents"] = pd.concat([incidents, centre], ignore_index=True)
    ws = Workspace.create(location, layers, meta={"timezone": TZ})
    workload = grid_workload(ws.layer("grids"), incidents=load_incidents(ws)[0])
    table = with_geocoding_quality(ws, workload).table.set_index("id")
    # The centre of G3 (x > 500 500, y < 3 380 500).
    assert table["at_centroid"].to_dict() == {"G1": 0, "G2": 0, "G3": 5, "G4": 0}
    assert table["at_pileups"].eq(0).all()
    g3 = table.loc["G3"]
    assert g3["geocoding_suspect_share"] == pytest.approx(5 / g3["geocoded_incidents"])


def test_the_hotspots_command_keeps_pileups_when_asked(
    with_pileup: Workspace, tmp_path: Path
) -> None:
    counts = {}
    for flag in ((), ("--keep-pileups",)):
        out = tmp_path / ("kept" if flag else "left_out")
        args = ["hotspots", str(with_pileup.location), "--shift", "20:00-04:00", "--method",
                "counts", "--group", "preventable", *flag, "--out", str(out)]  # fmt: skip
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        assert ("pile up" in result.output) and "Traceback" not in result.output
        kpis = json.loads((out / "kpis.json").read_text(encoding="utf-8"))
        counts[bool(flag)] = next(iter(kpis["shifts"].values()))["incidents"]
    assert counts == {False: 28 * 4, True: 28 * 4 + 84}
