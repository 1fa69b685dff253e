"""Duty-point (执勤点) placement on a workspace: where to add posts beside the stations.

The application side of :mod:`routing.placement` (models built over
:func:`routing.coverage.placement_input`): stations and existing duty points are fixed
sites, key places and thinned intersections are candidates, and the demand is the street
risk or the key places. :func:`propose_posts` → :class:`PlacementResult`; the files are
written by :func:`gisapp.outputs.coverage.write_placement`.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisapp.errors import WorkspaceError
from gisapp.services.coverage_inputs import (
    SOURCE_LAYERS,
    key_place_required_minutes,
    points_layer,
    workspace_risk,
)
from gisapp.services.network import workspace_network
from gisapp.store.geopackage import Workspace
from layers.i18n import _
from layers.schema import STORAGE_CRS
from routing.coverage import (
    PLACEMENT_MODELS,
    PlacementInput,
    candidate_sites,
    locate_places,
    node_weights,
    placement_input,
)
from routing.errors import RoutingError
from routing.network import StreetNetwork
from routing.snap import nearest_nodes

logger = logging.getLogger(__name__)

#: Layer proposals are saved to; the user's ``duty_points`` is never touched.
PROPOSED_LAYER = "proposed_duty_points"
#: Models judged by a radius (the others by travel time).
_RADIUS_MODELS = ("lscp", "mclp", "backup")


@dataclass(frozen=True)
class PlacementOptions:
    """What a placement asks.

    Attributes
    ----------
    model
        ``mclp``, ``lscp``, ``pmedian``, ``pcenter`` or ``backup``.
    posts
        New duty points to add (stations and existing duty points are kept, fixed).
        Ignored by ``lscp``, which opens as few as cover everything.
    minutes
        Service radius.
    demand
        ``risk`` (street risk from incidents, on the nodes), or ``key_places`` (each key
        place within its own required minutes, capped by ``minutes`` for coverage models).
    mode
        Travel mode.
    key_place_minutes
        Required minutes per key-place kind.
    max_candidates, candidate_spacing_m, seed
        Thinning of the intersection candidates (:func:`routing.coverage.candidate_sites`).
    time_limit_s
        Solver time limit.
    risk_window
        Shift window of the risk, or None for every hour.
    keep_pileups
        Weigh the incidents at pile-ups (a reporting desk's) in the risk too.
    """

    model: str = "mclp"
    posts: int = 5
    minutes: float = 3.0
    demand: str = "risk"
    mode: str = "car"
    key_place_minutes: Mapping[str, float] | None = field(default=None, compare=False)
    max_candidates: int = 400
    candidate_spacing_m: float = 150.0
    time_limit_s: float = 60.0
    seed: int = 0
    risk_window: tuple[str, str] | None = None
    keep_pileups: bool = False


@dataclass(frozen=True)
class PlacementResult:
    """A placement of duty points on a workspace.

    Attributes
    ----------
    duty_points
        Open points (EPSG:4326): ``id``, ``name``, ``kind`` (station, duty_point,
        intersection, key_place), ``fixed``, ``covered_weight``, ``node``.
    kpis
        The figures of ``kpis.json``.
    """

    duty_points: gpd.GeoDataFrame
    kpis: dict[str, Any]


@dataclass(frozen=True)
class _Demand:
    nodes: np.ndarray
    weights: np.ndarray
    ids: list[str]
    radius_s: np.ndarray | None


def _check(opts: PlacementOptions) -> str:
    key = opts.model.lower()
    if key not in PLACEMENT_MODELS:
        raise RoutingError(
            _(
                "the model should be one of %(models)s, got %(model)s",
                models=", ".join(PLACEMENT_MODELS),
                model=repr(opts.model),
            )
        )
    if opts.posts < 0:
        raise RoutingError(
            _("posts should be 0 or more new duty points, got %(posts)s", posts=repr(opts.posts))
        )
    if not opts.minutes > 0:
        raise RoutingError(_("minutes should be > 0, got %(minutes)s", minutes=repr(opts.minutes)))
    if opts.demand not in ("risk", "key_places"):
        raise RoutingError(
            _("demand should be 'risk' or 'key_places', got %(demand)s", demand=repr(opts.demand))
        )
    return key


def _place_nodes(network: StreetNetwork, located: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The nearer end node of the street of every snapped key place, and the snapped mask."""
    ok = located["snapped"].to_numpy()
    seg = located["segment"].to_numpy()[ok]
    pos = located["position"].to_numpy()[ok]
    return np.where(pos < 0.5, network.segment_u[seg], network.segment_v[seg]), ok


def _candidates(
    ws: Workspace, network: StreetNetwork, places: gpd.GeoDataFrame, opts: PlacementOptions
) -> pd.DataFrame:
    """Fixed sites (stations, duty points), key places and thinned intersections."""
    parts = []
    for layer in SOURCE_LAYERS:
        frame = points_layer(ws, layer)
        if len(frame):
            parts.append(
                pd.DataFrame(
                    {
                        "node": nearest_nodes(network, frame.set_index("id").geometry),
                        "id": frame["id"].astype(str).to_numpy(),
                        "kind": layer.rstrip("s"),
                        "fixed": True,
                        "name": frame.get("name", frame["id"]).astype(str).to_numpy(),
                    }
                )
            )
    if len(places):
        nodes, ok = _place_nodes(network, locate_places(network, places))
        parts.append(
            pd.DataFrame(
                {
                    "node": nodes,
                    "id": places["id"].astype(str).to_numpy()[ok],
                    "kind": "key_place",
                    "fixed": False,
                    "name": places.get("name", places["id"]).astype(str).to_numpy()[ok],
                }
            )
        )
    sites = candidate_sites(
        network,
        spacing_m=opts.candidate_spacing_m,
        max_candidates=opts.max_candidates,
        seed=opts.seed,
    )
    sites["name"] = sites["id"]
    return pd.concat([*parts, sites], ignore_index=True)


def _risk_demand(ws: Workspace, network: StreetNetwork, opts: PlacementOptions) -> _Demand:
    risk = workspace_risk(ws, network, window=opts.risk_window, keep_pileups=opts.keep_pileups)
    weights = node_weights(network, risk.to_numpy())
    nodes = np.flatnonzero(weights > 0)
    if len(nodes) == 0:
        raise WorkspaceError(
            _(
                "workspace %(workspace)s has no incident risk on its streets to cover; import "
                "incidents or use --demand key_places",
                workspace=repr(ws.label),
            )
        )
    return _Demand(nodes, weights[nodes], [f"node:{n}" for n in nodes], None)


def _key_place_demand(
    ws: Workspace,
    network: StreetNetwork,
    places: gpd.GeoDataFrame,
    key: str,
    opts: PlacementOptions,
) -> _Demand:
    if len(places) == 0:
        raise WorkspaceError(
            _(
                "workspace %(workspace)s has no key places to cover; import a 'key_places' "
                "layer or use --demand risk",
                workspace=repr(ws.label),
            )
        )
    nodes, ok = _place_nodes(network, locate_places(network, places))
    if not ok.any():
        raise WorkspaceError(_("no key place lies within 100 m of a street of the network"))
    required = key_place_required_minutes(places, minutes_by_kind=opts.key_place_minutes)
    radius = (
        np.minimum(required.to_numpy()[ok] * 60.0, opts.minutes * 60.0)
        if key in _RADIUS_MODELS
        else None
    )
    ids = places["id"].astype(str).to_numpy()[ok].tolist()
    return _Demand(nodes, np.ones(len(nodes)), ids, radius)


def _post_ids(instance: PlacementInput, selected: np.ndarray) -> list[str]:
    """Existing posts and key places keep their ids; new intersection posts are numbered."""
    ids, count = [], 0
    for j in selected:
        if instance.candidate_kind[j] == "intersection":
            count += 1
            ids.append(f"new-post-{count}")
        else:
            ids.append(str(instance.candidate_ids[j]))
    return ids


def _weight_within(instance: PlacementInput, open_sites: np.ndarray, radius_s: float) -> float:
    """Demand weight with one of ``open_sites`` within ``radius_s``."""
    coo = instance.travel_time_s.tocsc()[:, np.asarray(open_sites, dtype=np.int64)].tocoo()
    reached = np.zeros(coo.shape[0], dtype=bool)
    reached[coo.row[coo.data <= radius_s]] = True
    return float(instance.weights[reached].sum())


def _duty_points(
    network: StreetNetwork,
    instance: PlacementInput,
    candidates: pd.DataFrame,
    selected: np.ndarray,
    assignment: np.ndarray,
) -> gpd.GeoDataFrame:
    covered = np.bincount(
        assignment[assignment >= 0],
        weights=instance.weights[assignment >= 0],
        minlength=len(instance.candidate_ids),
    )
    names = candidates.drop_duplicates("node").set_index("id")["name"].to_dict()
    nodes = instance.candidate_nodes[selected]
    points = gpd.GeoSeries(
        shapely.points(network.node_x[nodes], network.node_y[nodes]), crs=network.crs
    ).to_crs(STORAGE_CRS)
    fixed = set(instance.fixed.tolist())
    return gpd.GeoDataFrame(
        {
            "id": _post_ids(instance, selected),
            "name": [
                str(names.get(instance.candidate_ids[j], instance.candidate_ids[j]))
                for j in selected
            ],
            "kind": [instance.candidate_kind[j] for j in selected],
            "fixed": [bool(j in fixed) for j in selected],
            "covered_weight": np.round(covered[selected], 4),
            "node": nodes,
        },
        geometry=points.to_numpy(),
        crs=STORAGE_CRS,
    )


def _placement_kpis(
    ws: Workspace, opts: PlacementOptions, key: str, instance: PlacementInput, built: Any
) -> dict[str, Any]:
    n_fixed = len(instance.fixed)
    total = float(instance.weights.sum())
    radius_s = opts.minutes * 60.0
    # every model is judged by the same yardstick: weight within the radius of an open post
    within = _weight_within(instance, built.selected, radius_s)
    base = _weight_within(instance, instance.fixed, radius_s)
    return {
        "workspace": ws.name,
        "model": key,
        "demand": opts.demand,
        "mode": opts.mode,
        "minutes": opts.minutes,
        "posts_asked": opts.posts if key != "lscp" else None,
        "fixed": n_fixed,
        "opened": len(built.selected),
        "new_posts": int(len(built.selected) - n_fixed),
        "candidates": len(instance.candidate_ids),
        "demand_points": len(instance.demand_ids),
        "total_weight": round(total, 4),
        "objective": round(float(built.objective), 4),
        "greedy_objective": None
        if built.greedy_objective is None
        else round(float(built.greedy_objective), 4),
        "status": built.status.value,
        "gap": None if math.isnan(built.gap) else float(built.gap),
        "solve_time_s": round(built.solve_time_s, 3),
        "covered_weight": round(within, 4),
        "covered_share": round(within / total, 4) if total > 0 else None,
        "fixed_only_covered_share": round(base / total, 4) if total > 0 else None,
    }


def propose_posts(
    ws: Workspace, options: PlacementOptions | None = None, **changes: Any
) -> PlacementResult:
    """Place new duty points beside the existing stations and duty points.

    Parameters
    ----------
    ws
        The workspace.
    options
        Model, posts, radius, demand...; the defaults when None.
    **changes
        Fields of :class:`PlacementOptions` to change, e.g. ``posts=2``.

    Raises
    ------
    WorkspaceError
        If there is no demand of the chosen kind.
    RoutingError
        From the models: p above the candidates, demand out of reach (LSCP)...
    """
    opts = dataclasses.replace(options or PlacementOptions(), **changes)
    key = _check(opts)
    network = workspace_network(ws, opts.mode)
    radius_s = opts.minutes * 60.0
    places = points_layer(ws, "key_places")
    candidates = _candidates(ws, network, places, opts)
    demand = (
        _risk_demand(ws, network, opts)
        if opts.demand == "risk"
        else _key_place_demand(ws, network, places, key, opts)
    )
    by_radius = key in _RADIUS_MODELS
    instance = placement_input(
        network,
        demand_nodes=demand.nodes,
        candidates=candidates,
        weights=demand.weights,
        demand_ids=demand.ids,
        demand_radius_s=demand.radius_s,
        cutoff_s=radius_s if by_radius else max(4 * radius_s, 900.0),
    )
    p = None if key == "lscp" else len(instance.fixed) + opts.posts
    built = instance.build(key, p=p, radius_s=radius_s if by_radius else None)
    built.solve(time_limit_s=opts.time_limit_s)
    duty_points = _duty_points(network, instance, candidates, built.selected, built.assignment)
    return PlacementResult(
        duty_points=duty_points, kpis=_placement_kpis(ws, opts, key, instance, built)
    )


def save_proposed(ws: Workspace, result: PlacementResult, *, layer: str = PROPOSED_LAYER) -> None:
    """Store the proposed duty points as their own workspace layer.

    Raises
    ------
    WorkspaceError
        If ``layer`` would overwrite an input layer such as ``duty_points``.
    """
    from layers.schema import LAYERS

    if layer in LAYERS:
        raise WorkspaceError(
            _(
                "layer %(layer)s holds the user's data and is never overwritten; save "
                "proposals as %(proposed)s or another new name",
                layer=repr(layer),
                proposed=repr(PROPOSED_LAYER),
            )
        )
    ws.save({layer: result.duty_points.drop(columns=["node"])})
