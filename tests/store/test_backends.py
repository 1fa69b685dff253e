"""Every store behaves the same: a GeoPackage file and a PostGIS schema."""

from __future__ import annotations

import multiprocessing as mp
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from geopandas.testing import assert_geodataframe_equal
from shapely.geometry import LineString, Point

from gisapp.errors import WorkspaceError
from gisapp.plans import Plan, plan_from_frames
from gisapp.samples import get_path
from gisapp.store import Workspace, open_workspace
from gisapp.store.plans import PLAN_INDEX, list_plans, load_plan, save_plan

TZ = "America/New_York"


def _layers() -> dict[str, gpd.GeoDataFrame | pd.DataFrame]:
    incidents = gpd.GeoDataFrame(
        {
            "id": ["1", "2", "3"],
            # Either side of the end of daylight saving time in New York.
            "occurred_at": pd.to_datetime(
                ["2014-09-18 13:53:00", "2014-11-18 01:10:00", "2014-11-02 01:30:15"]
            ).tz_localize(TZ, ambiguous=np.array([True, False, True])),
            "category": ["theft", "burglary", "入室盗窃"],
            "severity": [1, 3, 2],
            "weight": [0.5, np.nan, 2.25],
            "preventable": [True, False, True],
            "description": ["东门外", None, "Main St"],
            "reported_at": pd.to_datetime(
                pd.Series(["2014-09-18 14:00", None, "2014-11-02 02:00"], dtype=object)
            ),
        },
        geometry=[Point(-72.93, 41.31), Point(-72.91, 41.30), None],
        crs="EPSG:4326",
    )
    stations = gpd.GeoDataFrame(
        {"id": ["s1"], "name": ["城关派出所"], "kind": ["station"]},
        geometry=[Point(-72.92, 41.30)],
        crs="EPSG:4326",
    )
    units = pd.DataFrame(
        {"id": ["u1", "u2"], "station_id": ["s1", "s1"], "capacity": np.array([2, 3], "int32")}
    )
    return {"incidents": incidents, "stations": stations, "units": units}


