"""A city planned area by area on one and on two ``gisapp worker`` processes.

Instance: the generated Wuhan city of ``bench/city.py`` (real streets, generated stations,
grids, cars and incidents), kept to the streets of a centred 12 km square so that a run
takes a few minutes on a small machine: 20 cars over 10 stations, 20,000 incidents around
120 centres. The generated city has no sub-districts or communities layer; its grids'
``community_id`` is the nearest station's area (``area-01``...), so the city is planned
**by community**, which here means by station area: 10 areas of 2 cars each.

Each area is one ``plan`` job (:func:`gisapp.services.fanout.plan_city`, night shift
22:00-06:00 of 2024-04-24, seed 0) with a small search, ``plan_effort = 5000`` branches
sent with the jobs' settings, on an RQ queue over the Redis at ``GISAPP_TEST_REDIS_URL``
(default ``redis://localhost:6390/0``). The workers are started and registered before the
clock starts, and each run plans a fresh copy of the same workspace (the street network
cached on disk beforehand, so both runs read it the same way).

Reported: ``anchor_s`` (1 worker) and ``ours_s`` (2 workers) wall seconds from the first
submission to the last area gathered, ``ratio`` (throughput of 2 workers / 1 worker),
``job_s`` (the areas' own seconds, summed), and ``same_plans``: every area's saved plan
(id, key figures, routes and timetable) equal in both runs. Sizes, for planning storage:
``city_gpkg_bytes`` (the workspace before planning), ``network_nodes``,
``network_segments`` and ``network_cache_bytes`` (the street network cached on disk),
``plans_bytes`` (how much the workspace file grew with the areas' plans, 1-worker run)
and ``plan_stops`` (the saved stops of every area's plan). Last, the same areas are
planned once more in this process (``JobRunner``, no Redis) at the default ``plan_effort``:
``job_s_default_effort``, the areas' own seconds summed, for sizing workers.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.city import STREETS, build_city  # noqa: E402
from gisapp.services.fanout import CityPlanReport, plan_city  # noqa: E402
from gisapp.services.jobs import QUEUE_NAME, JobRunner, RQJobQueue  # noqa: E402
from gisapp.settings import Settings, parse_shift  # noqa: E402

logger = logging.getLogger(__name__)

REDIS_URL = os.environ.get("GISAPP_TEST_REDIS_URL", "redis://localhost:6390/0")
N_UNITS = 20
N_STATIONS = 10
N_INCIDENTS = 20_000
N_CENTRES = 120
EXTENT_KM = 12.0
PLAN_EFFORT = 5_000
SHIFT = "22:00-06:00"
DATE = dt.date(2024, 4, 24)
WORKERS = (1, 2)


def _start_workers(n: int, cwd: Path) -> list[subprocess.Popen[bytes]]:
    """``n`` ``gisapp worker`` processes on the queue, registered before this returns."""
    from redis import Redis
    from rq import Queue, Worker

    env = {k: v for k, v in os.environ.items() if k not in ("GISAPP_CONFIG", "GISAPP_JOB_QUEUE")}
    command = [sys.executable, "-c", "import sys; from gisapp.cli import main; sys.exit(main())"]
    command += ["worker", "--queue", REDIS_URL]
    workers = []
    for i in range(n):
        with (cwd / f"worker-{i}.log").open("ab") as log:
            workers.append(subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=log))
    connection = Redis.from_url(REDIS_URL)
    queue = Queue(QUEUE_NAME, connection=connection)
    deadline = time.monotonic() + 120
    while Worker.count(queue=queue) < n:
        if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
            _stop(workers)
            raise RuntimeError(f"the workers did not start; see {cwd}/worker-*.log")
        time.sleep(0.2)
    return workers


def _stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        worker.terminate()
    for worker in workers:
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def _saved_plans(path: Path, report: CityPlanReport) -> dict[str, Any]:
    """Every planned area's saved routes and timetable, as comparable plain data."""
    from gisapp.store import open_workspace
    from gisapp.store.plans import load_plan

    ws = open_workspace(str(path))
    plans: dict[str, Any] = {}
    for area in report.areas:
        if area.plan_id:
            plan = load_plan(ws, area.plan_id)
            routes = plan.routes[["unit_id", "distance_m", "duration_s", "hotspot_stops"]]
            stops = plan.stops[["unit_id", "seq", "kind", "hotspot_id", "arrive", "depart"]]
            plans[area.area_id] = {
                "plan_id": area.plan_id,
                "dosage": area.dosage,
                "hotspot_stops": area.hotspot_stops,
                "routes": json.loads(routes.to_json()),
                "stops": json.loads(stops.to_json(date_format="iso")),
                "n_stops": len(plan.stops),
            }
    return plans


