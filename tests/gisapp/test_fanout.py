"""A city planned area by area: each area's plan has only its units, every area is
reported (planned, failed with its message, or skipped with the reason), a unit spanning
areas goes where most of its grids are, and workers give the plans this process gives.

The worker test needs a Redis server: ``bash .ci/redis.sh`` and
``GISAPP_TEST_REDIS_URL=redis://localhost:6390/0``; it skips without it unless
``GISAPP_REQUIRE_SERVERS=1``. The city is planned on both stores (a GeoPackage copy of the
New Haven sample and a PostGIS copy of it, ``tests/conftest.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from gisapp.cli import cli
from gisapp.errors import GisappError
from gisapp.services.fanout import (
    CityPlanReport,
    area_tag,
    plan_city,
    split_units,
    write_city_report,
)
from gisapp.services.job_kinds import JOB_KINDS
from gisapp.services.jobs import JobRunner, RQJobQueue
from gisapp.settings import Settings, parse_shift
from gisapp.store import open_workspace
from gisapp.store.plans import load_plan
from gisapp.store.workspace import copy_workspace

NIGHT = parse_shift("22:00-06:00")
SMALL = Settings(plan_effort=3_000)
#: The New Haven sample's sub-districts hold grids nh-g001..028 (s1), 029..071 (s2),
#: 072..098 (s3), 099..111 (s4), 112..156 (s5) and 157..202 (s6).
SUBDISTRICTS = ("nh-s1", "nh-s2", "nh-s3", "nh-s4", "nh-s5", "nh-s6")


def _grids(first: int, last: int) -> list[str]:
    return [f"nh-g{i:03d}" for i in range(first, last + 1)]


def _save_units(location: str, rows: list[tuple[str, list[str], str]]) -> None:
    units = pd.DataFrame(
        {
            "id": [r[0] for r in rows],
            "mode": "car",
            "station_id": "nhpd-hq",
            "grid_ids": [",".join(r[1]) for r in rows],
            "shift": [r[2] for r in rows],
        }
    )
    open_workspace(location).save({"units": units})


#: Four night cars: car-2 and car-3 have grids in two sub-districts; car-4 names no grids,
#: and the sample's grids of nh-s4 name it as their unit. nh-s5 and nh-s6 have no car.
FOUR_CARS = [
    ("car-1", _grids(1, 28), ""),
    ("car-2", [*_grids(29, 71), "nh-g072", "nh-g073"], ""),
    ("car-3", [*_grids(74, 98), "nh-g001"], ""),
    ("car-4", [], ""),
]
AREA_OF = {"car-1": "nh-s1", "car-2": "nh-s2", "car-3": "nh-s3", "car-4": "nh-s4"}


@pytest.fixture
def city(sample_location: str) -> str:
    """A copy of the New Haven sample with four night cars over four sub-districts, on every
    store."""
    _save_units(sample_location, FOUR_CARS)
    return sample_location


def _plan(location: str, jobs: Any, **changes: Any) -> CityPlanReport:
    options: dict[str, Any] = {
        "by": "subdistrict",
        "shift": NIGHT,
        "date": pd.Timestamp("2014-09-18").date(),
        "seed": 3,
        "settings": SMALL,
        "jobs": jobs,
        "timeout_s": 600.0,
    }
    return plan_city(location, **{**options, **changes})


# -- cutting the city into areas -------------------------------------------------------------


def test_units_go_to_the_area_holding_most_of_their_grids(city: str) -> None:
    split = split_units(open_workspace(city), by="subdistrict", shift=NIGHT)
    assert [a.area_id for a in split.areas] == list(SUBDISTRICTS)
    assert {a.area_id: a.unit_ids for a in split.areas} == {
        "nh-s1": ("car-1",),
        "nh-s2": ("car-2",),
        "nh-s3": ("car-3",),
        "nh-s4": ("car-4",),
        "nh-s5": (),
        "nh-s6": (),
    }
    spanning = {p.unit_id: (p.area_id, dict(p.grids_by_area)) for p in split.spanning}
    assert spanning == {
        "car-2": ("nh-s2", {"nh-s2": 43, "nh-s3": 2}),
        "car-3": ("nh-s3", {"nh-s3": 25, "nh-s1": 1}),
    }
    assert not split.unplaced


def test_a_tie_goes_to_the_area_listed_first_and_units_off_shift_or_without_grids_wait(
    city: str,
) -> None:
    _save_units(
        city,
        [
            ("car-1", ["nh-g160", "nh-g120"], ""),  # one grid in nh-s6, one in nh-s5
            ("car-2", ["nh-g001"], "08:00-16:00"),  # not on the night shift
            ("car-3", ["nh-g999"], ""),  # a grid of no sub-district
            ("car-9", [], ""),  # no grids, and no grid names it
        ],
    )
    split = split_units(open_workspace(city), by="subdistrict", shift=NIGHT)
    placed = {a.area_id: a.unit_ids for a in split.areas if a.unit_ids}
    assert placed == {"nh-s5": ("car-1",)}
    assert set(split.unplaced) == {"car-3", "car-9"}
    assert "sub-district" in split.unplaced["car-3"]
    assert "grid_ids" in split.unplaced["car-9"]


def test_areas_by_community_and_unknown_levels(city: str) -> None:
    ws = open_workspace(city)
    split = split_units(ws, by="community", shift=NIGHT)
    assert len(split.areas) == 30
    by_unit = {u: a.area_id for a in split.areas for u in a.unit_ids}
    assert set(by_unit) == {"car-1", "car-2", "car-3", "car-4"}
    assert all(by_unit[u].startswith("nh-c") for u in by_unit)
    with pytest.raises(GisappError, match="subdistrict or community"):
        split_units(ws, by="district", shift=NIGHT)


def test_area_tags_stay_apart_and_safe() -> None:
    assert area_tag("nh-s1") == "a-nh-s1"
    first, second = area_tag("江汉街道"), area_tag("武昌街道")
    assert first != second
    assert all((c.isalnum() and c.isascii()) or c in "_-" for c in first + second)


# -- planning ---------------------------------------------------------------------------------


def test_each_area_is_planned_with_only_its_units(city: str, tmp_path: Path) -> None:
    report = _plan(city, JobRunner())
    assert [a.area_id for a in report.areas] == list(SUBDISTRICTS)
    ws = open_workspace(city)
    for unit_id, area_id in AREA_OF.items():
        area = report.area(area_id)
        assert area.status == "done", area.error
        assert area.unit_ids == (unit_id,)
        assert area.plan_id == f"2014-09-18-2200-0600-s3-{area_tag(area_id)}"
        saved = load_plan(ws, area.plan_id)
        assert set(saved.routes["unit_id"].astype(str)) == {unit_id}
        assert area.hotspot_stops == int(saved.routes["hotspot_stops"].sum()) > 0
        assert area.distance_km == pytest.approx(saved.routes["distance_m"].sum() / 1000.0)
        assert area.dosage > 0 and area.seconds is not None
    for area_id in ("nh-s5", "nh-s6"):
        skipped = report.area(area_id)
        assert skipped.status == "skipped" and skipped.plan_id is None
        assert "no unit on the 22:00-06:00 shift" in (skipped.error or "")
    totals = report.totals
    assert (totals["areas_planned"], totals["areas_skipped"], totals["areas_failed"]) == (4, 2, 0)
    assert totals["hotspot_stops"] == sum(report.area(a).hotspot_stops for a in AREA_OF.values())

    written = write_city_report(report, tmp_path / "out")
    data = json.loads(written[0].read_text(encoding="utf-8"))  # strict JSON
    assert data["totals"] == totals
    assert [a["area_id"] for a in data["areas"]] == list(SUBDISTRICTS)
    assert {u["unit_id"] for u in data["spanning_units"]} == {"car-2", "car-3"}
    raw = written[1].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    table = pd.read_csv(written[1], encoding="utf-8-sig")
    assert list(table["status"]) == ["done"] * 4 + ["skipped"] * 2


def test_a_failing_area_is_reported_and_the_others_gathered(
    city: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    planned = JOB_KINDS["plan"]

    def plan_or_fail(ws: Any, args: Mapping[str, Any], progress: Any) -> dict[str, Any]:
        if "car-2" in args["unit_ids"]:
            raise GisappError("station nhpd-hq is closed tonight; choose another station")
        return planned(ws, args, progress)

    monkeypatch.setitem(JOB_KINDS, "plan", plan_or_fail)
    report = _plan(city, JobRunner())
    failed = report.area("nh-s2")
    assert failed.status == "failed" and failed.plan_id is None
    assert failed.error == "station nhpd-hq is closed tonight; choose another station"
    assert [report.area(a).status for a in ("nh-s1", "nh-s3", "nh-s4")] == ["done"] * 3
    assert report.totals["areas_failed"] == 1


def test_more_areas_than_the_queue_holds_wait_their_turn(
    city: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[list[str]] = []

    def quick(ws: Any, args: Mapping[str, Any], progress: Any) -> dict[str, Any]:
        calls.append(list(args["unit_ids"]))
        time.sleep(0.05)
        return {"plan_id": f"p-{args['plan_tag']}", "kpis": {"hotspot_stops": 2}, "seconds": 0.05}

    monkeypatch.setitem(JOB_KINDS, "plan", quick)
    report = _plan(city, JobRunner(max_queued=1), by="community")
    planned = [a for a in report.areas if a.status == "done"]
    assert len(planned) == len(calls) == 4
    assert report.totals["hotspot_stops"] == 8


def test_a_sample_is_refused_in_the_users_words() -> None:
    with pytest.raises(GisappError, match="copy it to a file or a database first") as refused:
        plan_city("sample:new_haven", shift=NIGHT, settings=SMALL, jobs=JobRunner(), timeout_s=5.0)
    assert "gisapp copy sample:new_haven postgresql://" in str(refused.value)


def test_the_command_writes_the_city_report(
    city: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GISAPP_JOB_QUEUE", raising=False)
    monkeypatch.delenv("GISAPP_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "report"
    args = ["plan", city, "--by", "subdistrict", "--shift", "22:00-06:00"]
    args += ["--date", "2014-09-18", "--seed", "3", "--effort", "3000", "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert sum(line.startswith("nh-s") for line in lines) == 6
    assert any(line.startswith("city: 4 of 6 area(s) planned") for line in lines)
    assert "note: car-2 spans areas (grids: nh-s2 43, nh-s3 2); planned with nh-s2" in lines
    assert {p.name for p in out.iterdir()} == {"city_report.json", "city_report.csv"}

    refused = CliRunner().invoke(cli, [*args, "--units", "car-1"])
    assert refused.exit_code == 2
    assert "leave out --units" in refused.output


# -- workers ----------------------------------------------------------------------------------


def _worker(url: str, cwd: Path) -> subprocess.Popen[bytes]:
    """A ``gisapp worker --burst`` process on the queue at ``url``; its log in ``cwd``."""
    env = {k: v for k, v in os.environ.items() if k not in ("GISAPP_CONFIG", "GISAPP_JOB_QUEUE")}
    command = [sys.executable, "-c", "import sys; from gisapp.cli import main; sys.exit(main())"]
    command += ["worker", "--queue", url, "--burst"]
    with (cwd / "worker.log").open("ab") as log:
        return subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=log)


def _plans(location: str, report: CityPlanReport) -> dict[str, Any]:
    """Every planned area's saved routes and timetable, as plain data."""
    ws = open_workspace(location)
    result: dict[str, Any] = {}
    for area in report.areas:
        if area.plan_id:
            plan = load_plan(ws, area.plan_id)
            routes = plan.routes[["unit_id", "distance_m", "duration_s", "hotspot_stops"]]
            stops = plan.stops[["unit_id", "seq", "kind", "hotspot_id", "arrive", "depart"]]
            result[area.area_id] = (area.plan_id, routes.to_dict("list"), stops.to_dict("list"))
    return result


