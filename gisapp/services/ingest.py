"""Bring user files into the workspace data model: read, map fields, fix coordinates.

Sources are named on the command line as ``PATH`` or ``LAYER=PATH``. A multi-layer source
(a GeoPackage, an OSM extract) contributes every layer whose name is a data-model layer;
a single-layer file is taken as the layer named by its prefix or, failing that, by its
file name (``grids.zip`` → ``grids``). ``LAYER=PATH:INNER`` takes the layer ``INNER`` of a
multi-layer file (a GeoPackage layer, a shapefile of a zip): ``grids=city.gpkg:wangge``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeAlias

import geopandas as gpd
import pandas as pd

from layers.crs import convert_offset_coordinates, to_storage_crs
from layers.errors import LayerError, Problem
from layers.fields import field_source, find_column, map_fields, parse_field_mapping
from layers.i18n import _
from layers.incidents import parse_timestamps
from layers.io import OSM_LAYER_FOR, OSM_LAYERS, list_layers, read_layer, read_table
from layers.limits import LimitError, ReadLimits, check_layer_count, check_workspace
from layers.repair import OverlapRepair, repair_sibling_overlaps
from layers.schema import LAYERS
from layers.validate import validate_layers
from layers.validate.files import check_source_file

if TYPE_CHECKING:
    from gisapp.store import Workspace

logger = logging.getLogger(__name__)

#: A workspace layer: a GeoDataFrame, or a DataFrame for a table such as ``units``.
Frame: TypeAlias = gpd.GeoDataFrame | pd.DataFrame
OffsetSystem = Literal["gcj02", "bd09"]
#: Offset systems per workspace layer; the ``None`` key applies to every other layer.
Offsets: TypeAlias = Mapping[str | None, OffsetSystem | None]
_OFFSET_NAMES: dict[str, OffsetSystem | None] = {
    "gcj02": "gcj02",
    "bd09": "bd09",
    "none": None,
    "wgs84": None,
}


@dataclass(frozen=True)
class Source:
    """One input named by the user: a path and, optionally, the layer it is."""

    path: Path
    layer: str | None = None
    #: The layer inside a multi-layer file (a GeoPackage layer, a shapefile of a zip).
    inner: str | None = None

    @classmethod
    def parse(cls, text: str) -> Source:
        """Parse ``"grids=grids.zip"``, ``"data.gpkg"`` or ``"grids=city.gpkg:wangge"``.

        The text after the last ``:`` names a layer inside the file only when the text
        before it is an existing file, so ``C:\\data\\grids.zip`` stays a path.

        Raises
        ------
        LayerError
            If the prefix names no data-model layer.
        """
        name, sep, rest = text.partition("=")
        if sep and name in LAYERS:
            return _with_inner(rest, name)
        if sep and not Path(text).exists():
            raise LayerError(
                _(
                    "source %(source)s: %(name)s is not a layer; expected one of %(layers)s",
                    source=repr(text),
                    name=repr(name),
                    layers=", ".join(LAYERS),
                )
            )
        return _with_inner(text, None)


def _with_inner(text: str, layer: str | None) -> Source:
    head, sep, inner = text.rpartition(":")
    if sep and head and inner and Path(head).is_file() and not Path(text).exists():
        return Source(Path(head), layer, inner)
    return Source(Path(text), layer)


@dataclass
class Ingested:
    """Layers read from the sources, and what happened on the way."""

    layers: dict[str, Frame] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def parse_mappings(specs: Sequence[str]) -> dict[str | None, dict[str, str]]:
    """Parse ``--map-fields`` values: ``"incidents:occurred_at=发案时间,category=类别"``.

    A spec without a ``layer:`` prefix applies to whichever layer has those columns.
    """
    mappings: dict[str | None, dict[str, str]] = {}
    for spec in specs:
        head, sep, rest = spec.partition(":")
        layer: str | None = head if sep and head in LAYERS else None
        body = rest if layer else spec
        mappings.setdefault(layer, {}).update(parse_field_mapping(body))
    return mappings


def parse_offsets(values: Sequence[str]) -> dict[str | None, OffsetSystem | None]:
    """Parse ``--offset`` values: ``gcj02`` for every layer, ``incidents=gcj02`` for one.

    Systems are ``gcj02`` (Amap, Tencent), ``bd09`` (Baidu) and ``none`` (``wgs84``: the
    layer's coordinates are right as they are). A layer's own value wins over the bare
    one, which applies to every other layer.

    Returns
    -------
    dict
        Layer (``None`` for every other layer) → system (``None`` for no conversion).

    Raises
    ------
    LayerError
        On an unknown system or layer, or a layer given twice.
    """
    offsets: dict[str | None, OffsetSystem | None] = {}
    for value in values:
        head, sep, system = value.strip().rpartition("=")
        layer: str | None = head.strip() if sep else None
        key = system.strip().lower()
        if key not in _OFFSET_NAMES:
            raise LayerError(
                _(
                    "offset %(offset)s: %(system)s is not a coordinate system; use "
                    "gcj02 (Amap, Tencent), bd09 (Baidu) or none, e.g. incidents=gcj02",
                    offset=repr(value),
                    system=repr(system.strip()),
                )
            )
        if layer is not None and layer not in LAYERS:
            raise LayerError(
                _(
                    "offset %(offset)s: %(layer)s is not a layer; expected one of %(layers)s",
                    offset=repr(value),
                    layer=repr(layer),
                    layers=", ".join(LAYERS),
                )
            )
        if layer in offsets:
            if layer:
                raise LayerError(
                    _(
                        "offset %(offset)s: layer %(layer)s is given an offset twice; keep one",
                        offset=repr(value),
                        layer=repr(layer),
                    )
                )
            raise LayerError(
                _(
                    "offset %(offset)s: every layer is given an offset twice; keep one",
                    offset=repr(value),
                )
            )
        offsets[layer] = _OFFSET_NAMES[key]
    return offsets


def _offset_of(offset: OffsetSystem | Offsets | None, layer: str) -> OffsetSystem | None:
    if offset is None or isinstance(offset, str):
        return offset
    return offset[layer] if layer in offset else offset.get(None)


def _layers_of(source: Source, limits: ReadLimits) -> list[tuple[str, str | None]]:
    """Pairs ``(workspace layer, layer inside the file)`` that ``source`` provides."""
    if source.inner is not None:
        return [_named_inner(source, limits)]
    try:
        inside = list_layers(source.path, limits=limits)
    except LimitError:
        raise
    except LayerError:
        inside = []
    if source.layer is not None:
        inner = source.layer if source.layer in inside else None
        if inner is None and set(inside) == set(OSM_LAYERS):
            # An OSM extract: key places and stations from their tags, areas from its
            # boundaries, streets from its roads.
            polygonal = "Polygon" in LAYERS[source.layer].geometry
            inner = OSM_LAYER_FOR.get(source.layer, "boundaries" if polygonal else "roads")
        return [(source.layer, inner if len(inside) > 1 else None)]
    known = [name for name in inside if name in LAYERS]
    if known:
        return [(name, name if len(inside) > 1 else None) for name in known]
    stem = source.path.name.split(".")[0]
    if stem in LAYERS:
        return [(stem, None)]
    raise LayerError(
        _(
            "cannot tell which layer %(file)s is; prefix it with the layer name, "
            "e.g. 'incidents=%(path)s' (layers: %(layers)s)",
            file=repr(source.path.name),
            path=source.path,
            layers=", ".join(LAYERS),
        )
    )


def _named_inner(source: Source, limits: ReadLimits) -> tuple[str, str | None]:
    """The pair for ``LAYER=FILE:INNER`` (or ``FILE:INNER`` when INNER is a layer name)."""
    inside = list_layers(source.path, limits=limits)
    inner = source.inner
    if inner not in inside:
        layer = source.layer or "LAYER"
        raise LayerError(
            _(
                "%(file)s has no layer %(inner)s; it holds %(inside)s. "
                "Name one of them, e.g. '%(layer)s=%(path)s:%(first)s'",
                file=repr(source.path.name),
                inner=repr(inner),
                inside=", ".join(inside),
                layer=layer,
                path=source.path,
                first=inside[0],
            )
        )
    stem = source.path.name.split(".")[0]
    layer_name = source.layer or next((n for n in (inner, stem) if n in LAYERS), None)
    if layer_name is None:
        raise LayerError(
            _(
                "cannot tell which layer %(inner)s of %(file)s is; prefix it with "
                "the layer name, e.g. 'grids=%(path)s:%(name)s' (layers: %(layers)s)",
                inner=repr(inner),
                file=repr(source.path.name),
                path=source.path,
                name=inner,
                layers=", ".join(LAYERS),
            )
        )
    return layer_name, inner if len(inside) > 1 else None


def _mapping_for(
    mappings: Mapping[str | None, Mapping[str, str]], layer: str, frame: Frame
) -> dict[str, str]:
    """The mapping items that apply to ``layer`` as read.

    Items of the layer's own mapping must name columns that exist. Items without a layer
    apply to the layers that have the field and the columns; a constant of those fills
    the field only where the layer has no column for it.

    Raises
    ------
    LayerError
        If the layer's own mapping names a column the file does not have (a typo would
        otherwise leave ids to be made up, or every incident without a time).
    """
    fields = LAYERS[layer].fields
    usable: dict[str, str] = {}
    for ours, theirs in mappings.get(None, {}).items():
        found = field_source(frame.columns, theirs)
        if found is None or ours not in fields:
            continue
        if found.kind == "constant" and find_column(frame.columns, ours) is not None:
            continue
        usable[ours] = theirs
    absent = []
    for ours, theirs in mappings.get(layer, {}).items():
        if field_source(frame.columns, theirs) is None:
            absent.append(f"{ours}={theirs}")
        else:
            usable[ours] = theirs
    if absent:
        columns = ", ".join(str(c) for c in frame.columns if c != "geometry") or _("(none)")
        raise LayerError(
            _(
                "the field mapping of layer %(layer)s names column(s) its file does not have: "
                "%(absent)s; the columns are %(columns)s",
                layer=repr(layer),
                absent=", ".join(absent),
                columns=columns,
            )
        )
    return usable


def ingest(
    sources: Sequence[Source],
    *,
    mappings: Mapping[str | None, Mapping[str, str]] | None = None,
    offset: OffsetSystem | Offsets | None = None,
    encoding: str | None = None,
    limits: ReadLimits | None = None,
) -> Ingested:
    """Read every source into data-model layers in EPSG:4326.

    Field mappings rename the user's columns to ours, fill constants and join a date and
    a time column (:func:`layers.fields.map_fields`); GCJ-02/BD-09 coordinates are
    converted to WGS84 when ``offset`` says so: one system for every layer, or a mapping
    per layer from :func:`parse_offsets`; every reprojection is reported as a problem
    of severity ``repaired``. Incident times stay as read: the validator reports the ones
    that do not parse, and :func:`finalize_times` converts them once they all do.

    ``limits`` (default :class:`~layers.limits.ReadLimits`) bound what each source may
    unpack to and how many layers one import reads; they are checked before a layer is
    read into memory wherever the format allows.

    Raises
    ------
    LayerError
        If a source cannot be read or mapped, or ``offset`` names a layer that no source
        provides (the message names the file and the fix);
        :class:`~layers.limits.LimitError` if it goes beyond ``limits``.
    """
    result = Ingested()
    mappings = mappings or {}
    limits = limits or ReadLimits()
    for source in sources:
        check_source_file(source.path, layer=source.layer)
    pairs = [(source, pair) for source in sources for pair in _layers_of(source, limits)]
    label = ", ".join(source.path.name for source in sources)
    check_layer_count(len(pairs), label, limits)
    named = {layer for _, (layer, _) in pairs}
    unread = sorted(k for k in (offset or {}) if k is not None and k not in named)
    if unread and not isinstance(offset, str):
        raise LayerError(
            _(
                "an offset is given for layer(s) %(unread)s, which this import does not "
                "read (it reads %(read)s); check the layer names",
                unread=", ".join(unread),
                read=", ".join(sorted(named)),
            )
        )
    for source, (layer, inner) in pairs:
        read = read_table if LAYERS[layer].is_table else read_layer
        frame = read(source.path, layer=inner, encoding=encoding, limits=limits)
        usable = _mapping_for(mappings, layer, frame)
        if usable:
            # Without a mapping the validator reports missing fields with the others.
            frame = map_fields(frame, usable, layer=layer, problems=result.problems)
        system = _offset_of(offset, layer)
        if isinstance(frame, gpd.GeoDataFrame):
            if system is not None:
                frame = convert_offset_coordinates(frame, system)
                result.problems.append(
                    Problem(
                        layer,
                        None,
                        "offset_converted",
                        _(
                            "coordinates converted from %(system)s to WGS84",
                            system=system.upper(),
                        ),
                        _("nothing to do"),
                        "repaired",
                    )
                )
            frame, crs_problems = to_storage_crs(frame, layer=layer)
            result.problems.extend(crs_problems)
        if layer in result.layers:
            raise LayerError(
                _(
                    "layer %(layer)s is given twice (again in %(file)s); "
                    "merge the files first or import one of them",
                    layer=repr(layer),
                    file=repr(source.path.name),
                )
            )
        result.layers[layer] = frame
        logger.info("read %s: %s features from %s", layer, f"{len(frame):,}", source.path.name)
    return result


def finalize_times(layers: Mapping[str, Frame], *, timezone: str) -> dict[str, Frame]:
    """Return layers with ``incidents.occurred_at`` as UTC datetimes."""
    out = dict(layers)
    incidents = out.get("incidents")
    if incidents is not None and "occurred_at" in incidents.columns:
        times = incidents["occurred_at"]
        if not isinstance(times.dtype, pd.DatetimeTZDtype):
            incidents = incidents.copy()
            incidents["occurred_at"] = parse_timestamps(times.astype("string"), tz=timezone)
            out["incidents"] = incidents
    return out


@dataclass
class ImportResult:
    """What :func:`import_into` did.

    Parameters
    ----------
    ok
        True when the layers were saved (no validation error).
    problems
        Every problem found on reading and validating, errors, warnings and repairs.
    saved
        Feature count per saved layer (empty when nothing was saved).
    timezone
        Time zone used for naive incident times.
    overlaps
        The sibling-overlap repair (pairs, who received each overlap, gaps, pieces) when
        it was asked for, else ``None``.
    """

    ok: bool
    problems: list[Problem] = field(default_factory=list)
    saved: dict[str, int] = field(default_factory=dict)
    timezone: str = "UTC"
    overlaps: OverlapRepair | None = None


def _existing_workspace(location: str) -> Workspace | None:
    """The workspace at ``location`` when there is one (a file, or a database schema that
    holds a workspace), else None: the import then creates it."""
    from gisapp.errors import WorkspaceError
    from gisapp.store import Workspace, is_database_url

    if not is_database_url(location):
        return Workspace.open(location) if Path(location).exists() else None
    try:
        return Workspace.open(location)
    except WorkspaceError:
        # No workspace in that schema yet (a server that cannot be reached says so again
        # when the import creates it).
        return None


def import_into(
    workspace_path: str | Path,
    sources: Sequence[Source],
    *,
    mappings: Mapping[str | None, Mapping[str, str]] | None = None,
    offset: OffsetSystem | Offsets | None = None,
    timezone: str | None = None,
    default_timezone: str = "UTC",
    encoding: str | None = None,
    force: bool = False,
    note: str | None = None,
    limits: ReadLimits | None = None,
    repair_overlaps: bool = False,
    dry_run: bool = False,
) -> ImportResult:
    """Read, validate and save sources into a workspace: the ``gisapp import`` flow.

    Everything is validated (with the workspace's other layers as context) before
    anything is written; with an error nothing is saved and the file is left as it was.
    The save is atomic. Layers not among the sources are kept.

    Parameters
    ----------
    workspace_path
        Workspace GeoPackage to update, or to create when it does not exist.
    sources
        Files to read.
    mappings, offset, encoding
        As in :func:`ingest`.
    timezone
        Time zone of naive incident times; default the workspace's, else
        ``default_timezone``.
    default_timezone
        Time zone of a new workspace when ``timezone`` is not given.
    force
        Replace the workspace instead of updating it.
    note
        Provenance note stored for each saved layer (default: the source file names).
    limits
        Bounds on what the sources may unpack to and on the workspace's total size
        (default :class:`~layers.limits.ReadLimits`). A source beyond them is refused
        before it is read into memory where the format allows; the result then holds one
        problem whose code is ``too_large`` or ``unsafe_archive``, and nothing is saved.
    repair_overlaps
        Give each overlap between sibling areas to one feature before validating
        (:func:`layers.repair.repair_sibling_overlaps`); without it such overlaps are
        ``sibling_overlap`` errors.
    dry_run
        Read, repair and validate, but save nothing (``saved`` stays empty): a preview.

    Returns
    -------
    ImportResult
        Whether the layers were saved, and every problem found.

    Raises
    ------
    LayerError
        If a source cannot be read or mapped.
    WorkspaceError
        If the existing workspace cannot be opened or written.
    """
    from gisapp.store import Workspace
    from gisapp.store.backend import location_label

    location = str(workspace_path)
    label = location_label(location)
    existing = None if force else _existing_workspace(location)
    tz = timezone or (existing.timezone if existing else default_timezone)
    limits = limits or ReadLimits()
    try:
        ingested = ingest(
            sources, mappings=mappings, offset=offset, encoding=encoding, limits=limits
        )
        context = existing.layers() if existing else {}
        check_workspace({**context, **ingested.layers}, limits)
    except LimitError as exc:
        logger.warning("not imported into %s: %s", label, exc.summary)
        where = ", ".join(s.path.name for s in sources)
        return ImportResult(False, [Problem(where, None, exc.code, exc.summary, exc.fix)], {}, tz)
    overlaps = None
    if repair_overlaps:
        overlaps = repair_sibling_overlaps(ingested.layers, context=context)
        ingested.layers.update(overlaps.layers)
    report = validate_layers(ingested.layers, workspace=context, timezone=tz)
    problems = ingested.problems + (overlaps.problems if overlaps else []) + report.problems
    if not report.ok or dry_run:
        logger.info("not imported into %s: %s", label, "preview" if dry_run else "errors")
        return ImportResult(report.ok, problems, {}, tz, overlaps)
    repaired = {name: report.layers[name] for name in ingested.layers}
    to_save = finalize_times(repaired, timezone=tz)
    notes = existing.layer_notes if existing else {}
    text = note or f"imported from {', '.join(s.path.name for s in sources)}"
    for name in to_save:
        # OSM data must carry its attribution (ODbL); maps read it from the layer notes.
        credit = ingested.layers[name].attrs.get("attribution")
        notes[name] = f"{text}; {credit}" if credit and credit not in text else text
    meta = {"timezone": tz, "layer_notes": notes}
    if existing:
        existing.save(to_save, meta=meta)
    else:
        Workspace.create(location, to_save, meta=meta, overwrite=force)
    saved = {name: len(frame) for name, frame in to_save.items()}
    logger.info("imported into %s: %s", label, saved)
    return ImportResult(True, problems, saved, tz, overlaps)
