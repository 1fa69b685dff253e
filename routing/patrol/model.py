"""The patrol model: build it (inputs checked, legs timed, visits discretised), solve it
with the search, the baseline or the exact MILP, and assemble the :class:`PatrolPlan`."""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import numpy as np
import pyproj
from numpy.typing import NDArray

from layers.i18n import _, format_minutes, format_number
from routing._speeds import mode_name
from routing.errors import InfeasiblePlanError, RoutingError
from routing.network import StreetNetwork
from routing.patrol.decompose import lift_sequences, search_areas, sub_model, unit_clusters
from routing.patrol.discrete import VisitCopy, bands, visit_copies
from routing.patrol.exact import exact_sequences
from routing.patrol.fill import balance_notes, fill_idle_time
from routing.patrol.inputs import HOUR_S, Hotspots, PatrolOptions, PatrolUnit
from routing.patrol.legs import (
    LegGraph,
    UnitData,
    leg_graph,
    restricted_csr,
    street_path,
    street_risk_of,
    unit_data,
)
from routing.patrol.overrides import (
    Overrides,
    apply_to_unit_data,
    check_overrides,
    lock_band_copies,
    ordered_sequence,
)
from routing.patrol.plan import Leg, PatrolPlan, Stop, UnitRoute
from routing.patrol.score import dosage_score
from routing.patrol.search import check_search_budget, solve_routing
from routing.patrol.timetable import StopSequence

logger = logging.getLogger(__name__)


