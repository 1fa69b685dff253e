"""MILP building blocks: the ``scipy.optimize.milp`` form and shared constraint rows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from routing.placement.problem import FloatArray


@dataclass(frozen=True)
class Milp:
    """A MILP in ``scipy.optimize.milp`` form; the first ``n_candidates`` columns are y."""

    objective: FloatArray
    integrality: FloatArray
    lower: FloatArray
    upper: FloatArray
    matrix: sp.csr_array
    row_lower: FloatArray
    row_upper: FloatArray


def stack_rows(
    blocks: list[tuple[sp.sparray, FloatArray, FloatArray]],
) -> tuple[sp.csr_array, FloatArray, FloatArray]:
    """Stack constraint blocks ``(matrix, lower, upper)`` into one sparse matrix and bounds."""
    matrix = sp.csr_array(sp.vstack([b[0] for b in blocks], format="csr"))
    return matrix, np.concatenate([b[1] for b in blocks]), np.concatenate([b[2] for b in blocks])


def p_row(n_candidates: int, n_columns: int, p: int) -> tuple[sp.sparray, FloatArray, FloatArray]:
    """Return the constraint 'exactly p candidates open' over the first columns."""
    row = sp.csr_array(
        (np.ones(n_candidates), (np.zeros(n_candidates, dtype=np.int64), np.arange(n_candidates))),
        shape=(1, n_columns),
    )
    return row, np.array([float(p)]), np.array([float(p)])
