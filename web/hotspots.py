"""Hotspots by shift (captains and admins): the form, the PAI figures and the map."""

from __future__ import annotations

import re

from flask import Blueprint, current_app, render_template, request
from werkzeug.wrappers import Response

from gisapp.errors import USER_ERRORS
from gisapp.outputs.geojson import to_geojson
from gisapp.views.hotspots import (
    ALL_GROUPS,
    HOTSPOT_METHODS,
    HotspotView,
    hotspot_group_choices,
    hotspot_map,
    incident_groups,
    shift_hotspot_view,
)
from gisapp.views.layers import problem_rows
from gisapp.views.maps import map_html
from layers.i18n import current_language
from web.auth import roles_required
from web.context import cached, get_settings, get_workspace
from web.nav import CAPTAINS

bp = Blueprint("hotspots", __name__, url_prefix="/hotspots")

_DEFAULT_METHOD = "kde"


def _choice() -> tuple[str, str]:
    """The requested shift and method, falling back to the first shift and KDE."""
    shifts = list(get_settings().shifts)
    shift = request.args.get("shift", "")
    method = request.args.get("method", "")
    return (
        shift if shift in shifts else shifts[0],
        method if method in HOTSPOT_METHODS else _DEFAULT_METHOD,
    )


def _group() -> str:
    """The requested category group (``?group=``), "all" by default; an unknown group is
    passed on and refused by :func:`gisapp.views.hotspots.shift_hotspot_view` with its choices."""
    return request.args.get("group", "") or ALL_GROUPS


def _group_choices() -> dict[str, str]:
    ws = get_workspace()
    key = ("incident-groups", ws.version, current_language())
    return hotspot_group_choices(cached(key, lambda: incident_groups(ws)))


def _view(shift_name: str, method: str, group: str) -> HotspotView:
    """The hotspots of the service, cached per workspace version and choice."""
    ws = get_workspace()
    settings = get_settings()
    shift = settings.shift(shift_name)
    keep = settings.keep_pileups
    key = (
        "hotspots",
        ws.version,
        current_language(),
        shift.name,
        shift.label(),
        method,
        group,
        keep,
    )
    return cached(
        key,
        lambda: shift_hotspot_view(ws, shift=shift, method=method, group=group, keep_pileups=keep),
    )


@bp.get("/")
@roles_required(*CAPTAINS)
def index() -> tuple[str, int]:
    """The hotspot page: shift, method and category form, PAI figures, the map in a frame."""
    shift_name, method = _choice()
    group = _group()
    settings = get_settings()
    groups = _group_choices()
    view: HotspotView | None = None
    error: str | None = None
    status = 200
    try:
        view = _view(shift_name, method, group)
    except USER_ERRORS as exc:
        # No incidents in this shift is an answer to show beside the form, not a failure;
        # a category that is not offered is a bad request.
        error = str(exc)
        status = 200 if group in groups else 400
    return render_template(
        "hotspots/index.html",
        shifts={name: settings.shift(name).label() for name in settings.shifts},
        methods=HOTSPOT_METHODS,
        groups=groups,
        shift=shift_name,
        method=method,
        group=group,
        view=view,
        kpis=view.kpis if view else {},
        problems=problem_rows(view.problems) if view else [],
        error=error,
    ), status


def _map_html(*, inline: bool) -> str:
    shift_name, method = _choice()
    view = _view(shift_name, method, _group())
    m = hotspot_map(get_workspace(), view, assets_url=current_app.config["ASSETS_URL"])
    return map_html(m, inline_assets=inline)


@bp.get("/map.html")
@roles_required(*CAPTAINS)
def map_page() -> str:
    """The hotspot map loading Leaflet from the local static files."""
    return _map_html(inline=False)


@bp.get("/export.html")
@roles_required(*CAPTAINS)
def export_html() -> Response:
    """The hotspot map as one self-contained HTML file."""
    shift_name, method = _choice()
    response = Response(_map_html(inline=True), mimetype="text/html")
    response.headers["Content-Disposition"] = _attachment(shift_name, method, _group(), "html")
    return response


@bp.get("/export.geojson")
@roles_required(*CAPTAINS)
def export_geojson() -> Response:
    """The hotspot cells as GeoJSON (rank, score, incidents per cell)."""
    shift_name, method = _choice()
    group = _group()
    view = _view(shift_name, method, group)
    response = Response(to_geojson(view.layer), mimetype="application/geo+json")
    response.headers["Content-Disposition"] = _attachment(shift_name, method, group, "geojson")
    return response


def _attachment(shift_name: str, method: str, group: str, extension: str) -> str:
    # Shift names and groups come from files: keep the header to safe characters.
    slug = re.sub(r"[^A-Za-z0-9_-]+", "_", shift_name).strip("_") or "shift"
    suffix = ""
    if group != ALL_GROUPS:
        suffix = "_" + (re.sub(r"[^A-Za-z0-9_-]+", "_", group).strip("_") or "group")
    return f'attachment; filename="hotspots_{slug}_{method}{suffix}.{extension}"'
