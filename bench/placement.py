"""Duty-point placement on Wuhan: our MCLP against spopt and a direct sparse HiGHS model.

Network: the Wuhan car network as ``gisapp network`` builds and stores it
(:func:`bench.reach.cli_network`). Two instances, each with demand and candidate nodes
drawn without replacement with a fixed seed, demand weights **generated** (seeded integers
1–10, standing in for risk: Wuhan has no incidents), a 3-minute service radius and p = 15:
3,000 demand × 600 candidates, and 10,000 demand × 2,000 candidates. Every side gets the
same travel-time matrix (computed once, untimed: ours and the direct model the sparse one
cut at the radius, spopt the dense equivalent with ``inf`` beyond it), is timed from that
matrix to the solved model and is asked for a proven optimum (relative MIP gap 0).

``ours``
    ``routing.placement.MCLP.from_cost_matrix(...).solve(mip_rel_gap=0)`` (greedy start,
    then HiGHS through ``scipy.optimize.milp``).
``milp``
    What a competent user writes directly: the 0/1 coverage matrix from the sparse matrix
    with ``scipy.sparse`` (no Python loop over pairs), binary ``y`` per candidate and
    ``z`` per demand in [0, 1] (integral at the optimum once ``y`` is: the stronger of the
    textbook forms, measured faster than binary ``z``), ``z_i <= sum_j a_ij y_j``,
    ``sum_j y_j = p``, maximise ``sum_i w_i z_i``; ``scipy.optimize.milp`` (HiGHS).
``spopt``
    ``spopt.locate.MCLP.from_cost_matrix(...).solve(pulp.PULP_CBC_CMD(gapRel=0))``. On the
    large instance it runs once, after the others, with a CBC time limit: when the limit
    stops it, its time is a lower bound (``spopt_optimal`` false).

The small instance runs its three sides interleaved; the large one interleaves ours and
``milp`` (median reported) and runs spopt once. Run alone with ``python bench/placement.py``
or through ``python bench/run.py placement``.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.optimize import Bounds, LinearConstraint, OptimizeResult, milp

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.reach import SEED, cli_network  # noqa: E402
from bench.timing import Timing, interleaved  # noqa: E402
from routing.placement import MCLP  # noqa: E402
from routing.reach import travel_time_matrix  # noqa: E402

RADIUS_S = 180.0
P = 15
#: Wall-clock limit of every exact solve (ours and the direct model end far below it).
TIME_LIMIT_S = 900.0


@dataclass(frozen=True)
class Instance:
    """One placement instance and how it is timed."""

    n_demand: int
    n_candidates: int
    repeats: int
    #: CBC time limit for spopt, which then runs once after the others; None: interleaved.
    spopt_time_limit_s: float | None


INSTANCES = (
    Instance(3_000, 600, repeats=3, spopt_time_limit_s=None),
    Instance(10_000, 2_000, repeats=3, spopt_time_limit_s=600.0),
)


def direct_milp(travel_time_s: sp.csr_array, weights: NDArray[np.float64], p: int) -> Any:
    """The MCLP as a competent user writes it for ``scipy.optimize.milp``."""
    cover = travel_time_s.copy()  # stored pairs only: zeros are co-located pairs
    cover.data = (cover.data <= RADIUS_S).astype(np.float64)
    cover.eliminate_zeros()
    n_demand, n_candidates = cover.shape
    matrix = sp.vstack(
        [
            sp.hstack([-cover, sp.eye_array(n_demand)]),
            sp.hstack([sp.csr_array(np.ones((1, n_candidates))), sp.csr_array((1, n_demand))]),
        ],
        format="csr",
    )
    constraints = LinearConstraint(
        matrix, np.append(np.full(n_demand, -np.inf), p), np.append(np.zeros(n_demand), p)
    )
    return milp(
        np.concatenate([np.zeros(n_candidates), -weights]),
        integrality=np.concatenate([np.ones(n_candidates), np.zeros(n_demand)]),
        bounds=Bounds(0, 1),
        constraints=constraints,
        options={"mip_rel_gap": 0.0, "time_limit": TIME_LIMIT_S},
    )


def _spopt(
    dense_s: NDArray[np.float64], weights: NDArray[np.float64], time_limit_s: float | None
) -> Any:
    import pulp
    from spopt.locate import MCLP as SpoptMCLP

    solver = pulp.PULP_CBC_CMD(msg=False, gapRel=0.0, timeLimit=time_limit_s)
    return SpoptMCLP.from_cost_matrix(
        dense_s, weights, service_radius=RADIUS_S, p_facilities=P
    ).solve(solver)


def run_instance(instance: Instance) -> dict[str, Any]:
    """Solve ``instance`` with every side and return its result line."""
    import pulp

    network = cli_network()
    n_demand, n_candidates = instance.n_demand, instance.n_candidates
    rng = np.random.default_rng(SEED)
    nodes = rng.choice(network.n_nodes, size=n_demand + n_candidates, replace=False)
    demand, candidates = nodes[:n_demand], nodes[n_demand:]
    weights = rng.integers(1, 11, size=n_demand).astype(np.float64)
    travel_time_s = sp.csr_array(
        travel_time_matrix(network, demand, candidates, cutoff_s=RADIUS_S, sparse=True)
    )
    dense_s = np.full((n_demand, n_candidates), np.inf)
    coo = travel_time_s.tocoo()
    dense_s[coo.row, coo.col] = coo.data

    sides = {
        "ours": lambda: MCLP.from_cost_matrix(
            travel_time_s, radius_s=RADIUS_S, p=P, weights=weights
        ).solve(time_limit_s=TIME_LIMIT_S, mip_rel_gap=0.0),
        "milp": lambda: direct_milp(travel_time_s, weights, P),
    }
    if instance.spopt_time_limit_s is None:
        sides["spopt"] = lambda: _spopt(dense_s, weights, None)
    timings = interleaved(sides, repeats=instance.repeats)
    if instance.spopt_time_limit_s is not None:
        start = time.perf_counter()
        result = _spopt(dense_s, weights, instance.spopt_time_limit_s)
        timings["spopt"] = Timing((time.perf_counter() - start,), result)

    ours = timings["ours"].result
    direct: OptimizeResult = timings["milp"].result
    spopt = timings["spopt"].result
    milp_objective = float(-direct.fun)
    spopt_objective = float(spopt.problem.objective.value())
    # sol_status 1 is pulp.LpSolutionOptimal; a time limit leaves 2 (integer feasible)
    spopt_optimal = spopt.problem.sol_status == pulp.LpSolutionOptimal
    milp_optimal = direct.status == 0 and float(direct.mip_gap) == 0.0
    ours_optimal = ours.status.value == "optimal" and ours.gap == 0.0
    median = {name: timing.median_s for name, timing in timings.items()}
    objectives = [ours.objective, milp_objective] + ([spopt_objective] if spopt_optimal else [])
    return {
        "bench": "placement",
        "instance": (
            f"wuhan MCLP on the CLI's car network: {n_demand:,} demand nodes (generated "
            f"weights 1-10, seed {SEED}), {n_candidates:,} candidate nodes, "
            f"radius {RADIUS_S:g} s, p={P}"
        ),
        "timing": (
            f"interleaved, median of {instance.repeats}"
            + (
                ""
                if instance.spopt_time_limit_s is None
                else f"; spopt once, CBC limit {instance.spopt_time_limit_s:g} s"
            )
        ),
        "ours_s": median["ours"],
        "anchor": "scipy.optimize.milp (HiGHS), direct sparse model",
        "anchor_s": median["milp"],
        "ratio": median["milp"] / median["ours"],
        "spopt_s": median["spopt"],
        "spopt_s_is_lower_bound": not spopt_optimal,
        "ratio_spopt": median["spopt"] / median["ours"],
        "min_s": {name: timing.min_s for name, timing in timings.items()},
        "objective": ours.objective,
        "milp_objective": milp_objective,
        "spopt_objective": spopt_objective,
        "ours_optimal": ours_optimal,
        "milp_optimal": milp_optimal,
        "spopt_optimal": spopt_optimal,
        "spopt_status": pulp.LpStatus[spopt.problem.status],
        "same_objective": bool(np.allclose(objectives, ours.objective, rtol=0, atol=1e-6)),
        "gap": ours.gap,
        "milp_gap": float(direct.mip_gap),
        "greedy_objective": ours.greedy_objective,
        "matrix_pairs": int(travel_time_s.nnz),
    }


def run() -> list[dict[str, Any]]:
    """Solve both instances with every side and return one result line each."""
    return [run_instance(instance) for instance in INSTANCES]


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    for line in run():
        print(json.dumps(line), flush=True)
