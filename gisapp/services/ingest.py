"""Bring user files into the workspace data model: read, map fields, fix coordinates.

Sources are named on the command line as ``PATH`` or ``LAYER=PATH``. A multi-layer source
(a GeoPackage, an OSM extract) contributes every layer whose name is a data-model layer;
a single-layer file is taken as the layer named by its prefix or, failing that, by its
file name (``grids.zip`` → ``grids``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeAlias

import geopandas as gpd
import pandas as pd

from layers.crs import convert_offset_coordinates, to_storage_crs
from layers.errors import LayerError, Problem
from layers.fields import find_column, map_fields, parse_field_mapping
from layers.incidents import parse_timestamps
from layers.io import OSM_LAYERS, list_layers, read_layer, read_table
from layers.limits import LimitError, ReadLimits, check_layer_count, check_workspace
from layers.schema import LAYERS
from layers.validate import validate_layers
from layers.validate.files import check_source_file

logger = logging.getLogger(__name__)

#: A workspace layer: a GeoDataFrame, or a DataFrame for a table such as ``units``.
Frame: TypeAlias = gpd.GeoDataFrame | pd.DataFrame
OffsetSystem = Literal["gcj02", "bd09"]


@dataclass(frozen=True)
class Source:
    """One input named by the user: a path and, optionally, the layer it is."""

    path: Path
    layer: str | None = None

    @classmethod
    def parse(cls, text: str) -> Source:
        """Parse ``"grids=grids.zip"`` or ``"data.gpkg"``.

        Raises
        ------
        LayerError
            If the prefix names no data-model layer.
        """
        name, sep, rest = text.partition("=")
        if sep and name in LAYERS:
            return cls(Path(rest), name)
        if sep and not Path(text).exists():
            raise LayerError(
                f"source {text!r}: {name!r} is not a layer; expected one of {', '.join(LAYERS)}"
            )
        return cls(Path(text))


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


def _layers_of(source: Source, limits: ReadLimits) -> list[tuple[str, str | None]]:
    """Pairs ``(workspace layer, layer inside the file)`` that ``source`` provides."""
    try:
        inside = list_layers(source.path, limits=limits)
    except LimitError:
        raise
    except LayerError:
        inside = []
    if source.layer is not None:
        inner = source.layer if source.layer in inside else None
        if inner is None and set(inside) == set(OSM_LAYERS):
            # An OSM extract: areas come from its boundaries, streets from its roads.
            polygonal = "Polygon" in LAYERS[source.layer].geometry
            inner = "boundaries" if polygonal else "roads"
        return [(source.layer, inner if len(inside) > 1 else None)]
    known = [name for name in inside if name in LAYERS]
    if known:
        return [(name, name if len(inside) > 1 else None) for name in known]
    stem = source.path.name.split(".")[0]
    if stem in LAYERS:
        return [(stem, None)]
    raise LayerError(
        f"cannot tell which layer {source.path.name!r} is; prefix it with the layer name, "
        f"e.g. 'incidents={source.path}' (layers: {', '.join(LAYERS)})"
    )


def ingest(
    sources: Sequence[Source],
    *,
    mappings: Mapping[str | None, Mapping[str, str]] | None = None,
    offset: OffsetSystem | None = None,
    encoding: str | None = None,
    limits: ReadLimits | None = None,
) -> Ingested:
    """Read every source into data-model layers in EPSG:4326.

    Field mappings rename the user's columns to ours; GCJ-02/BD-09 coordinates are
    converted to WGS84 when ``offset`` says so; every reprojection is reported as a problem
    of severity ``repaired``. Incident times stay as read: the validator reports the ones
    that do not parse, and :func:`finalize_times` converts them once they all do.

    ``limits`` (default :class:`~layers.limits.ReadLimits`) bound what each source may
    unpack to and how many layers one import reads; they are checked before a layer is
    read into memory wherever the format allows.

    Raises
    ------
    LayerError
        If a source cannot be read or mapped (the message names the file and the fix);
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
    for source, (layer, inner) in pairs:
        read = read_table if LAYERS[layer].is_table else read_layer
        frame = read(source.path, layer=inner, encoding=encoding, limits=limits)
        mapping = {**mappings.get(None, {}), **mappings.get(layer, {})}
        usable = {o: t for o, t in mapping.items() if find_column(frame.columns, t) is not None}
        if usable:
            # Without a mapping the validator reports missing fields with the others.
            frame = map_fields(frame, usable, layer=layer)
        if isinstance(frame, gpd.GeoDataFrame):
            if offset is not None:
                frame = convert_offset_coordinates(frame, offset)
                result.problems.append(
                    Problem(
                        layer,
                        None,
                        "offset_converted",
                        f"coordinates converted from {offset.upper()} to WGS84",
                        "nothing to do",
                        "repaired",
                    )
                )
            frame, crs_problems = to_storage_crs(frame, layer=layer)
            result.problems.extend(crs_problems)
        if layer in result.layers:
            raise LayerError(
                f"layer {layer!r} is given twice (again in {source.path.name!r}); "
                "merge the files first or import one of them"
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
    """

    ok: bool
    problems: list[Problem] = field(default_factory=list)
    saved: dict[str, int] = field(default_factory=dict)
    timezone: str = "UTC"


def import_into(
    workspace_path: str | Path,
    sources: Sequence[Source],
    *,
    mappings: Mapping[str | None, Mapping[str, str]] | None = None,
    offset: OffsetSystem | None = None,
    timezone: str | None = None,
    default_timezone: str = "UTC",
    encoding: str | None = None,
    force: bool = False,
    note: str | None = None,
    limits: ReadLimits | None = None,
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
    from gisapp.store.geopackage import Workspace

    path = Path(workspace_path)
    existing = Workspace.open(path) if path.exists() and not force else None
    tz = timezone or (existing.timezone if existing else default_timezone)
    limits = limits or ReadLimits()
    try:
        ingested = ingest(
            sources, mappings=mappings, offset=offset, encoding=encoding, limits=limits
        )
        context = existing.layers() if existing else {}
        check_workspace({**context, **ingested.layers}, limits)
    except LimitError as exc:
        logger.warning("not imported into %s: %s", path.name, exc.summary)
        where = ", ".join(s.path.name for s in sources)
        return ImportResult(False, [Problem(where, None, exc.code, exc.summary, exc.fix)], {}, tz)
    report = validate_layers(ingested.layers, workspace=context, timezone=tz)
    problems = ingested.problems + report.problems
    if not report.ok:
        logger.info("not imported into %s: validation errors", path.name)
        return ImportResult(False, problems, {}, tz)
    repaired = {name: report.layers[name] for name in ingested.layers}
    to_save = finalize_times(repaired, timezone=tz)
    notes = existing.layer_notes if existing else {}
    text = note or f"imported from {', '.join(s.path.name for s in sources)}"
    notes.update({name: text for name in to_save})
    meta = {"timezone": tz, "layer_notes": notes}
    if existing:
        existing.save(to_save, meta=meta)
    else:
        Workspace.create(path, to_save, meta=meta, overwrite=force)
    saved = {name: len(frame) for name, frame in to_save.items()}
    logger.info("imported into %s: %s", path.name, saved)
    return ImportResult(True, problems, saved, tz)
