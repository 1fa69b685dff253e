"""Tests of shift plans from a workspace: outputs, timetable, saving, CLI, infeasible input.

Every test that reads or saves a workspace runs on both stores (a GeoPackage copy of the New
Haven sample and a PostGIS copy of it, ``tests/conftest.py``)."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest

from gisapp.cli import main
from gisapp.errors import WorkspaceError
from gisapp.outputs.plan import write_plan
from gisapp.plans import make_plan_id
from gisapp.services.plan import PATROL_REACH_S, ShiftPlan, parse_breaks, plan_shift
from gisapp.settings import Settings, parse_shift
from gisapp.store import Workspace
from gisapp.store.plans import list_plans, load_plan, save_plan
from routing.errors import InfeasiblePlanError

NIGHT = parse_shift("22:00-06:00")
DAY = dt.date(2014, 9, 18)


@pytest.fixture(scope="module")
def workspace_location(module_sample_location: str) -> str:
    """The New Haven sample the module's plans are made from, once per store."""
    return module_sample_location


@pytest.fixture(scope="module")
def night_plan(workspace_location: str) -> ShiftPlan:
    ws = Workspace.open(workspace_location)
    return plan_shift(
        ws,
        shift=NIGHT,
        date=DAY,
        unit_ids=["car-1", "car-2"],
        seed=3,
        n_hotspots=15,
        search_budget=6_000,
    )


def test_timetable_is_consistent(night_plan: ShiftPlan) -> None:
    stops = night_plan.stops
    assert set(stops["unit_id"]) == {"car-1", "car-2"}
    for _, unit_stops in stops.groupby("unit_id"):
        unit_stops = unit_stops.sort_values("seq")
        arrive = pd.to_datetime(unit_stops["arrive"])
        depart = pd.to_datetime(unit_stops["depart"])
        assert unit_stops["arrive"].str.endswith("-04:00").all()  # ISO 8601, EDT
        assert (
            (depart - arrive).dt.total_seconds() / 60 - unit_stops["dwell_min"]
        ).abs().max() < 0.01
        assert (arrive.iloc[1:].to_numpy() >= depart.iloc[:-1].to_numpy()).all()
        kinds = unit_stops["kind"].tolist()
        assert kinds[0] == kinds[-1] == "station" and "hotspot" in kinds
        assert arrive.iloc[0] == pd.Timestamp("2014-09-18 22:00", tz="America/New_York")
        assert depart.iloc[-1] <= pd.Timestamp("2014-09-19 06:00", tz="America/New_York")
        hot = unit_stops[unit_stops["kind"] == "hotspot"]
        assert hot["dwell_min"].between(10, 15).all()
        assert (hot["grid_id"].str.startswith("nh-g")).all()
    # legs: departure + travel time = next arrival, in seconds from the shift start
    for route in night_plan.plan.routes:
        for a, b, leg in zip(route.stops[:-1], route.stops[1:], route.legs, strict=True):
            assert a.depart_s + leg.travel_time_s == b.arrive_s