@pytest.mark.slow
def test_workers_give_the_plans_this_process_gives(
    redis_url: str, city: str, backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    here = _plan(city, JobRunner())
    # a second copy of the sample on the same store
    there_location = (
        str(tmp_path / "there.gpkg")
        if backend == "gpkg"
        else str(request.getfixturevalue("postgis_url"))
    )
    copy_workspace(open_workspace("sample:new_haven"), there_location)
    _save_units(there_location, FOUR_CARS)
    queue = RQJobQueue(redis_url)
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(_plan, there_location, queue)
        deadline = time.monotonic() + 60
        while queue.queue.count < 4 and time.monotonic() < deadline:
            time.sleep(0.1)
        worker = _worker(redis_url, tmp_path)
        assert worker.wait(timeout=900) == 0, (tmp_path / "worker.log").read_text()
        there = future.result(timeout=120)
    assert [a.status for a in there.areas] == [a.status for a in here.areas]
    assert [a.plan_id for a in there.areas] == [a.plan_id for a in here.areas]
    for mine, theirs in zip(here.areas, there.areas, strict=True):
        assert (mine.dosage, mine.hotspot_stops) == (theirs.dosage, theirs.hotspot_stops)
        assert mine.distance_km == pytest.approx(theirs.distance_km)
    assert _plans(city, here) == _plans(there_location, there)
