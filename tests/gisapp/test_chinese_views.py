"""Page data, user and workspace messages and output files in Chinese (zh_CN).

Pages read in the reader's language (KPI labels, headings, choices, blind-zone kinds),
and so do the messages of the user and workspace stores and the human text of a GPX file;
the files for machines (stops CSV, GeoJSON, kpis.json) are byte-identical in English and
Chinese. The messages of a missing workspace are read on both stores (a GeoPackage file and
a PostGIS schema, ``tests/conftest.py``); the user store is a SQLite file on either.
"""

from __future__ import annotations

import re
import types
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from gisapp.errors import WorkspaceError
from gisapp.outputs.gpx import GPX_NS, gpx_bytes
from gisapp.outputs.kpis import kpis_json
from gisapp.outputs.plan import routes_geojson, stops_csv, stops_geojson
from gisapp.outputs.words import shift_text
from gisapp.plans import Plan, plan_from_frames
from gisapp.store import Workspace
from gisapp.store.backend import DatabaseURL, shown_location
from gisapp.store.users import UserError, UserStore
from gisapp.views.categories import BUNDLED_TABLES
from gisapp.views.coverage import coverage_blind_rows
from gisapp.views.hotspots import ALL_GROUPS, PREVENTABLE_ONLY, hotspot_group_choices
from gisapp.views.layers import upload_file_name
from gisapp.views.plans import plan_comparison, plan_view
from layers.errors import LayerError
from layers.i18n import use_language

#: Latin letters left in a Chinese text once names, ids, numbers and units are taken out.
_LATIN = re.compile(r"[A-Za-z]{2,}")


def _plan(plan_id: str = "night-zh", dosage: float = 3.25) -> Plan:
    """A small plan by hand: two units, a station and two hotspot stops each."""
    lines = [
        shapely.LineString([(-72.93, 41.30), (-72.92, 41.31), (-72.93, 41.30)]),
        shapely.LineString([(-72.93, 41.30), (-72.94, 41.29), (-72.93, 41.30)]),
    ]
    routes = gpd.GeoDataFrame(
        {
            "unit_id": ["car-1", "巡逻一组"],
            "mode": ["car", "foot"],
            "distance_m": [4200.0, 3100.0],
            "duration_s": [3600.0, 3000.0],
        },
        geometry=lines,
        crs=4326,
    )
    rows = []
    for unit in ("car-1", "巡逻一组"):
        rows += [
            (unit, 0, "station", "NHPD HQ", None, "2014-09-18T00:00:00-04:00", 0.0),
            (
                unit,
                1,
                "hotspot",
                "Chapel St",
                "2014-09-18T00:10:00-04:00",
                "2014-09-18T00:22:00-04:00",
                12.0,
            ),
            (
                unit,
                2,
                "hotspot",
                "中山路与解放路交叉口",
                "2014-09-18T00:30:00-04:00",
                "2014-09-18T00:42:00-04:00",
                12.0,
            ),
            (unit, 3, "station", "NHPD HQ", "2014-09-18T01:00:00-04:00", None, 0.0),
        ]
    stops = pd.DataFrame(
        {
            "unit_id": [r[0] for r in rows],
            "seq": [r[1] for r in rows],
            "kind": [r[2] for r in rows],
            "name": [r[3] for r in rows],
            "lon": [-72.93 + 0.001 * r[1] for r in rows],
            "lat": [41.30 + 0.001 * r[1] for r in rows],
            "arrive": [r[4] for r in rows],
            "depart": [r[5] for r in rows],
            "dwell_min": [r[6] for r in rows],
            "street": [r[3] for r in rows],
        }
    )
    kpis = {
        "plan_id": plan_id,
        "shift": "00:00-08:00",
        "shift_name": "night",
        "timezone": "America/New_York",
        "objective": dosage,
        "hotspot_risk_share": 0.42,
        "risk_covered_share": 0.3,
        "hotspot_stops": 4,
        "hotspot_dosage_minutes": 48,
        "hotspots_visited": 4,
        "hotspots": 9,
        "balance_ratio": 1.1,
        "street_km_covered": 7.3,
        "grids_visited": 3,
        "units_used": 2,
    }
    return plan_from_frames(routes, stops, kpis=kpis, plan_id=plan_id)


@pytest.fixture(scope="module")
def plan() -> Plan:
    return _plan()