def test_outputs_follow_the_contract(night_plan: ShiftPlan, tmp_path: Path) -> None:
    written = {p.name for p in write_plan(night_plan.record, tmp_path)}
    assert {"routes.geojson", "stops.csv", "kpis.json", "car-1.gpx", "car-2.gpx"} <= written
    routes = gpd.read_file(tmp_path / "routes.geojson")
    assert routes.crs.to_epsg() == 4326
    assert {"unit_id", "mode", "distance_m", "duration_s"} <= set(routes.columns)
    assert (routes["distance_m"] > 0).all() and (routes["duration_s"] <= 8 * 3600).all()
    stops = pd.read_csv(tmp_path / "stops.csv")
    assert list(stops.columns[:10]) == [
        "unit_id",
        "seq",
        "kind",
        "name",
        "lon",
        "lat",
        "arrive",
        "depart",
        "dwell_min",
        "street",
    ]
    assert stops["lon"].between(-73.1, -72.8).all() and stops["lat"].between(41.2, 41.4).all()
    kpis = json.loads((tmp_path / "kpis.json").read_text())
    for key in (
        "risk_covered_share",
        "hotspot_dosage_minutes",
        "balance_ratio",
        "streets_covered",
        "grids_visited",
        "units",
    ):
        assert key in kpis
    assert kpis["units_used"] == 2
    # every car patrols its whole shift (15 hotspots are few for two cars over 8 hours: the
    # last stops are repeats, counted as such) and the plan keeps its balance goal
    budget_s = NIGHT.duration_h * 3600
    assert all(u["duration_s"] >= 0.9 * budget_s for u in kpis["units"].values())
    assert kpis["balance_ratio"] <= kpis["balance_goal"] == 1.2
    assert kpis["notes"] == []
    assert kpis["repeat_stops_inside_spacing"] == night_plan.plan.score.repeat_stops
    assert 0 < kpis["risk_covered_share"] <= 1
    gpx = ET.parse(tmp_path / "car-1.gpx").getroot()
    ns = {"g": "http://www.topografix.com/GPX/1/1"}
    assert len(gpx.findall("g:wpt", ns)) == int(
        ((stops["unit_id"] == "car-1") & (stops["kind"] != "waypoint")).sum()
    )
    assert len(gpx.findall("g:trk/g:trkseg/g:trkpt", ns)) > 10


def test_plan_is_saved_in_the_workspace(night_plan: ShiftPlan, sample_location: str) -> None:
    ws = Workspace.open(sample_location)
    save_plan(night_plan.record, ws)
    again = Workspace.open(sample_location)
    assert {"plan_routes", "plan_stops", "plan_hotspots"} <= set(again.layer_names())
    assert json.loads(again.meta["plan_kpis"])["units_used"] == 2
    assert len(again.layer("plan_routes")) == 2


def _with_units(location: str, units: pd.DataFrame) -> Workspace:
    """The workspace at ``location`` with ``units`` saved as its units table."""
    ws = Workspace.open(location)
    ws.save({"units": units})
    return ws


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"grid_ids": "nh-g001,nh-zzz"}, r"unit 'car-1' names unknown grid id\(s\) 'nh-zzz'"),
        ({"station_id": ""}, r"unit 'car-1' has no station"),
        ({"station_id": "nowhere"}, r"unit 'car-1' names station 'nowhere'"),
    ],
)
def test_bad_units_name_the_unit(
    sample_location: str, change: dict[str, str], message: str
) -> None:
    units = Workspace.open(sample_location).layer("units")
    units.loc[units["id"] == "car-1", list(change)] = list(change.values())
    ws = _with_units(sample_location, units)
    with pytest.raises(InfeasiblePlanError, match=message):
        plan_shift(ws, shift=NIGHT, date=DAY, unit_ids=["car-1"], search_budget=3_000)


def test_unknown_unit_id(workspace_location: str) -> None:
    with pytest.raises(InfeasiblePlanError, match=r"unknown unit id\(s\) 'car-99'"):
        plan_shift(Workspace.open(workspace_location), shift=NIGHT, unit_ids=["car-99"])


