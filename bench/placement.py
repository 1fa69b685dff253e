"""Duty-point placement on Wuhan: our MCLP (HiGHS) against spopt's MCLP (PuLP/CBC).

Instance: the whole-city Wuhan car network; 3,000 demand nodes and 600 candidate nodes
drawn without replacement with a fixed seed; demand weights **generated** (seeded integers
1–10, standing in for risk: Wuhan has no incidents); 3-minute service radius; p = 15.
Both sides get the same travel-time matrix (ours sparse, cut at the radius; spopt the dense
equivalent with ``inf`` beyond it) and are timed from the cost matrix to the solved model.
The objectives (covered weight) must agree.

Run alone with ``python bench/placement.py`` or through ``python bench/run.py placement``.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.reach import SEED, best_of, wuhan_network  # noqa: E402
from routing.placement import MCLP  # noqa: E402
from routing.reach import travel_time_matrix  # noqa: E402

N_DEMAND = 3_000
N_CANDIDATES = 600
RADIUS_S = 180.0
P = 15


def run() -> list[dict[str, Any]]:
    """Solve the instance with both models and return the result line."""
    import pulp
    from spopt.locate import MCLP as SpoptMCLP

    network, _ = wuhan_network(repeats=1)
    rng = np.random.default_rng(SEED)
    nodes = rng.choice(network.n_nodes, size=N_DEMAND + N_CANDIDATES, replace=False)
    demand, candidates = nodes[:N_DEMAND], nodes[N_DEMAND:]
    weights = rng.integers(1, 11, size=N_DEMAND).astype(np.float64)
    travel_time_s = sp.csr_array(
        travel_time_matrix(network, demand, candidates, cutoff_s=RADIUS_S, sparse=True)
    )

    ours_s, ours = best_of(
        3,
        lambda: MCLP.from_cost_matrix(travel_time_s, radius_s=RADIUS_S, p=P, weights=weights).solve(
            time_limit_s=60.0
        ),
    )

    dense_s = np.full((N_DEMAND, N_CANDIDATES), np.inf)
    coo = travel_time_s.tocoo()
    dense_s[coo.row, coo.col] = coo.data
    anchor_s, anchor = best_of(
        1,
        lambda: SpoptMCLP.from_cost_matrix(
            dense_s, weights, service_radius=RADIUS_S, p_facilities=P
        ).solve(pulp.PULP_CBC_CMD(msg=False)),
    )
    anchor_objective = float(anchor.problem.objective.value())
    return [
        {
            "bench": "placement",
            "instance": (
                f"wuhan MCLP: {N_DEMAND:,} demand nodes (generated weights 1-10, seed {SEED}), "
                f"{N_CANDIDATES} candidate nodes, radius {RADIUS_S:g} s, p={P}"
            ),
            "ours_s": round(ours_s, 4),
            "anchor": "spopt MCLP (PuLP/CBC)",
            "anchor_s": round(anchor_s, 4),
            "ratio": round(anchor_s / ours_s, 2),
            "objective": ours.objective,
            "anchor_objective": anchor_objective,
            "objective_ratio": round(ours.objective / anchor_objective, 6),
            "status": ours.status.value,
            "gap": ours.gap,
            "greedy_objective": ours.greedy_objective,
            "matrix_pairs": int(travel_time_s.nnz),
        }
    ]


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    for line in run():
        print(json.dumps(line), flush=True)
