"""Timetables: whole-second times for a unit's sequence of stops and breaks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from layers.i18n import _
from routing.errors import InfeasiblePlanError
from routing.patrol.discrete import BreakNode, VisitCopy
from routing.patrol.inputs import Break, PatrolUnit
from routing.patrol.legs import UnitData


@dataclass
class StopSequence:
    """A unit's stops in order, with their times (seconds from the shift start)."""

    unit: int
    places: list[int]  # hotspot indices (0-based) of the stops' places, -1: the station
    arrive_s: list[int]
    depart_s: list[int]  # station departure first, then one per stop
    end_s: int = 0
    kinds: list[str] = field(default_factory=list)  # "hotspot" or "break" per stop
    break_ids: list[int] = field(default_factory=list)  # the unit's breaks taken, in order
    items: list[VisitCopy | BreakNode] = field(default_factory=list)  # what was scheduled

    def visits(self) -> tuple[list[int], list[int], list[int]]:
        """Hotspot, arrival and dwell of every hotspot stop (breaks left out)."""
        keep = [k for k, kind in enumerate(self.kinds) if kind == "hotspot"]
        return (
            [self.places[k] for k in keep],
            [self.arrive_s[k] for k in keep],
            [self.depart_s[k + 1] - self.arrive_s[k] for k in keep],
        )


def schedule(
    v: int,
    data: UnitData,
    items: Sequence[VisitCopy | BreakNode],
    *,
    slack_s: int,
    dwell_s: int,
) -> StopSequence:
    """Whole-second times for a sequence of stops and breaks: earliest feasible ones.

    Arrivals form a chain of interval constraints (window of each stop or break; next
    arrival = this one + its length + travel, where a hotspot stop lasts ``dwell_s`` to
    ``dwell_s + slack_s`` and a break exactly its duration); intervals propagate forward
    and the times are then picked backward, which is exact for a chain.

    Parameters
    ----------
    v
        Position of the unit in the model.
    data
        The unit's places and leg times.
    items
        Its stops and breaks, in order.
    slack_s, dwell_s
        A hotspot stop lasts ``dwell_s`` to ``dwell_s + slack_s``.

    Raises
    ------
    InfeasiblePlanError
        If the order has no feasible timetable (a bug of the solver's side).
    """
    d = data
    if not items:
        return StopSequence(v, [], [], [0], 0)
    place = [it.hotspot + 1 for it in items]
    length = [dwell_s if isinstance(it, VisitCopy) else it.duration_s for it in items]
    wait = [slack_s if isinstance(it, VisitCopy) else 0 for it in items]
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
                _(
                    "unit %(unit)r: the solver's stop order has no feasible timetable; this is "
                    "a bug, please report it with the workspace",
                    unit=d.unit.unit_id,
                )
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
    kinds = ["hotspot" if isinstance(it, VisitCopy) else "break" for it in items]
    break_ids = [it.index for it in items if isinstance(it, BreakNode)]
    return StopSequence(
        v, [it.hotspot for it in items], arrive, depart, end, kinds, break_ids, list(items)
    )


def missing_breaks(unit: PatrolUnit, seq: StopSequence) -> list[Break]:
    """Breaks of the sequence's unit neither taken nor after its return to the station."""
    return [
        b
        for k, b in enumerate(unit.breaks)
        if k not in seq.break_ids and seq.end_s > b.earliest_start_s
    ]
