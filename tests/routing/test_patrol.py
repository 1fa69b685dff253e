"""Tests of the shift patrol model: dosage score, routes, timetables, exact optimum."""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pytest
from shapely import LineString

from routing.errors import InfeasiblePlanError, RoutingError
from routing.network import StreetNetwork, network_from_lines
from routing.patrol import (
    Break,
    Hotspots,
    PatrolModel,
    PatrolOptions,
    PatrolPlan,
    PatrolUnit,
    dosage_score,
    hour_band_risk,
    select_hotspots,
    shift_hours,
)
from routing.patrol.decompose import search_areas, unit_clusters
from routing.patrol.overrides import LOCK_TOLERANCE_S, Lock, Overrides

METRIC_CRS = "EPSG:32618"
NIGHT_S = 22 * 3600


def lattice(n: int, step_m: float, *, oneway_rows: bool = False) -> gpd.GeoDataFrame:
    """An n x n street lattice; with ``oneway_rows`` the east-west streets alternate
    one-way east and one-way west (drawn in their direction of travel)."""
    lines, oneway = [], []
    for i in range(n):
        for j in range(n - 1):
            row = [(j * step_m, i * step_m), ((j + 1) * step_m, i * step_m)]
            lines.append(LineString(row if i % 2 == 0 or not oneway_rows else row[::-1]))
            oneway.append(oneway_rows)
            lines.append(LineString([(i * step_m, j * step_m), (i * step_m, (j + 1) * step_m)]))
            oneway.append(False)
    names = [f"Street {k}" for k in range(len(lines))]
    return gpd.GeoDataFrame({"oneway": oneway, "name": names}, geometry=lines, crs=METRIC_CRS)


@pytest.fixture(scope="module")
def walk_net() -> StreetNetwork:
    return network_from_lines(lattice(5, 400.0), mode="foot")


@pytest.fixture(scope="module")
def car_net() -> StreetNetwork:
    return network_from_lines(lattice(6, 800.0, oneway_rows=True), mode="car")


def random_instance(net: StreetNetwork, seed: int, n_hotspots: int) -> tuple[Hotspots, int]:
    rng = np.random.default_rng(seed)
    nodes = rng.choice(net.n_nodes, n_hotspots + 1, replace=False)
    hotspots = Hotspots(
        x=net.node_x[nodes[1:]],
        y=net.node_y[nodes[1:]],
        crs=net.crs,
        risk_by_hour=rng.gamma(0.7, 1.0, (n_hotspots, 24)),
        name=np.array([f"h{i}" for i in range(n_hotspots)], dtype=object),
    )
    return hotspots, int(nodes[0])


def check_plan(model: PatrolModel, plan: PatrolPlan) -> None:
    """Every guarantee of a plan, checked against the network itself."""
    opts = model.options
    visits: dict[int, list[float]] = {}
    for route, unit in zip(plan.routes, model.units, strict=True):
        net = model.networks[unit.mode]
        assert route.hotspot_stops, f"unit {unit.unit_id} unused"
        assert route.stops[0].node == unit.station_node == route.stops[-1].node
        assert route.stops[0].arrive_s == 0
        assert route.stops[-1].arrive_s <= unit.budget_s
        assert len(route.legs) == len(route.stops) - 1
        for a, b, leg in zip(route.stops[:-1], route.stops[1:], route.legs, strict=True):
            # timetable: departure + travel = next arrival
            assert a.depart_s + leg.travel_time_s == b.arrive_s
            # the leg is a connected street path of existing directed edges from a to b
            assert leg.nodes[0] == a.node and leg.nodes[-1] == b.node
            for (u, v), edge in zip(itertools.pairwise(leg.nodes), leg.edges, strict=True):
                assert net.edge_u[edge] == u and net.edge_v[edge] == v
            exact_s = float(net.edge_travel_time_s[list(leg.edges)].sum())
            assert exact_s <= leg.travel_time_s < exact_s + 1.0
        for stop in route.hotspot_stops:
            assert opts.dwell_min_s <= stop.dwell_s <= opts.dwell_max_s
            assert stop.arrive_s + stop.dwell_s == stop.depart_s
            if unit.allowed_nodes is not None:
                assert unit.allowed_nodes[stop.node]
            visits.setdefault(stop.hotspot, []).append(stop.arrive_s)
        assert 0 <= route.stops[0].dwell_s <= opts.dwell_max_s - opts.dwell_min_s
    # two stops at one hotspot keep the spacing, but for the repeats the fill pass makes
    # when nothing else fits, which the score counts
    close = sum(
        int((np.diff(sorted(times)) < opts.revisit_spacing_s).sum()) for times in visits.values()
    )
    assert close == plan.score.repeat_stops


