"""JSON API: workspace layers as GeoJSON, restricted to the officer's own unit.

Answers are cached per workspace version, so the layer list follows the workspace.
"""

from __future__ import annotations

from flask import Blueprint, abort, request
from werkzeug.wrappers import Response

from gisapp.outputs.geojson import to_geojson
from gisapp.views.maps import layer_for_unit
from layers.i18n import _
from layers.schema import LAYERS
from web.auth import allowed_unit, login_required
from web.context import get_workspace, page_cached

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/layers/<name>.geojson")
@login_required
def layer_geojson(name: str) -> Response:
    """Return layer ``name`` as GeoJSON (``?unit=U`` narrows to a unit)."""
    if name not in LAYERS or LAYERS[name].is_table:
        abort(404, description=_("There is no spatial layer named %(name)r.", name=name))
    ws = get_workspace()
    if name not in ws.layer_names():
        abort(404, description=_("The workspace has no %(name)r layer yet.", name=name))
    unit = allowed_unit(request.args.get("unit"))
    text = page_cached(
        "layer_geojson", (name, unit), lambda: to_geojson(layer_for_unit(ws, name, unit))
    )
    return Response(text, mimetype="application/geo+json")
