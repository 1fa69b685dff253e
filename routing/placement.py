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
"""

from __future__ import annotations

import enum
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Literal, Self, TypeAlias

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from routing.errors import InfeasiblePlanError, RoutingError

__all__ = [
    "LSCP",
    "MCLP",
    "BackupCoverage",
    "PCenter",
    "PMedian",
    "PlacementModel",
    "SolveStatus",
]

logger = logging.getLogger(__name__)

CostMatrix: TypeAlias = npt.ArrayLike | sp.sparray | sp.spmatrix
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# How many ids an error message lists before it says "and N more".
_MAX_IDS_IN_MESSAGE = 10


class SolveStatus(enum.StrEnum):
    """How a placement answer was reached."""

    OPTIMAL = "optimal"
    """Proven optimal within the relative MIP gap asked for."""
    TIME_LIMIT = "time_limit"
    """The time limit stopped the solver; its best answer is kept and the gap reported."""
    GREEDY = "greedy"
    """The greedy answer: asked for, or better than what the solver had at the time limit."""


@dataclass(frozen=True)
class _Problem:
    """A validated placement instance: the admissible demand–candidate pairs as edges.

    An edge ``(rows[e], cols[e])`` is a pair whose travel time ``cost_s[e]`` is known and
    within the radius when there is one. Edges are sorted by demand, then candidate.
    """

    n_demand: int
    n_candidates: int
    rows: IntArray
    cols: IntArray
    cost_s: FloatArray
    weights: FloatArray
    fixed: IntArray
    radius_s: float | None
    demand_ids: tuple[Any, ...]
    candidate_ids: tuple[Any, ...]

    def incidence(self) -> sp.csr_array:
        """Return the demand × candidate 0/1 matrix of the admissible pairs."""
        return sp.csr_array(
            (np.ones(self.rows.size), (self.rows, self.cols)),
            shape=(self.n_demand, self.n_candidates),
        )

    def unreachable_demand(self) -> IntArray:
        """Return the indices of demand with no admissible candidate."""
        reached = np.zeros(self.n_demand, dtype=bool)
        reached[self.rows] = True
        return np.flatnonzero(~reached)

    def name_demand(self, indices: IntArray) -> str:
        """Return a short human list of demand ids for an error message."""
        ids = [repr(self.demand_ids[i]) for i in indices[:_MAX_IDS_IN_MESSAGE]]
        more = indices.size - len(ids)
        return ", ".join(ids) + (f" and {more:,} more" if more > 0 else "")


@dataclass(frozen=True)
class _Answer:
    """One candidate answer (greedy or solver), evaluated the same way."""

    selected: BoolArray
    assignment: IntArray
    objective: float


@dataclass(frozen=True)
class _Solution:
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


@dataclass(frozen=True)
class _Milp:
    """A MILP in ``scipy.optimize.milp`` form; the first ``n_candidates`` columns are y."""

    objective: FloatArray
    integrality: FloatArray
    lower: FloatArray
    upper: FloatArray
    matrix: sp.csr_array
    row_lower: FloatArray
    row_upper: FloatArray


# --------------------------------------------------------------------------- validation


def _as_edges(
    travel_time_s: CostMatrix, *, radius_s: float | None, problems: list[str]
) -> tuple[tuple[int, int], IntArray, IntArray, FloatArray]:
    """Return the shape and admissible pairs of a dense or sparse travel-time matrix."""
    if sp.issparse(travel_time_s):
        coo = sp.coo_array(travel_time_s)
        coo.sum_duplicates()
        shape = (int(coo.shape[0]), int(coo.shape[1]))
        rows = np.asarray(coo.row, dtype=np.int64)
        cols = np.asarray(coo.col, dtype=np.int64)
        cost_s = np.asarray(coo.data, dtype=np.float64)
    else:
        dense = np.asarray(travel_time_s, dtype=np.float64)
        if dense.ndim != 2:
            problems.append(
                f"'travel_time_s' should be a 2-D demand × candidate matrix, "
                f"got {dense.ndim} dimension(s) of shape {dense.shape}"
            )
            empty = np.empty(0, dtype=np.int64)
            return (0, 0), empty, empty, np.empty(0)
        shape = (int(dense.shape[0]), int(dense.shape[1]))
        rows, cols = np.nonzero(~np.isposinf(dense))
        rows = rows.astype(np.int64)
        cols = cols.astype(np.int64)
        cost_s = dense[rows, cols]
    if np.isnan(cost_s).any():
        bad = np.flatnonzero(np.isnan(cost_s))[0]
        problems.append(
            f"'travel_time_s' holds NaN (first at demand {rows[bad]}, candidate {cols[bad]}); "
            "use numpy.inf (dense) or leave the entry out (sparse) for an unreachable pair"
        )
    if (cost_s < 0).any():
        bad = np.flatnonzero(cost_s < 0)[0]
        problems.append(
            f"'travel_time_s' holds a negative travel time {cost_s[bad]!r} at demand "
            f"{rows[bad]}, candidate {cols[bad]}; travel times must be 0 or more"
        )
    if radius_s is not None:
        keep = cost_s <= radius_s
        rows, cols, cost_s = rows[keep], cols[keep], cost_s[keep]
    order = np.lexsort((cols, rows))
    return shape, rows[order], cols[order], cost_s[order]


def _validate(
    travel_time_s: CostMatrix,
    *,
    weights: npt.ArrayLike | None,
    radius_s: float | None,
    radius_required: bool,
    fixed: npt.ArrayLike | None,
    p: int | None,
    demand_ids: Sequence[Any] | None,
    candidate_ids: Sequence[Any] | None,
) -> _Problem:
    """Check every input, collect the problems and raise once; return the instance."""
    problems: list[str] = []
    if radius_s is None:
        if radius_required:
            problems.append("'radius_s' is required: give the service radius in seconds")
    elif not (isinstance(radius_s, int | float) and math.isfinite(radius_s) and radius_s >= 0):
        problems.append(f"'radius_s' should be a finite number of seconds ≥ 0, got {radius_s!r}")
        radius_s = None
    shape, rows, cols, cost_s = _as_edges(travel_time_s, radius_s=radius_s, problems=problems)
    n_demand, n_candidates = shape
    if n_demand == 0:
        problems.append("'travel_time_s' has no demand rows; give at least one demand point")
    if n_candidates == 0:
        problems.append(
            "'travel_time_s' has no candidate columns; give at least one candidate site"
        )

    if weights is None:
        weight_arr = np.ones(n_demand)
    else:
        weight_arr = np.asarray(weights, dtype=np.float64).ravel()
        if weight_arr.size != n_demand:
            problems.append(
                f"'weights' should hold one value per demand row ({n_demand:,}), "
                f"got {weight_arr.size:,}"
            )
        elif not np.isfinite(weight_arr).all():
            problems.append("'weights' holds NaN or infinite values; give finite weights")
        elif (weight_arr < 0).any():
            bad = np.flatnonzero(weight_arr < 0)
            problems.append(
                f"'weights' holds {bad.size:,} negative value(s) (first {weight_arr[bad[0]]!r} "
                f"at demand {bad[0]}); weights must be 0 or more"
            )

    fixed_arr = np.empty(0, dtype=np.int64)
    if fixed is not None:
        raw = np.asarray(fixed).ravel()
        if raw.size and not np.issubdtype(raw.dtype, np.integer):
            problems.append(
                f"'fixed' should hold candidate column indices (integers), got dtype {raw.dtype}"
            )
        else:
            fixed_arr = raw.astype(np.int64)
            outside = fixed_arr[(fixed_arr < 0) | (fixed_arr >= n_candidates)]
            if outside.size:
                problems.append(
                    f"'fixed' holds indices outside 0..{n_candidates - 1}: "
                    f"{outside[:_MAX_IDS_IN_MESSAGE].tolist()}; give candidate column indices"
                )
            if np.unique(fixed_arr).size != fixed_arr.size:
                problems.append("'fixed' lists a candidate more than once; list each once")
            fixed_arr = np.unique(fixed_arr)

    demand_tuple = tuple(range(n_demand)) if demand_ids is None else tuple(demand_ids)
    candidate_tuple = tuple(range(n_candidates)) if candidate_ids is None else tuple(candidate_ids)
    if len(demand_tuple) != n_demand:
        problems.append(
            f"'demand_ids' should hold one id per demand row ({n_demand:,}), "
            f"got {len(demand_tuple):,}"
        )
    if len(candidate_tuple) != n_candidates:
        problems.append(
            f"'candidate_ids' should hold one id per candidate column ({n_candidates:,}), "
            f"got {len(candidate_tuple):,}"
        )
    if p is not None and (isinstance(p, bool) or not isinstance(p, int | np.integer) or p < 1):
        problems.append(f"'p' should be a whole number of duty points ≥ 1, got {p!r}")
        p = None
    if problems:
        raise RoutingError("invalid placement input: " + "; ".join(problems))

    if p is not None:
        if p > n_candidates:
            raise InfeasiblePlanError(
                f"'p' is {p} but there are only {n_candidates:,} candidate sites; "
                f"lower p or add candidates"
            )
        if p < fixed_arr.size:
            raise InfeasiblePlanError(
                f"'p' is {p} but {fixed_arr.size} duty points are fixed; "
                f"raise p to at least {fixed_arr.size} or fix fewer"
            )
    return _Problem(
        n_demand=n_demand,
        n_candidates=n_candidates,
        rows=rows,
        cols=cols,
        cost_s=cost_s,
        weights=weight_arr,
        fixed=fixed_arr,
        radius_s=None if radius_s is None else float(radius_s),
        demand_ids=demand_tuple,
        candidate_ids=candidate_tuple,
    )


def _require_reachable(problem: _Problem, *, why: str) -> None:
    """Raise if some demand has no admissible candidate at all."""
    unreachable = problem.unreachable_demand()
    if unreachable.size:
        where = (
            f"within radius_s={problem.radius_s:g}"
            if problem.radius_s is not None
            else "at all (no finite travel time)"
        )
        raise InfeasiblePlanError(
            f"{unreachable.size:,} demand point(s) cannot be reached from any candidate {where}: "
            f"{problem.name_demand(unreachable)}; {why}"
        )


# ----------------------------------------------------------------------------- helpers


def _nearest_selected(problem: _Problem, selected: BoolArray) -> tuple[IntArray, FloatArray]:
    """Return, per demand, the nearest selected candidate (-1 if none) and its travel time."""
    assignment = np.full(problem.n_demand, -1, dtype=np.int64)
    travel_s = np.full(problem.n_demand, np.inf)
    open_edges = np.flatnonzero(selected[problem.cols])
    if open_edges.size:
        # lexsort puts each demand's cheapest open edge first; np.unique keeps it.
        order = open_edges[np.lexsort((problem.cost_s[open_edges], problem.rows[open_edges]))]
        demand, first = np.unique(problem.rows[order], return_index=True)
        assignment[demand] = problem.cols[order[first]]
        travel_s[demand] = problem.cost_s[order[first]]
    return assignment, travel_s


def _coverage_count(problem: _Problem, selected: BoolArray) -> IntArray:
    """Return how many selected candidates reach each demand."""
    return np.bincount(problem.rows[selected[problem.cols]], minlength=problem.n_demand).astype(
        np.int64
    )


def _mask(n: int, indices: IntArray) -> BoolArray:
    out = np.zeros(n, dtype=bool)
    out[indices] = True
    return out


def _best_candidate(primary: FloatArray, secondary: FloatArray, closed: BoolArray) -> int:
    """Return the closed candidate with the largest (primary, secondary) gain, lowest index on ties."""
    idx = np.flatnonzero(closed)
    # lexsort sorts ascending by the last key first; negate for the largest gain, and the
    # index as the first key keeps the lowest index on ties.
    order = np.lexsort((idx, -secondary[idx], -primary[idx]))
    return int(idx[order[0]])


def _stack(
    blocks: list[tuple[sp.sparray, FloatArray, FloatArray]],
) -> tuple[sp.csr_array, FloatArray, FloatArray]:
    matrix = sp.csr_array(sp.vstack([b[0] for b in blocks], format="csr"))
    return matrix, np.concatenate([b[1] for b in blocks]), np.concatenate([b[2] for b in blocks])


def _p_row(n_candidates: int, n_columns: int, p: int) -> tuple[sp.sparray, FloatArray, FloatArray]:
    """Return the constraint 'exactly p candidates open' over the first columns."""
    row = sp.csr_array(
        (np.ones(n_candidates), (np.zeros(n_candidates, dtype=np.int64), np.arange(n_candidates))),
        shape=(1, n_columns),
    )
    return row, np.array([float(p)]), np.array([float(p)])


def _greedy_add(
    problem: _Problem,
    start: BoolArray,
    count: int,
    gains: Any,
) -> BoolArray:
    """Open ``count`` more candidates one at a time, each the best by ``gains(selected)``."""
    selected = start.copy()
    for _ in range(count):
        closed = ~selected
        if not closed.any():
            break
        primary, secondary = gains(selected)
        selected[_best_candidate(primary, secondary, closed)] = True
    return selected


# ------------------------------------------------------------------------------- models


class PlacementModel:
    """Base of the placement models: solve once, then query the answer.

    Build a model with its ``from_cost_matrix`` classmethod, call :meth:`solve`, then read
    the result attributes (they raise :class:`~routing.errors.RoutingError` before a solve).
    """

    name: ClassVar[str] = "placement"
    #: True when the objective is maximised (coverage models), False when minimised.
    maximise: ClassVar[bool] = False

    def __init__(self, problem: _Problem, *, p: int | None) -> None:
        self._problem = problem
        self.p = p
        self._solution: _Solution | None = None

    # -- model-specific parts -------------------------------------------------------

    def _evaluate(self, selected: BoolArray, assignment: IntArray | None = None) -> _Answer:
        raise NotImplementedError

    def _greedy(self) -> _Answer | None:
        raise NotImplementedError

    def _milp(self, greedy: _Answer | None) -> _Milp:
        raise NotImplementedError

    def _decode(self, x: FloatArray) -> _Answer:
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
                f"'time_limit_s' should be a positive number of seconds, got {time_limit_s!r}"
            )
        if not (math.isfinite(mip_rel_gap) and mip_rel_gap >= 0):
            raise RoutingError(f"'mip_rel_gap' should be a number ≥ 0, got {mip_rel_gap!r}")
        problem = self._problem
        started = time.perf_counter()
        greedy = self._greedy()
        greedy_objective = None if greedy is None else greedy.objective
        logger.debug("%s greedy objective: %s", self.name, greedy_objective)

        if greedy_only:
            if greedy is None:
                raise InfeasiblePlanError(
                    f"the greedy heuristic found no feasible {self.name} answer; "
                    "solve exactly (greedy_only=False)"
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
        self._solution = _Solution(
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
        self, greedy: _Answer | None, *, time_limit_s: float, mip_rel_gap: float
    ) -> tuple[_Answer, SolveStatus, float, float]:
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
            raise RoutingError(f"{self.name}: the MILP solver failed: {result.message}")

        if result.x is not None:
            answer: _Answer | None = self._decode(np.asarray(result.x))
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
                f"{self.name}: no feasible answer found within time_limit_s={time_limit_s:g}; "
                "raise time_limit_s"
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
        return f"{self.name}: no placement satisfies the constraints"

    # -- query -----------------------------------------------------------------------

    def _solved(self) -> _Solution:
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
        problem = _validate(
            travel_time_s,
            weights=weights,
            radius_s=radius_s,
            radius_required=True,
            fixed=fixed,
            p=None,
            demand_ids=demand_ids,
            candidate_ids=candidate_ids,
        )
        _require_reachable(problem, why="raise radius_s or add candidates near them")
        return cls(problem, p=None)

    def _evaluate(self, selected: BoolArray, assignment: IntArray | None = None) -> _Answer:
        assignment, _ = _nearest_selected(self._problem, selected)
        return _Answer(selected, assignment, float(selected.sum()))

    def _greedy(self) -> _Answer:
        problem = self._problem
        incidence = problem.incidence()
        selected = _mask(problem.n_candidates, problem.fixed)
        uncovered = _coverage_count(problem, selected) == 0
        order: list[int] = []
        while uncovered.any():
            gain = incidence.T @ uncovered.astype(np.float64)
            j = _best_candidate(gain, np.zeros_like(gain), ~selected)
            selected[j] = True
            order.append(j)
            uncovered &= incidence[:, [j]].toarray().ravel() == 0
        # Later picks can make earlier ones redundant; drop those, latest first.
        count = _coverage_count(problem, selected)
        incidence_csc = incidence.tocsc()
        for j in reversed(order):
            reached = incidence_csc[:, [j]].toarray().ravel() > 0
            if (count[reached] >= 2).all():
                selected[j] = False
                count[reached] -= 1
        return self._evaluate(selected)

    def _milp(self, greedy: _Answer | None) -> _Milp:
        problem = self._problem
        n = problem.n_candidates
        return _Milp(
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
        problem = _validate(
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

    def _evaluate(self, selected: BoolArray, assignment: IntArray | None = None) -> _Answer:
        assignment, _ = _nearest_selected(self._problem, selected)
        return _Answer(selected, assignment, float(self._problem.weights[assignment >= 0].sum()))

    def _greedy(self) -> _Answer:
        problem = self._problem
        assert self.p is not None
        incidence_t = problem.incidence().T.tocsr()

        def gains(selected: BoolArray) -> tuple[FloatArray, FloatArray]:
            uncovered = _coverage_count(problem, selected) == 0
            gain = incidence_t @ (problem.weights * uncovered)
            return gain, np.zeros_like(gain)

        start = _mask(problem.n_candidates, problem.fixed)
        selected = _greedy_add(problem, start, self.p - int(start.sum()), gains)
        return self._evaluate(selected)

    def _milp(self, greedy: _Answer | None) -> _Milp:
        # Variables: y (candidates, binary) then z (demand covered, continuous in [0, 1]):
        # z_i ≤ Σ_j a_ij y_j is tight at the optimum and integral once y is.
        problem = self._problem
        assert self.p is not None
        m, n = problem.n_candidates, problem.n_demand
        cover = sp.hstack([-problem.incidence(), sp.eye_array(n)], format="csr")
        matrix, row_lower, row_upper = _stack(
            [
                (cover, np.full(n, -np.inf), np.zeros(n)),
                _p_row(m, m + n, self.p),
            ]
        )
        return _Milp(
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

    def __init__(self, problem: _Problem, *, p: int | None, require_full_coverage: bool) -> None:
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
        problem = _validate(
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
            _require_reachable(
                problem,
                why="raise radius_s, add candidates near them or set require_full_coverage=False",
            )
        return cls(problem, p=p, require_full_coverage=require_full_coverage)

    def _evaluate(self, selected: BoolArray, assignment: IntArray | None = None) -> _Answer:
        problem = self._problem
        assignment, _ = _nearest_selected(problem, selected)
        twice = _coverage_count(problem, selected) >= 2
        return _Answer(selected, assignment, float(problem.weights[twice].sum()))

    def _greedy(self) -> _Answer | None:
        problem = self._problem
        assert self.p is not None
        incidence_t = problem.incidence().T.tocsr()
        start = _mask(problem.n_candidates, problem.fixed)
        if self.require_full_coverage:
            cover = LSCP(problem, p=None)._greedy().selected | start
            if cover.sum() > self.p:
                logger.debug("backup greedy: set cover needs %d > p points", cover.sum())
                return None
            start = cover

        def gains(selected: BoolArray) -> tuple[FloatArray, FloatArray]:
            count = _coverage_count(problem, selected)
            backup = incidence_t @ (problem.weights * (count == 1))
            single = incidence_t @ (problem.weights * (count == 0))
            return backup, single

        selected = _greedy_add(problem, start, self.p - int(start.sum()), gains)
        return self._evaluate(selected)

    def _milp(self, greedy: _Answer | None) -> _Milp:
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
        matrix, lower_rows, upper_rows = _stack(
            [(cover, row_lower, np.full(n, np.inf)), _p_row(m, m + n, self.p)]
        )
        return _Milp(
            objective=np.concatenate([np.zeros(m), -problem.weights]),
            integrality=np.concatenate([np.ones(m), u_integral]),
            lower=np.zeros(m + n),
            upper=np.ones(m + n),
            matrix=matrix,
            row_lower=lower_rows,
            row_upper=upper_rows,
        )

    def _infeasible_message(self) -> str:
        return (
            f"backup coverage: no {self.p} duty points reach every demand within "
            f"radius_s={self._problem.radius_s:g}; raise p or radius_s, "
            "or set require_full_coverage=False"
        )


def _assignment_blocks(
    problem: _Problem, n_columns: int, offset: int
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

    def __init__(self, problem: _Problem, *, p: int | None, capacities: FloatArray | None) -> None:
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
        problem = _validate(
            travel_time_s,
            weights=weights,
            radius_s=radius_s,
            radius_required=False,
            fixed=fixed,
            p=p,
            demand_ids=demand_ids,
            candidate_ids=candidate_ids,
        )
        _require_reachable(problem, why="give them a finite travel time to some candidate")
        capacity_arr = None
        if capacities is not None:
            capacity_arr = np.asarray(capacities, dtype=np.float64).ravel()
            if capacity_arr.size != problem.n_candidates:
                raise RoutingError(
                    f"'capacities' should hold one value per candidate column "
                    f"({problem.n_candidates:,}), got {capacity_arr.size:,}"
                )
            if not np.isfinite(capacity_arr).all() or (capacity_arr < 0).any():
                raise RoutingError("'capacities' should hold finite values ≥ 0")
            fixed_capacity = capacity_arr[problem.fixed].sum()
            others = np.delete(capacity_arr, problem.fixed)
            best = fixed_capacity + np.sort(others)[::-1][: p - problem.fixed.size].sum()
            total = problem.weights.sum()
            if best < total:
                raise InfeasiblePlanError(
                    f"the largest capacity {p} duty points can have is {best:g}, below the "
                    f"total demand weight {total:g}; raise p or the capacities"
                )
        return cls(problem, p=p, capacities=capacity_arr)

    def _evaluate(self, selected: BoolArray, assignment: IntArray | None = None) -> _Answer:
        problem = self._problem
        if assignment is None:
            assignment, travel_s = _nearest_selected(problem, selected)
        else:
            travel_s = _edge_cost(problem, assignment)
        objective = (
            float(np.dot(problem.weights, travel_s)) if (assignment >= 0).all() else math.inf
        )
        return _Answer(selected, assignment, objective)

    def _greedy(self) -> _Answer | None:
        problem = self._problem
        assert self.p is not None

        def gains(selected: BoolArray) -> tuple[FloatArray, FloatArray]:
            _, travel_s = _nearest_selected(problem, selected)
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

        start = _mask(problem.n_candidates, problem.fixed)
        selected = _greedy_add(problem, start, self.p - int(start.sum()), gains)
        if self._capacities is None:
            return self._evaluate(selected)
        assignment = _greedy_capacitated_assignment(problem, selected, self._capacities)
        if assignment is None:
            logger.debug("p-median greedy: capacities leave some demand unassigned")
            return None
        return self._evaluate(selected, assignment)

    def _milp(self, greedy: _Answer | None) -> _Milp:
        # Variables: y (binary) then x per admissible pair. Uncapacitated, x may stay
        # continuous: with y integral each demand goes whole to its nearest open point.
        # Capacities break that, so x is binary then (single sourcing).
        problem = self._problem
        assert self.p is not None
        m, n_edges = problem.n_candidates, problem.rows.size
        n_columns = m + n_edges
        blocks = [*_assignment_blocks(problem, n_columns, m), _p_row(m, n_columns, self.p)]
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
        matrix, row_lower, row_upper = _stack(blocks)
        x_integral = 1.0 if self._capacities is not None else 0.0
        return _Milp(
            objective=np.concatenate([np.zeros(m), problem.weights[problem.rows] * problem.cost_s]),
            integrality=np.concatenate([np.ones(m), np.full(n_edges, x_integral)]),
            lower=np.zeros(n_columns),
            upper=np.ones(n_columns),
            matrix=matrix,
            row_lower=row_lower,
            row_upper=row_upper,
        )

    def _decode(self, x: FloatArray) -> _Answer:
        problem = self._problem
        selected = x[: problem.n_candidates] > 0.5
        if self._capacities is None:
            return self._evaluate(selected)
        return self._evaluate(selected, _assignment_from_x(problem, x[problem.n_candidates :]))

    def _infeasible_message(self) -> str:
        return (
            f"p-median: no {self.p} duty points can serve every demand within their "
            "capacities; raise p or the capacities"
        )


def _edge_cost(problem: _Problem, assignment: IntArray) -> FloatArray:
    """Return the travel time of each demand to its assigned candidate (inf if none)."""
    travel_s = np.full(problem.n_demand, np.inf)
    chosen = assignment[problem.rows] == problem.cols
    travel_s[problem.rows[chosen]] = problem.cost_s[chosen]
    return travel_s


def _assignment_from_x(problem: _Problem, x_edges: FloatArray) -> IntArray:
    """Return the candidate carrying the largest share of each demand."""
    assignment = np.full(problem.n_demand, -1, dtype=np.int64)
    used = np.flatnonzero(x_edges > 0.5)
    assignment[problem.rows[used]] = problem.cols[used]
    return assignment


def _greedy_capacitated_assignment(
    problem: _Problem, selected: BoolArray, capacities: FloatArray
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
        problem = _validate(
            travel_time_s,
            weights=weights,
            radius_s=radius_s,
            radius_required=False,
            fixed=fixed,
            p=p,
            demand_ids=demand_ids,
            candidate_ids=candidate_ids,
        )
        _require_reachable(problem, why="give them a finite travel time to some candidate")
        return cls(problem, p=p)

    def _evaluate(self, selected: BoolArray, assignment: IntArray | None = None) -> _Answer:
        assignment, travel_s = _nearest_selected(self._problem, selected)
        return _Answer(selected, assignment, float(travel_s.max()))

    def _gains(self, selected: BoolArray) -> tuple[FloatArray, FloatArray]:
        """Return, per candidate, the demand it newly reaches and minus the worst time after."""
        problem = self._problem
        _, travel_s = _nearest_selected(problem, selected)
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

    def _greedy(self) -> _Answer:
        problem = self._problem
        assert self.p is not None
        start = _mask(problem.n_candidates, problem.fixed)
        selected = _greedy_add(problem, start, self.p - int(start.sum()), self._gains)
        return self._evaluate(selected)

    def _solve_exact(
        self, greedy: _Answer | None, *, time_limit_s: float, mip_rel_gap: float
    ) -> tuple[_Answer, SolveStatus, float, float]:
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
                    f"{self.name}: no feasible answer found within "
                    f"time_limit_s={time_limit_s:g}; raise time_limit_s"
                )
            raise InfeasiblePlanError(
                f"{self.name}: no {self.p} duty points can reach every demand; "
                "raise p or add candidates"
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

    def _cover_within(self, radius_s: float, deadline: float) -> _Answer | Literal[False] | None:
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
        selected = _greedy_add(problem, cover, self.p - int(cover.sum()), self._gains)
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
            raise RoutingError(f"{self.name}: the MILP solver failed: {result.message}")
        if result.x is None:
            return None
        return np.asarray(result.x)[:n] > 0.5


def _worst_outside(problem: _Problem, travel_s: FloatArray) -> FloatArray:
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
