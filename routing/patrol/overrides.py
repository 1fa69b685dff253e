"""A captain's overrides of a plan: stops locked to a unit (and a time), hotspots and
streets forbidden, a unit's stops in a fixed order.

:class:`Overrides` is given to :meth:`PatrolModel.build`. Its parts act at three depths:

- **Closed streets** (``closed_segments``, per mode) are taken out of the leg graphs:
  no leg drives along them (a place reachable only through them becomes unreachable).
- **Forbidden hotspots** are taken out of every unit's grids, and **locks** put their
  hotspot into their unit's grids (moving a stop to another unit is a lock for that unit),
  so the search, the decomposition and the fill pass all see them.
- **Locks** are required stops in the search: a disjunction over the unit's visit copies
  of the hotspot (those within :data:`LOCK_TOLERANCE_S` of the locked time, when one is
  given) whose penalty outweighs every prize, so a plan drops any other stop before a
  locked one. **Orders** fix a unit's whole sequence: the unit is left out of the search
  and its stops are timed in that order (:func:`ordered_sequence`).

Every plan made under overrides is checked against them (:func:`check_overrides`): a lock
that cannot be kept, or an order that does not fit the shift, is an error naming the stop.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from layers.i18n import _
from routing.errors import InfeasiblePlanError, RoutingError, join_clauses
from routing.patrol.discrete import VisitCopy, first_copy, open_copies_by_hotspot
from routing.patrol.inputs import clock_text
from routing.patrol.legs import UnitData
from routing.patrol.timetable import StopSequence, schedule

#: How far from its locked time a locked stop may arrive (seconds).
LOCK_TOLERANCE_S = 900


@dataclass(frozen=True)
class Lock:
    """A stop the captain requires: unit ``unit_id`` stops at hotspot ``hotspot`` (its
    index in the model), arriving within :data:`LOCK_TOLERANCE_S` of ``at_s`` (seconds
    from the shift start) when given."""

    unit_id: str
    hotspot: int
    at_s: float | None = None


@dataclass(frozen=True)
class Overrides:
    """What the captain changed: see the module's description.

    Parameters
    ----------
    locks
        Required stops.
    forbidden
        Hotspots (indices) no unit may stop at.
    closed_segments
        Per mode, a boolean mask over the network's segments: streets no leg may use.
    orders
        Per unit id, its hotspot stops (indices) in the order the captain set.
    """

    locks: tuple[Lock, ...] = ()
    forbidden: frozenset[int] = frozenset()
    closed_segments: Mapping[str, NDArray[np.bool_]] = field(default_factory=dict)
    orders: Mapping[str, tuple[int, ...]] = field(default_factory=dict)

    def reached_by_unit(self) -> dict[str, list[int]]:
        """Per unit id, the hotspots its locks and order make it reach."""
        reached: dict[str, list[int]] = {}
        for lock in self.locks:
            reached.setdefault(lock.unit_id, []).append(lock.hotspot)
        for unit_id, order in self.orders.items():
            reached.setdefault(unit_id, []).extend(order)
        return reached

    def check(self, unit_ids: Sequence[str], n_hotspots: int) -> None:
        """Refuse overrides naming unknown units or hotspots, or contradicting themselves.

        Raises
        ------
        RoutingError
            Naming every problem found.
        """
        problems = []
        known = set(unit_ids)
        for lock in self.locks:
            if lock.unit_id not in known:
                problems.append(
                    _("a lock names unit %(unit)r, which is not on duty", unit=lock.unit_id)
                )
            if not 0 <= lock.hotspot < n_hotspots:
                problems.append(
                    _(
                        "a lock names hotspot %(hotspot)s, which is not in the plan",
                        hotspot=lock.hotspot,
                    )
                )
            elif lock.hotspot in self.forbidden:
                problems.append(
                    _("hotspot %(hotspot)s is both locked and forbidden", hotspot=lock.hotspot)
                )
        for unit_id, order in self.orders.items():
            if unit_id not in known:
                problems.append(
                    _("an order names unit %(unit)r, which is not on duty", unit=unit_id)
                )
            bad = [h for h in order if not 0 <= h < n_hotspots or h in self.forbidden]
            if bad:
                problems.append(
                    _(
                        "the order of %(unit)r names unknown or forbidden hotspots %(hotspots)s",
                        unit=unit_id,
                        hotspots=bad,
                    )
                )
        if problems:
            raise RoutingError(join_clauses(problems))


def apply_to_unit_data(unit_data: list[UnitData], overrides: Overrides) -> list[UnitData]:
    """Each unit's grids with the forbidden hotspots out and its locked ones in (copies:
    alike units share their arrays)."""
    out = []
    for d in unit_data:
        allowed = d.allowed.copy()
        allowed[list(overrides.forbidden)] = False
        for lock in overrides.locks:
            if lock.unit_id == d.unit.unit_id:
                allowed[lock.hotspot] = True
        for h in overrides.orders.get(d.unit.unit_id, ()):
            allowed[h] = True
        same = np.array_equal(allowed, d.allowed)
        out.append(d if same else UnitData(d.unit, d.place_node, d.time_s, d.inside, allowed))
    return out


def lock_band_copies(
    overrides: Overrides, copies: Sequence[VisitCopy], shift_bands: Sequence[tuple[int, int, int]]
) -> list[VisitCopy]:
    """The visit copies of every lock, for its unit only: each band copy of the hotspot
    that meets the locked time, its window narrowed to it; when the place has no risk then,
    copies of no prize (the captain wants the stop there and then all the same)."""
    extra: list[VisitCopy] = []
    for lock in overrides.locks:
        meets = [
            c
            for c in copies
            if c.hotspot == lock.hotspot and not c.locked_for and _meets(lock, c.lo_s, c.hi_s)
        ]
        if not meets:
            meets = [
                VisitCopy(lock.hotspot, lo, hi, hour, 0.0)
                for lo, hi, hour in shift_bands
                if _meets(lock, lo, hi)
            ]
        for c in meets:
            lo, hi = lock_window(lock, c)
            extra.append(VisitCopy(c.hotspot, lo, hi, c.hour, c.prize, locked_for=lock.unit_id))
    return extra


def _meets(lock: Lock, lo_s: int, hi_s: int) -> bool:
    return lock.at_s is None or (
        lo_s <= lock.at_s + LOCK_TOLERANCE_S and hi_s >= lock.at_s - LOCK_TOLERANCE_S
    )


def lock_copies(lock: Lock, nodes: Sequence[VisitCopy]) -> list[int]:
    """Positions in ``nodes`` of the visit copies made for ``lock``."""
    return [
        k for k, c in enumerate(nodes) if c.hotspot == lock.hotspot and c.locked_for == lock.unit_id
    ]


def lock_window(lock: Lock, copy: VisitCopy) -> tuple[int, int]:
    """The arrival window of ``copy`` narrowed to the lock's time."""
    if lock.at_s is None:
        return copy.lo_s, copy.hi_s
    lo = max(copy.lo_s, math.ceil(lock.at_s - LOCK_TOLERANCE_S))
    return lo, max(min(copy.hi_s, math.floor(lock.at_s + LOCK_TOLERANCE_S)), lo)


