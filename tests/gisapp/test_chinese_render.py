"""Printed and map documents in Chinese: the briefing pack, the grid and blind-zone pages,
the monthly bulletin and the map legends speak the reader's language, with no English left
outside the data, and print with a CJK font; in English they read as they always have.

The documents drawn from a workspace (briefing pack, plan map, grid and blind-zone pages,
hourly coverage) read it on both stores (a GeoPackage file and a PostGIS schema,
``tests/conftest.py``)."""

from __future__ import annotations

import dataclasses
import html
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely import LineString, Point, box

from gisapp.outputs import words
from gisapp.plans import Plan, plan_from_frames
from gisapp.render import maps
from gisapp.render.area_maps import blind_zones_page, grids_page
from gisapp.render.briefing import briefing_page, plan_html, plan_title
from gisapp.render.browser import CHROMIUM_PATH
from gisapp.render.bulletin import bulletin_map
from gisapp.render.coverage import hourly_coverage_map
from gisapp.render.hotspots import hotspot_map
from gisapp.store import Workspace
from layers.i18n import use_language
from tests.conftest import fresh_schema

#: A few hundred metres of Wuhan, in degrees.
LON, LAT = 114.30, 30.60

#: Words that may stay in Latin letters in a Chinese document: names of things (the
#: index, the licence, the data source, the map library) and the place names of the data.
ALLOWED = {"PAI", "ODbL", "OpenStreetMap", "Leaflet", "WGS", "GCJ", "BD"}

_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]+")


def _at(dx: float, dy: float) -> tuple[float, float]:
    """A point ``dx``, ``dy`` kilometres east and north of the corner."""
    return (LON + dx / 96.0, LAT + dy / 111.0)


@pytest.fixture(scope="module")
def ws(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """Two streets with Chinese names, two grids with their officers, one station; once
    per store."""
    roads = gpd.GeoDataFrame(
        {"name": ["中山路", "解放路"], "highway": ["primary", "residential"]},
        geometry=[LineString([_at(0, 0.5), _at(2, 0.5)]), LineString([_at(1, 0), _at(1, 1)])],
        crs=4326,
    )
    grids = gpd.GeoDataFrame(
        {
            "id": ["WG01", "WG02"],
            "community_id": ["SQ1", "SQ1"],
            "officer": ["张伟", "李娜"],
            "phone": ["13800000001", "13800000002"],
            "unit_id": ["car-1", "car-1"],
        },
        geometry=[box(*_at(0, 0), *_at(1, 1)), box(*_at(1, 0), *_at(2, 1))],
        crs=4326,
    )
    stations = gpd.GeoDataFrame(
        {"id": ["PCS"], "name": ["中山派出所"], "kind": ["station"]},
        geometry=[Point(_at(0.1, 0.5))],
        crs=4326,
    )
    meta = {
        "name": "wuhan",
        "timezone": "Asia/Shanghai",
        "layer_notes": json.dumps({"roads": "OpenStreetMap extract"}),
    }
    layers = {"roads": roads, "grids": grids, "stations": stations}
    if backend == "gpkg":
        yield Workspace.create(tmp_path_factory.mktemp("zh") / "wuhan.gpkg", layers, meta=meta)
        return
    with fresh_schema() as url:
        yield Workspace.create(url, layers, meta=meta)


@pytest.fixture(scope="module")
def plan() -> Plan:
    """One car on night shift: station, two hotspot stops, a break, back to the station."""
    route = LineString([_at(0.1, 0.5), _at(1.0, 0.5), _at(1.0, 0.9), _at(0.1, 0.5)])
    routes = gpd.GeoDataFrame(
        {"unit_id": ["car-1"], "mode": ["car"], "distance_m": [3400.0], "duration_s": [5400.0]},
        geometry=[route],
        crs=4326,
    )
    rows = [
        ("station", "中山派出所", "中山路", _at(0.1, 0.5), None, "22:00", 0.0),
        ("hotspot", "中山路与解放路交叉口", "中山路", _at(1.0, 0.5), "22:12", "22:24", 12.0),
        ("break", "就餐", "解放路", _at(1.0, 0.7), "22:30", "23:00", 30.0),
        ("hotspot", "解放路", "解放路", _at(1.0, 0.9), "23:05", "23:17", 12.0),
        ("station", "中山派出所", "中山路", _at(0.1, 0.5), "23:30", None, 0.0),
    ]
    day = "2026-12-02T"
    stops = pd.DataFrame(
        {
            "unit_id": ["car-1"] * len(rows),
            "seq": list(range(len(rows))),
            "kind": [r[0] for r in rows],
            "name": [r[1] for r in rows],
            "street": [r[2] for r in rows],
            "lon": [r[3][0] for r in rows],
            "lat": [r[3][1] for r in rows],
            "arrive": [None if r[4] is None else f"{day}{r[4]}:00+08:00" for r in rows],
            "depart": [None if r[5] is None else f"{day}{r[5]}:00+08:00" for r in rows],
            "dwell_min": [r[6] for r in rows],
        }
    )
    kpis = {
        "plan_id": "night-demo",
        "shift": "22:00-06:00",
        "shift_name": "late",
        "date": "2026-12-02",
        "timezone": "Asia/Shanghai",
    }
    return plan_from_frames(routes, stops, kpis=kpis, plan_id="night-demo")


# -- what a reader sees --------------------------------------------------------------------------


def _unescape_js(text: str) -> str:
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda u: chr(int(u.group(1), 16)), text)


