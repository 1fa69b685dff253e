"""Incident analytics for captains: areas by shift, trends and colour warnings.

- :func:`load_incidents` and :func:`study_area` are the inputs every incident analysis
  shares (the hotspot service :mod:`gisapp.services.hotspots` and the monthly bulletin
  :mod:`gisapp.services.bulletin` too).
- :func:`area_trend` counts incidents per grid, community or sub-district for a period
  (and shift), compares them with the previous period of the same length and gives each
  area a colour warning level (分色预警) by :class:`WarningRule`; :func:`area_report` is the
  workspace service behind ``gisapp areas``.
- :func:`counts_by_shift` is the per-area workload by named shift.

Category groups, severity and the ``preventable`` flag come from the one category lookup
(:func:`workspace_categories`: the file given, else the workspace's ``categories`` table,
else the bundled standard tables, applied by ``layers.categories.apply_categories``);
incidents of unknown categories are kept with the defaults and reported once by
:func:`load_incidents`, never dropped. Incidents at a pile-up (many on one point, e.g. a
reporting desk: ``layers.validate.pileups``) are left out of every figure unless
``keep_pileups`` is set, and reported.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisapp.errors import GisappError
from gisapp.settings import Shift
from gisapp.store.backend import CountQuery, CountSlice, ProfileQuery
from gisapp.store.geopackage import Workspace
from layers.categories import (
    apply_categories,
    category_table_from_frame,
    load_category_table,
    standard_category_table,
)
from layers.crs import metric_crs
from layers.errors import Problem
from layers.i18n import _, format_number
from layers.validate.dates import stray_dates
from layers.validate.pileups import PileupRule, Pileups, drop_pileups, pileup_summary
from routing import hotspots as hs
from routing.grids.measure import assign_points

logger = logging.getLogger(__name__)

__all__ = [
    "AREA_LEVELS",
    "WARNING_COLORS",
    "WARNING_LEVELS",
    "AnalyticsError",
    "AreaReport",
    "WarningRule",
    "area_of_incidents",
    "area_report",
    "area_trend",
    "counts_by_shift",
    "load_incidents",
    "study_area",
    "warning_levels",
    "workspace_categories",
]

#: Warning levels, lowest first (蓝 / 黄 / 橙 / 红).
WARNING_LEVELS: tuple[str, ...] = ("blue", "yellow", "orange", "red")

_CATEGORY_FIELDS = ("group", "severity", "preventable")

#: Map colours of the warning levels (分色预警), lowest level first.
WARNING_COLORS: dict[str, str] = {
    "blue": "#2c7bb6",
    "yellow": "#ffd92f",
    "orange": "#fd8d3c",
    "red": "#d7191c",
}


class AnalyticsError(GisappError):
    """Incident analytics cannot run as asked (no incidents, bad month, bad rule)."""


# -- inputs --------------------------------------------------------------------------------


def workspace_categories(
    workspace: Workspace, *, category_table: str | Path | None = None
) -> pd.DataFrame | None:
    """The category table that weighs the workspace's incidents (the one lookup).

    The CSV ``category_table`` when given, else the workspace's ``categories`` table,
    else None: the incidents' own ``group``, ``severity`` and ``preventable`` fields are
    used when every incident has them, the bundled standard tables otherwise
    (:func:`layers.categories.standard_category_table`).

    Raises
    ------
    LayerError
        If the file or the workspace table is not a valid category table.
    """
    if category_table is not None:
        return load_category_table(category_table)
    if workspace.has_layer("categories"):
        return category_table_from_frame(
            workspace.layer("categories"), source=_("the workspace's categories table")
        )
    return None


def load_incidents(
    workspace: Workspace,
    *,
    category_table: str | Path | None = None,
    keep_pileups: bool = False,
) -> tuple[gpd.GeoDataFrame, list[Problem]]:
    """The workspace's incidents to weigh, with category group, severity and ``preventable``.

    Categories come from :func:`workspace_categories`; incidents of categories missing
    from the table get group ``other``, severity 1, not preventable, and one warning lists
    those categories. Incidents at a pile-up (``layers.validate.pileups``) are left out
    unless ``keep_pileups``, and reported. Incidents without a time, or with an
    implausible one (:func:`stray_dates`), cannot be placed in a shift or period: they are
    left out and reported.

    Parameters
    ----------
    workspace
        An open workspace with ``incidents`` (and ``stations``, to name pile-ups).
    category_table
        A category CSV that overrides the workspace's table.
    keep_pileups
        Keep the incidents at pile-ups.

    Returns
    -------
    tuple of (geopandas.GeoDataFrame, list of Problem)
        Incidents (``occurred_at`` in the workspace time zone) and the problems found.
    """
    incidents = workspace.layer("incidents")
    if not isinstance(incidents, gpd.GeoDataFrame):
        raise AnalyticsError(_("the 'incidents' layer has no geometry; re-import it as points"))
    problems: list[Problem] = []
    table = workspace_categories(workspace, category_table=category_table)
    has_fields = all(
        f in incidents.columns and incidents[f].notna().all() for f in _CATEGORY_FIELDS
    )
    if table is not None or not has_fields:
        chosen = standard_category_table() if table is None else table
        incidents, found = apply_categories(incidents, chosen)
        problems.extend(found)
    stations = workspace.layer("stations") if workspace.has_layer("stations") else None
    incidents, pileups = drop_pileups(
        incidents,
        stations=stations if isinstance(stations, gpd.GeoDataFrame) else None,
        keep=keep_pileups,
    )
    if pileups.incidents:
        problems.append(_pileup_problem(pileups, kept=keep_pileups))
    untimed = incidents["occurred_at"].isna()
    if untimed.any():
        problems.append(_untimed_problem(int(untimed.sum())))
        incidents = incidents.loc[~untimed].copy()
    stray = stray_dates(incidents["occurred_at"])
    if stray.any():
        times = incidents.loc[stray, "occurred_at"]
        problems.append(_stray_problem(len(times), sorted({f"{t:%Y-%m-%d}" for t in times})))
        incidents = incidents.loc[~stray].copy()
    return incidents, problems


def _untimed_problem(count: int) -> Problem:
    """The warning about incidents without a time, left out of time figures."""
    return Problem(
        "incidents",
        None,
        "missing_time",
        _(
            "%(count)s incident(s) have no time and are left out of "
            "shift, period and trend figures.",
            count=format_number(count),
        ),
        _("Fill occurred_at for these incidents and re-import."),
        severity="warning",
    )


def _stray_problem(count: int, days: list[str]) -> Problem:
    """The warning about incidents with implausible dates, left out of time figures."""
    shown = ", ".join(days[:5])
    if len(days) > 5:
        shown = _("%(days)s and %(more)s more days", days=shown, more=format_number(len(days) - 5))
    return Problem(
        "incidents",
        None,
        "implausible_time",
        _(
            "%(count)s incident(s) have implausible dates (%(days)s): in the future or "
            "years apart from all the others; they are left out of shift, period and trend "
            "figures.",
            count=format_number(count),
            days=shown,
        ),
        _(
            "Check the dates of these incidents (placeholder dates such as 1900-01-01 or "
            "1970-01-01 are common) and re-import them."
        ),
        severity="warning",
    )


def _pileup_problem(pileups: Pileups, *, kept: bool) -> Problem:
    """The warning about the incidents at pile-ups: left out, or kept as asked."""
    where = pileup_summary(pileups.places)
    n_places = len(pileups.places)
    counts = {
        "count": format_number(pileups.incidents),
        "places": format_number(n_places),
        "where": where,
    }
    if kept:
        return Problem(
            "incidents",
            None,
            "pileup_kept",
            _(
                "%(count)s incident(s) sit at %(places)s point(s) where incidents pile up "
                "(%(where)s); they are kept, as keep_pileups is set.",
                **counts,
            ),
            _("Geocode these incidents to where they happened and re-import them."),
            severity="warning",
        )
    return Problem(
        "incidents",
        None,
        "pileup_left_out",
        _(
            "%(count)s incident(s) sit at %(places)s point(s) where incidents pile up "
            "(%(where)s); such points are usually default locations (a reporting desk, a "
            "station), so they are left out of hotspots, risk and counts.",
            **counts,
        ),
        _(
            "Geocode these incidents to where they happened and re-import them, or set "
            "keep_pileups = true if these places really have that many incidents."
        ),
        severity="warning",
    )


@dataclass(frozen=True)
class IncidentScope:
    """The incidents :func:`load_incidents` gives, described for counting in the store.

    Parameters
    ----------
    by
        The incident fields the store breaks counts down by to tell group and
        ``preventable`` apart: ``("category",)`` with a category table, else the
        incidents' own ``("group", "preventable")``.
    kinds
        Indexed by the values of ``by`` (one level per field): ``group`` and
        ``preventable`` of the incidents with those values.
    exclude_rows
        Stored row numbers of the incidents left out (at pile-ups, unless kept).
    plausible_utc
        First and last plausible time (both included), or None without any.
    timezone
        The workspace's time zone.
    """

    by: tuple[str, ...]
    kinds: pd.DataFrame
    exclude_rows: tuple[int, ...]
    plausible_utc: tuple[pd.Timestamp, pd.Timestamp] | None
    timezone: str

    def slice(
        self, start: pd.Timestamp | None, end: pd.Timestamp | None, shift: Shift | None = None
    ) -> CountSlice:
        """A slice of local ``[start, end)`` (and ``shift``) holding plausible times only."""
        start_utc = None if start is None else start.tz_convert("UTC")
        end_utc = None if end is None else end.tz_convert("UTC")
        if self.plausible_utc is not None:
            first, last = self.plausible_utc
            # Stored times keep at most microseconds: before the next one is "up to last".
            after_last = last + pd.Timedelta(microseconds=1)
            start_utc = first if start_utc is None else max(start_utc, first)
            end_utc = after_last if end_utc is None else min(end_utc, after_last)
        else:
            start_utc = end_utc = pd.Timestamp(0, tz="UTC")
        window = None
        if shift is not None:
            window = (
                shift.start.hour * 60 + shift.start.minute,
                shift.end.hour * 60 + shift.end.minute,
            )
        return CountSlice(start_utc, end_utc, window)

    def query(self, areas_layer: str, slices: Iterable[CountSlice], **kwargs: Any) -> CountQuery:
        """The :class:`CountQuery` of ``slices`` over these incidents, by group fields."""
        kwargs.setdefault("by", self.by)
        return CountQuery(
            areas_layer=areas_layer,
            start_utc=None,
            end_utc=None,
            window_min=None,
            timezone=self.timezone,
            slices=tuple(slices),
            exclude_rows=self.exclude_rows,
            **kwargs,
        )

    def with_kinds(self, counts: pd.DataFrame) -> pd.DataFrame:
        """Counts of :meth:`Workspace.count_incidents` with ``group`` and ``preventable``."""
        out = counts.copy()
        if self.by == ("category",):
            found = self.kinds.reindex(pd.Index(out["category"].astype(object).tolist()))
            out["group"] = found["group"].to_numpy(dtype=object)
            out["preventable"] = found["preventable"].to_numpy(dtype=object)
        out["group"] = [str(v) for v in out["group"]]
        out["preventable"] = np.array([bool(v) for v in out["preventable"]], dtype=bool)
        return out


def incident_scope(
    workspace: Workspace,
    *,
    category_table: str | Path | None = None,
    keep_pileups: bool = False,
) -> tuple[IncidentScope, list[Problem]]:
    """What :func:`load_incidents` finds, found by the store without reading the incidents.

    The same problems in the same order (unknown categories, pile-ups, incidents without
    a time, implausible dates); the incidents themselves stay in the store, to be counted
    there with :meth:`IncidentScope.query`.
    """
    query = ProfileQuery(
        timezone=workspace.timezone,
        keep_pileups=keep_pileups,
        pileup_rule=PileupRule(),
        now_utc=pd.Timestamp.now(tz="UTC"),
    )
    found = workspace.incident_profile(query)
    problems: list[Problem] = []
    table = workspace_categories(workspace, category_table=category_table)
    if table is not None or not found.complete_fields:
        chosen = standard_category_table() if table is None else table
        values = found.categories
        if not found.has_category:
            apply_categories(pd.DataFrame(), chosen)  # raises: no category column
        mapped, _found = apply_categories(pd.DataFrame({"category": values["category"]}), chosen)
        unknown = ~mapped["category_known"].to_numpy(dtype=bool)
        if unknown.any():
            # The unknown values once per incident, in order of first appearance: the
            # warnings read as those of the whole layer.
            repeated = np.repeat(
                values["category"].to_numpy(dtype=object)[unknown],
                values["incidents"].to_numpy(dtype=np.int64)[unknown],
            )
            _mapped, category_problems = apply_categories(
                pd.DataFrame({"category": repeated}), chosen
            )
            problems.extend(category_problems)
        by: tuple[str, ...] = ("category",)
        kinds = pd.DataFrame(
            {"group": mapped["group"].to_numpy(), "preventable": mapped["preventable"].to_numpy()},
            index=pd.Index(values["category"].astype(object).tolist()),
        )
    else:
        # The incidents' own fields: each value stands for itself.
        by = ("group", "preventable")
        kinds = pd.DataFrame({"group": [], "preventable": []})
    if found.pileups.incidents:
        problems.append(_pileup_problem(found.pileups, kept=keep_pileups))
    if found.untimed:
        problems.append(_untimed_problem(found.untimed))
    if found.stray:
        problems.append(_stray_problem(found.stray, list(found.stray_days)))
    scope = IncidentScope(
        by=by,
        kinds=kinds,
        exclude_rows=() if keep_pileups else found.pileup_rows,
        plausible_utc=found.plausible_utc,
        timezone=workspace.timezone,
    )
    return scope, problems


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
                metric = layer.to_crs(metric_crs(layer))
                # the hull of the vertices is the hull of the union, without the union
                vertices = shapely.get_coordinates(metric.geometry.to_numpy())
                hull = gpd.GeoSeries(
                    [shapely.convex_hull(shapely.multipoints(vertices))], crs=metric.crs
                )
                return gpd.GeoDataFrame(geometry=hull.to_crs(layer.crs))
    raise AnalyticsError(
        _(
            "workspace %(workspace)s has no areas, roads or incidents to map; "
            "import sub-districts, communities or grids",
            workspace=repr(workspace.label),
        )
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
                _(
                    "WarningRule ratios should satisfy 0 < yellow_ratio <= orange_ratio <= "
                    "red_ratio, got %(yellow)s, %(orange)s, %(red)s",
                    yellow=self.yellow_ratio,
                    orange=self.orange_ratio,
                    red=self.red_ratio,
                )
            )
        if self.rise_share < 0 or self.rise_min_count < 0:
            raise AnalyticsError(
                _(
                    "WarningRule rise_share (%(share)s) and rise_min_count "
                    "(%(count)s) should not be negative",
                    share=self.rise_share,
                    count=self.rise_min_count,
                )
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


def area_of_incidents(
    incidents: gpd.GeoDataFrame, areas: gpd.GeoDataFrame, id_field: str
) -> pd.Series:
    """Id of the area holding each incident (NA outside every area); one area per incident.

    A point on (within about 1 cm of) the edge of several areas goes to the one whose
    centroid is nearest (:func:`routing.grids.measure.assign_points`), as the store's
    counts (:meth:`Workspace.count_incidents`) place it.
    """
    if id_field not in areas.columns:
        raise AnalyticsError(
            f"'areas' has no {id_field!r} column (it has {', '.join(map(str, areas.columns))}); "
            "pass id_field= the area id column"
        )
    if len(incidents) == 0 or len(areas) == 0:
        return pd.Series(pd.NA, index=incidents.index, dtype="string", name=id_field)
    # A point on a shared border counts once, in the area whose centroid is nearest: the
    # rule of grid workloads and of the counts a workspace's store makes.
    position = assign_points(incidents, areas.to_crs(incidents.crs)).to_numpy()
    ids = areas[id_field].astype("string").to_numpy()
    found = pd.Series(ids[np.maximum(position, 0)], index=incidents.index, dtype="string")
    return found.where(position >= 0).rename(id_field)


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
            _(
                "the date range should start before it ends, got from %(start)s to %(end)s",
                start=period[0],
                end=period[1],
            )
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
    return trend_from_counts(
        areas,
        count_now.to_numpy(),
        count_then.to_numpy(),
        outside=int(len(now) - count_now.sum()),
        rule=rule,
    )


def trend_from_counts(
    areas: gpd.GeoDataFrame,
    count_now: np.ndarray,
    count_then: np.ndarray,
    *,
    outside: int,
    rule: WarningRule | None,
) -> gpd.GeoDataFrame:
    """:func:`area_trend`'s table from the counts of the two periods (one per area)."""
    result = areas.copy()
    result["incidents"] = np.asarray(count_now, dtype=np.int64)
    result["previous"] = np.asarray(count_then, dtype=np.int64)
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
    result.attrs["outside"] = int(outside)
    return result


