"""Coverage (captains and admins): 1-3-5 minute circles (快反圈) and blind zones (盲区)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request

from gisapp.errors import USER_ERRORS
from gisapp.pagedata import COVERAGE_MODES, coverage_blind_rows, coverage_view
from web.auth import roles_required
from web.context import cached, get_settings, get_workspace
from web.nav import CAPTAINS

bp = Blueprint("coverage", __name__, url_prefix="/coverage")


def _mode() -> str:
    mode = request.args.get("mode", "")
    return mode if mode in COVERAGE_MODES else COVERAGE_MODES[0]


def _result(mode: str) -> Any:
    ws = get_workspace()
    settings = get_settings()
    minutes = tuple(settings.response_minutes)
    key = ("coverage", str(ws.path), ws.path.stat().st_mtime_ns, mode, minutes)
    return cached(
        key,
        lambda: coverage_view(
            ws, minutes=minutes, mode=mode, key_place_minutes=dict(settings.key_place_minutes)
        ),
    )


@bp.get("/")
@roles_required(*CAPTAINS)
def index() -> str:
    """Coverage figures per band, the riskiest blind zones and the map in a frame."""
    mode = _mode()
    result = None
    error: str | None = None
    try:
        result = _result(mode)
    except USER_ERRORS as exc:
        error = str(exc)
    return render_template(
        "coverage/index.html",
        modes=COVERAGE_MODES,
        mode=mode,
        error=error,
        kpis=result.kpis if result is not None else {},
        blind=coverage_blind_rows(result) if result is not None else [],
    )


@bp.get("/map.html")
@roles_required(*CAPTAINS)
def map_page() -> str:
    """The coverage map (self-contained: bands, blind zones, stations, key places)."""
    from gisapp.coverage import coverage_map

    return coverage_map(_result(_mode()), ws=get_workspace())
