"""Coverage (captains and admins): 1-3-5 minute circles (快反圈) and blind zones (盲区),
and, for a saved plan, the coverage hour by hour as its units patrol."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, render_template, request

from gisapp.errors import USER_ERRORS
from gisapp.views.pages import (
    COVERAGE_MODES,
    coverage_blind_rows,
    coverage_plan_choices,
    coverage_plan_view,
    coverage_view,
)
from web.auth import roles_required
from web.context import cached, get_settings, get_workspace
from web.nav import CAPTAINS

bp = Blueprint("coverage", __name__, url_prefix="/coverage")


def _mode() -> str:
    mode = request.args.get("mode", "")
    return mode if mode in COVERAGE_MODES else COVERAGE_MODES[0]


def _stamp() -> tuple[str, int]:
    ws = get_workspace()
    return str(ws.path), ws.path.stat().st_mtime_ns


def _plans() -> list[dict[str, str]]:
    return cached(("coverage-plans", *_stamp()), lambda: coverage_plan_choices(get_workspace()))


def _plan() -> str | None:
    """The chosen saved plan (``?plan=``), ``None`` for stations and posts only; 404 when
    the workspace has no such plan."""
    plan_id = request.args.get("plan", "")
    if not plan_id:
        return None
    ids = [p["plan_id"] for p in _plans()]
    if plan_id not in ids:
        listed = ", ".join(ids[:10]) or "none yet (make one on the Plans page)"
        abort(404, description=f"No saved plan {plan_id!r}; the saved plans are {listed}.")
    return plan_id


def _result(mode: str) -> Any:
    ws = get_workspace()
    settings = get_settings()
    minutes = tuple(settings.response_minutes)
    key = ("coverage", *_stamp(), mode, minutes)
    return cached(
        key,
        lambda: coverage_view(
            ws, minutes=minutes, mode=mode, key_place_minutes=dict(settings.key_place_minutes)
        ),
    )


def _hourly(mode: str, plan_id: str) -> Any:
    ws = get_workspace()
    settings = get_settings()
    minutes = tuple(settings.response_minutes)
    key = ("coverage-hourly", *_stamp(), mode, minutes, plan_id)
    return cached(
        key,
        lambda: coverage_plan_view(
            ws,
            plan_id,
            minutes=minutes,
            mode=mode,
            key_place_minutes=dict(settings.key_place_minutes),
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
    from gisapp.services.coverage import coverage_map, hourly_coverage_map

    mode = _mode()
    plan_id = _plan()
    if plan_id is not None:
        return hourly_coverage_map(
            _hourly(mode, plan_id),
            ws=get_workspace(),
            assets_url=current_app.config["ASSETS_URL"],
        )
    return coverage_map(_result(mode), ws=get_workspace())
