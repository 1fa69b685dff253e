"""Data behind the shift plan pages: the plan form, saved plans side by side, one plan's
figures, timetables, map and downloads.

The web app is a thin adapter over these functions: they return data, HTML and bytes,
never responses. An officer's view is the plan cut to his unit
(:meth:`gisapp.plans.Plan.for_unit`).
"""

from __future__ import annotations

import logging
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from gisapp.errors import ExportError
from gisapp.outputs import plan as plan_files
from gisapp.outputs.files import safe_file_name
from gisapp.outputs.gpx import gpx_bytes
from gisapp.outputs.words import shift_text
from gisapp.plans import Plan
from gisapp.render import briefing, maps
from gisapp.render.printing import chromium_executable, limit_printing, print_limit
from gisapp.settings import Shift
from gisapp.store.geopackage import Workspace
from gisapp.store.plans import list_plans
from gisapp.views.cache import derived_cached, workspace_cached
from layers.i18n import LazyString, _, _l

logger = logging.getLogger(__name__)

#: Download formats of a plan: ``format -> (file name, media type)``; ``gpx`` is per unit.
PLAN_DOWNLOADS: dict[str, tuple[str, str]] = {
    "pdf": ("briefing.pdf", "application/pdf"),
    "png": ("briefing.png", "image/png"),
    "html": ("plan_map.html", "text/html"),
    "geojson": ("routes.geojson", "application/geo+json"),
    "stops.geojson": ("stops.geojson", "application/geo+json"),
    "gpkg": ("plan.gpkg", "application/geopackage+sqlite3"),
    "csv": ("stops.csv", "text/csv"),
    "gpx": (".gpx", "application/gpx+xml"),
}
#: Formats printed through Chromium.
PRINTED_FORMATS = frozenset({"pdf", "png"})


@dataclass(frozen=True)
class UnitChoice:
    """A unit offered on the plan form."""

    unit_id: str
    mode: str
    shift: str
    on_shift: bool


@dataclass(frozen=True)
class Download:
    """A file to send: its name, media type and content."""

    file_name: str
    mimetype: str
    data: bytes


@dataclass(frozen=True)
class PlanView:
    """One plan as its page shows it.

    Parameters
    ----------
    plan
        The plan (cut to one unit for an officer).
    kpis
        ``(label, value)`` rows of plan-wide figures (empty for one unit's view).
    units
        Per unit: ``unit_id``, ``mode``, ``color``, ``distance_km``, ``duration``,
        ``hotspot_stops``, ``dwell_min``, ``dosage``.
    timetables
        Per unit the timetable rows of :func:`gisapp.render.briefing.timetable_rows`.
    """

    plan: Plan
    kpis: list[tuple[str, str]]
    units: list[dict[str, str]]
    timetables: dict[str, list[list[str]]]


def unit_choices(ws: Workspace, shift: Shift) -> list[UnitChoice]:
    """The workspace's units for the plan form, marking those that work ``shift``.

    A unit works the shift when its ``shift`` field is empty or names this shift (by
    name or window), as :func:`gisapp.services.plan.plan_shift` decides by default.
    """
    if not ws.has_layer("units"):
        return []
    units = ws.layer("units")
    out = []
    for record in units.to_dict("records"):
        text = _text(record.get("shift"))
        out.append(
            UnitChoice(
                unit_id=_text(record.get("id")),
                mode=_text(record.get("mode")),
                shift=text,
                on_shift=text in ("", shift.label(), shift.name),
            )
        )
    return out


def plan_rows(ws: Workspace, *, unit_id: str | None = None) -> list[dict[str, str]]:
    """The saved plans, newest first, with their key figures as display text.

    Parameters
    ----------
    ws
        The workspace.
    unit_id
        Keep only plans with this unit, and leave out the plan-wide figures (an officer's
        list); ``None`` for every plan with every figure.
    """
    rows = workspace_cached(ws, ("plan_rows", unit_id), lambda: _plan_rows(ws, unit_id))
    return [dict(row) for row in rows]