# -- the score ---------------------------------------------------------------------------


def test_dosage_score_hourly_risk_spacing_and_short_stops() -> None:
    risk = np.zeros((2, 24))
    risk[0, 22], risk[0, 23], risk[0, 0], risk[1, 1] = 4.0, 2.0, 8.0, 5.0
    opts = PatrolOptions(revisit_spacing_s=7200, repeat_credit=0.1)
    score = dosage_score(
        [0, 0, 0, 1, 1],
        [0, 3000, 7300, 3 * 3600 + 10, 3 * 3600 + 9000],
        [600, 600, 600, 300, 900],
        risk,
        shift_start_s=NIGHT_S,
        options=opts,
    )
    # 22:00 full (4); 22:50 repeat inside 2 h (0.1 x 4); 00:01:40 is 7,300 s after the
    # first stop but only 4,300 s after the repeat (0.1 x 8); a 5-minute stop earns
    # nothing; hotspot 1 at 03:30 has no risk at hour 3
    assert score.credit.tolist() == pytest.approx([4.0, 0.4, 0.8, 0.0, 0.0])
    assert score.total == pytest.approx(5.2)
    assert score.repeat_stops == 2


def test_hour_band_risk_keeps_the_daily_total() -> None:
    risk = np.zeros((1, 24))
    risk[0, 0] = 24.0
    band = hour_band_risk(risk, shrink=0.5)
    assert band.sum() == pytest.approx(24.0)
    assert band[0, 0] == pytest.approx(0.5 * 12.0 + 0.5)
    assert band[0, 23] == band[0, 1] == pytest.approx(0.5 * 6.0 + 0.5)
    assert band[0, 12] == pytest.approx(0.5)
    assert shift_hours(NIGHT_S, 8 * 3600) == [22, 23, 0, 1, 2, 3, 4, 5]


def test_select_hotspots_merges_close_segments(walk_net: StreetNetwork) -> None:
    risk = np.zeros((walk_net.n_segments, 24))
    risk[0, 23] = 5.0
    risk[1, 23] = 1.0  # shares a node with segment 0: merged into its hotspot
    far = int(np.argmax(walk_net.segment_u + walk_net.segment_v))
    risk[far, 2] = 3.0
    hs = select_hotspots(
        walk_net, risk, hours=[22, 23, 0, 1, 2], n_hotspots=5, merge_distance_m=450
    )
    assert len(hs) == 2
    assert hs.risk_by_hour[0, 23] == pytest.approx(6.0)
    assert hs.risk_by_hour[1, 2] == pytest.approx(3.0)


# -- plans --------------------------------------------------------------------------------


def test_plan_guarantees_on_one_way_streets(car_net: StreetNetwork) -> None:
    hotspots, station = random_instance(car_net, 7, 12)
    units = [PatrolUnit(f"car-{i}", "car", station, 3 * 3600.0) for i in range(2)]
    model = PatrolModel.build({"car": car_net}, hotspots, units, shift_start_s=NIGHT_S)
    plan = model.solve(time_limit_s=2.0, seed=1)
    check_plan(model, plan)
    assert plan.objective == pytest.approx(
        dosage_score(
            [s.hotspot for r in plan.routes for s in r.hotspot_stops],
            [s.arrive_s for r in plan.routes for s in r.hotspot_stops],
            [s.dwell_s for r in plan.routes for s in r.hotspot_stops],
            hotspots.risk_by_hour,
            shift_start_s=NIGHT_S,
        ).total
    )
    # a one-way street is driven only in its direction
    reverse = {(int(v), int(u)) for u, v in zip(car_net.edge_u, car_net.edge_v, strict=True)}
    oneway_used = [
        e
        for r in plan.routes
        for e in r.edges
        if (int(car_net.edge_u[e]), int(car_net.edge_v[e])) not in reverse
    ]
    assert oneway_used, "the instance should make routes use one-way streets"


def test_seeds_give_different_plans_with_the_same_guarantees(car_net: StreetNetwork) -> None:
    hotspots, station = random_instance(car_net, 11, 12)
    units = [PatrolUnit(f"car-{i}", "car", station, 3 * 3600.0) for i in range(2)]
    model = PatrolModel.build({"car": car_net}, hotspots, units, shift_start_s=NIGHT_S)
    plans = [model.solve(time_limit_s=30.0, seed=seed, search_budget=6000) for seed in (1, 2)]
    for plan in plans:
        check_plan(model, plan)
    orders = [[[s.hotspot for s in r.hotspot_stops] for r in p.routes] for p in plans]
    assert orders[0] != orders[1]
    low, high = sorted(p.objective for p in plans)
    assert low >= 0.9 * high
    assert low > model.solve_baseline(time_limit_s=30.0, search_budget=6000).objective


