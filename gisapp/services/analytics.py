"""Incident analytics for captains: areas by shift, trends, colour warnings, hotspots, bulletin.

- :func:`area_trend` counts incidents per grid, community or sub-district for a period
  (and shift), compares them with the previous period of the same length and gives each
  area a colour warning level (分色预警) by :class:`WarningRule`.
- :func:`counts_by_shift` is the per-area workload by named shift.
- :func:`shift_hotspots` maps the hotspots of one shift (KDE, Gi* or hot streets) and
  scores the method with the PAI of weeks 1-2 predicting weeks 3-4.
- :func:`monthly_bulletin` is the community monthly public-security bulletin
  (社区治安状况月报): incidents by category group, trend, warning level and top hotspots.

Category groups, severity and the ``preventable`` flag come from the category table
(``layers.incidents.apply_categories``); incidents of unknown categories are kept with the
defaults and reported as problems by :func:`load_incidents`, never dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gisapp.errors import GisappError
from gisapp.settings import Shift
from gisapp.store.geopackage import Workspace
from layers.errors import Problem
from layers.incidents import apply_categories, load_category_table
from routing import hotspots as hs
from routing.network import StreetNetwork

logger = logging.getLogger(__name__)

__all__ = [
    "WARNING_COLORS",
    "WARNING_LEVELS",
    "AnalyticsError",
    "Bulletin",
    "WarningRule",
    "area_trend",
    "bulletin_map_html",
    "counts_by_shift",
    "default_split",
    "load_incidents",
    "monthly_bulletin",
    "shift_hotspots",
    "study_area",
    "warning_levels",
]

#: Warning levels, lowest first (蓝 / 黄 / 橙 / 红).
WARNING_LEVELS: tuple[str, ...] = ("blue", "yellow", "orange", "red")

#: Map colours of the warning levels.
WARNING_COLORS: dict[str, str] = {
    "blue": "#2c7bb6",
    "yellow": "#ffd92f",
    "orange": "#fd8d3c",
    "red": "#d7191c",
}

_CATEGORY_FIELDS = ("group", "severity", "preventable")


class AnalyticsError(GisappError):
    """Incident analytics cannot run as asked (no incidents, bad month, bad rule)."""


# -- inputs --------------------------------------------------------------------------------


def load_incidents(
    workspace: Workspace, *, category_table: str | Path | None = None
) -> tuple[gpd.GeoDataFrame, list[Problem]]:
    """The workspace's incidents with category group, severity and ``preventable``.

    The category table is applied when one is given or when the layer lacks any of
    ``group``, ``severity``, ``preventable``; incidents of categories missing from the
    table keep group ``other`` and are reported. Incidents without a time cannot be placed
    in a shift or period: they are left out and reported.

    Returns
    -------
    tuple of (geopandas.GeoDataFrame, list of Problem)
        Incidents (``occurred_at`` in the workspace time zone) and the problems found.
    """
    incidents = workspace.layer("incidents")
    if not isinstance(incidents, gpd.GeoDataFrame):
        raise AnalyticsError("the 'incidents' layer has no geometry; re-import it as points")
    problems: list[Problem] = []
    has_fields = all(
        f in incidents.columns and incidents[f].notna().all() for f in _CATEGORY_FIELDS
    )
    if category_table is not None or not has_fields:
        incidents, found = apply_categories(incidents, load_category_table(category_table))
        problems.extend(found)
    untimed = incidents["occurred_at"].isna()
    if untimed.any():
        problems.append(
            Problem(
                "incidents",
                None,
                "missing_time",
                f"{int(untimed.sum()):,} incident(s) have no time and are left out of "
                "shift, period and trend figures.",
                "Fill occurred_at for these incidents and re-import.",
                severity="warning",
            )
        )
        incidents = incidents.loc[~untimed].copy()
    return incidents, problems


def study_area(workspace: Workspace) -> gpd.GeoDataFrame:
    """The area analytics cover: sub-districts, else communities, else grids; without any
    of those the convex hull of the roads, else of the incidents.

    Returns
    -------
    geopandas.GeoDataFrame
        Polygons (one or more) in the storage CRS.
    """
    for name in ("subdistricts", "communities", "grids"):
        if workspace.has_layer(name):
            layer = workspace.layer(name)
            if isinstance(layer, gpd.GeoDataFrame) and len(layer):
                return gpd.GeoDataFrame(geometry=layer.geometry, crs=layer.crs)
    for name in ("roads", "incidents"):
        if workspace.has_layer(name):
            layer = workspace.layer(name)
            if isinstance(layer, gpd.GeoDataFrame) and len(layer):
                metric = layer.to_crs(layer.estimate_utm_crs())
                hull = gpd.GeoSeries([metric.union_all().convex_hull], crs=metric.crs)
                return gpd.GeoDataFrame(geometry=hull.to_crs(layer.crs))
    raise AnalyticsError(
        f"workspace {workspace.path.name!r} has no areas, roads or incidents to map; "
        "import sub-districts, communities or grids"
    )


# -- warning levels ------------------------------------------------------------------------


@dataclass(frozen=True)
class WarningRule:
    """Thresholds of the colour warning levels (分色预警).

    An area's base level comes from its count relative to the mean count of all areas in
    the same period (``ratio_to_mean``): red at ``red_ratio`` or above, orange at
    ``orange_ratio``, yellow at ``yellow_ratio``, blue below. The level goes up one step
    (at most to red) when incidents rose sharply against the previous period: by at least
    ``rise_share`` (0.5 = +50%) *and* by at least ``rise_min_count`` incidents, so that a
    move from 1 to 2 incidents raises nothing. An area with no incidents is blue.

    Parameters
    ----------
    red_ratio, orange_ratio, yellow_ratio
        Count divided by the mean count across areas.
    rise_share
        Relative rise against the previous period that raises the level one step.
    rise_min_count
        Smallest rise in incidents that can raise the level.
    """

    red_ratio: float = 2.0
    orange_ratio: float = 1.5
    yellow_ratio: float = 1.0
    rise_share: float = 0.5
    rise_min_count: int = 3

    def __post_init__(self) -> None:
        if not 0 < self.yellow_ratio <= self.orange_ratio <= self.red_ratio:
            raise AnalyticsError(
                "WarningRule ratios should satisfy 0 < yellow_ratio <= orange_ratio <= "
                f"red_ratio, got {self.yellow_ratio}, {self.orange_ratio}, {self.red_ratio}"
            )
        if self.rise_share < 0 or self.rise_min_count < 0:
            raise AnalyticsError(
                f"WarningRule rise_share ({self.rise_share}) and rise_min_count "
                f"({self.rise_min_count}) should not be negative"
            )


def warning_levels(
    current: pd.Series,
    previous: pd.Series | None = None,
    *,
    rule: WarningRule | None = None,
) -> pd.Series:
    """Colour warning level of every area from its incidents (see :class:`WarningRule`).

    Parameters
    ----------
    current
        Incidents per area in the period.
    previous
        Incidents per area in the previous period (same index); no rise step when None.
    rule
        Thresholds; the defaults of :class:`WarningRule` when None.

    Returns
    -------
    pandas.Series
        ``warning_level`` (``blue``, ``yellow``, ``orange``, ``red``) indexed like
        ``current``.
    """
    rule = rule or WarningRule()
    count = current.to_numpy(dtype=float)
    mean = count.mean() if len(count) else 0.0
    ratio = count / mean if mean > 0 else np.zeros(len(count))
    level = np.select(
        [ratio >= rule.red_ratio, ratio >= rule.orange_ratio, ratio >= rule.yellow_ratio],
        [3, 2, 1],
        default=0,
    )
    if previous is not None:
        if not previous.index.equals(current.index):
            raise AnalyticsError("'previous' should be indexed like 'current' (one per area)")
        before = previous.to_numpy(dtype=float)
        rise = count - before
        sharp = (rise >= max(rule.rise_min_count, 1)) & (rise >= rule.rise_share * before)
        level = np.where(sharp, np.minimum(level + 1, 3), level)
    level = np.where(count > 0, level, 0)
    return pd.Series(np.asarray(WARNING_LEVELS)[level], index=current.index, name="warning_level")


# -- areas ---------------------------------------------------------------------------------


def _area_of_incidents(
    incidents: gpd.GeoDataFrame, areas: gpd.GeoDataFrame, id_field: str
) -> pd.Series:
    """Id of the area holding each incident (NA outside every area); one area per incident."""
    if id_field not in areas.columns:
        raise AnalyticsError(
            f"'areas' has no {id_field!r} column (it has {', '.join(map(str, areas.columns))}); "
            "pass id_field= the area id column"
        )
    if len(incidents) == 0:
        return pd.Series(pd.NA, index=incidents.index, dtype="string", name=id_field)
    joined = gpd.sjoin(
        gpd.GeoDataFrame(geometry=incidents.geometry),
        areas[[id_field, "geometry"]].to_crs(incidents.crs),
        how="left",
        predicate="intersects",
    )
    # A point on a shared border touches two areas: it counts once, in the first.
    joined = joined[~joined.index.duplicated(keep="first")]
    return joined[id_field].astype("string").reindex(incidents.index).rename(id_field)


def _period_bounds(period: tuple[Any, Any], times: pd.Series) -> tuple[pd.Timestamp, pd.Timestamp]:
    zone = getattr(times.dt, "tz", None)
    bounds = []
    for value in period:
        stamp = pd.Timestamp(value)
        if zone is not None:
            stamp = stamp.tz_localize(zone) if stamp.tzinfo is None else stamp.tz_convert(zone)
        bounds.append(stamp)
    start, end = bounds
    if not start < end:
        raise AnalyticsError(
            f"'period' should be (start, end) with start before end, got {period!r}"
        )
    return start, end


def area_trend(
    incidents: gpd.GeoDataFrame,
    areas: gpd.GeoDataFrame,
    *,
    period: tuple[Any, Any],
    previous: tuple[Any, Any] | None = None,
    shift: Shift | None = None,
    weekdays: Iterable[int | str] | None = None,
    preventable_only: bool = False,
    id_field: str = "id",
    rule: WarningRule | None = None,
) -> gpd.GeoDataFrame:
    """Incidents per area in a period (and shift), their trend and warning level.

    Parameters
    ----------
    incidents
        Incidents with a tz-aware local ``occurred_at``.
    areas
        Grids, communities or sub-districts (polygons with ``id_field``).
    period
        ``(start, end)``, half-open; naive bounds are local times.
    previous
        The period to compare with; default the period of the same length just before.
    shift
        Count only incidents in this shift window (which may cross midnight).
    weekdays
        Shift start days (0 = Monday, or names); every day when None.
    preventable_only
        Count only preventable incidents (可防性案件).
    id_field
        Area id column.
    rule
        Warning thresholds.

    Returns
    -------
    geopandas.GeoDataFrame
        ``areas`` (a copy) with ``incidents``, ``previous``, ``change``, ``change_pct``
        (NaN when ``previous`` is 0), ``ratio_to_mean`` and ``warning_level``.
        ``attrs["outside"]`` counts incidents in the period outside every area.
    """
    start, end = _period_bounds(period, incidents["occurred_at"])
    before = previous if previous is not None else (start - (end - start), start)
    window = (f"{shift.start:%H:%M}", f"{shift.end:%H:%M}") if shift is not None else None
    banded = hs.select_incidents(
        incidents, window=window, weekdays=weekdays, preventable_only=preventable_only
    )
    now = hs.select_incidents(banded, period=(start, end))
    then = hs.select_incidents(banded, period=before)
    ids = areas[id_field].astype("string")
    count_now = _count_by_area(now, areas, id_field).reindex(ids, fill_value=0)
    count_then = _count_by_area(then, areas, id_field).reindex(ids, fill_value=0)
    result = areas.copy()
    result["incidents"] = count_now.to_numpy()
    result["previous"] = count_then.to_numpy()
    result["change"] = result["incidents"] - result["previous"]
    result["change_pct"] = np.where(
        result["previous"] > 0,
        100.0 * result["change"] / result["previous"].where(result["previous"] > 0, 1),
        np.nan,
    )
    mean = result["incidents"].mean() if len(result) else 0.0
    result["ratio_to_mean"] = result["incidents"] / mean if mean > 0 else 0.0
    result["warning_level"] = warning_levels(
        result["incidents"], result["previous"], rule=rule
    ).to_numpy()
    result.attrs["outside"] = int(len(now) - count_now.sum())
    return result


def _count_by_area(
    incidents: gpd.GeoDataFrame, areas: gpd.GeoDataFrame, id_field: str
) -> pd.Series:
    area = _area_of_incidents(incidents, areas, id_field)
    return area.dropna().value_counts()


def counts_by_shift(
    incidents: gpd.GeoDataFrame,
    areas: gpd.GeoDataFrame,
    shifts: Mapping[str, Shift],
    *,
    period: tuple[Any, Any] | None = None,
    preventable_only: bool = False,
    id_field: str = "id",
) -> pd.DataFrame:
    """Incidents per area and named shift (the shift workload of every area).

    Shifts may overlap (e.g. ``night`` 00-08 and ``late`` 22-06): an incident counts in
    every shift whose window holds it.

    Returns
    -------
    pandas.DataFrame
        Indexed by area id, one column per shift name, plus ``all``.
    """
    chosen = hs.select_incidents(incidents, period=period, preventable_only=preventable_only)
    ids = areas[id_field].astype("string")
    area = _area_of_incidents(chosen, areas, id_field)
    columns = {}
    for name, shift in shifts.items():
        window = (f"{shift.start:%H:%M}", f"{shift.end:%H:%M}")
        inside = hs.select_incidents(chosen, window=window).index
        columns[name] = area.loc[inside].dropna().value_counts().reindex(ids, fill_value=0)
    columns["all"] = area.dropna().value_counts().reindex(ids, fill_value=0)
    table = pd.DataFrame(
        {k: v.to_numpy() for k, v in columns.items()}, index=pd.Index(ids, name=id_field)
    )
    return table


# -- hotspots per shift ----------------------------------------------------------------------


def default_split(
    incidents: gpd.GeoDataFrame, *, train_days: int = 14, test_days: int = 14
) -> tuple[tuple[pd.Timestamp, pd.Timestamp], tuple[pd.Timestamp, pd.Timestamp]]:
    """Training and test periods: the first ``train_days`` days from the first incident's
    local midnight, then the next ``test_days`` (weeks 1-2 predicting weeks 3-4).

    Raises
    ------
    AnalyticsError
        If the incidents do not reach into the test period.
    """
    times = incidents["occurred_at"].dropna()
    if times.empty:
        raise AnalyticsError("no incidents with a time: cannot split into train and test weeks")
    start = times.min().normalize()
    middle = start + pd.Timedelta(days=train_days)
    end = middle + pd.Timedelta(days=test_days)
    if times.max() < middle:
        raise AnalyticsError(
            f"the incidents end on {times.max():%Y-%m-%d}, before the test period starting "
            f"{middle:%Y-%m-%d}; use fewer training days (train_days={train_days})"
        )
    return (start, middle), (middle, end)


def shift_hotspots(
    incidents: gpd.GeoDataFrame,
    *,
    shift: Shift,
    method: str,
    area: gpd.GeoDataFrame,
    network: StreetNetwork | None = None,
    area_share: float = 0.05,
    cell_size_m: float = hs.DEFAULT_CELL_SIZE_M,
    bandwidth_m: float | None = None,
    weekdays: Iterable[int | str] | None = None,
    groups: Iterable[str] | None = None,
    preventable_only: bool = False,
    split: tuple[tuple[Any, Any], tuple[Any, Any]] | None = None,
) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """Hotspots of one shift and the PAI of the method on held-out weeks.

    The hotspot layer is built from every incident of the shift (what the captain patrols
    next); the PAI comes from a separate map built on the training weeks and scored on the
    test weeks (:func:`default_split` unless ``split`` is given).

    Parameters
    ----------
    incidents
        Incidents with local ``occurred_at``, ``group``, ``severity``, ``preventable``.
    shift
        The shift window (may cross midnight).
    method
        ``kde``, ``gistar``, ``counts`` or ``streets``.
    area
        Study area polygons (:func:`study_area`).
    network
        Street network, for ``streets``.
    area_share
        Share of the area (street length) flagged hot.
    cell_size_m, bandwidth_m
        Grid cell side and KDE radius (default: the rule of thumb).
    weekdays, groups, preventable_only
        Further selection of incidents.
    split
        ``((train_start, train_end), (test_start, test_end))``.

    Returns
    -------
    tuple of (geopandas.GeoDataFrame, dict)
        Hotspot cells or segments in EPSG:4326, best first with ``rank``; KPIs (counts,
        parameters, PAI, hit rate and, for streets, the 80-20 length concentration).

    Raises
    ------
    AnalyticsError
        If the shift has no incidents.
    """
    window = (f"{shift.start:%H:%M}", f"{shift.end:%H:%M}")
    chosen = hs.select_incidents(
        incidents,
        window=window,
        weekdays=weekdays,
        groups=groups,
        preventable_only=preventable_only,
    )
    if chosen.empty:
        raise AnalyticsError(
            f"no incidents in shift {shift.name!r} ({shift.label()})"
            f"{' of groups ' + ', '.join(groups) if groups else ''} among {len(incidents):,}; "
            "choose another shift, weekdays or groups"
        )
    kpis: dict[str, Any] = {
        "shift": shift.name,
        "window": shift.label(),
        "method": method,
        "incidents": len(chosen),
        "area_share": area_share,
    }
    if method == "streets":
        if network is None:
            raise AnalyticsError("method 'streets' needs the roads layer to build a network")
        scores = hs.street_scores(network, chosen)
        layer = hs.hot_streets(scores, length_share=area_share)
        kpis["unsnapped_incidents"] = scores.attrs["unsnapped"]
        kpis["incident_share_on_top_length"] = {
            f"{share:.0%}": round(value, 4)
            for share, value in hs.length_concentration(scores).items()
        }
    else:
        cells = hs.grid_cells(area, cell_size_m=cell_size_m)
        score, parameters = hs.grid_scores(chosen, cells, method=method, bandwidth_m=bandwidth_m)  # type: ignore[arg-type]
        kpis.update(parameters)
        kpis["cell_size_m"] = cell_size_m
        top = hs.top_cells(score, cells, area_share=area_share)
        layer = cells.loc[top].copy()
        layer["score"] = score.loc[top].to_numpy()
        layer["incidents"] = hs.incident_counts(chosen, cells).loc[top].to_numpy()
        layer["rank"] = np.arange(1, len(layer) + 1)
    layer["shift"] = shift.name
    layer["method"] = method

    train, test = split if split is not None else default_split(chosen)
    try:
        evaluation = hs.evaluate_hotspots(
            chosen,
            method=method,  # type: ignore[arg-type]
            train=train,
            test=test,
            area_share=area_share,
            study_area=area,
            network=network,
            cell_size_m=cell_size_m,
            bandwidth_m=bandwidth_m,
        )
    except hs.HotspotError as exc:
        # An empty test period is a finding for this shift, not a failure of the map.
        kpis["evaluation_error"] = str(exc)
    else:
        kpis["evaluation"] = evaluation.to_dict()
        kpis["pai"] = round(evaluation.score.pai, 3)
        kpis["hit_rate"] = round(evaluation.score.hit_rate, 4)
    return layer.to_crs("EPSG:4326"), kpis


# -- the monthly bulletin --------------------------------------------------------------------


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

    def to_csv(self, path: str | Path) -> None:
        """Write the table (without geometry) as UTF-8 CSV that spreadsheet tools open."""
        pd.DataFrame(self.table.drop(columns="geometry")).to_csv(
            path, index=False, encoding="utf-8-sig"
        )


def _month_bounds(month: str, zone: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
    try:
        start = pd.Timestamp(f"{month}-01")
    except ValueError:
        raise AnalyticsError(f"'month' should look like '2014-09', got {month!r}") from None
    if start.strftime("%Y-%m") != month.strip():
        raise AnalyticsError(f"'month' should look like '2014-09', got {month!r}")
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
    level follows :class:`WarningRule` on the compared counts.

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
                f"'communities' has no {column!r} column; import communities with id and name"
            )
    hs._require_columns(incidents, ["occurred_at", "group", "preventable"], "incidents")
    times = incidents["occurred_at"]
    start, end = _month_bounds(month, getattr(times.dt, "tz", None))
    in_month = hs.select_incidents(incidents, period=(start, end))
    if in_month.empty:
        first, last = times.min(), times.max()
        raise AnalyticsError(
            f"no incidents in month {month!r}; the incidents run from {first:%Y-%m-%d} to "
            f"{last:%Y-%m-%d}: choose a month in that range"
        )
    previous_start = start - pd.offsets.MonthBegin(1)
    has_previous = bool(((times >= previous_start) & (times < start)).any())
    if has_previous:
        current, before = (start, end), (previous_start, start)
        comparison = f"{month} against the previous month"
    else:
        middle = start + (end - start) / 2
        current, before = (middle, end), (start, middle)
        comparison = (
            f"no incidents before {month}: trend is the second half of the month "
            f"({middle:%d %H:%M} on) against the first half (equal lengths)"
        )

    ids = communities["id"].astype("string")
    trend = area_trend(incidents, communities, period=current, previous=before, rule=rule)
    table = communities[["id", "name", "geometry"]].copy()
    area = _area_of_incidents(in_month, communities, "id")
    table["incidents"] = area.dropna().value_counts().reindex(ids, fill_value=0).to_numpy()
    preventable = area[in_month["preventable"].fillna(False).astype(bool)]
    table["preventable"] = preventable.dropna().value_counts().reindex(ids, fill_value=0).to_numpy()
    by_group = pd.crosstab(area, in_month["group"].astype(str)).reindex(ids, fill_value=0)
    for group in sorted(by_group.columns):
        table[f"n_{group}"] = by_group[group].to_numpy()
    for column in ("previous", "change", "change_pct", "warning_level"):
        table[column] = trend[column].to_numpy()
    table["current"] = trend["incidents"].to_numpy()

    hotspots = _community_hotspots(
        in_month, communities, area, top_n=top_n, cell_size_m=cell_size_m
    )
    labels = hotspots.groupby("community_id")["label"].agg("; ".join)
    table["top_hotspots"] = ids.map(labels).fillna("").to_numpy()

    found = list(problems)
    outside = int(area.isna().sum())
    if outside:
        found.append(
            Problem(
                "incidents",
                None,
                "outside_communities",
                f"{outside:,} incident(s) of {month} lie outside every community and are "
                "not in any community's figures.",
                "Check the community boundaries or the incident coordinates.",
                severity="warning",
            )
        )
    table = table.to_crs("EPSG:4326")
    return Bulletin(month, comparison, table, hotspots.to_crs("EPSG:4326"), found)


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
    from shapely import box

    hot = gpd.GeoDataFrame(counts, geometry=box(x0, y0, x0 + size, y0 + size), crs=cells.crs)
    centre = hot.geometry.centroid.to_crs("EPSG:4326")
    hot["lon"], hot["lat"] = centre.x.round(5).to_numpy(), centre.y.round(5).to_numpy()
    hot["label"] = [
        f"#{r} {lat:.5f},{lon:.5f} ({n})"
        for r, lat, lon, n in zip(
            hot["rank"], hot["lat"], hot["lon"], hot["incidents"], strict=True
        )
    ]
    return hot.reset_index(drop=True)


def bulletin_map_html(
    bulletin: Bulletin, *, roads: gpd.GeoDataFrame | None = None, inline_assets: bool = True
) -> str:
    """The bulletin as a self-contained HTML map: communities coloured by warning level,
    hotspot cells on top, the figures in tooltips."""
    from gisapp.render import maps

    bounds = tuple(bulletin.table.total_bounds)
    m = maps.base_map(bounds, roads=roads)
    table = bulletin.table.copy()
    table["change_pct"] = table["change_pct"].round(0)
    maps.add_polygons(
        m,
        table,
        name=f"Communities {bulletin.month}",
        color_by="warning_level",
        colors=WARNING_COLORS,
        label_field="name",
        tooltip_fields={
            "name": "Community",
            "incidents": "Incidents",
            "preventable": "Preventable",
            "previous": "Previous",
            "current": "Current",
            "change_pct": "Change %",
            "warning_level": "Warning",
            "top_hotspots": "Top hotspots",
        },
    )
    if len(bulletin.hotspots):
        maps.add_polygons(
            m,
            bulletin.hotspots.assign(id=bulletin.hotspots["label"]),
            name="Top hotspots",
            color="#7b3294",
            tooltip_fields={"community_id": "Community", "rank": "Rank", "incidents": "Incidents"},
            fill_opacity=0.6,
        )
    maps.add_legend(
        m,
        "Warning level 预警",
        {level: WARNING_COLORS[level] for level in reversed(WARNING_LEVELS)},
    )
    return maps.render_html(m, inline_assets=inline_assets)