def ordered_sequence(
    v: int,
    d: UnitData,
    order: Sequence[int],
    copies: Sequence[VisitCopy],
    *,
    slack_s: int,
    dwell_s: int,
) -> tuple[StopSequence, int]:
    """The unit's stops in the captain's order, each in the earliest band it can reach,
    and how many stops at the end of the order were left out because the shift ends
    before them (a reordered full shift often runs a few minutes longer).

    Raises
    ------
    InfeasiblePlanError
        Naming the first stop that cannot be reached in a band where its hotspot has risk,
        or when not even the first stop fits the unit's shift.
    """
    by_hotspot = open_copies_by_hotspot(copies)
    items: list[VisitCopy] = []
    free_at, here = 0, 0
    for pos, h in enumerate(order, start=1):
        earliest = free_at + int(d.time_s[here, h + 1])
        copy = first_copy(by_hotspot.get(h, []), earliest, slack_s)
        if d.time_s[here, h + 1] < 0 or copy is None:
            raise InfeasiblePlanError(
                _(
                    "unit %(unit)r: stop %(pos)s of the order set for it cannot be reached by "
                    "%(time)s into the shift in a half hour when its place has risk; move it or "
                    "drop it",
                    unit=d.unit.unit_id,
                    pos=pos,
                    time=clock_text(earliest),
                )
            )
        items.append(copy)
        free_at, here = max(earliest, copy.lo_s) + dwell_s, h + 1
    seq = schedule(v, d, items, slack_s=slack_s, dwell_s=dwell_s)
    while seq.end_s > d.unit.budget_s and len(items) > 1:
        items.pop()
        seq = schedule(v, d, items, slack_s=slack_s, dwell_s=dwell_s)
    if seq.end_s > d.unit.budget_s:
        raise InfeasiblePlanError(
            _(
                "unit %(unit)r: the first stop of the order set for it ends %(end)s into a "
                "shift of %(budget)s; choose a stop nearer its station",
                unit=d.unit.unit_id,
                end=clock_text(seq.end_s),
                budget=clock_text(d.unit.budget_s),
            )
        )
    return seq, len(order) - len(items)


def missed_locks(
    overrides: Overrides, unit_ids: Sequence[str], sequences: Sequence[StopSequence]
) -> list[Lock]:
    """The locks the timetables do not keep."""
    missed = []
    for lock in overrides.locks:
        seq = next(s for s in sequences if unit_ids[s.unit] == lock.unit_id)
        arrivals = [a for h, a in zip(*seq.visits()[:2], strict=True) if h == lock.hotspot]
        if not any(lock.at_s is None or abs(a - lock.at_s) <= LOCK_TOLERANCE_S for a in arrivals):
            missed.append(lock)
    return missed


def check_overrides(
    overrides: Overrides,
    unit_ids: Sequence[str],
    sequences: Sequence[StopSequence],
    names: Sequence[str],
) -> None:
    """Every lock kept by the plan's timetables.

    Raises
    ------
    InfeasiblePlanError
        Naming every lock the plan could not keep, with what the captain can change.
    """
    missed = []
    for lock in missed_locks(overrides, unit_ids, sequences):
        if lock.at_s is not None:
            missed.append(
                _(
                    "%(unit)r at %(place)s at %(time)s into the shift",
                    unit=lock.unit_id,
                    place=names[lock.hotspot],
                    time=clock_text(lock.at_s),
                )
            )
        else:
            missed.append(_("%(unit)r at %(place)s", unit=lock.unit_id, place=names[lock.hotspot]))
    if missed:
        raise InfeasiblePlanError(
            _(
                "the locked stop(s) %(stops)s cannot be kept with the unit's other rules (shift "
                "length, breaks, the half hours when the place has risk); change the time, move "
                "the stop to another unit or unlock it",
                stops=join_clauses(missed),
            )
        )
