"""The layers page (admins): workspace layers, uploads through the import flow, the
overlap-repair preview and layer deletion.

An upload is written to a fresh folder named by a random token (under a file name the app
builds, never the user's path), imported with the same read → validate → atomic save steps
as ``gisapp import``, and removed; with an error nothing is saved. The import limits of the
settings bound what the upload may unpack to: beyond them the answer is 413 (too large)
or 422 (an unsafe archive), before the data is read into memory. The report shows the
first :data:`MAX_PROBLEM_ROWS` problems and how many more there are, so the page stays
small whatever the upload.

When the only errors are overlaps between sibling areas, the upload is kept and a preview
shows the repair (:mod:`layers.repair`): a table of the pairs, who received each overlap,
the gaps, and a map. The kept upload belongs to the user and session that made it (its
token is remembered in the signed session and the owner in its folder); accepting imports
it with the repair, cancelling deletes it, and it expires after
``PENDING_UPLOAD_TTL_S`` seconds (30 minutes by default).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response

from gisapp.errors import WorkspaceError
from gisapp.services.ingest import ImportResult
from gisapp.services.summary import workspace_summary
from gisapp.store import Workspace
from gisapp.views.layers import (
    UPLOAD_FORMATS,
    PendingUpload,
    PendingUploads,
    delete_layer,
    import_upload,
    layer_references,
    listed_layers,
    needs_overlap_preview,
    overlap_preview_map,
    overlap_report,
    problem_rows,
    upload_file_name,
)
from layers.errors import LayerError, Problem
from layers.i18n import LazyString, _, _l
from layers.schema import LAYERS
from web.auth import current_user, roles_required
from web.context import get_settings, get_workspace, reset_workspace
from web.nav import ADMINS

logger = logging.getLogger(__name__)

bp = Blueprint("layers", __name__, url_prefix="/admin/layers")

#: Problems shown on the page; the rest are counted.
MAX_PROBLEM_ROWS = 50

_OFFSETS: dict[str, LazyString] = {
    "": _l("WGS84 / CGCS2000 (no offset)"),
    "gcj02": _l("GCJ-02 (Amap, Tencent)"),
    "bd09": _l("BD-09 (Baidu)"),
}


def _form_state() -> dict[str, str]:
    form = request.form
    return {
        "layer": form.get("layer", ""),
        "field_mapping": form.get("field_mapping", ""),
        "offset": form.get("offset", ""),
        "timezone": form.get("timezone", ""),
    }


#: Session key of the tokens of the user's pending uploads.
_SESSION_KEY = "pending_uploads"


def _pending_store() -> PendingUploads:
    # One folder per system account: another account's folder is never written into.
    account = os.getuid() if hasattr(os, "getuid") else "user"
    root = current_app.config.get("PENDING_UPLOADS_DIR") or (
        Path(tempfile.gettempdir()) / f"gisapp-pending-{account}"
    )
    ttl_s = float(current_app.config.get("PENDING_UPLOAD_TTL_S", 1800))
    return PendingUploads(Path(root), ttl_s=ttl_s)


def _owner() -> str:
    user = current_user()
    if user is None:  # pragma: no cover - the views require a signed-in user
        abort(403)
    return user.name


def _refused(problem: Problem) -> ImportResult:
    return ImportResult(False, [problem], {}, get_settings().timezone)


def _run_import(
    pending: PendingUpload, *, repair_overlaps: bool = False, dry_run: bool = False
) -> ImportResult:
    """Import the kept upload ``pending`` with the options of its form."""
    settings = get_settings()
    options = pending.options
    offset = options.get("offset") if options.get("offset") in ("gcj02", "bd09") else None
    return import_upload(
        get_workspace(),
        pending.file_path,
        source_name=pending.source_name,
        layer=options.get("layer") or None,
        field_mapping=options.get("field_mapping", ""),
        offset=offset,  # type: ignore[arg-type]
        timezone=options.get("timezone", "").strip() or None,
        default_timezone=settings.timezone,
        limits=settings.read_limits(),
        repair_overlaps=repair_overlaps,
        dry_run=dry_run,
    )


def _import(upload: FileStorage | None, state: dict[str, str]) -> tuple[ImportResult, str | None]:
    """Keep the upload under a fresh token and import it; return the result and, when
    the upload waits for an overlap-repair decision, its token."""
    original = (upload.filename or "").strip() if upload else ""
    layer = state["layer"] or None
    if upload is None or not original:
        return _refused(
            Problem("upload", None, "no_file", _("No file was chosen."), _("choose a file"))
        ), None
    if layer is not None and layer not in LAYERS:
        fix = _("choose one of %(layers)s", layers=", ".join(LAYERS))
        message = _("%(layer)r is not a layer.", layer=layer)
        return _refused(Problem("upload", None, "unknown_layer", message, fix)), None
    try:
        name = upload_file_name(original, layer=layer)
    except LayerError as exc:
        fix = _("upload a GeoPackage, GeoJSON, zipped Shapefile, CSV or OSM file")
        return _refused(Problem("upload", None, "unsupported_type", str(exc), fix)), None
    store = _pending_store()
    pending = store.create(owner=_owner(), file_name=name, source_name=original, options=state)
    keep = False
    try:
        upload.save(pending.file_path)
        result = _run_import(pending)
        if result.ok:
            # The file changed under the open workspace: reopen it and drop cached results.
            reset_workspace()
            logger.info("upload %r imported: %s", original, result.saved)
        elif needs_overlap_preview(result):
            preview = _run_import(pending, repair_overlaps=True, dry_run=True)
            if preview.ok and preview.overlaps is not None and preview.overlaps.layers:
                _write_preview(pending, preview)
                keep = True
                return result, pending.token
    finally:
        if not keep:
            store.remove(pending.token)
    return result, None


def _write_preview(pending: PendingUpload, preview: ImportResult) -> None:
    """Store the preview's report and map beside the kept upload."""
    assert preview.overlaps is not None
    report = {
        "overlaps": overlap_report(preview.overlaps),
        "problems": problem_rows(preview.problems),
    }
    (pending.folder / "report.json").write_text(json.dumps(report), encoding="utf-8")
    page = overlap_preview_map(preview.overlaps, assets_url=current_app.config["ASSETS_URL"])
    (pending.folder / "map.html").write_text(page, encoding="utf-8")


