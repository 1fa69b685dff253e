"""Saves from several processes at once, and saves cut off by ``kill -9``."""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import signal
import threading
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, Point

from gisapp.plans import Plan, plan_from_frames
from gisapp.store.geopackage import Workspace
from gisapp.store.plans import list_plans, load_plan, save_plan

# fork: the children share this module's functions without importing the test package.
_CTX = mp.get_context("fork")
_TIMEOUT_S = 120


def _plan(plan_id: str, n_units: int = 2) -> Plan:
    units = [f"car-{i}" for i in range(1, n_units + 1)]
    routes = gpd.GeoDataFrame(
        {"unit_id": units, "mode": ["car"] * n_units, "distance_m": [1000.0] * n_units},
        geometry=[
            LineString([(-72.92, 41.30), (-72.91 + i / 1000, 41.31)]) for i in range(n_units)
        ],
        crs="EPSG:4326",
    )
    stops = pd.DataFrame(
        {
            "unit_id": [u for u in units for _ in range(2)],
            "seq": [0, 1] * n_units,
            "kind": ["station", "hotspot"] * n_units,
            "name": ["HQ", "Market"] * n_units,
            "lon": [-72.92, -72.91] * n_units,
            "lat": [41.30, 41.31] * n_units,
            "arrive": ["", "2014-09-18T22:10:00-04:00"] * n_units,
            "depart": ["2014-09-18T22:00:00-04:00", "2014-09-18T22:20:00-04:00"] * n_units,
            "dwell_min": [0.0, 10.0] * n_units,
            "street": ["Main St", "Elm St"] * n_units,
            "hotspot_id": ["", "h1"] * n_units,
            "grid_id": ["g1", "g1"] * n_units,
        }
    )
    hotspots = gpd.GeoDataFrame(
        {"id": ["h1"], "risk": [0.5]}, geometry=[Point(-72.91, 41.31)], crs="EPSG:4326"
    )
    kpis = {"units_used": n_units, "risk_covered_share": 0.5, "timezone": "America/New_York"}
    return plan_from_frames(
        routes, stops, kpis=kpis, plan_id=plan_id, hotspots=hotspots, shift="22:00-06:00"
    )


def _stations(label: str) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"id": ["s1", "s2"], "name": [label, label], "kind": ["station", "post"]},
        geometry=[Point(-72.92, 41.30), Point(-72.90, 41.31)],
        crs="EPSG:4326",
    )


@pytest.fixture
def workspace_path(tmp_path: Path) -> Path:
    path = tmp_path / "ws.gpkg"
    Workspace.create(path, {"stations": _stations("start")}, meta={"timezone": "America/New_York"})
    return path


def _save_plans(path: str, prefix: str, rounds: int, barrier: mp.synchronize.Barrier) -> None:
    ws = Workspace.open(path)
    for i in range(rounds):
        barrier.wait(_TIMEOUT_S)
        save_plan(_plan(f"{prefix}-{i:02d}"), ws)


def _save_layers(path: str, rounds: int, barrier: mp.synchronize.Barrier) -> None:
    ws = Workspace.open(path)
    for i in range(rounds):
        barrier.wait(_TIMEOUT_S)
        ws.save({"stations": _stations(f"round {i}")}, meta={"stations_round": str(i)})


def _run_all(processes: list[mp.process.BaseProcess]) -> None:
    for process in processes:
        process.start()
    for process in processes:
        process.join(_TIMEOUT_S)
    codes = [process.exitcode for process in processes]
    assert codes == [0] * len(processes), f"a saving process failed: exit codes {codes}"


@pytest.mark.slow
def test_two_processes_saving_plans_at_once_keep_every_plan(workspace_path: Path) -> None:
    rounds = 20
    barrier = _CTX.Barrier(2)
    _run_all(
        [
            _CTX.Process(target=_save_plans, args=(str(workspace_path), side, rounds, barrier))
            for side in ("cli", "web")
        ]
    )
    ws = Workspace.open(workspace_path)
    expected = {f"{side}-{i:02d}" for side in ("cli", "web") for i in range(rounds)}
    assert set(list_plans(ws)["plan_id"]) == expected
    for plan_id in ("cli-00", "web-19"):
        plan = load_plan(ws, plan_id)
        assert plan.unit_ids == ["car-1", "car-2"] and len(plan.stops) == 4
    routes = ws.layer("plan_routes")
    assert len(routes) == 2 * len(expected)  # no plan saved twice, none half
    assert sorted(p.name for p in workspace_path.parent.iterdir()) == ["ws.gpkg"]


def test_layer_save_and_plan_save_at_once_keep_both(workspace_path: Path) -> None:
    rounds = 4
    barrier = _CTX.Barrier(2)
    _run_all(
        [
            _CTX.Process(target=_save_plans, args=(str(workspace_path), "p", rounds, barrier)),
            _CTX.Process(target=_save_layers, args=(str(workspace_path), rounds, barrier)),
        ]
    )
    ws = Workspace.open(workspace_path)
    assert set(list_plans(ws)["plan_id"]) == {f"p-{i:02d}" for i in range(rounds)}
    assert ws.layer("stations")["name"].tolist() == [f"round {rounds - 1}"] * 2
    assert ws.meta["stations_round"] == str(rounds - 1)
    assert ws.timezone == "America/New_York"
    assert "risk_covered_share" in ws.meta["plan_kpis"]