def test_plan_page_kpi_labels_read_in_chinese(plan: Plan) -> None:
    with use_language("zh_CN"):
        view = plan_view(plan)
    labels = [label for label, _value in view.kpis]
    assert labels[:3] == ["巡逻强度（按风险加权）", "热点风险覆盖率", "道路风险覆盖率"]
    assert "已巡网格" in labels and "均衡度（最忙/最闲）" in labels
    assert not any(_LATIN.search(label) for label in labels)
    values = dict(view.kpis)
    assert values["已巡热点"] == "4（共 9 个）"
    assert values["热点风险覆盖率"] == "42%"
    modes = {u["unit_id"]: u["mode"] for u in view.units}
    assert modes == {"car-1": "car", "巡逻一组": "foot"}  # values; the template labels them


def test_the_page_cache_keeps_each_language_apart(plan: Plan) -> None:
    english = plan_view(plan)
    with use_language("zh_CN"):
        chinese = plan_view(plan)
    assert english.kpis[0][0] == "Dosage (risk-weighted)"
    assert chinese.kpis[0][0] == "巡逻强度（按风险加权）"
    assert dict(english.kpis)["Hotspots visited"] == "4 of 9"
    assert plan_view(plan) is english  # still cached, in English


def test_plan_comparison_headings_in_chinese(plan: Plan) -> None:
    other = _plan("night-zh-2", dosage=4.0)
    with use_language("zh_CN"):
        rows = plan_comparison(plan, other)
    by_label = {row.label: row for row in rows}
    assert by_label["巡逻强度（按风险加权）"].difference == "+0.75"
    assert "路线里程（公里，全部巡组）" in by_label and "巡组" in by_label
    assert not any(_LATIN.search(row.label) for row in rows)
    english = {row.label for row in plan_comparison(plan, other)}
    assert {"Dosage (risk-weighted)", "Grids visited", "Route km (all units)"} <= english


def test_hotspot_choices_and_shift_labels_in_chinese() -> None:
    groups = ["theft", "vehicle_theft", "my_own_group"]
    with use_language("zh_CN"):
        choices = hotspot_group_choices(groups)
        shift = shift_text("night", "00:00-08:00")
        custom = shift_text("夜巡", "22:00-06:00")
        bundled = str(BUNDLED_TABLES["china"])
    assert choices[ALL_GROUPS] == "全部类别"
    assert choices[PREVENTABLE_ONLY] == "仅可防性案件"
    assert choices["theft"] == "盗窃" and choices["vehicle_theft"] == "盗窃车辆"
    assert choices["my_own_group"] == "my own group"  # the workspace's own group, as named
    assert shift == "夜班（00:00—08:00）" and custom == "夜巡（22:00—次日06:00）"
    assert bundled == "中国（警情类别）"
    english = hotspot_group_choices(groups)
    assert english[ALL_GROUPS] == "All categories"
    assert english["vehicle_theft"] == "vehicle theft"
    assert shift_text("night", "00:00-08:00") == "night (00:00-08:00)"


def test_blind_zone_rows_in_chinese() -> None:
    zones = pd.DataFrame(
        {
            "kind": ["key_place", "street"],
            "name": ["第一小学", "Chapel St"],
            "risk": [2.5, 1.0],
            "required_minutes": [3.0, 5.0],
            "reached_minutes": [None, 6.0],
        }
    )
    result = types.SimpleNamespace(blind_zones=zones)
    with use_language("zh_CN"):
        rows = coverage_blind_rows(result)  # type: ignore[arg-type]
    assert [(r["kind"], r["reached_minutes"]) for r in rows] == [
        ("超时到达的重点部位", "无法到达"),
        ("盲区路段", 6.0),
    ]
    english = coverage_blind_rows(result)  # type: ignore[arg-type]
    assert [(r["kind"], r["reached_minutes"]) for r in english] == [
        ("key place", "never"),
        ("street", 6.0),
    ]


