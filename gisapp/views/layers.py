"""Data behind the layers page: uploads imported through the ingest service, problem rows,
uploads kept for an overlap-repair preview, the layer list and layer deletion."""

from __future__ import annotations

import json
import logging
import re
import secrets
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np

from gisapp.errors import WorkspaceError
from gisapp.render import maps
from gisapp.render.colors import category_colors
from gisapp.services.ingest import ImportResult, OffsetSystem, Source, import_into
from gisapp.store import Workspace
from layers.errors import LayerError, Problem
from layers.fields import parse_field_mapping
from layers.i18n import LazyString, _, _l, format_number
from layers.limits import ReadLimits
from layers.repair import MAX_REPAIR_SHARE, RULE_TEXT, OverlapRepair
from layers.schema import LAYERS, parse_id_list

logger = logging.getLogger(__name__)

#: File name endings accepted for an upload, and what they are (in the reader's language).
UPLOAD_FORMATS: dict[str, str | LazyString] = {
    ".gpkg": "GeoPackage",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".zip": _l("zipped Shapefile"),
    ".csv": _l("CSV (lon/lat or WKT)"),
    ".osm.pbf": "OpenStreetMap PBF",
    ".pbf": "OpenStreetMap PBF",
    ".osm": "OpenStreetMap XML",
    ".geoparquet": "GeoParquet",
    ".parquet": "GeoParquet",
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
        raise LayerError(
            _(
                "file %(file)r has an unsupported type; upload one of %(accepted)s",
                file=original,
                accepted=accepted,
            )
        )
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
    repair_overlaps: bool = False,
    dry_run: bool = False,
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
    timezone, default_timezone, limits, repair_overlaps, dry_run
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
        fix = _("write the mapping as ours=theirs pairs separated by commas, e.g. id=编号")
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
            repair_overlaps=repair_overlaps,
            dry_run=dry_run,
        )
    except LayerError as exc:
        message = _hide_path(str(exc), file_path, source_name)
        fix = _("check the file and its format, export it again and upload it")
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
    return ImportResult(result.ok, problems, result.saved, result.timezone, result.overlaps)


def problem_rows(problems: Sequence[Problem]) -> list[dict[str, Any]]:
    """Problems as table rows, errors first, then warnings, then repairs."""
    order = {"error": 0, "warning": 1, "repaired": 2}
    ranked = sorted(problems, key=lambda p: order.get(p.severity, 3))
    return [p.to_dict() for p in ranked]


def _hide_path(message: str, file_path: Path, source_name: str) -> str:
    # The temporary path means nothing to the user and tells a stranger about the server.
    return message.replace(str(file_path), source_name).replace(file_path.name, source_name)


# -- the overlap-repair preview ---------------------------------------------------------------


def needs_overlap_preview(result: ImportResult) -> bool:
    """True when an upload was refused for sibling overlaps only: a repair may be previewed."""
    errors = [p for p in result.problems if p.severity == "error"]
    return bool(errors) and all(p.code == "sibling_overlap" for p in errors)


def overlap_report(overlaps: OverlapRepair) -> dict[str, Any]:
    """The repair as the preview page shows it: the rule, pairs, refused pairs, gaps."""
    return {
        "rule": RULE_TEXT,
        "max_share": MAX_REPAIR_SHARE,
        **overlaps.to_dict(),
    }


def overlap_preview_map(overlaps: OverlapRepair, *, assets_url: str = "/static/vendor") -> str:
    """The preview map: the repaired features outlined, overlap pieces coloured by receiver.

    Raises
    ------
    WorkspaceError
        If the repair changed no layer (nothing to show).
    """
    frames = [frame.to_crs(4326) for frame in overlaps.layers.values()]
    if not frames:
        raise WorkspaceError(_("the repair changed no layer; there is nothing to preview"))
    bounds = np.array([frame.total_bounds for frame in frames])
    box = [*bounds[:, :2].min(axis=0), *bounds[:, 2:].max(axis=0)]
    m = maps.base_map(box, assets_url=assets_url)
    for name, frame in zip(overlaps.layers, frames, strict=True):
        maps.add_polygons(
            m,
            frame,
            name=_("%(layer)s after the repair", layer=name),
            color="#444444",
            fill_opacity=0.05,
            label_field="id",
            tooltip_fields={"id": "id"},
        )
    pieces = overlaps.pieces
    if len(pieces):
        colors = {str(k): v for k, v in category_colors(pieces["received_by"]).items()}
        shown = pieces.assign(
            area=[_("%(area)s m²", area=format_number(a)) for a in pieces["area_m2"]]
        )
        maps.add_polygons(
            m,
            gpd.GeoDataFrame(shown, geometry="geometry", crs=pieces.crs),
            name=_("Overlaps, coloured by the feature that receives them"),
            id_field=None,
            color_by="received_by",
            colors=colors,
            fill_opacity=0.75,
            tooltip_fields={
                "feature_ids": _("Overlap of"),
                "received_by": _("Given to"),
                "area": _("Area"),
            },
            pane="gisapp-zones",
        )
        maps.add_legend(m, _("Overlap given to"), colors)
    return maps.render_html(m, title=_("Overlap repair preview"))


#: A pending upload's token: URL-safe base64 of 24 random bytes.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")


