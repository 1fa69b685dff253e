"""Reach bands (快反圈): the area reached within 1, 3, 5 minutes from stations and posts.

:func:`reach_bands` is the one computation of the bands and their KPIs; the coverage
service and ``gisapp reach`` (:func:`compute_reach`) both call it, so a band has the same
polygon and figures whichever door asked.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np

from gisapp.services.coverage_inputs import (
    points_layer,
    response_sources,
    segment_residents,
    workspace_risk,
)
from gisapp.services.network import workspace_network
from gisapp.store.geopackage import Workspace
from layers.i18n import _
from layers.schema import STORAGE_CRS
from routing.coverage import coverage_segments, locate_places, place_times
from routing.errors import RoutingError
from routing.network import StreetNetwork
from routing.reach import isochrones, reach_nodes
from routing.snap import nearest_nodes

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReachBands:
    """Reach polygons and their figures, one per minute band.

    Attributes
    ----------
    bands
        EPSG:4326: ``minutes``, ``reached_km``, ``reached_segments``, ``area_km2`` and the
        polygon (reached streets buffered, never a convex hull).
    kpis
        Per band: ``minutes``, ``reached_km``, ``street_share``, ``risk_share``
        and ``key_places_share`` (None without risk or key places), ``area_km2``.
    """

    bands: gpd.GeoDataFrame
    kpis: list[dict[str, Any]]


def check_minutes(minutes: Sequence[float]) -> list[float]:
    """The bands sorted, without repeats.

    Raises
    ------
    RoutingError
        If there is none, or one is not positive.
    """
    bands = sorted({float(m) for m in minutes})
    if not bands or bands[0] <= 0:
        raise RoutingError(
            _(
                "minutes should be positive numbers like 1,3,5, got %(minutes)s",
                minutes=repr(list(minutes)),
            )
        )
    return bands


def _share(part: float, total: float) -> float | None:
    return round(part / total, 4) if total > 0 else None


def reach_bands(
    network: StreetNetwork,
    source_nodes: np.ndarray,
    *,
    minutes: Sequence[float],
    buffer_m: float = 25.0,
    risk: np.ndarray | None = None,
    place_s: np.ndarray | None = None,
    residents: np.ndarray | None = None,
) -> ReachBands:
    """Reach polygons and KPIs of every band from ``source_nodes``.

    Parameters
    ----------
    network
        The street network.
    source_nodes
        Nodes the reach starts from (stations, posts).
    minutes
        The bands.
    buffer_m
        Half-width of the polygons around the reached streets.
    risk
        Risk per segment; the risk share is None without it (or when it is all zero).
    place_s
        Seconds to reach every key place; the key-place share is None without it.
    residents
        Residents per segment (:func:`~gisapp.services.coverage_inputs.segment_residents`);
        the residents' share is None without them.

    Raises
    ------
    RoutingError
        If a band is not positive.
    """
    bands_min = check_minutes(minutes)
    frame = isochrones(network, source_nodes, minutes=bands_min, buffer_m=buffer_m)
    reach = reach_nodes(network, source_nodes, cutoff_s=bands_min[-1] * 60.0)
    weights = np.zeros(network.n_segments) if risk is None else np.asarray(risk, dtype=float)
    total_risk = float(weights.sum())
    total_m = network.length_km * 1000.0
    people = None if residents is None else np.asarray(residents, dtype=float)
    kpis = []
    for band, row in zip(bands_min, frame.itertuples(), strict=True):
        seg = coverage_segments(network, reach, required_s=band * 60.0, weights=weights)
        reached_m = float(seg["reached_length_m"].sum())
        kpis.append(
            {
                "minutes": band,
                "reached_km": round(reached_m / 1000, 3),
                "street_share": _share(reached_m, total_m),
                "risk_share": _share(float(seg["covered_weight"].sum()), total_risk),
                "key_places_share": round(float(np.mean(place_s <= band * 60.0)), 4)
                if place_s is not None and len(place_s)
                else None,
                "residents_share": None
                if people is None
                else _share(float(people @ seg["reached_fraction"].to_numpy()), people.sum()),
                "area_km2": round(float(row.area_km2), 4),
            }
        )
    return ReachBands(bands=frame.to_crs(STORAGE_CRS), kpis=kpis)


# -- gisapp reach ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReachOptions:
    """What ``gisapp reach`` asks.

    Attributes
    ----------
    from_layer
        Point layer the reach starts from.
    minutes
        The bands.
    buffer_m
        Half-width of the polygons around the streets.
    mode
        Travel mode.
    node_tolerance_m
        Line ends closer than this are joined.
    risk_window
        Shift window of the risk (``("22:00", "06:00")``), None for every hour.
    keep_pileups
        Weigh the incidents at pile-ups (a reporting desk's) in the risk too.
    """

    from_layer: str = "stations"
    minutes: tuple[float, ...] = (1.0, 3.0, 5.0)
    buffer_m: float = 25.0
    mode: str = "car"
    node_tolerance_m: float = 0.5
    risk_window: tuple[str, str] | None = None
    keep_pileups: bool = False


@dataclass(frozen=True)
class ReachResult:
    """Reach bands from one point layer, and the figures of its ``kpis.json``."""

    bands: gpd.GeoDataFrame
    kpis: dict[str, Any] = field(default_factory=dict)
    network_km: float = 0.0


def compute_reach(ws: Workspace, options: ReachOptions | None = None) -> ReachResult:
    """Reach bands from the points of one layer of ``ws``, with the coverage KPIs.

    Raises
    ------
    WorkspaceError
        If the layer is missing or holds no points, or the workspace has no roads.
    RoutingError
        If a band is not positive.
    """
    opts = options or ReachOptions()
    check_minutes(opts.minutes)
    if not opts.buffer_m > 0:
        raise RoutingError(
            _("the buffer should be > 0 metres, got %(buffer)s", buffer=repr(opts.buffer_m))
        )
    network = workspace_network(ws, opts.mode, node_tolerance_m=opts.node_tolerance_m)
    sources = response_sources(ws, layers=(opts.from_layer,))
    nodes = np.asarray(nearest_nodes(network, sources.set_index("id").geometry))
    risk = workspace_risk(
        ws, network, window=opts.risk_window, keep_pileups=opts.keep_pileups
    ).to_numpy()
    places = points_layer(ws, "key_places")
    place_s = None
    if len(places):
        reach = reach_nodes(network, nodes)
        place_s = place_times(network, reach, locate_places(network, places.to_crs(STORAGE_CRS)))
    residents = segment_residents(ws, network)
    bands = reach_bands(
        network,
        nodes,
        minutes=opts.minutes,
        buffer_m=opts.buffer_m,
        risk=risk,
        place_s=place_s,
        residents=None if residents is None else residents[0],
    )
    kpis: dict[str, Any] = {
        "workspace": ws.name,
        "mode": opts.mode,
        "sources_layer": opts.from_layer,
        "sources": len(sources),
        "network_km": round(network.length_km, 3),
        "buffer_m": opts.buffer_m,
        "bands": bands.kpis,
        "residents_measure": None if residents is None else residents[1],
    }
    return ReachResult(bands=bands.bands, kpis=kpis, network_km=network.length_km)
