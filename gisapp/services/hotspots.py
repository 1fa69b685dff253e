"""Hotspots of a shift: the one pipeline behind ``gisapp hotspots`` and the web hotspot page.

:func:`shift_hotspots` takes a workspace and :class:`HotspotOptions` (shift, method, cell
size, date range, category choice, weeks of the PAI split) and returns a
:class:`HotspotResult`: the hotspot layer in EPSG:4326, the PAI / hit-rate table, the KPIs
and the data problems met on the way. Every door checks its input here, so a wrong
choice gets the same message from the CLI and the web.

The hotspot layer is built from every incident of the shift (what the captain patrols
next); the PAI comes from a separate map built on the training weeks and scored on the
test period that follows: by default the two weeks before the last two weeks of the data
predicting those last two weeks, shortened in proportion for shorter data
(:func:`fitted_split`, whose sentence saying so goes into the KPIs).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gisapp.errors import WorkspaceError
from gisapp.outputs.hotspots import hotspot_file_name
from gisapp.services.analytics import AnalyticsError, load_incidents, study_area
from gisapp.settings import Shift
from gisapp.store.geopackage import Workspace
from layers.errors import Problem
from layers.i18n import _, format_number
from routing import hotspots as hs
from routing.network import StreetNetwork

logger = logging.getLogger(__name__)

__all__ = [
    "ALL_CATEGORIES",
    "METHODS",
    "PREVENTABLE",
    "HotspotOptions",
    "HotspotResult",
    "category_groups",
    "category_options",
    "default_split",
    "fitted_split",
    "hotspots_by_shift",
    "hotspots_from_incidents",
    "hotspots_kpis",
    "shift_hotspots",
]

#: Hotspot methods: kernel density, Getis-Ord Gi*, last period's counts, hot streets.
METHODS: tuple[str, ...] = hs.METHODS

#: Category choice that keeps every incident.
ALL_CATEGORIES = "all"
#: Category choice that keeps the preventable incidents (可防性案件).
PREVENTABLE = "preventable"

_PAI_COLUMNS = (
    "method",
    "train_start",
    "train_end",
    "test_start",
    "test_end",
    "n_train",
    "n_test",
    "hits",
    "hit_rate",
    "area_share",
    "pai",
)


# -- options and result --------------------------------------------------------------------


@dataclass(frozen=True)
class HotspotOptions:
    """What to map: one shift, a method and the incidents to use.

    Parameters
    ----------
    shift
        The shift window (may cross midnight).
    method
        One of :data:`METHODS`.
    area_share
        Share of the area (of street length for ``streets``) flagged hot, in (0, 1].
    cell_size_m
        Grid cell side in metres.
    bandwidth_m
        KDE radius in metres; the rule of thumb from the incidents when None.
    weekdays
        Shift start days (0 = Monday, or names); every day when empty.
    groups
        Category groups to keep; every group when empty.
    preventable_only
        Keep only preventable incidents (可防性案件).
    period
        ``(from, to)`` dates, half-open, local time; all the data when None.
    train_days, test_days
        Days of the PAI's test period (the most recent days of the data) and of the
        training period before it; shortened in proportion when the data is shorter.
    category_table
        Category table CSV; by default the workspace's ``categories`` table, else the
        incidents' own fields, else the bundled standard tables.
    keep_pileups
        Keep incidents at pile-ups (many on one point, e.g. a reporting desk), which are
        left out by default.
    """

    shift: Shift
    method: str = "kde"
    area_share: float = 0.05
    cell_size_m: float = hs.DEFAULT_CELL_SIZE_M
    bandwidth_m: float | None = None
    weekdays: tuple[int | str, ...] = ()
    groups: tuple[str, ...] = ()
    preventable_only: bool = False
    period: tuple[str, str] | None = None
    train_days: int = 14
    test_days: int = 14
    category_table: str | Path | None = None
    keep_pileups: bool = False


@dataclass(frozen=True)
class HotspotResult:
    """Hotspots of one shift.

    Parameters
    ----------
    options
        What was asked.
    layer
        Hotspot cells (``cell``, ``row``, ``col``) or street segments (``segment``) in
        EPSG:4326, best first, with ``rank``, ``score``, ``incidents``, ``shift`` and
        ``method``.
    pai
        The PAI / hit-rate table: one row per scored map (empty when the data could not
        be split into training and test weeks; ``kpis["evaluation_error"]`` says why).
    kpis
        Figures of the map: incidents, parameters, PAI, hit rate, the evaluation.
        Shared by every caller: read it, do not change it.
    problems
        Problems met reading the incidents (unknown categories, missing times).
    """

    options: HotspotOptions
    layer: gpd.GeoDataFrame
    pai: pd.DataFrame
    kpis: dict[str, Any]
    problems: tuple[Problem, ...] = field(default_factory=tuple)


def category_options(choices: Iterable[str]) -> tuple[tuple[str, ...], bool]:
    """Read category choices into ``(groups, preventable_only)``.

    :data:`ALL_CATEGORIES` (or nothing) keeps every incident, :data:`PREVENTABLE` keeps
    the preventable ones; anything else is a category group.
    """
    chosen = [c.strip() for c in choices if c and c.strip()]
    groups = tuple(c for c in chosen if c not in (ALL_CATEGORIES, PREVENTABLE))
    return groups, PREVENTABLE in chosen


def category_groups(
    ws: Workspace, *, category_table: str | Path | None = None, keep_pileups: bool = False
) -> list[str]:
    """The category groups present in the workspace's incidents, sorted (empty without any)."""
    if not ws.has_layer("incidents"):
        return []
    incidents, _ = load_incidents(ws, category_table=category_table, keep_pileups=keep_pileups)
    return _groups_present(incidents)


