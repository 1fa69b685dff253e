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
    load_incidents,
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
    incidents, problems = load_incidents(
        ws, category_table=category_table, keep_pileups=keep_pileups
    )
    communities = ws.spatial_layer("communities")
    return monthly_bulletin(
        incidents, communities, month=month, top_n=top_n, rule=rule, problems=problems
    )


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
    for column in ("id", "name"):
        if column not in communities.columns:
            raise AnalyticsError(
                _(
                    "the communities have no %(field)s field; import communities with id and name",
                    field=repr(column),
                )
            )
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
        raise AnalyticsError(
            _(
                "no incidents in month %(month)s; the incidents run from %(first)s "
                "to %(last)s: choose a month in that range",
                month=repr(month),
                first=format(times.min(), "%Y-%m-%d"),
                last=format(times.max(), "%Y-%m-%d"),
            )
        )
    current, before, comparison = _comparison_periods(month, start, end, times)
    trend = area_trend(incidents, communities, period=current, previous=before, rule=rule)
    area = area_of_incidents(in_month, communities, "id")
    table = _community_table(communities, in_month, area)
    for column in ("previous", "change", "change_pct", "warning_level"):
        table[column] = trend[column].to_numpy()
    table["current"] = trend["incidents"].to_numpy()

    hotspots = _community_hotspots(
        in_month, communities, area, top_n=top_n, cell_size_m=cell_size_m
    )
    labels = hotspots.groupby("community_id")["label"].agg("; ".join)
    table["top_hotspots"] = communities["id"].astype("string").map(labels).fillna("").to_numpy()

    found = list(problems)
    outside = int(area.isna().sum())
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


def _comparison_periods(
    month: str, start: pd.Timestamp, end: pd.Timestamp, times: pd.Series
) -> tuple[tuple[Any, Any], tuple[Any, Any], str]:
    """The compared periods (current, before) and the comparison in words."""
    previous_start = start - pd.offsets.MonthBegin(1)
    if bool(((times >= previous_start) & (times < start)).any()):
        comparison = _("%(month)s against the previous month", month=month)
        return (start, end), (previous_start, start), comparison
    middle = start + (end - start) / 2
    comparison = _(
        "no incidents before %(month)s: trend is the second half of the month "
        "(%(middle)s on) against the first half (equal lengths)",
        month=month,
        middle=format(middle, "%d %H:%M"),
    )
    return (middle, end), (start, middle), comparison


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


def _community_hotspots(
    incidents: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    area: pd.Series,
    *,
    top_n: int,
    cell_size_m: float,
) -> gpd.GeoDataFrame:
    """The ``top_n`` busiest grid cells of each community, labelled for the table."""
    cells = hs.grid_cells(communities, cell_size_m=cell_size_m)
    metric = incidents.to_crs(cells.crs)
    size = cell_size_m
    xy = np.column_stack([metric.geometry.x, metric.geometry.y])
    key = pd.DataFrame(
        {
            "community_id": area.to_numpy(),
            "row": np.floor(xy[:, 1] / size).astype(np.int64),
            "col": np.floor(xy[:, 0] / size).astype(np.int64),
        }
    ).dropna(subset=["community_id"])
    counts = key.groupby(["community_id", "row", "col"]).size().rename("incidents").reset_index()
    counts = counts.sort_values(
        ["community_id", "incidents", "row", "col"], ascending=[True, False, True, True]
    )
    counts = counts.groupby("community_id").head(top_n).copy()
    counts["rank"] = counts.groupby("community_id").cumcount() + 1
    x0, y0 = counts["col"].to_numpy() * size, counts["row"].to_numpy() * size
    hot = gpd.GeoDataFrame(
        counts, geometry=shapely.box(x0, y0, x0 + size, y0 + size), crs=cells.crs
    )
    centre = hot.geometry.centroid.to_crs("EPSG:4326")
    hot["lon"], hot["lat"] = centre.x.round(5).to_numpy(), centre.y.round(5).to_numpy()
    hot["label"] = [
        f"#{r} {lat:.5f},{lon:.5f} ({n})"
        for r, lat, lon, n in zip(
            hot["rank"], hot["lat"], hot["lon"], hot["incidents"], strict=True
        )
    ]
    return hot.reset_index(drop=True)
