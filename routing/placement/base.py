"""The base of every placement model: build, solve (greedy, then exact), query."""

from __future__ import annotations

import enum
import logging
import math
import time
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from layers.i18n import _
from routing.errors import InfeasiblePlanError, RoutingError
from routing.placement.milp import Milp
from routing.placement.problem import BoolArray, FloatArray, IntArray, PlacementProblem

logger = logging.getLogger(__name__)


class SolveStatus(enum.StrEnum):
    """How a placement answer was reached."""

    OPTIMAL = "optimal"
    """Proven optimal within the relative MIP gap asked for."""
    TIME_LIMIT = "time_limit"
    """The time limit stopped the solver; its best answer is kept and the gap reported."""
    GREEDY = "greedy"
    """The greedy answer: asked for, or better than what the solver had at the time limit."""


@dataclass(frozen=True)
class Answer:
    """One candidate answer (greedy or solver), evaluated the same way."""

    selected: BoolArray
    assignment: IntArray
    objective: float


@dataclass(frozen=True)
class Solution:
    """The answer a model keeps after :meth:`PlacementModel.solve`, with how it was reached."""

    selected: IntArray
    assignment: IntArray
    objective: float
    covered_weight: float
    covered_share: float
    gap: float
    bound: float
    status: SolveStatus
    solve_time_s: float
    greedy_objective: float | None
    greedy_selected: IntArray | None