def _groups_present(incidents: gpd.GeoDataFrame) -> list[str]:
    if "group" not in incidents.columns:
        return []
    return sorted({str(g) for g in incidents["group"].dropna()})


# -- the service -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Inputs:
    incidents: gpd.GeoDataFrame
    problems: tuple[Problem, ...]
    area: gpd.GeoDataFrame
    network: StreetNetwork | None


def shift_hotspots(ws: Workspace, options: HotspotOptions) -> HotspotResult:
    """Map the hotspots of one shift and score the method with the PAI.

    Raises
    ------
    GisappError
        If a choice is invalid (method, share, cell size, date range, category group,
        weekdays) or the shift has no incidents; the message says what to change.
    """
    return hotspots_by_shift(ws, [options])[0]


def hotspots_by_shift(ws: Workspace, options: Sequence[HotspotOptions]) -> list[HotspotResult]:
    """:func:`shift_hotspots` for several shifts (or methods), reading the workspace once.

    Every choice is checked before any map is computed. The options should share
    ``category_table`` and ``keep_pileups``; the first one's are used.
    """
    if not options:
        return []
    for item in options:
        _check_options(item)
    inputs = _load_inputs(
        ws,
        category_table=options[0].category_table,
        keep_pileups=options[0].keep_pileups,
        with_network=any(item.method == "streets" for item in options),
    )
    for item in options:
        _check_groups(inputs.incidents, item.groups)
    return [_hotspot_result(inputs, item) for item in options]


def hotspots_kpis(ws: Workspace, results: Sequence[HotspotResult]) -> dict[str, Any]:
    """The figures of a run for ``kpis.json``: workspace, method, problems, each shift's
    figures with the name of its hotspot file."""
    return {
        "workspace": ws.name,
        "timezone": ws.timezone,
        "method": results[0].options.method if results else None,
        "problems": [p.to_dict() for p in results[0].problems] if results else [],
        "shifts": {
            r.options.shift.name: {
                **r.kpis,
                "file": hotspot_file_name(r.options.shift.name, r.options.method),
            }
            for r in results
        },
    }


