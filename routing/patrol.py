"""Shift patrol routes: risk-weighted dosage over the shift, as a team-orienteering problem.

The model
---------
*Hotspots* are candidate stops, each with a risk per local hour of the day. A stop of at
least ``dwell_min_s`` that *starts* in clock hour ``h`` earns the hotspot's risk of hour
``h``; a repeat stop at the same hotspot that starts less than ``revisit_spacing_s`` after
the previous one earns only ``repeat_credit`` of that (the Koper curve: a 10-15 minute stop
works for about two hours). This is the **dosage objective**, and :func:`dosage_score`
scores any plan with it: ours, the baseline and the exact optimum alike.

Discretisation. The shift is cut into *bands* of ``band_s`` (30 minutes by default, at
clock multiples). Every hotspot gets one *visit copy* per band in which its risk is
positive: a stop whose arrival must fall in that band, whose prize is the hotspot's risk of
that hour. Two copies of one hotspot whose bands lie closer than the revisit spacing (the
later band opens less than the spacing after the earlier one closes) are never both
visited: such copies form groups, each a disjunction of at most one visit. So any two stops
at one hotspot are at least the spacing apart, and the sum of the prizes collected equals
:func:`dosage_score` exactly. (The rule is a little stricter than the score's: two stops
2 h 10 min apart in bands 23:00-23:30 and 01:00-01:30 are not allowed.)

Timing. Every stop lasts between ``dwell_min_s`` and ``dwell_max_s``: the unit may wait,
but only by staying longer at the stop it is at (and at the station before leaving, by at
most the same margin), so a timetable never holds idle time away from a hotspot. Every
route starts at time 0 at its unit's station and returns there within the unit's budget.
Travel times are whole seconds, rounded up.

Grids. A unit stops only at hotspots inside its allowed area (``allowed_nodes``). Between
two of its stops it travels inside that area whenever the streets there connect them (the
leg leaves the area only when no street inside joins the two stops); legs from and to the
station use the whole network. So a unit leaves its grids only on the way to and from them.

Solvers. :meth:`PatrolModel.solve` uses OR-Tools routing: disjunction penalties are the
prizes, one vehicle per unit with its own start/end, a time dimension with the windows,
slack and budgets, the allowed vehicles of every stop for grids, the spacing as side
groups as disjunctions, a soft lower bound on every route's end and a span cost for balance,
and guided local search with LNS operators under a time limit, split over a portfolio of
three first-solution strategies (the one run in which every unit must leave its station
comes first; plans using every unit win, then dosage). The seed perturbs the prizes by a
few percent, orders the copies and rotates the portfolio, so plans differ from shift to
shift under the same constraints. :meth:`PatrolModel.solve_exact` solves the same
discretised problem exactly as a MILP (HiGHS through ``scipy.optimize.milp``; small
instances only). :meth:`PatrolModel.solve_baseline` is the plain single-visit
prize-collecting model (one node per hotspot, prize = its risk over the whole shift, no
windows, no spacing, no balance), scored by the same :func:`dosage_score`.

Breaks. A unit may have meal or rest breaks (:class:`Break`): a fixed length that starts
inside a window of the shift. A break is taken at a place: its unit's station (always for
a break ``at_station``) or one of the hotspots of its grids, and it appears in the
timetable as a stop of kind ``"break"``: arrival = the break's start, departure = start +
duration, legs to and from it like any other (of no travel when it is taken at the place
of the stop before or after it). So a timetable stays one chain (arrive + dwell = depart,
depart + travel = next arrive), no hotspot stop overlaps a break, and the route still
ends within its budget. A break earns nothing, even at a hotspot. A route that is back at
its station before a break's window opens has no stop for that break: the unit is off its
route by then (this keeps units with little to do from failing the plan: they cannot wait
for a window, having nowhere to wait but at a stop). In the OR-Tools model every break is
a disjunction of optional nodes of its unit only: one per place, with the break window on
the arrival, the duration as service time and no waiting there, and a "done" node at the
station that can only end the route, before the window opens. Ending on the "done" node
costs more than every prize together, and leaving all of them out twice that, so a plan
gives up any stop before a break, and ends before a break only when it cannot take it.
(OR-Tools' own break intervals were not used: they live in a node's slack, which then has
to reach the break length at every stop and no longer limits a stop to ``dwell_max_s``.)

Workload and balance. A unit's workload is its route duration, from leaving the station
to returning, all of it travel, stops or breaks; the balance ratio is the busiest unit's
workload over the least busy one's (goal 1.2).
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pyproj
import shapely
from numpy.typing import NDArray
from scipy.sparse import csr_array
from scipy.sparse.csgraph import dijkstra

from routing.errors import InfeasiblePlanError, RoutingError
from routing.network import _MIN_TRAVEL_TIME_S, StreetNetwork

logger = logging.getLogger(__name__)

#: Largest prize of one visit copy in the OR-Tools cost units; travel costs 1 unit a second,
#: so travel only breaks ties between plans of (nearly) equal dosage.
_PRIZE_SCALE = 1_000_000
#: Weight (cost units per second) of a route ending before its balance target.
_BALANCE_COST_PER_S = 20
_HOUR_S = 3600
#: Smallest share of its travel time a street may cost a leg, however risky (costs stay
#: positive, and a leg never detours more than twice its length for risk).
_MIN_LEG_COST_FACTOR = 0.5
#: Quantile of the positive street risks that counts as full risk in the leg cost.
_RISK_SCALE_QUANTILE = 0.95


# -- inputs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PatrolOptions:
    """Planning options.

    Parameters
    ----------
    dwell_min_s, dwell_max_s
        Length of a hotspot stop (default 10-15 minutes). A stop shorter than
        ``dwell_min_s`` earns nothing.
    revisit_spacing_s
        A repeat stop earns full credit only this long after the previous stop at the same
        hotspot (default 2 hours).
    repeat_credit
        Share of the risk a repeat inside the spacing earns (the plans never make one; the
        score still values such stops in plans from elsewhere).
    balance_share
        Every route is asked (softly) to last at least this share of its unit's budget.
    balance_ratio_goal
        The busiest route's duration over the least busy one's that a plan should stay
        within.
    balance_dosage_share
        Among the solver's candidate plans, a balanced one is preferred to the best one
        when its dosage is at least this share of the best.
    band_s
        Width of the time bands the shift is cut into (at clock multiples of it): every
        stop arrives inside a band, and two stops at one hotspot lie in bands at least the
        revisit spacing apart. Narrower bands track the spacing more closely; wider ones
        leave the solver more room per stop. Must divide an hour.
    street_risk_weight
        How much the legs between stops prefer risky streets (0..1). A leg follows the
        cheapest path for the cost ``travel_time_s * max(1 - w * r, 0.5)`` per street, with
        ``r`` the street's risk over the shift scaled to 0..1 (by the 95th percentile of
        the positive risks, clipped); its true travel time is what the timetable uses.
        0 gives the fastest paths. Needs the ``street_risk`` of :meth:`PatrolModel.build`.
    """

    dwell_min_s: float = 600.0
    dwell_max_s: float = 900.0
    revisit_spacing_s: float = 7200.0
    repeat_credit: float = 0.1
    balance_share: float = 0.9
    balance_ratio_goal: float = 1.2
    balance_dosage_share: float = 0.95
    band_s: int = 1800
    street_risk_weight: float = 0.0

    def __post_init__(self) -> None:
        if not 0 < self.dwell_min_s <= self.dwell_max_s:
            raise RoutingError(
                f"dwell should satisfy 0 < dwell_min_s <= dwell_max_s, got "
                f"{self.dwell_min_s!r} and {self.dwell_max_s!r}; e.g. 600 and 900 (10-15 min)"
            )
        if not self.revisit_spacing_s > 0:
            raise RoutingError(
                f"'revisit_spacing_s' should be > 0, got {self.revisit_spacing_s!r}; e.g. 7200"
            )
        if not 0 <= self.repeat_credit <= 1:
            raise RoutingError(f"'repeat_credit' should be 0..1, got {self.repeat_credit!r}")
        if self.band_s <= 0 or _HOUR_S % self.band_s:
            raise RoutingError(
                f"'band_s' should divide an hour (e.g. 900, 1800, 3600), got {self.band_s!r}"
            )
        if not 0 <= self.balance_share <= 1:
            raise RoutingError(f"'balance_share' should be 0..1, got {self.balance_share!r}")
        if not 0 < self.balance_dosage_share <= 1:
            raise RoutingError(
                f"'balance_dosage_share' should be in (0, 1], got {self.balance_dosage_share!r}"
            )
        if not 0 <= self.street_risk_weight <= 1:
            raise RoutingError(
                f"'street_risk_weight' should be 0..1, got {self.street_risk_weight!r}; "
                "e.g. 0 for the fastest legs"
            )
        if not self.balance_ratio_goal >= 1:
            raise RoutingError(
                f"'balance_ratio_goal' should be >= 1, got {self.balance_ratio_goal!r}; e.g. 1.2"
            )


@dataclass(frozen=True, eq=False)
class Hotspots:
    """Candidate stops with their hourly risk.

    Parameters
    ----------
    x, y
        Locations in ``crs`` (metres; the networks' CRS).
    crs
        CRS of ``x`` and ``y``.
    risk_by_hour
        Shape ``(n, 24)``: risk of every hotspot in every local clock hour.
    name
        A label per hotspot (e.g. its street).
    segments
        Street segments merged into each hotspot (of the network it was chosen on).
    """

    x: NDArray[np.float64]
    y: NDArray[np.float64]
    crs: pyproj.CRS
    risk_by_hour: NDArray[np.float64]
    name: NDArray[np.object_]
    segments: tuple[NDArray[np.int64], ...] = ()

    def __post_init__(self) -> None:
        n = len(self.x)
        if len(self.y) != n or self.risk_by_hour.shape != (n, 24) or len(self.name) != n:
            raise RoutingError(
                f"'hotspots' arrays disagree: {n} x, {len(self.y)} y, {len(self.name)} names "
                f"and risk_by_hour of shape {self.risk_by_hour.shape} (expected ({n}, 24))"
            )
        if (self.risk_by_hour < 0).any() or not np.isfinite(self.risk_by_hour).all():
            raise RoutingError("'hotspots' risk_by_hour should be finite and >= 0")

    def __len__(self) -> int:
        return len(self.x)


@dataclass(frozen=True)
class Break:
    """A meal or rest break of a unit, in seconds from the shift start.

    Parameters
    ----------
    earliest_start_s, latest_start_s
        Window in which the break starts.
    duration_s
        Length of the break (whole seconds are planned: it is rounded up).
    at_station
        Taken at the unit's station (the unit returns there for it); otherwise at the
        station or at any hotspot of the unit's grids, wherever suits the route. A route
        back at the station before ``earliest_start_s`` has no stop for the break.
    """

    earliest_start_s: float
    latest_start_s: float
    duration_s: float
    at_station: bool = False


@dataclass(frozen=True, eq=False)
class PatrolUnit:
    """One patrol unit for one shift.

    Parameters
    ----------
    unit_id
        The unit's id, used in every message.
    mode
        ``"car"``, ``"ebike"`` or ``"foot"``: the network it travels on.
    station_node
        Node of its station in the network of its mode.
    budget_s
        Time from leaving the station to being back, at most.
    allowed_nodes
        Boolean mask over the nodes of its network: the area of its grids. ``None`` allows
        every node.
    breaks
        Its breaks (any order; kept sorted by earliest start). Each must lie inside the
        budget and no two may overlap, whenever they start in their windows.

    Raises
    ------
    RoutingError
        Naming the unit and every bad break: a duration that is not positive, a window
        that is empty or does not fit in the budget, breaks that may overlap.
    """

    unit_id: str
    mode: str
    station_node: int
    budget_s: float
    allowed_nodes: NDArray[np.bool_] | None = None
    breaks: tuple[Break, ...] = ()

    def __post_init__(self) -> None:
        breaks = tuple(self.breaks)
        problems = []
        for k, b in enumerate(breaks, start=1):
            if not isinstance(b, Break):
                problems.append(f"break {k} should be a Break, got {type(b).__name__}")
                continue
            times = (b.earliest_start_s, b.latest_start_s, b.duration_s)
            if not all(math.isfinite(t) for t in times):
                problems.append(f"break {k} has a time that is not a finite number: {times}")
                continue
            if not b.duration_s > 0:
                problems.append(
                    f"break {k} lasts {b.duration_s:g} s; give it a positive duration (e.g. 1800)"
                )
            if not 0 <= b.earliest_start_s <= b.latest_start_s:
                problems.append(
                    f"break {k} should start in a window 0 <= earliest <= latest, got "
                    f"{_clock(b.earliest_start_s)}-{_clock(b.latest_start_s)} after the shift start"
                )
            elif b.latest_start_s + max(b.duration_s, 0.0) > self.budget_s:
                problems.append(
                    f"break {k} (starting by {_clock(b.latest_start_s)}, {b.duration_s / 60:g} "
                    f"min) may end after the budget of {_clock(self.budget_s)}; move its window "
                    "earlier or shorten it"
                )
        if problems:
            raise RoutingError(f"unit {self.unit_id!r}: " + "; ".join(problems))
        ordered = sorted(enumerate(breaks, start=1), key=lambda kb: kb[1].earliest_start_s)
        for (i, a), (j, b) in itertools.pairwise(ordered):
            if b.earliest_start_s < a.latest_start_s + a.duration_s:
                problems.append(
                    f"break {i} ({_span(a)}) and break {j} ({_span(b)}) may overlap; "
                    f"let break {j} start no earlier than "
                    f"{_clock(a.latest_start_s + a.duration_s)}"
                )
        if problems:
            raise RoutingError(f"unit {self.unit_id!r}: " + "; ".join(problems))
        object.__setattr__(self, "breaks", tuple(b for _, b in ordered))


# -- hotspots from street risk ----------------------------------------------------------


def hour_band_risk(
    risk_by_hour: NDArray[np.float64], *, shrink: float = 0.5
) -> NDArray[np.float64]:
    """Hourly risk for planning: hour bands, shrunk toward each place's daily mean.

    One month of incidents gives a few counts per place and hour, mostly noise. Each
    hour's risk is first taken over its band (weights 1/4, 1/2, 1/4 on hours h-1, h, h+1,
    wrapping at midnight), then ``shrink`` of it is replaced by the place's mean over the
    day, so a risky place keeps some risk in every hour while its busy hours still stand
    out. The total over the day is unchanged.

    Parameters
    ----------
    risk_by_hour
        Shape ``(n, 24)``, e.g. from ``routing.risk.segment_risk_by_hour``.
    shrink
        Share (0..1) of every hour's risk spread evenly over the day; 0 keeps the bands.
    """
    risk = np.asarray(risk_by_hour, dtype=float)
    if risk.ndim != 2 or risk.shape[1] != 24:
        raise RoutingError(f"'risk_by_hour' should have shape (n, 24), got {risk.shape}")
    if not 0 <= shrink <= 1:
        raise RoutingError(f"'shrink' should be a share from 0 to 1, got {shrink!r}")
    band = 0.5 * risk + 0.25 * np.roll(risk, 1, axis=1) + 0.25 * np.roll(risk, -1, axis=1)
    return (1.0 - shrink) * band + shrink * band.mean(axis=1, keepdims=True)


def shift_hours(shift_start_s: int, duration_s: float) -> list[int]:
    """Local clock hours a shift touches, in order (``22:00`` for 8 h gives 22, 23, 0..5)."""
    first = shift_start_s // _HOUR_S
    last = math.ceil((shift_start_s + duration_s) / _HOUR_S)
    return [h % 24 for h in range(first, max(last, first + 1))]


def select_hotspots(
    network: StreetNetwork,
    risk_by_hour: NDArray[np.float64],
    *,
    hours: Sequence[int],
    n_hotspots: int,
    segment_mask: NDArray[np.bool_] | None = None,
    merge_distance_m: float = 150.0,
) -> Hotspots:
    """Hotspots from the riskiest street segments of a shift.

    Segments are taken by their risk over ``hours``, highest first; one within
    ``merge_distance_m`` of a hotspot already chosen is merged into it (its hourly risk is
    added), otherwise it starts a new hotspot while fewer than ``n_hotspots`` exist. A
    hotspot lies at the middle of its riskiest segment and is named after that street.

    Parameters
    ----------
    network
        The network the risk is on.
    risk_by_hour
        Shape ``(n_segments, 24)``, e.g. :func:`hour_band_risk` of
        ``routing.risk.segment_risk_by_hour``.
    hours
        Local clock hours of the shift.
    n_hotspots
        Largest number of hotspots.
    segment_mask
        Segments that may hold hotspots (e.g. inside the units' grids); all by default.
    merge_distance_m
        Segments this close to a hotspot are part of it.

    Raises
    ------
    RoutingError
        If ``risk_by_hour`` does not match the network or ``n_hotspots`` < 1.
    """
    risk = np.asarray(risk_by_hour, dtype=float)
    if risk.shape != (network.n_segments, 24):
        raise RoutingError(
            f"'risk_by_hour' should have shape ({network.n_segments}, 24) for this network, "
            f"got {risk.shape}"
        )
    if n_hotspots < 1:
        raise RoutingError(f"'n_hotspots' should be >= 1, got {n_hotspots!r}")
    shift_risk = risk[:, sorted(set(hours))].sum(axis=1)
    usable = shift_risk > 0
    if segment_mask is not None:
        usable &= np.asarray(segment_mask, dtype=bool)
    order = np.flatnonzero(usable)
    # ties broken by segment number, so the choice is reproducible
    order = order[np.lexsort((order, -shift_risk[order]))]
    mid = shapely.line_interpolate_point(network.segment_geometry[order], 0.5, normalized=True)
    mid_xy = shapely.get_coordinates(mid)
    centres: list[NDArray[np.float64]] = []
    members: list[list[int]] = []
    for k, seg in enumerate(order):
        if centres:
            dist = np.hypot(*(np.asarray(centres) - mid_xy[k]).T)
            nearest = int(dist.argmin())
            if dist[nearest] <= merge_distance_m:
                members[nearest].append(int(seg))
                continue
        if len(centres) < n_hotspots:
            centres.append(mid_xy[k])
            members.append([int(seg)])
    xy = np.asarray(centres, dtype=float).reshape(-1, 2)
    names = np.array(
        [network.segment_name[m[0]] or f"segment {m[0]}" for m in members], dtype=object
    )
    return Hotspots(
        x=xy[:, 0].copy(),
        y=xy[:, 1].copy(),
        crs=network.crs,
        risk_by_hour=np.array([risk[m].sum(axis=0) for m in members]).reshape(-1, 24),
        name=names,
        segments=tuple(np.asarray(m, dtype=np.int64) for m in members),
    )


# -- the score --------------------------------------------------------------------------


@dataclass(frozen=True)
class DosageScore:
    """A plan's dosage: the total and the credit of every stop (in the order given)."""

    total: float
    credit: NDArray[np.float64]
    full_stops: int
    repeat_stops: int


def dosage_score(
    hotspot: NDArray[np.int64] | Sequence[int],
    arrive_s: NDArray[np.float64] | Sequence[float],
    dwell_s: NDArray[np.float64] | Sequence[float],
    risk_by_hour: NDArray[np.float64],
    *,
    shift_start_s: int,
    options: PatrolOptions | None = None,
    kind: Sequence[str] | None = None,
) -> DosageScore:
    """Risk-weighted dosage of a set of hotspot stops: the one objective every plan gets.

    A stop of at least ``dwell_min_s`` starting in local clock hour ``h`` earns the
    hotspot's risk of hour ``h``; a stop starting less than ``revisit_spacing_s`` after the
    previous stop at the same hotspot (by any unit) earns ``repeat_credit`` of it; a
    shorter stop earns nothing.

    Parameters
    ----------
    hotspot, arrive_s, dwell_s
        One entry per stop: the hotspot index, the arrival (seconds after the shift start)
        and the stop length.
    risk_by_hour
        Shape ``(n_hotspots, 24)``.
    shift_start_s
        Local clock time of the shift start, seconds after midnight.
    options
        Dwell and spacing rules.
    kind
        The :attr:`Stop.kind` of every stop, to score a whole timetable: only ``"hotspot"``
        stops count; breaks and stations earn nothing and are not visits (a break taken at
        a hotspot carries that hotspot's index). Without it every stop is a hotspot stop.
    """
    opts = options or PatrolOptions()
    idx = np.asarray(hotspot, dtype=np.int64)
    arrive = np.asarray(arrive_s, dtype=float)
    dwell = np.asarray(dwell_s, dtype=float)
    credit = np.zeros(len(idx))
    # a second's tolerance: timetables are in whole seconds
    long_enough = dwell >= opts.dwell_min_s - 1e-6
    if kind is not None:
        is_visit = np.asarray(kind, dtype=object) == "hotspot"
        if len(is_visit) != len(idx):
            raise RoutingError(
                f"'kind' should have one entry per stop ({len(idx):,}), got {len(is_visit):,}"
            )
        long_enough &= is_visit
        idx = np.where(is_visit, idx, 0)
    hour = ((shift_start_s + np.floor(arrive + 1e-9)) // _HOUR_S).astype(np.int64) % 24
    base = np.asarray(risk_by_hour, dtype=float)[idx, hour] if len(idx) else credit
    repeats = 0
    for h in np.unique(idx):
        at = np.flatnonzero((idx == h) & long_enough)
        at = at[np.argsort(arrive[at], kind="stable")]
        previous = -np.inf
        for stop in at:
            if arrive[stop] - previous >= opts.revisit_spacing_s - 1e-6:
                credit[stop] = base[stop]
            else:
                credit[stop] = opts.repeat_credit * base[stop]
                repeats += 1
            previous = arrive[stop]
    return DosageScore(
        total=float(credit.sum()),
        credit=credit,
        full_stops=int(long_enough.sum()) - repeats,
        repeat_stops=repeats,
    )


# -- the plan -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Stop:
    """One stop of a route; times from the shift start.

    ``kind`` is ``"station"``, ``"hotspot"`` or ``"break"``. ``hotspot`` is the hotspot of
    the stop's place, -1 at the station: a break taken at a hotspot carries its index but
    is no visit (only ``"hotspot"`` stops earn dosage). A break's ``arrive_s`` is its start
    and its ``dwell_s`` its duration.
    """

    kind: str
    hotspot: int
    node: int
    arrive_s: float
    depart_s: float

    @property
    def dwell_s(self) -> float:
        return self.depart_s - self.arrive_s


@dataclass(frozen=True)
class Leg:
    """The street path from one stop to the next.

    ``travel_time_s`` is the whole-second time the timetable uses (the path's exact time
    rounded up); ``nodes`` and ``edges`` are empty until the plan is expanded, or when both
    stops share a node.
    """

    travel_time_s: float
    nodes: tuple[int, ...] = ()
    edges: tuple[int, ...] = ()
    length_m: float = 0.0
    inside_grids: bool = False


@dataclass(frozen=True)
class UnitRoute:
    """The route of one unit: stops from the station back to it, and the legs between."""

    unit_id: str
    mode: str
    stops: tuple[Stop, ...]
    legs: tuple[Leg, ...]

    @property
    def hotspot_stops(self) -> tuple[Stop, ...]:
        return tuple(s for s in self.stops if s.kind == "hotspot")

    @property
    def break_stops(self) -> tuple[Stop, ...]:
        return tuple(s for s in self.stops if s.kind == "break")

    @property
    def duration_s(self) -> float:
        """From leaving the station to being back, breaks included."""
        return self.stops[-1].arrive_s - self.stops[0].depart_s if len(self.stops) > 1 else 0.0

    @property
    def travel_time_s(self) -> float:
        return float(sum(leg.travel_time_s for leg in self.legs))

    @property
    def length_m(self) -> float:
        return float(sum(leg.length_m for leg in self.legs))

    @property
    def edges(self) -> list[int]:
        return [e for leg in self.legs for e in leg.edges]


@dataclass(frozen=True)
class PatrolPlan:
    """A solved plan, scored by :func:`dosage_score`.

    Parameters
    ----------
    routes
        One route per unit, in the order of the model's units.
    objective
        The plan's dosage.
    method
        ``"dosage"`` (ours), ``"baseline"`` or ``"exact"``.
    solve_time_s
        Solver time.
    bound
        For ``"exact"``: the MILP's proven upper bound on the objective.
    """

    routes: tuple[UnitRoute, ...]
    objective: float
    method: str
    solve_time_s: float
    score: DosageScore
    bound: float | None = None
    expanded: bool = False

    @property
    def workload_s(self) -> NDArray[np.float64]:
        return np.array([r.duration_s for r in self.routes], dtype=float)

    @property
    def balance_ratio(self) -> float:
        """Busiest unit's route duration over the least busy one's (``inf`` if one is idle)."""
        work = self.workload_s
        if len(work) == 0:
            return 1.0
        return float(work.max() / work.min()) if work.min() > 0 else math.inf

    def route(self, unit_id: str) -> UnitRoute:
        for route in self.routes:
            if route.unit_id == unit_id:
                return route
        raise RoutingError(f"no route for unit {unit_id!r} in this plan")


# -- the model ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Copy:
    hotspot: int
    lo_s: int
    hi_s: int
    hour: int
    prize: float


@dataclass(frozen=True)
class _BreakNode:
    """One place where break ``index`` of unit ``unit`` may be taken (the arrival is its
    start, in ``[lo_s, hi_s]``); ``hotspot`` is -1 at the station."""

    unit: int
    index: int
    hotspot: int
    lo_s: int
    hi_s: int
    duration_s: int


@dataclass
class _UnitData:
    unit: PatrolUnit
    place_node: NDArray[np.int64]  # 0: station, 1..n: hotspots (in the unit's network)
    time_s: NDArray[np.int64]  # (n+1, n+1) leg times, whole seconds; -1 where unreachable
    inside: NDArray[np.bool_]  # (n+1, n+1) whether the leg stays inside the grids
    allowed: NDArray[np.bool_]  # (n,) hotspots the unit may stop at


@dataclass
class _Sequence:
    unit: int
    places: list[int]  # hotspot indices (0-based) of the stops' places, -1: the station
    arrive_s: list[int]
    depart_s: list[int]  # station departure first, then one per stop
    end_s: int = 0
    kinds: list[str] = field(default_factory=list)  # "hotspot" or "break" per stop
    break_ids: list[int] = field(default_factory=list)  # the unit's breaks taken, in order

    def visits(self) -> tuple[list[int], list[int], list[int]]:
        """Hotspot, arrival and dwell of every hotspot stop (breaks left out)."""
        keep = [k for k, kind in enumerate(self.kinds) if kind == "hotspot"]
        return (
            [self.places[k] for k in keep],
            [self.arrive_s[k] for k in keep],
            [self.depart_s[k + 1] - self.arrive_s[k] for k in keep],
        )


_UNREACHABLE = -1


@dataclass(frozen=True)
class _Ranking:
    breaks_kept: int  # minus the breaks a plan misses
    units_used: int
    balanced: bool  # busiest / least busy route within the balance goal
    dosage: float


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
        unit_data: list[_UnitData],
        copies: list[_Copy],
        shift_start_s: int,
        options: PatrolOptions,
        leg_graphs: Mapping[str, _LegGraph] | None = None,
    ) -> None:
        self.networks = dict(networks)
        self._leg_graphs = dict(leg_graphs) if leg_graphs is not None else {}
        self.hotspots = hotspots
        self.units = tuple(units)
        self._data = unit_data
        self.copies = copies
        self.shift_start_s = shift_start_s
        self.options = options
        self.plan: PatrolPlan | None = None
        horizon_s = int(max(u.budget_s for u in self.units))
        #: Local clock hour of every band of the shift.
        self.hours = [hour for _, _, hour in _bands(shift_start_s, horizon_s, options.band_s)]

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
        if not units:
            raise RoutingError("'units' is empty: give at least one unit on duty")
        if len(hotspots) == 0:
            raise InfeasiblePlanError(
                "no hotspot to patrol: the shift has no risk in the units' grids; choose "
                "another shift window or widen the grids"
            )
        if not 0 <= shift_start_s < 24 * _HOUR_S:
            raise RoutingError(
                f"'shift_start_s' should be seconds after midnight (0..86399), got {shift_start_s!r}"
            )
        ids = [u.unit_id for u in units]
        if len(set(ids)) != len(ids):
            raise RoutingError(f"unit ids should be unique, got {ids}")
        for unit in units:
            if unit.mode not in networks:
                raise RoutingError(
                    f"unit {unit.unit_id!r} travels by {unit.mode!r} but no {unit.mode} network "
                    f"was given (networks: {', '.join(networks)})"
                )
            net = networks[unit.mode]
            if not 0 <= unit.station_node < net.n_nodes:
                raise RoutingError(
                    f"unit {unit.unit_id!r}: station node {unit.station_node} is not a node of "
                    f"the {unit.mode} network; snap the station with nearest_nodes"
                )
            if not unit.budget_s > 0:
                raise InfeasiblePlanError(
                    f"unit {unit.unit_id!r} has a time budget of {unit.budget_s!r} s; give it a "
                    "shift of positive length"
                )
            if not pyproj.CRS(net.crs).equals(hotspots.crs):
                raise RoutingError(
                    f"the {unit.mode} network is in {net.crs.name!r} but the hotspots are in "
                    f"{hotspots.crs.name!r}; build both in one metric CRS"
                )
        horizon_s = int(max(u.budget_s for u in units))
        hours = _bands(shift_start_s, horizon_s, opts.band_s)
        copies = [
            _Copy(h, lo, hi, hour, float(hotspots.risk_by_hour[h, hour]))
            for h in range(len(hotspots))
            for lo, hi, hour in hours
            if hotspots.risk_by_hour[h, hour] > 0
        ]
        leg_graphs = {
            mode: _leg_graph(
                networks[mode],
                _street_risk_of(street_risk, mode, networks[mode]),
                opts.street_risk_weight,
            )
            for mode in {u.mode for u in units}
        }
        data = _unit_data(networks, hotspots, units, leg_graphs)
        model = cls(networks, hotspots, units, data, copies, shift_start_s, opts, leg_graphs)
        model._check_feasible()
        logger.info(
            "patrol model: %s units, %s hotspots, %s visit copies over %s bands",
            f"{len(units):,}",
            f"{len(hotspots):,}",
            f"{len(copies):,}",
            f"{len(hours):,}",
        )
        return model

    def _check_feasible(self) -> None:
        dmin = math.ceil(self.options.dwell_min_s)
        for d in self._data:
            unit = d.unit
            if not d.allowed.any():
                raise InfeasiblePlanError(
                    f"unit {unit.unit_id!r}: none of the {len(self.hotspots):,} hotspots lies in "
                    "its grids; give it grids where the shift has risk, or plan it with others"
                )
            out = d.time_s[0, 1:]
            back = d.time_s[1:, 0]
            reachable = d.allowed & (out >= 0) & (back >= 0)
            if not reachable.any():
                raise InfeasiblePlanError(
                    f"unit {unit.unit_id!r}: its grids cannot be reached from its station on the "
                    f"{unit.mode} network (no street path there and back); check its station "
                    "and grids, or give it another mode"
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
                with_breaks = f" and take its breaks ({breaks_s / 60:,.0f} min)" if breaks_s else ""
                raise InfeasiblePlanError(
                    f"unit {unit.unit_id!r}: a budget of {unit.budget_s / 60:,.0f} min is too "
                    f"short to reach a hotspot of its grids, stop {dmin / 60:,.0f} min{with_breaks}"
                    f" and return (the quickest takes {nearest_min:,.0f} min); lengthen its shift "
                    "or give it grids nearer its station"
                )

    def _break_nodes(self) -> list[_BreakNode]:
        """Every place where every break may be taken: the station and, unless the break
        is at the station, each hotspot place of the unit's grids reachable there and back
        (one per network node)."""
        nodes = []
        for v, d in enumerate(self._data):
            station = int(d.place_node[0])
            places = [-1]
            seen = {station}
            for h in np.flatnonzero(d.allowed & (d.time_s[0, 1:] >= 0) & (d.time_s[1:, 0] >= 0)):
                node = int(d.place_node[h + 1])
                if node not in seen:
                    seen.add(node)
                    places.append(int(h))
            for k, b in enumerate(d.unit.breaks):
                # whole seconds; a window narrower than a second keeps its first one
                lo = math.ceil(b.earliest_start_s)
                hi = max(math.floor(b.latest_start_s), lo)
                duration = math.ceil(b.duration_s)
                for at in places[:1] if b.at_station else places:
                    nodes.append(_BreakNode(v, k, at, lo, hi, duration))
        return nodes

    # -- solve: ours ---------------------------------------------------------------------
    def solve(
        self, *, time_limit_s: float = 10.0, seed: int = 0, jitter: float = 0.03
    ) -> PatrolPlan:
        """Plan the routes with OR-Tools (visit copies, spacing, balance; guided local search).

        Parameters
        ----------
        time_limit_s
            Search time.
        seed
            Varies the plan: prizes are perturbed by up to ``jitter`` (relative) and the
            copies are presented to the solver in a seeded order.
        jitter
            Largest relative perturbation of a prize.

        Returns
        -------
        PatrolPlan
            Expanded into street paths; also kept as :attr:`plan`.

        Raises
        ------
        InfeasiblePlanError
            If the solver finds no plan, or a unit is left without a stop.
        """
        start = time.perf_counter()
        sequences = self._solve_routing(
            time_limit_s=time_limit_s, seed=seed, jitter=jitter, single_visit=False
        )
        elapsed = time.perf_counter() - start
        idle = [self.units[s.unit].unit_id for s in sequences if not s.visits()[0]]
        if idle:
            raise InfeasiblePlanError(
                f"unit(s) {', '.join(map(repr, idle))} got no stop within "
                f"{time_limit_s:g} s of search; allow more time (--time-limit) or fewer units"
            )
        plan = self._plan(sequences, method="dosage", solve_time_s=elapsed, expand=True)
        self.plan = plan
        return plan

    # -- solve: the plain baseline ---------------------------------------------------------
    def solve_baseline(
        self, *, time_limit_s: float = 10.0, seed: int = 0, expand: bool = False
    ) -> PatrolPlan:
        """The plain prize-collecting model: each hotspot once, prize = its shift risk.

        Same units, budgets, grids, breaks, dwell (the minimum), prize scale, time limit and
        guided local search as :meth:`solve`; no hour windows, no revisits, no balance. Scored
        by :func:`dosage_score` like every plan. When a unit has breaks, stops may last up
        to ``dwell_max_s`` as in :meth:`solve`, so that the break windows can be met.
        """
        start = time.perf_counter()
        sequences = self._solve_routing(
            time_limit_s=time_limit_s, seed=seed, jitter=0.0, single_visit=True
        )
        elapsed = time.perf_counter() - start
        return self._plan(sequences, method="baseline", solve_time_s=elapsed, expand=expand)

    # -- shared OR-Tools model -------------------------------------------------------------
    def _solve_routing(
        self, *, time_limit_s: float, seed: int, jitter: float, single_visit: bool
    ) -> list[_Sequence]:
        """Solve with OR-Tools; ours runs a small portfolio and keeps the best plan.

        The rigid timing of visit copies (hour bands, a few minutes of slack) leaves plain
        local search in poor local optima, so ours splits the time over three first
        solutions (rotated by the seed), each improved by guided local search with the
        path and inactive-node LNS operators, and keeps the plan of highest dosage. The
        baseline is one plain run: default operators, guided local search.
        """
        from ortools.constraint_solver import routing_enums_pb2

        opts = self.options
        rng = np.random.default_rng(seed)
        dmin = math.ceil(opts.dwell_min_s)
        has_breaks = any(u.breaks for u in self.units)
        slack_s = 0 if single_visit and not has_breaks else math.floor(opts.dwell_max_s) - dmin
        horizon = int(max(u.budget_s for u in self.units))
        breaks = self._break_nodes()
        if single_visit:
            prize = self.hotspots.risk_by_hour[:, sorted(set(self.hours))].sum(axis=1)
            nodes = [
                _Copy(h, 0, horizon, -1, float(prize[h]))
                for h in range(len(self.hotspots))
                if prize[h] > 0
            ]
        else:
            order = rng.permutation(len(self.copies))
            nodes = [self.copies[i] for i in order]
        raw = np.array([c.prize for c in nodes], dtype=float)
        if jitter > 0:
            raw = raw * (1.0 + jitter * rng.uniform(-1.0, 1.0, len(raw)))
        penalty = np.maximum(np.rint(raw / raw.max() * _PRIZE_SCALE), 1).astype(np.int64)
        strategy = routing_enums_pb2.FirstSolutionStrategy
        if single_visit:
            runs = [strategy.PATH_CHEAPEST_ARC]
        else:
            portfolio = [
                strategy.PATH_CHEAPEST_ARC,
                strategy.PARALLEL_CHEAPEST_INSERTION,
                strategy.LOCAL_CHEAPEST_INSERTION,
            ]
            shift = seed % len(portfolio)
            runs = portfolio[shift:] + portfolio[:shift]
        found: list[tuple[list[_Sequence], _Ranking]] = []
        deadline = time.perf_counter() + time_limit_s
        for k, first in enumerate(runs):
            # a run whose first solution fails returns at once and leaves its time to the rest
            left_s = max(deadline - time.perf_counter(), 0.05)
            sequences = self._routing_run(
                nodes,
                penalty,
                breaks,
                first_solution=first,
                time_limit_s=left_s / (len(runs) - k),
                slack_s=slack_s,
                dmin=dmin,
                single_visit=single_visit,
            )
            if sequences is not None:
                found.append((sequences, self._value(sequences)))
        best = self._pick(found)
        if best is None:
            raise InfeasiblePlanError(
                f"the solver found no plan for units {', '.join(u.unit_id for u in self.units)} "
                f"within {time_limit_s:g} s; allow more time or check budgets and grids"
            )
        missed = [
            f"{self.units[s.unit].unit_id!r} (break {', '.join(map(_span, missing))})"
            for s in best
            if (missing := self._missing_breaks(s))
        ]
        if missed:
            raise InfeasiblePlanError(
                f"no plan within {time_limit_s:g} s fits the breaks of unit(s) "
                f"{'; '.join(missed)}; widen the break windows, lengthen the budget or allow "
                "more time"
            )
        return best

    def _pick(self, found: Sequence[tuple[list[_Sequence], _Ranking]]) -> list[_Sequence] | None:
        """The portfolio's plan: breaks kept and every unit used first; then the best dosage,
        unless a balanced plan comes within ``balance_dosage_share`` of it.

        A plan that leaves one unit half the shift idle is not preferred for a little more
        dosage (the captain asked for every unit to carry its share), but neither is a plan
        in which every unit stops early, which is balanced and poor.
        """
        if not found:
            return None
        top = max((r.breaks_kept, r.units_used) for _, r in found)
        eligible = [(seq, r) for seq, r in found if (r.breaks_kept, r.units_used) == top]
        best_dosage = max(r.dosage for _, r in eligible)
        balanced = [
            (seq, r)
            for seq, r in eligible
            if r.balanced and r.dosage >= self.options.balance_dosage_share * best_dosage
        ]
        pool = balanced or eligible
        return max(pool, key=lambda item: item[1].dosage)[0]

    def _value(self, sequences: Sequence[_Sequence]) -> _Ranking:
        """What the portfolio ranks a plan by (see :meth:`_pick`)."""
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
            self.hotspots.risk_by_hour,
            shift_start_s=self.shift_start_s,
            options=self.options,
        )
        used = [s for s in sequences if s.visits()[0]]
        durations = [s.end_s - s.depart_s[0] for s in used]
        balanced = (
            bool(durations)
            and min(durations) > 0
            and max(durations) / min(durations) <= self.options.balance_ratio_goal
        )
        missing = sum(len(self._missing_breaks(s)) for s in sequences)
        return _Ranking(-missing, len(used), balanced, score.total)

    def _routing_run(
        self,
        nodes: Sequence[_Copy],
        penalty: NDArray[np.int64],
        breaks: Sequence[_BreakNode],
        *,
        first_solution: int,
        time_limit_s: float,
        slack_s: int,
        dmin: int,
        single_visit: bool,
    ) -> list[_Sequence] | None:
        from ortools.constraint_solver import pywrapcp, routing_enums_pb2
        from ortools.util import optional_boolean_pb2

        opts = self.options
        m = len(self.units)
        horizon = int(max(u.budget_s for u in self.units))
        n_copies = len(nodes)
        # per break, a "done" node at the station: the route's last node, back before the
        # break's window opens, so the break needs no stop (it is off its route by then)
        done = [(v, k) for v, u in enumerate(self.units) for k in range(len(u.breaks))]
        n_nodes = m + n_copies + len(breaks) + len(done)
        manager = pywrapcp.RoutingIndexManager(n_nodes, m, list(range(m)), list(range(m)))
        routing = pywrapcp.RoutingModel(manager)
        # one transit matrix per class of units sharing mode, station and grids
        place = np.concatenate(
            [
                np.zeros(m, dtype=np.int64),
                np.array([c.hotspot + 1 for c in nodes], dtype=np.int64),
                np.array([b.hotspot + 1 for b in breaks], dtype=np.int64),
                np.zeros(len(done), dtype=np.int64),
            ]
        )
        service = np.concatenate(
            [
                np.zeros(m, dtype=np.int64),
                np.full(n_copies, dmin, dtype=np.int64),
                np.array([b.duration_s for b in breaks], dtype=np.int64),
                np.zeros(len(done), dtype=np.int64),
            ]
        )
        transit_of: dict[int, tuple[int, int]] = {}
        vehicle_transit = []
        big = 10 * horizon + 10
        # ending a route on a "done" node costs more than every prize together (and less
        # than dropping the break): first solutions and local search take the break and go
        # on patrolling whenever they can, since leaving a "done" ending later takes a
        # compound move that local search does not make
        prizes_total = int(penalty.sum()) + _PRIZE_SCALE
        done_cost = np.zeros(n_nodes, dtype=np.int64)
        done_cost[m + n_copies + len(breaks) :] = prizes_total
        for v, d in enumerate(self._data):
            key = id(d.time_s)
            if key not in transit_of:
                times = d.time_s[np.ix_(place, place)]
                times = np.where(times < 0, big, times) + service[:, None]
                transit = routing.RegisterTransitMatrix(times.tolist())
                cost = (
                    routing.RegisterTransitMatrix((times + done_cost[None, :]).tolist())
                    if done
                    else transit
                )
                transit_of[key] = (transit, cost)
            vehicle_transit.append(transit_of[key][0])
            routing.SetArcCostEvaluatorOfVehicle(transit_of[key][1], v)
        routing.AddDimensionWithVehicleTransitAndCapacity(
            vehicle_transit,
            slack_s,
            [int(u.budget_s) for u in self.units],
            True,
            "time",
        )
        time_dim = routing.GetDimensionOrDie("time")
        for k, copy in enumerate(nodes):
            index = manager.NodeToIndex(m + k)
            routing.AddDisjunction([index], int(penalty[k]))
            allowed = [v for v, d in enumerate(self._data) if d.allowed[copy.hotspot]]
            if len(allowed) < m:
                # the Python binding of SetAllowedVehiclesForIndex rejects every list it is
                # given (absl::Span); restricting the vehicle variable is the same constraint
                routing.VehicleVar(index).SetValues([-1, *allowed])
            if not single_visit:
                time_dim.CumulVar(index).SetRange(copy.lo_s, copy.hi_s)
        # a break is one of its places, of its unit only, started in its window (arrival =
        # start: no waiting there), or its "done" node; dropping both costs more than every
        # prize together
        break_penalty = 2 * prizes_total
        alternatives: dict[tuple[int, int], list[int]] = {}
        for j, brk in enumerate(breaks):
            index = manager.NodeToIndex(m + n_copies + j)
            routing.VehicleVar(index).SetValues([-1, brk.unit])
            time_dim.CumulVar(index).SetRange(brk.lo_s, brk.hi_s)
            time_dim.SlackVar(index).SetMax(0)
            alternatives.setdefault((brk.unit, brk.index), []).append(index)
        done_index = {
            key: manager.NodeToIndex(m + n_copies + len(breaks) + j) for j, key in enumerate(done)
        }
        for (v, k), index in done_index.items():
            earliest = math.floor(self.units[v].breaks[k].earliest_start_s)
            routing.VehicleVar(index).SetValues([-1, v])
            time_dim.CumulVar(index).SetRange(0, earliest)
            time_dim.SlackVar(index).SetMax(0)
            later = [done_index[(v, q)] for q in range(k + 1, len(self.units[v].breaks))]
            routing.NextVar(index).SetValues([index, routing.End(v), *later])
            alternatives[(v, k)].append(index)
        for indices in alternatives.values():
            routing.AddDisjunction(indices, break_penalty, 1)
        params = pywrapcp.DefaultRoutingSearchParameters()
        params.first_solution_strategy = first_solution
        params.local_search_metaheuristic = (
            routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
        )
        if not single_visit:
            # copies of one hotspot too close in time for the spacing: at most one of each
            # such group is visited (a native disjunction, so local search never breaks it)
            for group in self._spacing_groups(nodes):
                routing.AddDisjunction([manager.NodeToIndex(m + k) for k in group], 0, 1)
            for v, unit in enumerate(self.units):
                target = int(opts.balance_share * unit.budget_s)
                time_dim.SetCumulVarSoftLowerBound(routing.End(v), target, _BALANCE_COST_PER_S)
            # the lower bounds fill short routes; the span cost trims the longest, which
            # balances plans that run out of prizes before the shift ends
            time_dim.SetGlobalSpanCostCoefficient(_BALANCE_COST_PER_S)
            if first_solution == routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC:
                # every unit leaves its station: a hard rule in this run (insertion
                # heuristics start from empty routes and cannot work under it; the
                # portfolio prefers plans that use every unit)
                for v in range(m):
                    routing.NextVar(routing.Start(v)).RemoveValue(routing.End(v))
                for (v, _), index in done_index.items():
                    routing.NextVar(routing.Start(v)).RemoveValue(index)
            operators = params.local_search_operators
            operators.use_full_path_lns = optional_boolean_pb2.BOOL_TRUE
            operators.use_inactive_lns = optional_boolean_pb2.BOOL_TRUE
        params.time_limit.FromMilliseconds(max(int(time_limit_s * 1000), 1))
        solution = routing.SolveWithParameters(params)
        if solution is None:
            return None
        sequences = []
        for v in range(m):
            items: list[_Copy | _BreakNode] = []
            index = solution.Value(routing.NextVar(routing.Start(v)))
            while not routing.IsEnd(index):
                k = manager.IndexToNode(index) - m
                if k < n_copies:
                    items.append(nodes[k])
                elif k < n_copies + len(breaks):
                    items.append(breaks[k - n_copies])
                index = solution.Value(routing.NextVar(index))
            sequences.append(self._schedule(v, items, slack_s=slack_s, dwell_s=dmin))
        return sequences

    def _spacing_groups(self, nodes: Sequence[_Copy]) -> list[list[int]]:
        """Groups of copies of one hotspot of which at most one may be visited.

        Two copies conflict when their bands lie closer than the revisit spacing (the
        later band opens less than the spacing after the earlier one closes). A copy and
        the later copies it conflicts with form a group in which every pair conflicts;
        the groups cover every conflicting pair.
        """
        spacing = self.options.revisit_spacing_s
        by_hotspot: dict[int, list[int]] = {}
        for k, c in enumerate(nodes):
            by_hotspot.setdefault(c.hotspot, []).append(k)
        groups: list[list[int]] = []
        for ks in by_hotspot.values():
            ks.sort(key=lambda k: nodes[k].lo_s)
            previous: set[int] = set()
            for pos, a in enumerate(ks):
                group = [a] + [b for b in ks[pos + 1 :] if nodes[b].lo_s - nodes[a].hi_s < spacing]
                if len(group) > 1 and not set(group) <= previous:
                    groups.append(group)
                previous = set(group)
        return groups

    # -- timetable -----------------------------------------------------------------------------
    def _schedule(
        self, v: int, items: Sequence[_Copy | _BreakNode], *, slack_s: int, dwell_s: int
    ) -> _Sequence:
        """Whole-second times for a sequence of stops and breaks: earliest feasible ones.

        Arrivals form a chain of interval constraints (window of each stop or break; next
        arrival = this one + its length + travel, where a hotspot stop lasts ``dwell_s`` to
        ``dwell_s + slack_s`` and a break exactly its duration); intervals propagate
        forward and the times are then picked backward, which is exact for a chain.
        """
        d = self._data[v]
        if not items:
            return _Sequence(v, [], [], [0], 0)
        place = [it.hotspot + 1 for it in items]
        length = [dwell_s if isinstance(it, _Copy) else it.duration_s for it in items]
        wait = [slack_s if isinstance(it, _Copy) else 0 for it in items]
        lo = []
        hi = []
        # the station: "arrival" 0, left within [0, slack]
        prev_lo, prev_hi, prev_place, prev_length, prev_wait = 0, 0, 0, 0, slack_s
        for k, it in enumerate(items):
            gap_lo = int(d.time_s[prev_place, place[k]]) + prev_length
            a_lo = max(it.lo_s, prev_lo + gap_lo)
            a_hi = min(it.hi_s, prev_hi + gap_lo + prev_wait)
            if a_lo > a_hi:
                raise InfeasiblePlanError(
                    f"unit {self.units[v].unit_id!r}: the solver's stop order has no feasible "
                    "timetable; this is a bug, please report it with the workspace"
                )
            lo.append(a_lo)
            hi.append(a_hi)
            prev_lo, prev_hi = a_lo, a_hi
            prev_place, prev_length, prev_wait = place[k], length[k], wait[k]
        arrive = [0] * len(items)
        arrive[-1] = lo[-1]
        for k in range(len(items) - 2, -1, -1):
            travel = int(d.time_s[place[k], place[k + 1]])
            # latest-needed: the earliest arrival here that still reaches the next in time
            need = arrive[k + 1] - travel - length[k] - wait[k]
            arrive[k] = max(lo[k], need)
        depart = [arrive[0] - int(d.time_s[0, place[0]])]
        for k in range(len(items) - 1):
            depart.append(arrive[k + 1] - int(d.time_s[place[k], place[k + 1]]))
        depart.append(arrive[-1] + length[-1])
        end = depart[-1] + int(d.time_s[place[-1], 0])
        kinds = ["hotspot" if isinstance(it, _Copy) else "break" for it in items]
        break_ids = [it.index for it in items if isinstance(it, _BreakNode)]
        return _Sequence(v, [it.hotspot for it in items], arrive, depart, end, kinds, break_ids)

    def _missing_breaks(self, seq: _Sequence) -> list[Break]:
        """Breaks of the sequence's unit neither taken nor after its return to the station."""
        return [
            b
            for k, b in enumerate(self.units[seq.unit].breaks)
            if k not in seq.break_ids and seq.end_s > b.earliest_start_s
        ]

    # -- plan assembly -------------------------------------------------------------------------
    def _plan(
        self,
        sequences: Sequence[_Sequence],
        *,
        method: str,
        solve_time_s: float,
        expand: bool,
        bound: float | None = None,
    ) -> PatrolPlan:
        routes = []
        all_h: list[int] = []
        all_arrive: list[float] = []
        all_dwell: list[float] = []
        for seq in sequences:
            d = self._data[seq.unit]
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
            visit_h, visit_arrive, visit_dwell = seq.visits()
            all_h += visit_h
            all_arrive += visit_arrive
            all_dwell += visit_dwell
            end = float(seq.end_s) if seq.places else float(seq.depart_s[0])
            stops.append(Stop("station", -1, station, end, end))
            legs = []
            for a, b in itertools.pairwise(stops):
                pa = 0 if a.hotspot < 0 else a.hotspot + 1
                pb = 0 if b.hotspot < 0 else b.hotspot + 1
                legs.append(
                    Leg(travel_time_s=float(d.time_s[pa, pb]), inside_grids=bool(d.inside[pa, pb]))
                )
            if not seq.places:
                legs = []
                stops = stops[:1] + stops[-1:]
                legs = [Leg(0.0)]
            routes.append(UnitRoute(unit.unit_id, unit.mode, tuple(stops), tuple(legs)))
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
        for route, d in zip(plan.routes, self._data, strict=True):
            net = self.networks[d.unit.mode]
            legs_on = self._leg_graphs.get(d.unit.mode) or _leg_graph(net, None, 0.0)
            inside_graph = _restricted_csr(legs_on.cost_csr, d.unit.allowed_nodes)
            legs = []
            for a, b, leg in zip(route.stops[:-1], route.stops[1:], route.legs, strict=True):
                graph = inside_graph if leg.inside_grids else legs_on.cost_csr
                nodes, edges = _path(legs_on.edge_csr, graph, a.node, b.node)
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
        )

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
        from scipy.optimize import Bounds, LinearConstraint, milp

        with_breaks = [u.unit_id for u in self.units if u.breaks]
        if with_breaks:
            raise RoutingError(
                f"solve_exact does not model breaks, and unit(s) {', '.join(map(repr, with_breaks))}"
                " have some; use solve(), or compare on units without breaks"
            )
        start = time.perf_counter()
        opts = self.options
        dmin = math.ceil(opts.dwell_min_s)
        slack = math.floor(opts.dwell_max_s) - dmin
        copies = self.copies
        nc = len(copies)
        m = len(self.units)
        # column layout: t[0..nc), y[v, a] for allowed (v, a), then x arcs
        cols_lo: list[float] = [c.lo_s for c in copies]
        cols_hi: list[float] = [c.hi_s for c in copies]
        integrality: list[int] = [0] * nc
        objective: list[float] = [0.0] * nc
        y_col: dict[tuple[int, int], int] = {}
        arcs: list[tuple[int, int, int, int]] = []  # (col, v, a, b); a/b == -1: station
        for v, d in enumerate(self._data):
            allowed = [a for a, c in enumerate(copies) if d.allowed[c.hotspot]]
            for a in allowed:
                y_col[(v, a)] = len(cols_lo)
                cols_lo.append(0.0)
                cols_hi.append(1.0)
                integrality.append(1)
                objective.append(-copies[a].prize)
            t = d.time_s

            def travel(a: int, b: int, t: NDArray[np.int64] = t) -> int:
                pa = 0 if a < 0 else copies[a].hotspot + 1
                pb = 0 if b < 0 else copies[b].hotspot + 1
                return int(t[pa, pb])

            budget = int(d.unit.budget_s)
            candidates = [(-1, b) for b in allowed] + [(a, -1) for a in allowed] + [(-1, -1)]
            candidates += [
                (a, b)
                for a in allowed
                for b in allowed
                if a != b and copies[a].hotspot != copies[b].hotspot
            ]
            for a, b in candidates:
                if a >= 0 or b >= 0:
                    tt = travel(a, b)
                    if tt < 0:
                        continue
                if a < 0 <= b and not (tt <= copies[b].hi_s and tt + slack >= copies[b].lo_s):
                    continue
                if b < 0 <= a and copies[a].lo_s + dmin + tt > budget:
                    continue
                if a >= 0 and b >= 0:
                    ca, cb = copies[a], copies[b]
                    if ca.lo_s + dmin + tt > cb.hi_s or ca.hi_s + dmin + slack + tt < cb.lo_s:
                        continue
                arcs.append((len(cols_lo), v, a, b))
                cols_lo.append(0.0)
                cols_hi.append(1.0)
                integrality.append(1)
                objective.append(0.0)

        rows: list[tuple[dict[int, float], float, float]] = []
        out_arcs: dict[tuple[int, int], list[int]] = {}
        in_arcs: dict[tuple[int, int], list[int]] = {}
        for col, v, a, b in arcs:
            out_arcs.setdefault((v, a), []).append(col)
            in_arcs.setdefault((v, b), []).append(col)
        for v in range(m):
            rows.append(({c: 1.0 for c in out_arcs.get((v, -1), [])}, 1.0, 1.0))
            rows.append(({c: 1.0 for c in in_arcs.get((v, -1), [])}, 1.0, 1.0))
        for (v, a), ycol in y_col.items():
            row_in = {c: 1.0 for c in in_arcs.get((v, a), [])}
            row_in[ycol] = -1.0
            rows.append((row_in, 0.0, 0.0))
            row_out = {c: 1.0 for c in out_arcs.get((v, a), [])}
            row_out[ycol] = -1.0
            rows.append((row_out, 0.0, 0.0))
        for a in range(nc):
            visit = {y_col[(v, a)]: 1.0 for v in range(m) if (v, a) in y_col}
            if visit:
                rows.append((visit, 0.0, 1.0))
        for col, v, a, b in arcs:
            if a < 0 and b < 0:
                continue
            d = self._data[v]
            pa = 0 if a < 0 else copies[a].hotspot + 1
            pb = 0 if b < 0 else copies[b].hotspot + 1
            tt = int(d.time_s[pa, pb])
            if a < 0:
                # t_b >= tt - M(1-x), t_b <= slack + tt + M(1-x)
                cb = copies[b]
                m_lo = max(tt - cb.lo_s, 0)
                rows.append(({b: 1.0, col: -float(m_lo)}, tt - m_lo, math.inf))
                m_hi = max(cb.hi_s - slack - tt, 0)
                rows.append(({b: 1.0, col: float(m_hi)}, -math.inf, slack + tt + m_hi))
            elif b < 0:
                ca = copies[a]
                budget = int(d.unit.budget_s)
                m_end = max(ca.hi_s + dmin + tt - budget, 0)
                rows.append(({a: 1.0, col: float(m_end)}, -math.inf, budget - dmin - tt + m_end))
            else:
                ca, cb = copies[a], copies[b]
                gap_lo, gap_hi = dmin + tt, dmin + slack + tt
                m_lo = max(gap_lo - (cb.lo_s - ca.hi_s), 0)
                rows.append(({b: 1.0, a: -1.0, col: -float(m_lo)}, gap_lo - m_lo, math.inf))
                m_hi = max((cb.hi_s - ca.lo_s) - gap_hi, 0)
                rows.append(({b: 1.0, a: -1.0, col: float(m_hi)}, -math.inf, gap_hi + m_hi))
        for group in self._spacing_groups(copies):
            rows.append(
                ({y_col[(v, a)]: 1.0 for v in range(m) for a in group if (v, a) in y_col}, 0, 1)
            )

        n_cols = len(cols_lo)
        data, ri, ci, lb, ub = [], [], [], [], []
        for r, (coef, low, high) in enumerate(rows):
            for c, val in coef.items():
                ri.append(r)
                ci.append(c)
                data.append(val)
            lb.append(low)
            ub.append(high)
        matrix = csr_array((data, (ri, ci)), shape=(len(rows), n_cols))
        result = milp(
            c=np.asarray(objective),
            constraints=LinearConstraint(matrix, lb, ub),
            integrality=np.asarray(integrality),
            bounds=Bounds(np.asarray(cols_lo), np.asarray(cols_hi)),
            options={"time_limit": float(time_limit_s), "disp": False},
        )
        if result.x is None:
            raise InfeasiblePlanError(
                f"the exact MILP found no solution within {time_limit_s:g} s "
                f"({n_cols:,} variables); use solve() for instances this large"
            )
        x = np.rint(result.x[nc:]).astype(int)
        x_full = np.concatenate([np.zeros(nc, dtype=int), x])
        next_of: dict[tuple[int, int], int] = {}
        for col, v, a, b in arcs:
            if x_full[col] == 1:
                next_of[(v, a)] = b
        sequences = []
        for v in range(m):
            order: list[_Copy] = []
            node = next_of.get((v, -1), -1)
            while node >= 0:
                order.append(copies[node])
                node = next_of.get((v, node), -1)
            sequences.append(self._schedule(v, order, slack_s=slack, dwell_s=dmin))
        bound = -float(result.mip_dual_bound) if result.mip_dual_bound is not None else None
        logger.info(
            "exact MILP: %s columns, %s rows, status %s, objective %.4f, bound %s",
            f"{n_cols:,}",
            f"{len(rows):,}",
            result.status,
            -result.fun,
            bound,
        )
        return self._plan(
            sequences,
            method="exact",
            solve_time_s=time.perf_counter() - start,
            expand=expand,
            bound=bound,
        )


