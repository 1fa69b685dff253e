"""Benchmark ``routes``: shift patrol plans against a competent plain OR-Tools model.

The anchor (:func:`solve_anchor`) is what a competent OR-Tools user writes in about fifty
lines, on the **same instance** as ours (hotspots, hourly risk, units, stations, budgets,
the unit's leg times ``model.unit_data[v].time_s`` and the hotspots each unit may stop
at): one node per hotspot and 30-minute band with risk (its window is the band, its prize
the band's hourly risk, as a disjunction penalty), 12-minute stops as service time,
waiting only by lengthening a stop to 15 minutes (the instance's rule, as ours; a
``relaxed`` anchor that may wait anywhere is reported beside it), every route within its
unit's budget, revisit spacing as "at most one"
disjunctions over the copies of a hotspot whose bands lie closer than 2 hours, transit
times as one matrix per class of alike units (Python callbacks when those matrices would
not fit in memory, as on the whole city: reported as ``anchor_transit``), one model for
all units (no decomposition),
PATH_CHEAPEST_ARC then GUIDED_LOCAL_SEARCH under the same time limit as ours, and **no
balance terms**. It never calls our solver. Both plans are scored by the same
:func:`routing.patrol.dosage_score` (hotspot, arrival and dwell of every stop, as
``routing.patrol.search.rank_plan`` builds them).

Reported per plan: dosage (and ours ÷ anchor), balance ratio (busiest route's duration,
station to station, over the least busy one's; ``inf`` when a unit stays in), units used,
mean revisit spacing (minutes between consecutive stops at one hotspot) and solve time.

Lines
- ``new_haven_4cars_8h_40hotspots``: the sample workspace, 4 cars from Police HQ, night
  shift 22:00-06:00, 40 hotspots from the real September 2014 incidents; ours, the anchor
  and (labelled ``single_visit``) our old plain one-visit-per-hotspot baseline, 10 s each.
- ``new_haven_4cars_8h_40hotspots_seeds0-9``: ours with seeds 0-9 as a captain gets it
  (the default search budget, ``plan_effort``) against the anchor given the median time
  ours took (solved once: it has no seed): min/median/max of balance and dosage ratio,
  ``balance_ok_all`` (every seed's balance <= 1.2) and ``all_units_out_all`` (every route
  of every seed lasts >= 0.9 x its budget). Goals are printed beside the figures.
- ``wuhan_city_<n>cars_night``: the generated whole-city workspace of ``bench/city.py``
  (real Wuhan streets, generated stations, units, grids and 50,000 incidents) with 20 and
  40 cars, planned through the service (``gisapp.services.plan.plan_shift``, default
  options, night shift 22:00-06:00 of a day inside the incidents' span), and the anchor on
  the service's model with a time limit equal to the search time ours took (``total_s``
  also holds the network build, risk and hotspots). When one anchor model for every unit
  would need Python callbacks (its transit matrices too large), the anchor is solved one
  unit at a time over the unit's own hotspots (:func:`solve_anchor_per_unit`, an equal
  share of the time each), as a competent user splits a model whose units patrol their own
  grids; ``shared_hotspots`` counts the hotspots more than one unit may visit. A failure of the service is reported
  in the line (``error``), not raised.

Run ``python bench/routes.py`` (one JSON line per instance) or ``python bench/run.py routes``.
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
import logging
import math
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import geopandas as gpd  # noqa: E402
import numpy as np  # noqa: E402

from routing.network import network_from_lines  # noqa: E402
from routing.patrol import (  # noqa: E402
    PatrolModel,
    PatrolOptions,
    PatrolPlan,
    PatrolUnit,
    dosage_score,
    hour_band_risk,
    select_hotspots,
    shift_hours,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TIME_LIMIT_S = 10.0
#: Anchor time when no seed of ours was solved (the line then reports the errors).
SEEDS_TIME_LIMIT_S = 5.0
SEEDS = range(10)
NIGHT_S = 22 * 3600
BUDGET_S = 8 * 3600.0
DWELL_S = 720
BAND_S = 1800
OPTIONS = PatrolOptions(dwell_min_s=720.0, dwell_max_s=900.0)
BALANCE_GOAL = 1.2
OUT_SHARE = 0.9
CITY_UNITS = (20, 40)
#: Largest transit matrices (cells over all classes of units) the anchor registers.
MATRIX_CELLS = 20_000_000
UNREACHABLE_S = 10**7
ANCHOR = "ortools-band-copies-windows-spacing-gls-no-balance"


@dataclass
class Stops:
    """A plan's hotspot stops and route durations, whoever solved it."""

    unit: list[int]
    hotspot: list[int]
    arrive_s: list[float]
    dwell_s: list[float]
    duration_s: list[float]
    solve_time_s: float