def _check_options(options: HotspotOptions) -> None:
    """Refuse choices a user can fix, with the fix in the message."""
    if options.method not in METHODS:
        raise AnalyticsError(
            _(
                "hotspot method %(method)s is unknown; choose one of %(methods)s",
                method=repr(options.method),
                methods=", ".join(METHODS),
            )
        )
    if not 0 < options.area_share <= 1:
        raise AnalyticsError(
            _(
                "the share of the area flagged hot should be above 0 and at most 1 (e.g. 0.05 "
                "for 5%%), got %(share)s",
                share=format(options.area_share, "g"),
            )
        )
    if not options.cell_size_m > 0:
        raise AnalyticsError(
            _(
                "the cell size should be above 0 m, got %(size)s m",
                size=format(options.cell_size_m, "g"),
            )
        )
    if options.bandwidth_m is not None and not options.bandwidth_m > 0:
        raise AnalyticsError(
            _(
                "the KDE radius should be above 0 m, got %(radius)s m",
                radius=format(options.bandwidth_m, "g"),
            )
        )
    if options.train_days < 1 or options.test_days < 1:
        raise AnalyticsError(
            _(
                "the PAI needs at least one training day and one test day, got "
                "%(train)s and %(test)s",
                train=options.train_days,
                test=options.test_days,
            )
        )
    if options.period is not None:
        _date_range(options.period)
    for day in options.weekdays:
        _weekday(day)


_WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _weekday(day: int | str) -> int:
    text = str(day).strip().lower()
    if text.isdigit() and 0 <= int(text) <= 6:
        return int(text)
    for number, name in enumerate(_WEEKDAY_NAMES):
        if len(text) >= 3 and name.startswith(text):
            return number
    raise AnalyticsError(
        _(
            "weekday %(day)s is unknown; use 0 (Monday) to 6 (Sunday) or names like 'sat'",
            day=repr(day),
        )
    )


def _date_range(period: tuple[str, str]) -> tuple[pd.Timestamp, pd.Timestamp]:
    try:
        start, end = (pd.Timestamp(value) for value in period)
    except (TypeError, ValueError):
        raise AnalyticsError(
            _(
                "dates should look like 2014-09-01, got from %(start)s to %(end)s",
                start=repr(period[0]),
                end=repr(period[1]),
            )
        ) from None
    if not start < end:
        raise AnalyticsError(
            _(
                "the date range should start before it ends, got from %(start)s to %(end)s",
                start=period[0],
                end=period[1],
            )
        )
    return start, end


def _load_inputs(
    ws: Workspace,
    *,
    category_table: str | Path | None,
    keep_pileups: bool = False,
    with_network: bool,
) -> _Inputs:
    if not ws.has_layer("incidents"):
        raise WorkspaceError(
            _(
                "workspace %(workspace)s has no incidents layer; import incidents first",
                workspace=repr(ws.label),
            )
        )
    incidents, problems = load_incidents(
        ws, category_table=category_table, keep_pileups=keep_pileups
    )
    network = None
    if with_network:
        if not ws.has_layer("roads"):
            raise WorkspaceError(
                _(
                    "method 'streets' needs a roads layer in %(workspace)s; import roads or "
                    "choose another method",
                    workspace=repr(ws.label),
                )
            )
        from gisapp.services.network import workspace_network

        network = workspace_network(ws)
    return _Inputs(incidents, tuple(problems), study_area(ws), network)


def _check_groups(incidents: gpd.GeoDataFrame, groups: Iterable[str]) -> None:
    present = _groups_present(incidents)
    unknown = [g for g in groups if g not in present]
    if unknown:
        raise AnalyticsError(
            _(
                "category group %(group)s is not in the incidents; choose "
                "%(all)s, %(preventable)s or one of %(present)s",
                group=repr(unknown[0]),
                all=repr(ALL_CATEGORIES),
                preventable=repr(PREVENTABLE),
                present=", ".join(present) or _("none"),
            )
        )