@pytest.mark.slow
def test_cli_plan(
    workspace_location: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = main(
        [
            "plan",
            workspace_location,
            "--shift",
            "late",
            "--seed",
            "2",
            "--out",
            str(out),
            "--date",
            "2014-09-18",
            "--effort",
            "3000",
            "--hotspots",
            "20",
        ]
    )
    assert code == 0
    label = Workspace.open(workspace_location).label
    assert f"plan 2014-09-18-late-s2 saved in {label}" in capsys.readouterr().out
    kpis = json.loads((out / "kpis.json").read_text())
    assert kpis["plan_id"] == "2014-09-18-late-s2"
    assert kpis["units_used"] == 4  # the four cars of the night shift
    assert sorted(p.name for p in out.glob("*.gpx")) == [f"car-{i}.gpx" for i in range(1, 5)]
    assert "2014-09-18-late-s2" in set(list_plans(Workspace.open(workspace_location))["plan_id"])
    assert (
        main(["plan", workspace_location, "--shift", "late", "--units", "x", "--out", str(out)])
        == 1
    )

    # the same plan under a captain's overrides: saved beside it, with them
    adjusted = tmp_path / "adjusted"
    common = ["plan", workspace_location, "--shift", "late", "--seed", "2", "--date"]
    common += ["2014-09-18", "--effort", "3000", "--hotspots", "20", "--out", str(adjusted)]
    overrides = ["--lock", "car-2:hs-003@23:30", "--forbid", "hs-001"]
    assert main([*common, *overrides, "--close-street", "Whalley Ave"]) == 0
    kpis = json.loads((adjusted / "kpis.json").read_text())
    assert kpis["plan_id"].startswith("2014-09-18-late-s2-o")
    assert kpis["overrides"]["locks"] == [
        {"unit_id": "car-2", "hotspot_id": "hs-003", "at": "23:30"}
    ]
    stops = pd.read_csv(adjusted / "stops.csv")
    hotspot_stops = stops[stops["kind"] == "hotspot"]
    assert "hs-001" not in set(hotspot_stops["hotspot_id"])
    assert "Whalley Ave" not in set(stops.loc[stops["kind"] == "waypoint", "street"])
    locked = hotspot_stops[
        (hotspot_stops["unit_id"] == "car-2") & (hotspot_stops["hotspot_id"] == "hs-003")
    ]
    assert not locked.empty
    capsys.readouterr()
    assert main([*common, "--lock", "car-2:hs-999"]) == 1
    assert "hs-999" in capsys.readouterr().err


# -- saved plans ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def late_plan(workspace_location: str) -> ShiftPlan:
    return plan_shift(
        Workspace.open(workspace_location),
        shift=Settings().shift("late"),
        date=DAY,
        unit_ids=["car-3"],
        seed=1,
        n_hotspots=6,
        search_budget=3_000,
    )


@pytest.fixture
def two_plans_location(night_plan: ShiftPlan, late_plan: ShiftPlan, sample_location: str) -> str:
    """A fresh sample with the night plan and then the late plan saved in it."""
    ws = Workspace.open(sample_location)
    assert save_plan(night_plan.record, ws, created=pd.Timestamp("2024-05-01T08:00Z")) == (
        "2014-09-18-2200-0600-s3"
    )
    assert save_plan(late_plan.record, ws, created=pd.Timestamp("2024-05-01T09:00Z")) == (
        "2014-09-18-late-s1"
    )
    return sample_location


def test_plan_ids_are_stable_and_safe() -> None:
    assert make_plan_id(Settings().shift("night"), DAY, 3) == "2014-09-18-night-s3"
    assert make_plan_id(NIGHT, pd.Timestamp("2014-09-18 22:00"), 0) == "2014-09-18-2200-0600-s0"
    odd = parse_shift("22:00-06:00", name="夜班 / late?")
    assert make_plan_id(odd, DAY, 1) == "2014-09-18-late-s1"
    assert make_plan_id(parse_shift("22:00-06:00", name="夜班"), DAY, 1) == (
        "2014-09-18-2200-0600-s1"
    )


def test_two_plans_are_kept_side_by_side(
    two_plans_location: str, night_plan: ShiftPlan, late_plan: ShiftPlan
) -> None:
    ws = Workspace.open(two_plans_location)
    plans = list_plans(ws)
    assert list(plans["plan_id"]) == ["2014-09-18-late-s1", "2014-09-18-2200-0600-s3"]
    assert list(plans["units"]) == ["car-3", "car-1,car-2"]
    assert list(plans["shift"]) == ["22:00-06:00", "22:00-06:00"]
    assert list(plans["shift_name"]) == ["late", "22:00-06:00"]
    assert plans["created"].iloc[0] == pd.Timestamp("2024-05-01T09:00Z")
    assert plans["objective"].iloc[1] == pytest.approx(night_plan.kpis["objective"])
    routes = ws.layer("plan_routes")
    assert sorted(routes["plan_id"]) == ["2014-09-18-2200-0600-s3"] * 2 + ["2014-09-18-late-s1"]
    assert json.loads(ws.meta["plan_kpis"])["plan_id"] == late_plan.plan_id

    night = load_plan(ws, "2014-09-18-2200-0600-s3")
    assert night.unit_ids == ["car-1", "car-2"] and night.seed == 3
    assert night.start == pd.Timestamp("2014-09-18 22:00", tz="America/New_York")
    expected = night_plan.record.stops[list(night.stops.columns)].sort_values(["unit_id", "seq"])
    pd.testing.assert_frame_equal(night.stops, expected.reset_index(drop=True), check_dtype=False)
    assert night.kpis == json.loads(json.dumps(night_plan.kpis))
    assert len(night.hotspots) == len(night_plan.hotspots)
    assert "plan_id" not in night.routes.columns
    assert night.routes.geom_equals_exact(night_plan.routes.geometry, tolerance=1e-9).all()


def test_the_latest_plan_is_the_default(two_plans_location: str, night_plan: ShiftPlan) -> None:
    ws = Workspace.open(two_plans_location)
    assert load_plan(ws).plan_id == "2014-09-18-late-s1"
    # saving a plan again replaces its rows and makes it the latest
    save_plan(night_plan.record, ws, created=pd.Timestamp("2024-05-01T10:00Z"))
    again = Workspace.open(two_plans_location)
    assert list(list_plans(again)["plan_id"]) == ["2014-09-18-2200-0600-s3", "2014-09-18-late-s1"]
    assert load_plan(again).unit_ids == ["car-1", "car-2"]
    assert len(again.layer("plan_routes")) == 3
    assert len(again.layer("plan_stops")) == len(night_plan.stops) + len(
        load_plan(again, "2014-09-18-late-s1").stops
    )


def test_unknown_plan(two_plans_location: str) -> None:
    ws = Workspace.open(two_plans_location)
    with pytest.raises(
        WorkspaceError,
        match=r"has no plan 'nope'; its plans are 2014-09-18-late-s1, 2014-09-18-2200-0600-s3",
    ):
        load_plan(ws, "nope")


def test_no_plans(sample_location: str) -> None:
    empty = Workspace.open(sample_location)
    assert list_plans(empty).empty and "plan_id" in list_plans(empty).columns
    with pytest.raises(WorkspaceError, match="has no saved plans; make one with 'gisapp plan"):
        load_plan(empty)


def test_a_plan_saved_before_plan_ids_is_listed(
    night_plan: ShiftPlan, late_plan: ShiftPlan, sample_location: str
) -> None:
    ws = Workspace.open(sample_location)
    stops = night_plan.stops[list(night_plan.stops.columns[:12])]
    old_kpis = {k: v for k, v in night_plan.kpis.items() if k not in ("plan_id", "shift_name")}
    ws.save(
        {
            "plan_routes": night_plan.routes,
            "plan_stops": gpd.GeoDataFrame(
                stops, geometry=gpd.points_from_xy(stops["lon"], stops["lat"]), crs=4326
            ),
            "plan_hotspots": night_plan.hotspots,
        },
        meta={"plan_kpis": old_kpis},
    )
    assert list(list_plans(ws)["plan_id"]) == ["2014-09-18-2200-0600-s3"]
    assert load_plan(ws).unit_ids == ["car-1", "car-2"]
    save_plan(late_plan.record, ws)
    assert sorted(list_plans(ws)["plan_id"]) == ["2014-09-18-2200-0600-s3", "2014-09-18-late-s1"]
    assert len(load_plan(ws, "2014-09-18-2200-0600-s3").stops) == len(night_plan.stops)


def test_cli_exports_a_saved_plan(
    two_plans_location: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "latest"
    args = ["export", two_plans_location, "--format", "geojson,gpx"]
    assert main([*args, "--out", str(out)]) == 0
    assert "exporting plan 2014-09-18-late-s1" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["car-3.gpx", "routes.geojson", "stops.geojson"]
    out = tmp_path / "chosen"
    assert main([*args, "--plan", "2014-09-18-2200-0600-s3", "--out", str(out)]) == 0
    assert {"car-1.gpx", "car-2.gpx"} <= {p.name for p in out.iterdir()}
    assert main([*args, "--plan", "2014-09-18-day-s9", "--out", str(out)]) == 1
    assert "has no plan '2014-09-18-day-s9'" in capsys.readouterr().err


def test_breaks_from_the_units_table_reach_the_timetable(sample_location: str) -> None:
    ws = Workspace.open(sample_location)
    units = ws.layer("units")
    units["breaks"] = ""
    units.loc[units["id"] == "car-1", "breaks"] = "23:00-23:30/30"
    ws.save({"units": units})
    plan = plan_shift(
        Workspace.open(sample_location),
        shift=NIGHT,
        date=DAY,
        unit_ids=["car-1", "car-2"],
        seed=0,
        n_hotspots=15,
        search_budget=6_000,
    )
    stops = plan.stops
    breaks = stops[stops["kind"] == "break"]
    assert breaks["unit_id"].tolist() == ["car-1"]
    start = pd.Timestamp(breaks["arrive"].iloc[0])
    assert dt.time(23, 0) <= start.time() <= dt.time(23, 30)
    assert breaks["dwell_min"].iloc[0] == 30
    hotspot = stops[(stops["unit_id"] == "car-1") & (stops["kind"] == "hotspot")]
    end = start + pd.Timedelta(minutes=30)
    for arrive, depart in zip(hotspot["arrive"], hotspot["depart"], strict=True):
        assert pd.Timestamp(depart) <= start or pd.Timestamp(arrive) >= end


@pytest.mark.parametrize("text", ["2-3/30", "02:00-03:00", "25:00-26:00/30", "02:00-03:00/x"])
def test_badly_written_breaks_name_the_unit(text: str) -> None:
    with pytest.raises(InfeasiblePlanError, match="unit 'car-9'"):
        parse_breaks(text, shift=NIGHT, unit_id="car-9")


def test_breaks_past_midnight_count_from_the_shift_start() -> None:
    (first, second) = parse_breaks(
        "23:00-23:30/20; 02:00-02:30/30@station", shift=NIGHT, unit_id="u"
    )
    assert (first.earliest_start_s, first.latest_start_s, first.duration_s) == (3600, 5400, 1200)
    assert second.earliest_start_s == 4 * 3600 and second.at_station


def test_risky_legs_cover_more_street_risk_on_the_sample(
    night_plan: ShiftPlan, workspace_location: str
) -> None:
    import numpy as np
    import shapely

    from routing.patrol import (
        Leg,
        PatrolModel,
        PatrolOptions,
        PatrolPlan,
        Stop,
        UnitRoute,
        hour_band_risk,
        shift_hours,
    )
    from routing.risk import segment_risk_by_hour
    from routing.snap import nearest_nodes

    model = night_plan.model
    net = model.networks["car"]
    ws = Workspace.open(workspace_location)
    risk = hour_band_risk(segment_risk_by_hour(net, ws.layer("incidents"), timezone=ws.timezone))
    hours = sorted(set(shift_hours(model.shift_start_s, 8 * 3600.0)))
    street_risk = risk[:, hours].sum(axis=1)
    spots = model.hotspots
    points = gpd.GeoSeries(shapely.points(spots.x, spots.y), crs=spots.crs)
    spot_nodes = np.asarray(nearest_nodes(net, points, max_distance_m=None))
    # a fixed stop sequence (hotspots in order, dealt to the units), so the solver plays no part
    routes = []
    for k, unit in enumerate(model.units):
        station = Stop("station", -1, unit.station_node, 0.0, 0.0)
        visits = [
            Stop("hotspot", h, int(spot_nodes[h]), 0.0, 0.0)
            for h in range(k, len(spots), len(model.units))
        ]
        stops = (station, *visits, station)
        legs = tuple(Leg(0.0) for _ in stops[1:])
        routes.append(UnitRoute(unit.unit_id, unit.mode, stops, legs))
    fixed = PatrolPlan(tuple(routes), 0.0, "fixed", 0.0, night_plan.plan.score)
    covered, travel_s = {}, {}
    for weight in (0.0, 0.6):
        weighted = PatrolModel.build(
            model.networks,
            spots,
            model.units,
            shift_start_s=model.shift_start_s,
            options=PatrolOptions(street_risk_weight=weight),
            street_risk={"car": street_risk},
        )
        expanded = weighted.expand(fixed)
        used = np.zeros(net.n_segments, dtype=bool)
        travel_s[weight] = 0.0
        for route in expanded.routes:
            for a, b, leg in zip(route.stops[:-1], route.stops[1:], route.legs, strict=True):
                assert not leg.nodes or (leg.nodes[0] == a.node and leg.nodes[-1] == b.node)
                used[net.edge_segment[list(leg.edges)]] = True
                travel_s[weight] += float(net.edge_travel_time_s[list(leg.edges)].sum())
        covered[weight] = float(street_risk[used].sum())
    assert covered[0.6] > covered[0.0]
    assert travel_s[0.6] < 1.1 * travel_s[0.0]


def _spin(stop: Any) -> None:
    while not stop.is_set():
        sum(i * i for i in range(10_000))


@pytest.mark.slow
def test_same_seed_gives_the_same_files_under_a_busy_cpu(
    workspace_location: str, tmp_path: Path
) -> None:
    # the search is bounded by work, not by the clock: a second run with every core busy
    # writes byte-identical routes and timetable
    ws = Workspace.open(workspace_location)
    options = {"shift": NIGHT, "date": DAY, "unit_ids": ["car-1", "car-2"], "seed": 5}
    quiet = write_plan(plan_shift(ws, search_budget=20_000, **options).record, tmp_path / "a")
    stop = multiprocessing.Event()
    spinners = [multiprocessing.Process(target=_spin, args=(stop,)) for _ in range(3)]
    for p in spinners:
        p.start()
    try:
        busy = write_plan(plan_shift(ws, search_budget=20_000, **options).record, tmp_path / "b")
    finally:
        stop.set()
        for p in spinners:
            p.join()
    assert [p.name for p in quiet] == [p.name for p in busy]
    for name in ("routes.geojson", "stops.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_a_foot_unit_without_grids_patrols_around_its_station(sample_location: str) -> None:
    units = pd.DataFrame(
        {
            "id": ["foot-9"],
            "mode": ["foot"],
            "station_id": ["nhpd-hq"],
            "grid_ids": [""],
            "shift": [""],
        }
    )
    ws = _with_units(sample_location, units)
    result = plan_shift(ws, shift=NIGHT, date=DAY, search_budget=3_000)
    route = result.plan.route("foot-9")
    assert route.hotspot_stops
    net = result.model.networks["foot"]
    station = route.stops[0].node
    from scipy.sparse.csgraph import dijkstra

    walk_s = dijkstra(net.travel_time_csr, indices=station)
    # every stop within the half hour's walk a foot patrol works in (and its street's width)
    assert max(walk_s[s.node] for s in route.hotspot_stops) <= PATROL_REACH_S["foot"] + 120