def _count_by_area(
    incidents: gpd.GeoDataFrame, areas: gpd.GeoDataFrame, id_field: str
) -> pd.Series:
    area = area_of_incidents(incidents, areas, id_field)
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
    area = area_of_incidents(chosen, areas, id_field)
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


# -- the areas report ----------------------------------------------------------------------


@dataclass(frozen=True)
class AreaReport:
    """Incidents per area of one level in a period (and shift), and per named shift.

    Parameters
    ----------
    level
        ``grids``, ``communities`` or ``subdistricts``.
    table
        :func:`area_trend` of the areas.
    by_shift
        :func:`counts_by_shift` of the areas.
    kpis
        The report's figures for ``kpis.json``.
    problems
        Problems met reading the incidents.
    """

    level: str
    table: gpd.GeoDataFrame
    by_shift: pd.DataFrame
    kpis: dict[str, Any]
    problems: tuple[Problem, ...] = ()


#: Area levels of :func:`area_report`, finest first.
AREA_LEVELS: tuple[str, ...] = ("grids", "communities", "subdistricts")


def area_report(
    workspace: Workspace,
    *,
    level: str,
    period: tuple[str, str],
    shifts: Mapping[str, Shift],
    shift: Shift | None = None,
    preventable_only: bool = False,
    keep_pileups: bool = False,
) -> AreaReport:
    """Incidents per area of ``level`` in ``period`` (and ``shift``), trend, warning level
    and the count of every named shift (without the incidents at pile-ups unless
    ``keep_pileups``).

    Raises
    ------
    GisappError
        If the level is unknown or absent, or the date range is not ordered.
    """
    if level not in AREA_LEVELS:
        raise AnalyticsError(
            _(
                "area level %(level)s is unknown; choose one of %(levels)s",
                level=repr(level),
                levels=", ".join(AREA_LEVELS),
            )
        )
    scope, problems = incident_scope(workspace, keep_pileups=keep_pileups)
    polygons = workspace.spatial_layer(level)
    start, end = _local_bounds(period, scope.timezone)
    before = (start - (end - start), start)
    slices = [
        scope.slice(start, end, shift),
        scope.slice(*before, shift),
        *(scope.slice(start, end, s) for s in shifts.values()),
        scope.slice(start, end),
    ]
    counts = scope.with_kinds(workspace.count_incidents(scope.query(level, slices)))
    if preventable_only:
        counts = counts[counts["preventable"]]
    ids = polygons["id"].astype("string")
    per_slice = [slice_per_area(counts, k, ids) for k in range(len(slices))]
    table = trend_from_counts(
        polygons, per_slice[0][0], per_slice[1][0], outside=per_slice[0][1], rule=None
    )
    names = [*shifts, "all"]
    by_shift = pd.DataFrame(
        {name: per_slice[2 + k][0] for k, name in enumerate(names)},
        index=pd.Index(ids, name="id"),
    )
    levels = table["warning_level"].value_counts().to_dict()
    kpis = {
        "level": level,
        "period": list(period),
        "shift": shift.label() if shift else None,
        "preventable_only": preventable_only,
        "keep_pileups": keep_pileups,
        "areas": len(table),
        "incidents": int(table["incidents"].sum()),
        "previous_incidents": int(table["previous"].sum()),
        "outside_every_area": int(table.attrs.get("outside", 0)),
        "warning_levels": {str(k): int(v) for k, v in levels.items()},
        "problems": [p.to_dict() for p in problems],
    }
    return AreaReport(level, table, by_shift, kpis, tuple(problems))