def _hotspot_result(inputs: _Inputs, options: HotspotOptions) -> HotspotResult:
    incidents = inputs.incidents
    if options.period is not None:
        incidents = hs.select_incidents(incidents, period=_date_range(options.period))
    layer, kpis = hotspots_from_incidents(
        incidents,
        shift=options.shift,
        method=options.method,
        area=inputs.area,
        network=inputs.network,
        area_share=options.area_share,
        cell_size_m=options.cell_size_m,
        bandwidth_m=options.bandwidth_m,
        weekdays=[_weekday(d) for d in options.weekdays] or None,
        groups=options.groups or None,
        preventable_only=options.preventable_only,
        train_days=options.train_days,
        test_days=options.test_days,
    )
    kpis["groups"] = list(options.groups) or None
    kpis["preventable_only"] = options.preventable_only
    kpis["keep_pileups"] = options.keep_pileups
    kpis["period"] = list(options.period) if options.period else None
    return HotspotResult(options, layer, _pai_table(kpis), kpis, inputs.problems)


def _pai_table(kpis: dict[str, Any]) -> pd.DataFrame:
    evaluation = kpis.get("evaluation")
    if not evaluation:
        return pd.DataFrame(columns=list(_PAI_COLUMNS))
    row = {
        **{k: evaluation[k] for k in ("method", "n_train", "n_test", "hits", "hit_rate", "pai")},
        "train_start": evaluation["train"][0],
        "train_end": evaluation["train"][1],
        "test_start": evaluation["test"][0],
        "test_end": evaluation["test"][1],
        "area_share": evaluation["area_share"],
    }
    return pd.DataFrame([row], columns=list(_PAI_COLUMNS))


# -- the pipeline over incidents -------------------------------------------------------------


def default_split(
    incidents: gpd.GeoDataFrame, *, train_days: int = 14, test_days: int = 14
) -> tuple[tuple[pd.Timestamp, pd.Timestamp], tuple[pd.Timestamp, pd.Timestamp]]:
    """Training and test periods fitted to the incidents' span, the test on the most
    recent days (:func:`fitted_split` without its note)."""
    train, test, _ = fitted_split(incidents, train_days=train_days, test_days=test_days)
    return train, test


