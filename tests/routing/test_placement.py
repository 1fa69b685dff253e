"""Tests of the duty-point placement models: hand-made optima, brute force, spopt parity."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import numpy as np
import pytest
import scipy.sparse as sp

from routing.errors import InfeasiblePlanError, RoutingError
from routing.placement import (
    LSCP,
    MCLP,
    BackupCoverage,
    PCenter,
    PMedian,
    SolveStatus,
)

INF = math.inf
R = 10.0  # service radius of the hand-made coverage instances, seconds


def coverage_matrix(reach: list[list[int]], n_demand: int) -> np.ndarray:
    """Travel times with candidate j reaching the demand listed in reach[j] at 5 s, others at 20 s."""
    cost = np.full((n_demand, len(reach)), 20.0)
    for j, demand in enumerate(reach):
        cost[demand, j] = 5.0
    return cost


def line_matrix(demand_x: list[float], candidate_x: list[float]) -> np.ndarray:
    """Travel times along a straight street at one position unit per minute."""
    return 60.0 * np.abs(np.subtract.outer(demand_x, candidate_x))


LINE = [0.0, 1.0, 2.0, 10.0, 11.0, 12.0]

# Set-cover trap: A reaches the most demand but the optimum is B + C.
TRAP = coverage_matrix([[0, 1, 2, 3], [0, 2, 4], [1, 3, 5]], 6)
# MCLP trap: A overlaps both B and C; greedy takes A first.
MCLP_TRAP = coverage_matrix([[1, 2, 3, 4], [0, 1, 2], [3, 4, 5]], 6)


# ------------------------------------------------------------------- hand-made optima


def test_lscp_finds_the_two_point_cover_greedy_cleanup_also_finds() -> None:
    model = LSCP.from_cost_matrix(TRAP, radius_s=R).solve()
    assert model.status is SolveStatus.OPTIMAL
    assert model.objective == 2
    assert model.selected.tolist() == [1, 2]
    # Greedy opens A, B, C; A is then redundant and dropped.
    assert model.greedy_objective == 2
    assert model.covered_share == 1.0
    assert model.assignment.tolist() == [1, 2, 1, 2, 1, 2]
    assert model.gap == pytest.approx(0.0, abs=1e-9)


def test_lscp_keeps_fixed_post_open() -> None:
    model = LSCP.from_cost_matrix(TRAP, radius_s=R, fixed=[0]).solve()
    assert model.objective == 3
    assert model.selected.tolist() == [0, 1, 2]
    assert model.fixed.tolist() == [0]


def test_lscp_names_unreachable_demand() -> None:
    cost = TRAP.copy()
    cost[4, :] = 30.0
    with pytest.raises(InfeasiblePlanError, match=r"1 demand point.*'post-4'.*radius_s"):
        LSCP.from_cost_matrix(cost, radius_s=R, demand_ids=[f"post-{i}" for i in range(6)])


def test_mclp_beats_greedy_on_overlap_trap() -> None:
    model = MCLP.from_cost_matrix(MCLP_TRAP, radius_s=R, p=2).solve()
    assert model.objective == 6
    assert model.selected.tolist() == [1, 2]
    assert model.greedy_objective == 5
    assert model.covered_weight == 6
    assert model.covered_share == 1.0


def test_mclp_weights_and_fixed_post() -> None:
    weights = [1, 1, 1, 1, 1, 10]
    model = MCLP.from_cost_matrix(MCLP_TRAP, radius_s=R, p=2, weights=weights, fixed=[0]).solve()
    # A is forced open; C then adds demand 5 (weight 10), B only demand 0.
    assert model.selected.tolist() == [0, 2]
    assert model.objective == 14
    assert model.covered_share == pytest.approx(14 / 15)
    assert model.assignment.tolist() == [-1, 0, 0, 0, 0, 2]


def test_pmedian_picks_the_weighted_median_of_each_cluster() -> None:
    weights = [1, 1, 1, 5, 1, 1]
    model = PMedian.from_cost_matrix(line_matrix(LINE, LINE), p=2, weights=weights).solve()
    assert model.selected.tolist() == [1, 3]
    # Left cluster: 1 + 0 + 1 minutes; right cluster: 0 + 1 + 2 minutes, all weight 1.
    assert model.objective == pytest.approx(60.0 * (2 + 3))
    assert model.assignment.tolist() == [1, 1, 1, 3, 3, 3]


def test_capacitated_pmedian_sends_the_cheapest_overflow_away() -> None:
    cost = line_matrix(LINE, [1.0, 11.0])
    model = PMedian.from_cost_matrix(cost, p=2, capacities=[2, 10]).solve()
    # Three demand want the left point, which holds two: demand at 2 goes right (9 min).
    assert model.assignment.tolist() == [0, 0, 1, 1, 1, 1]
    assert model.objective == pytest.approx(60.0 * (1 + 0 + 9 + 1 + 0 + 1))
    assert model.capacities is not None and model.capacities.tolist() == [2.0, 10.0]


def test_capacitated_pmedian_rejects_too_little_capacity() -> None:
    cost = line_matrix(LINE, [1.0, 11.0])
    with pytest.raises(InfeasiblePlanError, match="capacity"):
        PMedian.from_cost_matrix(cost, p=2, capacities=[2, 2])


def test_pcenter_minimises_the_worst_time() -> None:
    model = PCenter.from_cost_matrix(line_matrix(LINE, LINE), p=2).solve()
    assert model.selected.tolist() == [1, 4]
    assert model.objective == 60.0


def test_pcenter_with_fixed_post() -> None:
    model = PCenter.from_cost_matrix(line_matrix(LINE, LINE), p=2, fixed=[0]).solve()
    # Demand at 2 is two minutes from the fixed post, so any point on the right ties.
    assert model.objective == 120.0
    assert model.selected[0] == 0
    assert model.selected[1] in (3, 4, 5)


BACKUP = coverage_matrix([[0, 1], [0, 1], [2], [1, 2]], 3)


def test_backup_coverage_doubles_up_without_full_coverage() -> None:
    model = BackupCoverage.from_cost_matrix(BACKUP, radius_s=R, p=2).solve()
    assert model.selected.tolist() == [0, 1]
    assert model.objective == 2
    assert model.covered_share == pytest.approx(2 / 3)


def test_backup_coverage_with_full_coverage() -> None:
    model = BackupCoverage.from_cost_matrix(
        BACKUP, radius_s=R, p=2, require_full_coverage=True
    ).solve()
    assert model.objective == 1
    assert model.covered_share == 1.0
    assert (model.assignment >= 0).all()


def test_backup_full_coverage_out_of_reach_of_p() -> None:
    model = BackupCoverage.from_cost_matrix(BACKUP, radius_s=R, p=1, require_full_coverage=True)
    with pytest.raises(InfeasiblePlanError, match="raise p or radius_s"):
        model.solve()


# ---------------------------------------------------------------------- input handling


def test_sparse_matrix_keeps_explicit_zero_and_drops_absent_pairs() -> None:
    cost = sp.csr_array(
        (np.array([0.0, 8.0, 4.0]), (np.array([0, 1, 2]), np.array([0, 0, 1]))), shape=(3, 2)
    )
    model = MCLP.from_cost_matrix(cost, radius_s=R, p=1).solve()
    assert model.selected.tolist() == [0]
    assert model.objective == 2
    assert model.assignment.tolist() == [0, 0, -1]


def test_dense_and_sparse_give_the_same_answer() -> None:
    rng = np.random.default_rng(7)
    cost = rng.uniform(0, 60, (30, 12))
    sparse = sp.csr_array(np.where(cost <= 25, cost, 0.0))
    sparse.eliminate_zeros()
    weights = rng.integers(1, 9, 30)
    dense_model = MCLP.from_cost_matrix(cost, radius_s=25, p=3, weights=weights).solve()
    sparse_model = MCLP.from_cost_matrix(sparse, radius_s=25, p=3, weights=weights).solve()
    assert dense_model.objective == sparse_model.objective


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"p": 4}, "only 3 candidate"),
        ({"p": 1, "fixed": [0, 1]}, "2 duty points are fixed"),
    ],
)
def test_p_out_of_range(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(InfeasiblePlanError, match=match):
        MCLP.from_cost_matrix(TRAP, radius_s=R, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("cost", "kwargs", "match"),
    [
        (np.empty((3, 0)), {}, "no candidate columns"),
        (np.array([[1.0, math.nan]]), {}, "NaN"),
        (np.array([[1.0, -2.0]]), {}, "negative travel time"),
        (np.ones((2, 2)), {"weights": [1.0, -1.0]}, "'weights' holds 1 negative"),
        (np.ones((2, 2)), {"weights": [1.0, 1.0, 1.0]}, "one value per demand row"),
        (np.ones((2, 2)), {"fixed": [5]}, "outside 0..1"),
        (np.ones((2, 2)), {"candidate_ids": ["a"]}, "'candidate_ids'"),
        (np.ones(4), {}, "2-D"),
    ],
)
def test_bad_input_is_named(cost: np.ndarray, kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(RoutingError, match=match):
        MCLP.from_cost_matrix(cost, radius_s=R, p=1, **kwargs)  # type: ignore[arg-type]


def test_problems_are_collected_into_one_error() -> None:
    with pytest.raises(RoutingError, match=r"NaN.*'weights'"):
        MCLP.from_cost_matrix(np.array([[math.nan]]), radius_s=R, p=1, weights=[1, 2])


def test_pmedian_names_demand_with_no_finite_time() -> None:
    cost = line_matrix(LINE, LINE)
    cost[2, :] = INF
    with pytest.raises(InfeasiblePlanError, match=r"demand point.*: 2;"):
        PMedian.from_cost_matrix(cost, p=2)


def test_query_before_solve_raises() -> None:
    model = MCLP.from_cost_matrix(TRAP, radius_s=R, p=1)
    with pytest.raises(RoutingError, match=r"call \.solve\(\) first"):
        _ = model.selected


def test_inputs_are_not_mutated() -> None:
    cost = line_matrix(LINE, LINE)
    weights = np.ones(6)
    before = cost.copy()
    PMedian.from_cost_matrix(cost, p=2, weights=weights, radius_s=300).solve()
    np.testing.assert_array_equal(cost, before)
    np.testing.assert_array_equal(weights, np.ones(6))


def test_selected_ids_follow_candidate_ids() -> None:
    model = MCLP.from_cost_matrix(
        MCLP_TRAP, radius_s=R, p=2, candidate_ids=["north", "east", "west"]
    ).solve()
    assert model.selected_ids == ["east", "west"]


def test_greedy_only_reports_unknown_gap() -> None:
    model = MCLP.from_cost_matrix(MCLP_TRAP, radius_s=R, p=2).solve(greedy_only=True)
    assert model.status is SolveStatus.GREEDY
    assert model.objective == 5
    assert math.isnan(model.gap)


def test_time_limit_keeps_an_answer_no_worse_than_greedy() -> None:
    rng = np.random.default_rng(3)
    cost = rng.uniform(0, 600, (150, 40))
    model = PCenter.from_cost_matrix(cost, p=5).solve(time_limit_s=1e-6)
    assert model.greedy_objective is not None
    assert model.objective <= model.greedy_objective
    if model.status is not SolveStatus.OPTIMAL:
        assert math.isnan(model.gap) or model.gap > 0


# ------------------------------------------------------- brute force on seeded instances


def brute_force(
    cost: np.ndarray, p: int, fixed: list[int], score: Callable[[np.ndarray], float]
) -> list[float]:
    """Score every choice of p open points that keeps the fixed ones."""
    free = [j for j in range(cost.shape[1]) if j not in fixed]
    scores = [
        score(np.array(fixed + list(extra), dtype=int))
        for extra in itertools.combinations(free, p - len(fixed))
    ]
    return scores


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("fixed", [[], [3]])
def test_models_match_brute_force(seed: int, fixed: list[int]) -> None:
    rng = np.random.default_rng(seed)
    cost = rng.uniform(0, 300, (25, 9))
    weights = rng.integers(1, 10, 25).astype(float)
    radius_s, p = 110.0, 3
    within = cost <= radius_s

    def n_covering(open_: np.ndarray) -> np.ndarray:
        return within[:, open_].sum(axis=1)

    mclp = MCLP.from_cost_matrix(cost, radius_s=radius_s, p=p, weights=weights, fixed=fixed)
    best = max(brute_force(cost, p, fixed, lambda o: weights[n_covering(o) > 0].sum()))
    assert mclp.solve().objective == pytest.approx(best)

    backup = BackupCoverage.from_cost_matrix(
        cost, radius_s=radius_s, p=p, weights=weights, fixed=fixed
    )
    best = max(brute_force(cost, p, fixed, lambda o: weights[n_covering(o) >= 2].sum()))
    assert backup.solve().objective == pytest.approx(best)

    pmedian = PMedian.from_cost_matrix(cost, p=p, weights=weights, fixed=fixed)
    best = min(brute_force(cost, p, fixed, lambda o: weights @ cost[:, o].min(axis=1)))
    assert pmedian.solve().objective == pytest.approx(best)

    pcenter = PCenter.from_cost_matrix(cost, p=p, fixed=fixed)
    best = min(brute_force(cost, p, fixed, lambda o: cost[:, o].min(axis=1).max()))
    assert pcenter.solve().objective == pytest.approx(best)

    for model in (mclp, backup, pmedian, pcenter):
        assert set(fixed) <= set(model.selected.tolist())
        assert model.selected.size == p


# ------------------------------------------------------------------- spopt parity


def seeded_instance(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Demand and candidate points scattered over a 2 km square, at 10 m/s straight line."""
    rng = np.random.default_rng(seed)
    demand_xy = rng.uniform(0, 2000, (40, 2))
    candidate_xy = rng.uniform(0, 2000, (12, 2))
    cost = np.linalg.norm(demand_xy[:, None, :] - candidate_xy[None, :, :], axis=2) / 10.0
    weights = rng.integers(1, 20, 40).astype(float)
    return cost, weights


