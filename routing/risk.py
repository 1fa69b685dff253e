"""Risk on street segments from incidents: per shift window, weekday, severity and recency.

Incidents are snapped to the nearest segment (far ones are left out and reported), weighted
by severity and by an optional recency half-life, and summed per segment. Risk belongs to
the street, so it is indexed by segment; an edge's risk is
``risk.to_numpy()[network.edge_segment]``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.sparse import csr_array

from layers.i18n import _, format_number
from routing.errors import RoutingError
from routing.network import StreetNetwork
from routing.snap import MAX_SNAP_DISTANCE_M, snap_points

logger = logging.getLogger(__name__)

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")


def _minute_of_day(value: str, argument: str) -> int:
    match = _CLOCK.match(str(value))
    if not match or int(match.group(1)) > 24 or int(match.group(2)) > 59:
        raise RoutingError(
            _(
                "'%(argument)s' should be a clock time like '22:00', got %(value)r",
                argument=argument,
                value=value,
            )
        )
    minutes = int(match.group(1)) * 60 + int(match.group(2))
    if minutes > 24 * 60:
        raise RoutingError(
            _(
                "'%(argument)s' should be at most '24:00', got %(value)r",
                argument=argument,
                value=value,
            )
        )
    return minutes


def _weekday_numbers(weekdays: Iterable[int | str] | None) -> set[int] | None:
    if weekdays is None:
        return None
    numbers = set()
    for day in weekdays:
        if isinstance(day, int | np.integer) and 0 <= int(day) <= 6:
            numbers.add(int(day))
        elif isinstance(day, str) and day.strip().lower()[:3] in _DAYS:
            numbers.add(_DAYS.index(day.strip().lower()[:3]))
        else:
            raise RoutingError(
                _(
                    "'weekdays' should hold 0 (Monday) to 6 (Sunday) or day names, got %(value)r",
                    value=day,
                )
            )
    return numbers


def shift_mask(
    local_time: pd.Series,
    *,
    window: tuple[str, str] | None,
    weekdays: Iterable[int | str] | None = None,
) -> NDArray[np.bool_]:
    """Which local times fall in the shift window on the chosen weekdays.

    A window whose end is not after its start crosses midnight (``("22:00", "06:00")``);
    equal ends mean the whole day. The weekday is the day the shift *started*: 02:00 on a
    Saturday belongs to Friday's night shift.

    Parameters
    ----------
    local_time
        Timezone-aware or naive local times.
    window
        ``(start, end)`` clock times, or ``None`` for the whole day.
    weekdays
        Shift start days (0 = Monday ... 6 = Sunday, or names), ``None`` for every day.
    """
    minute = (local_time.dt.hour * 60 + local_time.dt.minute).to_numpy()
    day = local_time.dt.day_of_week.to_numpy()
    if window is None:
        inside = np.ones(len(minute), dtype=bool)
        start_day = day
    else:
        start = _minute_of_day(window[0], "window")
        end = _minute_of_day(window[1], "window")
        if start < end:
            inside = (minute >= start) & (minute < end)
            start_day = day
        else:
            late = minute >= start
            early = minute < end
            inside = late | early
            # after midnight the shift began the day before
            start_day = np.where(early & ~late, (day - 1) % 7, day)
    days = _weekday_numbers(weekdays)
    if days is not None:
        inside &= np.isin(start_day, sorted(days))
    return np.asarray(inside, dtype=bool)


def _utc(value: pd.Timestamp | str) -> pd.Timestamp:
    """A timestamp in UTC; naive values are taken as UTC, like stored incident times."""
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


@dataclass(frozen=True)
class WeightedIncidents:
    """Incidents snapped to segments with their weights and local times."""

    segment: NDArray[np.int64]
    weight: NDArray[np.float64]
    local_time: pd.Series
    far: pd.Index


def weighted_incidents(
    network: StreetNetwork,
    incidents: gpd.GeoDataFrame,
    *,
    timezone: str,
    half_life_days: float | None,
    reference_time: pd.Timestamp | str | None,
    preventable_only: bool,
    max_snap_distance_m: float,
) -> WeightedIncidents:
    if not isinstance(incidents, gpd.GeoDataFrame):
        raise RoutingError(f"'incidents' should be a GeoDataFrame, got {type(incidents).__name__}")
    if "occurred_at" not in incidents.columns:
        raise RoutingError(
            _(
                "'incidents' has no 'occurred_at' column; map the incident time field to it on import"
            )
        )
    if half_life_days is not None and not half_life_days > 0:
        raise RoutingError(_("'half_life_days' should be > 0, got %(value)r", value=half_life_days))
    occurred = pd.to_datetime(incidents["occurred_at"], utc=True)
    keep = occurred.notna().to_numpy(copy=True)
    if not keep.all():
        logger.warning("%s incidents have no time and are left out", f"{(~keep).sum():,}")
    if preventable_only:
        if "preventable" in incidents.columns:
            keep &= incidents["preventable"].fillna(False).astype(bool).to_numpy()
        else:
            logger.info("incidents have no 'preventable' column: every incident counts")
    if "severity" in incidents.columns:
        severity = pd.to_numeric(incidents["severity"], errors="coerce")
        out_of_range = severity.notna() & ~severity.between(1, 5)
        if out_of_range.any():
            raise RoutingError(
                _(
                    "'incidents' severity should be 1 to 5, got %(value)s on %(n)s incident(s); "
                    "fix the category severities",
                    value=severity[out_of_range].iloc[0],
                    n=format_number(int(out_of_range.sum())),
                )
            )
        weight = severity.fillna(1.0).to_numpy(dtype=float)
    else:
        weight = np.ones(len(incidents))
    if half_life_days is not None or reference_time is not None:
        reference = occurred[keep].max() if reference_time is None else _utc(reference_time)
        age_days = ((reference - occurred) / pd.Timedelta(days=1)).to_numpy(dtype=float)
        future = np.nan_to_num(age_days, nan=0.0) < 0
        if (future & keep).any():
            logger.info(
                "%s incidents after the reference time are left out", f"{(future & keep).sum():,}"
            )
        keep &= ~future
        if half_life_days is not None:
            weight = weight * np.power(0.5, np.nan_to_num(age_days, nan=0.0) / half_life_days)

    chosen = incidents[keep]
    snapped = snap_points(network, chosen.geometry, max_distance_m=max_snap_distance_m)
    ok = snapped["snapped"].to_numpy()
    local = occurred[keep][ok].dt.tz_convert(timezone)
    return WeightedIncidents(
        segment=snapped["segment"].to_numpy()[ok],
        weight=weight[keep][ok],
        local_time=local,
        far=chosen.index[~ok],
    )


def _smooth(network: StreetNetwork, risk: NDArray[np.float64], share: float) -> NDArray[np.float64]:
    """Move ``share`` of every segment's risk evenly onto the segments touching it."""
    n = network.n_segments
    seg = np.arange(n)
    incidence = csr_array(
        (
            np.ones(2 * n),
            (np.concatenate([seg, seg]), np.concatenate([network.segment_u, network.segment_v])),
        ),
        shape=(n, network.n_nodes),
    )
    adjacency = (incidence @ incidence.T).tocoo()
    off = adjacency.row != adjacency.col
    rows, cols = adjacency.row[off], adjacency.col[off]
    degree = np.bincount(rows, minlength=n).astype(float)
    spread = np.where(degree > 0, share, 0.0)
    given = risk * spread
    received = np.bincount(cols, weights=(given / np.maximum(degree, 1))[rows], minlength=n)
    return risk - given + received


