"""JSON API: workspace layers as GeoJSON, restricted to the officer's own unit."""

from __future__ import annotations

from flask import Blueprint, abort, request
from werkzeug.wrappers import Response

from gisapp.outputs.geojson import to_geojson
from gisapp.views.maps import layer_for_unit
from layers.schema import LAYERS
from web.auth import allowed_unit, login_required
from web.context import get_workspace

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/layers/<name>.geojson")
@login_required
def layer_geojson(name: str) -> Response:
    """Return layer ``name`` as GeoJSON (``?unit=U`` narrows to a unit)."""
    if name not in LAYERS or LAYERS[name].is_table:
        abort(404, description=f"There is no spatial layer named {name!r}.")
    ws = get_workspace()
    if name not in ws.layer_names():
        abort(404, description=f"The workspace has no {name!r} layer yet.")
    frame = layer_for_unit(ws, name, allowed_unit(request.args.get("unit")))
    return Response(to_geojson(frame), mimetype="application/geo+json")
