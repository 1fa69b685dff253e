"""Map pages: the workspace overview and the grid responsibility map.

Pages and maps are cached per workspace version (:func:`web.context.page_cached`).
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from werkzeug.wrappers import Response

from gisapp.services.summary import workspace_summary
from gisapp.views.maps import grid_map, grid_unit_choices, map_html, overview_map
from layers.i18n import _
from web.auth import allowed_unit, current_user, login_required
from web.context import get_workspace, page_cached

bp = Blueprint("maps", __name__, url_prefix="/maps")

_COLOR_BY = ("team", "officer", "unit_id")


@bp.get("/")
@login_required
def overview() -> str:
    """Workspace summary: layers, feature counts, incident date range."""
    summary = page_cached("summary", (), lambda: workspace_summary(get_workspace()))
    return render_template("maps/overview.html", summary=summary)


@bp.get("/overview/map.html")
@login_required
def overview_map_page() -> str:
    """Roads, grids and incidents (an officer's own unit); large layers aggregated."""
    unit = allowed_unit(request.args.get("unit"))
    assets_url = current_app.config["ASSETS_URL"]

    def draw() -> str:
        return map_html(overview_map(get_workspace(), unit_id=unit, assets_url=assets_url))

    return page_cached("overview_map", (unit, assets_url), draw)


def _grid_map_html(*, inline: bool) -> str:
    unit = allowed_unit(request.args.get("unit"))
    color_by = request.args.get("color_by", "team")
    if color_by not in _COLOR_BY:
        color_by = "team"
    assets_url = current_app.config["ASSETS_URL"]

    def draw() -> str:
        m = grid_map(get_workspace(), unit_id=unit, color_by=color_by, assets_url=assets_url)
        return map_html(m, inline_assets=inline)

    return page_cached("grid_map", (unit, color_by, inline, assets_url), draw)


@bp.get("/grids")
@login_required
def grids() -> str:
    """The grid responsibility page (the map itself loads in a frame)."""
    user = current_user()
    unit = allowed_unit(request.args.get("unit"))
    units = page_cached("grid_units", (), lambda: grid_unit_choices(get_workspace()))
    color_by = request.args.get("color_by", "team")
    error = None
    if color_by not in _COLOR_BY:
        error = _("Colour by %(choice)r is not offered; choose one from the list.", choice=color_by)
        color_by = "team"
    if unit is not None and unit not in units:
        error = (
            _("No grids belong to unit %(unit)r; choose a unit from the list.", unit=unit)
            if units
            else _("The workspace has no grids yet; import a grids layer on the Layers page.")
        )
    return render_template(
        "maps/grids.html",
        unit=unit,
        units=units,
        color_by=color_by,
        color_choices=_COLOR_BY,
        own_unit_only=user is not None and not user.sees_all_units,
        error=error,
    )


@bp.get("/grids/map.html")
@login_required
def grids_map() -> str:
    """The grid map page loading Leaflet from the local static files."""
    return _grid_map_html(inline=False)


@bp.get("/grids/export.html")
@login_required
def grids_export() -> Response:
    """The grid map as one self-contained file that works with no server."""
    response = Response(_grid_map_html(inline=True), mimetype="text/html")
    response.headers["Content-Disposition"] = 'attachment; filename="grids.html"'
    return response