def _plan_rows(ws: Workspace, unit_id: str | None) -> list[dict[str, str]]:
    plans = list_plans(ws)
    rows = []
    for record in plans.to_dict("records"):
        units = [u for u in _text(record["units"]).split(",") if u]
        if unit_id is not None and unit_id not in units:
            continue
        created = record["created"]
        row = {
            "plan_id": _text(record["plan_id"]),
            "created": ""
            if pd.isna(created)
            else pd.Timestamp(created).tz_convert(ws.timezone).strftime("%Y-%m-%d %H:%M"),
            "shift": shift_text(record["shift_name"], record["shift"]),
            "start": _when(record["start"]),
            "seed": _text(record["seed"]),
            "units": ", ".join(units),
        }
        if unit_id is None:
            row.update(
                {
                    "dosage": _number(record["objective"], "{:.2f}"),
                    "risk_covered": _number(record["risk_covered_share"], "{:.0%}"),
                    "hotspot_share": _number(record["hotspot_risk_share"], "{:.0%}"),
                    "dosage_minutes": _number(record["hotspot_dosage_minutes"], "{:,.0f}"),
                    "hotspot_stops": _number(record["hotspot_stops"], "{:,.0f}"),
                    "balance": _number(record["balance_ratio"], "{:.2f}"),
                    "street_km": _number(record["street_km_covered"], "{:,.1f}"),
                }
            )
        rows.append(row)
    return rows


def briefing_plan(saved: Plan, *, unit_id: str | None = None) -> Plan:
    """A saved plan as a page shows it: the whole plan, or ``unit_id``'s part of it.

    Raises
    ------
    ExportError
        If the plan has no unit ``unit_id``.
    """
    return saved if unit_id is None else saved.for_unit(unit_id)


#: The plan-wide figures of a plan's page, in order: ``KPI key -> label``.
_DOSAGE = _l("Dosage (risk-weighted)")
_HOTSPOT_RISK = _l("Hotspot risk dosed")
_STREET_RISK = _l("Street risk covered")
_HOTSPOT_STOPS = _l("Hotspot stops")
_HOTSPOT_MINUTES = _l("Minutes at hotspots")
_HOTSPOTS_VISITED = _l("Hotspots visited")
_BALANCE = _l("Balance (busiest / least busy)")
_STREET_KM = _l("Street km covered")
_GRIDS_VISITED = _l("Grids visited")

#: Figures of two plans compared: ``(KPI key, label, format, difference format)``; the
#: labels read in the language in force.
COMPARED_KPIS: tuple[tuple[str, LazyString, str, str], ...] = (
    ("objective", _DOSAGE, "{:.2f}", "{:+.2f}"),
    ("hotspot_risk_share", _HOTSPOT_RISK, "{:.0%}", "{:+.0%}"),
    ("risk_covered_share", _STREET_RISK, "{:.0%}", "{:+.0%}"),
    ("hotspot_stops", _HOTSPOT_STOPS, "{:,.0f}", "{:+,.0f}"),
    ("hotspot_dosage_minutes", _HOTSPOT_MINUTES, "{:,.0f}", "{:+,.0f}"),
    ("hotspots_visited", _HOTSPOTS_VISITED, "{:,.0f}", "{:+,.0f}"),
    ("balance_ratio", _BALANCE, "{:.2f}", "{:+.2f}"),
    ("street_km_covered", _STREET_KM, "{:,.1f}", "{:+,.1f}"),
    ("grids_visited", _GRIDS_VISITED, "{:,.0f}", "{:+,.0f}"),
    ("units_used", _l("Units"), "{:,.0f}", "{:+,.0f}"),
)


@dataclass(frozen=True)
class ComparedFigure:
    """One row of two plans' figures side by side."""

    label: str
    first: str
    second: str
    difference: str