def solve_anchor(
    model: PatrolModel, *, time_limit_s: float, relaxed: bool = False
) -> tuple[Stops, str]:
    """The competent anchor: band copies with windows, spacing disjunctions, GLS; also how
    its transit times were given to OR-Tools.

    It keeps the instance's stop rule, as ours does: a unit waits only by lengthening a
    stop up to ``dwell_max_s`` (a patrol's timetable holds no idle time away from a
    hotspot). ``relaxed`` lets it wait anywhere, as long as it likes: a looser problem than
    the product's, reported beside it for honesty."""
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    risk, n_units = model.hotspots.risk_by_hour, len(model.units)
    dwell_s = max(DWELL_S, math.ceil(model.options.dwell_min_s))
    horizon = int(max(u.budget_s for u in model.units))
    bands = [(lo, min(lo + BAND_S, horizon) - 1) for lo in range(0, horizon, BAND_S)]
    hour = [((model.shift_start_s + lo) // 3600) % 24 for lo, _ in bands]
    copies = [  # (hotspot, band, lo, hi, prize)
        (h, b, lo, hi, float(risk[h, hour[b]]))
        for h in range(len(model.hotspots))
        for b, (lo, hi) in enumerate(bands)
        if risk[h, hour[b]] > 0 and any(d.allowed[h] for d in model.unit_data)
    ]
    manager = pywrapcp.RoutingIndexManager(len(copies) + 1, n_units, 0)
    routing = pywrapcp.RoutingModel(manager)
    place = [0] + [c[0] + 1 for c in copies]  # node -> place in unit_data (0: station)

    callbacks, transit_kind = _anchor_transits(model, routing, manager, place, dwell_s)
    for v, cb in enumerate(callbacks):
        routing.SetArcCostEvaluatorOfVehicle(cb, v)
    waiting_s = horizon if relaxed else max(math.floor(model.options.dwell_max_s) - dwell_s, 0)
    routing.AddDimensionWithVehicleTransitAndCapacity(
        callbacks, waiting_s, [int(u.budget_s) for u in model.units], True, "time"
    )
    time_dim = routing.GetDimensionOrDie("time")
    top = max((c[4] for c in copies), default=1.0)
    for node, (h, _, lo, hi, prize) in enumerate(copies, start=1):
        index = manager.NodeToIndex(node)
        time_dim.CumulVar(index).SetRange(lo, hi)
        routing.AddDisjunction([index], max(1, round(prize / top * 100_000)))
        allowed = [v for v in range(n_units) if model.unit_data[v].allowed[h]]
        routing.VehicleVar(index).SetValues([-1, *allowed])  # -1: left out
    spacing_bands = math.ceil(model.options.revisit_spacing_s / BAND_S)
    node_of: dict[int, dict[int, int]] = {}  # hotspot -> band -> node
    for node, c in enumerate(copies, start=1):
        node_of.setdefault(c[0], {})[c[1]] = node
    for mine in node_of.values():
        for b in mine:  # bands b..b+spacing: closer than the spacing, at most one visit
            group = [
                manager.NodeToIndex(mine[k]) for k in range(b, b + spacing_bands + 1) if k in mine
            ]
            if len(group) > 1:
                routing.AddDisjunction(group, 0, 1)
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    params.time_limit.FromMilliseconds(int(time_limit_s * 1000))
    start = time.perf_counter()
    solution = routing.SolveWithParameters(params)
    elapsed = time.perf_counter() - start
    stops = _anchor_stops(model, manager, routing, solution, copies, dwell_s, elapsed)
    return stops, transit_kind


def solve_anchor_per_unit(model: PatrolModel, *, time_limit_s: float) -> tuple[Stops, str]:
    """The anchor one unit at a time (its share of the time each), as a competent user
    splits a model whose units patrol their own grids; hotspots two units share may then
    be visited by both within the spacing (the score gives such a repeat little)."""
    merged = Stops([], [], [], [], [], 0.0)
    kinds = set()
    for v in range(len(model.units)):
        # the anchor reads only these attributes of a model
        one = SimpleNamespace(
            units=model.units[v : v + 1],
            unit_data=model.unit_data[v : v + 1],
            hotspots=model.hotspots,
            shift_start_s=model.shift_start_s,
            options=model.options,
        )
        part, kind = solve_anchor(
            cast(PatrolModel, one), time_limit_s=time_limit_s / len(model.units)
        )
        kinds.add(kind)
        merged.unit.extend(v for _ in part.unit)
        merged.hotspot.extend(part.hotspot)
        merged.arrive_s.extend(part.arrive_s)
        merged.dwell_s.extend(part.dwell_s)
        merged.duration_s.extend(part.duration_s)
        merged.solve_time_s += part.solve_time_s
    return merged, "per unit, " + " / ".join(sorted(kinds))


def _anchor_transits(
    model: PatrolModel, routing: Any, manager: Any, place: list[int], dwell_s: int
) -> tuple[list[int], str]:
    """Per-vehicle transit (stop + leg, seconds): a matrix per class of alike units, as
    OR-Tools advises, or Python callbacks when the matrices would not fit in memory."""
    classes = {id(d.time_s): d.time_s for d in model.unit_data}
    use_matrix = len(place) ** 2 * len(classes) <= MATRIX_CELLS
    node = np.asarray(place)
    registered: dict[int, int] = {}
    for key, t in classes.items():
        if use_matrix:
            leg = t[np.ix_(node, node)]
            transit = (
                np.where(leg >= 0, leg, UNREACHABLE_S) + np.where(node > 0, dwell_s, 0)[:, None]
            )
            registered[key] = int(routing.RegisterTransitMatrix(transit.tolist()))
        else:

            def cb(i: int, j: int, t: Any = t) -> int:
                a, b = manager.IndexToNode(i), manager.IndexToNode(j)
                leg = int(t[place[a], place[b]])
                return (dwell_s if a else 0) + (leg if leg >= 0 else UNREACHABLE_S)

            registered[key] = int(routing.RegisterTransitCallback(cb))
    kind = "matrix" if use_matrix else "python-callback (matrices too large)"
    return [registered[id(d.time_s)] for d in model.unit_data], kind


def _anchor_stops(
    model: PatrolModel,
    manager: Any,
    routing: Any,
    solution: Any,
    copies: list[Any],
    dwell_s: int,
    elapsed: float,
) -> Stops:
    """The anchor's stops read from its solution (arrival = the time cumul)."""
    stops = Stops([], [], [], [], [], elapsed)
    if solution is None:
        return stops
    time_dim = routing.GetDimensionOrDie("time")
    for v in range(len(model.units)):
        index = routing.Start(v)
        first_arrive: float | None = None
        first_place = 0
        while not routing.IsEnd(index := solution.Value(routing.NextVar(index))):
            h = copies[manager.IndexToNode(index) - 1][0]
            arrive = float(solution.Value(time_dim.CumulVar(index)))
            if first_arrive is None:
                first_arrive, first_place = arrive, h + 1
            stops.unit.append(v)
            stops.hotspot.append(h)
            stops.arrive_s.append(arrive)
            stops.dwell_s.append(float(dwell_s))
        end = float(solution.Value(time_dim.CumulVar(index)))
        if first_arrive is None:
            stops.duration_s.append(0.0)
        else:
            leave = first_arrive - float(model.unit_data[v].time_s[0, first_place])
            stops.duration_s.append(end - leave)
    return stops


def plan_stops(plan: PatrolPlan) -> Stops:
    """Our plan's hotspot stops and route durations."""
    stops = Stops([], [], [], [], [], plan.solve_time_s)
    for v, route in enumerate(plan.routes):
        for s in route.hotspot_stops:
            stops.unit.append(v)
            stops.hotspot.append(s.hotspot)
            stops.arrive_s.append(s.arrive_s)
            stops.dwell_s.append(s.dwell_s)
        stops.duration_s.append(route.duration_s)
    return stops


def figures(model: PatrolModel, stops: Stops) -> dict[str, Any]:
    """Dosage, balance, units used, mean revisit spacing and solve time of one plan."""
    score = dosage_score(
        np.asarray(stops.hotspot, dtype=np.int64),
        np.asarray(stops.arrive_s, dtype=float),
        np.asarray(stops.dwell_s, dtype=float),
        model.hotspots.risk_by_hour,
        shift_start_s=model.shift_start_s,
        options=model.options,
    )
    work = np.asarray(stops.duration_s, dtype=float)
    balance = float(work.max() / work.min()) if len(work) and work.min() > 0 else math.inf
    gaps = [
        float(np.diff(np.sort(np.asarray(stops.arrive_s)[np.asarray(stops.hotspot) == h])).mean())
        for h in set(stops.hotspot)
        if stops.hotspot.count(h) > 1
    ]
    budgets = np.array([u.budget_s for u in model.units])
    per_unit = np.bincount(np.asarray(stops.unit, dtype=np.int64), minlength=len(model.units))
    return {
        "dosage": round(score.total, 4),
        "balance": round(balance, 3) if math.isfinite(balance) else "inf (idle unit)",
        "units_used": int((per_unit > 0).sum()),
        "stops_min": int(per_unit.min()),
        "stops_max": int(per_unit.max()),
        "revisit_spacing_mean_min": round(float(np.mean(gaps)) / 60, 1) if gaps else None,
        "all_units_out": bool((work >= OUT_SHARE * budgets).all()),
        "solve_s": round(stops.solve_time_s, 3),
        "_balance": balance,
        "_dosage": score.total,
    }


def _public(prefix: str, fig: dict[str, Any]) -> dict[str, Any]:
    return {f"{prefix}{k}": v for k, v in fig.items() if not k.startswith("_")}


def new_haven_model() -> PatrolModel:
    """The New Haven night instance: 4 cars from HQ, 40 hotspots, 22:00-06:00."""
    from gisapp.samples import get_path
    from gisapp.store.geopackage import Workspace
    from routing.risk import segment_risk_by_hour
    from routing.snap import nearest_nodes

    ws = Workspace.open(get_path("new_haven"))
    roads = ws.layer("roads")
    assert isinstance(roads, gpd.GeoDataFrame)
    network = network_from_lines(roads, mode="car")
    incidents = ws.layer("incidents")
    assert isinstance(incidents, gpd.GeoDataFrame)
    risk = hour_band_risk(segment_risk_by_hour(network, incidents, timezone=ws.timezone))
    hotspots = select_hotspots(network, risk, hours=shift_hours(NIGHT_S, BUDGET_S), n_hotspots=40)
    hq = int(np.asarray(nearest_nodes(network, ws.layer("stations").geometry))[0])
    units = [PatrolUnit(f"car-{i}", "car", hq, BUDGET_S) for i in range(1, 5)]
    return PatrolModel.build(
        {"car": network}, hotspots, units, shift_start_s=NIGHT_S, options=OPTIONS
    )


def new_haven(model: PatrolModel) -> dict[str, Any]:
    """Ours, the anchor and the old single-visit baseline on New Haven, 10 s each."""
    ours = figures(model, plan_stops(model.solve(time_limit_s=TIME_LIMIT_S, seed=1)))
    anchor_stops, transit = solve_anchor(model, time_limit_s=TIME_LIMIT_S)
    anchor = figures(model, anchor_stops)
    relaxed = figures(model, solve_anchor(model, time_limit_s=TIME_LIMIT_S, relaxed=True)[0])
    single = model.solve_baseline(time_limit_s=TIME_LIMIT_S)
    return {
        "bench": "routes",
        "instance": "new_haven_4cars_8h_40hotspots",
        "ours_s": ours["solve_s"],
        "anchor": ANCHOR,
        "anchor_s": anchor["solve_s"],
        "ratio": round(anchor["solve_s"] / ours["solve_s"], 3),
        "dosage_ratio": round(ours["_dosage"] / anchor["_dosage"], 3)
        if anchor["_dosage"]
        else None,
        **_public("", ours),
        **_public("anchor_", anchor),
        "anchor_transit": transit,
        "anchor_rule": "stops of 12-15 min, waiting only by lengthening a stop (as ours)",
        "relaxed_anchor_dosage": relaxed["dosage"],
        "relaxed_anchor_rule": "waiting anywhere, any length (a looser problem)",
        "single_visit_dosage": round(single.objective, 4),
        "time_limit_s": TIME_LIMIT_S,
        "hotspots": len(model.hotspots),
        "data": "real",
    }


def new_haven_seeds(model: PatrolModel) -> dict[str, Any]:
    """Ours over seeds 0-9 as a captain gets it (the default search budget, not a time
    limit) against the anchor given the median time ours took: spreads of balance and
    dosage ratio."""
    from gisapp.settings import Settings

    budget = Settings().plan_effort
    balances, dosages, times, out_all, errors = [], [], [], [], []
    for seed in SEEDS:
        try:
            plan = model.solve(time_limit_s=300.0, seed=seed, search_budget=budget)
        except Exception as exc:  # the line reports any failure of a seed, whatever it is
            errors.append(f"seed {seed}: {exc}")
            continue
        ours = figures(model, plan_stops(plan))
        balances.append(ours["_balance"])
        dosages.append(ours["_dosage"])
        times.append(plan.solve_time_s)
        out_all.append(ours["all_units_out"])
    anchor_s = statistics.median(times) if times else SEEDS_TIME_LIMIT_S
    anchor_stops, transit = solve_anchor(model, time_limit_s=anchor_s)
    anchor = figures(model, anchor_stops)
    ratios = [d / anchor["_dosage"] if anchor["_dosage"] else math.nan for d in dosages]

    def spread(values: list[float]) -> dict[str, float] | None:
        if not values:
            return None
        return {
            "min": round(min(values), 3),
            "median": round(statistics.median(values), 3),
            "max": round(max(values), 3),
        }

    return {
        "bench": "routes",
        "instance": "new_haven_4cars_8h_40hotspots_seeds0-9",
        "anchor": ANCHOR,
        "search_budget_per_solve": budget,
        "ours_s": spread(times),
        "anchor_s": round(anchor_s, 3),
        "anchor_solved": "once (no seed), for the median time ours took",
        "balance": spread(balances),
        "balance_goal": f"<= {BALANCE_GOAL}",
        "dosage_ratio": spread(ratios),
        "dosage_ratio_goal": ">= 1",
        "balance_ok_all": len(balances) == len(SEEDS) and max(balances) <= BALANCE_GOAL,
        "all_units_out_all": len(out_all) == len(SEEDS) and all(out_all),
        "all_units_out_rule": f"every route lasts >= {OUT_SHARE} x its budget",
        "anchor_dosage": anchor["dosage"],
        "anchor_balance": anchor["balance"],
        "anchor_transit": transit,
        **({"errors": errors} if errors else {}),
    }


def city_line(workspace_path: Path, n_units: int, day: dt.date) -> dict[str, Any]:
    """Plan the city's night through the service, then the anchor on its model."""
    from gisapp.services.plan import plan_shift
    from gisapp.settings import parse_shift
    from gisapp.store import open_workspace

    line: dict[str, Any] = {
        "bench": "routes",
        "instance": f"wuhan_city_{n_units}cars_night",
        "anchor": ANCHOR,
        "data": "real streets; generated stations, units, grids and incidents (bench/city.py)",
        "date": day.isoformat(),
    }
    workspace = open_workspace(str(workspace_path))
    start = time.perf_counter()
    try:
        result = plan_shift(workspace, shift=parse_shift("22:00-06:00"), date=day)
    except Exception as exc:  # the harness reports any failure of the service, whatever it is
        line["total_s"] = round(time.perf_counter() - start, 3)
        line["error"] = f"{type(exc).__name__}: {exc}"
        line["anchor_skipped"] = "the service returned no model to run it on"
        return line
    line["total_s"] = round(time.perf_counter() - start, 3)
    model = result.model
    ours = figures(model, plan_stops(result.plan))
    # the anchor gets the search time ours took (the service's search is work-bounded)
    limit_s = max(math.ceil(result.plan.solve_time_s), 1)
    line.update({"ours_s": ours["solve_s"], **_public("", ours), "hotspots": len(model.hotspots)})
    allowed = np.stack([d.allowed for d in model.unit_data])
    classes = len({id(d.time_s) for d in model.unit_data})
    if (len(model.copies) + 1) ** 2 * classes > MATRIX_CELLS:
        # one model for every unit would need Python callbacks: split it by unit
        anchor_stops, transit = solve_anchor_per_unit(model, time_limit_s=limit_s)
    else:
        anchor_stops, transit = solve_anchor(model, time_limit_s=limit_s)
    line["shared_hotspots"] = int((allowed.sum(axis=0) > 1).sum())
    anchor = figures(model, anchor_stops)
    line.update(
        {
            "anchor_s": anchor["solve_s"],
            "anchor_time_limit_s": limit_s,
            "anchor_transit": transit,
            "service_time_limit_s": inspect.signature(plan_shift)
            .parameters["time_limit_s"]
            .default,
            **_public("anchor_", anchor),
            "dosage_ratio": round(ours["_dosage"] / anchor["_dosage"], 3)
            if anchor["_dosage"]
            else None,
        }
    )
    return line


def city_lines() -> list[dict[str, Any]]:
    """The Wuhan city lines: one generated workspace per unit count, planned and compared."""
    from bench.city import END_DATE, STREETS, build_city

    if not STREETS.exists():
        return [{"bench": "routes", "instance": "wuhan_city", "error": f"{STREETS} is missing"}]
    day = END_DATE - dt.timedelta(days=7)
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        for n_units in CITY_UNITS:
            path = Path(tmp) / f"wuhan_{n_units}.gpkg"
            start = time.perf_counter()
            build_city(path, n_units=n_units)
            build_s = time.perf_counter() - start
            line = city_line(path, n_units, day)
            line["workspace_build_s"] = round(build_s, 1)
            lines.append(line)
    return lines


def run() -> list[dict[str, Any]]:
    """The ``routes`` benchmark lines (for ``bench/run.py``)."""
    model = new_haven_model()
    return [new_haven(model), new_haven_seeds(model), *city_lines()]


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    for line in run():
        print(json.dumps(line), flush=True)
