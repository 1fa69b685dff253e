"""The p-center model :class:`PCenter`: binary search over travel times with covering checks."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Literal, Self

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from layers.i18n import _
from routing.errors import InfeasiblePlanError, RoutingError
from routing.placement.base import Answer, PlacementModel, SolveStatus
from routing.placement.covering import LSCP
from routing.placement.greedy import candidate_mask, greedy_add, nearest_selected
from routing.placement.problem import (
    BoolArray,
    CostMatrix,
    FloatArray,
    IntArray,
    PlacementProblem,
    require_reachable,
    validate_problem,
)

logger = logging.getLogger(__name__)


class PCenter(PlacementModel):
    """p-center: ``p`` duty points with the least worst travel time to any demand.

    Weights do not enter the objective; they are used to report :attr:`covered_weight`.

    The optimum is one of the travel times in the matrix, so it is found by binary search
    over them rather than by one large min-max MILP: ``p`` points (the fixed ones among
    them) reach every demand within a radius ``r`` if and only if the fewest points
    covering every demand within ``r`` (the LSCP at ``r``, fixed points forced open) are at
    most ``p``. The search runs over the distinct travel times between two bounds: below,
    the time the worst-placed demand needs to reach its nearest candidate; above, the
    greedy answer's worst time. Each probe first tries the LSCP greedy cover and, when that
    needs more than ``p`` points, settles the question exactly with a covering MILP that
    opens at most ``p`` points (HiGHS). A feasible probe lowers the upper bound to the worst
    time its points actually achieve, an infeasible one raises the lower bound past ``r``;
    after a feasible bisection probe the next probe is the travel time just below the new
    upper bound, which often ends the search at once. The search ends when the bounds
    meet; each demand is then assigned to its nearest open point. If the time limit stops
    the search, the best answer found is kept (status ``greedy`` if that is still the
    greedy one), the smallest radius not yet proved infeasible is reported as
    :attr:`bound`, and :attr:`gap` is measured against it.
    """

    name = "p-center"

    @classmethod
    def from_cost_matrix(
        cls,
        travel_time_s: CostMatrix,
        *,
        p: int,
        weights: npt.ArrayLike | None = None,
        radius_s: float | None = None,
        fixed: npt.ArrayLike | None = None,
        demand_ids: Sequence[Any] | None = None,
        candidate_ids: Sequence[Any] | None = None,
    ) -> Self:
        """Build a p-center model from a demand × candidate travel-time matrix.

        Parameters
        ----------
        travel_time_s
            Travel times in seconds, demand rows × candidate columns; dense with
            ``numpy.inf`` for unreachable pairs, or sparse with only reachable pairs stored.
        p
            Number of duty points to open, fixed ones included.
        weights
            Demand weights, used only to report :attr:`covered_weight`; 1 each by default.
        radius_s
            Optional longest allowed assignment in seconds.
        fixed
            Candidate column indices of existing posts, always open.
        demand_ids, candidate_ids
            Ids for messages and :attr:`selected_ids`; row and column numbers by default.

        Returns
        -------
        PCenter

        Raises
        ------
        RoutingError
            If an input is malformed.
        InfeasiblePlanError
            If ``p`` is out of range or some demand cannot be assigned to any candidate
            (the error names them).
        """
        problem = validate_problem(
            travel_time_s,
            weights=weights,
            radius_s=radius_s,
            radius_required=False,
            fixed=fixed,
            p=p,
            demand_ids=demand_ids,
            candidate_ids=candidate_ids,
        )
        require_reachable(problem, why=_("give them a finite travel time to some candidate"))
        return cls(problem, p=p)

    def _evaluate(self, selected: BoolArray, assignment: IntArray | None = None) -> Answer:
        assignment, travel_s = nearest_selected(self._problem, selected)
        return Answer(selected, assignment, float(travel_s.max()))

    def _gains(self, selected: BoolArray) -> tuple[FloatArray, FloatArray]:
        """Return, per candidate, the demand it newly reaches and minus the worst time after."""
        problem = self._problem
        _assignment, travel_s = nearest_selected(problem, selected)
        unassigned = np.isinf(travel_s)
        # First reach demand nobody serves yet, then lower the worst travel time.
        # Opening j changes demand i only along edge (i, j): the new worst is the larger
        # of the worst among demand j does not reach and the worst along its column.
        newly = np.bincount(
            problem.cols, weights=unassigned[problem.rows], minlength=problem.n_candidates
        )
        worst_in_column = np.full(problem.n_candidates, -np.inf)
        np.maximum.at(
            worst_in_column, problem.cols, np.minimum(travel_s[problem.rows], problem.cost_s)
        )
        finite_s = np.where(unassigned, -np.inf, travel_s)
        worst = np.maximum(worst_in_column, _worst_outside(problem, finite_s))
        return newly.astype(np.float64), -worst

    def _greedy(self) -> Answer:
        problem = self._problem
        assert self.p is not None
        start = candidate_mask(problem.n_candidates, problem.fixed)
        selected = greedy_add(problem, start, self.p - int(start.sum()), self._gains)
        return self._evaluate(selected)

    def _solve_exact(
        self, greedy: Answer | None, *, time_limit_s: float, mip_rel_gap: float
    ) -> tuple[Answer, SolveStatus, float, float]:
        """Binary-search the travel times; return the answer kept, its status, gap and bound."""
        problem = self._problem
        deadline = time.perf_counter() + time_limit_s
        starts = np.searchsorted(problem.rows, np.arange(problem.n_demand))
        lower_s = float(np.minimum.reduceat(problem.cost_s, starts).max())
        best = greedy if greedy is not None and math.isfinite(greedy.objective) else None
        upper_s = math.inf if best is None else best.objective
        costs = problem.cost_s
        radii = np.unique(costs[(costs >= lower_s) & (costs <= upper_s)])
        # Invariant: every radius below radii[lo] is infeasible; radii[hi] is the best
        # answer's worst time (hi == radii.size while no answer is known).
        lo = 0
        hi = radii.size if best is None else int(np.searchsorted(radii, upper_s))
        timed_out = False
        check_below_best = False
        while lo < hi:
            if best is not None and best.objective - radii[lo] <= mip_rel_gap * best.objective:
                break
            # A feasible probe often lands on the optimum itself, well below the radius
            # probed: trying the next radius down then ends the search in one step.
            # Alternating with plain bisection keeps the number of probes logarithmic.
            mid = hi - 1 if check_below_best else (lo + hi) // 2
            found = None
            if time.perf_counter() < deadline:
                found = self._cover_within(float(radii[mid]), deadline)
            if found is None:
                timed_out = True
                break
            if found is False:
                lo = mid + 1
                check_below_best = False
                continue
            best = found
            hi = int(np.searchsorted(radii, best.objective))
            check_below_best = not check_below_best

        if best is None:
            if timed_out:
                raise InfeasiblePlanError(
                    _(
                        "%(model)s: no feasible answer found within time_limit_s=%(limit)s; "
                        "raise time_limit_s",
                        model=self.name,
                        limit=format(time_limit_s, "g"),
                    )
                )
            raise InfeasiblePlanError(
                _(
                    "%(model)s: no %(p)s duty points can reach every demand; raise p or add "
                    "candidates",
                    model=self.name,
                    p=self.p,
                )
            )
        bound = float(radii[lo])
        gap = (best.objective - bound) / max(best.objective, 1e-12)
        if not timed_out:
            status = SolveStatus.OPTIMAL
        elif best is greedy:
            status = SolveStatus.GREEDY
        else:
            status = SolveStatus.TIME_LIMIT
        return best, status, gap, bound

    def _cover_within(self, radius_s: float, deadline: float) -> Answer | Literal[False] | None:
        """Return ``p`` open points that reach every demand within ``radius_s``.

        False when no ``p`` points can, None when the time ran out before that was settled.
        """
        assert self.p is not None
        problem = self._problem
        keep = problem.cost_s <= radius_s
        within = LSCP(
            replace(
                problem,
                rows=problem.rows[keep],
                cols=problem.cols[keep],
                cost_s=problem.cost_s[keep],
                radius_s=radius_s,
            ),
            p=None,
        )
        # The greedy cover settles most feasible radii without a MILP.
        cover = within._greedy().selected
        if cover.sum() > self.p:
            remaining_s = deadline - time.perf_counter()
            if remaining_s <= 0:
                return None
            found = self._cover_milp(within, remaining_s)
            if not isinstance(found, np.ndarray):
                outcome = "undecided" if found is None else "infeasible"
                logger.debug("%s: radius %.6g s %s", self.name, radius_s, outcome)
                return found
            cover = found
        logger.debug("%s: radius %.6g s feasible with %d points", self.name, radius_s, cover.sum())
        selected = greedy_add(problem, cover, self.p - int(cover.sum()), self._gains)
        return self._evaluate(selected)

    def _cover_milp(self, within: LSCP, time_limit_s: float) -> BoolArray | Literal[False] | None:
        """Return the open points of a cover within ``within``'s radius by at most ``p``.

        False when no such cover exists, None when the time ran out first.
        """
        assert self.p is not None
        n = within.n_candidates
        model = within._milp(None)
        lower = model.lower.copy()
        lower[within._problem.fixed] = 1.0
        at_most_p = sp.csr_array(np.ones((1, n)))
        # No objective: any cover of at most p points settles the radius, and the search
        # stops at the first one.
        result = milp(
            np.zeros(n),
            integrality=model.integrality,
            bounds=Bounds(lower, model.upper),
            constraints=LinearConstraint(
                sp.vstack([model.matrix, at_most_p], format="csr"),
                np.append(model.row_lower, -np.inf),
                np.append(model.row_upper, float(self.p)),
            ),
            options={"time_limit": float(time_limit_s)},
        )
        if result.status == 2:
            return False
        if result.status not in (0, 1):
            raise RoutingError(
                _(
                    "%(model)s: the MILP solver failed: %(reason)s",
                    model=self.name,
                    reason=result.message,
                )
            )
        if result.x is None:
            return None
        return np.asarray(result.x)[:n] > 0.5


def _worst_outside(problem: PlacementProblem, travel_s: FloatArray) -> FloatArray:
    """Per candidate, the worst current travel time among demand it does not reach."""
    order = np.argsort(-travel_s, kind="stable")
    incidence_csc = problem.incidence().tocsc()
    worst = np.full(problem.n_candidates, -np.inf)
    for j in range(problem.n_candidates):
        reached = incidence_csc.indices[incidence_csc.indptr[j] : incidence_csc.indptr[j + 1]]
        if reached.size == problem.n_demand:
            continue
        # The worst demand outside column j is among the first |reached| + 1 in order.
        head = order[: reached.size + 1]
        outside = head[~np.isin(head, reached)]
        worst[j] = travel_s[outside[0]]
    return worst