def test_threads_saving_plans_into_one_open_workspace_keep_every_plan(
    workspace_path: Path,
) -> None:
    ws = Workspace.open(workspace_path)
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def save(prefix: str) -> None:
        try:
            start.wait(_TIMEOUT_S)
            for i in range(3):
                save_plan(_plan(f"{prefix}-{i}"), ws)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(p,)) for p in ("a", "b", "c")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(_TIMEOUT_S)
    assert errors == []
    assert len(list_plans(ws)) == 9
    assert len(list_plans(Workspace.open(workspace_path))) == 9


def test_saving_a_plan_again_replaces_only_its_rows(workspace_path: Path) -> None:
    ws = Workspace.open(workspace_path)
    save_plan(_plan("first", n_units=3), ws)
    save_plan(_plan("second"), ws)
    save_plan(_plan("first", n_units=1), ws)
    assert list(list_plans(ws)["plan_id"]) == ["first", "second"]
    assert load_plan(ws, "first").unit_ids == ["car-1"]
    assert load_plan(ws, "second").unit_ids == ["car-1", "car-2"]
    assert len(ws.layer("plan_stops")) == 2 + 4


def _big_points(n: int, seed: int) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    return gpd.GeoDataFrame(
        {"id": [f"p{i}" for i in range(n)], "value": rng.random(n)},
        geometry=gpd.points_from_xy(rng.uniform(-73, -72, n), rng.uniform(41, 42, n)),
        crs="EPSG:4326",
    )


def _save_big_layer(path: str, n: int, started: mp.synchronize.Event) -> None:
    ws = Workspace.open(path)
    big = _big_points(n, seed=7)
    started.set()
    ws.save({"incidents_big": big}, meta={"big_rows": str(n)})


def _wait_for(
    predicate: Callable[[], bool], timeout_s: float, process: BaseProcess | None = None
) -> bool:
    """Poll ``predicate`` until it holds (True) or ``process`` ended or time ran out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        if process is not None and not process.is_alive():
            return False
        time.sleep(0.0002)
    return False


def _is_hot(journal: Path) -> bool:
    try:
        with journal.open("rb") as fh:
            return fh.read(8) == bytes.fromhex("d9d505f920a163d7")
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(4))
def test_kill_during_a_save_leaves_old_or_new_content_and_no_stray_files(
    workspace_path: Path, trial: int
) -> None:
    n = 60_000
    if trial % 2:
        # Seed the old content with a smaller version of the layer, so "old" is not "absent".
        Workspace.open(workspace_path).save(
            {"incidents_big": _big_points(100, seed=1)}, meta={"big_rows": "100"}
        )
    journal = workspace_path.with_name(workspace_path.name + "-journal")
    started = _CTX.Event()
    child = _CTX.Process(target=_save_big_layer, args=(str(workspace_path), n, started))
    child.start()
    killed_while_hot = False
    try:
        assert started.wait(_TIMEOUT_S)
        if trial == 0:
            # Kill inside the transaction: its journal exists only while it runs.
            assert _wait_for(journal.exists, _TIMEOUT_S), "the save never started writing"
        elif trial == 1:
            # Kill while the workspace file itself is being written (the journal is hot).
            killed_while_hot = _wait_for(lambda: _is_hot(journal), _TIMEOUT_S, child)
        else:
            time.sleep(random.Random(trial).uniform(0.0, 1.5))
        if child.is_alive():  # it may have finished its save already
            os.kill(child.pid or 0, signal.SIGKILL)
    finally:
        child.join(_TIMEOUT_S)
    assert child.exitcode in (-signal.SIGKILL, 0)
    ws = Workspace.open(workspace_path)
    old_rows = 100 if trial % 2 else 0
    rows = len(ws.layer("incidents_big")) if ws.has_layer("incidents_big") else 0
    assert rows in (old_rows, n)
    assert ws.meta.get("big_rows", "0") == str(rows)  # the layer and its metadata together
    if trial == 0 or killed_while_hot:
        assert rows == old_rows  # killed before its commit ended
    assert ws.layer("stations")["name"].tolist() == ["start", "start"]
    assert sorted(p.name for p in workspace_path.parent.iterdir()) == ["ws.gpkg"]


def test_a_save_waiting_too_long_says_the_workspace_is_busy(
    workspace_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gisapp.errors import WorkspaceError
    from gisapp.store import geopackage

    monkeypatch.setattr(geopackage, "WRITE_TIMEOUT_S", 0.2)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with Workspace.open(workspace_path).write_lock():
            holding.set()
            release.wait(_TIMEOUT_S)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(_TIMEOUT_S)
        with pytest.raises(WorkspaceError, match=r"'ws.gpkg' is busy.*try again"):
            save_plan(_plan("late"), Workspace.open(workspace_path))
    finally:
        release.set()
        holder.join(_TIMEOUT_S)
    save_plan(_plan("late"), Workspace.open(workspace_path))  # free again
    assert list(list_plans(Workspace.open(workspace_path))["plan_id"]) == ["late"]