class PatrolModel:
    """A shift patrol problem: build it, solve it, query the :class:`PatrolPlan`.

    Use :meth:`build`. ``solve`` (ours), ``solve_baseline`` and ``solve_exact`` each
    return a plan scored by :func:`dosage_score`; the latest plan of ``solve`` is kept as
    :attr:`plan`.
    """

    def __init__(
        self,
        networks: Mapping[str, StreetNetwork],
        hotspots: Hotspots,
        units: Sequence[PatrolUnit],
        unit_data: list[UnitData],
        copies: list[VisitCopy],
        shift_start_s: int,
        options: PatrolOptions,
        leg_graphs: Mapping[str, LegGraph] | None = None,
        overrides: Overrides | None = None,
    ) -> None:
        self.networks = dict(networks)
        #: The graph legs are routed on, per mode.
        self.leg_graphs = dict(leg_graphs) if leg_graphs is not None else {}
        self.hotspots = hotspots
        self.units = tuple(units)
        #: Places and leg times of every unit, in the order of :attr:`units`.
        self.unit_data = unit_data
        self.copies = copies
        self.shift_start_s = shift_start_s
        self.options = options
        #: The captain's overrides the model was built with.
        self.overrides = overrides or Overrides()
        self.plan: PatrolPlan | None = None
        horizon_s = int(max(u.budget_s for u in self.units))
        #: Local clock hour of every band of the shift.
        self.hours = [hour for _, _, hour in bands(shift_start_s, horizon_s, options.band_s)]

    # -- build ----------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        networks: Mapping[str, StreetNetwork],
        hotspots: Hotspots,
        units: Sequence[PatrolUnit],
        *,
        shift_start_s: int,
        options: PatrolOptions | None = None,
        street_risk: NDArray[np.float64] | Mapping[str, NDArray[np.float64]] | None = None,
        overrides: Overrides | None = None,
    ) -> PatrolModel:
        """Build the model: travel times, visit copies and feasibility checks.

        Parameters
        ----------
        networks
            Street network per mode (every unit's mode must be present), all in the CRS of
            ``hotspots``.
        hotspots
            Candidate stops with hourly risk.
        units
            The units on duty.
        shift_start_s
            Local clock time the shift starts, seconds after midnight (22:00 is 79,200).
        options
            Dwell, spacing, balance and leg rules.
        street_risk
            Risk of every street segment over the shift (shape ``(n_segments,)``), one array
            per mode or one for every network; with ``options.street_risk_weight`` > 0 the
            legs between stops prefer risky streets. ``None``: legs are fastest paths.
        overrides
            The captain's locks, forbidden hotspots, closed streets and fixed orders
            (:mod:`routing.patrol.overrides`).

        Raises
        ------
        InfeasiblePlanError
            Naming the unit, if one cannot stop anywhere: no hotspot in its grids, its grids
            unreachable from its station, or a budget too short to reach any hotspot, stop
            and return.
        RoutingError
            On inconsistent input (no unit, a missing network, a bad station node).
        """
        opts = options or PatrolOptions()
        _check_inputs(networks, hotspots, units, shift_start_s)
        horizon_s = int(max(u.budget_s for u in units))
        shift_bands = bands(shift_start_s, horizon_s, opts.band_s)
        copies = visit_copies(hotspots, shift_bands)
        over = overrides or Overrides()
        over.check([u.unit_id for u in units], len(hotspots))
        leg_graphs = {
            mode: leg_graph(
                networks[mode],
                street_risk_of(street_risk, mode, networks[mode]),
                opts.street_risk_weight,
                closed=over.closed_segments.get(mode),
            )
            for mode in sorted({u.mode for u in units})
        }
        data = apply_to_unit_data(
            unit_data(networks, hotspots, units, leg_graphs, extra=over.reached_by_unit()),
            over,
        )
        copies += lock_band_copies(over, copies, shift_bands)
        model = cls(networks, hotspots, units, data, copies, shift_start_s, opts, leg_graphs, over)
        model._check_feasible()
        logger.info(
            "patrol model: %s units, %s hotspots, %s visit copies over %s bands",
            f"{len(units):,}",
            f"{len(hotspots):,}",
            f"{len(copies):,}",
            f"{len(shift_bands):,}",
        )
        return model

    def _check_feasible(self) -> None:
        """Every unit can reach a hotspot of its grids, stop, take its breaks and return."""
        dmin = math.ceil(self.options.dwell_min_s)
        for d in self.unit_data:
            unit = d.unit
            if not d.allowed.any():
                raise InfeasiblePlanError(
                    _(
                        "unit %(unit)r: none of the %(n)s hotspots lies in its grids; give it "
                        "grids where the shift has risk, or plan it with others",
                        unit=unit.unit_id,
                        n=format_number(len(self.hotspots)),
                    )
                )
            out = d.time_s[0, 1:]
            back = d.time_s[1:, 0]
            reachable = d.allowed & (out >= 0) & (back >= 0)
            if not reachable.any():
                raise InfeasiblePlanError(
                    _(
                        "unit %(unit)r: its grids cannot be reached from its station on the "
                        "%(mode)s network (no street path there and back); check its station "
                        "and grids, or give it another mode",
                        unit=unit.unit_id,
                        mode=mode_name(unit.mode),
                    )
                )
            round_trip = np.where(reachable, out + dmin + back, np.iinfo(np.int64).max)
            breaks_s = sum(math.ceil(b.duration_s) for b in unit.breaks)
            fits = round_trip + breaks_s <= unit.budget_s
            usable = [
                c
                for c in self.copies
                if fits[c.hotspot] and out[c.hotspot] <= c.hi_s and c.prize > 0
            ]
            if not usable:
                nearest_min = float(round_trip.min() + breaks_s) / 60.0
                params = {
                    "unit": unit.unit_id,
                    "budget": format_minutes(unit.budget_s / 60),
                    "dwell": format_minutes(dmin / 60),
                    "breaks": format_minutes(breaks_s / 60),
                    "quickest": format_minutes(nearest_min),
                }
                if breaks_s:
                    raise InfeasiblePlanError(
                        _(
                            "unit %(unit)r: a budget of %(budget)s is too short to reach a "
                            "hotspot of its grids, stop %(dwell)s and take its breaks "
                            "(%(breaks)s) and return (the quickest takes %(quickest)s); "
                            "lengthen its shift or give it grids nearer its station",
                            **params,
                        )
                    )
                raise InfeasiblePlanError(
                    _(
                        "unit %(unit)r: a budget of %(budget)s is too short to reach a hotspot "
                        "of its grids, stop %(dwell)s and return (the quickest takes "
                        "%(quickest)s); lengthen its shift or give it grids nearer its station",
                        **params,
                    )
                )

    # -- solve: ours ---------------------------------------------------------------------
    def solve(
        self,
        *,
        time_limit_s: float = 10.0,
        seed: int = 0,
        jitter: float = 0.03,
        search_budget: int | None = None,
        progress: Callable[[float], None] | None = None,
    ) -> PatrolPlan:
        """Plan the routes: OR-Tools on every cluster of units that share hotspots (visit
        copies, spacing, balance; guided local search), then the fill pass that keeps every
        unit patrolling until its shift ends (:mod:`routing.patrol.fill`).

        Parameters
        ----------
        time_limit_s
            Search time. With ``search_budget`` it is only a ceiling: a portfolio run that
            reaches its share of it before its share of the budget stops there and logs a
            warning (its plan then depends on the machine's load).
        seed
            Varies the plan: prizes are perturbed by up to ``jitter`` (relative) and the
            copies are presented to the solver in a seeded order.
        jitter
            Largest relative perturbation of a prize.
        search_budget
            A fixed amount of search, independent of the machine's load: the solver
            branches (decisions) the search may make, shared out over the clusters of units
            and the portfolio's runs. Equal inputs, seed and budget give equal plans.
            ``None``: the search is bounded by ``time_limit_s`` alone.
        progress
            Called with the share of the search done (0 to 1) as it goes; only with a
            ``search_budget``.

        Returns
        -------
        PatrolPlan
            Expanded into street paths; also kept as :attr:`plan`.

        Raises
        ------
        InfeasiblePlanError
            If the solver finds no plan, or a unit is left without a stop.
        RoutingError
            If ``search_budget`` is not a positive whole number.
        """
        check_search_budget(search_budget)
        start = time.perf_counter()
        dwell_s = math.ceil(self.options.dwell_min_s)
        slack_s = math.floor(self.options.dwell_max_s) - dwell_s
        orders = self.overrides.orders
        ordered: dict[int, StopSequence] = {}
        order_notes = []
        for v, d in enumerate(self.unit_data):
            if d.unit.unit_id in orders:
                order = orders[d.unit.unit_id]
                ordered[v], dropped = ordered_sequence(
                    v, d, order, self.copies, slack_s=slack_s, dwell_s=dwell_s
                )
                if dropped:
                    order_notes.append(
                        _(
                            "unit %(unit)r: the last %(dropped)s of the %(n)s stops in the order "
                            "set for it do not fit in its shift and were left out",
                            unit=d.unit.unit_id,
                            dropped=dropped,
                            n=len(order),
                        )
                    )
        searched = [v for v in range(len(self.units)) if v not in ordered]
        sequences = sorted(
            [
                *ordered.values(),
                *self._solve_clusters(
                    searched,
                    time_limit_s=time_limit_s,
                    seed=seed,
                    jitter=jitter,
                    search_budget=search_budget,
                    progress=progress,
                ),
            ],
            key=lambda s: s.unit,
        )
        sequences = fill_idle_time(
            self, sequences, slack_s=slack_s, dwell_s=dwell_s, fixed=set(ordered)
        )
        check_overrides(
            self.overrides,
            [u.unit_id for u in self.units],
            sequences,
            [str(n) or _("hotspot %(n)s", n=k + 1) for k, n in enumerate(self.hotspots.name)],
        )
        elapsed = time.perf_counter() - start
        idle = [self.units[s.unit].unit_id for s in sequences if not s.visits()[0]]
        if idle:
            raise InfeasiblePlanError(
                _(
                    "unit(s) %(units)s got no stop: no hotspot of their grids can be reached, "
                    "visited and left in time to return; give them grids nearer their station "
                    "or a longer shift",
                    units=_(", ").join(map(repr, idle)),
                )
            )
        plan = self._plan(sequences, method="dosage", solve_time_s=elapsed, expand=True)
        plan = replace(plan, notes=(*order_notes, *balance_notes(self, plan)))
        self.plan = plan
        return plan

    def _solve_clusters(
        self,
        searched: list[int],
        *,
        time_limit_s: float,
        seed: int,
        jitter: float,
        search_budget: int | None,
        progress: Callable[[float], None] | None,
    ) -> list[StopSequence]:
        """The search on every cluster of the ``searched`` units that share hotspots,
        apart; time and budget shared out by the clusters' numbers of units."""
        if not searched:
            return []
        data = search_areas(self.unit_data, self.overrides.reached_by_unit())
        clusters = [[searched[k] for k in c] for c in unit_clusters([data[v] for v in searched])]
        # every unit gets an equal share of the search: a branch costs more in a larger
        # cluster, so shares by size made one crowded cluster take most of the time
        size = [len(c) for c in clusters]
        budgets = [
            None if search_budget is None else max(round(search_budget * n / sum(size)), 1)
            for n in size
        ]
        deadline = time.perf_counter() + time_limit_s
        sequences: list[StopSequence] = []
        spent = 0
        # the model itself when nothing was split off: every unit, one cluster, areas as built
        whole = len(clusters) == 1 and len(searched) == len(self.units)
        whole = whole and all(a is b for a, b in zip(data, self.unit_data, strict=True))
        for k, units in enumerate(clusters):
            sub, hotspots = (self, None) if whole else sub_model(self, units, data)
            budget = budgets[k]
            report = None
            if progress is not None and budget is not None:
                report = _share_of(progress, spent, sum(b or 0 for b in budgets))
            found = solve_routing(
                sub,
                time_limit_s=max(deadline - time.perf_counter(), 0.05) * size[k] / sum(size[k:]),
                seed=seed,
                jitter=jitter,
                single_visit=False,
                search_budget=budget,
                progress=report,
            )
            spent += budget or 0
            sequences += found if hotspots is None else lift_sequences(found, units, hotspots)
        return sorted(sequences, key=lambda s: s.unit)

    # -- solve: the plain baseline ---------------------------------------------------------
    def solve_baseline(
        self,
        *,
        time_limit_s: float = 10.0,
        seed: int = 0,
        expand: bool = False,
        search_budget: int | None = None,
    ) -> PatrolPlan:
        """The plain prize-collecting model: each hotspot once, prize = its shift risk.

        Same units, budgets, grids, breaks, dwell (the minimum), prize scale, time limit and
        guided local search as :meth:`solve`; no hour windows, no revisits, no balance. Scored
        by :func:`dosage_score` like every plan. When a unit has breaks, stops may last up
        to ``dwell_max_s`` as in :meth:`solve`, so that the break windows can be met.

        Parameters
        ----------
        time_limit_s, seed
            As for :meth:`solve`.
        expand
            Expand the legs into street paths.
        search_budget
            As for :meth:`solve`: solver branches, the time limit then only a ceiling.
        """
        start = time.perf_counter()
        sequences = solve_routing(
            self,
            time_limit_s=time_limit_s,
            seed=seed,
            jitter=0.0,
            single_visit=True,
            search_budget=search_budget,
        )
        elapsed = time.perf_counter() - start
        return self._plan(sequences, method="baseline", solve_time_s=elapsed, expand=expand)

    # -- solve: exact --------------------------------------------------------------------------
    def solve_exact(self, *, time_limit_s: float = 60.0, expand: bool = False) -> PatrolPlan:
        """The exact optimum of the same discretised problem, as a MILP (small instances).

        Variables: ``x[v, a, b]`` (unit ``v`` goes from node ``a`` to ``b``; nodes are the
        visit copies and the unit's station, as start and end) and the arrival ``t[a]`` of
        every copy within its band. Constraints mirror :meth:`solve`: flow conservation
        per unit, each copy at most once, arrival ``t[b] - t[a]`` between dwell_min + travel
        and dwell_max + travel on a used arc, a departure from the station within the dwell
        slack of the shift start, return within the budget, the grids (arcs only between
        allowed copies) and, for two copies of one hotspot, ``t[b] - t[a] >= spacing`` when
        both are visited. Time constraints with positive dwell rule out subtours. Objective:
        the sum of the prizes of the visited copies, which is :func:`dosage_score` of the
        plan. No balance term: the optimum bounds every balanced plan from above.

        Raises
        ------
        InfeasiblePlanError
            If HiGHS finds no integer solution within ``time_limit_s``.
        RoutingError
            If a unit has breaks: the MILP does not model them.
        """
        with_breaks = [u.unit_id for u in self.units if u.breaks]
        if with_breaks:
            raise RoutingError(
                _(
                    "solve_exact does not model breaks, and unit(s) %(units)s have some; use "
                    "solve(), or compare on units without breaks",
                    units=_(", ").join(map(repr, with_breaks)),
                )
            )
        start = time.perf_counter()
        sequences, bound = exact_sequences(self, time_limit_s=time_limit_s)
        return self._plan(
            sequences,
            method="exact",
            solve_time_s=time.perf_counter() - start,
            expand=expand,
            bound=bound,
        )

    # -- plan assembly -------------------------------------------------------------------------
    def _plan(
        self,
        sequences: Sequence[StopSequence],
        *,
        method: str,
        solve_time_s: float,
        expand: bool,
        bound: float | None = None,
    ) -> PatrolPlan:
        """The plan of the timetables: stops and legs per unit, scored."""
        routes = []
        all_h: list[int] = []
        all_arrive: list[float] = []
        all_dwell: list[float] = []
        for seq in sequences:
            d = self.unit_data[seq.unit]
            routes.append(_unit_route(d, seq))
            visit_h, visit_arrive, visit_dwell = seq.visits()
            all_h += visit_h
            all_arrive += visit_arrive
            all_dwell += visit_dwell
        score = dosage_score(
            np.asarray(all_h, dtype=np.int64),
            np.asarray(all_arrive, dtype=float),
            np.asarray(all_dwell, dtype=float),
            self.hotspots.risk_by_hour,
            shift_start_s=self.shift_start_s,
            options=self.options,
        )
        plan = PatrolPlan(
            routes=tuple(routes),
            objective=score.total,
            method=method,
            solve_time_s=solve_time_s,
            score=score,
            bound=bound,
        )
        return self.expand(plan) if expand else plan

    def expand(self, plan: PatrolPlan) -> PatrolPlan:
        """The plan with every leg expanded into its street path (nodes, edges, length)."""
        routes = []
        for route, d in zip(plan.routes, self.unit_data, strict=True):
            net = self.networks[d.unit.mode]
            legs_on = self.leg_graphs.get(d.unit.mode) or leg_graph(net, None, 0.0)
            inside_graph = restricted_csr(legs_on.cost_csr, d.unit.allowed_nodes)
            legs = []
            for a, b, leg in zip(route.stops[:-1], route.stops[1:], route.legs, strict=True):
                graph = inside_graph if leg.inside_grids else legs_on.cost_csr
                # a leg's cost never exceeds its travel time (risk only lowers the cost)
                nodes, edges = street_path(
                    legs_on, graph, a.node, b.node, limit=leg.travel_time_s + 1.0
                )
                legs.append(
                    Leg(
                        travel_time_s=leg.travel_time_s,
                        nodes=tuple(nodes),
                        edges=tuple(edges),
                        length_m=float(net.edge_length_m[edges].sum()) if edges else 0.0,
                        inside_grids=leg.inside_grids,
                    )
                )
            routes.append(UnitRoute(route.unit_id, route.mode, route.stops, tuple(legs)))
        return PatrolPlan(
            routes=tuple(routes),
            objective=plan.objective,
            method=plan.method,
            solve_time_s=plan.solve_time_s,
            score=plan.score,
            bound=plan.bound,
            expanded=True,
            notes=plan.notes,
        )