def test_grids_keep_stops_inside(walk_net: StreetNetwork) -> None:
    hotspots, station = random_instance(walk_net, 3, 10)
    west = walk_net.node_x <= 800.0
    units = [
        PatrolUnit("west", "foot", station, 3 * 3600.0, allowed_nodes=west),
        PatrolUnit("any", "foot", station, 3 * 3600.0),
    ]
    model = PatrolModel.build({"foot": walk_net}, hotspots, units, shift_start_s=NIGHT_S)
    plan = model.solve(time_limit_s=1.5, seed=0)
    check_plan(model, plan)
    # legs between two stops inside the grids stay inside them
    route = plan.route("west")
    for a, b, leg in zip(route.stops[:-1], route.stops[1:], route.legs, strict=True):
        if a.kind == b.kind == "hotspot":
            assert leg.inside_grids and west[list(leg.nodes)].all()


def test_every_unit_patrols_its_whole_shift_with_few_hotspots(car_net: StreetNetwork) -> None:
    # three hotspots for three cars over six hours: the search alone sends cars home early,
    # the fill pass keeps each out until no stop fits before its shift ends
    hotspots, station = random_instance(car_net, 5, 3)
    budget_s = 6 * 3600.0
    units = [PatrolUnit(f"car-{i}", "car", station, budget_s) for i in range(3)]
    model = PatrolModel.build({"car": car_net}, hotspots, units, shift_start_s=NIGHT_S)
    plan = model.solve(time_limit_s=30.0, seed=1, search_budget=6000)
    check_plan(model, plan)
    longest_stop_s = model.options.dwell_max_s + 2 * float(model.unit_data[0].time_s.max())
    for route in plan.routes:
        assert route.duration_s >= budget_s - longest_stop_s
    assert plan.balance_ratio <= model.options.balance_ratio_goal and plan.notes == ()
    # few hotspots: the last stops are repeats, and the score counts them
    assert plan.score.repeat_stops > 0
    # a unit never parks: consecutive stops are at different hotspots
    for route in plan.routes:
        at = [s.hotspot for s in route.hotspot_stops]
        assert all(a != b for a, b in itertools.pairwise(at))


def test_units_sharing_no_hotspot_are_planned_apart(walk_net: StreetNetwork) -> None:
    hotspots, station = random_instance(walk_net, 3, 12)
    west = walk_net.node_x <= 800.0
    units = [
        PatrolUnit("west", "foot", station, 3 * 3600.0, allowed_nodes=west),
        PatrolUnit("east", "foot", station, 3 * 3600.0, allowed_nodes=~west),
        PatrolUnit("west-2", "foot", station, 3 * 3600.0, allowed_nodes=west),
    ]
    model = PatrolModel.build({"foot": walk_net}, hotspots, units, shift_start_s=NIGHT_S)
    assert unit_clusters(model.unit_data) == [[0, 2], [1]]
    plan = model.solve(time_limit_s=30.0, seed=0, search_budget=20_000)
    check_plan(model, plan)
    assert [r.unit_id for r in plan.routes] == ["west", "east", "west-2"]
    again = model.solve(time_limit_s=60.0, seed=0, search_budget=20_000)
    assert [r.stops for r in again.routes] == [r.stops for r in plan.routes]


def test_progress_is_reported_up_to_done(car_net: StreetNetwork) -> None:
    hotspots, station = random_instance(car_net, 2, 8)
    units = [
        PatrolUnit("a", "car", station, 3 * 3600.0),
        PatrolUnit("b", "car", station, 3 * 3600.0),
    ]
    model = PatrolModel.build({"car": car_net}, hotspots, units, shift_start_s=NIGHT_S)
    shares: list[float] = []
    model.solve(time_limit_s=30.0, seed=0, search_budget=3000, progress=shares.append)
    assert shares and shares == sorted(shares) and shares[-1] == pytest.approx(1.0)


