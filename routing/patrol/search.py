"""The OR-Tools search behind :meth:`PatrolModel.solve` and :meth:`PatrolModel.solve_baseline`.

One routing model per portfolio run (units as vehicles, visit copies and break places as
optional nodes, a time dimension with the windows), the portfolio of first-solution
strategies, and the ranking that picks the portfolio's plan.

Reproducibility. Everything random derives from the seed: the prize jitter and the order
of the copies come from ``numpy.random.default_rng(seed)``, the portfolio is rotated by
``seed``, and OR-Tools runs single-threaded with its own fixed seed. What is left is the
wall clock: a search bounded by time alone finds more under a light load than a heavy one.
A ``search_budget`` bounds it by work instead: the number of branches (decisions) the
solver may make, counted over the whole search including its local-search neighbourhoods
(a cumulative OR-Tools ``RegularLimit``), so equal inputs give equal plans however busy the
machine; the time limit is then only a ceiling. (OR-Tools' ``solution_limit`` was tried
first: it is deterministic too, but the solutions guided local search accepts thin out so
unevenly that a budget of solutions took 5 s or 190 s on the same instance.)
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from layers.i18n import _
from routing.errors import InfeasiblePlanError, RoutingError, join_clauses
from routing.patrol.discrete import BreakNode, VisitCopy, break_nodes, spacing_groups
from routing.patrol.inputs import PatrolOptions, break_text
from routing.patrol.overrides import lock_copies, missed_locks
from routing.patrol.score import dosage_score
from routing.patrol.timetable import StopSequence, missing_breaks, schedule

if TYPE_CHECKING:
    from routing.patrol.model import PatrolModel

logger = logging.getLogger(__name__)

#: Largest prize of one visit copy in the OR-Tools cost units; travel costs 1 unit a second,
#: so travel only breaks ties between plans of (nearly) equal dosage.
PRIZE_SCALE = 1_000_000
#: Weight (cost units per second) of a route ending before its balance target.
BALANCE_COST_PER_S = 20
#: Largest number of visit copies a cluster is searched with the whole portfolio; above it,
#: one cheapest-arc run gets the whole budget (an insertion heuristic's first solution took
#: 12-23 s on 1,056 copies of four Wuhan cars).
PORTFOLIO_MAX_NODES = 900
#: Time an LNS neighbourhood's completion may take: far above what it needs, so that the
#: search is bounded by its budget of branches and not by the clock (OR-Tools' default,
#: 100 ms, is reached under a heavy load and makes the plan depend on it).
_LNS_TIME_LIMIT_S = 10
#: Shortest time a portfolio run is given, even when the runs before it used up the limit.
_MIN_RUN_TIME_S = 0.05


@dataclass(frozen=True)
class Ranking:
    """What the portfolio ranks a plan by (see :func:`pick_plan`)."""

    locks_kept: int  # minus the captain's locks a plan misses
    breaks_kept: int  # minus the breaks a plan misses
    units_used: int
    balanced: bool  # busiest / least busy route within the balance goal
    dosage: float


@dataclass(frozen=True)
class _RunInput:
    """What every portfolio run of one solve shares."""

    nodes: list[VisitCopy]
    penalty: NDArray[np.int64]
    breaks: list[BreakNode]
    slack_s: int
    dwell_s: int
    single_visit: bool


@dataclass(frozen=True)
class _Layout:
    """Node numbers of one routing model: a depot per unit, the visit copies, the break
    places, then one "done" node per break (at the station, ending the route before the
    break's window opens)."""

    n_units: int
    n_copies: int
    n_breaks: int
    done: list[tuple[int, int]]  # (unit, break index) of every "done" node

    @property
    def n_nodes(self) -> int:
        return self.n_units + self.n_copies + self.n_breaks + len(self.done)

    @property
    def first_break(self) -> int:
        return self.n_units + self.n_copies

    @property
    def first_done(self) -> int:
        return self.n_units + self.n_copies + self.n_breaks


def solve_routing(
    model: PatrolModel,
    *,
    time_limit_s: float,
    seed: int,
    jitter: float,
    single_visit: bool,
    search_budget: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[StopSequence]:
    """Solve with OR-Tools; ours runs a small portfolio and keeps the best plan.

    The rigid timing of visit copies (hour bands, a few minutes of slack) leaves plain
    local search in poor local optima, so ours splits the search over three first
    solutions (rotated by the seed), each improved by guided local search with the path
    and inactive-node LNS operators, and keeps the plan picked by :func:`pick_plan`. The
    baseline is one plain run: default operators, guided local search.

    Parameters
    ----------
    model
        The built model.
    time_limit_s
        Search time over all runs; with ``search_budget`` only a ceiling.
    seed
        Seeds the prize jitter, the order of the copies and the portfolio's rotation.
    jitter
        Largest relative perturbation of a prize.
    single_visit
        The baseline: one node per hotspot, no windows, no spacing, no balance.
    search_budget
        Solver branches over all runs, split evenly over them. ``None``: bounded by time
        alone.
    progress
        Called with the branches spent so far (of ``search_budget``) at every solution
        the search finds and at the end of every run; only with a ``search_budget``.

    Raises
    ------
    InfeasiblePlanError
        If no run finds a plan, or the best plan misses a unit's break.
    RoutingError
        If ``search_budget`` is not a positive whole number.
    """
    from ortools.constraint_solver import routing_enums_pb2

    check_search_budget(search_budget)
    rng = np.random.default_rng(seed)
    run_input = _run_input(model, rng, jitter=jitter, single_visit=single_visit)
    strategy = routing_enums_pb2.FirstSolutionStrategy
    if single_visit or len(run_input.nodes) > PORTFOLIO_MAX_NODES:
        # the insertion heuristics cost seconds per first solution on large clusters
        runs = [strategy.PATH_CHEAPEST_ARC]
    else:
        portfolio = [
            strategy.PATH_CHEAPEST_ARC,
            strategy.PARALLEL_CHEAPEST_INSERTION,
            strategy.LOCAL_CHEAPEST_INSERTION,
        ]
        shift = seed % len(portfolio)
        runs = portfolio[shift:] + portfolio[:shift]
    found: list[tuple[list[StopSequence], Ranking]] = []
    deadline = time.perf_counter() + time_limit_s
    branch_limit = None if search_budget is None else max(search_budget // len(runs), 1)
    for k, first in enumerate(runs):
        runs_left = len(runs) - k
        # a run whose first solution fails returns at once and leaves its time to the rest
        left_s = max(deadline - time.perf_counter(), _MIN_RUN_TIME_S)
        spent = k * (branch_limit or 0)
        sequences = routing_run(
            model,
            run_input,
            first_solution=first,
            time_limit_s=left_s / runs_left,
            branch_limit=branch_limit,
            progress=None if progress is None else _offset(progress, spent),
        )
        if progress is not None and branch_limit is not None:
            progress(spent + branch_limit)
        if sequences is not None:
            found.append((sequences, rank_plan(model, sequences)))
    best = pick_plan(found, model.options)
    if best is None:
        raise InfeasiblePlanError(
            _(
                "the solver found no plan for units %(units)s within %(seconds)s s; allow more "
                "time or check budgets and grids",
                units=_(", ").join(u.unit_id for u in model.units),
                seconds=format(time_limit_s, "g"),
            )
        )
    missed = [
        _(
            "%(unit)r (break %(breaks)s)",
            unit=model.units[s.unit].unit_id,
            breaks=_(", ").join(map(break_text, missing)),
        )
        for s in best
        if (missing := missing_breaks(model.units[s.unit], s))
    ]
    if missed:
        raise InfeasiblePlanError(
            _(
                "no plan within %(seconds)s s fits the breaks of unit(s) %(units)s; widen the "
                "break windows, lengthen the budget or allow more time",
                seconds=format(time_limit_s, "g"),
                units=join_clauses(missed),
            )
        )
    return best


def check_search_budget(search_budget: int | None) -> None:
    """Refuse a ``search_budget`` that is not a whole number of branches >= 1 (or None).

    Raises
    ------
    RoutingError
        Naming the value and an example.
    """
    if search_budget is not None and (
        isinstance(search_budget, bool) or not isinstance(search_budget, int) or search_budget < 1
    ):
        raise RoutingError(
            _(
                "'search_budget' should be a whole number of solver branches >= 1 or None, got "
                "%(value)r; e.g. 60000",
                value=search_budget,
            )
        )


def _offset(progress: Callable[[int], None], spent: int) -> Callable[[int], None]:
    """``progress`` of a run that starts after ``spent`` branches of earlier runs."""
    return lambda n: progress(spent + n)


def _run_input(
    model: PatrolModel, rng: np.random.Generator, *, jitter: float, single_visit: bool
) -> _RunInput:
    """The nodes (in the seeded order), their penalties (jittered prizes) and timing rules."""
    opts = model.options
    dwell_s = math.ceil(opts.dwell_min_s)
    has_breaks = any(u.breaks for u in model.units)
    slack_s = 0 if single_visit and not has_breaks else math.floor(opts.dwell_max_s) - dwell_s
    horizon = int(max(u.budget_s for u in model.units))
    if single_visit:
        prize = model.hotspots.risk_by_hour[:, sorted(set(model.hours))].sum(axis=1)
        nodes = [
            VisitCopy(h, 0, horizon, -1, float(prize[h]))
            for h in range(len(model.hotspots))
            if prize[h] > 0
        ]
    else:
        order = rng.permutation(len(model.copies))
        nodes = [model.copies[i] for i in order]
    raw = np.array([c.prize for c in nodes], dtype=float)
    if jitter > 0:
        raw = raw * (1.0 + jitter * rng.uniform(-1.0, 1.0, len(raw)))
    penalty = np.maximum(np.rint(raw / raw.max() * PRIZE_SCALE), 1).astype(np.int64)
    return _RunInput(nodes, penalty, break_nodes(model.unit_data), slack_s, dwell_s, single_visit)


def pick_plan(
    found: Sequence[tuple[list[StopSequence], Ranking]], options: PatrolOptions
) -> list[StopSequence] | None:
    """The portfolio's plan: the captain's locks, breaks kept and every unit used first;
    then the best dosage,
    unless a balanced plan comes within ``balance_dosage_share`` of it.

    A plan that leaves one unit half the shift idle is not preferred for a little more
    dosage (the captain asked for every unit to carry its share), but neither is a plan in
    which every unit stops early, which is balanced and poor. Ties keep the earliest run.
    """
    if not found:
        return None
    top = max((r.locks_kept, r.breaks_kept, r.units_used) for _, r in found)
    eligible = [(seq, r) for seq, r in found if (r.locks_kept, r.breaks_kept, r.units_used) == top]
    best_dosage = max(r.dosage for _, r in eligible)
    balanced = [
        (seq, r)
        for seq, r in eligible
        if r.balanced and r.dosage >= options.balance_dosage_share * best_dosage
    ]
    pool = balanced or eligible
    return max(pool, key=lambda item: item[1].dosage)[0]


def rank_plan(model: PatrolModel, sequences: Sequence[StopSequence]) -> Ranking:
    """What the portfolio ranks a plan by (see :func:`pick_plan`)."""
    hotspot: list[int] = []
    arrive: list[int] = []
    dwell: list[int] = []
    for s in sequences:
        h, a, w = s.visits()
        hotspot += h
        arrive += a
        dwell += w
    score = dosage_score(
        hotspot,
        arrive,
        dwell,
        model.hotspots.risk_by_hour,
        shift_start_s=model.shift_start_s,
        options=model.options,
    )
    used = [s for s in sequences if s.visits()[0]]
    durations = [s.end_s - s.depart_s[0] for s in used]
    balanced = (
        bool(durations)
        and min(durations) > 0
        and max(durations) / min(durations) <= model.options.balance_ratio_goal
    )
    missing = sum(len(missing_breaks(model.units[s.unit], s)) for s in sequences)
    unit_ids = [u.unit_id for u in model.units]
    locks_missed = len(missed_locks(model.overrides, unit_ids, sequences))
    return Ranking(-locks_missed, -missing, len(used), balanced, score.total)


def routing_run(
    model: PatrolModel,
    run_input: _RunInput,
    *,
    first_solution: int,
    time_limit_s: float,
    branch_limit: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[StopSequence] | None:
    """One portfolio run: build the routing model, search, read the routes.

    Parameters
    ----------
    model
        The built model.
    run_input
        Nodes, penalties and timing rules of this solve.
    first_solution
        OR-Tools ``FirstSolutionStrategy`` of the run.
    time_limit_s
        Search time of the run; a ceiling when ``branch_limit`` is given.
    branch_limit
        Solver branches the run may make; ``None``: bounded by time alone.
    progress
        Called with the run's branches so far at every solution it finds.

    Returns
    -------
    list of StopSequence or None
        One timetable per unit, or ``None`` if the run found no solution.
    """
    from ortools.constraint_solver import pywrapcp

    m = len(model.units)
    done = [(v, k) for v, u in enumerate(model.units) for k in range(len(u.breaks))]
    layout = _Layout(m, len(run_input.nodes), len(run_input.breaks), done)
    manager = pywrapcp.RoutingIndexManager(layout.n_nodes, m, list(range(m)), list(range(m)))
    routing = pywrapcp.RoutingModel(manager)
    # ending a route on a "done" node costs more than every prize together (and less than
    # dropping the break): first solutions and local search take the break and go on
    # patrolling whenever they can, since leaving a "done" ending later takes a compound
    # move that local search does not make
    prizes_total = int(run_input.penalty.sum()) + PRIZE_SCALE
    _add_time_dimension(model, run_input, layout, routing, done_cost=prizes_total)
    time_dim = routing.GetDimensionOrDie("time")
    _add_visit_copies(model, run_input, layout, routing, manager, time_dim)
    _add_breaks(
        model, run_input, layout, routing, manager, time_dim, break_penalty=2 * prizes_total
    )
    if not run_input.single_visit:
        _add_patrol_rules(model, run_input, routing, manager, time_dim)
        _add_locks(model, run_input, routing, manager, time_dim, lock_penalty=4 * prizes_total)
    params = _search_parameters(
        first_solution, single_visit=run_input.single_visit, time_limit_s=time_limit_s
    )
    if branch_limit is not None:
        never = 2**62
        # cumulative: the branches of the local-search neighbourhoods count too
        solver = routing.solver()
        routing.AddSearchMonitor(solver.Limit(never, branch_limit, never, never, True, True))
        if progress is not None:
            routing.AddAtSolutionCallback(lambda: progress(min(solver.Branches(), branch_limit)))
    started = time.perf_counter()
    solution = routing.SolveWithParameters(params)
    elapsed_s = time.perf_counter() - started
    if branch_limit is not None and elapsed_s >= time_limit_s:
        logger.warning(
            "patrol search run stopped at its time ceiling of %.2f s before its budget of %s "
            "branches; its plan depends on the machine's load (raise the time limit)",
            time_limit_s,
            f"{branch_limit:,}",
        )
    if solution is None:
        return None
    return _read_sequences(model, run_input, layout, routing, manager, solution)


def _add_time_dimension(
    model: PatrolModel, run_input: _RunInput, layout: _Layout, routing: Any, *, done_cost: int
) -> None:
    """Arc costs and the "time" dimension: one transit matrix per class of units sharing
    mode, station and grids; travel plus the service time of the node left, slack for
    longer stops, each unit's budget as capacity."""
    m = layout.n_units
    nodes, breaks = run_input.nodes, run_input.breaks
    horizon = int(max(u.budget_s for u in model.units))
    place = np.concatenate(
        [
            np.zeros(m, dtype=np.int64),
            np.array([c.hotspot + 1 for c in nodes], dtype=np.int64),
            np.array([b.hotspot + 1 for b in breaks], dtype=np.int64),
            np.zeros(len(layout.done), dtype=np.int64),
        ]
    )
    service = np.concatenate(
        [
            np.zeros(m, dtype=np.int64),
            np.full(len(nodes), run_input.dwell_s, dtype=np.int64),
            np.array([b.duration_s for b in breaks], dtype=np.int64),
            np.zeros(len(layout.done), dtype=np.int64),
        ]
    )
    transit_of: dict[int, tuple[int, int]] = {}
    vehicle_transit = []
    big = 10 * horizon + 10
    arrival_cost = np.zeros(layout.n_nodes, dtype=np.int64)
    arrival_cost[layout.first_done :] = done_cost
    for v, d in enumerate(model.unit_data):
        key = id(d.time_s)
        if key not in transit_of:
            times = d.time_s[np.ix_(place, place)]
            times = np.where(times < 0, big, times) + service[:, None]
            transit = routing.RegisterTransitMatrix(times.tolist())
            cost = (
                routing.RegisterTransitMatrix((times + arrival_cost[None, :]).tolist())
                if layout.done
                else transit
            )
            transit_of[key] = (transit, cost)
        vehicle_transit.append(transit_of[key][0])
        routing.SetArcCostEvaluatorOfVehicle(transit_of[key][1], v)
    routing.AddDimensionWithVehicleTransitAndCapacity(
        vehicle_transit,
        run_input.slack_s,
        [int(u.budget_s) for u in model.units],
        True,
        "time",
    )


def _add_visit_copies(
    model: PatrolModel,
    run_input: _RunInput,
    layout: _Layout,
    routing: Any,
    manager: Any,
    time_dim: Any,
) -> None:
    """Every copy optional at its prize, for the units whose grids hold it, in its band."""
    m = layout.n_units
    for k, copy in enumerate(run_input.nodes):
        index = manager.NodeToIndex(m + k)
        routing.AddDisjunction([index], int(run_input.penalty[k]))
        allowed = [v for v, d in enumerate(model.unit_data) if d.allowed[copy.hotspot]]
        if len(allowed) < m:
            # the Python binding of SetAllowedVehiclesForIndex rejects every list it is
            # given (absl::Span); restricting the vehicle variable is the same constraint
            routing.VehicleVar(index).SetValues([-1, *allowed])
        if not run_input.single_visit:
            time_dim.CumulVar(index).SetRange(copy.lo_s, copy.hi_s)


def _add_breaks(
    model: PatrolModel,
    run_input: _RunInput,
    layout: _Layout,
    routing: Any,
    manager: Any,
    time_dim: Any,
    *,
    break_penalty: int,
) -> None:
    """Every break: one of its places, of its unit only, started in its window (arrival =
    start: no waiting there), or its "done" node; dropping both costs ``break_penalty``."""
    alternatives: dict[tuple[int, int], list[int]] = {}
    for j, brk in enumerate(run_input.breaks):
        index = manager.NodeToIndex(layout.first_break + j)
        routing.VehicleVar(index).SetValues([-1, brk.unit])
        time_dim.CumulVar(index).SetRange(brk.lo_s, brk.hi_s)
        time_dim.SlackVar(index).SetMax(0)
        alternatives.setdefault((brk.unit, brk.index), []).append(index)
    done_index = {
        key: manager.NodeToIndex(layout.first_done + j) for j, key in enumerate(layout.done)
    }
    for (v, k), index in done_index.items():
        earliest = math.floor(model.units[v].breaks[k].earliest_start_s)
        routing.VehicleVar(index).SetValues([-1, v])
        time_dim.CumulVar(index).SetRange(0, earliest)
        time_dim.SlackVar(index).SetMax(0)
        later = [done_index[(v, q)] for q in range(k + 1, len(model.units[v].breaks))]
        routing.NextVar(index).SetValues([index, routing.End(v), *later])
        alternatives[(v, k)].append(index)
    for indices in alternatives.values():
        routing.AddDisjunction(indices, break_penalty, 1)


def _add_patrol_rules(
    model: PatrolModel,
    run_input: _RunInput,
    routing: Any,
    manager: Any,
    time_dim: Any,
) -> None:
    """Ours only: the revisit spacing and the balance terms. (Every unit is used through
    the ranking and the fill pass, not by a hard rule, which no first solution met.)"""
    m = len(model.units)
    # copies of one hotspot too close in time for the spacing: at most one of each such
    # group is visited (a native disjunction, so local search never breaks it). A lock's
    # copies stay out of them: in a second disjunction beside its lock's, the search no
    # longer kept the lock (the captain's stop comes first; a visit too close to it earns
    # the repeat credit, as the score counts it)
    unlocked = [c for c in run_input.nodes if not c.locked_for]
    position = [k for k, c in enumerate(run_input.nodes) if not c.locked_for]
    for group in spacing_groups(unlocked, model.options.revisit_spacing_s):
        routing.AddDisjunction([manager.NodeToIndex(m + position[k]) for k in group], 0, 1)
    for v, unit in enumerate(model.units):
        target = int(model.options.balance_share * unit.budget_s)
        time_dim.SetCumulVarSoftLowerBound(routing.End(v), target, BALANCE_COST_PER_S)
    # the lower bounds fill short routes; the span cost trims the longest, which balances
    # plans that run out of prizes before the shift ends
    time_dim.SetGlobalSpanCostCoefficient(BALANCE_COST_PER_S)


def _add_locks(
    model: PatrolModel,
    run_input: _RunInput,
    routing: Any,
    manager: Any,
    time_dim: Any,
    *,
    lock_penalty: int,
) -> None:
    """Every lock: one of its unit's copies of the hotspot (in the locked time's window)
    visited, or ``lock_penalty`` paid, more than dropping every prize and break."""
    m = len(model.units)
    unit_ids = [u.unit_id for u in model.units]
    for lock in model.overrides.locks:
        v = unit_ids.index(lock.unit_id)
        indices = []
        for k in lock_copies(lock, run_input.nodes):
            index = manager.NodeToIndex(m + k)
            routing.VehicleVar(index).SetValues([-1, v])
            indices.append(index)
        if indices:
            routing.AddDisjunction(indices, lock_penalty, 1)


def _search_parameters(
    first_solution: int,
    *,
    single_visit: bool,
    time_limit_s: float,
) -> Any:
    """Guided local search from ``first_solution`` (ours adds the LNS operators), bounded
    by ``time_limit_s``."""
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2
    from ortools.util import optional_boolean_pb2

    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = first_solution
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    if not single_visit:
        operators = params.local_search_operators
        operators.use_full_path_lns = optional_boolean_pb2.BOOL_TRUE
        operators.use_inactive_lns = optional_boolean_pb2.BOOL_TRUE
    params.time_limit.FromMilliseconds(max(int(time_limit_s * 1000), 1))
    params.lns_time_limit.FromSeconds(_LNS_TIME_LIMIT_S)
    return params


def _read_sequences(
    model: PatrolModel,
    run_input: _RunInput,
    layout: _Layout,
    routing: Any,
    manager: Any,
    solution: Any,
) -> list[StopSequence]:
    """Every unit's stops and breaks in the solution's order, timetabled."""
    m = layout.n_units
    sequences = []
    for v in range(m):
        items: list[VisitCopy | BreakNode] = []
        index = solution.Value(routing.NextVar(routing.Start(v)))
        while not routing.IsEnd(index):
            k = manager.IndexToNode(index) - m
            if k < layout.n_copies:
                items.append(run_input.nodes[k])
            elif k < layout.n_copies + layout.n_breaks:
                items.append(run_input.breaks[k - layout.n_copies])
            index = solution.Value(routing.NextVar(index))
        sequences.append(
            schedule(
                v,
                model.unit_data[v],
                items,
                slack_s=run_input.slack_s,
                dwell_s=run_input.dwell_s,
            )
        )
    return sequences
