"""Data behind the layers page: uploads imported through the ingest service, problem rows."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gisapp.services.ingest import ImportResult, OffsetSystem, Source, import_into
from gisapp.store import Workspace
from layers.errors import LayerError, Problem
from layers.fields import parse_field_mapping
from layers.limits import ReadLimits
from layers.schema import LAYERS

logger = logging.getLogger(__name__)

#: File name endings accepted for an upload, and what they are.
UPLOAD_FORMATS: dict[str, str] = {
    ".gpkg": "GeoPackage",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".zip": "zipped Shapefile",
    ".csv": "CSV (lon/lat or WKT)",
    ".osm.pbf": "OpenStreetMap PBF",
    ".pbf": "OpenStreetMap PBF",
    ".osm": "OpenStreetMap XML",
}


def upload_file_name(original: str, *, layer: str | None) -> str:
    """Return the name under which an uploaded file is stored for reading.

    The name is built here, never taken from the user: the target layer (or ``upload``)
    plus the accepted ending of ``original``. The ending matters to the readers (a
    ``.gpkg`` that is not one gets a clear message); the layer name lets a file without
    a target be taken as that layer.

    Raises
    ------
    LayerError
        If ``original`` does not end with one of :data:`UPLOAD_FORMATS`.
    """
    lower = original.lower().strip()
    suffix = next((s for s in UPLOAD_FORMATS if lower.endswith(s)), None)
    if suffix is None:
        accepted = ", ".join(f"{s} ({kind})" for s, kind in UPLOAD_FORMATS.items())
        raise LayerError(f"file {original!r} has an unsupported type; upload one of {accepted}")
    stem = layer if layer in LAYERS else "upload"
    return f"{stem}{suffix}"


def import_upload(
    ws: Workspace,
    file_path: Path,
    *,
    source_name: str,
    layer: str | None = None,
    field_mapping: str = "",
    offset: OffsetSystem | None = None,
    timezone: str | None = None,
    default_timezone: str = "UTC",
    limits: ReadLimits | None = None,
) -> ImportResult:
    """Import one uploaded file into the workspace through :func:`gisapp.services.ingest.import_into`.

    A file that cannot be read (wrong format, truncated, bad mapping) gives a failed
    result whose problem says what is wrong, like a validation error: nothing is saved.

    Parameters
    ----------
    ws
        The workspace the upload goes into.
    file_path
        The uploaded file, stored under a name from :func:`upload_file_name`.
    source_name
        The file name the user uploaded, used in messages and the layer note instead of
        the temporary path.
    layer
        Target layer; ``None`` takes the layers a GeoPackage or OSM file names.
    field_mapping
        ``"ours=theirs, ..."`` column mapping for the target layer.
    offset
        ``"gcj02"`` or ``"bd09"`` to convert offset Chinese coordinates to WGS84.
    timezone, default_timezone, limits
        As in :func:`gisapp.services.ingest.import_into`.

    Returns
    -------
    ImportResult
        Saved layer counts, or the problems that stopped the import.

    Raises
    ------
    WorkspaceError
        If the workspace itself cannot be opened or written.
    """
    label = layer or source_name
    tz = timezone or default_timezone
    try:
        mapping = parse_field_mapping(field_mapping, layer=layer) if field_mapping.strip() else {}
    except LayerError as exc:
        fix = "write the mapping as ours=theirs pairs separated by commas, e.g. id=编号"
        return ImportResult(False, [Problem(label, None, "bad_mapping", str(exc), fix)], {}, tz)
    try:
        result = import_into(
            ws.location,
            [Source(file_path, layer)],
            mappings={layer: mapping},
            offset=offset,
            timezone=timezone,
            default_timezone=default_timezone,
            note=f"uploaded from {source_name}",
            limits=limits,
        )
    except LayerError as exc:
        message = _hide_path(str(exc), file_path, source_name)
        fix = "check the file and its format, export it again and upload it"
        return ImportResult(False, [Problem(label, None, "read_error", message, fix)], {}, tz)
    problems = [
        Problem(
            p.layer,
            p.feature_id,
            p.code,
            _hide_path(p.message, file_path, source_name),
            p.fix,
            p.severity,
        )
        for p in result.problems
    ]
    return ImportResult(result.ok, problems, result.saved, result.timezone)


def problem_rows(problems: Sequence[Problem]) -> list[dict[str, Any]]:
    """Problems as table rows, errors first, then warnings, then repairs."""
    order = {"error": 0, "warning": 1, "repaired": 2}
    ranked = sorted(problems, key=lambda p: order.get(p.severity, 3))
    return [p.to_dict() for p in ranked]


def _hide_path(message: str, file_path: Path, source_name: str) -> str:
    # The temporary path means nothing to the user and tells a stranger about the server.
    return message.replace(str(file_path), source_name).replace(file_path.name, source_name)