def _run_with(n_workers: int, city: Path, tmp: Path) -> tuple[CityPlanReport, dict[str, Any]]:
    """Plan a fresh copy of ``city`` on ``n_workers`` workers; the report and saved plans.

    The saved plans carry ``_bytes``: how much the copy's file grew with them.
    """
    path = _copy_city(city, tmp / f"city-{n_workers}w.gpkg")
    jobs = RQJobQueue(REDIS_URL)
    workers = _start_workers(n_workers, tmp)
    try:
        report = plan_city(
            str(path),
            by="community",
            shift=parse_shift(SHIFT),
            date=DATE,
            seed=0,
            settings=Settings(plan_effort=PLAN_EFFORT),
            jobs=jobs,
            timeout_s=1800.0,
        )
    finally:
        _stop(workers)
    plans = _saved_plans(path, report)
    plans["_bytes"] = path.stat().st_size - city.stat().st_size
    return report, plans


def _copy_city(city: Path, path: Path) -> Path:
    """A copy of the ``city`` workspace at ``path``, with its stored street network."""
    shutil.copy(city, path)
    cache = Path(f"{city}.cache")
    if cache.is_dir():
        shutil.copytree(cache, Path(f"{path}.cache"), dirs_exist_ok=True)
    return path


def _default_effort_s(city: Path, tmp: Path) -> tuple[float, int]:
    """The areas' own seconds, summed, planned in this process at the default effort."""
    path = _copy_city(city, tmp / "city-default-effort.gpkg")
    settings = Settings()
    report = plan_city(
        str(path),
        by="community",
        shift=parse_shift(SHIFT),
        date=DATE,
        seed=0,
        settings=settings,
        jobs=JobRunner(max_queued=4 * N_STATIONS),
        timeout_s=1800.0,
    )
    seconds: float = report.totals["job_seconds"]
    return seconds, settings.plan_effort


def _folder_bytes(folder: Path) -> int:
    """The bytes of every file under ``folder`` (0 when it is absent)."""
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def run() -> list[dict[str, Any]]:
    """Plan the generated city with 1 and with 2 workers; one result line."""
    from gisapp.services.network import workspace_network
    from gisapp.store import open_workspace

    line: dict[str, Any] = {
        "bench": "scale_fanout",
        "instance": f"generated Wuhan city, {EXTENT_KM:g} km square, {N_UNITS} cars over "
        f"{N_STATIONS} station areas, night {SHIFT} of {DATE}, plan_effort {PLAN_EFFORT}",
        "anchor": "1 worker",
    }
    if not STREETS.exists():
        return [{**line, "error": f"the street file {STREETS} is missing"}]
    with tempfile.TemporaryDirectory(prefix="scale_fanout-") as folder:
        tmp = Path(folder)
        city = build_city(
            tmp / "city.gpkg",
            n_units=N_UNITS,
            n_stations=N_STATIONS,
            n_incidents=N_INCIDENTS,
            n_centres=N_CENTRES,
            extent_km=EXTENT_KM,
        ).path
        network = workspace_network(open_workspace(str(city)), "car")  # cached for both runs
        sizes = {
            "city_gpkg_bytes": city.stat().st_size,
            "network_nodes": network.n_nodes,
            "network_segments": network.n_segments,
            "network_cache_bytes": _folder_bytes(Path(f"{city}.cache")),
        }
        runs = {n: _run_with(n, city, tmp) for n in WORKERS}
        default_s, default_effort = _default_effort_s(city, tmp)
    (one, one_plans), (two, two_plans) = runs[1], runs[2]
    plans_bytes = one_plans.pop("_bytes")
    two_plans.pop("_bytes")
    failed = [a.area_id for r in (one, two) for a in r.areas if a.status != "done"]
    return [
        {
            **line,
            "areas": len(one.areas),
            "units": one.totals["units_planned"],
            "anchor_s": round(one.wall_s, 2),
            "ours_s": round(two.wall_s, 2),
            "ratio": round(one.wall_s / two.wall_s, 3) if two.wall_s else None,
            "job_s_1_worker": one.totals["job_seconds"],
            "job_s_2_workers": two.totals["job_seconds"],
            "same_plans": one_plans == two_plans and len(one_plans) == len(one.areas),
            "hotspot_risk_dosed": one.totals["hotspot_risk_dosed"],
            "hotspot_stops": one.totals["hotspot_stops"],
            **sizes,
            "plans_bytes": plans_bytes,
            "plan_stops": sum(p["n_stops"] for p in one_plans.values()),
            "default_plan_effort": default_effort,
            "job_s_default_effort": default_s,
            **({"error": f"areas not planned: {', '.join(failed)}"} if failed else {}),
        }
    ]


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    for result in run():
        print(json.dumps(result), flush=True)
