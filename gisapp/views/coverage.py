"""Data behind the coverage page: 1-3-5 minute circles, blind zones, a plan hour by hour."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from gisapp.errors import WorkspaceError
from gisapp.outputs.coverage import coverage_kpis_json, reach_band_file, reach_band_geojson
from gisapp.outputs.words import blind_kind_name, shift_name
from gisapp.render.coverage import coverage_map, hourly_coverage_map
from gisapp.render.maps import attribution_for
from gisapp.services.coverage import (
    CoverageOptions,
    CoverageResult,
    compute_coverage,
    coverage_kpis,
)
from gisapp.services.hourly import HourlyCoverage, HourlyOptions, plan_coverage_by_hour
from gisapp.store.geopackage import Workspace
from gisapp.views.cache import derived_cached
from layers.i18n import _

logger = logging.getLogger(__name__)

#: Travel modes offered on the coverage page.
COVERAGE_MODES: tuple[str, ...] = ("car", "ebike", "foot")


def _check(ws: Workspace, mode: str) -> None:
    if mode not in COVERAGE_MODES:
        raise WorkspaceError(
            _(
                "mode %(mode)r is not one of %(modes)s",
                mode=mode,
                modes=", ".join(COVERAGE_MODES),
            )
        )
    if not ws.has_layer("roads"):
        raise WorkspaceError(_("the workspace has no roads layer; import roads first"))


def coverage_view(
    ws: Workspace,
    *,
    minutes: Sequence[float],
    mode: str,
    key_place_minutes: Mapping[str, float] | None = None,
    keep_pileups: bool = False,
) -> CoverageResult:
    """Reach bands, blind zones and KPIs of the stations and posts.

    Parameters
    ----------
    ws
        Workspace with roads and stations or duty points.
    minutes
        Rapid-response bands (快反圈), e.g. ``(1, 3, 5)`` from the settings.
    mode
        One of :data:`COVERAGE_MODES`.
    key_place_minutes
        Required minutes per key-place kind (settings ``key_place_minutes``).
    keep_pileups
        Weigh the incidents at pile-ups too (settings ``keep_pileups``).

    Returns
    -------
    CoverageResult
        ``coverage_blind_rows`` and ``coverage_map_page`` turn it into a page.

    Raises
    ------
    GisappError
        If the mode is unknown or the workspace lacks roads or stations.
    """
    _check(ws, mode)
    options = CoverageOptions(
        minutes=tuple(float(m) for m in minutes),
        mode=mode,
        key_place_minutes=key_place_minutes,
        keep_pileups=keep_pileups,
    )
    return compute_coverage(ws, options)


def coverage_blind_rows(result: CoverageResult, *, limit: int = 15) -> list[dict[str, Any]]:
    """The riskiest blind zones as table rows (kind, name, risk, required / reached minutes),
    the kind and "never" in the reader's words."""
    zones = result.blind_zones
    if not len(zones):
        return []
    top = zones.sort_values("risk", ascending=False).head(limit)
    rows = []
    for _index, row in top.iterrows():
        reached = row.get("reached_minutes")
        rows.append(
            {
                "kind": blind_kind_name(row.get("kind", "")),
                "name": "" if pd.isna(row.get("name")) else str(row.get("name")),
                "risk": round(float(row.get("risk") or 0.0), 2),
                "required_minutes": row.get("required_minutes"),
                "reached_minutes": _("never") if reached is None or pd.isna(reached) else reached,
            }
        )
    return rows


def coverage_plan_choices(ws: Workspace) -> list[dict[str, str]]:
    """The saved plans offered on the coverage page, newest first: ``plan_id``, ``label``."""
    from gisapp.store.plans import list_plans

    plans = list_plans(ws)
    choices = []
    for record in plans.to_dict("records"):
        shift = "" if pd.isna(record["shift"]) else str(record["shift"])
        name = "" if pd.isna(record["shift_name"]) else shift_name(record["shift_name"])
        window = f"{name} {shift}".strip()
        plan_id = str(record["plan_id"])
        choices.append(
            {"plan_id": plan_id, "label": f"{plan_id} ({window})" if window else plan_id}
        )
    return choices


def coverage_plan_view(
    ws: Workspace,
    plan_id: str,
    *,
    minutes: Sequence[float],
    mode: str,
    key_place_minutes: Mapping[str, float] | None = None,
    keep_pileups: bool = False,
) -> HourlyCoverage:
    """A saved plan's coverage by hour (:func:`gisapp.services.hourly.plan_coverage_by_hour`,
    the function ``gisapp coverage --plan`` calls).

    Parameters
    ----------
    ws
        Workspace with roads, stations and the saved plan.
    plan_id
        The plan's id (one of :func:`coverage_plan_choices`).
    minutes
        Rapid-response bands (快反圈), e.g. ``(1, 3, 5)``.
    mode
        One of :data:`COVERAGE_MODES`.
    key_place_minutes
        Required minutes per key-place kind (settings ``key_place_minutes``).
    keep_pileups
        Weigh the incidents at pile-ups too (settings ``keep_pileups``).

    Returns
    -------
    HourlyCoverage
        The table, per-hour reach and positions; ``coverage_map_page`` draws it.

    Raises
    ------
    GisappError
        If the mode is unknown, or the plan, roads or stations are missing.
    """
    from gisapp.store.plans import load_plan

    _check(ws, mode)
    options = HourlyOptions(
        minutes=tuple(float(m) for m in minutes),
        mode=mode,
        key_place_minutes=key_place_minutes,
        keep_pileups=keep_pileups,
    )
    return plan_coverage_by_hour(ws, load_plan(ws, plan_id), options)


def coverage_map_page(
    ws: Workspace,
    result: CoverageResult | HourlyCoverage,
    *,
    assets_url: str = "/static/vendor",
) -> str:
    """The coverage map (self-contained), or a plan's hour-by-hour map with its slider.

    The page is kept while ``result`` is alive and the workspace unchanged.
    """

    def draw() -> str:
        roads = ws.layer("roads")
        attribution = attribution_for(ws.layer_notes)
        if isinstance(result, HourlyCoverage):
            return hourly_coverage_map(
                result, roads=roads, attribution=attribution, assets_url=assets_url
            )
        return coverage_map(result, roads=roads, attribution=attribution)

    return derived_cached(result, (ws.location, ws.version, "coverage_map", assets_url), draw)


def coverage_kpis_text(result: CoverageResult, hourly: HourlyCoverage | None = None) -> str:
    """The ``kpis.json`` ``gisapp coverage`` writes for the same question (with ``hourly``
    for a plan), as text."""
    return coverage_kpis_json(coverage_kpis(result, hourly))


def reach_band_files(result: CoverageResult) -> list[str]:
    """File names of the result's reach bands, e.g. ``reach_3min.geojson``."""
    return [reach_band_file(float(m)) for m in sorted(result.bands["minutes"])]


def reach_band_text(result: CoverageResult, file_name: str) -> str | None:
    """The ``reach_<m>min.geojson`` ``gisapp coverage`` and ``gisapp reach`` write, as
    text; None when the result has no such band."""
    for minutes in result.bands["minutes"]:
        if reach_band_file(float(minutes)) == file_name:
            return reach_band_geojson(result.bands, float(minutes))
    return None