def fitted_split(
    incidents: gpd.GeoDataFrame, *, train_days: int = 14, test_days: int = 14
) -> tuple[tuple[pd.Timestamp, pd.Timestamp], tuple[pd.Timestamp, pd.Timestamp], str]:
    """Training and test periods for the PAI, fitted to the span of the incidents.

    The test period is the most recent ``test_days`` whole days of the data (up to the
    local midnight after the last incident) and training the ``train_days`` before it:
    the accuracy check is on the weeks a captain plans from, never on the first weeks
    of a long history. Data spanning fewer than ``train_days + test_days`` days is split
    in the same proportion (at least one day each).

    Returns
    -------
    tuple
        ``(train_start, train_end)``, ``(test_start, test_end)`` and a sentence saying
        which windows were used and why.

    Raises
    ------
    AnalyticsError
        If the incidents have no time or all fall on one day.
    """
    times = incidents["occurred_at"].dropna()
    if times.empty:
        raise AnalyticsError(
            _("no incidents with a time: cannot split into training and test weeks")
        )
    first, end = times.min().normalize(), times.max().normalize() + pd.DateOffset(days=1)
    span = (end.date() - first.date()).days  # calendar days, whatever the clock changes
    wanted = train_days + test_days
    if span < 2:
        raise AnalyticsError(
            _(
                "the incidents all fall on %(day)s: the PAI needs a day to learn from "
                "and a later day to test on; choose a longer date range",
                day=format(first, "%Y-%m-%d"),
            )
        )
    if span >= wanted:
        tested, trained = test_days, train_days
        note = _(
            "tested on the most recent %(tested)s days, trained on the %(trained)s days before",
            tested=tested,
            trained=trained,
        )
    else:
        tested = min(span - 1, max(1, span * test_days // wanted))
        trained = span - tested
        note = _(
            "the incidents span only %(span)s days (fewer than %(wanted)s): trained on the "
            "first %(trained)s, tested on the last %(tested)s",
            span=span,
            wanted=wanted,
            trained=trained,
            tested=tested,
        )
    middle = end - pd.DateOffset(days=tested)
    start = middle - pd.DateOffset(days=trained)
    return (start, middle), (middle, end), note


def hotspots_from_incidents(
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
    train_days: int = 14,
    test_days: int = 14,
) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """Hotspots of one shift and the PAI of the method on held-out weeks.

    Parameters
    ----------
    incidents
        Incidents with local ``occurred_at``, ``group``, ``severity``, ``preventable``.
    shift
        The shift window (may cross midnight).
    method
        ``kde``, ``gistar``, ``counts`` or ``streets``.
    area
        Study area polygons (:func:`gisapp.services.analytics.study_area`).
    network
        Street network, for ``streets``.
    area_share
        Share of the area (street length) flagged hot.
    cell_size_m, bandwidth_m
        Grid cell side and KDE radius (default: the rule of thumb).
    weekdays, groups, preventable_only
        Further selection of incidents.
    split
        ``((train_start, train_end), (test_start, test_end))``; else :func:`default_split`
        with ``train_days`` and ``test_days``.

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
    chosen = _shift_incidents(
        incidents, shift, weekdays=weekdays, groups=groups, preventable_only=preventable_only
    )
    kpis: dict[str, Any] = {
        "shift": shift.name,
        "window": shift.label(),
        "method": method,
        "incidents": len(chosen),
        "area_share": area_share,
    }
    if method == "streets":
        layer = _street_hotspots(chosen, network, area_share=area_share, kpis=kpis)
    else:
        layer = _grid_hotspots(
            chosen,
            area,
            method=method,
            area_share=area_share,
            cell_size_m=cell_size_m,
            bandwidth_m=bandwidth_m,
            kpis=kpis,
        )
    layer = layer.reset_index(drop=True)
    layer["shift"] = shift.name
    layer["method"] = method
    kpis.update(
        _evaluation(
            chosen,
            method=method,
            split=split,
            train_days=train_days,
            test_days=test_days,
            area_share=area_share,
            area=area,
            network=network,
            cell_size_m=cell_size_m,
            bandwidth_m=bandwidth_m,
        )
    )
    return layer.to_crs("EPSG:4326"), kpis


def _shift_incidents(
    incidents: gpd.GeoDataFrame,
    shift: Shift,
    *,
    weekdays: Iterable[int | str] | None,
    groups: Iterable[str] | None,
    preventable_only: bool,
) -> gpd.GeoDataFrame:
    """The incidents of the shift and categories; refused when there are none."""
    groups = list(groups) if groups is not None else None
    chosen = hs.select_incidents(
        incidents,
        window=(f"{shift.start:%H:%M}", f"{shift.end:%H:%M}"),
        weekdays=weekdays,
        groups=groups,
        preventable_only=preventable_only,
    )
    if chosen.empty:
        if groups:
            raise AnalyticsError(
                _(
                    "no incidents in shift %(shift)s (%(window)s) of groups %(groups)s among "
                    "%(count)s; choose another shift, weekdays, date range or category",
                    shift=repr(shift.name),
                    window=shift.label(),
                    groups=", ".join(groups),
                    count=format_number(len(incidents)),
                )
            )
        raise AnalyticsError(
            _(
                "no incidents in shift %(shift)s (%(window)s) among %(count)s; choose another "
                "shift, weekdays, date range or category",
                shift=repr(shift.name),
                window=shift.label(),
                count=format_number(len(incidents)),
            )
        )
    return chosen


def _street_hotspots(
    chosen: gpd.GeoDataFrame,
    network: StreetNetwork | None,
    *,
    area_share: float,
    kpis: dict[str, Any],
) -> gpd.GeoDataFrame:
    if network is None:
        raise AnalyticsError(_("method 'streets' needs a roads layer; import roads first"))
    scores = hs.street_scores(network, chosen)
    layer = hs.hot_streets(scores, length_share=area_share)
    layer.insert(0, "segment", np.asarray(layer.index, dtype=np.int64))
    kpis["unsnapped_incidents"] = scores.attrs["unsnapped"]
    kpis["incident_share_on_top_length"] = {
        f"{share:.0%}": round(value, 4) for share, value in hs.length_concentration(scores).items()
    }
    return layer


def _grid_hotspots(
    chosen: gpd.GeoDataFrame,
    area: gpd.GeoDataFrame,
    *,
    method: str,
    area_share: float,
    cell_size_m: float,
    bandwidth_m: float | None,
    kpis: dict[str, Any],
) -> gpd.GeoDataFrame:
    cells = hs.grid_cells(area, cell_size_m=cell_size_m)
    score, parameters = hs.grid_scores(chosen, cells, method=method, bandwidth_m=bandwidth_m)  # type: ignore[arg-type]
    kpis.update(parameters)
    kpis["cell_size_m"] = cell_size_m
    top = hs.top_cells(score, cells, area_share=area_share)
    layer = cells.loc[top].copy()
    layer.insert(0, "cell", np.asarray(layer.index, dtype=np.int64))
    layer["score"] = score.loc[top].to_numpy()
    layer["incidents"] = hs.incident_counts(chosen, cells).loc[top].to_numpy()
    layer["rank"] = np.arange(1, len(layer) + 1)
    return layer


def _evaluation(
    chosen: gpd.GeoDataFrame,
    *,
    method: str,
    split: tuple[tuple[Any, Any], tuple[Any, Any]] | None,
    train_days: int,
    test_days: int,
    **build: Any,
) -> dict[str, Any]:
    """The PAI figures, or ``evaluation_error`` saying why the map could not be scored.

    An unscorable map (too few weeks, no test incidents) is a finding for this shift, not
    a failure of the map.
    """
    note = _("the training and test periods asked for")
    try:
        if split is not None:
            train, test = split
        else:
            train, test, note = fitted_split(chosen, train_days=train_days, test_days=test_days)
    except AnalyticsError as exc:
        return {"evaluation_error": str(exc)}
    for name, (start, end) in (("training", train), ("test", test)):
        if hs.select_incidents(chosen, period=(start, end)).empty:
            days = {
                "start": f"{pd.Timestamp(start):%Y-%m-%d}",
                "end": f"{pd.Timestamp(end):%Y-%m-%d}",
            }
            if name == "training":
                error = _(
                    "no incidents of this shift in the training weeks %(start)s to %(end)s; "
                    "choose a date range with incidents in both",
                    **days,
                )
            else:
                error = _(
                    "no incidents of this shift in the test weeks %(start)s to %(end)s; "
                    "choose a date range with incidents in both",
                    **days,
                )
            return {"evaluation_error": error}
    try:
        evaluation = hs.evaluate_hotspots(
            chosen,
            method=method,  # type: ignore[arg-type]
            train=train,
            test=test,
            area_share=build["area_share"],
            study_area=build["area"],
            network=build["network"],
            cell_size_m=build["cell_size_m"],
            bandwidth_m=build["bandwidth_m"],
        )
    except hs.HotspotError as exc:
        return {"evaluation_error": str(exc)}
    return {
        "evaluation": {**evaluation.to_dict(), "windows": note},
        "pai": round(evaluation.score.pai, 3),
        "hit_rate": round(evaluation.score.hit_rate, 4),
    }
