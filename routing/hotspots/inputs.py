"""Inputs of the hotspot methods: the method names, the error, choosing incidents by time,
and the checks and metric coordinates of incident points."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from layers.crs import metric_crs
from layers.i18n import _, format_number
from routing.errors import RoutingError
from routing.risk import shift_mask

Method = Literal["kde", "gistar", "counts", "streets"]


#: Hotspot methods of :func:`evaluate_hotspots`. ``counts`` (last period's counts per cell)
#: is the naive baseline the others should beat.
METHODS: tuple[str, ...] = ("kde", "gistar", "counts", "streets")


#: Default side of a grid cell: about one short city block.
DEFAULT_CELL_SIZE_M = 150.0


TIME_COLUMN = "occurred_at"


class HotspotError(RoutingError):
    """Hotspots cannot be computed as asked (no incidents, bad grid, bad parameter)."""


def select_incidents(
    incidents: gpd.GeoDataFrame,
    *,
    window: tuple[str, str] | None = None,
    weekdays: Iterable[int | str] | None = None,
    period: tuple[Any, Any] | None = None,
    groups: Iterable[str] | None = None,
    preventable_only: bool = False,
) -> gpd.GeoDataFrame:
    """Incidents of a time band: shift window, weekdays, period and category groups.

    Parameters
    ----------
    incidents
        Points with a tz-aware ``occurred_at`` in the local time zone (as a workspace
        returns them); ``group`` and ``preventable`` when those filters are used. Not
        modified.
    window
        Shift clock times ``("22:00", "06:00")``; a window whose end is not after its
        start crosses midnight. ``None`` keeps every hour.
    weekdays
        Days the shift *starts* on (0 = Monday ... 6 = Sunday, or names): 02:00 on a
        Saturday belongs to Friday's night shift. ``None`` keeps every day.
    period
        ``(start, end)``, half-open; naive bounds are read in the incidents' time zone.
    groups
        Category groups to keep (``"burglary"``, ``"robbery"``...); ``None`` keeps all.
    preventable_only
        Keep only preventable incidents (可防性案件).

    Returns
    -------
    geopandas.GeoDataFrame
        The matching incidents (a copy; possibly empty — callers decide whether that is
        an error).

    Raises
    ------
    HotspotError
        If a column needed by a filter is missing, or ``period`` is not ordered.
    """
    require_columns(incidents, [TIME_COLUMN], "incidents")
    times = incidents[TIME_COLUMN]
    keep = np.array(times.notna(), dtype=bool)
    if window is not None or weekdays is not None:
        keep &= shift_mask(times, window=window, weekdays=weekdays)
    if period is not None:
        start, end = (_local_stamp(v, times) for v in period)
        if not start < end:
            raise HotspotError(
                _(
                    "'period' should be (start, end) with start before end, got %(value)r",
                    value=period,
                )
            )
        keep &= np.asarray((times >= start) & (times < end), dtype=bool)
    if groups is not None:
        require_columns(incidents, ["group"], "incidents")
        wanted = {str(g) for g in groups}
        keep &= np.asarray(incidents["group"].astype(str).isin(wanted), dtype=bool)
    if preventable_only:
        require_columns(incidents, ["preventable"], "incidents")
        keep &= np.asarray(incidents["preventable"].fillna(False).astype(bool), dtype=bool)
    return incidents.loc[keep].copy()


def _local_stamp(value: Any, times: pd.Series) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    zone = getattr(times.dt, "tz", None)
    if zone is None:
        return stamp.tz_localize(None) if stamp.tzinfo is not None else stamp
    return stamp.tz_localize(zone) if stamp.tzinfo is None else stamp.tz_convert(zone)


def require_columns(frame: pd.DataFrame, columns: Iterable[str], argument: str) -> None:
    """Raise :class:`HotspotError` naming the ``columns`` that ``frame`` lacks."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise HotspotError(
            _(
                "'%(argument)s' lacks the column(s) %(missing)s (it has %(columns)s); map them "
                "on import",
                argument=argument,
                missing=", ".join(missing),
                columns=", ".join(map(str, frame.columns)),
            )
        )


def require_points(points: gpd.GeoDataFrame | gpd.GeoSeries, argument: str) -> None:
    """Raise :class:`HotspotError` unless ``points`` holds incidents with a CRS."""
    if not isinstance(points, gpd.GeoDataFrame | gpd.GeoSeries):
        raise HotspotError(
            f"'{argument}' should be a GeoDataFrame of points, got {type(points).__name__}"
        )
    if len(points) == 0:
        raise HotspotError(
            _(
                "'%(argument)s' holds no incidents: nothing to map. Widen the shift window, the "
                "weekdays or the period, or include more category groups",
                argument=argument,
            )
        )
    if points.crs is None:
        raise HotspotError(
            _("'%(argument)s' has no CRS; set it with .set_crs('EPSG:4326')", argument=argument)
        )


def to_metric(gdf: gpd.GeoDataFrame, crs: Any = None) -> gpd.GeoDataFrame:
    """``gdf`` in ``crs``, or in its local UTM zone when geographic and no ``crs`` given."""
    if crs is not None:
        return gdf.to_crs(crs)
    if gdf.crs is not None and gdf.crs.is_geographic:
        return gdf.to_crs(metric_crs(gdf))
    return gdf


def point_xy(points: gpd.GeoDataFrame | gpd.GeoSeries) -> NDArray[np.float64]:
    """Coordinates of the points, shape ``(n, 2)``; every point must have a location."""
    geoms = points.geometry.to_numpy()
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not present.all():
        raise HotspotError(
            _(
                "%(n)s incident(s) have no location; drop or geocode them before mapping hotspots",
                n=format_number(int((~present).sum())),
            )
        )
    return np.asarray(shapely.get_coordinates(geoms), dtype=float)


def check_share(share: float, argument: str) -> None:
    """Raise :class:`HotspotError` unless ``share`` lies in (0, 1]."""
    if not 0 < share <= 1:
        raise HotspotError(
            _(
                "'%(argument)s' should be a share in (0, 1], e.g. 0.05; got %(value)r",
                argument=argument,
                value=share,
            )
        )