def _visible_text(page: str) -> str:
    """The text a reader sees: the page outside scripts and styles, plus what the map
    scripts show (legends, tooltips, popups, labels, layer names, slider, north arrow)."""
    body = page.split("<body", 1)[1]
    outside = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S)
    title = re.search(r"<title>(.*?)</title>", page)
    shown = [re.sub(r"<[^>]+>", " ", outside), title[1] if title else ""]
    scripts = _unescape_js(" ".join(re.findall(r"<script\b[^>]*>(.*?)</script>", page, re.S)))
    # legend bodies, tooltip and popup texts, labels and street names (JSON strings)
    for pattern in (
        r"div\.innerHTML = (\"(?:[^\"\\]|\\.)*\");",
        r"\"_(?:tip|popup|label)\": (\"(?:[^\"\\]|\\.)*\")",
        r"\"label\": (\"(?:[^\"\\]|\\.)*\")",
        r"\"tip\": (\"(?:[^\"\\]|\\.)*\")",
        r"title\.textContent = (\"(?:[^\"\\]|\\.)*\");",
        r"div\.title = (\"(?:[^\"\\]|\\.)*\");",
        r"addAttribution\((\"(?:[^\"\\]|\\.)*\")\)",
    ):
        for found in re.findall(pattern, scripts):
            shown.append(re.sub(r"<[^>]+>", " ", json.loads(found)))
    for labels in re.findall(r"var labels = (\[.*?\]);", scripts):
        shown += json.loads(labels)
    control = re.search(r"overlays\s*:\s*\{(.*?)\}", scripts, flags=re.S)
    if control:
        shown += re.findall(r"\"((?:[^\"\\]|\\.)*)\"\s*:", control[1])
    return html.unescape(" ".join(shown))


def _english_words(text: str, data: set[str]) -> list[str]:
    """Latin words of ``text`` that are neither data nor allowed names."""
    for value in sorted(data, key=len, reverse=True):
        text = text.replace(value, " ")
    return sorted({w for w in _WORD.findall(text) if w not in ALLOWED})


#: Values of the fixtures' data that are written in Latin letters.
DATA = {"night-demo", "car-1", "wuhan", "Asia/Shanghai", "WG01", "WG02", "SQ1", "PCS"}