def test_baseline_is_scored_by_the_same_function(walk_net: StreetNetwork) -> None:
    hotspots, station = random_instance(walk_net, 5, 10)
    units = [PatrolUnit(f"u{i}", "foot", station, 3 * 3600.0) for i in range(2)]
    model = PatrolModel.build({"foot": walk_net}, hotspots, units, shift_start_s=NIGHT_S)
    base = model.solve_baseline(time_limit_s=30.0, search_budget=6000)
    stops = [s for r in base.routes for s in r.hotspot_stops]
    assert len({s.hotspot for s in stops}) == len(stops)  # single visits
    assert base.objective == pytest.approx(
        dosage_score(
            [s.hotspot for s in stops],
            [s.arrive_s for s in stops],
            [s.dwell_s for s in stops],
            hotspots.risk_by_hour,
            shift_start_s=NIGHT_S,
        ).total
    )
    ours = model.solve(time_limit_s=30.0, seed=0, search_budget=6000)
    assert ours.objective >= base.objective


def test_a_search_budget_gives_the_same_plan_under_any_time_limit(car_net: StreetNetwork) -> None:
    # the budget (solutions found) bounds the search, not the clock: a short and a long
    # time limit, both far above what the budget takes, give the very same plan
    hotspots, station = random_instance(car_net, 11, 12)
    units = [PatrolUnit(f"car-{i}", "car", station, 3 * 3600.0) for i in range(2)]
    model = PatrolModel.build({"car": car_net}, hotspots, units, shift_start_s=NIGHT_S)
    plans = [model.solve(time_limit_s=limit_s, seed=2, search_budget=6000) for limit_s in (15, 60)]
    timetables = [
        [[(s.kind, s.hotspot, s.node, s.arrive_s, s.depart_s) for s in r.stops] for r in p.routes]
        for p in plans
    ]
    assert timetables[0] == timetables[1]
    assert plans[0].objective == plans[1].objective
    base = [model.solve_baseline(time_limit_s=t, search_budget=6000) for t in (15, 60)]
    assert [r.stops for r in base[0].routes] == [r.stops for r in base[1].routes]
    with pytest.raises(RoutingError, match="search_budget"):
        model.solve(search_budget=0)


# -- against the exact optimum ---------------------------------------------------------------


def _exact_comparison(net: StreetNetwork, seed: int) -> tuple[float, float, PatrolPlan]:
    # 8 hotspots, 2 units, 3-hour shift in 1-hour bands, 1-hour spacing: the MILP proves
    # its optimum in seconds
    hotspots, station = random_instance(net, seed, 8)
    units = [
        PatrolUnit("a", "foot", station, 3 * 3600.0),
        PatrolUnit("b", "foot", station, 3 * 3600.0),
    ]
    options = PatrolOptions(band_s=3600, revisit_spacing_s=3600)
    model = PatrolModel.build(
        {"foot": net}, hotspots, units, shift_start_s=NIGHT_S, options=options
    )
    exact = model.solve_exact(time_limit_s=60.0, expand=True)
    assert exact.bound is not None and exact.bound <= exact.objective * (1 + 1e-4)
    check_plan(model, exact)
    ours = model.solve(time_limit_s=30.0, seed=seed, search_budget=200_000)
    check_plan(model, ours)
    return ours.objective, exact.objective, exact


def test_within_3_percent_of_the_exact_optimum(walk_net: StreetNetwork) -> None:
    ours, exact, _ = _exact_comparison(walk_net, 2)
    assert ours >= 0.97 * exact


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 3])
def test_within_3_percent_of_the_exact_optimum_more(walk_net: StreetNetwork, seed: int) -> None:
    ours, exact, _ = _exact_comparison(walk_net, seed)
    assert ours >= 0.97 * exact


# -- infeasible requests ------------------------------------------------------------------


def test_unreachable_grids_name_the_unit(car_net: StreetNetwork) -> None:
    hotspots, station = random_instance(car_net, 7, 6)
    nowhere = np.zeros(car_net.n_nodes, dtype=bool)
    units = [PatrolUnit("car-9", "car", station, 3600.0, allowed_nodes=nowhere)]
    with pytest.raises(InfeasiblePlanError, match=r"car-9.*none of the 6 hotspots"):
        PatrolModel.build({"car": car_net}, hotspots, units, shift_start_s=NIGHT_S)


def test_short_budget_names_the_unit(car_net: StreetNetwork) -> None:
    hotspots, station = random_instance(car_net, 7, 6)
    units = [
        PatrolUnit("car-1", "car", station, 3600.0),
        PatrolUnit("car-2", "car", station, 300.0),
    ]
    with pytest.raises(InfeasiblePlanError, match=r"car-2.*too short"):
        PatrolModel.build({"car": car_net}, hotspots, units, shift_start_s=NIGHT_S)