def _remember(token: str) -> None:
    tokens = [t for t in session.get(_SESSION_KEY, []) if t != token][-4:]
    session[_SESSION_KEY] = [*tokens, token]


def _forget(token: str) -> None:
    session[_SESSION_KEY] = [t for t in session.get(_SESSION_KEY, []) if t != token]


def _pending_or_404(token: str) -> PendingUpload:
    """The user's pending upload ``token`` from this session, or a 404 page."""
    pending = None
    if token in session.get(_SESSION_KEY, []):
        pending = _pending_store().get(token, owner=_owner())
    if pending is None:
        abort(
            404,
            description=_(
                "This upload preview has expired or was already used. Upload the file again."
            ),
        )
    return pending


def _page(result: ImportResult | None, state: dict[str, str]) -> str | tuple[str, int]:
    """The layers page, with the report of ``result`` when there is one."""
    rows = problem_rows(result.problems) if result else []
    summary = workspace_summary(get_workspace())
    context: dict[str, Any] = {
        "summary": summary,
        "listed": listed_layers(summary["layers"]),
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


@bp.route("/", methods=("GET", "POST"))
@roles_required(*ADMINS)
def index() -> str | tuple[str, int] | Response:
    """List the layers; on POST import the uploaded file and show the report (or, for
    sibling overlaps only, send the user to the repair preview)."""
    state = {"layer": "", "field_mapping": "", "offset": "", "timezone": ""}
    result: ImportResult | None = None
    if request.method == "POST":
        state = _form_state()
        result, token = _import(request.files.get("file"), state)
        if token is not None:
            _remember(token)
            return redirect(url_for("layers.preview", token=token), code=303)
    return _page(result, state)


@bp.get("/preview/<token>")
@roles_required(*ADMINS)
def preview(token: str) -> str:
    """The overlap-repair preview of a kept upload: the report, the map, accept or cancel."""
    pending = _pending_or_404(token)
    report = json.loads((pending.folder / "report.json").read_text(encoding="utf-8"))
    return render_template(
        "layers/preview.html",
        token=token,
        source_name=pending.source_name,
        overlaps=report["overlaps"],
        problems=report["problems"][:MAX_PROBLEM_ROWS],
    )


@bp.get("/preview/<token>/map.html")
@roles_required(*ADMINS)
def preview_map(token: str) -> str:
    """The preview's map (a page of its own, shown in a frame)."""
    return (_pending_or_404(token).folder / "map.html").read_text(encoding="utf-8")


@bp.post("/preview/<token>/accept")
@roles_required(*ADMINS)
def accept(token: str) -> str | tuple[str, int]:
    """Import the kept upload with the overlap repair, then delete it."""
    pending = _pending_or_404(token)
    try:
        result = _run_import(pending, repair_overlaps=True)
    finally:
        _pending_store().remove(token)
        _forget(token)
    if result.ok:
        reset_workspace()
        logger.info("upload %r imported with repair: %s", pending.source_name, result.saved)
    return _page(result, dict(pending.options))


@bp.post("/preview/<token>/cancel")
@roles_required(*ADMINS)
def cancel(token: str) -> Response:
    """Drop the kept upload; the workspace is left as it was."""
    pending = _pending_or_404(token)
    _pending_store().remove(token)
    _forget(token)
    flash(
        _(
            "The upload of %(file)s was cancelled; the workspace is unchanged.",
            file=pending.source_name,
        )
    )
    return redirect(url_for("layers.index"), code=303)


def _known_layer(name: str) -> str:
    if name not in LAYERS or not get_workspace().has_layer(name):
        abort(404, description=_("The workspace has no layer %(name)r.", name=name))
    return name


@bp.route("/<name>/delete", methods=("GET", "POST"))
@roles_required(*ADMINS)
def delete(name: str) -> str | tuple[str, int] | Response:
    """Ask to confirm; on POST delete the layer unless other layers refer to it."""
    ws: Workspace = get_workspace()
    name = _known_layer(name)
    error = ""
    if request.method == "POST":
        try:
            delete_layer(ws, name)
        except WorkspaceError as exc:
            error = str(exc)
        else:
            reset_workspace()
            flash(_("Layer %(name)s was deleted.", name=name))
            return redirect(url_for("layers.index"), code=303)
    page = render_template(
        "layers/delete.html",
        name=name,
        count=len(ws.layer(name)),
        used_by=layer_references(ws, name),
        error=error,
    )
    return (page, 409) if error else page
