"""GeoJSON: the one writer of layers as GeoJSON text and files.

WGS84 lon/lat rounded to :data:`COORDINATE_DECIMALS` places (about 1 cm), times as ISO
8601 text, missing values as ``null``.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisapp.outputs.files import write_file

#: Decimal places of every coordinate written (1e-7 degree is about 1 cm).
COORDINATE_DECIMALS = 7


def to_geojson(frame: gpd.GeoDataFrame, *, coordinate_system: str | None = None) -> str:
    """A layer as GeoJSON text in EPSG:4326 (datetimes as ISO 8601 text).

    ``coordinate_system`` (e.g. ``GCJ-02`` for coordinates already converted to an offset
    system) is written as the collection's ``coordinate_system`` member.
    """
    out = frame.to_crs(4326) if frame.crs is not None else frame.copy()
    for column in out.columns:
        if column != out.geometry.name and pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].map(lambda t: None if pd.isna(t) else t.isoformat())
    out[out.geometry.name] = shapely.transform(
        out.geometry.values, lambda xy: np.round(xy, COORDINATE_DECIMALS)
    )
    text = str(out.to_json(drop_id=True, na="null"))
    if coordinate_system is None:
        return text
    return '{"coordinate_system": ' + json.dumps(coordinate_system) + ", " + text[1:]


def write_geojson(frame: gpd.GeoDataFrame, path: str | Path) -> Path:
    """Write a layer as a GeoJSON file (see :func:`to_geojson`), atomically."""
    return write_file(Path(path), to_geojson(frame))