def test_the_briefing_pack_reads_in_chinese(plan: Plan, ws: Workspace) -> None:
    with use_language("zh_CN"):
        page = briefing_page(plan, ws=ws)
    assert '<html lang="zh-CN">' in page
    shown = _visible_text(page)
    for expected in (
        "巡逻方案 night-demo",  # the title, as the plan has no title of its own
        "深夜班（22:00—次日06:00）",  # the shift, crossing midnight
        "2026年12月2日",
        "工作区 wuhan",
        "巡逻力量",  # the units table
        "电话：13800000001",  # who the unit is
        "巡组 car-1 巡逻时刻表",
        "必巡点",
        "休息",
        "停留时长（分钟）",
        "3.4 公里",
        "路线用时 1:30",
        "2 个必巡点",
        "时间为 Asia/Shanghai 时区。",
        "© OpenStreetMap 贡献者",
        "巡组 car-1（巡逻车）",  # the legend
        "指北针",
        "中山路与解放路交叉口",  # a stop's name, as the data has it
    ):
        assert expected in shown, expected
    assert "带班民警：张伟（所辖网格另有 1 名民警）" in shown
    assert _english_words(shown, DATA) == []


def test_the_offline_plan_map_has_chinese_layers_legend_and_tooltips(
    plan: Plan, ws: Workspace
) -> None:
    with use_language("zh_CN"):
        page = plan_html(plan, ws=ws)
    shown = _visible_text(page)
    for expected in ("巡逻方案 night-demo", "网格", "巡逻路线", "道路", "方式", "公里"):
        assert expected in shown, expected
    assert "巡组 car-1 第 1 号：中山路与解放路交叉口，22:12—22:24" in shown
    assert _english_words(shown, DATA) == []


def test_the_grid_and_blind_zone_pages_read_in_chinese(ws: Workspace) -> None:
    blind = gpd.GeoDataFrame(
        {
            "rank": [1, 2],
            "kind": ["street", "key_place"],
            "name": ["中山路", "第一小学"],
            "grid": ["WG01", "WG02"],
            "incidents": [5, 2],
            "risk": [7.5, 2.0],
            "required_minutes": [5.0, 3.0],
            "reached_minutes": [None, 6.0],
        },
        geometry=[box(*_at(0.2, 0.4), *_at(0.8, 0.6)), box(*_at(1.2, 0.2), *_at(1.4, 0.4))],
        crs=4326,
    )
    with use_language("zh_CN"):
        grid_page = grids_page(ws)
        blind_page = blind_zones_page(ws, blind)
    grid_text = _visible_text(grid_page)
    assert "网格责任" in grid_text and "2 个网格" in grid_text
    assert _english_words(grid_text, DATA) == []
    blind_text = _visible_text(blind_page)
    for expected in ("盲区（按风险排序）", "盲区路段", "超时到达的重点部位", "2 处盲区", "风险"):
        assert expected in blind_text, expected
    assert _english_words(blind_text, DATA) == []


def _bulletin_frames() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    levels = ["red", "orange", "yellow", "blue"]
    table = gpd.GeoDataFrame(
        {
            "id": [f"SQ{i}" for i in range(4)],
            "name": ["花园社区", "江滩社区", "新村", "东亭社区"],
            "incidents": [40, 25, 12, 3],
            "preventable": [30, 15, 6, 1],
            "previous": [10, 12, 9, 4],
            "current": [40, 25, 12, 3],
            "change": [30, 13, 3, -1],
            "change_pct": [300.0, 108.3, 33.3, -25.0],
            "warning_level": levels,
            "top_hotspots": ["H1", "H2", "", ""],
        },
        geometry=[box(*_at(i * 0.5, 0), *_at(i * 0.5 + 0.5, 0.5)) for i in range(4)],
        crs=4326,
    )
    hotspots = gpd.GeoDataFrame(
        {
            "label": ["H1", "H2"],
            "community_id": ["SQ0", "SQ1"],
            "rank": [1, 1],
            "incidents": [9, 6],
        },
        geometry=[box(*_at(0.1, 0.1), *_at(0.2, 0.2)), box(*_at(0.6, 0.1), *_at(0.7, 0.2))],
        crs=4326,
    )
    return table, hotspots