@dataclass(frozen=True)
class PendingUpload:
    """An upload kept on the server between its preview and the captain's decision.

    Parameters
    ----------
    token
        Random key of the upload (also its folder's name).
    owner
        The user who uploaded it; nobody else may use it.
    folder
        Its folder, holding the file, ``upload.json`` and the preview files.
    file_name
        Name of the stored file inside ``folder`` (built by :func:`upload_file_name`).
    source_name
        The file name the user uploaded (for messages only, never a path).
    options
        The form's reading options: ``layer``, ``field_mapping``, ``offset``, ``timezone``.
    created
        When it was stored (seconds since the epoch).
    """

    token: str
    owner: str
    folder: Path
    file_name: str
    source_name: str
    options: dict[str, str]
    created: float

    @property
    def file_path(self) -> Path:
        """The stored upload."""
        return self.folder / self.file_name


class PendingUploads:
    """Uploads waiting for a decision, each in its own folder named by a random token.

    Parameters
    ----------
    root
        Folder holding the pending uploads (created private to this user account).
    ttl_s
        Seconds after which a pending upload expires and is deleted.
    """

    def __init__(self, root: Path, *, ttl_s: float = 1800.0) -> None:
        self.root = Path(root)
        self.ttl_s = ttl_s

    def create(
        self, *, owner: str, file_name: str, source_name: str, options: Mapping[str, str]
    ) -> PendingUpload:
        """Make a new, empty pending upload; the caller writes the file to its ``file_path``."""
        self.purge_expired()
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        token = secrets.token_urlsafe(24)
        folder = self.root / token
        folder.mkdir(mode=0o700)
        pending = PendingUpload(
            token, owner, folder, file_name, source_name, dict(options), time.time()
        )
        record = {
            "owner": owner,
            "file_name": file_name,
            "source_name": source_name,
            "options": dict(options),
            "created": pending.created,
        }
        (folder / "upload.json").write_text(json.dumps(record), encoding="utf-8")
        return pending

    def get(self, token: str, *, owner: str) -> PendingUpload | None:
        """The pending upload ``token`` of ``owner``; ``None`` if unknown, another's or expired."""
        if not _TOKEN.fullmatch(token):
            return None
        folder = self.root / token
        try:
            record = json.loads((folder / "upload.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if record.get("owner") != owner:
            return None
        if time.time() - float(record.get("created", 0)) > self.ttl_s:
            self.remove(token)
            return None
        file_name = str(record["file_name"])
        if Path(file_name).name != file_name:
            return None
        return PendingUpload(
            token,
            owner,
            folder,
            file_name,
            str(record["source_name"]),
            {str(k): str(v) for k, v in record.get("options", {}).items()},
            float(record["created"]),
        )

    def remove(self, token: str) -> None:
        """Delete the pending upload ``token`` (nothing happens if it is gone)."""
        if _TOKEN.fullmatch(token):
            shutil.rmtree(self.root / token, ignore_errors=True)

    def purge_expired(self) -> int:
        """Delete the pending uploads older than ``ttl_s``; return how many."""
        if not self.root.is_dir():
            return 0
        removed = 0
        for folder in self.root.iterdir():
            try:
                created = float(json.loads((folder / "upload.json").read_text())["created"])
            except (OSError, ValueError, KeyError, TypeError):
                created = folder.stat().st_mtime if folder.exists() else 0.0
            if time.time() - created > self.ttl_s and _TOKEN.fullmatch(folder.name):
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        return removed


# -- the layer list and deletion --------------------------------------------------------------


def listed_layers(summary_layers: Mapping[str, Any]) -> dict[str, Any]:
    """The layers the page lists: the data-model layers, not plan or metadata tables."""
    return {name: entry for name, entry in summary_layers.items() if name in LAYERS}


#: Id references between layers besides the parents: (layer, field, the layers it names).
_REFERENCES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("units", "station_id", ("stations", "duty_points")),
    ("units", "grid_ids", ("grids",)),
    ("grids", "unit_id", ("units",)),
)


def layer_references(ws: Workspace, name: str) -> list[str]:
    """Which other layers name features of layer ``name``, in words (empty: none)."""
    present = set(ws.layer_names())
    if name not in present:
        return []
    frame = ws.layer(name)
    if "id" not in frame.columns:
        return []
    ids = set(frame["id"].dropna().astype(str))
    links = [
        (child, spec.parent[0])
        for child, spec in LAYERS.items()
        if spec.parent is not None and spec.parent[1] == name
    ]
    links += [(layer, key) for layer, key, targets in _REFERENCES if name in targets]
    found: list[str] = []
    for layer, key in links:
        if layer not in present or layer == name:
            continue
        other = ws.layer(layer)
        if key not in other.columns:
            continue
        values = other[key].dropna().astype(str)
        if key == "grid_ids":
            uses = sum(bool(ids & set(parse_id_list(v))) for v in values)
        else:
            uses = int(values.isin(ids).sum())
        if uses:
            found.append(
                _(
                    "%(count)s feature(s) of %(layer)s name it in %(field)s",
                    count=format_number(uses),
                    layer=layer,
                    field=key,
                )
            )
    return found


def delete_layer(ws: Workspace, name: str) -> None:
    """Delete data-model layer ``name`` unless other layers refer to its features.

    Raises
    ------
    WorkspaceError
        If ``name`` is not a listed layer of the workspace, or other layers refer to it
        (the message names them and what to do first).
    """
    if name not in LAYERS or not ws.has_layer(name):
        raise WorkspaceError(_("the workspace has no layer %(layer)r to delete", layer=name))
    used_by = layer_references(ws, name)
    if used_by:
        raise WorkspaceError(
            _(
                "layer %(layer)r is still in use: %(uses)s. Delete or re-import those layers "
                "without references to %(name)s first",
                layer=name,
                uses="; ".join(used_by),
                name=name,
            )
        )
    ws.delete_layer(name)
    logger.info("deleted layer %s from %s", name, ws.label)
