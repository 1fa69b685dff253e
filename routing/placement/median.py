"""The p-median model :class:`PMedian`, with optional capacities."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any, Self

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from layers.i18n import _
from routing.errors import InfeasiblePlanError, RoutingError
from routing.placement.base import Answer, PlacementModel
from routing.placement.greedy import candidate_mask, greedy_add, nearest_selected
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


def _assignment_blocks(
    problem: PlacementProblem, n_columns: int, offset: int
) -> list[tuple[sp.sparray, FloatArray, FloatArray]]:
    """Return 'each demand assigned once' and 'only to an open point' (x_e ≤ y_j) rows."""
    n_edges, n = problem.rows.size, problem.n_demand
    edges = np.arange(n_edges)
    assign_once = sp.csr_array(
        (np.ones(n_edges), (problem.rows, offset + edges)), shape=(n, n_columns)
    )
    only_open = sp.csr_array(
        (
            np.concatenate([np.ones(n_edges), -np.ones(n_edges)]),
            (np.concatenate([edges, edges]), np.concatenate([offset + edges, problem.cols])),
        ),
        shape=(n_edges, n_columns),
    )
    return [
        (assign_once, np.ones(n), np.ones(n)),
        (only_open, np.full(n_edges, -np.inf), np.zeros(n_edges)),
    ]


class PMedian(PlacementModel):
    """p-median: ``p`` duty points with the least total weighted travel time.

    Each demand is served by one open point. With ``capacities`` the weight served by a
    point may not exceed its capacity and each demand goes whole to one point.
    """

    name = "p-median"

    def __init__(
        self, problem: PlacementProblem, *, p: int | None, capacities: FloatArray | None
    ) -> None:
        super().__init__(problem, p=p)
        self._capacities = capacities

    @property
    def capacities(self) -> FloatArray | None:
        """Capacity per candidate, in demand-weight units, or None when uncapacitated."""
        return None if self._capacities is None else self._capacities.copy()

    @classmethod
    def from_cost_matrix(
        cls,
        travel_time_s: CostMatrix,
        *,
        p: int,
        weights: npt.ArrayLike | None = None,
        radius_s: float | None = None,
        capacities: npt.ArrayLike | None = None,
        fixed: npt.ArrayLike | None = None,
        demand_ids: Sequence[Any] | None = None,
        candidate_ids: Sequence[Any] | None = None,
    ) -> Self:
        """Build a p-median model from a demand × candidate travel-time matrix.

        Parameters
        ----------
        travel_time_s
            Travel times in seconds, demand rows × candidate columns; dense with
            ``numpy.inf`` for unreachable pairs, or sparse with only reachable pairs stored.
            Only reachable pairs may be assigned, which keeps large models sparse.
        p
            Number of duty points to open, fixed ones included.
        weights
            Demand weights; 1 each by default.
        radius_s
            Optional longest allowed assignment in seconds.
        capacities
            Optional capacity per candidate, in the units of ``weights``.
        fixed
            Candidate column indices of existing posts, always open.
        demand_ids, candidate_ids
            Ids for messages and :attr:`selected_ids`; row and column numbers by default.

        Returns
        -------
        PMedian

        Raises
        ------
        RoutingError
            If an input is malformed.
        InfeasiblePlanError
            If ``p`` is out of range, some demand cannot be assigned to any candidate
            (the error names them), or the ``p`` largest capacities cannot hold the demand.
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
        capacity_arr = None
        if capacities is not None:
            capacity_arr = np.asarray(capacities, dtype=np.float64).ravel()
            if capacity_arr.size != problem.n_candidates:
                raise RoutingError(
                    f"'capacities' should hold one value per candidate column "
                    f"({problem.n_candidates:,}), got {capacity_arr.size:,}"
                )
            if not np.isfinite(capacity_arr).all() or (capacity_arr < 0).any():
                raise RoutingError(_("'capacities' should hold finite values ≥ 0"))
            fixed_capacity = capacity_arr[problem.fixed].sum()
            others = np.delete(capacity_arr, problem.fixed)
            best = fixed_capacity + np.sort(others)[::-1][: p - problem.fixed.size].sum()
            total = problem.weights.sum()
            if best < total:
                raise InfeasiblePlanError(
                    _(
                        "the largest capacity %(p)s duty points can have is %(best)s, below the "
                        "total demand weight %(total)s; raise p or the capacities",
                        p=p,
                        best=format(best, "g"),
                        total=format(total, "g"),
                    )
                )
        return cls(problem, p=p, capacities=capacity_arr)

    def _evaluate(self, selected: BoolArray, assignment: IntArray | None = None) -> Answer:
        problem = self._problem
        if assignment is None:
            assignment, travel_s = nearest_selected(problem, selected)
        else:
            travel_s = _edge_cost(problem, assignment)
        objective = (
            float(np.dot(problem.weights, travel_s)) if (assignment >= 0).all() else math.inf
        )
        return Answer(selected, assignment, objective)

    def _greedy(self) -> Answer | None:
        problem = self._problem
        assert self.p is not None

        def gains(selected: BoolArray) -> tuple[FloatArray, FloatArray]:
            _assignment, travel_s = nearest_selected(problem, selected)
            unassigned = np.isinf(travel_s)
            # First reach demand nobody serves yet, then cut weighted travel time.
            newly = np.bincount(
                problem.cols, weights=unassigned[problem.rows], minlength=problem.n_candidates
            )
            cut = np.where(
                unassigned[problem.rows],
                0.0,
                np.maximum(travel_s[problem.rows] - problem.cost_s, 0),
            )
            saving = np.bincount(
                problem.cols,
                weights=problem.weights[problem.rows] * cut,
                minlength=problem.n_candidates,
            )
            return newly.astype(np.float64), saving.astype(np.float64)

        start = candidate_mask(problem.n_candidates, problem.fixed)
        selected = greedy_add(problem, start, self.p - int(start.sum()), gains)
        if self._capacities is None:
            return self._evaluate(selected)
        assignment = _greedy_capacitated_assignment(problem, selected, self._capacities)
        if assignment is None:
            logger.debug("p-median greedy: capacities leave some demand unassigned")
            return None
        return self._evaluate(selected, assignment)

    def _milp(self, greedy: Answer | None) -> Milp:
        # Variables: y (binary) then x per admissible pair. Uncapacitated, x may stay
        # continuous: with y integral each demand goes whole to its nearest open point.
        # Capacities break that, so x is binary then (single sourcing).
        problem = self._problem
        assert self.p is not None
        m, n_edges = problem.n_candidates, problem.rows.size
        n_columns = m + n_edges
        blocks = [*_assignment_blocks(problem, n_columns, m), p_row(m, n_columns, self.p)]
        if self._capacities is not None:
            load = sp.csr_array(
                (
                    np.concatenate([problem.weights[problem.rows], -self._capacities]),
                    (
                        np.concatenate([problem.cols, np.arange(m)]),
                        np.concatenate([m + np.arange(n_edges), np.arange(m)]),
                    ),
                ),
                shape=(m, n_columns),
            )
            blocks.append((load, np.full(m, -np.inf), np.zeros(m)))
        matrix, row_lower, row_upper = stack_rows(blocks)
        x_integral = 1.0 if self._capacities is not None else 0.0
        return Milp(
            objective=np.concatenate([np.zeros(m), problem.weights[problem.rows] * problem.cost_s]),
            integrality=np.concatenate([np.ones(m), np.full(n_edges, x_integral)]),
            lower=np.zeros(n_columns),
            upper=np.ones(n_columns),
            matrix=matrix,
            row_lower=row_lower,
            row_upper=row_upper,
        )

    def _decode(self, x: FloatArray) -> Answer:
        problem = self._problem
        selected = x[: problem.n_candidates] > 0.5
        if self._capacities is None:
            return self._evaluate(selected)
        return self._evaluate(selected, _assignment_from_x(problem, x[problem.n_candidates :]))

    def _infeasible_message(self) -> str:
        return _(
            "p-median: no %(p)s duty points can serve every demand within their capacities; "
            "raise p or the capacities",
            p=self.p,
        )


