"""Hotspots from street risk: hour-band smoothing, the hours of a shift, the riskiest places."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

from layers.i18n import _
from routing.errors import RoutingError
from routing.network import StreetNetwork
from routing.patrol.inputs import HOUR_S, Hotspots


def hour_band_risk(
    risk_by_hour: NDArray[np.float64], *, shrink: float = 0.5
) -> NDArray[np.float64]:
    """Hourly risk for planning: hour bands, shrunk toward each place's daily mean.

    One month of incidents gives a few counts per place and hour, mostly noise. Each
    hour's risk is first taken over its band (weights 1/4, 1/2, 1/4 on hours h-1, h, h+1,
    wrapping at midnight), then ``shrink`` of it is replaced by the place's mean over the
    day, so a risky place keeps some risk in every hour while its busy hours still stand
    out. The total over the day is unchanged.

    Parameters
    ----------
    risk_by_hour
        Shape ``(n, 24)``, e.g. from ``routing.risk.segment_risk_by_hour``.
    shrink
        Share (0..1) of every hour's risk spread evenly over the day; 0 keeps the bands.
    """
    risk = np.asarray(risk_by_hour, dtype=float)
    if risk.ndim != 2 or risk.shape[1] != 24:
        raise RoutingError(f"'risk_by_hour' should have shape (n, 24), got {risk.shape}")
    if not 0 <= shrink <= 1:
        raise RoutingError(_("'shrink' should be a share from 0 to 1, got %(value)r", value=shrink))
    band = 0.5 * risk + 0.25 * np.roll(risk, 1, axis=1) + 0.25 * np.roll(risk, -1, axis=1)
    return (1.0 - shrink) * band + shrink * band.mean(axis=1, keepdims=True)


def shift_hours(shift_start_s: int, duration_s: float) -> list[int]:
    """Local clock hours a shift touches, in order (``22:00`` for 8 h gives 22, 23, 0..5)."""
    first = shift_start_s // HOUR_S
    last = math.ceil((shift_start_s + duration_s) / HOUR_S)
    return [h % 24 for h in range(first, max(last, first + 1))]


#: Segments matched to the hotspot centres at once once every hotspot is started.
_BLOCK = 4096


def _nearest_centre(
    centres: NDArray[np.float64], xy: NDArray[np.float64]
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """For each point of ``xy``: the nearest of ``centres`` (the first on a tie) and its
    distance (``inf`` without centres)."""
    if not len(centres):
        return np.zeros(len(xy), dtype=np.int64), np.full(len(xy), np.inf)
    dist = np.hypot(xy[:, None, 0] - centres[None, :, 0], xy[:, None, 1] - centres[None, :, 1])
    nearest = dist.argmin(axis=1)
    return nearest, dist[np.arange(len(xy)), nearest]


def select_hotspots(
    network: StreetNetwork,
    risk_by_hour: NDArray[np.float64],
    *,
    hours: Sequence[int],
    n_hotspots: int,
    segment_mask: NDArray[np.bool_] | None = None,
    merge_distance_m: float = 150.0,
) -> Hotspots:
    """Hotspots from the riskiest street segments of a shift.

    Segments are taken by their risk over ``hours``, highest first; one within
    ``merge_distance_m`` of a hotspot already chosen is merged into it (its hourly risk is
    added), otherwise it starts a new hotspot while fewer than ``n_hotspots`` exist. A
    hotspot lies at the middle of its riskiest segment and is named after that street.

    Parameters
    ----------
    network
        The network the risk is on.
    risk_by_hour
        Shape ``(n_segments, 24)``, e.g. :func:`hour_band_risk` of
        ``routing.risk.segment_risk_by_hour``.
    hours
        Local clock hours of the shift.
    n_hotspots
        Largest number of hotspots.
    segment_mask
        Segments that may hold hotspots (e.g. inside the units' grids); all by default.
    merge_distance_m
        Segments this close to a hotspot are part of it.

    Raises
    ------
    RoutingError
        If ``risk_by_hour`` does not match the network or ``n_hotspots`` < 1.
    """
    risk = np.asarray(risk_by_hour, dtype=float)
    if risk.shape != (network.n_segments, 24):
        raise RoutingError(
            f"'risk_by_hour' should have shape ({network.n_segments}, 24) for this network, "
            f"got {risk.shape}"
        )
    if n_hotspots < 1:
        raise RoutingError(_("'n_hotspots' should be >= 1, got %(value)r", value=n_hotspots))
    shift_risk = risk[:, sorted(set(hours))].sum(axis=1)
    usable = shift_risk > 0
    if segment_mask is not None:
        usable &= np.asarray(segment_mask, dtype=bool)
    order = np.flatnonzero(usable)
    # ties broken by segment number, so the choice is reproducible
    order = order[np.lexsort((order, -shift_risk[order]))]
    mid = shapely.line_interpolate_point(network.segment_geometry[order], 0.5, normalized=True)
    mid_xy = shapely.get_coordinates(mid)
    centres = np.empty((n_hotspots, 2))
    members: list[list[int]] = []
    k = 0
    while k < len(order) and len(members) < n_hotspots:
        nearest, dist = _nearest_centre(centres[: len(members)], mid_xy[k : k + 1])
        if len(members) and dist[0] <= merge_distance_m:
            members[int(nearest[0])].append(int(order[k]))
        else:
            centres[len(members)] = mid_xy[k]
            members.append([int(order[k])])
        k += 1
    # every hotspot is started: the centres stay put, and each of the other segments joins
    # the nearest one within reach, in the same order (searched a block at a time)
    for start in range(k, len(order), _BLOCK):
        nearest, dist = _nearest_centre(centres[: len(members)], mid_xy[start : start + _BLOCK])
        for i in np.flatnonzero(dist <= merge_distance_m):
            members[int(nearest[i])].append(int(order[start + i]))
    xy = centres[: len(members)]
    # the first named street among the merged ones; "" when none has a name (the caller
    # names such a stop from its own layers, e.g. by its grid)
    names = np.array(
        [
            next((network.segment_name[s] for s in m if network.segment_name[s]), "")
            for m in members
        ],
        dtype=object,
    )
    return Hotspots(
        x=xy[:, 0].copy(),
        y=xy[:, 1].copy(),
        crs=network.crs,
        risk_by_hour=np.array([risk[m].sum(axis=0) for m in members]).reshape(-1, 24),
        name=names,
        segments=tuple(np.asarray(m, dtype=np.int64) for m in members),
    )


def select_hotspots_by_area(
    network: StreetNetwork,
    risk_by_hour: NDArray[np.float64],
    *,
    hours: Sequence[int],
    areas: Sequence[Any],
    n_hotspots: int,
    min_per_area: int,
    merge_distance_m: float,
) -> Hotspots:
    """The shift's hotspots inside the units' areas, with a few for every area left out.

    The top ``n_hotspots`` are chosen among the streets inside the union of ``areas``
    (everywhere when any area is ``None``); an area holding none of them gets its own top
    ``min_per_area``, so no unit is sent out with nothing to do in its grids. Hotspots
    within ``merge_distance_m`` of an earlier one are dropped.

    Parameters
    ----------
    network
        The reference street network (metric CRS).
    risk_by_hour
        Risk per segment and hour band (see :func:`hour_band_risk`).
    hours
        The shift's hours.
    areas
        One allowed area (a polygon in the network's CRS) per unit, or ``None`` for a unit
        free to go anywhere.
    n_hotspots, min_per_area, merge_distance_m
        How many hotspots overall, at least per area left out, and their merge distance.
    """
    mid = shapely.line_interpolate_point(network.segment_geometry, 0.5, normalized=True)
    mid_xy = shapely.get_coordinates(mid)
    segment_mask = None
    if not any(a is None for a in areas):
        union = shapely.union_all(list(areas))
        segment_mask = shapely.contains_xy(union, mid_xy[:, 0], mid_xy[:, 1])
    parts = [
        select_hotspots(
            network,
            risk_by_hour,
            hours=hours,
            n_hotspots=n_hotspots,
            segment_mask=segment_mask,
            merge_distance_m=merge_distance_m,
        )
    ]
    for area in areas:
        if area is None:
            continue
        if len(parts[0]) and shapely.contains_xy(area, parts[0].x, parts[0].y).any():
            continue
        own = shapely.contains_xy(area, mid_xy[:, 0], mid_xy[:, 1])
        if own.any():
            parts.append(
                select_hotspots(
                    network,
                    risk_by_hour,
                    hours=hours,
                    n_hotspots=min_per_area,
                    segment_mask=own,
                    merge_distance_m=merge_distance_m,
                )
            )
    found = [p for p in parts if len(p)]
    return merge_hotspots(found, merge_distance_m=merge_distance_m) if found else parts[0]


def merge_hotspots(parts: Sequence[Hotspots], *, merge_distance_m: float) -> Hotspots:
    """Join hotspot sets, dropping any hotspot within ``merge_distance_m`` of an earlier one."""
    keep_x: list[float] = []
    keep_y: list[float] = []
    risk: list[NDArray[np.float64]] = []
    names: list[Any] = []
    segments: list[NDArray[np.int64]] = []
    for part in parts:
        for i in range(len(part)):
            if (
                keep_x
                and np.hypot(np.asarray(keep_x) - part.x[i], np.asarray(keep_y) - part.y[i]).min()
                <= merge_distance_m
            ):
                continue
            keep_x.append(float(part.x[i]))
            keep_y.append(float(part.y[i]))
            risk.append(part.risk_by_hour[i])
            names.append(part.name[i])
            segments.append(part.segments[i] if part.segments else np.empty(0, dtype=np.int64))
    return Hotspots(
        x=np.asarray(keep_x),
        y=np.asarray(keep_y),
        crs=parts[0].crs,
        risk_by_hour=np.asarray(risk).reshape(-1, 24),
        name=np.asarray(names, dtype=object),
        segments=tuple(segments),
    )
