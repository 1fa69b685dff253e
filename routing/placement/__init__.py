"""Duty-point placement models over a travel-time cost matrix.

Five classic facility-location models, each built from a demand × candidate travel-time
matrix, solved exactly as a mixed-integer programme (HiGHS through
:func:`scipy.optimize.milp` on sparse constraint matrices) and then queried:

* :class:`LSCP` — fewest duty points that reach every demand within a radius;
* :class:`MCLP` — ``p`` duty points that reach the most demand weight within a radius;
* :class:`PMedian` — ``p`` duty points with the least total weighted travel time,
  optionally with capacities (each demand then goes whole to one point);
* :class:`PCenter` — ``p`` duty points with the least worst travel time, found by
  binary search over the travel times, solving a covering problem per radius tried;
* :class:`BackupCoverage` — ``p`` duty points that reach the most demand weight at least
  twice within a radius, optionally with every demand reached at least once.

The pattern is build → solve → query::

    model = MCLP.from_cost_matrix(travel_time_s, weights=risk, radius_s=180, p=15)
    model.solve(time_limit_s=30)
    model.selected, model.covered_share, model.gap

Matrices may be dense (``numpy.inf`` marks an unreachable pair) or ``scipy.sparse``
(a stored entry, an explicit zero included, is a reachable pair; an absent one is not),
so a travel-time matrix cut off at the service radius stays sparse end to end. Existing
posts are passed as ``fixed`` candidate indices and are always open.

A greedy answer is computed before the exact solve and is always reported
(:attr:`PlacementModel.greedy_objective`): it is the baseline the optimum is measured
against, the primal bound, and the answer kept when the time limit stops the solver with
nothing better. ``scipy.optimize.milp`` takes no starting solution, so the greedy answer
cannot seed the search itself.

Modules
-------
``base``
    :class:`PlacementModel` (build, solve, query) and :class:`SolveStatus`.
``covering``, ``median``, ``center``
    The models: :class:`LSCP`, :class:`MCLP`, :class:`BackupCoverage`; :class:`PMedian`;
    :class:`PCenter`.
``problem``, ``greedy``, ``milp``
    Their parts: the validated instance, greedy building blocks, MILP building blocks.
"""

from __future__ import annotations

from routing.placement.base import PlacementModel, SolveStatus
from routing.placement.center import PCenter
from routing.placement.covering import LSCP, MCLP, BackupCoverage
from routing.placement.median import PMedian

__all__ = [
    "LSCP",
    "MCLP",
    "BackupCoverage",
    "PCenter",
    "PMedian",
    "PlacementModel",
    "SolveStatus",
]