def spopt_objective(model: object) -> float:
    import pulp

    solved = model.solve(pulp.PULP_CBC_CMD(msg=False))  # type: ignore[attr-defined]
    return float(solved.problem.objective.value())


def dummies(fixed: list[int], n: int) -> np.ndarray:
    out = np.zeros(n, dtype=int)
    out[fixed] = 1
    return out


@pytest.mark.parametrize("seed", [11, 12])
@pytest.mark.parametrize("fixed", [[], [5]])
# spopt and its dependencies emit deprecation notices of their own on import and solve.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_same_optimum_as_spopt(seed: int, fixed: list[int]) -> None:
    spopt_locate = pytest.importorskip("spopt.locate")
    cost, weights = seeded_instance(seed)
    n_candidates = cost.shape[1]
    # spopt reads a short array as indices and a full-length one as 0/1 flags: pass flags.
    predefined = dummies(fixed, n_candidates) if fixed else None
    radius_s, p = 70.0, 4

    ours = LSCP.from_cost_matrix(cost, radius_s=140.0, fixed=fixed).solve()
    theirs = spopt_locate.LSCP.from_cost_matrix(
        cost, service_radius=140.0, predefined_facilities_arr=predefined
    )
    assert ours.objective == pytest.approx(spopt_objective(theirs))

    ours_m = MCLP.from_cost_matrix(cost, radius_s=radius_s, p=p, weights=weights, fixed=fixed)
    theirs = spopt_locate.MCLP.from_cost_matrix(
        cost, weights, service_radius=radius_s, p_facilities=p, predefined_facilities_arr=predefined
    )
    assert ours_m.solve().objective == pytest.approx(spopt_objective(theirs))

    ours_pm = PMedian.from_cost_matrix(cost, p=p, weights=weights, fixed=fixed)
    theirs = spopt_locate.PMedian.from_cost_matrix(
        cost, weights, p_facilities=p, predefined_facilities_arr=predefined
    )
    assert ours_pm.solve().objective == pytest.approx(spopt_objective(theirs), rel=1e-6)

    ours_pc = PCenter.from_cost_matrix(cost, p=p, fixed=fixed)
    theirs = spopt_locate.PCenter.from_cost_matrix(
        cost, p_facilities=p, predefined_facilities_arr=predefined
    )
    assert ours_pc.solve().objective == pytest.approx(spopt_objective(theirs), rel=1e-6)


