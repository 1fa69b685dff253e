"""Tests of routing.grids.balance: imbalance metrics of a workload."""

from __future__ import annotations

import numpy as np
import pytest

from routing.grids import imbalance


def test_imbalance_of_equal_and_concentrated_workloads() -> None:
    equal = imbalance([5, 5, 5, 5])
    assert equal["gini"] == pytest.approx(0.0)
    assert equal["cv"] == pytest.approx(0.0)
    assert equal["max_mean"] == pytest.approx(1.0)
    assert equal["within_tolerance_share"] == 1.0
    one = imbalance([0, 0, 0, 8])
    assert one["gini"] == pytest.approx(0.75)
    assert one["max_mean"] == pytest.approx(4.0)
    assert one["max_min"] == float("inf")
    mixed = imbalance([1.0, 2.0, 3.0], tolerance=0.15)
    assert mixed["cv"] == pytest.approx(np.std([1, 2, 3]) / 2)
    assert mixed["within_tolerance_share"] == pytest.approx(1 / 3)