def test_bad_inputs_are_refused(car_net: StreetNetwork) -> None:
    hotspots, station = random_instance(car_net, 7, 6)
    with pytest.raises(RoutingError, match="no foot network"):
        PatrolModel.build(
            {"car": car_net}, hotspots, [PatrolUnit("f", "foot", station, 3600.0)], shift_start_s=0
        )
    with pytest.raises(RoutingError, match="dwell"):
        PatrolOptions(dwell_min_s=900, dwell_max_s=600)


# -- breaks --------------------------------------------------------------------------------


def check_breaks(model: PatrolModel, plan: PatrolPlan) -> None:
    """Every break is a stop in its window with its duration (at the station if asked), or
    comes after the route is back; no stop overlaps a break; the timetable is one chain."""
    for route, unit in zip(plan.routes, model.units, strict=True):
        breaks = route.break_stops
        assert len(breaks) <= len(unit.breaks)
        taken = iter(breaks)
        for brk in unit.breaks:
            if route.stops[-1].arrive_s <= brk.earliest_start_s:
                continue  # back at the station before the window opens: no stop needed
            stop = next(taken)
            assert brk.earliest_start_s <= stop.arrive_s <= brk.latest_start_s
            assert stop.dwell_s == brk.duration_s
            if brk.at_station:
                assert stop.node == unit.station_node and stop.hotspot == -1
        assert next(taken, None) is None
        for a, b, leg in zip(route.stops[:-1], route.stops[1:], route.legs, strict=True):
            assert a.arrive_s <= a.depart_s
            assert a.depart_s + leg.travel_time_s == b.arrive_s
        for stop in breaks:
            for other in route.hotspot_stops:
                assert other.depart_s <= stop.arrive_s or other.arrive_s >= stop.depart_s
        assert route.stops[-1].arrive_s <= unit.budget_s


def test_breaks_are_stops_in_their_windows(walk_net: StreetNetwork) -> None:
    hotspots, station = random_instance(walk_net, 5, 12)
    units = [
        PatrolUnit("a", "foot", station, 3 * 3600.0, breaks=(Break(5400, 7200, 1800),)),
        PatrolUnit("b", "foot", station, 3 * 3600.0, breaks=(Break(3600, 4500, 1800, True),)),
    ]
    model = PatrolModel.build({"foot": walk_net}, hotspots, units, shift_start_s=NIGHT_S)
    plan = model.solve(time_limit_s=2.0, seed=0)
    check_plan(model, plan)
    check_breaks(model, plan)
    assert [len(r.break_stops) for r in plan.routes] == [1, 1]
    # breaks earn nothing: the whole timetable scores as its hotspot stops
    stops = [s for r in plan.routes for s in r.stops[1:-1]]
    assert plan.objective == pytest.approx(
        dosage_score(
            [s.hotspot for s in stops],
            [s.arrive_s for s in stops],
            [s.dwell_s for s in stops],
            hotspots.risk_by_hour,
            shift_start_s=NIGHT_S,
            kind=[s.kind for s in stops],
        ).total
    )
    check_breaks(model, model.solve_baseline(time_limit_s=1.0))
    with pytest.raises(RoutingError, match=r"solve_exact does not model breaks.*'a', 'b'"):
        model.solve_exact(time_limit_s=1.0)


def test_a_break_after_the_route_needs_no_stop(walk_net: StreetNetwork) -> None:
    # a unit whose grids hold one hotspot has one visit to make and cannot wait for a break
    # window later in the shift: it is back at its station before, and the plan stands
    hotspots, station = random_instance(walk_net, 3, 10)
    one = (walk_net.node_x == hotspots.x[0]) & (walk_net.node_y == hotspots.y[0])
    units = [
        PatrolUnit("one", "foot", station, 3 * 3600.0, one, breaks=(Break(7200, 8100, 1800),)),
        PatrolUnit("any", "foot", station, 3 * 3600.0),
    ]
    model = PatrolModel.build({"foot": walk_net}, hotspots, units, shift_start_s=NIGHT_S)
    plan = model.solve(time_limit_s=1.0, seed=0)
    check_plan(model, plan)
    check_breaks(model, plan)
    route = plan.route("one")
    assert not route.break_stops and route.stops[-1].arrive_s <= 7200
    assert {s.hotspot for s in route.hotspot_stops} == {0}