def test_user_errors_in_chinese(tmp_path: Path) -> None:
    store = UserStore(tmp_path / "users.sqlite")
    with use_language("zh_CN"):
        with pytest.raises(UserError) as empty:
            store.add("  ", "secret-password", role="captain")
        with pytest.raises(UserError) as officer:
            store.add("wang", "secret-password", role="officer")
        with pytest.raises(UserError) as short:
            store.add("li", "short", role="captain")
        with pytest.raises(UserError) as missing:
            store.set_language("nobody", "zh_CN")
    assert str(empty.value) == "用户名为空。"
    assert str(officer.value) == "民警 'wang' 需要所属巡组：请加上 --unit UNIT_ID。"
    assert str(short.value) == "密码少于 8 个字符。"
    assert str(missing.value) == "没有用户 'nobody'。"
    with pytest.raises(UserError, match=r"^officer 'wang' needs a unit: pass --unit UNIT_ID$"):
        store.add("wang", "secret-password", role="officer")


def test_workspace_errors_in_chinese(backend: str, location: str) -> None:
    # nothing at the location yet: no file, or a schema without a workspace
    with use_language("zh_CN"), pytest.raises(WorkspaceError) as error:
        Workspace.open(location)
    text = str(error.value)
    if backend == "gpkg":
        assert text.startswith(f"工作区 {location!r} 不存在")
        assert "'gisapp import SRC... --out WS.gpkg'" in text
        english = "does not exist; create one with"
    else:
        url = DatabaseURL(location)
        assert text == (
            f"数据库 {url.database!r} 的模式 {url.schema!r} 中没有工作区；"
            f"请用 'gisapp copy WS.gpkg {shown_location(location)}' 复制一个进来。"
        )
        english = "holds no workspace; copy one in with"
    with pytest.raises(WorkspaceError, match=english):
        Workspace.open(location)


def test_machine_files_are_byte_identical_in_both_languages(plan: Plan) -> None:
    def files() -> list[str]:
        return [
            stops_csv(plan),
            routes_geojson(plan),
            stops_geojson(plan),
            routes_geojson(plan, coordinate_system="GCJ-02"),
            kpis_json(plan.kpis),
        ]

    english = files()
    with use_language("zh_CN"):
        chinese = files()
    assert chinese == english
    assert (
        english[0].splitlines()[0]
        == "\ufeffunit_id,seq,kind,name,lon,lat,arrive,depart,dwell_min,street,hotspot_id,grid_id"
    )


def test_gpx_reads_in_chinese_with_the_same_stop_names(plan: Plan) -> None:
    def parse(data: bytes) -> ET.Element:
        return ET.fromstring(data)

    ns = {"g": GPX_NS}
    english = parse(gpx_bytes(plan, "car-1"))
    with use_language("zh_CN"):
        chinese = parse(gpx_bytes(plan, "car-1", coordinates="GCJ-02"))
    names = [w.findtext("g:name", namespaces=ns) for w in chinese.findall("g:wpt", ns)]
    assert names == [w.findtext("g:name", namespaces=ns) for w in english.findall("g:wpt", ns)]
    assert names[:3] == ["S NHPD HQ", "1 Chapel St", "2 中山路与解放路交叉口"]
    types_ = [w.findtext("g:type", namespaces=ns) for w in chinese.findall("g:wpt", ns)]
    assert types_ == ["station", "hotspot", "hotspot", "station"]
    first_stop = chinese.findall("g:wpt", ns)[1].findtext("g:desc", namespaces=ns)
    assert first_stop == "到达 00:10，停留 12 分钟，离开 00:22，Chapel St"
    assert chinese.findtext("g:trk/g:name", namespaces=ns) == "巡组 car-1"
    meta = chinese.findtext("g:metadata/g:desc", namespaces=ns) or ""
    assert "巡逻方案 night-zh" in meta and "坐标系 GCJ-02" in meta
    english_stop = english.findall("g:wpt", ns)[1].findtext("g:desc", namespaces=ns)
    assert english_stop == "arrive 00:10, dwell 12 min, depart 00:22, Chapel St"
    assert english.findtext("g:trk/g:name", namespaces=ns) == "Unit car-1"


def test_an_unsupported_upload_is_refused_in_chinese() -> None:
    with use_language("zh_CN"), pytest.raises(LayerError) as error:
        upload_file_name("警情.xlsx", layer="incidents")
    text = str(error.value)
    assert text.startswith("文件 '警情.xlsx' 的类型不受支持；请上传以下格式之一：")
    assert ".zip (Shapefile 压缩包)" in text and ".csv (CSV（经纬度或 WKT）)" in text
    with pytest.raises(LayerError, match=r"has an unsupported type; upload one of \.gpkg"):
        upload_file_name("警情.xlsx", layer="incidents")
