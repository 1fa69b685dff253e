"""Imbalance of a workload across grids or units: max/mean, Gini, coefficient of variation."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["imbalance"]


def imbalance(
    values: Sequence[float] | pd.Series | np.ndarray, *, tolerance: float = 0.15
) -> dict[str, float]:
    """How unequal a workload is across grids (or units).

    Parameters
    ----------
    values
        Workload per grid or unit; non-finite values are left out.
    tolerance
        Relative deviation from the mean counted as balanced (0.15 is ±15%).

    Returns
    -------
    dict
        ``n``, ``mean``, ``max_mean`` (largest / mean), ``min_mean``, ``max_min``
        (largest / smallest, ``inf`` when one is zero), ``gini`` (0 equal, towards 1 when
        one carries all), ``cv`` (population standard deviation / mean) and
        ``within_tolerance_share`` (share within ±``tolerance`` of the mean).
    """
    array = np.asarray(values, dtype=float)
    array = array[np.isfinite(array)]
    n = len(array)
    if n == 0 or array.sum() <= 0:
        return {
            "n": float(n),
            "mean": 0.0,
            "max_mean": math.nan,
            "min_mean": math.nan,
            "max_min": math.nan,
            "gini": math.nan,
            "cv": math.nan,
            "within_tolerance_share": math.nan,
        }
    mean = float(array.mean())
    ordered = np.sort(array)
    rank = np.arange(1, n + 1)
    gini = float(((2 * rank - n - 1) * ordered).sum() / (n * ordered.sum()))
    return {
        "n": float(n),
        "mean": mean,
        "max_mean": float(ordered[-1] / mean),
        "min_mean": float(ordered[0] / mean),
        "max_min": float(ordered[-1] / ordered[0]) if ordered[0] > 0 else math.inf,
        "gini": gini,
        "cv": float(array.std() / mean),
        "within_tolerance_share": float((np.abs(array / mean - 1) <= tolerance + 1e-12).mean()),
    }