def test_units_without_breaks_keep_their_guarantees(car_net: StreetNetwork) -> None:
    hotspots, station = random_instance(car_net, 7, 12)
    units = [
        PatrolUnit("plain", "car", station, 3 * 3600.0),
        PatrolUnit("meal", "car", station, 3 * 3600.0, breaks=[Break(3600, 5400, 1800)]),
    ]
    assert units[0].breaks == () and isinstance(units[1].breaks, tuple)
    model = PatrolModel.build({"car": car_net}, hotspots, units, shift_start_s=NIGHT_S)
    plan = model.solve(time_limit_s=1.5, seed=1)
    check_plan(model, plan)
    check_breaks(model, plan)
    assert not plan.route("plain").break_stops
    assert all(s.kind in ("station", "hotspot") for s in plan.route("plain").stops)


@pytest.mark.parametrize(
    ("breaks", "message"),
    [
        ((Break(3600, 5400, 0),), r"break 1 lasts 0 s; give it a positive duration"),
        ((Break(3600, 5400, -60),), r"break 1 lasts -60 s"),
        ((Break(5400, 3600, 1800),), r"break 1 should start in a window 0 <= earliest <= latest"),
        ((Break(-60, 3600, 1800),), r"break 1 should start in a window"),
        ((Break(3600, 9600, 1800),), r"break 1 \(starting by 2:40, 30 min\) may end after the "),
        (
            (Break(3600, 5400, 1800), Break(6000, 7000, 900)),
            r"break 1 \(30 min starting 1:00-1:30 into the shift\) and break 2 .* may overlap",
        ),
        ((Break(float("nan"), 3600, 1800),), r"break 1 has a time that is not a finite"),
    ],
)
def test_bad_breaks_name_the_unit(breaks: tuple[Break, ...], message: str) -> None:
    with pytest.raises(RoutingError, match=rf"unit 'car-3': .*{message}"):
        PatrolUnit("car-3", "car", 0, 3 * 3600.0, breaks=breaks)


def test_bad_breaks_are_all_reported_at_once() -> None:
    with pytest.raises(RoutingError, match=r"'car-3': break 1 lasts 0 s.*; break 2 .* may end"):
        PatrolUnit("car-3", "car", 0, 3600.0, breaks=(Break(0, 60, 0), Break(0, 3000, 900)))


# -- legs through risky streets ---------------------------------------------------------------


def test_risky_legs_keep_every_guarantee(car_net: StreetNetwork, walk_net: StreetNetwork) -> None:
    rng = np.random.default_rng(5)
    hotspots, station = random_instance(car_net, 7, 12)
    street_risk = rng.gamma(0.5, 1.0, car_net.n_segments)
    units = [PatrolUnit(f"car-{i}", "car", station, 3 * 3600.0) for i in range(2)]
    options = PatrolOptions(street_risk_weight=0.6)
    model = PatrolModel.build(
        {"car": car_net},
        hotspots,
        units,
        shift_start_s=NIGHT_S,
        options=options,
        street_risk=street_risk,
    )
    plan = model.solve(time_limit_s=2.0, seed=1)
    check_plan(model, plan)
    fastest = PatrolModel.build({"car": car_net}, hotspots, units, shift_start_s=NIGHT_S)
    assert model.expand(plan).routes != fastest.expand(plan).routes
    # grids: stops inside, legs between stops inside whenever the streets there join them
    hotspots, station = random_instance(walk_net, 3, 10)
    inside = walk_net.node_x <= 800.0
    units = [PatrolUnit("foot-1", "foot", station, 3 * 3600.0, inside)]
    model = PatrolModel.build(
        {"foot": walk_net},
        hotspots,
        units,
        shift_start_s=NIGHT_S,
        options=options,
        street_risk={"foot": rng.gamma(0.5, 1.0, walk_net.n_segments)},
    )
    plan = model.solve(time_limit_s=1.5, seed=0)
    check_plan(model, plan)
    for leg in plan.routes[0].legs[1:-1]:
        assert leg.inside_grids and all(inside[n] for n in leg.nodes)


def two_streets(offset_m: float) -> gpd.GeoDataFrame:
    """Two parallel streets from (0, 0) to (1000, 0): a straight one and one bent out by
    ``offset_m`` (0: both bent the same way, mirrored, so equally long), plus a stub."""
    first = (
        LineString([(0, 0), (1000, 0)])
        if offset_m
        else LineString([(0, 0), (500, -300), (1000, 0)])
    )
    bend = LineString([(0, 0), (500, offset_m or 300), (1000, 0)])
    stub = LineString([(1000, 0), (1400, 0)])
    return gpd.GeoDataFrame(
        {"oneway": [False] * 3, "name": ["First", "Risky", "Stub"]},
        geometry=[first, bend, stub],
        crs=METRIC_CRS,
    )


