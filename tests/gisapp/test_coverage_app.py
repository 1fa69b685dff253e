"""Coverage, blind zones and placement of a workspace, and the ``place``/``coverage`` commands.

The hand-made workspace is a comb of residential streets (30 km/h for cars, 100 m in 12 s)
near New Haven: a 1 km main street along x with 100 m side streets north every 200 m, the
station at its west end. Every test of a workspace runs on both stores (a GeoPackage file and
a PostGIS schema, ``tests/conftest.py``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from shapely import LineString, Point, box
from shapely.affinity import translate

from gisapp.cli import cli
from gisapp.errors import WorkspaceError
from gisapp.plans import Plan, plan_from_frames
from gisapp.render.coverage import hourly_coverage_map
from gisapp.services.coverage import compute_coverage, key_place_required_minutes, school_zones
from gisapp.services.hourly import (
    HourlyCoverage,
    HourlyOptions,
    plan_coverage_by_hour,
    shift_window,
)
from gisapp.services.placement import propose_posts
from gisapp.store import Workspace

METRIC = "EPSG:32618"
X0, Y0 = 672_000.0, 4_575_000.0
SAMPLES = Path(__file__).resolve().parents[2] / "sample_geodata"


def metric(geoms: list, **columns: list) -> gpd.GeoDataFrame:
    moved = [translate(g, xoff=X0, yoff=Y0) for g in geoms]
    return gpd.GeoDataFrame(dict(columns), geometry=moved, crs=METRIC).to_crs("EPSG:4326")


def comb_roads() -> gpd.GeoDataFrame:
    lines = [LineString([(x, 0), (x + 100, 0)]) for x in range(0, 1000, 100)]
    lines += [LineString([(x, 0), (x, 100)]) for x in range(200, 1000, 200)]
    return metric(lines, name=[f"street {i}" for i in range(len(lines))])


def make_workspace(location: str, *, key_places: bool = True, stations: bool = True) -> str:
    """The comb workspace at ``location``; its location."""
    layers: dict[str, gpd.GeoDataFrame] = {"roads": comb_roads()}
    if stations:
        layers["stations"] = metric(
            [Point(0, 0)], id=["HQ"], name=["Headquarters"], kind=["station"]
        )
    if key_places:
        # 490 m is 58.8 s away, 510 m is 61.2 s: a 1-minute circle holds the first only
        layers["key_places"] = metric(
            [Point(490, 5), Point(510, 5), Point(900, 5)],
            id=["k-in", "k-out", "k-school"],
            name=["Inside", "Outside", "Far school"],
            kind=["hospital", "hospital", "school"],
            required_minutes=[1.0, 1.0, np.nan],
        )
    rng = np.random.default_rng(3)
    xs = rng.uniform(0, 1000, 40)
    layers["incidents"] = metric(
        [Point(x, 1) for x in xs],
        id=[f"i{i}" for i in range(40)],
        occurred_at=pd.date_range("2026-05-01", periods=40, freq="37min", tz="UTC"),
        category=["theft"] * 40,
        severity=[2] * 40,
        preventable=[True] * 40,
    )
    layers["grids"] = metric(
        [box(-50, -50, 500, 150), box(500, -50, 1050, 150)],
        id=["g-west", "g-east"],
        community_id=["c1", "c1"],
    )
    Workspace.create(location, layers)
    return location


@pytest.fixture
def ws_location(location: str) -> str:
    """The comb workspace, on every store."""
    return make_workspace(location)


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


# -- library level ---------------------------------------------------------------------------


def test_residents_reached_follow_the_communities_population(location: str) -> None:
    ws = Workspace.open(make_workspace(location))
    west, east = box(-50, -50, 500, 150), box(500, -50, 1050, 150)
    people = metric(
        [west, east], id=["c-w", "c-e"], name=["West", "East"], subdistrict_id=["s", "s"]
    )
    ws.save({"communities": people.assign(households=[400, 1200])})
    result = compute_coverage(ws, minutes=(1, 5))
    assert result.kpis["residents_measure"] == "households"
    one, five = (band["residents_share"] for band in result.kpis["bands"])
    # the 1-minute circle (500 m) holds the west's streets: its 400 of 1,600 households
    assert one == pytest.approx(0.25, abs=0.01)
    assert five == 1.0
    ws.save({"communities": people.assign(households=[400, 1200], population=[3000, 1000])})
    result = compute_coverage(ws, minutes=(1, 5))
    assert result.kpis["residents_measure"] == "population"
    assert result.kpis["bands"][0]["residents_share"] == pytest.approx(0.75, abs=0.01)


def test_no_residents_recorded_means_no_share(ws_location: str) -> None:
    result = compute_coverage(Workspace.open(ws_location), minutes=(1,))
    assert result.kpis["residents_measure"] is None
    assert result.kpis["bands"][0]["residents_share"] is None


def test_key_place_just_inside_and_just_outside_its_circle(ws_location: str) -> None:
    result = compute_coverage(Workspace.open(ws_location), minutes=(1, 3, 5))
    places = result.key_places.set_index("id")
    assert places.loc["k-in", "reached_minutes"] == pytest.approx(0.98, abs=0.01)
    assert places.loc["k-out", "reached_minutes"] == pytest.approx(1.02, abs=0.01)
    assert bool(places.loc["k-in", "in_time"]) and not bool(places.loc["k-out", "in_time"])
    # the school takes its required minutes from the settings' kind table (3)
    assert places.loc["k-school", "required_minutes"] == 3.0
    blind = result.blind_zones
    late = blind[blind["kind"] == "key_place"]
    assert set(late["id"]) == {"key_place-k-out"}  # the school: 1.8 of its 3 minutes
    row = late.set_index("id").loc["key_place-k-out"]
    assert row["required_minutes"] == 1.0 and row["reached_minutes"] == pytest.approx(
        1.02, abs=0.01
    )


def test_street_blind_zones_lie_beyond_the_required_minutes(ws_location: str) -> None:
    result = compute_coverage(Workspace.open(ws_location), street_minutes=1.0)
    streets = result.blind_zones[result.blind_zones["kind"] == "street"].to_crs(METRIC)
    near = Point(X0 + 100, Y0)  # 12 s from the station
    far = Point(X0 + 950, Y0)  # 114 s
    assert not streets.geometry.contains(near).any()
    assert streets.geometry.contains(far).any()
    # 1 km main street + 400 m of side streets; 1 minute reaches 500 m and 100 m up x = 200, 400
    assert result.kpis["blind"]["street_length_km"] == pytest.approx(1.4 - 0.7, abs=0.002)
    assert result.kpis["bands"][0]["street_share"] == pytest.approx(0.5, abs=0.002)
    east = result.blind_zones.set_index("id").loc["grid-g-east"]
    assert east["kind"] == "grid" and east["required_minutes"] == 1.0


def test_workspace_without_key_places_still_gives_coverage(location: str) -> None:
    ws = Workspace.open(make_workspace(location, key_places=False))
    result = compute_coverage(ws)
    assert result.kpis["key_places"]["count"] == 0
    assert "no key places" in result.kpis["key_places"]["note"]
    assert all(b["key_places_share"] is None for b in result.kpis["bands"])
    assert result.kpis["bands"][-1]["risk_share"] > 0


def test_no_stations_is_a_clear_error(location: str) -> None:
    ws = Workspace.open(make_workspace(location, stations=False))
    with pytest.raises(WorkspaceError, match="no stations or duty points"):
        compute_coverage(ws)


def test_school_zones_are_added_only_where_missing() -> None:
    places = metric(
        [Point(0, 0), Point(1000, 0), Point(2000, 0)],
        id=["s1", "s2", "h1"],
        name=["A", "B", "H"],
        kind=["school", "kindergarten", "hospital"],
    )
    existing = metric(
        [Point(0, 0).buffer(200)], id=["z1"], name=["old"], kind=["school_surroundings"]
    )
    added = school_zones(places, existing)
    assert added["id"].tolist() == ["z-s2"]
    assert added["kind"].tolist() == ["school_surroundings"]
    assert added["required_minutes"].tolist() == [3.0]
    area = added.to_crs(METRIC).geometry.area.iat[0]
    assert area == pytest.approx(np.pi * 200**2, rel=0.01)
    assert len(school_zones(places, pd.concat([existing, added]))) == 0


def test_required_minutes_come_from_the_layer_then_the_kind() -> None:
    places = pd.DataFrame(
        {"kind": ["school", "mall", "zoo"], "required_minutes": [1.0, None, None]}
    )
    got = key_place_required_minutes(places, minutes_by_kind={"school": 3, "mall": 5})
    assert got.tolist() == [1.0, 5.0, 5.0]


def test_placement_adds_posts_that_shrink_the_blind_zones(ws_location: str, tmp_path: Path) -> None:
    ws = Workspace.open(ws_location)
    placed = propose_posts(ws, model="mclp", posts=1, minutes=1.0, candidate_spacing_m=0)
    points = placed.duty_points
    assert points["fixed"].tolist().count(True) == 1 and len(points) == 2
    assert placed.kpis["covered_share"] > placed.kpis["fixed_only_covered_share"]
    before = compute_coverage(ws, street_minutes=1.0)
    after = compute_coverage(ws, street_minutes=1.0, extra_posts=points)
    assert after.kpis["blind"]["street_length_km"] < before.kpis["blind"]["street_length_km"]
    assert after.kpis["bands"][0]["risk_share"] > before.kpis["bands"][0]["risk_share"]


def test_placement_on_key_places_covers_them_in_their_minutes(ws_location: str) -> None:
    placed = propose_posts(
        Workspace.open(ws_location), model="lscp", demand="key_places", minutes=3.0
    )
    assert placed.kpis["covered_share"] == 1.0


def test_a_plan_without_a_start_starts_at_its_shift_on_the_day_of_its_first_stop() -> None:
    routes = gpd.GeoDataFrame(
        {"unit_id": ["car-1"]}, geometry=[LineString([(-72.9, 41.3), (-72.91, 41.31)])], crs=4326
    )
    stops = pd.DataFrame(
        {
            "unit_id": ["car-1", "car-1"],
            "seq": [0, 1],
            "kind": ["station", "hotspot"],
            "name": ["HQ", "h1"],
            "lon": [-72.9, -72.91],
            "lat": [41.3, 41.31],
            "arrive": ["", "2026-05-02T01:10:00-04:00"],
            "depart": ["2026-05-02T00:30:00-04:00", "2026-05-02T01:22:00-04:00"],
            "dwell_min": [0, 12],
            "street": ["", "Main St"],
        }
    )
    plan = plan_from_frames(
        routes, stops, kpis={"shift": "22:00-06:00"}, timezone="America/New_York"
    )
    assert plan.start is None
    start, end = shift_window(plan)
    assert start.isoformat() == "2026-05-01T22:00:00-04:00"
    assert end.isoformat() == "2026-05-02T06:00:00-04:00"


# -- the commands ----------------------------------------------------------------------------


def test_place_command_writes_duty_points_and_saves_a_separate_layer(
    ws_location: str, tmp_path: Path
) -> None:
    out = tmp_path / "place"
    result = run(
        "place",
        ws_location,
        "--model",
        "mclp",
        "--posts",
        "2",
        "--minutes",
        "1",
        "--save",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    points = gpd.read_file(out / "duty_points.geojson")
    assert {"id", "fixed", "covered_weight"} <= set(points.columns)
    assert points.crs.to_epsg() == 4326 and len(points) == 3
    kpis = json.loads((out / "kpis.json").read_text())
    assert kpis["model"] == "mclp" and kpis["new_posts"] == 2
    layers = Workspace.open(ws_location).layer_names()
    assert "proposed_duty_points" in layers and "duty_points" not in layers


def test_place_command_p_above_candidates_is_a_clear_error(
    ws_location: str, tmp_path: Path
) -> None:
    result = run("place", ws_location, "--posts", "500", "--out", str(tmp_path / "x"))
    assert result.exit_code == 1
    assert "candidate sites" in result.output and "lower p" in result.output


def test_coverage_command_writes_the_stable_files_and_an_offline_map(
    ws_location: str, tmp_path: Path
) -> None:
    place_out, out = tmp_path / "place", tmp_path / "cov"
    assert (
        run(
            "place", ws_location, "--posts", "1", "--minutes", "1", "--out", str(place_out)
        ).exit_code
        == 0
    )
    result = run(
        "coverage",
        ws_location,
        "--minutes",
        "1,3",
        "--with-posts",
        str(place_out / "duty_points.geojson"),
        "--school-zones",
        "--street-minutes",
        "0.5",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    for name in (
        "reach_1min.geojson",
        "reach_3min.geojson",
        "blind_zones.geojson",
        "kpis.json",
        "coverage_map.html",
    ):
        assert (out / name).is_file(), name
    blind = gpd.read_file(out / "blind_zones.geojson")
    assert {"kind", "risk", "required_minutes", "reached_minutes"} <= set(blind.columns)
    kpis = json.loads((out / "kpis.json").read_text())
    assert kpis["sources"] == {"stations": 1, "duty_points": 0, "posts": 1}
    assert kpis["prevention_zones"]["added_school_zones"] == 1
    page = (out / "coverage_map.html").read_text()
    # works offline: no script or stylesheet comes from another host
    assert not re.findall(r'<(?:script|link)[^>]+(?:src|href)="(?:https?:)?//', page)
    assert "Blind zones" in page and "leaflet" in page.lower()


def test_coverage_command_without_stations_exits_1(location: str, tmp_path: Path) -> None:
    result = run("coverage", make_workspace(location, stations=False), "--out", str(tmp_path))
    assert result.exit_code == 1
    assert "no stations or duty points" in result.output


def test_coverage_command_with_a_plan_reports_each_hour(ws_location: str, tmp_path: Path) -> None:
    lonlat = metric([Point(0, 0), Point(900, 0)]).geometry
    # the car drives along the main street to its east end and back (the route line)
    gpd.GeoDataFrame(
        {"unit_id": ["car-1"], "mode": ["car"], "distance_m": [1800.0], "duration_s": [216.0]},
        geometry=metric([LineString([(0, 0), (900, 0), (0, 0)])]).geometry,
        crs="EPSG:4326",
    ).to_file(tmp_path / "routes.geojson", driver="GeoJSON")
    stops = pd.DataFrame(
        {
            "unit_id": ["car-1"] * 3,
            "seq": [0, 1, 2],
            "kind": ["station", "hotspot", "station"],
            "name": ["HQ", "east end", "HQ"],
            "lon": [lonlat.x.iat[0], lonlat.x.iat[1], lonlat.x.iat[0]],
            "lat": [lonlat.y.iat[0], lonlat.y.iat[1], lonlat.y.iat[0]],
            "arrive": [
                "2026-05-01T22:00:00+00:00",
                "2026-05-01T22:05:00+00:00",
                "2026-05-01T23:58:00+00:00",
            ],
            "depart": [
                "2026-05-01T22:00:00+00:00",
                "2026-05-01T23:55:00+00:00",
                "2026-05-01T23:58:00+00:00",
            ],
            "dwell_min": [0, 110, 0],
            "street": ["", "", ""],
        }
    )
    stops.to_csv(tmp_path / "stops.csv", index=False)
    (tmp_path / "kpis.json").write_text(json.dumps({"shift": "22:00-24:00"}))
    out = tmp_path / "cov"
    result = run(
        "coverage",
        ws_location,
        "--minutes",
        "1",
        "--plan",
        str(tmp_path / "stops.csv"),
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    hourly = json.loads((out / "kpis.json").read_text())["hourly"]
    assert [h["hour"][:13] for h in hourly] == ["2026-05-01T22", "2026-05-01T23"]
    station_only = json.loads((out / "kpis.json").read_text())["bands"][0]["street_share"]
    # the car at the east end adds its own minute to the station's
    assert all(h["street_share"] > station_only for h in hourly)
    assert (out / "coverage_by_hour.csv").is_file()
    assert "gisappSlider" in (out / "coverage_by_hour.html").read_text()
    assert "22:00: street" in result.output


def test_coverage_command_with_a_plan_folder_without_routes_says_so(
    ws_location: str, tmp_path: Path
) -> None:
    pd.DataFrame({"unit_id": ["car-1"], "seq": [0]}).to_csv(tmp_path / "stops.csv", index=False)
    result = run("coverage", ws_location, "--plan", str(tmp_path), "--out", str(tmp_path / "o"))
    assert result.exit_code == 1
    assert "routes.geojson" in result.output and "Traceback" not in result.output


def test_coverage_command_with_an_unknown_plan_id_names_the_saved_plans(
    ws_location: str, tmp_path: Path
) -> None:
    result = run("coverage", ws_location, "--plan", "2099-01-01-day-s0", "--out", str(tmp_path))
    assert result.exit_code == 1
    assert "no saved plans" in result.output


# -- the samples -----------------------------------------------------------------------------


@pytest.mark.slow
def test_new_haven_mclp_posts_shrink_the_blind_zones() -> None:
    ws = Workspace.open(SAMPLES / "new_haven.gpkg")
    before = compute_coverage(ws)
    placed = propose_posts(ws, model="mclp", posts=10, minutes=3.0)
    after = compute_coverage(ws, extra_posts=placed.duty_points)
    three = next(b for b in before.kpis["bands"] if b["minutes"] == 3.0)["risk_share"]
    three_after = next(b for b in after.kpis["bands"] if b["minutes"] == 3.0)["risk_share"]
    # the 153 reporting-desk incidents at headquarters (a pile-up) weigh nothing
    assert three == pytest.approx(0.300, abs=0.005)
    assert three_after > 0.95
    assert after.kpis["blind"]["street_length_km"] < 0.2 * before.kpis["blind"]["street_length_km"]


@pytest.mark.slow
def test_liechtenstein_key_places_in_their_minutes_before_and_after() -> None:
    ws = Workspace.open(SAMPLES / "liechtenstein.gpkg")
    before = compute_coverage(ws)
    placed = propose_posts(ws, model="mclp", demand="key_places", posts=3, minutes=3.0)
    after = compute_coverage(ws, extra_posts=placed.duty_points)
    assert before.kpis["key_places"]["count"] == 23
    assert before.kpis["key_places"]["in_time"] == 1
    assert after.kpis["key_places"]["in_time"] == 16


@pytest.mark.parametrize("model", ["pmedian", "pcenter", "backup"])
def test_every_model_places_posts_judged_by_the_same_radius(ws_location: str, model: str) -> None:
    placed = propose_posts(
        Workspace.open(ws_location), model=model, posts=1, minutes=1.0, candidate_spacing_m=0
    )
    assert placed.kpis["model"] == model and placed.kpis["opened"] == 2
    assert placed.kpis["fixed_only_covered_share"] <= placed.kpis["covered_share"] <= 1.0
    assert placed.duty_points["fixed"].sum() == 1


def test_key_place_demand_without_key_places_is_a_clear_error(location: str) -> None:
    ws = Workspace.open(make_workspace(location, key_places=False))
    with pytest.raises(WorkspaceError, match="no key places to cover"):
        propose_posts(ws, demand="key_places")


# -- coverage by hour of a saved plan ----------------------------------------------------------


@pytest.fixture(scope="module")
def plan_ws(module_sample_location: str) -> str:
    """The bundled New Haven sample with one saved 22:00-06:00 plan of two cars, on every
    store."""
    from gisapp.services.plan import plan_shift
    from gisapp.settings import Settings, parse_shift
    from gisapp.store.plans import save_plan

    ws = Workspace.open(module_sample_location)
    plan = plan_shift(
        ws,
        shift=parse_shift("22:00-06:00"),
        date=dt.date(2014, 9, 18),
        unit_ids=["car-1", "car-2"],
        seed=1,
        settings=Settings(),
        n_hotspots=6,
        search_budget=3_000,
    )
    save_plan(plan.record, ws)
    return module_sample_location


def test_coverage_and_hours_side_by_side_answer_as_one_after_the_other(plan_ws: str) -> None:
    import dataclasses
    import functools

    from gisapp.errors import WorkspaceError
    from gisapp.services.coverage import CoverageOptions, compute_coverage
    from gisapp.services.side import side_by_side
    from gisapp.store.plans import load_plan

    ws = Workspace.open(plan_ws)
    saved = load_plan(ws)
    options, hourly = CoverageOptions(minutes=(1, 3)), HourlyOptions(minutes=(1, 3))
    result, hours = side_by_side(
        lambda: compute_coverage(ws, options),
        functools.partial(_hours_of, plan_ws, saved, hourly),
    )
    alone = plan_coverage_by_hour(ws, saved, hourly)
    pd.testing.assert_frame_equal(hours.table, alone.table)
    assert hours.rows() == alone.rows()
    assert result.kpis == compute_coverage(ws, options).kpis
    # an error of the second process reaches the caller as it is
    empty = dataclasses.replace(saved, stops=saved.stops.iloc[0:0])
    with pytest.raises(WorkspaceError, match="has no stops"):
        side_by_side(lambda: None, functools.partial(_hours_of, plan_ws, empty, hourly))


def _hours_of(location: str, plan: Plan, options: HourlyOptions) -> HourlyCoverage:
    """A plan's coverage by hour from a workspace location (sent to another process)."""
    return plan_coverage_by_hour(Workspace.open(location), plan, options)


