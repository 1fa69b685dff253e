"""The exact optimum behind :meth:`PatrolModel.solve_exact`: the discretised problem as a MILP.

Variables: ``x[v, a, b]`` (unit ``v`` goes from node ``a`` to ``b``; nodes are the visit
copies and the unit's station, as start and end), ``y[v, a]`` (unit ``v`` visits copy
``a``) and the arrival ``t[a]`` of every copy within its band. Solved by HiGHS through
``scipy.optimize.milp``; small instances only.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_array

from layers.i18n import _, format_number
from routing.errors import InfeasiblePlanError
from routing.patrol.discrete import VisitCopy, spacing_groups
from routing.patrol.legs import UnitData
from routing.patrol.timetable import StopSequence, schedule

if TYPE_CHECKING:
    from routing.patrol.model import PatrolModel

logger = logging.getLogger(__name__)

#: A row of the MILP: coefficient by column, lower and upper bound.
Row = tuple[dict[int, float], float, float]


@dataclass
class _Columns:
    """The MILP's columns: ``t[0..nc)``, then ``y[v, a]`` of every allowed pair, then the
    arcs ``x``; bounds, integrality and objective of each."""

    lo: list[float]
    hi: list[float]
    integrality: list[int]
    objective: list[float]
    y_col: dict[tuple[int, int], int] = field(default_factory=dict)
    arcs: list[tuple[int, int, int, int]] = field(default_factory=list)  # (col, v, a, b)

    def add(self, lo: float, hi: float, integer: int, cost: float) -> int:
        self.lo.append(lo)
        self.hi.append(hi)
        self.integrality.append(integer)
        self.objective.append(cost)
        return len(self.lo) - 1


def exact_sequences(
    model: PatrolModel, *, time_limit_s: float
) -> tuple[list[StopSequence], float | None]:
    """Solve the model's MILP; the timetable of every unit and the proven upper bound.

    Parameters
    ----------
    model
        The built model (without breaks).
    time_limit_s
        HiGHS's time limit.

    Raises
    ------
    InfeasiblePlanError
        If HiGHS finds no integer solution within ``time_limit_s``.
    """
    from scipy.optimize import Bounds, LinearConstraint, milp

    opts = model.options
    dmin = math.ceil(opts.dwell_min_s)
    slack = math.floor(opts.dwell_max_s) - dmin
    copies = model.copies
    m = len(model.units)
    columns = _columns(model.unit_data, copies, dmin=dmin, slack=slack)
    rows = _flow_rows(columns, m, len(copies))
    rows += _timing_rows(model.unit_data, copies, columns, dmin=dmin, slack=slack)
    for group in spacing_groups(copies, opts.revisit_spacing_s):
        rows.append(
            (
                {
                    columns.y_col[(v, a)]: 1.0
                    for v in range(m)
                    for a in group
                    if (v, a) in columns.y_col
                },
                0,
                1,
            )
        )
    n_cols = len(columns.lo)
    matrix, lb, ub = _constraint_matrix(rows, n_cols)
    result = milp(
        c=np.asarray(columns.objective),
        constraints=LinearConstraint(matrix, lb, ub),
        integrality=np.asarray(columns.integrality),
        bounds=Bounds(np.asarray(columns.lo), np.asarray(columns.hi)),
        options={"time_limit": float(time_limit_s), "disp": False},
    )
    if result.x is None:
        raise InfeasiblePlanError(
            _(
                "the exact MILP found no solution within %(seconds)s s (%(n)s variables); use "
                "solve() for instances this large",
                seconds=format(time_limit_s, "g"),
                n=format_number(n_cols),
            )
        )
    used = np.rint(result.x).astype(int)
    used[: len(copies)] = 0
    next_of = {(v, a): b for col, v, a, b in columns.arcs if used[col] == 1}
    sequences = []
    for v in range(m):
        order: list[VisitCopy] = []
        node = next_of.get((v, -1), -1)
        while node >= 0:
            order.append(copies[node])
            node = next_of.get((v, node), -1)
        sequences.append(schedule(v, model.unit_data[v], order, slack_s=slack, dwell_s=dmin))
    bound = -float(result.mip_dual_bound) if result.mip_dual_bound is not None else None
    logger.info(
        "exact MILP: %s columns, %s rows, status %s, objective %.4f, bound %s",
        f"{n_cols:,}",
        f"{len(rows):,}",
        result.status,
        -result.fun,
        bound,
    )
    return sequences, bound


def _columns(
    unit_data: list[UnitData], copies: list[VisitCopy], *, dmin: int, slack: int
) -> _Columns:
    """The arrival, visit and arc columns; arcs that no timetable can use are left out."""
    columns = _Columns(
        lo=[float(c.lo_s) for c in copies],
        hi=[float(c.hi_s) for c in copies],
        integrality=[0] * len(copies),
        objective=[0.0] * len(copies),
    )
    for v, d in enumerate(unit_data):
        allowed = [a for a, c in enumerate(copies) if d.allowed[c.hotspot]]
        for a in allowed:
            columns.y_col[(v, a)] = columns.add(0.0, 1.0, 1, -copies[a].prize)
        budget = int(d.unit.budget_s)
        candidates = [(-1, b) for b in allowed] + [(a, -1) for a in allowed] + [(-1, -1)]
        candidates += [
            (a, b)
            for a in allowed
            for b in allowed
            if a != b and copies[a].hotspot != copies[b].hotspot
        ]
        for a, b in candidates:
            if a >= 0 or b >= 0:
                tt = _travel_s(d, copies, a, b)
                if tt < 0:
                    continue
            if a < 0 <= b and not (tt <= copies[b].hi_s and tt + slack >= copies[b].lo_s):
                continue
            if b < 0 <= a and copies[a].lo_s + dmin + tt > budget:
                continue
            if a >= 0 and b >= 0:
                ca, cb = copies[a], copies[b]
                if ca.lo_s + dmin + tt > cb.hi_s or ca.hi_s + dmin + slack + tt < cb.lo_s:
                    continue
            columns.arcs.append((columns.add(0.0, 1.0, 1, 0.0), v, a, b))
    return columns


def _travel_s(d: UnitData, copies: list[VisitCopy], a: int, b: int) -> int:
    """Leg time from node ``a`` to ``b`` of unit ``d`` (-1: its station)."""
    pa = 0 if a < 0 else copies[a].hotspot + 1
    pb = 0 if b < 0 else copies[b].hotspot + 1
    return int(d.time_s[pa, pb])


def _flow_rows(columns: _Columns, m: int, nc: int) -> list[Row]:
    """Every unit leaves and reaches its station once; a visited copy is entered and left
    once by its unit; every copy is visited at most once."""
    rows: list[Row] = []
    out_arcs: dict[tuple[int, int], list[int]] = {}
    in_arcs: dict[tuple[int, int], list[int]] = {}
    for col, v, a, b in columns.arcs:
        out_arcs.setdefault((v, a), []).append(col)
        in_arcs.setdefault((v, b), []).append(col)
    for v in range(m):
        rows.append(({c: 1.0 for c in out_arcs.get((v, -1), [])}, 1.0, 1.0))
        rows.append(({c: 1.0 for c in in_arcs.get((v, -1), [])}, 1.0, 1.0))
    for (v, a), ycol in columns.y_col.items():
        row_in = {c: 1.0 for c in in_arcs.get((v, a), [])}
        row_in[ycol] = -1.0
        rows.append((row_in, 0.0, 0.0))
        row_out = {c: 1.0 for c in out_arcs.get((v, a), [])}
        row_out[ycol] = -1.0
        rows.append((row_out, 0.0, 0.0))
    for a in range(nc):
        visit = {columns.y_col[(v, a)]: 1.0 for v in range(m) if (v, a) in columns.y_col}
        if visit:
            rows.append((visit, 0.0, 1.0))
    return rows


def _timing_rows(
    unit_data: list[UnitData], copies: list[VisitCopy], columns: _Columns, *, dmin: int, slack: int
) -> list[Row]:
    """Arrival times on used arcs (big-M): a departure from the station within the dwell
    slack, a gap of dwell + travel to dwell + slack + travel between stops, return within
    the budget. With a positive dwell these rule out subtours."""
    rows: list[Row] = []
    for col, v, a, b in columns.arcs:
        if a < 0 and b < 0:
            continue
        d = unit_data[v]
        tt = _travel_s(d, copies, a, b)
        if a < 0:
            # t_b >= tt - M(1-x), t_b <= slack + tt + M(1-x)
            cb = copies[b]
            m_lo = max(tt - cb.lo_s, 0)
            rows.append(({b: 1.0, col: -float(m_lo)}, tt - m_lo, math.inf))
            m_hi = max(cb.hi_s - slack - tt, 0)
            rows.append(({b: 1.0, col: float(m_hi)}, -math.inf, slack + tt + m_hi))
        elif b < 0:
            ca = copies[a]
            budget = int(d.unit.budget_s)
            m_end = max(ca.hi_s + dmin + tt - budget, 0)
            rows.append(({a: 1.0, col: float(m_end)}, -math.inf, budget - dmin - tt + m_end))
        else:
            ca, cb = copies[a], copies[b]
            gap_lo, gap_hi = dmin + tt, dmin + slack + tt
            m_lo = max(gap_lo - (cb.lo_s - ca.hi_s), 0)
            rows.append(({b: 1.0, a: -1.0, col: -float(m_lo)}, gap_lo - m_lo, math.inf))
            m_hi = max((cb.hi_s - ca.lo_s) - gap_hi, 0)
            rows.append(({b: 1.0, a: -1.0, col: float(m_hi)}, -math.inf, gap_hi + m_hi))
    return rows


def _constraint_matrix(
    rows: list[Row], n_cols: int
) -> tuple[csr_array, NDArray[np.float64], NDArray[np.float64]]:
    """The rows as a sparse matrix with their lower and upper bounds."""
    data, ri, ci, lb, ub = [], [], [], [], []
    for r, (coef, low, high) in enumerate(rows):
        for c, val in coef.items():
            ri.append(r)
            ci.append(c)
            data.append(val)
        lb.append(low)
        ub.append(high)
    matrix = csr_array((data, (ri, ci)), shape=(len(rows), n_cols))
    return matrix, np.asarray(lb, dtype=float), np.asarray(ub, dtype=float)