def _local_bounds(period: tuple[Any, Any], timezone: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``period`` as local times of ``timezone`` (as :func:`area_trend` reads it)."""
    zone_times = pd.Series(pd.DatetimeIndex([], tz=timezone))
    return _period_bounds(period, zone_times)


def slice_per_area(counts: pd.DataFrame, slice_: int, ids: pd.Series) -> tuple[np.ndarray, int]:
    """Incidents per area (in the order of ``ids``) of one slice, and those in no area."""
    chosen = counts[counts["slice"] == slice_]
    inside = chosen[chosen["area_id"].notna()].groupby("area_id")["incidents"].sum()
    outside = int(chosen.loc[chosen["area_id"].isna(), "incidents"].sum())
    return inside.reindex(ids, fill_value=0).to_numpy(dtype=np.int64), outside


# -- names that moved ------------------------------------------------------------------------

#: Hotspots and the bulletin have their own services; their old names here still work.
_MOVED = {
    "shift_hotspots": ("gisapp.services.hotspots", "hotspots_from_incidents"),
    "default_split": ("gisapp.services.hotspots", "default_split"),
    "Bulletin": ("gisapp.services.bulletin", "Bulletin"),
    "monthly_bulletin": ("gisapp.services.bulletin", "monthly_bulletin"),
}


def __getattr__(name: str) -> Any:
    # Loaded lazily: those modules import this one.
    if name in _MOVED:
        import importlib

        module, attribute = _MOVED[name]
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
