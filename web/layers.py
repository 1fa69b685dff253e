"""The layers page (admins): workspace layers and uploads through the import flow.

An upload is written to a fresh temporary directory under a name the app builds (never
the user's path), imported with the same read → validate → atomic save steps as
``gisapp import``, and removed; with an error nothing is saved. The import limits of the
settings bound what the upload may unpack to: beyond them the answer is 413 (too large)
or 422 (an unsafe archive), before the data is read into memory. The report shows the
first :data:`MAX_PROBLEM_ROWS` problems and how many more there are, so the page stays
small whatever the upload.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from flask import Blueprint, render_template, request
from werkzeug.datastructures import FileStorage

from gisapp.services.ingest import ImportResult
from gisapp.services.summary import workspace_summary
from gisapp.views.layers import UPLOAD_FORMATS, import_upload, problem_rows, upload_file_name
from layers.errors import LayerError, Problem
from layers.schema import LAYERS
from web.auth import roles_required
from web.context import get_settings, get_workspace, reset_workspace
from web.nav import ADMINS

logger = logging.getLogger(__name__)

bp = Blueprint("layers", __name__, url_prefix="/admin/layers")

#: Problems shown on the page; the rest are counted.
MAX_PROBLEM_ROWS = 50

_OFFSETS = {
    "": "WGS84 / CGCS2000 (no offset)",
    "gcj02": "GCJ-02 (Amap, Tencent)",
    "bd09": "BD-09 (Baidu)",
}


def _form_state() -> dict[str, str]:
    form = request.form
    return {
        "layer": form.get("layer", ""),
        "field_mapping": form.get("field_mapping", ""),
        "offset": form.get("offset", ""),
        "timezone": form.get("timezone", ""),
    }


def _import(upload: FileStorage | None, state: dict[str, str]) -> ImportResult:
    """Store the upload in a temporary directory and import it."""
    settings = get_settings()
    original = (upload.filename or "").strip() if upload else ""
    layer = state["layer"] or None
    if upload is None or not original:
        problem = Problem("upload", None, "no_file", "No file was chosen.", "choose a file")
        return ImportResult(False, [problem], {}, settings.timezone)
    if layer is not None and layer not in LAYERS:
        fix = f"choose one of {', '.join(LAYERS)}"
        problem = Problem("upload", None, "unknown_layer", f"{layer!r} is not a layer.", fix)
        return ImportResult(False, [problem], {}, settings.timezone)
    try:
        name = upload_file_name(original, layer=layer)
    except LayerError as exc:
        fix = "upload a GeoPackage, GeoJSON, zipped Shapefile, CSV or OSM file"
        return ImportResult(
            False,
            [Problem("upload", None, "unsupported_type", str(exc), fix)],
            {},
            settings.timezone,
        )
    offset = state["offset"] if state["offset"] in ("gcj02", "bd09") else None
    ws = get_workspace()
    with tempfile.TemporaryDirectory(prefix="gisapp-upload-") as folder:
        path = Path(folder) / name
        upload.save(path)
        result = import_upload(
            ws,
            path,
            source_name=original,
            layer=layer,
            field_mapping=state["field_mapping"],
            offset=offset,  # type: ignore[arg-type]
            timezone=state["timezone"].strip() or None,
            default_timezone=settings.timezone,
            limits=settings.read_limits(),
        )
    if result.ok:
        # The file changed under the open workspace: reopen it and drop cached results.
        reset_workspace()
        logger.info("upload %r imported: %s", original, result.saved)
    return result


@bp.route("/", methods=("GET", "POST"))
@roles_required(*ADMINS)
def index() -> str | tuple[str, int]:
    """List the layers; on POST import the uploaded file and show the report."""
    state = {"layer": "", "field_mapping": "", "offset": "", "timezone": ""}
    result: ImportResult | None = None
    if request.method == "POST":
        state = _form_state()
        result = _import(request.files.get("file"), state)
    rows = problem_rows(result.problems) if result else []
    context: dict[str, Any] = {
        "summary": workspace_summary(get_workspace()),
        "layer_choices": list(LAYERS),
        "offsets": _OFFSETS,
        "formats": UPLOAD_FORMATS,
        "state": state,
        "result": result,
        "problems": rows[:MAX_PROBLEM_ROWS],
        "more_problems": max(0, len(rows) - MAX_PROBLEM_ROWS),
        "error_count": sum(row["severity"] == "error" for row in rows),
    }
    page = render_template("layers/index.html", **context)
    if result is None or result.ok:
        return page
    # A refused upload is the client's to fix: say so in the status too.
    too_large = any(p.code == "too_large" for p in result.problems)
    return page, 413 if too_large else 422