class PlacementModel:
    """Base of the placement models: solve once, then query the answer.

    Build a model with its ``from_cost_matrix`` classmethod, call :meth:`solve`, then read
    the result attributes (they raise :class:`~routing.errors.RoutingError` before a solve).
    """

    name: ClassVar[str] = "placement"
    #: True when the objective is maximised (coverage models), False when minimised.
    maximise: ClassVar[bool] = False

    def __init__(self, problem: PlacementProblem, *, p: int | None) -> None:
        self._problem = problem
        self.p = p
        self._solution: Solution | None = None

    # -- model-specific parts -------------------------------------------------------

    def _evaluate(self, selected: BoolArray, assignment: IntArray | None = None) -> Answer:
        raise NotImplementedError

    def _greedy(self) -> Answer | None:
        raise NotImplementedError

    def _milp(self, greedy: Answer | None) -> Milp:
        raise NotImplementedError

    def _decode(self, x: FloatArray) -> Answer:
        selected = x[: self._problem.n_candidates] > 0.5
        return self._evaluate(selected)

    # -- solve -----------------------------------------------------------------------

    def solve(
        self,
        *,
        time_limit_s: float = 60.0,
        mip_rel_gap: float = 1e-6,
        greedy_only: bool = False,
    ) -> Self:
        """Solve the model: greedy first, then exactly with HiGHS unless ``greedy_only``.

        Parameters
        ----------
        time_limit_s
            Wall-clock limit of the exact solve in seconds. When it is reached the best
            answer found so far is kept (the greedy one if the solver has nothing better)
            and :attr:`gap` reports how far from optimal it may be.
        mip_rel_gap
            Relative gap at which the solver stops and calls the answer optimal.
        greedy_only
            Skip the exact solve and keep the greedy answer (its gap is unknown, NaN).

        Returns
        -------
        PlacementModel
            The model itself, with its result attributes set.

        Raises
        ------
        InfeasiblePlanError
            If the model has no feasible answer, or none was found within the time limit.
        RoutingError
            If ``time_limit_s`` or ``mip_rel_gap`` is not a positive number.
        """
        if not (math.isfinite(time_limit_s) and time_limit_s > 0):
            raise RoutingError(
                _(
                    "'time_limit_s' should be a positive number of seconds, got %(value)r",
                    value=time_limit_s,
                )
            )
        if not (math.isfinite(mip_rel_gap) and mip_rel_gap >= 0):
            raise RoutingError(
                _("'mip_rel_gap' should be a number ≥ 0, got %(value)r", value=mip_rel_gap)
            )
        problem = self._problem
        started = time.perf_counter()
        greedy = self._greedy()
        greedy_objective = None if greedy is None else greedy.objective
        logger.debug("%s greedy objective: %s", self.name, greedy_objective)

        if greedy_only:
            if greedy is None:
                raise InfeasiblePlanError(
                    _(
                        "the greedy heuristic found no feasible %(model)s answer; solve exactly "
                        "(greedy_only=False)",
                        model=self.name,
                    )
                )
            answer, status, gap, bound = greedy, SolveStatus.GREEDY, math.nan, math.nan
        else:
            answer, status, gap, bound = self._solve_exact(
                greedy, time_limit_s=time_limit_s, mip_rel_gap=mip_rel_gap
            )
        solve_time_s = time.perf_counter() - started

        covered = answer.assignment >= 0
        covered_weight = float(problem.weights[covered].sum())
        total_weight = float(problem.weights.sum())
        self._solution = Solution(
            selected=np.flatnonzero(answer.selected),
            assignment=answer.assignment,
            objective=answer.objective,
            covered_weight=covered_weight,
            covered_share=covered_weight / total_weight if total_weight > 0 else math.nan,
            gap=gap,
            bound=bound,
            status=status,
            solve_time_s=solve_time_s,
            greedy_objective=greedy_objective,
            greedy_selected=None if greedy is None else np.flatnonzero(greedy.selected),
        )
        logger.info(
            "%s: %s, %d of %s candidates, objective %.6g (greedy %s), gap %.3g, %.3f s",
            self.name,
            status.value,
            int(answer.selected.sum()),
            f"{problem.n_candidates:,}",
            answer.objective,
            "none" if greedy_objective is None else f"{greedy_objective:.6g}",
            gap,
            solve_time_s,
        )
        return self

    def _solve_exact(
        self, greedy: Answer | None, *, time_limit_s: float, mip_rel_gap: float
    ) -> tuple[Answer, SolveStatus, float, float]:
        """Run HiGHS; return the answer kept, its status, gap and the best bound."""
        model = self._milp(greedy)
        fixed = self._problem.fixed
        lower = model.lower.copy()
        lower[fixed] = 1.0
        logger.debug(
            "%s MILP: %s variables, %s constraints, %s non-zeros",
            self.name,
            f"{model.objective.size:,}",
            f"{model.matrix.shape[0]:,}",
            f"{model.matrix.nnz:,}",
        )
        result = milp(
            model.objective,
            integrality=model.integrality,
            bounds=Bounds(lower, model.upper),
            constraints=LinearConstraint(model.matrix, model.row_lower, model.row_upper),
            options={"time_limit": float(time_limit_s), "mip_rel_gap": float(mip_rel_gap)},
        )
        sign = -1.0 if self.maximise else 1.0
        dual = getattr(result, "mip_dual_bound", None)
        bound = math.nan if dual is None else sign * float(dual)
        if result.status == 2:
            raise InfeasiblePlanError(self._infeasible_message())
        if result.status not in (0, 1):
            raise RoutingError(
                _(
                    "%(model)s: the MILP solver failed: %(reason)s",
                    model=self.name,
                    reason=result.message,
                )
            )

        if result.x is not None:
            answer: Answer | None = self._decode(np.asarray(result.x))
            status = SolveStatus.OPTIMAL if result.status == 0 else SolveStatus.TIME_LIMIT
        else:
            answer, status = None, SolveStatus.TIME_LIMIT
        if (
            result.status == 1
            and greedy is not None
            and (answer is None or self._better(greedy.objective, answer.objective))
        ):
            answer, status = greedy, SolveStatus.GREEDY
        if answer is None:
            raise InfeasiblePlanError(
                _(
                    "%(model)s: no feasible answer found within time_limit_s=%(limit)s; raise "
                    "time_limit_s",
                    model=self.name,
                    limit=format(time_limit_s, "g"),
                )
            )
        if status is SolveStatus.OPTIMAL:
            gap = float(getattr(result, "mip_gap", 0.0) or 0.0)
        elif math.isnan(bound):
            gap = math.nan
        else:
            gap = abs(answer.objective - bound) / max(abs(answer.objective), 1e-12)
        return answer, status, gap, bound

    def _better(self, a: float, b: float) -> bool:
        return a > b if self.maximise else a < b

    def _infeasible_message(self) -> str:
        return _("%(model)s: no placement satisfies the constraints", model=self.name)

    # -- query -----------------------------------------------------------------------

    def _solved(self) -> Solution:
        if self._solution is None:
            raise RoutingError(f"this {self.name} model has not been solved; call .solve() first")
        return self._solution

    @property
    def n_demand(self) -> int:
        """Number of demand points (rows of the cost matrix)."""
        return self._problem.n_demand

    @property
    def n_candidates(self) -> int:
        """Number of candidate sites (columns of the cost matrix)."""
        return self._problem.n_candidates

    @property
    def fixed(self) -> IntArray:
        """Candidate indices forced open (existing posts)."""
        return self._problem.fixed.copy()

    @property
    def selected(self) -> IntArray:
        """Candidate column indices of the open duty points, ascending (fixed ones included)."""
        return self._solved().selected.copy()

    @property
    def selected_ids(self) -> list[Any]:
        """Candidate ids of the open duty points, in the order of :attr:`selected`."""
        return [self._problem.candidate_ids[j] for j in self._solved().selected]

    @property
    def assignment(self) -> IntArray:
        """Per demand row, the candidate column serving it, or -1 if none does.

        Coverage models assign each demand to its nearest open point within the radius;
        the p-median and p-center to the point of the optimal allocation.
        """
        return self._solved().assignment.copy()

    @property
    def covered_weight(self) -> float:
        """Demand weight with an open point within reach (the radius, when there is one)."""
        return self._solved().covered_weight

    @property
    def covered_share(self) -> float:
        """:attr:`covered_weight` over the total weight (NaN when every weight is 0)."""
        return self._solved().covered_share

    @property
    def objective(self) -> float:
        """Value of the model's objective for the answer kept."""
        return self._solved().objective

    @property
    def gap(self) -> float:
        """Relative gap between the answer and the solver's bound (NaN when unknown)."""
        return self._solved().gap

    @property
    def bound(self) -> float:
        """The solver's bound on the optimal objective (NaN when unknown)."""
        return self._solved().bound

    @property
    def status(self) -> SolveStatus:
        """How the answer was reached."""
        return self._solved().status

    @property
    def solve_time_s(self) -> float:
        """Wall-clock seconds of :meth:`solve`, greedy included."""
        return self._solved().solve_time_s

    @property
    def greedy_objective(self) -> float | None:
        """Objective of the greedy answer, or None if the greedy heuristic found none."""
        return self._solved().greedy_objective

    @property
    def greedy_selected(self) -> IntArray | None:
        """Candidate indices the greedy heuristic opened, or None if it found no answer."""
        selected = self._solved().greedy_selected
        return None if selected is None else selected.copy()

    def __repr__(self) -> str:
        state = "unsolved" if self._solution is None else self._solution.status.value
        p = "" if self.p is None else f", p={self.p}"
        return (
            f"{type(self).__name__}(n_demand={self.n_demand:,}, "
            f"n_candidates={self.n_candidates:,}{p}, {state})"
        )