def plan_comparison(first: Plan, second: Plan) -> list[ComparedFigure]:
    """The key figures of two plans side by side, with ``second - first``.

    A figure one of the plans lacks shows blank, and so does its difference.
    """
    rows = []
    for key, label, spec, diff_spec in COMPARED_KPIS:
        a, b = _float(first.kpis.get(key)), _float(second.kpis.get(key))
        difference = "" if math.isnan(a) or math.isnan(b) else _signed(b - a, diff_spec)
        rows.append(ComparedFigure(str(label), _number(a, spec), _number(b, spec), difference))
    a_km, b_km = (_float(p.routes["distance_m"].sum()) / 1000 for p in (first, second))
    rows.append(
        ComparedFigure(
            _("Route km (all units)"),
            _number(a_km, "{:,.1f}"),
            _number(b_km, "{:,.1f}"),
            "" if math.isnan(a_km - b_km) else _signed(b_km - a_km, "{:+,.1f}"),
        )
    )
    return rows


def plan_view(plan: Plan, *, whole_plan: bool = True) -> PlanView:
    """Figures, per-unit rows and timetables of a plan for its page.

    Parameters
    ----------
    plan
        From :func:`briefing_plan`.
    whole_plan
        Show the plan-wide KPIs (dosage, risk covered, balance); off for one unit's view.

    The whole plan's figures are kept while ``plan`` (a cached saved plan) is alive; a
    unit's part is cut afresh for each request, so its figures are not kept.
    """
    if not whole_plan:
        return _plan_view(plan, whole_plan)
    return derived_cached(plan, ("plan_view",), lambda: _plan_view(plan, whole_plan))


def _plan_view(plan: Plan, whole_plan: bool) -> PlanView:
    k = plan.kpis
    kpis: list[tuple[str, str]] = []
    if whole_plan:
        visited = _(
            "%(visited)s of %(hotspots)s",
            visited=k.get("hotspots_visited", ""),
            hotspots=k.get("hotspots", ""),
        )
        kpis = [
            (str(_DOSAGE), _number(k.get("objective"), "{:.2f}")),
            (str(_HOTSPOT_RISK), _number(k.get("hotspot_risk_share"), "{:.0%}")),
            (str(_STREET_RISK), _number(k.get("risk_covered_share"), "{:.0%}")),
            (str(_HOTSPOT_STOPS), _number(k.get("hotspot_stops"), "{:,.0f}")),
            (str(_HOTSPOT_MINUTES), _number(k.get("hotspot_dosage_minutes"), "{:,.0f}")),
            (str(_HOTSPOTS_VISITED), visited),
            (str(_BALANCE), _number(k.get("balance_ratio"), "{:.2f}")),
            (str(_STREET_KM), _number(k.get("street_km_covered"), "{:,.1f}")),
            (str(_GRIDS_VISITED), _number(k.get("grids_visited"), "{:,.0f}")),
        ]
    colors = briefing.unit_colors(plan)
    per_unit = k.get("units") if isinstance(k.get("units"), dict) else {}
    units = []
    timetables = {}
    for unit in plan.unit_ids:
        route = plan.routes[plan.routes["unit_id"] == unit].iloc[0]
        figures = per_unit.get(unit, {}) if isinstance(per_unit, dict) else {}
        stops = plan.unit_stops(unit)
        hot = stops[stops["kind"] == "hotspot"]
        units.append(
            {
                "unit_id": unit,
                "mode": _text(route.get("mode")),
                "color": colors[unit],
                "distance_km": _number(_float(route.get("distance_m")) / 1000, "{:,.1f}"),
                "duration": _duration(route.get("duration_s")),
                "hotspot_stops": f"{len(hot):,}",
                "dwell_min": _number(hot["dwell_min"].sum(), "{:,.0f}"),
                "dosage": _number(figures.get("dosage"), "{:.2f}"),
            }
        )
        timetables[unit] = briefing.timetable_rows(plan, unit)
    return PlanView(plan=plan, kpis=kpis, units=units, timetables=timetables)