def _share_of(progress: Callable[[float], None], spent: int, total: int) -> Callable[[int], None]:
    """Branches of one cluster's search reported as the share done of ``total``."""
    return lambda n: progress((spent + n) / total)


def _check_inputs(
    networks: Mapping[str, StreetNetwork],
    hotspots: Hotspots,
    units: Sequence[PatrolUnit],
    shift_start_s: int,
) -> None:
    """The checks of :meth:`PatrolModel.build` on its inputs, before anything is computed."""
    if not units:
        raise RoutingError(_("'units' is empty: give at least one unit on duty"))
    if len(hotspots) == 0:
        raise InfeasiblePlanError(
            _(
                "no hotspot to patrol: the shift has no risk in the units' grids; choose "
                "another shift window or widen the grids"
            )
        )
    if not 0 <= shift_start_s < 24 * HOUR_S:
        raise RoutingError(
            _(
                "'shift_start_s' should be seconds after midnight (0..86399), got %(value)r",
                value=shift_start_s,
            )
        )
    ids = [u.unit_id for u in units]
    if len(set(ids)) != len(ids):
        raise RoutingError(_("unit ids should be unique, got %(ids)s", ids=ids))
    for unit in units:
        if unit.mode not in networks:
            raise RoutingError(
                _(
                    "unit %(unit)r travels by '%(mode)s' but no %(mode)s network was given "
                    "(networks: %(networks)s)",
                    unit=unit.unit_id,
                    mode=mode_name(unit.mode),
                    networks=", ".join(networks),
                )
            )
        net = networks[unit.mode]
        if not 0 <= unit.station_node < net.n_nodes:
            raise RoutingError(
                _(
                    "unit %(unit)r: station node %(node)s is not a node of the %(mode)s network; "
                    "snap the station with nearest_nodes",
                    unit=unit.unit_id,
                    node=unit.station_node,
                    mode=mode_name(unit.mode),
                )
            )
        if not unit.budget_s > 0:
            raise InfeasiblePlanError(
                _(
                    "unit %(unit)r has a time budget of %(budget)r s; give it a shift of "
                    "positive length",
                    unit=unit.unit_id,
                    budget=unit.budget_s,
                )
            )
        if not pyproj.CRS(net.crs).equals(hotspots.crs):
            raise RoutingError(
                _(
                    "the %(mode)s network is in %(network_crs)r but the hotspots are in "
                    "%(hotspots_crs)r; build both in one metric CRS",
                    mode=mode_name(unit.mode),
                    network_crs=net.crs.name,
                    hotspots_crs=hotspots.crs.name,
                )
            )


def _unit_route(d: UnitData, seq: StopSequence) -> UnitRoute:
    """The route of one unit's timetable: station, stops, station, and the legs between."""
    unit = d.unit
    station = int(d.place_node[0])
    stops = [Stop("station", -1, station, 0.0, float(seq.depart_s[0]))]
    for k, (h, kind) in enumerate(zip(seq.places, seq.kinds, strict=True)):
        stops.append(
            Stop(
                kind,
                h,
                int(d.place_node[h + 1]),
                float(seq.arrive_s[k]),
                float(seq.depart_s[k + 1]),
            )
        )
    end = float(seq.end_s) if seq.places else float(seq.depart_s[0])
    stops.append(Stop("station", -1, station, end, end))
    legs = []
    for a, b in itertools.pairwise(stops):
        pa = 0 if a.hotspot < 0 else a.hotspot + 1
        pb = 0 if b.hotspot < 0 else b.hotspot + 1
        legs.append(Leg(travel_time_s=float(d.time_s[pa, pb]), inside_grids=bool(d.inside[pa, pb])))
    if not seq.places:
        stops = stops[:1] + stops[-1:]
        legs = [Leg(0.0)]
    return UnitRoute(unit.unit_id, unit.mode, tuple(stops), tuple(legs))
