"""Exports: download links for what exists (saved plans' briefings, GPX and GeoJSON, maps,
layers as GeoJSON, the workspace).

Also the answer to a busy server (:class:`gisapp.errors.BusyError`, e.g. every print slot
taken): 503 with ``Retry-After`` and the message, on every page of the app.
"""

from __future__ import annotations

from flask import Blueprint, make_response, render_template, send_file
from werkzeug.wrappers import Response

from gisapp.errors import BusyError
from gisapp.views.maps import spatial_layer_names
from gisapp.views.plans import chromium_available, plan_rows
from web.auth import current_user, login_required, roles_required
from web.context import get_settings, get_workspace
from web.errors import error_response
from web.nav import CAPTAINS

bp = Blueprint("exports", __name__, url_prefix="/exports")


@bp.get("/")
@login_required
def index() -> str:
    """Download links; an officer's links give his own unit's data only."""
    user = current_user()
    ws = get_workspace()
    sees_all = user is not None and user.sees_all_units
    officer_unit = None if sees_all or user is None else (user.unit_id or "")
    plans = [
        {**row, "unit_list": [officer_unit] if officer_unit else row["units"].split(", ")}
        for row in plan_rows(ws, unit_id=officer_unit)
    ]
    return render_template(
        "exports/index.html",
        plans=plans,
        officer_unit=officer_unit,
        can_print=chromium_available(),
        layers=spatial_layer_names(ws),
        has_grids=ws.has_layer("grids"),
        has_incidents=ws.has_layer("incidents"),
        sees_all=sees_all,
        shifts=list(get_settings().shifts),
        workspace_name=ws.label,
    )


@bp.get("/workspace.gpkg")
@roles_required(*CAPTAINS)
def workspace_file() -> Response:
    """The whole workspace GeoPackage (every layer and saved result; opens in QGIS)."""
    ws = get_workspace()
    return send_file(
        ws.open_geopackage(),
        mimetype="application/geopackage+sqlite3",
        as_attachment=True,
        download_name=f"{ws.name}.gpkg",
    )


@bp.app_errorhandler(BusyError)
def busy(exc: BusyError) -> Response:
    """Answer 503 with ``Retry-After``: the work was refused, not failed; retry shortly."""
    body, status = error_response(503, "Service Unavailable", str(exc))
    response = make_response(body, status)
    response.headers["Retry-After"] = str(exc.retry_after_s)
    return response