def plan_map_html(
    plan: Plan, *, ws: Workspace | None = None, assets_url: str = "/static/vendor"
) -> str:
    """The plan's map page for a frame: Leaflet and its plugins from ``assets_url``.

    With ``ws`` (a saved plan) the page is kept until the workspace changes.
    """

    def draw() -> str:
        return maps.render_html(briefing.plan_map(plan, ws=ws, assets_url=assets_url))

    if ws is None:
        return draw()
    key = ("plan_map", plan.plan_id, tuple(plan.unit_ids), assets_url)
    return workspace_cached(ws, key, draw)


def chromium_available() -> bool:
    """Whether PDF and PNG briefings can be printed here (Chromium is installed)."""
    try:
        chromium_executable()
    except ExportError:
        return False
    return True


def plan_download(
    plan: Plan, fmt: str, *, ws: Workspace | None = None, unit_id: str | None = None
) -> Download:
    """One download of a plan.

    Parameters
    ----------
    plan
        From :func:`briefing_plan`.
    fmt
        A key of :data:`PLAN_DOWNLOADS`.
    ws
        Workspace whose roads and grids the maps draw.
    unit_id
        The unit of a ``gpx`` download.

    Raises
    ------
    ExportError
        For an unknown format, a ``gpx`` without a unit of the plan, or (PDF and PNG)
        when Chromium is not installed.
    """
    if fmt not in PLAN_DOWNLOADS:
        raise ExportError(
            _(
                "download format %(format)r is unknown; choose one of %(formats)s",
                format=fmt,
                formats=", ".join(PLAN_DOWNLOADS),
            )
        )
    name, mimetype = PLAN_DOWNLOADS[fmt]
    prefix = safe_file_name(plan.plan_id, fallback="plan")
    data: bytes
    if fmt == "pdf":
        data = briefing.briefing_pdf(plan, ws=ws)
    elif fmt == "png":
        data = briefing.briefing_png(plan, ws=ws, dpi=150)
    elif fmt == "html":
        data = briefing.plan_html(plan, ws=ws).encode("utf-8")
    elif fmt == "geojson":
        data = plan_files.routes_geojson(plan).encode("utf-8")
    elif fmt == "stops.geojson":
        data = plan_files.stops_geojson(plan).encode("utf-8")
    elif fmt == "csv":
        data = plan_files.stops_csv(plan).encode("utf-8")
    elif fmt == "gpkg":
        with tempfile.TemporaryDirectory() as tmp:
            data = plan_files.write_gpkg(plan, Path(tmp) / "plan.gpkg").read_bytes()
    else:
        if unit_id is None:
            raise ExportError(_("a GPX download is per unit; name the unit (unit=...)"))
        data = gpx_bytes(plan, unit_id)
        return Download(safe_file_name(f"{prefix}_{unit_id}", suffix=".gpx"), mimetype, data)
    return Download(f"{prefix}_{name}", mimetype, data)


def _when(value: Any) -> str:
    text = _text(value)
    try:
        return pd.Timestamp(text).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return text


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    return str(value).strip()


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _number(value: Any, spec: str) -> str:
    number = _float(value)
    return "" if math.isnan(number) else spec.format(number)


def _signed(value: float, spec: str) -> str:
    """``value`` formatted with its sign, without one when it rounds to zero ("-0%")."""
    text = spec.format(value)
    return text if any(c in "123456789" for c in text) else text.lstrip("+-")


def _duration(seconds: Any) -> str:
    value = _float(seconds)
    if math.isnan(value):
        return ""
    minutes = round(value / 60)
    return f"{minutes // 60}:{minutes % 60:02d}"


__all__ = [
    "COMPARED_KPIS",
    "PLAN_DOWNLOADS",
    "PRINTED_FORMATS",
    "ComparedFigure",
    "Download",
    "PlanView",
    "UnitChoice",
    "briefing_plan",
    "chromium_available",
    "limit_printing",
    "plan_comparison",
    "plan_download",
    "plan_map_html",
    "plan_rows",
    "plan_view",
    "print_limit",
    "unit_choices",
]