# -- helpers ----------------------------------------------------------------------------------


def _bands(shift_start_s: int, horizon_s: int, band_s: int) -> list[tuple[int, int, int]]:
    """``(lo_s, hi_s, clock_hour)`` of every band of the shift: arrivals in [lo, hi]."""
    bands = []
    lo = 0
    while lo < horizon_s:
        clock = shift_start_s + lo
        next_boundary = (clock // band_s + 1) * band_s - shift_start_s
        hi = min(next_boundary, horizon_s) - 1
        bands.append((lo, hi, (clock // _HOUR_S) % 24))
        lo = next_boundary
    return bands


def _clock(seconds: float) -> str:
    """``h:mm`` (rounded to the minute) of a time from the shift start."""
    minutes = round(abs(seconds) / 60.0)
    return f"{'-' if seconds < 0 else ''}{minutes // 60}:{minutes % 60:02d}"


def _span(brk: Break) -> str:
    """A break for messages: ``30 min starting 4:00-4:30 into the shift``."""
    where = " at the station" if brk.at_station else ""
    return (
        f"{brk.duration_s / 60:g} min{where} starting {_clock(brk.earliest_start_s)}-"
        f"{_clock(brk.latest_start_s)} into the shift"
    )


def _restricted_csr(graph: csr_array, allowed: NDArray[np.bool_] | None) -> csr_array:
    """``graph`` with only the arcs between allowed nodes."""
    if allowed is None or allowed.all():
        return graph
    coo = graph.tocoo()
    keep = allowed[coo.row] & allowed[coo.col]
    return csr_array((coo.data[keep], (coo.row[keep], coo.col[keep])), shape=graph.shape)


@dataclass(frozen=True)
class _LegGraph:
    """The graph legs are routed on: node-by-node leg cost and edge (+ 1) of each arc, and
    the true travel time of every edge; ``weighted`` when the cost is not the time."""

    cost_csr: csr_array
    edge_csr: csr_array
    edge_time_s: NDArray[np.float64]
    weighted: bool


def _street_risk_of(
    street_risk: NDArray[np.float64] | Mapping[str, NDArray[np.float64]] | None,
    mode: str,
    network: StreetNetwork,
) -> NDArray[np.float64] | None:
    """The shift risk per segment of ``mode``'s network, checked; ``None`` if not given."""
    if street_risk is None:
        return None
    if isinstance(street_risk, Mapping):
        if mode not in street_risk:
            return None
        risk = np.asarray(street_risk[mode], dtype=float)
    else:
        risk = np.asarray(street_risk, dtype=float)
    if risk.shape != (network.n_segments,):
        raise RoutingError(
            f"'street_risk' for the {mode} network should have shape ({network.n_segments},) "
            f"(one risk per segment), got {risk.shape}"
        )
    if (risk < 0).any() or not np.isfinite(risk).all():
        raise RoutingError("'street_risk' should be finite and >= 0")
    return risk


def _leg_graph(
    network: StreetNetwork, street_risk: NDArray[np.float64] | None, weight: float
) -> _LegGraph:
    """Leg costs ``travel_time_s * max(1 - weight * r, floor)`` with ``r`` the segment's
    risk scaled to 0..1; parallel edges keep the cheapest (then the quickest, then the
    first). Without risk or weight, the network's own fastest-path graph."""
    time_s = np.maximum(network.edge_travel_time_s, _MIN_TRAVEL_TIME_S)
    positive = street_risk[street_risk > 0] if street_risk is not None else np.empty(0)
    if street_risk is None or weight <= 0 or not len(positive):
        return _LegGraph(network.travel_time_csr, network.edge_id_csr, time_s, weighted=False)
    scale = float(np.quantile(positive, _RISK_SCALE_QUANTILE))
    r = np.clip(street_risk[network.edge_segment] / scale, 0.0, 1.0)
    cost = time_s * np.maximum(1.0 - weight * r, _MIN_LEG_COST_FACTOR)
    edge = np.arange(network.n_edges)
    order = np.lexsort((edge, time_s, cost, network.edge_v, network.edge_u))
    u, v = network.edge_u[order], network.edge_v[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
    u, v, best = u[first], v[first], order[first]
    shape = (network.n_nodes, network.n_nodes)
    return _LegGraph(
        csr_array((cost[best], (u, v)), shape=shape),
        csr_array((best + 1, (u, v)), shape=shape),
        time_s,
        weighted=True,
    )


def _leg_times(
    legs_on: _LegGraph, graph: csr_array, sources: Sequence[int] | NDArray[np.int64]
) -> NDArray[np.float64]:
    """Travel time (seconds) from every source to every node along the cheapest paths of
    ``graph``; ``inf`` where no path exists.

    With fastest paths these are Dijkstra's distances. Otherwise the true times are summed
    up the shortest-path tree by pointer doubling: each pass adds the time from a node's
    current ancestor and jumps to that ancestor's ancestor.
    """
    if not legs_on.weighted:
        return np.atleast_2d(dijkstra(graph, directed=True, indices=sources))
    dist, pred = dijkstra(graph, directed=True, indices=sources, return_predecessors=True)
    dist, pred = np.atleast_2d(dist), np.atleast_2d(pred).astype(np.int64)
    reached = pred >= 0
    ancestor = np.where(reached, pred, -1)
    step = np.zeros(pred.shape, dtype=float)
    rows, cols = np.nonzero(reached)
    edges = np.asarray(legs_on.edge_csr[pred[rows, cols], cols]).astype(np.int64) - 1
    step[rows, cols] = legs_on.edge_time_s[edges]
    while (ancestor >= 0).any():
        has = ancestor >= 0
        safe = np.where(has, ancestor, 0)
        step = step + np.where(has, np.take_along_axis(step, safe, axis=1), 0.0)
        ancestor = np.where(has, np.take_along_axis(ancestor, safe, axis=1), -1)
    return np.where(np.isfinite(dist), step, np.inf)


def _unit_data(
    networks: Mapping[str, StreetNetwork],
    hotspots: Hotspots,
    units: Sequence[PatrolUnit],
    leg_graphs: Mapping[str, _LegGraph],
) -> list[_UnitData]:
    """Leg times between each unit's station and the hotspots, shared by alike units."""
    from routing.snap import nearest_nodes

    points = gpd.GeoSeries(shapely.points(hotspots.x, hotspots.y), crs=hotspots.crs)
    hotspot_nodes = {
        mode: np.asarray(nearest_nodes(net, points, max_distance_m=None), dtype=np.int64)
        for mode, net in networks.items()
        if any(u.mode == mode for u in units)
    }
    full_cache: dict[str, dict[int, NDArray[np.float64]]] = {}
    shared: dict[tuple[Any, ...], _UnitData] = {}
    out = []
    for unit in units:
        net = networks[unit.mode]
        legs_on = leg_graphs[unit.mode]
        nodes = np.concatenate([[unit.station_node], hotspot_nodes[unit.mode]]).astype(np.int64)
        allowed_mask = unit.allowed_nodes
        if allowed_mask is not None and len(allowed_mask) != net.n_nodes:
            raise RoutingError(
                f"unit {unit.unit_id!r}: 'allowed_nodes' has {len(allowed_mask):,} entries but "
                f"the {unit.mode} network has {net.n_nodes:,} nodes"
            )
        key = (
            unit.mode,
            unit.station_node,
            None if allowed_mask is None else np.packbits(allowed_mask).tobytes(),
        )
        if key in shared:
            d = shared[key]
            out.append(_UnitData(unit, d.place_node, d.time_s, d.inside, d.allowed))
            continue
        cache = full_cache.setdefault(unit.mode, {})
        missing = sorted(set(nodes.tolist()) - set(cache))
        if missing:
            rows = _leg_times(legs_on, legs_on.cost_csr, missing)
            for node, row in zip(missing, rows, strict=True):
                cache[node] = row
        full = np.array([cache[int(a)][nodes] for a in nodes])
        inside = np.zeros_like(full, dtype=bool)
        if allowed_mask is None:
            allowed = np.ones(len(hotspots), dtype=bool)
            times = full
            inside[:] = True
        else:
            allowed = allowed_mask[nodes[1:]].copy()
            times = full.copy()
            sub = np.flatnonzero(allowed) + 1
            if len(sub):
                restricted = _leg_times(
                    legs_on, _restricted_csr(legs_on.cost_csr, allowed_mask), nodes[sub]
                )[:, nodes[sub]]
                ok = np.isfinite(restricted)
                block = times[np.ix_(sub, sub)]
                times[np.ix_(sub, sub)] = np.where(ok, restricted, block)
                inside[np.ix_(sub, sub)] = ok
        whole = np.where(np.isfinite(times), np.ceil(times - 1e-9), _UNREACHABLE).astype(np.int64)
        data = _UnitData(unit, nodes, whole, inside, allowed)
        shared[key] = data
        out.append(data)
    return out


def _path(
    edge_csr: csr_array, graph: csr_array, source: int, target: int
) -> tuple[list[int], list[int]]:
    """Nodes and edges of the cheapest path on ``graph``; ``edge_csr`` holds edge + 1."""
    if source == target:
        return [source], []
    _, predecessors = dijkstra(graph, directed=True, indices=source, return_predecessors=True)
    if predecessors[target] < 0:
        raise RoutingError(f"no street path from node {source} to node {target}")
    nodes = [target]
    while nodes[-1] != source:
        nodes.append(int(predecessors[nodes[-1]]))
    nodes.reverse()
    edges = [int(edge_csr[u, v]) - 1 for u, v in itertools.pairwise(nodes)]
    return nodes, edges


__all__ = [
    "Break",
    "DosageScore",
    "Hotspots",
    "Leg",
    "PatrolModel",
    "PatrolOptions",
    "PatrolPlan",
    "PatrolUnit",
    "Stop",
    "UnitRoute",
    "dosage_score",
    "hour_band_risk",
    "select_hotspots",
    "shift_hours",
]
