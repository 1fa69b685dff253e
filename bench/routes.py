"""Benchmark ``routes``: shift patrol plans against a plain OR-Tools prize-collecting model.

Both plans are solved in the same run with the same units, budgets, prizes (hourly hotspot
risk), time limit and guided local search, and scored by the same dosage function
(``routing.patrol.dosage_score``). The anchor is the plain single-visit model: one node per
hotspot with its risk over the whole shift as prize, 12-minute stops, no time bands, no
revisits, no balance. Ours: visit copies per 30-minute band, 12-15 minute stops, revisits
spaced by 2 hours, every unit used, balance terms.

Instances
- ``new_haven_4cars_8h_40hotspots``: the sample workspace, 4 cars from Police HQ, night
  shift 22:00-06:00, 40 hotspots from the real September 2014 incidents.
- ``wuhan_generated_8cars_8h_80hotspots``: the real Wuhan street network with **generated**
  incidents (seeded: 40 centres on random streets, 3,000 incidents, 70 % within ~300 m of
  a centre, hours drawn with a night peak), 8 cars from the node nearest the network's
  centre, 80 hotspots within 6 km of it.

Run ``python bench/routes.py`` (one JSON line per instance) or ``python bench/run.py routes``.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import geopandas as gpd  # noqa: E402
import numpy as np  # noqa: E402
import shapely  # noqa: E402

from routing.network import StreetNetwork, network_from_lines  # noqa: E402
from routing.patrol import (  # noqa: E402
    PatrolModel,
    PatrolOptions,
    PatrolPlan,
    PatrolUnit,
    hour_band_risk,
    select_hotspots,
    shift_hours,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TIME_LIMIT_S = 10.0
NIGHT_S = 22 * 3600
BUDGET_S = 8 * 3600.0
OPTIONS = PatrolOptions(dwell_min_s=720.0, dwell_max_s=900.0)


def _streets_jaccard(a: PatrolPlan, b: PatrolPlan, network: StreetNetwork) -> float:
    sa = {int(network.edge_segment[e]) for r in a.routes for e in r.edges}
    sb = {int(network.edge_segment[e]) for r in b.routes for e in r.edges}
    return len(sa & sb) / len(sa | sb) if sa | sb else 1.0


def _compare(
    instance: str, model: PatrolModel, network: StreetNetwork, *, extra: dict[str, Any]
) -> dict[str, Any]:
    ours = model.solve(time_limit_s=TIME_LIMIT_S, seed=1)
    anchor = model.solve_baseline(time_limit_s=TIME_LIMIT_S, expand=True)
    other = model.solve(time_limit_s=TIME_LIMIT_S, seed=2)
    return {
        "bench": "routes",
        "instance": instance,
        "ours_s": round(ours.solve_time_s, 3),
        "anchor": "ortools-single-visit-prize-collecting-gls",
        "anchor_s": round(anchor.solve_time_s, 3),
        "ratio": round(anchor.solve_time_s / ours.solve_time_s, 3),
        "objective": round(ours.objective, 4),
        "anchor_objective": round(anchor.objective, 4),
        "objective_ratio": round(ours.objective / anchor.objective, 3)
        if anchor.objective
        else None,
        "time_limit_s": TIME_LIMIT_S,
        "units_used": sum(bool(r.hotspot_stops) for r in ours.routes),
        "anchor_units_used": sum(bool(r.hotspot_stops) for r in anchor.routes),
        "hotspot_stops": sum(len(r.hotspot_stops) for r in ours.routes),
        "anchor_hotspot_stops": sum(len(r.hotspot_stops) for r in anchor.routes),
        "balance_ratio": round(ours.balance_ratio, 3),
        "anchor_balance_ratio": round(anchor.balance_ratio, 3)
        if np.isfinite(anchor.balance_ratio)
        else "inf (idle unit)",
        "seed2_objective": round(other.objective, 4),
        "seed_streets_jaccard": round(_streets_jaccard(ours, other, network), 3),
        **extra,
    }


def new_haven() -> dict[str, Any]:
    from gisapp.samples import get_path
    from gisapp.store.geopackage import Workspace
    from routing.risk import segment_risk_by_hour
    from routing.snap import nearest_nodes

    ws = Workspace.open(get_path("new_haven"))
    roads = ws.layer("roads")
    assert isinstance(roads, gpd.GeoDataFrame)
    network = network_from_lines(roads, mode="car")
    incidents = ws.layer("incidents")
    assert isinstance(incidents, gpd.GeoDataFrame)
    risk = hour_band_risk(segment_risk_by_hour(network, incidents, timezone=ws.timezone))
    hotspots = select_hotspots(network, risk, hours=shift_hours(NIGHT_S, BUDGET_S), n_hotspots=40)
    hq = int(np.asarray(nearest_nodes(network, ws.layer("stations").geometry))[0])
    units = [PatrolUnit(f"car-{i}", "car", hq, BUDGET_S) for i in range(1, 5)]
    model = PatrolModel.build(
        {"car": network}, hotspots, units, shift_start_s=NIGHT_S, options=OPTIONS
    )
    return _compare(
        "new_haven_4cars_8h_40hotspots",
        model,
        network,
        extra={"hotspots": len(hotspots), "copies": len(model.copies), "data": "real"},
    )


def wuhan(seed: int = 20240501) -> dict[str, Any]:
    streets = gpd.read_parquet(DATA / "wuhan_streets.parquet")
    network = network_from_lines(streets, mode="car", node_lines=False)
    rng = np.random.default_rng(seed)
    centre = np.array([np.median(network.node_x), np.median(network.node_y)])
    station = int(network.node_tree.query(centre)[1])
    mid = shapely.get_coordinates(
        shapely.line_interpolate_point(network.segment_geometry, 0.5, normalized=True)
    )
    near = np.hypot(*(mid - centre).T) <= 6000.0
    candidates = np.flatnonzero(near)
    centres = rng.choice(candidates, 40, replace=False)
    n_incidents = 3000
    clustered = rng.random(n_incidents) < 0.7
    segment = np.where(
        clustered, rng.choice(centres, n_incidents), rng.choice(candidates, n_incidents)
    )
    # clustered incidents land on a street within ~300 m of their centre
    jitter = rng.normal(0.0, 300.0, (n_incidents, 2))
    target = mid[segment] + np.where(clustered[:, None], jitter, 0.0)
    segment = np.where(
        clustered, candidates[network_tree(mid[candidates]).query(target)[1]], segment
    )
    hour_weight = 1.0 + 1.5 * np.cos((np.arange(24) - 1) / 24 * 2 * np.pi)
    hour_weight = np.clip(hour_weight, 0.2, None)
    hour = rng.choice(24, n_incidents, p=hour_weight / hour_weight.sum())
    severity = rng.integers(1, 6, n_incidents)
    flat = np.bincount(
        segment * 24 + hour, weights=severity, minlength=network.n_segments * 24
    ).astype(float)
    risk = hour_band_risk(flat.reshape(network.n_segments, 24))
    hotspots = select_hotspots(
        network, risk, hours=shift_hours(NIGHT_S, BUDGET_S), n_hotspots=80, segment_mask=near
    )
    units = [PatrolUnit(f"car-{i}", "car", station, BUDGET_S) for i in range(1, 9)]
    model = PatrolModel.build(
        {"car": network}, hotspots, units, shift_start_s=NIGHT_S, options=OPTIONS
    )
    return _compare(
        "wuhan_generated_8cars_8h_80hotspots",
        model,
        network,
        extra={
            "hotspots": len(hotspots),
            "copies": len(model.copies),
            "data": f"real streets, generated incidents (seed {seed})",
        },
    )


def network_tree(xy: np.ndarray) -> Any:
    from scipy.spatial import cKDTree

    return cKDTree(xy)


def run() -> list[dict[str, Any]]:
    """The ``routes`` benchmark lines (for ``bench/run.py``)."""
    return [new_haven(), wuhan()]


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    for line in run():
        print(json.dumps(line), flush=True)
