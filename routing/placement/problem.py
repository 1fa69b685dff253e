"""A validated placement instance: the admissible demand-candidate pairs, checked once."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from layers.i18n import _, format_number
from routing.errors import InfeasiblePlanError, RoutingError, join_clauses

#: A travel-time matrix: dense (``numpy.inf`` unreachable) or sparse (absent unreachable).
CostMatrix: TypeAlias = npt.ArrayLike | sp.sparray | sp.spmatrix
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: How many ids an error message lists before it says "and N more".
MAX_IDS_IN_MESSAGE = 10


@dataclass(frozen=True)
class PlacementProblem:
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
        ids = [repr(self.demand_ids[i]) for i in indices[:MAX_IDS_IN_MESSAGE]]
        more = indices.size - len(ids)
        if more > 0:
            return _("%(ids)s and %(more)s more", ids=", ".join(ids), more=format_number(more))
        return ", ".join(ids)


def as_edges(
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
            _(
                "'travel_time_s' holds NaN (first at demand %(row)s, candidate %(col)s); use "
                "numpy.inf (dense) or leave the entry out (sparse) for an unreachable pair",
                row=rows[bad],
                col=cols[bad],
            )
        )
    if (cost_s < 0).any():
        bad = np.flatnonzero(cost_s < 0)[0]
        problems.append(
            _(
                "'travel_time_s' holds a negative travel time %(value)r at demand %(row)s, "
                "candidate %(col)s; travel times must be 0 or more",
                value=cost_s[bad],
                row=rows[bad],
                col=cols[bad],
            )
        )
    if radius_s is not None:
        keep = cost_s <= radius_s
        rows, cols, cost_s = rows[keep], cols[keep], cost_s[keep]
    order = np.lexsort((cols, rows))
    return shape, rows[order], cols[order], cost_s[order]


def validate_problem(
    travel_time_s: CostMatrix,
    *,
    weights: npt.ArrayLike | None,
    radius_s: float | None,
    radius_required: bool,
    fixed: npt.ArrayLike | None,
    p: int | None,
    demand_ids: Sequence[Any] | None,
    candidate_ids: Sequence[Any] | None,
) -> PlacementProblem:
    """Check every input, collect the problems and raise once; return the instance.

    Parameters
    ----------
    travel_time_s
        Demand × candidate travel times.
    weights, radius_s, fixed, p, demand_ids, candidate_ids
        As given to the model's ``from_cost_matrix``.
    radius_required
        Whether the model needs ``radius_s``.

    Raises
    ------
    RoutingError
        Listing every problem of the input.
    InfeasiblePlanError
        If ``p`` exceeds the candidates or falls short of the fixed ones.
    """
    problems: list[str] = []
    radius_s = _checked_radius(radius_s, radius_required, problems)
    shape, rows, cols, cost_s = as_edges(travel_time_s, radius_s=radius_s, problems=problems)
    n_demand, n_candidates = shape
    if n_demand == 0:
        problems.append(_("'travel_time_s' has no demand rows; give at least one demand point"))
    if n_candidates == 0:
        problems.append(
            _("'travel_time_s' has no candidate columns; give at least one candidate site")
        )
    weight_arr = _checked_weights(weights, n_demand, problems)
    fixed_arr = _checked_fixed(fixed, n_candidates, problems)
    demand_tuple = _checked_ids(demand_ids, n_demand, "demand_ids", "demand row", problems)
    candidate_tuple = _checked_ids(
        candidate_ids, n_candidates, "candidate_ids", "candidate column", problems
    )
    if p is not None and (isinstance(p, bool) or not isinstance(p, int | np.integer) or p < 1):
        problems.append(
            _("'p' should be a whole number of duty points ≥ 1, got %(value)r", value=p)
        )
        p = None
    if problems:
        raise RoutingError(
            _("invalid placement input: %(problems)s", problems=join_clauses(problems))
        )
    if p is not None:
        _require_feasible_p(p, n_candidates, fixed_arr.size)
    return PlacementProblem(
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


def _checked_radius(
    radius_s: float | None, radius_required: bool, problems: list[str]
) -> float | None:
    """The radius, or ``None`` (with a problem noted) when it is missing or not usable."""
    if radius_s is None:
        if radius_required:
            problems.append(_("'radius_s' is required: give the service radius in seconds"))
    elif not (isinstance(radius_s, int | float) and math.isfinite(radius_s) and radius_s >= 0):
        problems.append(
            _("'radius_s' should be a finite number of seconds ≥ 0, got %(value)r", value=radius_s)
        )
        return None
    return radius_s


def _checked_weights(
    weights: npt.ArrayLike | None, n_demand: int, problems: list[str]
) -> FloatArray:
    """The demand weights (ones by default); problems noted for a bad length or value."""
    if weights is None:
        return np.ones(n_demand)
    weight_arr = np.asarray(weights, dtype=np.float64).ravel()
    if weight_arr.size != n_demand:
        problems.append(
            f"'weights' should hold one value per demand row ({n_demand:,}), "
            f"got {weight_arr.size:,}"
        )
    elif not np.isfinite(weight_arr).all():
        problems.append(_("'weights' holds NaN or infinite values; give finite weights"))
    elif (weight_arr < 0).any():
        bad = np.flatnonzero(weight_arr < 0)
        problems.append(
            _(
                "'weights' holds %(n)s negative value(s) (first %(value)r at demand %(row)s); "
                "weights must be 0 or more",
                n=format_number(bad.size),
                value=weight_arr[bad[0]],
                row=bad[0],
            )
        )
    return weight_arr


def _checked_fixed(fixed: npt.ArrayLike | None, n_candidates: int, problems: list[str]) -> IntArray:
    """The fixed candidates, sorted and unique; problems noted for bad indices."""
    fixed_arr = np.empty(0, dtype=np.int64)
    if fixed is None:
        return fixed_arr
    raw = np.asarray(fixed).ravel()
    if raw.size and not np.issubdtype(raw.dtype, np.integer):
        problems.append(
            f"'fixed' should hold candidate column indices (integers), got dtype {raw.dtype}"
        )
        return fixed_arr
    fixed_arr = raw.astype(np.int64)
    outside = fixed_arr[(fixed_arr < 0) | (fixed_arr >= n_candidates)]
    if outside.size:
        problems.append(
            _(
                "'fixed' holds indices outside 0..%(last)s: %(indices)s; give candidate column "
                "indices",
                last=n_candidates - 1,
                indices=outside[:MAX_IDS_IN_MESSAGE].tolist(),
            )
        )
    if np.unique(fixed_arr).size != fixed_arr.size:
        problems.append(_("'fixed' lists a candidate more than once; list each once"))
    return np.unique(fixed_arr)


def _checked_ids(
    ids: Sequence[Any] | None, n: int, argument: str, one: str, problems: list[str]
) -> tuple[Any, ...]:
    """The ids (positions by default); a problem noted when there is not one per ``one``."""
    found = tuple(range(n)) if ids is None else tuple(ids)
    if len(found) != n:
        problems.append(f"'{argument}' should hold one id per {one} ({n:,}), got {len(found):,}")
    return found


def _require_feasible_p(p: int, n_candidates: int, n_fixed: int) -> None:
    """Raise if ``p`` points cannot be opened among the candidates with the fixed ones."""
    if p > n_candidates:
        raise InfeasiblePlanError(
            _(
                "'p' is %(p)s but there are only %(n)s candidate sites; lower p or add candidates",
                p=p,
                n=format_number(n_candidates),
            )
        )
    if p < n_fixed:
        raise InfeasiblePlanError(
            _(
                "'p' is %(p)s but %(fixed)s duty points are fixed; raise p to at least %(fixed)s "
                "or fix fewer",
                p=p,
                fixed=n_fixed,
            )
        )


def require_reachable(problem: PlacementProblem, *, why: str) -> None:
    """Raise if some demand has no admissible candidate at all."""
    unreachable = problem.unreachable_demand()
    if unreachable.size:
        params = {
            "n": format_number(unreachable.size),
            "ids": problem.name_demand(unreachable),
            "why": why,
        }
        if problem.radius_s is not None:
            raise InfeasiblePlanError(
                _(
                    "%(n)s demand point(s) cannot be reached from any candidate within "
                    "radius_s=%(radius)s: %(ids)s; %(why)s",
                    radius=format(problem.radius_s, "g"),
                    **params,
                )
            )
        raise InfeasiblePlanError(
            _(
                "%(n)s demand point(s) cannot be reached from any candidate at all (no finite "
                "travel time): %(ids)s; %(why)s",
                **params,
            )
        )
