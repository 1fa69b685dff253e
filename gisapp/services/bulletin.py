"""The community monthly public-security bulletin (社区治安状况月报).

:func:`community_bulletin` is the service (a workspace and a month in, a :class:`Bulletin`
out); :func:`monthly_bulletin` builds it from incidents and communities. One row per
community: incidents by category group, trend, colour warning level and top hotspots.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisapp.outputs.hotspots import table_csv
from gisapp.services.analytics import (
    AnalyticsError,
    WarningRule,
    area_of_incidents,
    area_trend,
    incident_scope,
    slice_per_area,
    trend_from_counts,
)
from gisapp.store.geopackage import Workspace
from layers.errors import Problem
from layers.i18n import _, format_number
from routing import hotspots as hs

logger = logging.getLogger(__name__)

__all__ = ["Bulletin", "community_bulletin", "monthly_bulletin"]


@dataclass(frozen=True)
class Bulletin:
    """A monthly community bulletin (社区治安状况月报).

    Parameters
    ----------
    month
        ``YYYY-MM``.
    comparison
        What the trend compares, in words (the previous month, or the two halves of the
        month when there is no earlier data).
    table
        One row per community: ``id``, ``name``, ``incidents``, ``preventable``, one
        ``n_<group>`` column per category group, ``previous``, ``change``, ``change_pct``,
        ``warning_level`` and ``top_hotspots``; community polygons in EPSG:4326.
    hotspots
        The top hotspot cells of every community (EPSG:4326).
    problems
        What was reported on the way (unknown categories, incidents outside communities).
    """

    month: str
    comparison: str
    table: gpd.GeoDataFrame
    hotspots: gpd.GeoDataFrame
    problems: list[Problem] = field(default_factory=list)

    @property
    def kpis(self) -> dict[str, Any]:
        """The bulletin's figures for ``kpis.json``."""
        levels = self.table["warning_level"].value_counts().to_dict()
        return {
            "month": self.month,
            "comparison": self.comparison,
            "communities": len(self.table),
            "incidents": int(self.table["incidents"].sum()),
            "warning_levels": {str(k): int(v) for k, v in levels.items()},
            "problems": [p.to_dict() for p in self.problems],
        }

    def to_csv(self, path: str | Path) -> None:
        """Write the table (without geometry) as UTF-8 CSV that spreadsheet tools open."""
        table_csv(self.table, path)


def community_bulletin(
    ws: Workspace,
    *,
    month: str,
    top_n: int = 3,
    category_table: str | Path | None = None,
    rule: WarningRule | None = None,
    keep_pileups: bool = False,
) -> Bulletin:
    """The monthly bulletin of every community of the workspace (see :func:`monthly_bulletin`).

    Incidents at pile-ups (many on one point, e.g. a reporting desk) are left out of the
    counts unless ``keep_pileups``, and reported.

    Raises
    ------
    GisappError
        If the workspace has no communities, the month is malformed or holds no incidents.
    """
    scope, problems = incident_scope(ws, category_table=category_table, keep_pileups=keep_pileups)
    communities = ws.spatial_layer("communities")
    _check_communities(communities)
    cell_size_m = hs.DEFAULT_CELL_SIZE_M
    start, end = _month_bounds(month, scope.timezone)
    previous_start = start - pd.offsets.MonthBegin(1)
    middle = start + (end - start) / 2
    slices = [
        scope.slice(start, end),
        scope.slice(previous_start, start),
        scope.slice(start, middle),
        scope.slice(middle, end),
    ]
    counts = scope.with_kinds(ws.count_incidents(scope.query("communities", slices)))
    totals = counts.groupby("slice")["incidents"].sum().reindex(range(len(slices)), fill_value=0)
    if not totals[0]:
        raise _no_incidents_in(month, scope.plausible_utc, scope.timezone)
    has_previous = bool(totals[1])
    comparison = _comparison(month, middle, has_previous=has_previous)
    current, before = (0, 1) if has_previous else (3, 2)
    ids = communities["id"].astype("string")
    count_now, outside_now = slice_per_area(counts, current, ids)
    count_then, _outside = slice_per_area(counts, before, ids)
    trend = trend_from_counts(communities, count_now, count_then, outside=outside_now, rule=rule)
    in_month = counts[(counts["slice"] == 0) & counts["area_id"].notna()]
    table = communities[["id", "name", "geometry"]].copy()
    table["incidents"], outside_month = slice_per_area(counts, 0, ids)
    preventable = in_month[in_month["preventable"]].groupby("area_id")["incidents"].sum()
    table["preventable"] = preventable.reindex(ids, fill_value=0).to_numpy(dtype=np.int64)
    by_group = in_month.pivot_table(
        index="area_id", columns="group", values="incidents", aggfunc="sum", fill_value=0
    ).reindex(ids, fill_value=0)
    for group in sorted(by_group.columns):
        table[f"n_{group}"] = by_group[group].to_numpy(dtype=np.int64)
    for column in ("previous", "change", "change_pct", "warning_level"):
        table[column] = trend[column].to_numpy()
    table["current"] = trend["incidents"].to_numpy()

    cells_crs = hs.grid_cells(communities, cell_size_m=cell_size_m).crs
    epsg = cells_crs.to_epsg() if cells_crs is not None else None
    if epsg is None:
        raise AnalyticsError(
            _("the communities' metric CRS has no EPSG code; re-import them in EPSG:4326")
        )
    cells = ws.count_incidents(
        scope.query("communities", slices[:1], by=(), cell=(int(epsg), float(cell_size_m)))
    )
    cells = cells[cells["area_id"].notna()]
    key_counts = pd.DataFrame(
        {
            "community_id": cells["area_id"].astype(object).to_numpy(),
            "row": cells["row"].to_numpy(dtype=np.int64),
            "col": cells["col"].to_numpy(dtype=np.int64),
            "incidents": cells["incidents"].to_numpy(dtype=np.int64),
        }
    )
    hotspots = _top_cells(key_counts, cells_crs, top_n=top_n, cell_size_m=cell_size_m)
    return _finish(month, comparison, communities, table, hotspots, problems, outside=outside_month)