def segment_risk(
    network: StreetNetwork,
    incidents: gpd.GeoDataFrame,
    *,
    window: tuple[str, str] | None = ("22:00", "06:00"),
    weekdays: Iterable[int | str] | None = None,
    timezone: str = "UTC",
    half_life_days: float | None = None,
    reference_time: pd.Timestamp | str | None = None,
    preventable_only: bool = True,
    max_snap_distance_m: float = MAX_SNAP_DISTANCE_M,
    smoothing: float = 0.0,
) -> pd.Series:
    """Risk of every street segment for a shift.

    Parameters
    ----------
    network
        The street network.
    incidents
        Points with ``occurred_at`` (UTC datetimes) and, optionally, ``severity`` (1-5,
        the weight; 1 when missing) and ``preventable``.
    window
        Shift clock times ``(start, end)`` in ``timezone``; may cross midnight. ``None``
        keeps every hour.
    weekdays
        Days the shift starts on (0 = Monday, or names); ``None`` for every day.
    timezone
        IANA time zone of the workspace, for the window and the weekdays.
    half_life_days
        An incident this many days older than ``reference_time`` weighs half as much.
    reference_time
        The time risk is computed for (default: the latest incident). Later incidents are
        left out.
    preventable_only
        Count only ``preventable`` incidents (robbery, snatching, theft, burglary...).
    max_snap_distance_m
        Incidents farther than this from every street are left out and reported.
    smoothing
        Share (0..1) of each segment's risk spread evenly to the segments touching it.

    Returns
    -------
    Series
        ``risk`` indexed by segment. ``attrs["far_incidents"]`` lists the incidents left
        out for being far from the streets; ``attrs["incidents"]`` counts those used.

    Raises
    ------
    RoutingError
        On a missing ``occurred_at``, a bad window, weekday, severity or smoothing share.
    """
    if not 0.0 <= smoothing <= 1.0:
        raise RoutingError(
            _("'smoothing' should be a share from 0 to 1, got %(value)r", value=smoothing)
        )
    weighted = weighted_incidents(
        network,
        incidents,
        timezone=timezone,
        half_life_days=half_life_days,
        reference_time=reference_time,
        preventable_only=preventable_only,
        max_snap_distance_m=max_snap_distance_m,
    )
    inside = shift_mask(weighted.local_time, window=window, weekdays=weekdays)
    risk = np.bincount(
        weighted.segment[inside], weights=weighted.weight[inside], minlength=network.n_segments
    ).astype(float)
    if smoothing > 0:
        risk = _smooth(network, risk, smoothing)
    logger.info(
        "risk from %s incidents in the shift on %s segments (%s far from streets left out)",
        f"{inside.sum():,}",
        f"{(risk > 0).sum():,}",
        f"{len(weighted.far):,}",
    )
    series = pd.Series(risk, index=pd.RangeIndex(network.n_segments, name="segment"), name="risk")
    series.attrs["far_incidents"] = weighted.far.tolist()
    series.attrs["incidents"] = int(inside.sum())
    return series


