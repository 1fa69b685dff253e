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

Solvers. :meth:`PatrolModel.solve` first splits the units into clusters that share no
hotspot (:mod:`~routing.patrol.decompose`) and solves each with OR-Tools routing:
disjunction penalties are the prizes, one vehicle per unit with its own start/end, a time
dimension with the windows, slack and budgets, the allowed vehicles of every stop for
grids, the spacing as side groups as disjunctions, a soft lower bound on every route's end
and a span cost for balance, and guided local search with LNS operators, split over a
portfolio of three first-solution strategies on clusters of up to ``PORTFOLIO_MAX_NODES``
copies (the captain's locks kept, then breaks, then plans using every unit win, then
dosage). The search is bounded by a budget of solver branches (``search_budget``), so it
gives the same plan under any load; a time limit is only a ceiling. The fill pass
(:mod:`~routing.patrol.fill`) then keeps every unit patrolling until no stop fits before its
shift ends, and the plan's ``notes`` say why a unit off the balance goal is less busy.
A captain's overrides (:mod:`~routing.patrol.overrides`) lock stops, forbid hotspots, close
streets and fix a unit's order. The seed perturbs the prizes by a few percent, orders the
copies and rotates the portfolio, so plans differ from shift to shift under the same
constraints. :meth:`PatrolModel.solve_exact` solves the same
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

Modules
-------
``inputs``
    :class:`PatrolOptions`, :class:`Hotspots`, :class:`Break`, :class:`PatrolUnit`.
``hotspots``
    :func:`hour_band_risk`, :func:`shift_hours`, :func:`select_hotspots`.
``score``
    :class:`DosageScore`, :func:`dosage_score`.
``plan``
    :class:`Stop`, :class:`Leg`, :class:`UnitRoute`, :class:`PatrolPlan`.
``model``
    :class:`PatrolModel`: build, feasibility, solve, plan assembly.
``legs``, ``discrete``, ``timetable``, ``search``, ``exact``
    Its parts: leg graphs and times, visit copies and break places, timetables, the
    OR-Tools search (with its ``search_budget``) and the exact MILP.
``decompose``, ``fill``, ``overrides``
    Clusters of units planned apart, the fill pass and the balance notes, the captain's
    overrides.
"""

from __future__ import annotations

from routing.patrol.hotspots import (
    hour_band_risk,
    merge_hotspots,
    select_hotspots,
    select_hotspots_by_area,
    shift_hours,
)
from routing.patrol.inputs import Break, Hotspots, PatrolOptions, PatrolUnit
from routing.patrol.model import PatrolModel
from routing.patrol.plan import Leg, PatrolPlan, Stop, UnitRoute
from routing.patrol.score import DosageScore, dosage_score

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
    "merge_hotspots",
    "select_hotspots",
    "select_hotspots_by_area",
    "shift_hours",
]