def _month_bounds(month: str, zone: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
    try:
        start = pd.Timestamp(f"{month}-01")
    except ValueError:
        raise AnalyticsError(
            _("the month should look like '2014-09', got %(month)s", month=repr(month))
        ) from None
    if start.strftime("%Y-%m") != month.strip():
        raise AnalyticsError(
            _("the month should look like '2014-09', got %(month)s", month=repr(month))
        )
    end = start + pd.offsets.MonthBegin(1)
    if zone is not None:
        return start.tz_localize(zone), end.tz_localize(zone)
    return start, end


def monthly_bulletin(
    incidents: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    *,
    month: str,
    top_n: int = 3,
    cell_size_m: float = hs.DEFAULT_CELL_SIZE_M,
    rule: WarningRule | None = None,
    problems: Iterable[Problem] = (),
) -> Bulletin:
    """The monthly public-security bulletin of every community.

    The trend compares the month with the previous month when the incidents reach back
    into it; with a single month of data it compares the second half of the month with
    the first half (equal lengths) and says so in :attr:`Bulletin.comparison`. The warning
    level follows :class:`~gisapp.services.analytics.WarningRule` on the compared counts.

    Parameters
    ----------
    incidents
        Incidents with local ``occurred_at``, ``group`` and ``preventable``.
    communities
        Community polygons with ``id`` and ``name``.
    month
        ``YYYY-MM``.
    top_n
        Hotspot cells listed per community (cells of ``cell_size_m`` ranked by incidents).
    rule
        Warning thresholds.
    problems
        Problems found while loading the incidents, carried into the bulletin.

    Raises
    ------
    AnalyticsError
        If the month holds no incidents.
    """
    _check_communities(communities)
    missing = [c for c in ("occurred_at", "group", "preventable") if c not in incidents.columns]
    if missing:
        raise AnalyticsError(
            _(
                "the incidents have no %(fields)s field; re-import them with times and categories",
                fields=", ".join(map(repr, missing)),
            )
        )
    times = incidents["occurred_at"]
    start, end = _month_bounds(month, getattr(times.dt, "tz", None))
    in_month = hs.select_incidents(incidents, period=(start, end))
    if in_month.empty:
        span = (times.min(), times.max()) if len(times) else None
        raise _no_incidents_in(month, span, None)
    current, before, comparison = _comparison_periods(month, start, end, times)
    trend = area_trend(incidents, communities, period=current, previous=before, rule=rule)
    area = area_of_incidents(in_month, communities, "id")
    table = _community_table(communities, in_month, area)
    for column in ("previous", "change", "change_pct", "warning_level"):
        table[column] = trend[column].to_numpy()
    table["current"] = trend["incidents"].to_numpy()

    cells_crs = hs.grid_cells(communities, cell_size_m=cell_size_m).crs
    metric = in_month.to_crs(cells_crs)
    key = pd.DataFrame(
        {
            "community_id": area.to_numpy(),
            "row": np.floor(metric.geometry.y.to_numpy() / cell_size_m).astype(np.int64),
            "col": np.floor(metric.geometry.x.to_numpy() / cell_size_m).astype(np.int64),
        }
    ).dropna(subset=["community_id"])
    key_counts = (
        key.groupby(["community_id", "row", "col"]).size().rename("incidents").reset_index()
    )
    hotspots = _top_cells(key_counts, cells_crs, top_n=top_n, cell_size_m=cell_size_m)
    return _finish(
        month, comparison, communities, table, hotspots, problems, outside=int(area.isna().sum())
    )


def _check_communities(communities: gpd.GeoDataFrame) -> None:
    for column in ("id", "name"):
        if column not in communities.columns:
            raise AnalyticsError(
                _(
                    "the communities have no %(field)s field; import communities with id and name",
                    field=repr(column),
                )
            )


def _no_incidents_in(month: str, span: tuple[Any, Any] | None, zone: str | None) -> AnalyticsError:
    """The error for a month without incidents, naming the months that have some."""
    if span is None:
        return AnalyticsError(_("no incidents in month %(month)s", month=repr(month)))
    first, last = (pd.Timestamp(t) for t in span)
    if zone is not None:
        first, last = first.tz_convert(zone), last.tz_convert(zone)
    return AnalyticsError(
        _(
            "no incidents in month %(month)s; the incidents run from %(first)s "
            "to %(last)s: choose a month in that range",
            month=repr(month),
            first=format(first, "%Y-%m-%d"),
            last=format(last, "%Y-%m-%d"),
        )
    )


def _finish(
    month: str,
    comparison: str,
    communities: gpd.GeoDataFrame,
    table: gpd.GeoDataFrame,
    hotspots: gpd.GeoDataFrame,
    problems: Iterable[Problem],
    *,
    outside: int,
) -> Bulletin:
    """The bulletin from its table and hotspot cells; incidents outside reported."""
    labels = hotspots.groupby("community_id")["label"].agg("; ".join)
    table["top_hotspots"] = communities["id"].astype("string").map(labels).fillna("").to_numpy()
    found = list(problems)
    if outside:
        found.append(
            Problem(
                "incidents",
                None,
                "outside_communities",
                _(
                    "%(count)s incident(s) of %(month)s lie outside every community and are "
                    "not in any community's figures.",
                    count=format_number(outside),
                    month=month,
                ),
                _("Check the community boundaries or the incident coordinates."),
                severity="warning",
            )
        )
    return Bulletin(
        month, comparison, table.to_crs("EPSG:4326"), hotspots.to_crs("EPSG:4326"), found
    )


def _comparison(month: str, middle: pd.Timestamp, *, has_previous: bool) -> str:
    """The comparison in words: against the previous month, or half against half."""
    if has_previous:
        return _("%(month)s against the previous month", month=month)
    return _(
        "no incidents before %(month)s: trend is the second half of the month "
        "(%(middle)s on) against the first half (equal lengths)",
        month=month,
        middle=format(middle, "%d %H:%M"),
    )


def _comparison_periods(
    month: str, start: pd.Timestamp, end: pd.Timestamp, times: pd.Series
) -> tuple[tuple[Any, Any], tuple[Any, Any], str]:
    """The compared periods (current, before) and the comparison in words."""
    previous_start = start - pd.offsets.MonthBegin(1)
    middle = start + (end - start) / 2
    if bool(((times >= previous_start) & (times < start)).any()):
        return (start, end), (previous_start, start), _comparison(month, middle, has_previous=True)
    return (middle, end), (start, middle), _comparison(month, middle, has_previous=False)


def _community_table(
    communities: gpd.GeoDataFrame, in_month: gpd.GeoDataFrame, area: pd.Series
) -> gpd.GeoDataFrame:
    """Incidents, preventable incidents and incidents per category group of each community."""
    ids = communities["id"].astype("string")
    table = communities[["id", "name", "geometry"]].copy()
    table["incidents"] = area.dropna().value_counts().reindex(ids, fill_value=0).to_numpy()
    preventable = area[in_month["preventable"].fillna(False).astype(bool)]
    table["preventable"] = preventable.dropna().value_counts().reindex(ids, fill_value=0).to_numpy()
    by_group = pd.crosstab(area, in_month["group"].astype(str)).reindex(ids, fill_value=0)
    for group in sorted(by_group.columns):
        table[f"n_{group}"] = by_group[group].to_numpy()
    return table


def _top_cells(
    counts: pd.DataFrame, crs: Any, *, top_n: int, cell_size_m: float
) -> gpd.GeoDataFrame:
    """The ``top_n`` busiest cells of each community, labelled for the table.

    ``counts`` holds ``community_id``, the cell's ``row`` and ``col`` (floor of y and x
    over the side in ``crs``) and its ``incidents``.
    """
    size = cell_size_m
    counts = counts.sort_values(
        ["community_id", "incidents", "row", "col"], ascending=[True, False, True, True]
    )
    counts = counts.groupby("community_id").head(top_n).copy()
    counts["rank"] = counts.groupby("community_id").cumcount() + 1
    x0, y0 = counts["col"].to_numpy() * size, counts["row"].to_numpy() * size
    hot = gpd.GeoDataFrame(counts, geometry=shapely.box(x0, y0, x0 + size, y0 + size), crs=crs)
    centre = hot.geometry.centroid.to_crs("EPSG:4326")
    hot["lon"], hot["lat"] = centre.x.round(5).to_numpy(), centre.y.round(5).to_numpy()
    hot["label"] = [
        f"#{r} {lat:.5f},{lon:.5f} ({n})"
        for r, lat, lon, n in zip(
            hot["rank"], hot["lat"], hot["lon"], hot["incidents"], strict=True
        )
    ]
    return hot.reset_index(drop=True)