@pytest.mark.parametrize("offset_m", [0.0, 200.0])
def test_a_positive_weight_takes_the_risky_street(offset_m: float) -> None:
    net = network_from_lines(two_streets(offset_m), mode="car")
    names = list(net.segment_name)
    risky, first = names.index("Risky"), names.index("First")
    street_risk = np.zeros(net.n_segments)
    street_risk[risky] = 3.0
    station = int(np.argmin(np.hypot(net.node_x, net.node_y)))
    target = int(np.argmin(np.hypot(net.node_x - 1000.0, net.node_y)))
    risk = np.zeros((1, 24))
    risk[0, 22:24] = 1.0
    hotspots = Hotspots(
        x=net.node_x[[target]],
        y=net.node_y[[target]],
        crs=net.crs,
        risk_by_hour=risk,
        name=np.array(["h0"], dtype=object),
    )
    units = [PatrolUnit("car-1", "car", station, 2 * 3600.0)]
    taken = {}
    for weight in (0.0, 0.5):
        model = PatrolModel.build(
            {"car": net},
            hotspots,
            units,
            shift_start_s=NIGHT_S,
            options=PatrolOptions(street_risk_weight=weight),
            street_risk=street_risk,
        )
        plan = model.solve(time_limit_s=0.5, seed=0)
        check_plan(model, plan)
        legs = [leg for leg in plan.routes[0].legs if leg.edges]
        assert legs
        taken[weight] = {int(net.edge_segment[e]) for leg in legs for e in leg.edges}
        for leg in legs:
            exact_s = float(net.edge_travel_time_s[list(leg.edges)].sum())
            assert leg.travel_time_s == np.ceil(exact_s - 1e-9)
    assert taken[0.0] == {first}
    assert taken[0.5] == {risky}


def test_street_risk_is_checked(car_net: StreetNetwork) -> None:
    hotspots, station = random_instance(car_net, 7, 4)
    units = [PatrolUnit("car-1", "car", station, 3 * 3600.0)]
    with pytest.raises(RoutingError, match="street_risk"):
        PatrolModel.build(
            {"car": car_net},
            hotspots,
            units,
            shift_start_s=NIGHT_S,
            street_risk=np.ones(3),
        )
    with pytest.raises(RoutingError, match="street_risk_weight"):
        PatrolOptions(street_risk_weight=1.5)


# -- a captain's overrides ------------------------------------------------------------------


def _override_model(net: StreetNetwork, overrides: Overrides) -> PatrolModel:
    hotspots, station = random_instance(net, 8, 10)
    units = [
        PatrolUnit("a", "car", station, 3 * 3600.0),
        PatrolUnit("b", "car", station, 3 * 3600.0),
    ]
    return PatrolModel.build(
        {"car": net}, hotspots, units, shift_start_s=NIGHT_S, overrides=overrides
    )


def test_locks_and_forbidden_hotspots_are_kept(car_net: StreetNetwork) -> None:
    free = _override_model(car_net, Overrides()).solve(seed=0, search_budget=6000)
    visited = {s.hotspot for r in free.routes for s in r.hotspot_stops}
    never = sorted(set(range(10)) - {s.hotspot for s in free.route("b").hotspot_stops})
    lock = Lock("b", never[0], at_s=5400.0)
    forbid = min(visited - {lock.hotspot})
    model = _override_model(car_net, Overrides(locks=(lock,), forbidden=frozenset({forbid})))
    plan = model.solve(seed=0, search_budget=6000)
    check_plan(model, plan)
    assert forbid not in {s.hotspot for r in plan.routes for s in r.hotspot_stops}
    arrivals = [s.arrive_s for s in plan.route("b").hotspot_stops if s.hotspot == lock.hotspot]
    assert any(abs(a - 5400.0) <= LOCK_TOLERANCE_S for a in arrivals)


def test_an_order_is_timed_as_set_and_a_bad_one_named(car_net: StreetNetwork) -> None:
    order = (3, 1, 4, 1, 5)
    model = _override_model(car_net, Overrides(orders={"a": order}))
    plan = model.solve(seed=0, search_budget=6000)
    check_plan(model, plan)
    assert tuple(s.hotspot for s in plan.route("a").hotspot_stops) == order
    assert plan.route("b").hotspot_stops  # the other unit is planned as usual
    too_long = _override_model(car_net, Overrides(orders={"a": (3, 1) * 20}))
    with pytest.raises(InfeasiblePlanError, match=r"'a': stop 10 .* move it or drop it"):
        too_long.solve(seed=0, search_budget=6000)