def test_the_monthly_bulletin_reads_in_chinese() -> None:
    table, hotspots = _bulletin_frames()
    with use_language("zh_CN"):
        page = bulletin_map(table, hotspots, month="2026-11", inline_assets=False)
    shown = _visible_text(page)
    assert "<title>社区治安状况月报（2026年11月）</title>" in page
    for expected in ("分色预警", "红色预警", "橙色预警", "黄色预警", "蓝色预警", "可防性"):
        assert expected in shown, expected
    assert "社区 2026年11月" in shown and "主要热点" in shown and "预警等级" in shown
    # the colours still go by the machine level
    assert '"fillColor": "#d7191c"' in page
    data = {"SQ0", "SQ1", "SQ2", "SQ3", "H1", "H2"}
    assert _english_words(shown, data) == []


def test_the_bulletin_in_english_keeps_its_words() -> None:
    table, hotspots = _bulletin_frames()
    page = bulletin_map(table, hotspots, month="2026-11", inline_assets=False)
    shown = _visible_text(page)
    assert "Communities 2026-11" in shown and "Warning level" in shown
    legend = re.search(r"div\.innerHTML = (\"(?:[^\"\\]|\\.)*\");", _unescape_js(page))
    assert legend is not None
    assert re.findall(r"</i>(\w+)</div>", json.loads(legend[1])) == [
        "red",
        "orange",
        "yellow",
        "blue",
    ]


def test_hotspot_and_hourly_coverage_legends_read_in_chinese(ws: Workspace) -> None:
    cells = gpd.GeoDataFrame(
        {"rank": [1, 7, 20], "score": [3.2, 1.5, 0.4], "incidents": [9, 4, 1]},
        geometry=[box(*_at(i * 0.3, 0), *_at(i * 0.3 + 0.15, 0.15)) for i in range(3)],
        crs=4326,
    )
    kpis = {"shift": "night", "method": "kde", "pai": 3.264}
    with use_language("zh_CN"):
        page = maps.render_html(hotspot_map(cells, kpis))
    shown = _visible_text(page)
    assert "热点，预测准确指数 (PAI) 3.264" in shown and "前 5 名" in shown
    assert "热点 夜班（核密度）" in shown
    assert _english_words(shown, DATA) == []
    assert "Hotspots, PAI 3.264" in maps.render_html(hotspot_map(cells, kpis))


class _Hourly:
    """An hourly coverage of one car over two hours."""

    plan_id = "night-demo"
    reach_minutes = 3.0

    def __init__(self) -> None:
        hours = [
            pd.Timestamp("2026-12-02 22:00", tz="Asia/Shanghai") + pd.Timedelta(hours=h)
            for h in (0, 1)
        ]
        line = LineString([_at(0, 0.5), _at(1, 0.5)])
        self.table = pd.DataFrame(
            {
                "hour": hours,
                "minutes": [3.0, 3.0],
                "street_share": [0.5, 0.25],
                "risk_share": [0.4, 0.1],
            }
        )
        self.reach = gpd.GeoDataFrame(
            {"hour": hours, "reached_km": [1.0, 0.5]}, geometry=[line, line], crs=4326
        )
        self.paths = gpd.GeoDataFrame(
            {"hour": hours, "unit_id": ["car-1"] * 2}, geometry=[line, line], crs=4326
        )
        self.positions = gpd.GeoDataFrame(
            {"hour": hours, "unit_id": ["car-1"] * 2, "time": ["22:00", "23:00"]},
            geometry=[Point(_at(0, 0.5)), Point(_at(1, 0.5))],
            crs=4326,
        )
        self.sources = gpd.GeoDataFrame(
            {"id": ["PCS"], "source": ["stations"]}, geometry=[Point(_at(0.1, 0.5))], crs=4326
        )


def test_the_hourly_coverage_map_reads_in_chinese(ws: Workspace) -> None:
    roads = ws.spatial_layer("roads")
    with use_language("zh_CN"):
        page = hourly_coverage_map(_Hourly(), roads=roads)
    shown = _visible_text(page)
    for expected in (
        "分时段覆盖",
        "巡组 3 分钟内可达的道路",
        "方案 night-demo：时段",
        "22:00-23:00 · 道路",
        "50% · 风险",
        "40%（3 分钟内）",
        "派出所",
    ):
        assert expected in shown, expected
    assert _english_words(shown, DATA) == []


