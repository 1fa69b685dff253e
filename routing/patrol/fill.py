"""The fill pass: a unit that the search left with idle time patrols on until its shift ends.

The search trades dosage against balance only softly, so a plan may send a unit home
hours before the end of its shift. The fill pass makes completeness a guarantee instead:
while a unit's route can take one more stop and still be back within its budget, it
appends the best next stop: among the visit copies that keep the revisit spacing (full
credit), the one with the most credit per second spent (travel plus the stop). Only when
every hotspot of the unit's grids was visited too recently does it make a *repeat*, which
earns ``repeat_credit`` of the risk as :func:`~routing.patrol.dosage_score` counts it (and
is counted in its ``repeat_stops``): the unit goes back to the most valuable of them
rather than home. It leaves the hotspot it is at whenever another can take the stop, so a
patrol never parks at one place for the rest of its shift. A break whose window the
longer route now reaches is taken first, at the place the unit is at (at the station for a
break ``at_station``).

Every extended sequence is re-timed by :func:`~routing.patrol.timetable.schedule`, so it
keeps every rule of the model: windows, dwell, budget and breaks. The pass is a pure
function of its inputs: equal inputs give equal plans.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from layers.i18n import _
from routing.errors import InfeasiblePlanError
from routing.patrol.discrete import BreakNode, VisitCopy, first_copy, open_copies_by_hotspot
from routing.patrol.inputs import clock_text
from routing.patrol.legs import UnitData
from routing.patrol.plan import PatrolPlan
from routing.patrol.timetable import StopSequence, schedule

if TYPE_CHECKING:
    from routing.patrol.model import PatrolModel


def fill_idle_time(
    model: PatrolModel,
    sequences: Sequence[StopSequence],
    *,
    slack_s: int,
    dwell_s: int,
    fixed: set[int] | frozenset[int] = frozenset(),
) -> list[StopSequence]:
    """Every route extended with its best next stops until no more fits its budget.

    Parameters
    ----------
    model
        The built model.
    sequences
        One timetable per unit, in the order of the model's units.
    slack_s, dwell_s
        A hotspot stop lasts ``dwell_s`` to ``dwell_s + slack_s``.
    fixed
        Units (positions) whose sequences stay as they are: a captain set their order.
    """
    # a lock's copies are the search's to place
    by_hotspot = open_copies_by_hotspot(model.copies)
    visits: dict[int, list[int]] = {}
    for s in sequences:
        for h, a in zip(*s.visits()[:2], strict=True):
            visits.setdefault(h, []).append(a)
    out = []
    for s in sequences:
        d = model.unit_data[s.unit]
        seq = s
        while (
            s.unit not in fixed
            and (step := _next_stop(model, d, seq, by_hotspot, visits, slack_s, dwell_s))
            is not None
        ):
            seq, h = step
            visits.setdefault(h, []).append(seq.arrive_s[-1])
        out.append(seq)
    return out


def _next_stop(
    model: PatrolModel,
    d: UnitData,
    seq: StopSequence,
    by_hotspot: dict[int, list[VisitCopy]],
    visits: dict[int, list[int]],
    slack_s: int,
    dwell_s: int,
) -> tuple[StopSequence, int] | None:
    """The sequence with its best next stop (after the breaks due before it) and the stop's
    hotspot, or ``None`` when no stop fits."""
    here = seq.places[-1] if seq.places else -1
    free_at = seq.depart_s[-1] if seq.places else 0
    reachable = d.allowed & (d.time_s[here + 1, 1:] >= 0) & (d.time_s[1:, 0] >= 0)
    # staying put earns a repeat's credit for no travel: the unit leaves the hotspot it is
    # at whenever another one can take the stop
    pick = _Pick(model, d, by_hotspot, visits, slack_s, dwell_s)
    best = pick.best(reachable, at=here, free_at=free_at, skip=here)
    if best is None and here >= 0:
        best = pick.best(reachable, at=here, free_at=free_at, skip=-1)
    if best is None:
        return None
    h, copy = best
    due = _due_breaks(d, seq, until_s=copy.hi_s + dwell_s)
    try:
        extended = schedule(seq.unit, d, [*seq.items, *due, copy], slack_s=slack_s, dwell_s=dwell_s)
    except InfeasiblePlanError:
        return None
    return (extended, h) if extended.end_s <= d.unit.budget_s else None


@dataclass(frozen=True)
class _Pick:
    """What choosing a unit's next stop looks at."""

    model: PatrolModel
    d: UnitData
    by_hotspot: dict[int, list[VisitCopy]]
    visits: dict[int, list[int]]
    slack_s: int
    dwell_s: int

    def best(
        self, reachable: NDArray[np.bool_], *, at: int, free_at: int, skip: int
    ) -> tuple[int, VisitCopy] | None:
        """The hotspot (not ``skip``) and visit copy with the most credit per second for a
        unit free at hotspot ``at`` (-1: the station) from ``free_at`` on, among those that
        leave time to return."""
        d, opts, dwell_s = self.d, self.model.options, self.dwell_s
        here = at + 1
        best: tuple[bool, float, int, VisitCopy] | None = None
        for h in np.flatnonzero(reachable).tolist():
            if h == skip:
                continue
            earliest = free_at + int(d.time_s[here, h + 1])
            copy = first_copy(self.by_hotspot.get(h, []), earliest, self.slack_s)
            if copy is None:
                continue
            arrive = max(earliest, copy.lo_s)
            if arrive + dwell_s + int(d.time_s[h + 1, 0]) > d.unit.budget_s:
                continue
            recent = any(abs(arrive - a) < opts.revisit_spacing_s for a in self.visits.get(h, ()))
            credit = copy.prize * (opts.repeat_credit if recent else 1.0)
            # a stop that keeps the spacing first, then the most credit per second
            key = (not recent, credit / (arrive - free_at + dwell_s))
            if credit > 0 and (best is None or key > best[:2]):
                best = (*key, h, copy)
        return None if best is None else (best[2], best[3])


