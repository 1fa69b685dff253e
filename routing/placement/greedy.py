"""Greedy building blocks: nearest open candidate, coverage counts, one-at-a-time opening."""

from __future__ import annotations

from typing import Any

import numpy as np

from routing.placement.problem import BoolArray, FloatArray, IntArray, PlacementProblem


def nearest_selected(problem: PlacementProblem, selected: BoolArray) -> tuple[IntArray, FloatArray]:
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


def coverage_count(problem: PlacementProblem, selected: BoolArray) -> IntArray:
    """Return how many selected candidates reach each demand."""
    return np.bincount(problem.rows[selected[problem.cols]], minlength=problem.n_demand).astype(
        np.int64
    )


def candidate_mask(n: int, indices: IntArray) -> BoolArray:
    """A boolean mask of ``n`` candidates, True at ``indices``."""
    out = np.zeros(n, dtype=bool)
    out[indices] = True
    return out


def best_candidate(primary: FloatArray, secondary: FloatArray, closed: BoolArray) -> int:
    """Return the closed candidate with the largest (primary, secondary) gain, lowest index on ties."""
    idx = np.flatnonzero(closed)
    # lexsort sorts ascending by the last key first; negate for the largest gain, and the
    # index as the first key keeps the lowest index on ties.
    order = np.lexsort((idx, -secondary[idx], -primary[idx]))
    return int(idx[order[0]])


def greedy_add(
    problem: PlacementProblem,
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
        selected[best_candidate(primary, secondary, closed)] = True
    return selected