# -------------------------------------------------------- p-center by binary search


@pytest.mark.parametrize(
    ("seed", "shape", "p", "fixed"),
    [
        (3, (30, 10), 3, [2]),
        (4, (30, 10), 4, [0, 7]),
        (5, (40, 11), 4, [5]),
        (6, (24, 12), 5, [1, 4, 9]),
    ],
)
def test_pcenter_matches_brute_force_with_fixed_posts(
    seed: int, shape: tuple[int, int], p: int, fixed: list[int]
) -> None:
    rng = np.random.default_rng(seed)
    cost = rng.uniform(0, 600, shape).round()  # rounded: ties between travel times
    cost[rng.uniform(size=shape) < 0.2] = INF
    cost[:, fixed[0]] = np.minimum(cost[:, fixed[0]], 900.0)  # every demand reachable
    weights = rng.integers(1, 10, shape[0]).astype(float)
    best = min(brute_force(cost, p, fixed, lambda o: cost[:, o].min(axis=1).max()))

    model = PCenter.from_cost_matrix(cost, p=p, weights=weights, fixed=fixed).solve()
    assert model.status is SolveStatus.OPTIMAL
    assert model.objective == best
    assert model.bound == best
    assert model.gap == 0.0
    assert model.greedy_objective is not None and model.objective <= model.greedy_objective
    assert set(fixed) <= set(model.selected.tolist())
    assert model.selected.size == p
    # Each demand goes to its nearest open point; the worst of those is the objective.
    open_cost = cost[:, model.selected]
    nearest = model.selected[open_cost.argmin(axis=1)]
    np.testing.assert_array_equal(
        cost[np.arange(shape[0]), model.assignment], cost[np.arange(shape[0]), nearest]
    )
    assert cost[np.arange(shape[0]), model.assignment].max() == best
    assert model.covered_weight == weights.sum()


