"""Long jobs as data: the in-process runner and RQ workers over Redis give the same saved
plan, show progress, report a user's error as its message, and a worker killed mid-job
leaves the job failed and the workspace as it was.

The Redis tests need a server: ``bash .ci/redis.sh`` and
``GISAPP_TEST_REDIS_URL=redis://localhost:6390/0``; they skip without it unless
``GISAPP_REQUIRE_SERVERS=1``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from gisapp.errors import BusyError, GisappError, SettingsError
from gisapp.samples import get_path
from gisapp.services.job_kinds import JOB_KINDS, settings_args, settings_from_args
from gisapp.services.jobs import (
    UNEXPECTED_ERROR,
    WORKER_LOST_ERROR,
    JobRunner,
    RQJobQueue,
    job_queue,
    run_worker,
)
from gisapp.settings import Settings, load_settings
from gisapp.store import open_workspace
from gisapp.store.plans import list_plans, load_plan

#: A quick night plan of the New Haven sample: two cars, few hotspots, a small search.
SMALL_PLAN: dict[str, Any] = {
    "shift": "22:00-06:00",
    "date": "2014-09-18",
    "unit_ids": ["car-1", "car-2"],
    "seed": 3,
    "n_hotspots": 15,
    "settings": settings_args(Settings(plan_effort=3_000)),
}
#: The same plan with a search long enough to stop a worker in the middle of it.
SLOW_PLAN: dict[str, Any] = {
    **SMALL_PLAN,
    "n_hotspots": 40,
    "settings": settings_args(Settings(plan_effort=5_000_000)),
}


@pytest.fixture
def new_haven(tmp_path: Path) -> Path:
    path = tmp_path / "new_haven.gpkg"
    shutil.copy(get_path("new_haven"), path)
    return path


def _worker(url: str, cwd: Path, *, burst: bool = True) -> subprocess.Popen[bytes]:
    """A ``gisapp worker`` process on the queue at ``url``; its log in ``cwd/worker.log``."""
    env = {k: v for k, v in os.environ.items() if k not in ("GISAPP_CONFIG", "GISAPP_JOB_QUEUE")}
    command = [sys.executable, "-c", "import sys; from gisapp.cli import main; sys.exit(main())"]
    command += ["worker", "--queue", url, *(["--burst"] if burst else [])]
    with (cwd / "worker.log").open("ab") as log:
        return subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=log)


def _log(cwd: Path) -> str:
    return (cwd / "worker.log").read_text(encoding="utf-8", errors="replace")[-3000:]


def _route_and_stops(path: Path, plan_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    plan = load_plan(open_workspace(str(path)), plan_id)
    routes = plan.routes[["unit_id", "distance_m", "duration_s", "hotspot_stops"]]
    stops = plan.stops[["unit_id", "seq", "kind", "hotspot_id", "arrive", "depart"]]
    return routes.reset_index(drop=True), stops.reset_index(drop=True)


# -- the seam, without servers -----------------------------------------------------------


def test_settings_pick_the_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(job_queue(Settings()), JobRunner)
    env = {"GISAPP_JOB_QUEUE": "redis://localhost:6379/0"}
    assert load_settings(environ=env).job_queue == "redis://localhost:6379/0"
    with pytest.raises(SettingsError, match="Redis address like redis://"):
        job_queue(Settings(job_queue="http://localhost:6379"))
    # a port nothing listens on: the user is told to start Redis, no traceback
    with pytest.raises(BusyError, match=r"redis://127\.0\.0\.1:1 does not answer"):
        job_queue(Settings(job_queue="redis://:secret@127.0.0.1:1/0"))


def test_job_settings_travel_as_data_without_secrets() -> None:
    settings = Settings(plan_effort=1234, secret_key="s3", job_queue="redis://x:6379/0")
    args = settings_args(settings)
    assert "secret_key" not in args and "job_queue" not in args
    again = settings_from_args({"settings": args})
    assert again.plan_effort == 1234 and again.response_minutes == settings.response_minutes
    assert again.secret_key is None
    with pytest.raises(GisappError, match="unknown setting"):
        settings_from_args({"settings": {"plan_effot": 1}})


def test_a_job_is_data_of_a_known_kind(new_haven: Path) -> None:
    runner = JobRunner()
    with pytest.raises(GisappError, match="no kind of job 'route'; the kinds are plan, "):
        runner.submit("route", str(new_haven), {}, label="route")
    with pytest.raises(GisappError, match="cannot be sent to a worker"):
        runner.submit("plan", str(new_haven), {"date": object()}, label="plan")


def test_a_user_error_in_a_job_is_its_message(new_haven: Path, tmp_path: Path) -> None:
    runner = JobRunner()
    job = runner.submit("export", str(new_haven), {"out": str(tmp_path / "out")}, label="x")
    ended = runner.wait(job.job_id, timeout_s=120)
    assert ended is not None and ended.status == "failed"
    assert ended.error is not None and "plan" in ended.error
    assert ended.error != UNEXPECTED_ERROR


def test_a_missing_workspace_is_the_users_message(tmp_path: Path) -> None:
    runner = JobRunner()
    job = runner.submit("plan", str(tmp_path / "missing.gpkg"), SMALL_PLAN, label="plan")
    ended = runner.wait(job.job_id, timeout_s=60)
    assert ended is not None and ended.status == "failed"
    assert ended.error is not None and "missing.gpkg" in ended.error


def test_an_unexpected_error_is_told_in_general_words(
    new_haven: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_: Any) -> dict[str, Any]:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setitem(JOB_KINDS, "export", broken)
    runner = JobRunner()
    ended = runner.wait(runner.submit("export", str(new_haven), {}, label="e").job_id, 60)
    assert ended is not None and ended.status == "failed" and ended.error == UNEXPECTED_ERROR
    assert "ZeroDivisionError" in caplog.text  # the traceback is in the server's log


# -- Redis: queued jobs, real workers ----------------------------------------------------


def test_a_queued_user_error_is_its_message(
    redis_url: str, new_haven: Path, tmp_path: Path
) -> None:
    jobs = RQJobQueue(redis_url)
    job = jobs.submit("export", str(new_haven), {"out": str(tmp_path / "out")}, label="export")
    queued = jobs.status(job.job_id)
    assert queued is not None and queued.status == "queued" and queued.label == "export"
    assert run_worker(redis_url, burst=True)
    ended = jobs.status(job.job_id)
    assert ended is not None and ended.status == "failed"
    in_process = JobRunner()
    expected = in_process.wait(
        in_process.submit(
            "export", str(new_haven), {"out": str(tmp_path / "o2")}, label="e"
        ).job_id,
        timeout_s=120,
    )
    assert expected is not None and ended.error == expected.error
    assert jobs.status("no-such-job") is None


def test_a_full_queue_refuses_more(redis_url: str, new_haven: Path) -> None:
    jobs = RQJobQueue(redis_url, max_queued=2)
    for _ in range(2):
        jobs.submit("export", str(new_haven), {"out": "x"}, label="export")
    with pytest.raises(BusyError, match="2 jobs are already waiting"):
        jobs.submit("export", str(new_haven), {"out": "x"}, label="export")


@pytest.mark.slow
def test_a_worker_and_the_web_process_save_the_same_plan(redis_url: str, tmp_path: Path) -> None:
    local, remote = tmp_path / "local.gpkg", tmp_path / "remote.gpkg"
    for path in (local, remote):
        shutil.copy(get_path("new_haven"), path)
    runner = JobRunner()
    here = runner.wait(
        runner.submit("plan", str(local), SMALL_PLAN, label="plan").job_id, timeout_s=600
    )
    assert here is not None and here.status == "done", here and here.error

    submitted = RQJobQueue(redis_url).submit(
        "plan", str(remote), SMALL_PLAN, label="plan", meta={"values": {"shift": "late"}}
    )
    worker = _worker(redis_url, tmp_path)
    assert worker.wait(timeout=900) == 0, _log(tmp_path)
    # a new queue object (a restarted web server) reads the job from Redis
    there = RQJobQueue(redis_url).status(submitted.job_id)
    assert there is not None and there.status == "done", there and there.error
    assert there.meta == {"values": {"shift": "late"}} and there.progress == 1.0
    assert there.result["plan_id"] == here.result["plan_id"]
    timed = {"solve_time_s"}  # wall-clock seconds, the only figure that may differ
    assert {k: v for k, v in there.result["kpis"].items() if k not in timed} == {
        k: v for k, v in here.result["kpis"].items() if k not in timed
    }
    for mine, theirs in zip(
        _route_and_stops(local, here.result["plan_id"]),
        _route_and_stops(remote, there.result["plan_id"]),
        strict=True,
    ):
        pd.testing.assert_frame_equal(mine, theirs)


def _wait_running(
    jobs: RQJobQueue, job_id: str, worker: subprocess.Popen[bytes], worker_log: Path
) -> list[float]:
    """Poll until the job reports progress while running; the shares seen."""
    seen: list[float] = []
    for _ in range(3000):
        job = jobs.status(job_id)
        assert job is not None and not job.ended, (job and job.error, _log(worker_log))
        assert worker.poll() is None, _log(worker_log)
        if job.status == "running" and job.progress > 0:
            seen.append(job.progress)
            if len(seen) >= 2:
                return seen
        time.sleep(0.2)
    pytest.fail("the job never reported progress")


def _plan_rows(location: str) -> dict[str, pd.DataFrame]:
    """The rows of each plan table of the workspace at ``location`` (either store)."""
    ws = open_workspace(location)
    tables = ("plan_index", "plan_routes", "plan_stops", "plan_hotspots")
    return {
        table: pd.DataFrame(ws.layer(table)).drop(columns="geometry", errors="ignore")
        for table in tables
        if ws.has_layer(table)
    }


@pytest.mark.slow
def test_a_worker_killed_mid_job_fails_the_job_and_saves_nothing(
    redis_url: str, sample_location: str, tmp_path: Path
) -> None:
    before = _plan_rows(sample_location)
    plans_before = list_plans(open_workspace(sample_location))
    jobs = RQJobQueue(redis_url, heartbeat_s=5.0)
    job = jobs.submit("plan", sample_location, SLOW_PLAN, label="plan")
    worker = _worker(redis_url, tmp_path, burst=False)
    try:
        seen = _wait_running(jobs, job.job_id, worker, tmp_path)
        assert all(0 < share < 1 for share in seen) and seen == sorted(seen)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    ended = jobs.wait(job.job_id, timeout_s=120)
    assert ended is not None and ended.status == "failed"
    assert ended.error == WORKER_LOST_ERROR

    from rq.registry import FailedJobRegistry

    assert job.job_id in FailedJobRegistry(queue=jobs.queue).get_job_ids()
    # a second reader, e.g. another web process, sees the same record
    again = RQJobQueue(redis_url).status(job.job_id)
    assert again is not None and again.status == "failed" and again.error == WORKER_LOST_ERROR
    # nothing half-saved, on either store: every plan table holds the rows it held
    after = _plan_rows(sample_location)
    assert after.keys() == before.keys()
    for table, rows in before.items():
        pd.testing.assert_frame_equal(after[table], rows, check_like=True)
    pd.testing.assert_frame_equal(list_plans(open_workspace(sample_location)), plans_before)


@pytest.mark.slow
def test_every_kind_runs_on_a_worker(redis_url: str, new_haven: Path, tmp_path: Path) -> None:
    jobs = RQJobQueue(redis_url)
    settings = settings_args(Settings(plan_effort=3_000))
    asked = {
        "plan": {**SMALL_PLAN},
        "export": {"out": str(tmp_path / "plan")},
        "coverage": {"out": str(tmp_path / "coverage"), "minutes": [1, 3], "settings": settings},
        "placement": {"posts": 2, "settings": settings},
        "grid_design": {"layer": "designed_grids", "n_grids": 30, "settings": settings},
    }
    ids = {
        kind: jobs.submit(kind, str(new_haven), args, label=kind).job_id
        for kind, args in asked.items()
    }
    assert run_worker(redis_url, burst=True)
    results = {}
    for kind, job_id in ids.items():
        job = jobs.status(job_id)
        assert job is not None and job.status == "done", (kind, job and job.error)
        results[kind] = job.result
    plan_id = results["plan"]["plan_id"]
    assert results["export"]["plan_id"] == plan_id
    assert {Path(f).name for f in results["export"]["files"]} >= {"kpis.json", "car-1.gpx"}
    assert (tmp_path / "coverage" / "kpis.json").is_file()
    assert [b["minutes"] for b in results["coverage"]["kpis"]["bands"]] == [1.0, 3.0]
    assert results["placement"]["kpis"]["new_posts"] == 2
    ws = open_workspace(str(new_haven))
    assert len(ws.layer(results["placement"]["layer"])) == results["placement"]["kpis"]["opened"]
    assert len(ws.layer("designed_grids")) == results["grid_design"]["kpis"]["design"]["grids"]