def _plan(plan_id: str, n_units: int = 2) -> Plan:
    units = [f"car-{i}" for i in range(1, n_units + 1)]
    routes = gpd.GeoDataFrame(
        {"unit_id": units, "mode": ["car"] * n_units, "distance_m": [1000.0] * n_units},
        geometry=[LineString([(-72.92, 41.30), (-72.91 + i / 1e3, 41.31)]) for i in range(n_units)],
        crs="EPSG:4326",
    )
    stops = pd.DataFrame(
        {
            "unit_id": [u for u in units for _ in range(2)],
            "seq": [0, 1] * n_units,
            "kind": ["station", "hotspot"] * n_units,
            "name": ["派出所", "Market"] * n_units,
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
    kpis = {"units_used": n_units, "risk_covered_share": 0.5, "timezone": TZ}
    return plan_from_frames(
        routes, stops, kpis=kpis, plan_id=plan_id, hotspots=hotspots, shift="22:00-06:00"
    )


def _create(location: str) -> Workspace:
    return Workspace.create(location, _layers(), meta={"timezone": TZ, "description": "东区"})


def assert_same_workspace(left: Workspace, right: Workspace) -> None:
    """Same layers in the same order, same rows, dtypes and geometries, same metadata."""
    assert left.layer_names() == right.layer_names()
    assert {k: v for k, v in left.meta.items() if k != "name"} == {
        k: v for k, v in right.meta.items() if k != "name"
    }
    for name in left.layer_names():
        a, b = left.layer(name), right.layer(name)
        assert type(a) is type(b), name
        if isinstance(a, gpd.GeoDataFrame):
            assert_geodataframe_equal(a, b, check_less_precise=False)
        else:
            pd.testing.assert_frame_equal(a, b)


# -- opening, reading --------------------------------------------------------------------
def test_create_and_open(location: str) -> None:
    ws = _create(location)
    again = open_workspace(location)
    assert again.layer_names() == ["incidents", "stations", "units"]
    assert again.timezone == TZ
    assert again.meta["description"] == "东区"
    assert again.location == location
    assert again.label == ws.label
    with pytest.raises(WorkspaceError, match="already"):
        _create(location)


def test_every_dtype_reads_back(location: str) -> None:
    ws = _create(location)
    incidents = ws.layer("incidents")
    assert isinstance(incidents, gpd.GeoDataFrame)
    assert str(incidents["occurred_at"].dt.tz) == TZ
    assert incidents["occurred_at"].tolist() == _layers()["incidents"]["occurred_at"].tolist()
    assert incidents["severity"].dtype == np.int64
    assert incidents["weight"].dtype == np.float64 and np.isnan(incidents["weight"][1])
    assert incidents["preventable"].dtype == bool
    assert incidents["category"].tolist() == ["theft", "burglary", "入室盗窃"]
    assert incidents["description"][0] == "东门外" and pd.isna(incidents["description"][1])
    assert str(incidents["reported_at"].dt.tz) == "UTC"
    # Naive times are the workspace's local time: 14:00 in New York is 18:00 UTC.
    assert incidents["reported_at"][0] == pd.Timestamp("2014-09-18 18:00", tz="UTC")
    assert incidents.crs.to_epsg() == 4326
    assert incidents.geometry[0].equals(Point(-72.93, 41.31)) and incidents.geometry[2] is None
    units = ws.layer("units")
    assert not isinstance(units, gpd.GeoDataFrame)
    assert units["capacity"].dtype == np.int32
    assert ws.layer("stations")["name"].tolist() == ["城关派出所"]


def test_layers_read_back_as_from_a_geopackage(location: str, tmp_path: Path) -> None:
    reference = Workspace.create(
        tmp_path / "reference.gpkg", _layers(), meta={"timezone": TZ, "description": "东区"}
    )
    ws = _create(location)
    empty = {name: frame.iloc[0:0] for name, frame in _layers().items()}
    reference.save({f"empty_{name}": frame for name, frame in empty.items()})
    ws.save({f"empty_{name}": frame for name, frame in empty.items()})
    assert sorted(ws.layer_names()) == sorted(reference.layer_names())
    for name in reference.layer_names():
        mine, theirs = ws.layer(name), reference.layer(name)
        assert list(mine.columns) == list(theirs.columns), name
        assert dict(mine.dtypes.astype(str)) == dict(theirs.dtypes.astype(str)), name
        pd.testing.assert_frame_equal(pd.DataFrame(mine), pd.DataFrame(theirs), obj=name)


# -- saving --------------------------------------------------------------------------------
def test_version_changes_on_save_and_layer_versions_follow_their_layer(location: str) -> None:
    ws = _create(location)
    before, roads_before = ws.version, ws.layer_version("stations")
    assert ws.version == before  # reading does not change it
    ws.save({}, meta={"description": "西区"})
    assert ws.version != before
    assert ws.layer_version("stations") == roads_before
    assert open_workspace(location).meta["description"] == "西区"
    moved = _layers()["stations"].assign(name=["新站"])
    ws.save({"stations": moved})
    assert ws.layer_version("stations") != roads_before
    assert ws.layer_version("nothing") == ""
    assert open_workspace(location).layer("stations")["name"].tolist() == ["新站"]


def test_delete_layer(location: str) -> None:
    ws = _create(location)
    ws.delete_layer("units")
    assert "units" not in open_workspace(location).layer_names()
    with pytest.raises(WorkspaceError, match="has no layer 'units'"):
        ws.delete_layer("units")


def _break_layer_writes(location: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the second layer a save writes fail, inside the save's transaction."""
    calls: list[str] = []

    def fail_second(original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            calls.append("write")
            if len(calls) == 2:
                raise OSError("disk full")
            return original(*args, **kwargs)

        return wrapped

    if location.startswith("postgresql://"):
        from gisapp.store import _pg_frames

        monkeypatch.setattr(_pg_frames, "insert_rows", fail_second(_pg_frames.insert_rows))
    else:
        from gisapp.store import geopackage

        monkeypatch.setattr(geopackage, "replace_table", fail_second(geopackage.replace_table))


def test_a_failing_save_leaves_the_workspace_as_it_was(
    location: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = _create(location)
    version, meta, names = ws.version, dict(ws.meta), ws.layer_names()
    _break_layer_writes(location, monkeypatch)
    changed = _layers()["stations"].assign(name=["changed"])
    with pytest.raises((OSError, WorkspaceError), match="disk full"):
        ws.save(
            {"stations": changed, "incidents": _layers()["incidents"].iloc[:1]},
            meta={"description": "changed"},
            drop=["units"],
        )
    monkeypatch.undo()
    again = open_workspace(location)
    assert again.version == version
    assert again.meta == meta and again.layer_names() == names
    assert again.layer("stations")["name"].tolist() == ["城关派出所"]
    assert len(again.layer("incidents")) == 3


def test_plans_saved_at_the_same_time_are_both_kept(location: str) -> None:
    _create(location)
    save_plan(_plan("first"), open_workspace(location))
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def save(plan_id: str) -> None:
        try:
            ws = open_workspace(location)
            start.wait(30)
            save_plan(_plan(plan_id, n_units=3), ws)
        except BaseException as exc:  # reported by the test below
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(p,)) for p in ("night-a", "night-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    ws = open_workspace(location)
    assert sorted(list_plans(ws)["plan_id"]) == ["first", "night-a", "night-b"]
    assert len(load_plan(ws, "night-a").routes) == 3
    assert len(ws.layer("plan_routes")) == 2 + 3 + 3
    # Saving a plan again replaces its rows only.
    save_plan(_plan("first", n_units=1), ws)
    assert len(open_workspace(location).layer("plan_routes")) == 1 + 3 + 3
    assert len(open_workspace(location).layer(PLAN_INDEX)) == 3


def _save_plans(location: str, prefix: str) -> None:
    """In a child process: save three plans into the workspace at ``location``."""
    ws = open_workspace(location)
    for i in range(3):
        save_plan(_plan(f"{prefix}-{i}"), ws)
        for _ in range(20):
            assert len(ws.layer("incidents")) == 3


def test_processes_saving_plans_at_once_keep_every_plan(location: str) -> None:
    ws = _create(location)
    save_plan(_plan("first"), ws)
    assert len(ws.layer("plan_routes")) == 2  # this process has read the store before forking
    context = mp.get_context("fork")
    children = [context.Process(target=_save_plans, args=(location, p)) for p in "ab"]
    for child in children:
        child.start()
    for child in children:
        child.join(60)
    assert [child.exitcode for child in children] == [0, 0]
    ids = sorted(list_plans(ws)["plan_id"])
    assert ids == ["a-0", "a-1", "a-2", "b-0", "b-1", "b-2", "first"]
    assert len(ws.layer("plan_routes")) == 2 * 7


def test_a_save_waiting_too_long_says_the_workspace_is_busy(
    location: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gisapp.store import geopackage, postgis

    ws = _create(location)
    store = postgis if location.startswith("postgresql://") else geopackage
    monkeypatch.setattr(store, "WRITE_TIMEOUT_S", 0.2)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with open_workspace(location).write_lock():
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(30)
        with pytest.raises(WorkspaceError, match=r"is busy: another save.*try again"):
            save_plan(_plan("late"), open_workspace(location))
    finally:
        release.set()
        holder.join(30)
    save_plan(_plan("late"), ws)  # free again
    assert list(list_plans(open_workspace(location))["plan_id"]) == ["late"]


def test_a_missing_workspace_is_a_clear_error(postgis_url: str) -> None:
    with pytest.raises(WorkspaceError, match=r"holds no workspace; copy one in with 'gisapp copy"):
        open_workspace(postgis_url)
    with pytest.raises(WorkspaceError, match=r"cannot connect to database 'nowhere'"):
        open_workspace("postgresql://nobody@127.0.0.1:1/nowhere")


def test_copy_to_and_download_are_whole_geopackages(location: str, tmp_path: Path) -> None:
    ws = _create(location)
    save_plan(_plan("night"), ws)
    copy = ws.copy_to(tmp_path / "copy.gpkg")
    assert_same_workspace(ws, copy)
    with ws.open_geopackage() as stream:
        (tmp_path / "download.gpkg").write_bytes(stream.read())
    assert_same_workspace(ws, Workspace.open(tmp_path / "download.gpkg"))
    assert ws.modified <= pd.Timestamp.now(tz="UTC")


def test_a_database_workspace_names_no_file_and_shows_no_password(postgis_url: str) -> None:
    ws = _create(postgis_url)
    with pytest.raises(WorkspaceError, match="stored on a database server") as caught:
        _ = ws.path
    message = str(caught.value)
    assert ":***@" in message and "gisapp copy postgresql://" in message
    password = postgis_url.split("://", 1)[1].split("@", 1)[0].partition(":")[2]
    assert not password or f":{password}@" not in message


def test_the_schema_records_its_migrations_and_refuses_a_newer_one(postgis_url: str) -> None:
    import psycopg
    from psycopg import sql

    from gisapp.store.backend import DatabaseURL
    from gisapp.store.postgis import MIGRATIONS, SCHEMA_VERSION

    _create(postgis_url)
    url = DatabaseURL(postgis_url)
    table = sql.Identifier(url.schema, "gisapp_schema_version")
    with psycopg.connect(url.conninfo, autocommit=True) as con:
        applied = con.execute(sql.SQL("SELECT version FROM {} ORDER BY version").format(table))
        assert [v for (v,) in applied.fetchall()] == [m[0] for m in MIGRATIONS]
        con.execute(
            sql.SQL("INSERT INTO {} (version, description) VALUES (%s, 'later')").format(table),
            (SCHEMA_VERSION + 1,),
        )
    with pytest.raises(WorkspaceError, match="written by a newer gisapp"):
        open_workspace(postgis_url)


# -- copying between stores ---------------------------------------------------------------
@pytest.fixture
def sample_with_plan(tmp_path: Path) -> Workspace:
    ws = Workspace.open(get_path("new_haven")).copy_to(tmp_path / "new_haven.gpkg")
    save_plan(_plan("2014-09-18-night"), ws)
    return ws


def test_copy_round_trip_keeps_everything(
    sample_with_plan: Workspace, postgis_url: str, tmp_path: Path
) -> None:
    from gisapp.cli.main import cli

    runner = CliRunner()
    back = tmp_path / "back.gpkg"
    result = runner.invoke(cli, ["copy", sample_with_plan.location, postgis_url])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["copy", postgis_url, str(back)])
    assert result.exit_code == 0, result.output
    on_server, returned = open_workspace(postgis_url), open_workspace(str(back))
    assert_same_workspace(sample_with_plan, on_server)
    assert_same_workspace(sample_with_plan, returned)
    assert returned.meta == sample_with_plan.meta
    for ws in (on_server, returned):
        assert list(list_plans(ws)["plan_id"]) == ["2014-09-18-night"]
        plan = load_plan(ws, "2014-09-18-night")
        original = load_plan(sample_with_plan, "2014-09-18-night")
        pd.testing.assert_frame_equal(plan.stops, original.stops)
        assert plan.kpis == original.kpis
    again = runner.invoke(cli, ["copy", str(back), postgis_url])
    assert again.exit_code == 1 and "--force" in again.output
    assert "Traceback" not in again.output


def test_a_service_gives_the_same_answer_on_postgis(
    sample_with_plan: Workspace, postgis_url: str
) -> None:
    from gisapp.services.hotspots import HotspotOptions, shift_hotspots
    from gisapp.settings import parse_shift
    from gisapp.store.workspace import copy_workspace

    on_server = copy_workspace(sample_with_plan, postgis_url)
    options = HotspotOptions(shift=parse_shift("22:00-06:00", name="night"), method="counts")
    here, there = shift_hotspots(sample_with_plan, options), shift_hotspots(on_server, options)
    assert len(here.layer) > 0
    assert_geodataframe_equal(here.layer, there.layer)
    pd.testing.assert_frame_equal(here.pai, there.pai)
    assert {k: v for k, v in here.kpis.items() if k != "workspace"} == {
        k: v for k, v in there.kpis.items() if k != "workspace"
    }


def test_a_reader_never_sees_half_a_save(location: str) -> None:
    ws = _create(location)
    station = _layers()["stations"]
    stop = threading.Event()
    seen: list[tuple[int, int]] = []
    errors: list[BaseException] = []

    def read() -> None:
        reader = open_workspace(location)
        try:
            while not stop.is_set():
                names = reader.layer("stations")["name"]
                seen.append((len(names), names.nunique()))
        except BaseException as exc:  # reported by the test below
            errors.append(exc)

    thread = threading.Thread(target=read)
    thread.start()
    try:
        for i in range(15):
            rows = pd.concat([station] * 40, ignore_index=True).assign(name=f"round {i}")
            ws.save({"stations": gpd.GeoDataFrame(rows, crs=station.crs)})
    finally:
        stop.set()
        thread.join(60)
    assert not errors
    assert seen and all(row in ((1, 1), (40, 1)) for row in seen)
