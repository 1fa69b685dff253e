"""A solved patrol plan: stops, legs, one route per unit, and the plan with its score."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from layers.i18n import _
from routing.errors import RoutingError
from routing.patrol.score import DosageScore


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
    notes
        Why units that keep the plan off its balance goal are less busy, in words (empty
        when the plan meets it).
    """

    routes: tuple[UnitRoute, ...]
    objective: float
    method: str
    solve_time_s: float
    score: DosageScore
    bound: float | None = None
    expanded: bool = False
    notes: tuple[str, ...] = ()

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
        raise RoutingError(_("no route for unit %(unit)r in this plan", unit=unit_id))
