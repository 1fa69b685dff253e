"""Street hotspots: incidents per street segment, the hot streets and their length share."""

from __future__ import annotations

from collections.abc import Iterable

import geopandas as gpd
import numpy as np

from layers.i18n import _
from routing.hotspots.inputs import (
    TIME_COLUMN,
    HotspotError,
    check_share,
    require_columns,
    require_points,
)
from routing.network import StreetNetwork
from routing.risk import weighted_incidents
from routing.snap import MAX_SNAP_DISTANCE_M


def street_scores(
    network: StreetNetwork,
    incidents: gpd.GeoDataFrame,
    *,
    preventable_only: bool = False,
    max_snap_distance_m: float = MAX_SNAP_DISTANCE_M,
) -> gpd.GeoDataFrame:
    """Incidents per street segment: counts, severity-weighted risk and risk per km.

    Incidents are snapped to the nearest segment (``routing.snap``); those farther than
    ``max_snap_distance_m`` are left out and counted in ``attrs["unsnapped"]``. The weight
    is ``routing.risk.weighted_incidents``'s (severity, 1 when missing), over every hour: select
    the time band first with :func:`select_incidents`.

    Parameters
    ----------
    network
        The street network.
    incidents
        Incident points with ``occurred_at`` (and ``severity``, ``preventable``).
    preventable_only
        Count only preventable incidents.
    max_snap_distance_m
        Snapping limit in metres.

    Returns
    -------
    geopandas.GeoDataFrame
        The network's segments (index ``segment``, network CRS) with ``incidents``,
        ``risk`` and ``risk_per_km``.
    """
    require_points(incidents, "incidents")
    if preventable_only:
        require_columns(incidents, ["preventable"], "incidents")
        incidents = incidents.loc[incidents["preventable"].fillna(False).astype(bool)]
        require_points(incidents, "incidents (preventable)")
    zone = str(getattr(incidents[TIME_COLUMN].dt, "tz", None) or "UTC")
    # One snapping pass gives both the count and the severity-weighted risk per segment.
    weighted = weighted_incidents(
        network,
        incidents,
        timezone=zone,
        half_life_days=None,
        reference_time=None,
        preventable_only=False,
        max_snap_distance_m=max_snap_distance_m,
    )
    segments = network.segments_gdf()
    n = network.n_segments
    segments["incidents"] = np.bincount(weighted.segment, minlength=n)
    segments["risk"] = np.bincount(weighted.segment, weights=weighted.weight, minlength=n)
    segments["risk_per_km"] = segments["risk"] / np.maximum(segments["length_m"], 1.0) * 1000
    segments.attrs["unsnapped"] = len(weighted.far)
    return segments


def hot_streets(
    scores: gpd.GeoDataFrame,
    *,
    length_share: float = 0.05,
    score: str = "risk_per_km",
) -> gpd.GeoDataFrame:
    """The top street segments by ``score`` up to ``length_share`` of the street length.

    Segments are taken best first until their length reaches the share (the last one may
    pass it); ties keep segment order.

    Returns
    -------
    geopandas.GeoDataFrame
        The chosen rows of ``scores``, best first, with ``rank`` from 1 and
        ``cumulative_length_share``.
    """
    check_share(length_share, "length_share")
    require_columns(scores, [score, "length_m"], "scores")
    ordered = scores.iloc[np.argsort(-scores[score].to_numpy(dtype=float), kind="stable")]
    cumulative = ordered["length_m"].cumsum() / ordered["length_m"].sum()
    k = int(np.searchsorted(cumulative.to_numpy(), length_share, side="left")) + 1
    chosen = ordered.iloc[:k].copy()
    chosen["rank"] = np.arange(1, len(chosen) + 1)
    chosen["cumulative_length_share"] = cumulative.iloc[:k].to_numpy()
    return chosen


def length_concentration(
    scores: gpd.GeoDataFrame,
    *,
    length_shares: Iterable[float] = (0.05, 0.10),
    value: str = "incidents",
) -> dict[float, float]:
    """Share of ``value`` on the densest ``length_shares`` of street length (the 80-20 view).

    Segments are ranked by ``value`` per metre; the concentration curve (cumulative length
    share against cumulative value share) is read by linear interpolation, so a share
    falling inside a segment counts that segment in proportion.

    Returns
    -------
    dict
        ``{length_share: value_share}``, e.g. ``{0.05: 0.41, 0.1: 0.58}``.
    """
    require_columns(scores, [value, "length_m"], "scores")
    length = scores["length_m"].to_numpy(dtype=float)
    amount = scores[value].to_numpy(dtype=float)
    if amount.sum() <= 0:
        raise HotspotError(
            _("'scores' has no %(value)s on any street; nothing to concentrate", value=value)
        )
    density = np.divide(amount, length, out=np.full(len(length), np.inf), where=length > 0)
    order = np.argsort(-density, kind="stable")
    x = np.concatenate([[0.0], np.cumsum(length[order]) / length.sum()])
    y = np.concatenate([[0.0], np.cumsum(amount[order]) / amount.sum()])
    result = {}
    for share in length_shares:
        check_share(share, "length_shares")
        result[float(share)] = float(np.interp(share, x, y))
    return result
