"""Where patrol units are over time, along their route lines.

A plan gives every unit a route line and a timetable of stops (arrive / depart times). A
unit moves along its line at even speed between two timed stops and stays put while it
dwells. :func:`unit_tracks` turns the line and the timetable into a :class:`UnitTrack`
(distance along the line against time); :func:`sample_tracks` gives every unit's position
at regular instants, as :func:`routing.coverage.coverage_by_hour` expects them.

Lines and stop coordinates are in one metric CRS (the network's); times are time-zone
aware timestamps (or ISO 8601 text with an offset).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
import shapely.ops
from numpy.typing import ArrayLike, NDArray

from layers.i18n import _
from routing.errors import RoutingError

#: A stop lies on a vertex of its unit's route line: nearer than this it is that vertex.
ON_ROUTE_M = 1.0
_EPOCH = pd.Timestamp(0, tz="UTC")
_STOP_COLUMNS = ("unit_id", "x", "y", "arrive", "depart")


@dataclass(frozen=True)
class UnitTrack:
    """A unit's route line and the distance along it at its timed stops.

    Attributes
    ----------
    unit_id
        The unit.
    line
        The route line, metric CRS.
    times_s
        Epoch seconds (UTC), non-decreasing.
    distance_m
        Distance along ``line`` at each of ``times_s``.
    """

    unit_id: str
    line: shapely.LineString
    times_s: NDArray[np.float64]
    distance_m: NDArray[np.float64]

    @property
    def start_s(self) -> float:
        """First instant of the track, epoch seconds."""
        return float(self.times_s[0])

    @property
    def end_s(self) -> float:
        """Last instant of the track, epoch seconds."""
        return float(self.times_s[-1])

    def distance_at(self, times_s: ArrayLike) -> NDArray[np.float64]:
        """Distance along the line at ``times_s`` (clamped to the track's first and last)."""
        return np.interp(np.asarray(times_s, dtype=float), self.times_s, self.distance_m)

    def points_at(self, times_s: ArrayLike) -> NDArray[np.object_]:
        """The unit's positions (shapely points) at ``times_s``."""
        return np.asarray(shapely.line_interpolate_point(self.line, self.distance_at(times_s)))

    def path_between(self, start_s: float, end_s: float) -> shapely.LineString | None:
        """The piece of line the unit covers from ``start_s`` to ``end_s``, or None when it
        does not move then (or is not out)."""
        if self.end_s < start_s or self.start_s > end_s:
            return None
        d0, d1 = self.distance_at([start_s, end_s])
        piece = shapely.ops.substring(self.line, float(d0), float(d1))
        if isinstance(piece, shapely.LineString) and piece.length > 0:
            return piece
        return None


def epoch_seconds(values: pd.Series) -> NDArray[np.float64]:
    """Epoch seconds of aware timestamps or ISO 8601 text with offsets (NaN where none).

    Raises
    ------
    RoutingError
        If the times carry no time zone.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        times = pd.Series(values)
        if times.dt.tz is None and times.isna().all():
            return np.full(len(times), np.nan)
        if times.dt.tz is None:
            raise RoutingError(_("stop times have no time zone; give ISO 8601 with an offset"))
        times = times.dt.tz_convert("UTC")
    else:
        text = pd.Series(values, dtype=object)
        blank = text.isna() | text.astype(str).str.strip().isin(["", "NaT", "nan", "None"])
        times = pd.to_datetime(text.where(~blank), utc=True, errors="coerce", format="ISO8601")
        if (times.isna() & ~blank).any():
            raise RoutingError(
                _("some stop times are not ISO 8601 timestamps, e.g. 2026-05-01T22:15:00+08:00")
            )
    seconds = (times - _EPOCH) / pd.Timedelta(seconds=1)
    return np.asarray(seconds.to_numpy(dtype=float, na_value=np.nan), dtype=float)


def _along(line: shapely.LineString) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    coords = shapely.get_coordinates(line)
    steps = np.hypot(*np.diff(coords, axis=0).T) if len(coords) > 1 else np.empty(0)
    return coords, np.concatenate([[0.0], np.cumsum(steps)])


def _stop_distances(
    line: shapely.LineString, xy: NDArray[np.float64], on_route_m: float
) -> NDArray[np.float64]:
    """Distance along ``line`` of each stop, in order.

    Stops and turn waypoints are network nodes, hence vertices of the route line: each is
    matched to the first vertex at or after the previous stop's, so a route that passes a
    place twice is followed in order.
    """
    coords, along = _along(line)
    distance = np.empty(len(xy))
    first = 0
    for k, point in enumerate(xy):
        gap = np.hypot(*(coords[first:] - point).T)
        near = np.flatnonzero(gap <= on_route_m)
        j = first + int(near[0] if len(near) else np.argmin(gap))
        distance[k] = along[j]
        first = j
    return distance


def _one_track(
    unit_id: str,
    rows: pd.DataFrame,
    line: shapely.LineString | None,
    window_s: tuple[float, float] | None,
    on_route_m: float,
) -> UnitTrack:
    arrive = epoch_seconds(rows["arrive"])
    depart = epoch_seconds(rows["depart"])
    # a stop with one time only (the station's arrival is often empty) is there at that time
    arrive = np.where(np.isnan(arrive), depart, arrive)
    depart = np.where(np.isnan(depart), arrive, depart)
    timed = ~np.isnan(arrive)
    if not timed.any():
        raise RoutingError(
            _("unit %(unit)r has no stop with an arrive or depart time", unit=unit_id)
        )
    xy = rows[["x", "y"]].to_numpy(dtype=float)
    if line is None or line.is_empty or line.length <= 0:
        # a unit that never leaves: its first stop all shift
        line = shapely.LineString([xy[0], xy[0]])
    distance = _stop_distances(line, xy, on_route_m)[timed]
    times = np.column_stack([arrive[timed], depart[timed]]).reshape(-1)
    distances = np.repeat(distance, 2)
    if window_s is not None and window_s[0] < times[0]:
        times = np.concatenate([[window_s[0]], times])
        distances = np.concatenate([[distances[0]], distances])
    if window_s is not None and times[-1] < window_s[1]:
        times = np.concatenate([times, [window_s[1]]])
        distances = np.concatenate([distances, [distances[-1]]])
    return UnitTrack(
        unit_id=unit_id,
        line=line,
        times_s=np.maximum.accumulate(times),
        distance_m=distances,
    )


def unit_tracks(
    stops: pd.DataFrame,
    lines: Mapping[str, shapely.LineString],
    *,
    window: tuple[pd.Timestamp, pd.Timestamp] | None = None,
    on_route_m: float = ON_ROUTE_M,
) -> list[UnitTrack]:
    """Timed distances along every unit's route line, from a plan's timetable.

    Parameters
    ----------
    stops
        One row per stop: ``unit_id``, ``seq`` (order; the row order when absent), ``x``,
        ``y`` (the lines' CRS), ``arrive`` and ``depart`` (aware timestamps or ISO 8601
        text; a missing one is taken from the other, a stop with neither is passed by).
    lines
        Route line per unit id. A unit without one stays at its first stop.
    window
        The shift's start and end: a unit is on duty the whole shift, waiting where its
        route starts before its first departure and where it ends after its return.
    on_route_m
        A stop nearer than this to a vertex of the line lies on that vertex.

    Returns
    -------
    list of UnitTrack
        One per unit, by unit id.

    Raises
    ------
    RoutingError
        If a column is missing, a time is unreadable or a unit has no timed stop.
    """
    missing = [c for c in _STOP_COLUMNS if c not in stops.columns]
    if missing:
        raise RoutingError(
            _(
                "'stops' lacks column(s) %(missing)s; give unit_id, seq, x, y, arrive, depart "
                "(one row per stop of a unit)",
                missing=", ".join(missing),
            )
        )
    if len(stops) == 0:
        raise RoutingError(_("'stops' is empty: a plan needs at least one timed stop"))
    window_s = None
    if window is not None:
        bounds = epoch_seconds(pd.Series(list(window)))
        window_s = (float(bounds[0]), float(bounds[1]))
    units = stops["unit_id"].astype(str)
    order = ["seq"] if "seq" in stops.columns else []
    tracks = []
    for unit, rows in stops.groupby(units, sort=True):
        rows = rows.sort_values(order, kind="stable") if order else rows
        tracks.append(_one_track(str(unit), rows, lines.get(str(unit)), window_s, on_route_m))
    return tracks


def sample_tracks(
    tracks: Sequence[UnitTrack],
    *,
    step_s: float = 60.0,
    end: pd.Timestamp | None = None,
    timezone: str = "UTC",
) -> pd.DataFrame:
    """Each unit's position every ``step_s`` seconds along its route line.

    Instants are multiples of ``step_s`` from the first track's start (floored); a unit
    counts only between its first and last time. Sampling stops before ``end`` (the
    shift's end, excluded), or at the last time of a route that returns later.

    Parameters
    ----------
    tracks
        From :func:`unit_tracks`.
    step_s
        Sampling interval.
    end
        The shift's end; None: the last time of any track, included.
    timezone
        Time zone of the returned times.

    Returns
    -------
    DataFrame
        ``time`` (aware, in ``timezone``), ``unit_id``, ``x``, ``y`` (the lines' CRS),
        sorted by time then unit.

    Raises
    ------
    RoutingError
        If there is no track or ``step_s`` is not positive.
    """
    if not step_s > 0:
        raise RoutingError(_("'step_s' should be > 0 seconds, got %(value)r", value=step_s))
    if not tracks:
        raise RoutingError(_("'tracks' is empty: give at least one unit's track"))
    start = math.floor(min(t.start_s for t in tracks) / step_s) * step_s
    last = max(t.end_s for t in tracks)
    end_s = last if end is None else float(epoch_seconds(pd.Series([end]))[0])
    if last <= end_s and end is not None:
        count = math.ceil((end_s - start) / step_s)
    else:
        count = math.floor((last - start) / step_s) + 1
    grid = start + step_s * np.arange(max(count, 1))
    parts = []
    for track in tracks:
        active = grid[(grid >= track.start_s) & (grid <= track.end_s)]
        if len(active) == 0:
            active = track.times_s[:1]
        points = track.points_at(active)
        parts.append(
            pd.DataFrame(
                {
                    "time": pd.to_datetime(active, unit="s", utc=True).tz_convert(timezone),
                    "unit_id": track.unit_id,
                    "x": shapely.get_x(points),
                    "y": shapely.get_y(points),
                }
            )
        )
    return pd.concat(parts, ignore_index=True).sort_values(["time", "unit_id"], ignore_index=True)
