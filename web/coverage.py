"""Coverage (captains and admins): 1-3-5 minute circles (快反圈) and blind zones (盲区),
and, for a saved plan, the coverage hour by hour as its units patrol.

The data routes give what ``gisapp coverage`` writes, from the same services and writers:
``kpis.json`` (with ``hourly`` for a plan) and ``reach_<m>min.geojson`` per band.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request
from werkzeug.wrappers import Response

from gisapp.errors import USER_ERRORS
from gisapp.services.coverage import CoverageResult
from gisapp.services.hourly import HourlyCoverage
from gisapp.views.coverage import (
    COVERAGE_MODES,
    coverage_blind_rows,
    coverage_kpis_text,
    coverage_map_page,
    coverage_plan_choices,
    coverage_plan_view,
    coverage_view,
    reach_band_files,
    reach_band_text,
)
from layers.i18n import _, current_language
from web.auth import roles_required
from web.context import cached, get_settings, get_workspace
from web.nav import CAPTAINS

bp = Blueprint("coverage", __name__, url_prefix="/coverage")


def _mode() -> str:
    mode = request.args.get("mode", "")
    return mode if mode in COVERAGE_MODES else COVERAGE_MODES[0]


def _plans() -> list[dict[str, str]]:
    ws = get_workspace()
    key = ("coverage-plans", ws.version, current_language())
    return cached(key, lambda: coverage_plan_choices(ws))


def _plan() -> str | None:
    """The chosen saved plan (``?plan=``), None for stations and posts only; 404 when the
    workspace has no such plan."""
    plan_id = request.args.get("plan", "")
    if not plan_id:
        return None
    ids = [p["plan_id"] for p in _plans()]
    if plan_id not in ids:
        if ids:
            message = _(
                "No saved plan %(plan)r; the saved plans are %(plans)s.",
                plan=plan_id,
                plans=", ".join(ids[:10]),
            )
        else:
            message = _(
                "No saved plan %(plan)r; there is none yet (make one on the Plans page).",
                plan=plan_id,
            )
        abort(404, description=message)
    return plan_id


def _result(mode: str) -> CoverageResult:
    ws = get_workspace()
    settings = get_settings()
    minutes = tuple(settings.response_minutes)
    return cached(
        ("coverage", ws.version, current_language(), mode, minutes),
        lambda: coverage_view(
            ws,
            minutes=minutes,
            mode=mode,
            key_place_minutes=dict(settings.key_place_minutes),
            keep_pileups=settings.keep_pileups,
        ),
    )


def _hourly(mode: str, plan_id: str) -> HourlyCoverage:
    ws = get_workspace()
    settings = get_settings()
    minutes = tuple(settings.response_minutes)
    return cached(
        ("coverage-hourly", ws.version, current_language(), mode, minutes, plan_id),
        lambda: coverage_plan_view(
            ws,
            plan_id,
            minutes=minutes,
            mode=mode,
            key_place_minutes=dict(settings.key_place_minutes),
            keep_pileups=settings.keep_pileups,
        ),
    )


@bp.get("/")
@roles_required(*CAPTAINS)
def index() -> str:
    """Coverage figures per band, the riskiest blind zones and the map in a frame; with a
    plan, its coverage per hour and an hour slider on the map."""
    mode = _mode()
    plan_id = _plan()
    result = None
    hourly = None
    error: str | None = None
    try:
        result = _result(mode)
        if plan_id is not None:
            hourly = _hourly(mode, plan_id)
    except USER_ERRORS as exc:
        error = str(exc)
    return render_template(
        "coverage/index.html",
        modes=COVERAGE_MODES,
        mode=mode,
        plans=_plans(),
        plan_id=plan_id,
        error=error,
        kpis=result.kpis if result is not None else {},
        blind=coverage_blind_rows(result) if result is not None else [],
        hourly=hourly.rows() if hourly is not None else [],
        reach_minutes=hourly.reach_minutes if hourly is not None else None,
    )


@bp.get("/map.html")
@roles_required(*CAPTAINS)
def map_page() -> str:
    """The coverage map (self-contained: bands, blind zones, stations, key places); with a
    plan, the hour-by-hour map with its slider."""
    mode = _mode()
    plan_id = _plan()
    result = _result(mode) if plan_id is None else _hourly(mode, plan_id)
    return coverage_map_page(get_workspace(), result, assets_url=current_app.config["ASSETS_URL"])


@bp.get("/kpis.json")
@roles_required(*CAPTAINS)
def kpis() -> Response:
    """The coverage figures as ``gisapp coverage`` writes them to kpis.json; with a plan,
    its coverage by hour under ``hourly``."""
    mode = _mode()
    plan_id = _plan()
    hourly = None if plan_id is None else _hourly(mode, plan_id)
    return Response(coverage_kpis_text(_result(mode), hourly), mimetype="application/json")


@bp.get("/reach_<minutes>min.geojson")
@roles_required(*CAPTAINS)
def reach_band(minutes: str) -> Response:
    """One reach band as ``gisapp coverage`` and ``gisapp reach`` write it."""
    result = _result(_mode())
    name = f"reach_{minutes}min.geojson"
    text = reach_band_text(result, name)
    if text is None:
        listed = ", ".join(reach_band_files(result))
        abort(
            404,
            description=_(
                "No %(minutes)r minute band; the bands are %(bands)s.",
                minutes=minutes,
                bands=listed,
            ),
        )
    response = Response(text, mimetype="application/geo+json")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
