"""Covering models: :class:`LSCP`, :class:`MCLP` and :class:`BackupCoverage`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Self

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from layers.i18n import _
from routing.placement.base import Answer, PlacementModel
from routing.placement.greedy import (
    best_candidate,
    candidate_mask,
    coverage_count,
    greedy_add,
    nearest_selected,
)
from routing.placement.milp import Milp, p_row, stack_rows
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


class LSCP(PlacementModel):
    """Location set covering: the fewest duty points reaching every demand within a radius."""

    name = "LSCP"

    @classmethod
    def from_cost_matrix(
        cls,
        travel_time_s: CostMatrix,
        *,
        radius_s: float,
        weights: npt.ArrayLike | None = None,
        fixed: npt.ArrayLike | None = None,
        demand_ids: Sequence[Any] | None = None,
        candidate_ids: Sequence[Any] | None = None,
    ) -> Self:
        """Build an LSCP from a demand × candidate travel-time matrix.

        Parameters
        ----------
        travel_time_s
            Travel times in seconds, demand rows × candidate columns; dense with
            ``numpy.inf`` for unreachable pairs, or sparse with only reachable pairs stored.
        radius_s
            Service radius in seconds: a demand is covered by a point at most this far.
        weights
            Demand weights, used only to report :attr:`covered_weight`; 1 each by default.
        fixed
            Candidate column indices of existing posts, always open.
        demand_ids, candidate_ids
            Ids for messages and :attr:`selected_ids`; row and column numbers by default.

        Returns
        -------
        LSCP

        Raises
        ------
        RoutingError
            If an input is malformed (shape, NaN or negative travel time, weights, ids).
        InfeasiblePlanError
            If some demand has no candidate within ``radius_s`` (the error names them).
        """
        problem = validate_problem(
            travel_time_s,
            weights=weights,
            radius_s=radius_s,
            radius_required=True,
            fixed=fixed,
            p=None,
            demand_ids=demand_ids,
            candidate_ids=candidate_ids,
        )
        require_reachable(problem, why=_("raise radius_s or add candidates near them"))
        return cls(problem, p=None)

    def _evaluate(self, selected: BoolArray, assignment: IntArray | None = None) -> Answer:
        assignment, _travel = nearest_selected(self._problem, selected)
        return Answer(selected, assignment, float(selected.sum()))

    def _greedy(self) -> Answer:
        problem = self._problem
        incidence = problem.incidence()
        selected = candidate_mask(problem.n_candidates, problem.fixed)
        uncovered = coverage_count(problem, selected) == 0
        order: list[int] = []
        while uncovered.any():
            gain = incidence.T @ uncovered.astype(np.float64)
            j = best_candidate(gain, np.zeros_like(gain), ~selected)
            selected[j] = True
            order.append(j)
            uncovered &= incidence[:, [j]].toarray().ravel() == 0
        # Later picks can make earlier ones redundant; drop those, latest first.
        count = coverage_count(problem, selected)
        incidence_csc = incidence.tocsc()
        for j in reversed(order):
            reached = incidence_csc[:, [j]].toarray().ravel() > 0
            if (count[reached] >= 2).all():
                selected[j] = False
                count[reached] -= 1
        return self._evaluate(selected)

    def _milp(self, greedy: Answer | None) -> Milp:
        problem = self._problem
        n = problem.n_candidates
        return Milp(
            objective=np.ones(n),
            integrality=np.ones(n),
            lower=np.zeros(n),
            upper=np.ones(n),
            matrix=problem.incidence(),
            row_lower=np.ones(problem.n_demand),
            row_upper=np.full(problem.n_demand, np.inf),
        )


class MCLP(PlacementModel):
    """Maximal covering: ``p`` duty points reaching the most demand weight within a radius."""

    name = "MCLP"
    maximise = True

    @classmethod
    def from_cost_matrix(
        cls,
        travel_time_s: CostMatrix,
        *,
        radius_s: float,
        p: int,
        weights: npt.ArrayLike | None = None,
        fixed: npt.ArrayLike | None = None,
        demand_ids: Sequence[Any] | None = None,
        candidate_ids: Sequence[Any] | None = None,
    ) -> Self:
        """Build an MCLP from a demand × candidate travel-time matrix.

        Parameters
        ----------
        travel_time_s
            Travel times in seconds, demand rows × candidate columns; dense with
            ``numpy.inf`` for unreachable pairs, or sparse with only reachable pairs stored.
        radius_s
            Service radius in seconds.
        p
            Number of duty points to open, fixed ones included.
        weights
            Demand weights (for instance risk); 1 each by default.
        fixed
            Candidate column indices of existing posts, always open.
        demand_ids, candidate_ids
            Ids for messages and :attr:`selected_ids`; row and column numbers by default.

        Returns
        -------
        MCLP

        Raises
        ------
        RoutingError
            If an input is malformed.
        InfeasiblePlanError
            If ``p`` exceeds the candidates or is below the number of fixed points.
        """
        problem = validate_problem(
            travel_time_s,
            weights=weights,
            radius_s=radius_s,
            radius_required=True,
            fixed=fixed,
            p=p,
            demand_ids=demand_ids,
            candidate_ids=candidate_ids,
        )
        return cls(problem, p=p)

    def _evaluate(self, selected: BoolArray, assignment: IntArray | None = None) -> Answer:
        assignment, _travel = nearest_selected(self._problem, selected)
        return Answer(selected, assignment, float(self._problem.weights[assignment >= 0].sum()))

    def _greedy(self) -> Answer:
        problem = self._problem
        assert self.p is not None
        incidence_t = problem.incidence().T.tocsr()

        def gains(selected: BoolArray) -> tuple[FloatArray, FloatArray]:
            uncovered = coverage_count(problem, selected) == 0
            gain = incidence_t @ (problem.weights * uncovered)
            return gain, np.zeros_like(gain)

        start = candidate_mask(problem.n_candidates, problem.fixed)
        selected = greedy_add(problem, start, self.p - int(start.sum()), gains)
        return self._evaluate(selected)

    def _milp(self, greedy: Answer | None) -> Milp:
        # Variables: y (candidates, binary) then z (demand covered, continuous in [0, 1]):
        # z_i ≤ Σ_j a_ij y_j is tight at the optimum and integral once y is.
        problem = self._problem
        assert self.p is not None
        m, n = problem.n_candidates, problem.n_demand
        cover = sp.hstack([-problem.incidence(), sp.eye_array(n)], format="csr")
        matrix, row_lower, row_upper = stack_rows(
            [
                (cover, np.full(n, -np.inf), np.zeros(n)),
                p_row(m, m + n, self.p),
            ]
        )
        return Milp(
            objective=np.concatenate([np.zeros(m), -problem.weights]),
            integrality=np.concatenate([np.ones(m), np.zeros(n)]),
            lower=np.zeros(m + n),
            upper=np.ones(m + n),
            matrix=matrix,
            row_lower=row_lower,
            row_upper=row_upper,
        )


class BackupCoverage(PlacementModel):
    """Backup coverage: ``p`` duty points reaching the most demand weight at least twice.

    With ``require_full_coverage`` every demand must also be reached at least once
    (Hogan and ReVelle's BACOP1); without it, demand may stay unreached.
    """

    name = "backup coverage"
    maximise = True

    def __init__(
        self, problem: PlacementProblem, *, p: int | None, require_full_coverage: bool
    ) -> None:
        super().__init__(problem, p=p)
        self.require_full_coverage = require_full_coverage

    @classmethod
    def from_cost_matrix(
        cls,
        travel_time_s: CostMatrix,
        *,
        radius_s: float,
        p: int,
        weights: npt.ArrayLike | None = None,
        fixed: npt.ArrayLike | None = None,
        require_full_coverage: bool = False,
        demand_ids: Sequence[Any] | None = None,
        candidate_ids: Sequence[Any] | None = None,
    ) -> Self:
        """Build a backup-coverage model from a demand × candidate travel-time matrix.

        Parameters
        ----------
        travel_time_s
            Travel times in seconds, demand rows × candidate columns; dense with
            ``numpy.inf`` for unreachable pairs, or sparse with only reachable pairs stored.
        radius_s
            Service radius in seconds.
        p
            Number of duty points to open, fixed ones included.
        weights
            Demand weights; 1 each by default.
        fixed
            Candidate column indices of existing posts, always open.
        require_full_coverage
            Also require every demand to be reached at least once.
        demand_ids, candidate_ids
            Ids for messages and :attr:`selected_ids`; row and column numbers by default.

        Returns
        -------
        BackupCoverage

        Raises
        ------
        RoutingError
            If an input is malformed.
        InfeasiblePlanError
            If ``p`` is out of range, or full coverage is required and some demand has no
            candidate within ``radius_s`` (the error names them).
        """
        problem = validate_problem(
            travel_time_s,
            weights=weights,
            radius_s=radius_s,
            radius_required=True,
            fixed=fixed,
            p=p,
            demand_ids=demand_ids,
            candidate_ids=candidate_ids,
        )
        if require_full_coverage:
            require_reachable(
                problem,
                why=_(
                    "raise radius_s, add candidates near them or set require_full_coverage=False"
                ),
            )
        return cls(problem, p=p, require_full_coverage=require_full_coverage)

    def _evaluate(self, selected: BoolArray, assignment: IntArray | None = None) -> Answer:
        problem = self._problem
        assignment, _travel = nearest_selected(problem, selected)
        twice = coverage_count(problem, selected) >= 2
        return Answer(selected, assignment, float(problem.weights[twice].sum()))

    def _greedy(self) -> Answer | None:
        problem = self._problem
        assert self.p is not None
        incidence_t = problem.incidence().T.tocsr()
        start = candidate_mask(problem.n_candidates, problem.fixed)
        if self.require_full_coverage:
            cover = LSCP(problem, p=None)._greedy().selected | start
            if cover.sum() > self.p:
                logger.debug("backup greedy: set cover needs %d > p points", cover.sum())
                return None
            start = cover

        def gains(selected: BoolArray) -> tuple[FloatArray, FloatArray]:
            count = coverage_count(problem, selected)
            backup = incidence_t @ (problem.weights * (count == 1))
            single = incidence_t @ (problem.weights * (count == 0))
            return backup, single

        selected = greedy_add(problem, start, self.p - int(start.sum()), gains)
        return self._evaluate(selected)

    def _milp(self, greedy: Answer | None) -> Milp:
        # Variables: y (binary) then u (demand reached twice). With full coverage,
        # Σ_j a_ij y_j - u_i ≥ 1 keeps u continuous and still integral (Hogan–ReVelle);
        # without it, Σ_j a_ij y_j - 2 u_i ≥ 0 needs u binary (u = 1/2 would fit a single cover).
        problem = self._problem
        assert self.p is not None
        m, n = problem.n_candidates, problem.n_demand
        if self.require_full_coverage:
            cover = sp.hstack([problem.incidence(), -sp.eye_array(n)], format="csr")
            row_lower, u_integral = np.ones(n), np.zeros(n)
        else:
            cover = sp.hstack([problem.incidence(), -2.0 * sp.eye_array(n)], format="csr")
            row_lower, u_integral = np.zeros(n), np.ones(n)
        matrix, lower_rows, upper_rows = stack_rows(
            [(cover, row_lower, np.full(n, np.inf)), p_row(m, m + n, self.p)]
        )
        return Milp(
            objective=np.concatenate([np.zeros(m), -problem.weights]),
            integrality=np.concatenate([np.ones(m), u_integral]),
            lower=np.zeros(m + n),
            upper=np.ones(m + n),
            matrix=matrix,
            row_lower=lower_rows,
            row_upper=upper_rows,
        )

    def _infeasible_message(self) -> str:
        return _(
            "backup coverage: no %(p)s duty points reach every demand within "
            "radius_s=%(radius)s; raise p or radius_s, or set require_full_coverage=False",
            p=self.p,
            radius=format(self._problem.radius_s, "g"),
        )