def segment_risk_by_hour(
    network: StreetNetwork,
    incidents: gpd.GeoDataFrame,
    *,
    weekdays: Iterable[int | str] | None = None,
    timezone: str = "UTC",
    half_life_days: float | None = None,
    reference_time: pd.Timestamp | str | None = None,
    preventable_only: bool = True,
    max_snap_distance_m: float = MAX_SNAP_DISTANCE_M,
) -> NDArray[np.float64]:
    """Risk of every segment in every local hour of the day.

    Same weighting as :func:`segment_risk`; the weekday filter applies to the calendar day
    of each incident.

    Returns
    -------
    ndarray
        Shape ``(n_segments, 24)``: column ``h`` holds the risk of incidents between
        ``h:00`` and ``h:59`` local time.
    """
    weighted = weighted_incidents(
        network,
        incidents,
        timezone=timezone,
        half_life_days=half_life_days,
        reference_time=reference_time,
        preventable_only=preventable_only,
        max_snap_distance_m=max_snap_distance_m,
    )
    inside = shift_mask(weighted.local_time, window=None, weekdays=weekdays)
    hour = weighted.local_time.dt.hour.to_numpy()
    flat = np.bincount(
        weighted.segment[inside] * 24 + hour[inside],
        weights=weighted.weight[inside],
        minlength=network.n_segments * 24,
    )
    return np.asarray(flat, dtype=float).reshape(network.n_segments, 24)