def test_plan_hourly_coverage_per_hour_of_the_shift(plan_ws: str) -> None:
    from gisapp.store.plans import load_plan

    ws = Workspace.open(plan_ws)
    saved = load_plan(ws)
    result = plan_coverage_by_hour(ws, saved, HourlyOptions(minutes=(1, 3, 5)))

    rows = result.rows()
    assert [r["hour"] for r in rows] == ["22:00", "23:00", "00:00", "01:00"] + [
        f"{h:02d}:00" for h in range(2, 6)
    ]
    assert len(result.table) == 8 * 3 and result.minutes == (1.0, 3.0, 5.0)
    for column in ("risk_share", "street_share"):
        assert result.table[column].between(0, 1).all()
    assert result.table["key_places_share"].isna().all()  # the sample has no key places
    for row in rows:
        assert row["units"] == 2
        risk = [b["risk_share"] for b in row["bands"]]
        assert risk == sorted(risk)  # a wider band covers at least as much

    # each unit's position at every hour lies on its route, at the hour's start
    metric = result.positions.estimate_utm_crs()
    routes = saved.routes.to_crs(metric).set_index("unit_id").geometry
    positions = result.positions.to_crs(metric)
    assert len(positions) == 8 * 2
    assert set(positions["time"]) == {r["hour"] for r in rows}
    for unit, geom in zip(positions["unit_id"], positions.geometry, strict=True):
        assert routes[unit].distance(geom) < 1.0
    # paths and reach: one reach geometry per hour, paths only while a car moves
    assert list(result.reach["hour"]) == result.hours and len(result.hours) == 8
    assert (result.reach["street_share"] > 0).all() and result.reach.crs.to_epsg() == 4326
    assert set(result.paths["unit_id"]) == {"car-1", "car-2"}

    page = hourly_coverage_map(result, roads=ws.layer("roads"))
    assert page.count('"id": "reach-') == 8 and "gisappSlider" in page
