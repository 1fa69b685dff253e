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
from typing import Literal

import geopandas as gpd
import pandas as pd

from layers.crs import convert_offset_coordinates, to_storage_crs
from layers.errors import LayerError, Problem
from layers.fields import map_fields, parse_field_mapping
from layers.incidents import parse_timestamps
from layers.io import list_layers, read_layer
from layers.schema import LAYERS

logger = logging.getLogger(__name__)

Frame = gpd.GeoDataFrame | pd.DataFrame
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


def _layers_of(source: Source) -> list[tuple[str, str | None]]:
    """Pairs ``(workspace layer, layer inside the file)`` that ``source`` provides."""
    try:
        inside = list_layers(source.path)
    except LayerError:
        inside = []
    if source.layer is not None:
        inner = source.layer if source.layer in inside else None
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
    timezone: str = "UTC",
    encoding: str | None = None,
) -> Ingested:
    """Read every source into data-model layers in EPSG:4326.

    Field mappings rename the user's columns to ours; GCJ-02/BD-09 coordinates are
    converted to WGS84 when ``offset`` says so; every reprojection is reported as a problem
    of severity ``repaired``. Incident times stay as read: the validator reports the ones
    that do not parse, and :func:`finalize_times` converts them once they all do.

    Raises
    ------
    LayerError
        If a source cannot be read or mapped (the message names the file and the fix).
    """
    result = Ingested()
    mappings = mappings or {}
    for source in sources:
        for layer, inner in _layers_of(source):
            frame = read_layer(source.path, layer=inner, encoding=encoding)
            mapping = {**mappings.get(None, {}), **mappings.get(layer, {})}
            usable = {ours: theirs for ours, theirs in mapping.items() if theirs in frame.columns}
            if usable:
                # Without a mapping the validator reports missing fields with the others.
                frame = map_fields(frame, usable, layer=layer)
            if isinstance(frame, gpd.GeoDataFrame):
                if offset is not None:
                    frame = convert_offset_coordinates(frame, offset)
                    result.problems.append(
                        Problem(layer, None, "offset_converted",
                                f"coordinates converted from {offset.upper()} to WGS84",
                                "nothing to do", "repaired")
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