def _edge_cost(problem: PlacementProblem, assignment: IntArray) -> FloatArray:
    """Return the travel time of each demand to its assigned candidate (inf if none)."""
    travel_s = np.full(problem.n_demand, np.inf)
    chosen = assignment[problem.rows] == problem.cols
    travel_s[problem.rows[chosen]] = problem.cost_s[chosen]
    return travel_s


def _assignment_from_x(problem: PlacementProblem, x_edges: FloatArray) -> IntArray:
    """Return the candidate carrying the largest share of each demand."""
    assignment = np.full(problem.n_demand, -1, dtype=np.int64)
    used = np.flatnonzero(x_edges > 0.5)
    assignment[problem.rows[used]] = problem.cols[used]
    return assignment


def _greedy_capacitated_assignment(
    problem: PlacementProblem, selected: BoolArray, capacities: FloatArray
) -> IntArray | None:
    """Assign heaviest demand first to its nearest open point with room; None if stuck."""
    residual = capacities.copy()
    assignment = np.full(problem.n_demand, -1, dtype=np.int64)
    starts = np.searchsorted(problem.rows, np.arange(problem.n_demand + 1))
    for i in np.argsort(-problem.weights, kind="stable"):
        edges = np.arange(starts[i], starts[i + 1])
        edges = edges[selected[problem.cols[edges]]]
        edges = edges[np.argsort(problem.cost_s[edges], kind="stable")]
        for e in edges:
            j = problem.cols[e]
            if residual[j] >= problem.weights[i]:
                residual[j] -= problem.weights[i]
                assignment[i] = j
                break
        else:
            return None
    return assignment
