"""The services speak the language in force: a captain working in Chinese reads the
errors, warnings, notes and summaries of the services in Chinese, and a background job
speaks the language of whoever submitted it, whatever language its worker thread began in.

A small workspace built here (two weeks of incidents, a pile-up of desk reports on the
police station, two communities of two grids each) runs the real services, on both stores
(a GeoPackage file and a PostGIS schema, ``tests/conftest.py``); English stays as the other
tests read it.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gisapp.errors import GisappError, SettingsError
from gisapp.plans import plan_from_frames
from gisapp.samples import get_path
from gisapp.services.analytics import AnalyticsError, load_incidents
from gisapp.services.blind_streets import street_zone_name
from gisapp.services.bulletin import community_bulletin
from gisapp.services.categories import CategoryEditError, save_category_table
from gisapp.services.fanout import split_units
from gisapp.services.hotspots import HotspotOptions, shift_hotspots
from gisapp.services.job_kinds import JOB_KINDS
from gisapp.services.jobs import UNEXPECTED_ERROR, JobRunner
from gisapp.services.summary import format_summary, workspace_summary
from gisapp.settings import load_settings, parse_shift
from gisapp.store import Workspace
from layers.i18n import current_language, use_language

CRS = "EPSG:32650"
TZ = "Asia/Shanghai"
STATION_XY = (500_150.0, 3_380_850.0)
#: Latin words of two letters or more: what must not be left in a Chinese message outside
#: names, ids, options and data.
_WORDS = re.compile(r"[A-Za-z]{2,}")


def _layers() -> dict[str, gpd.GeoDataFrame | pd.DataFrame]:
    """Two weeks of 盗窃 and 抢劫 at night, and 3 desk reports a night on the station."""
    rng = np.random.default_rng(11)
    rows: list[tuple[float, float, str, str]] = []
    for day in pd.date_range("2024-03-01", "2024-03-14", freq="D"):
        for p in rng.uniform([500_000, 3_380_000], [501_000, 3_381_000], size=(3, 2)):
            rows.append((p[0], p[1], f"{day:%Y-%m-%d} 22:30", "盗窃"))
        for _n in range(3):
            rows.append((*STATION_XY, f"{day:%Y-%m-%d} 21:00", "抢劫"))
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
    communities = gpd.GeoDataFrame(
        {"id": ["C1", "C2"], "name": ["东湖社区", "南湖社区"], "subdistrict_id": ["S", "S"]},
        geometry=[
            shapely.box(500_000, 3_380_000, 500_500, 3_381_000),
            shapely.box(500_500, 3_380_000, 501_000, 3_381_000),
        ],
        crs=CRS,
    )
    grids = gpd.GeoDataFrame(
        {"id": ["G1", "G2", "G3", "G4"], "community_id": ["C1", "C1", "C2", "C2"]},
        geometry=[
            shapely.box(x, y, x + 500, y + 500)
            for x in (500_000, 500_500)
            for y in (3_380_000, 3_380_500)
        ],
        crs=CRS,
    )
    lines = [
        shapely.LineString([(500_000, y), (501_000, y)]) for y in range(3_380_050, 3_381_000, 150)
    ]
    roads = gpd.GeoDataFrame(
        {"name": [f"路{i}" for i in range(len(lines))]}, geometry=lines, crs=CRS
    )
    stations = gpd.GeoDataFrame(
        {"id": ["P1"], "name": ["东湖派出所"], "kind": ["station"]},
        geometry=shapely.points([STATION_XY]),
        crs=CRS,
    )
    return {
        "incidents": incidents,
        "communities": communities,
        "grids": grids,
        "roads": roads,
        "stations": stations,
    }


@pytest.fixture
def workspace(location: str) -> Workspace:
    """The small workspace named dh, on every store."""
    return Workspace.create(location, _layers(), meta={"timezone": TZ, "name": "dh"})


def _chinese_only(text: str, *allowed: str) -> None:
    """``text`` has Chinese and no English word besides the ``allowed`` names and options."""
    assert re.search(r"[\u4e00-\u9fff]", text), text
    rest = text
    for word in allowed:
        rest = rest.replace(word, "")
    assert not _WORDS.findall(rest), text


# -- warnings and summaries ----------------------------------------------------------------


def test_pileup_and_summary_in_chinese(workspace: Workspace) -> None:
    with use_language("zh_CN"):
        _, problems = load_incidents(workspace)
        summary = format_summary(workspace_summary(workspace))
    pileup = next(p for p in problems if p.code == "pileup_left_out")
    assert "42 件警情集中在 1 个警情堆积点" in pileup.message
    assert "报警登记地址" in pileup.message and "keep_pileups = true" in pileup.fix
    assert "工作区 dh" in summary and "时区：Asia/Shanghai" in summary
    assert "图层：" in summary and "警情：84 件" in summary
    # category groups by their Chinese names, with the code --groups takes
    grouped = workspace_summary(workspace)
    grouped["incidents"]["by_group"] = {"burglary": 30, "own_group": 2}
    with use_language("zh_CN"):
        lines = format_summary(grouped).splitlines()
    assert lines[-2:] == ["    入室盗窃（burglary）     30", "    own group（own_group）      2"]
    assert format_summary(grouped).splitlines()[-2:] == [
        "    burglary                30",
        "    own_group                2",
    ]
    # English is unchanged outside the block
    _, problems = load_incidents(workspace)
    english = next(p for p in problems if p.code == "pileup_left_out")
    assert english.message.startswith("42 incident(s) sit at 1 point(s) where incidents pile up")


def test_bulletin_comparison_and_errors_in_chinese(workspace: Workspace) -> None:
    with use_language("zh_CN"):
        bulletin = community_bulletin(workspace, month="2024-03")
        assert bulletin.comparison.startswith("2024-03 之前没有警情：趋势为本月后半月")
        with pytest.raises(AnalyticsError) as bad_month:
            community_bulletin(workspace, month="2024-3")
        with pytest.raises(AnalyticsError) as empty:
            community_bulletin(workspace, month="2024-05")
    assert str(bad_month.value) == "月份应为 '2014-09' 这样的格式，当前为 '2024-3'。"
    assert "'2024-05' 月没有警情；警情时间范围为 2024-03-01 至 2024-03-14" in str(empty.value)
    assert "against the first half" in community_bulletin(workspace, month="2024-03").comparison


def test_hotspot_errors_and_notes_in_chinese(workspace: Workspace) -> None:
    night = parse_shift("20:00-04:00", name="night")
    with use_language("zh_CN"):
        with pytest.raises(AnalyticsError) as method:
            shift_hotspots(workspace, HotspotOptions(shift=night, method="magic"))
        with pytest.raises(AnalyticsError) as share:
            shift_hotspots(workspace, HotspotOptions(shift=night, area_share=2.0))
        result = shift_hotspots(
            workspace, HotspotOptions(shift=night, method="kde", cell_size_m=50, train_days=7,
                                      test_days=7)
        )  # fmt: skip
    assert str(method.value).startswith("热点方法 'magic' 无法识别；请选择 ")
    _chinese_only(str(method.value), "magic", "kde", "gistar", "counts", "streets")
    assert "（如 0.05 表示 5%），当前为 2" in str(share.value)
    windows = result.kpis.get("evaluation", {}).get("windows") or result.kpis.get(
        "evaluation_error", ""
    )
    assert re.search(r"[\u4e00-\u9fff]", str(windows)), result.kpis


def test_settings_errors_in_chinese(tmp_path: Path) -> None:
    with use_language("zh_CN"):
        with pytest.raises(SettingsError) as shift:
            parse_shift("late night")
        with pytest.raises(SettingsError) as effort:
            load_settings(tmp_path / "none.toml")
        with pytest.raises(SettingsError) as dwell:
            load_settings(environ={}, overrides={"dwell_min_minutes": 20})
    assert str(shift.value) == ("班次 'late night' 应为两个时间，如 '22:00-06:00'（HH:MM-HH:MM）。")
    assert str(effort.value).startswith("设置文件 '") and str(effort.value).endswith("不存在。")
    _chinese_only(str(dwell.value), "dwell_min_minutes", "dwell_max_minutes")
    # English unchanged
    with pytest.raises(SettingsError, match="should be two times like '22:00-06:00'"):
        parse_shift("late night")


def test_city_split_and_category_edits_in_chinese(workspace: Workspace) -> None:
    night = parse_shift("22:00-06:00", name="night")
    with use_language("zh_CN"):
        with pytest.raises(GisappError) as no_units:
            split_units(workspace, by="community", shift=night)
        with pytest.raises(CategoryEditError) as edits:
            save_category_table(
                workspace,
                [
                    {"category": "盗窃", "severity": 9, "preventable": "是"},
                    {"category": "盗窃", "severity": 2, "preventable": "maybe"},
                ],
            )
    assert str(no_units.value) == (
        f"工作区 {workspace.label!r} 没有巡逻力量；请先导入 'units' 表（id、mode、station_id、grid_ids）。"
    )
    assert edits.value.problems == [
        "'盗窃'：严重程度 '9' 不是 1 到 5 的整数；请选择 1（轻微）到 5（最严重）。",
        "'盗窃' 出现了两次；每个警情类别只保留一行。",
        "'盗窃'：preventable（可防性案件）只能填“是”或“否”。",
    ]


def test_blind_zone_names_and_plan_errors_in_chinese() -> None:
    routes = gpd.GeoDataFrame(
        {"unit_id": ["car-1"]}, geometry=[shapely.LineString([(0, 0), (0.01, 0)])], crs=4326
    )
    stops = pd.DataFrame(
        {"unit_id": ["car-1"], "seq": [0], "kind": ["station"], "lon": [0.0], "lat": [0.0]}
    )
    plan = plan_from_frames(routes, stops, plan_id="night-demo")
    with use_language("zh_CN"):
        name = street_zone_name("中山路", ["解放路", "人民路"], "G1", 12)
        alone = street_zone_name("中山路", [], "", 1)
        with pytest.raises(GisappError) as unit:
            plan.check_unit("car-9")
        title = plan_from_frames(routes, stops, plan_id="night-demo").title
    assert name == "中山路（解放路至人民路段），网格 G1，本班次警情 12 件"
    assert alone == "中山路，本班次警情 1 件"
    assert str(unit.value) == (
        "巡逻力量 'car-9' 不在巡逻方案 'night-demo' 中；该方案的巡逻力量为 car-1。"
    )
    assert title == "巡逻方案 night-demo"
    assert street_zone_name("Whalley Ave", ["Fitch St"], "", 1) == (
        "Whalley Ave near Fitch St, 1 incident in the shift"
    )
    assert plan.title == "Patrol plan night-demo"


# -- background jobs -----------------------------------------------------------------------


def test_a_job_speaks_the_language_of_who_submitted_it(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []

    def note_language(ws: Any, args: Any, progress: Any) -> dict[str, Any]:
        seen.append(current_language())
        return {"language": current_language()}

    monkeypatch.setitem(JOB_KINDS, "export", note_language)
    runner = JobRunner()
    location = str(workspace.location)
    # the worker thread starts in English...
    first = runner.wait(runner.submit("export", location, {}, label="en").job_id, 60)
    assert first is not None and first.result == {"language": "en"}
    worker = runner._worker
    assert worker is not None and worker.is_alive() and worker is not threading.current_thread()
    # ...and runs the jobs submitted in Chinese in Chinese
    with use_language("zh_CN"):
        done = runner.submit("export", location, {}, label="zh")
        bad_shift = runner.submit("plan", location, {"shift": "late"}, label="zh")
    assert current_language() == "en"
    done_job = runner.wait(done.job_id, 60)
    failed = runner.wait(bad_shift.job_id, 60)
    assert done_job is not None and done_job.result == {"language": "zh_CN"}
    assert failed is not None and failed.status == "failed"
    assert failed.error == "班次 'late' 应为两个时间，如 '22:00-06:00'（HH:MM-HH:MM）。"
    assert runner._worker is worker  # the same thread ran all three
    # an English job after them is in English again
    english = runner.wait(runner.submit("plan", location, {"shift": "late"}, label="en").job_id, 60)
    assert english is not None and english.error is not None
    assert english.error.startswith("shift 'late' should be two times")
    assert seen == ["en", "zh_CN"]


def test_an_unexpected_job_error_is_told_in_chinese(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any) -> dict[str, Any]:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setitem(JOB_KINDS, "export", broken)
    runner = JobRunner(max_queued=1)
    with use_language("zh_CN"):
        job = runner.submit("export", str(workspace.location), {}, label="e")
    ended = runner.wait(job.job_id, 60)
    assert ended is not None and ended.status == "failed"
    assert ended.error == "任务因意外错误而停止；详细信息已记录在服务器日志中，请联系管理员。"
    assert str(UNEXPECTED_ERROR).startswith("the job stopped on an unexpected error")


def test_busy_and_sample_errors_in_chinese(monkeypatch: pytest.MonkeyPatch) -> None:
    from gisapp.errors import BusyError

    gate = threading.Event()

    def wait(*_: Any) -> dict[str, Any]:
        gate.wait(30)
        return {}

    monkeypatch.setitem(JOB_KINDS, "export", wait)
    runner = JobRunner(max_queued=1)
    location = str(get_path("new_haven"))
    try:
        with use_language("zh_CN"):
            with pytest.raises(BusyError) as busy:
                for _n in range(4):
                    runner.submit("export", location, {}, label="c")
            with pytest.raises(GisappError) as sample:
                get_path("wuhan")
    finally:
        gate.set()
    assert str(busy.value) == "已有 1 个任务在排队等待；请过几分钟再试。"
    assert str(sample.value) == "没有示例 'wuhan'；可用的示例：new_haven, liechtenstein"