def _due_breaks(d: UnitData, seq: StopSequence, *, until_s: int) -> list[BreakNode]:
    """Breaks not taken yet whose window opens before ``until_s``, at the unit's place."""
    here = seq.places[-1] if seq.places else -1
    due = []
    for k, b in enumerate(d.unit.breaks):
        if k in seq.break_ids or b.earliest_start_s > until_s:
            continue
        at = -1 if b.at_station or here < 0 else here
        lo = math.ceil(b.earliest_start_s)
        hi = max(math.floor(b.latest_start_s), lo)
        due.append(BreakNode(seq.unit, k, at, lo, hi, math.ceil(b.duration_s)))
    return due


def balance_notes(model: PatrolModel, plan: PatrolPlan) -> tuple[str, ...]:
    """Why each unit that keeps the plan off its balance goal is less busy, in words.

    After :func:`fill_idle_time` a route ends early only when no stop of its grids can
    still be reached, visited and left in time to return; the note says so with the
    figures a captain can act on (hotspots of the grids, time out, the shift's end).
    """
    work = plan.workload_s
    if not len(work) or work.max() <= 0:
        return ()
    goal = model.options.balance_ratio_goal
    busiest = float(work.max())
    notes = []
    for route, d in zip(plan.routes, model.unit_data, strict=True):
        if route.duration_s * goal >= busiest:
            continue
        with_risk = int(
            (d.allowed & (model.hotspots.risk_by_hour[:, model.hours].sum(axis=1) > 0)).sum()
        )
        notes.append(
            _(
                "unit %(unit)r is out %(out)s of its %(budget)s shift: its grids hold %(num)s "
                "hotspot(s) with risk in this shift, and after %(out)s none can be reached, "
                "visited and left in time to return; give it more grids, or grids nearer its "
                "station",
                num=with_risk,
                unit=route.unit_id,
                out=clock_text(route.duration_s),
                budget=clock_text(d.unit.budget_s),
            )
        )
    return tuple(notes)