def test_pcenter_sparse_matrix_matches_dense() -> None:
    rng = np.random.default_rng(8)
    cost = rng.uniform(0, 600, (30, 10))
    sparse = sp.csr_array(np.where(cost <= 400, cost, 0.0))
    sparse.eliminate_zeros()
    dense = np.where(cost <= 400, cost, INF)
    from_sparse = PCenter.from_cost_matrix(sparse, p=3).solve()
    from_dense = PCenter.from_cost_matrix(dense, p=3).solve()
    assert from_sparse.objective == from_dense.objective
    assert from_sparse.selected.tolist() == from_dense.selected.tolist()


def test_pcenter_too_few_points_to_reach_every_demand() -> None:
    # Each candidate reaches one demand only: one point cannot serve both.
    cost = sp.csr_array(np.array([[60.0, 0.0], [0.0, 60.0]]))
    cost.eliminate_zeros()
    with pytest.raises(InfeasiblePlanError, match="no 1 duty points can reach every demand"):
        PCenter.from_cost_matrix(cost, p=1).solve()


def test_pcenter_time_limit_reports_the_search_bound() -> None:
    rng = np.random.default_rng(3)
    cost = rng.uniform(0, 600, (150, 40))
    model = PCenter.from_cost_matrix(cost, p=5).solve(time_limit_s=1e-6)
    # Stopped before any probe: the greedy answer against the max-min lower bound.
    lower_s = cost.min(axis=1).max()
    assert model.status is SolveStatus.GREEDY
    assert model.objective == model.greedy_objective
    assert model.bound == lower_s
    assert model.gap == pytest.approx((model.objective - lower_s) / model.objective)


@pytest.mark.slow  # about 2 s: each infeasible radius is proved by a covering MILP
def test_pcenter_dense_200_by_40_solves_to_optimality() -> None:
    # The classic min-max MILP stopped at its time limit far from optimal on this instance.
    rng = np.random.default_rng(0)
    cost = rng.uniform(0, 600, (200, 40))
    model = PCenter.from_cost_matrix(cost, p=5).solve(time_limit_s=120)
    assert model.status is SolveStatus.OPTIMAL
    assert model.gap == 0.0
    assert model.bound == model.objective
    assert model.greedy_objective is not None and model.objective < model.greedy_objective
    assert model.selected.size == 5
    assert model.objective == cost[np.arange(200), model.assignment].max()