def test_a_closed_street_carries_no_leg(car_net: StreetNetwork) -> None:
    free = _override_model(car_net, Overrides()).solve(seed=0, search_budget=6000)
    used = {int(car_net.edge_segment[e]) for r in free.routes for e in r.edges}
    closed = np.zeros(car_net.n_segments, dtype=bool)
    closed[sorted(used)[:3]] = True
    model = _override_model(car_net, Overrides(closed_segments={"car": closed}))
    plan = model.solve(seed=0, search_budget=6000)
    check_plan(model, plan)
    assert not closed[[int(car_net.edge_segment[e]) for r in plan.routes for e in r.edges]].any()


def test_overrides_naming_unknown_things_are_refused(car_net: StreetNetwork) -> None:
    bad = Overrides(locks=(Lock("z", 99),), forbidden=frozenset({2}), orders={"a": (2,)})
    with pytest.raises(RoutingError, match=r"unit 'z'.*hotspot 99.*unknown or forbidden"):
        _override_model(car_net, bad)


def test_units_sharing_only_boundary_hotspots_are_searched_apart(walk_net: StreetNetwork) -> None:
    # west and east grids share the middle street: its hotspot goes to one unit for the
    # search, the two units are searched apart, and the plan keeps every guarantee
    xs = np.unique(walk_net.node_x)
    rng = np.random.default_rng(4)
    middle = walk_net.node_x == xs[2]
    picks = [int(np.flatnonzero(middle)[0])]
    picks += rng.choice(np.flatnonzero(walk_net.node_x < xs[2]), 5, replace=False).tolist()
    picks += rng.choice(np.flatnonzero(walk_net.node_x > xs[2]), 5, replace=False).tolist()
    hotspots = Hotspots(
        x=walk_net.node_x[picks],
        y=walk_net.node_y[picks],
        crs=walk_net.crs,
        risk_by_hour=rng.gamma(0.7, 1.0, (len(picks), 24)),
        name=np.array([f"h{i}" for i in range(len(picks))], dtype=object),
    )
    station = int(np.flatnonzero(middle)[-1])
    units = [
        PatrolUnit("west", "foot", station, 3 * 3600.0, allowed_nodes=walk_net.node_x <= xs[2]),
        PatrolUnit("east", "foot", station, 3 * 3600.0, allowed_nodes=walk_net.node_x >= xs[2]),
    ]
    model = PatrolModel.build({"foot": walk_net}, hotspots, units, shift_start_s=NIGHT_S)
    assert unit_clusters(model.unit_data) == [[0, 1]]
    assert unit_clusters(search_areas(model.unit_data)) == [[0], [1]]
    assert unit_clusters(search_areas(model.unit_data, {"east": [0]})) == [[0, 1]]
    plan = model.solve(seed=0, search_budget=6000)
    check_plan(model, plan)


def test_risky_leg_times_are_the_times_of_the_cheapest_paths(car_net: StreetNetwork) -> None:
    """A leg on a risk-weighted graph is timed along its cheapest path: the same path
    networkx finds by cost, each edge at its true travel time, both ways round."""
    import networkx as nx

    from routing.patrol.legs import leg_graph, leg_times

    rng = np.random.default_rng(11)
    risk = rng.gamma(0.5, 1.0, car_net.n_segments)
    legs_on = leg_graph(car_net, risk, 0.7)
    assert legs_on.weighted
    graph = nx.DiGraph()
    coo = legs_on.cost_csr.tocoo()
    for u, v, cost in zip(coo.row, coo.col, coo.data, strict=True):
        edge = int(legs_on.edge_csr[u, v]) - 1
        graph.add_edge(int(u), int(v), cost=float(cost), time=legs_on.edge_time_s[edge])
    sources = rng.choice(car_net.n_nodes, 4, replace=False)
    targets = rng.choice(car_net.n_nodes, 9, replace=False)
    times = leg_times(legs_on, legs_on.cost_csr, sources, targets)
    back = leg_times(legs_on.reversed(), legs_on.reversed().cost_csr, targets, sources)
    for i, source in enumerate(sources):
        for j, target in enumerate(targets):
            path = nx.dijkstra_path(graph, int(source), int(target), weight="cost")
            expected = sum(graph[a][b]["time"] for a, b in itertools.pairwise(path))
            assert times[i, j] == pytest.approx(expected)
            assert back[j, i] == pytest.approx(expected)
    assert times.shape == (4, 9) and (times[sources[:, None] == targets[None, :]] == 0).all()