# -- the English pack as before ------------------------------------------------------------------


def test_the_english_pack_reads_as_before(plan: Plan, ws: Workspace) -> None:
    page = briefing_page(plan, ws=ws)
    shown = _visible_text(page)
    for expected in (
        "Patrol plan night-demo",
        "late (22:00-06:00)",
        "2026-12-02",
        "Workspace wuhan",
        "Unit car-1 — timetable",
        "Unit car-1 (car)",
        "Dwell (min)",
        "3.4 km",
        "route time 1:30",
        "Times in Asia/Shanghai. # = the number on the map.",
        "© OpenStreetMap contributors",
        "Officer 张伟 (+1 more in its grids)",
    ):
        assert expected in shown, expected
    assert "hotspot" in shown and "break" in shown  # the kinds as the data has them
    # no Chinese but the data's names
    for value in ("中山派出所", "中山路与解放路交叉口", "中山路", "解放路", "就餐", "张伟", "李娜"):
        shown = shown.replace(value, " ")
    assert not re.search(r"[\u4e00-\u9fff]", shown)


def test_a_default_title_follows_the_reader_and_a_given_one_stays(plan: Plan) -> None:
    made_in_chinese = dataclasses.replace(plan, title="巡逻方案 night-demo")
    assert plan_title(made_in_chinese) == "Patrol plan night-demo"
    with use_language("zh_CN"):
        assert plan_title(plan) == "巡逻方案 night-demo"
        assert plan_title(dataclasses.replace(plan, title="Spring festival")) == "Spring festival"


def test_machine_values_in_words() -> None:
    assert words.shift_text("late", "22:00-06:00") == "late (22:00-06:00)"
    assert words.shift_text("", "night 00:00-08:00") == "night 00:00-08:00"
    assert words.date_text("2014-09-18") == "2014-09-18"
    with use_language("zh_CN"):
        assert words.shift_text("late", "22:00-06:00") == "深夜班（22:00—次日06:00）"
        assert words.shift_text("", "night 00:00-08:00") == "夜班（00:00—08:00）"
        assert words.shift_text("", "16:00-24:00") == "16:00—24:00"
        assert words.shift_text("早高峰", "07:00-09:00") == "早高峰（07:00—09:00）"
        assert words.date_text("2014-09-18") == "2014年9月18日"
        assert words.month_text("2014-09") == "2014年9月"
        assert words.mode_name("foot") == "步巡" and words.mode_name("horse") == "horse"
        assert words.blind_kind_name("prevention_zone") == "超时到达的防控区"


# -- printed -------------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM_PATH.exists(), reason=f"{CHROMIUM_PATH} is not installed")
def test_the_chinese_briefing_prints_with_a_cjk_font(
    plan: Plan, ws: Workspace, tmp_path: Path
) -> None:
    if shutil.which("pdftotext") is None or shutil.which("pdffonts") is None:
        pytest.skip("poppler-utils is not installed")
    fonts = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True)
    if not fonts.stdout.strip():
        pytest.skip("no Chinese font installed (fonts-noto-cjk or fonts-wqy-microhei)")
    from gisapp.render.briefing import briefing_pdf

    pdf = tmp_path / "briefing.pdf"
    with use_language("zh_CN"):
        pdf.write_bytes(briefing_pdf(plan, ws=ws))
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    for expected in ("巡逻方案 night-demo", "巡逻时刻表", "中山路与解放路交叉口", "2026年12月2日"):
        assert expected in text, expected
    embedded = subprocess.run(
        ["pdffonts", str(pdf)], capture_output=True, text=True, check=True
    ).stdout
    assert re.search(r"WenQuanYi|NotoSansCJK|Noto Sans CJK|wqy", embedded, re.I), embedded
