"""Layers moved between pandas frames and PostGIS tables, with the GeoPackage's dtypes.

A layer is a table with a row-order column (:data:`ROW_COLUMN`), its attribute columns
and, for a spatial layer, a ``geom`` column of type ``geometry`` in SRID 4326 with a GiST
index. Column types follow the frame's dtypes (integers by width, floats, booleans,
``timestamptz`` for times, text for the rest); a layer read back has the dtypes the same
layer has when read from a GeoPackage, so services cannot tell the stores apart.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import shapely
from psycopg import sql

from gisapp.errors import WorkspaceError
from gisapp.store.backend import Frame
from layers.schema import STORAGE_CRS

#: The column keeping each layer's row order.
ROW_COLUMN = "gisapp_fid"
#: The geometry column of a spatial layer (as GDAL names it in a GeoPackage).
GEOMETRY_COLUMN = "geom"
_SRID = 4326
_MAX_NAME_BYTES = 63

#: PostgreSQL's names of the column types (``format_type``) and the dtype read back.
_INTEGER_DTYPES = {"smallint": "int16", "integer": "int32", "bigint": "int64"}
_FLOAT_DTYPES = {"real": "float32", "double precision": "float64"}
_TIME = "timestamp with time zone"
#: The built-in types' ids (fixed in every PostgreSQL) and their names.
_OID_KINDS = {
    16: "boolean",
    21: "smallint",
    23: "integer",
    20: "bigint",
    700: "real",
    701: "double precision",
    1184: _TIME,
}


def column_type(series: pd.Series) -> str:
    """The PostgreSQL type (as ``format_type`` names it) that stores ``series``."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        size = _itemsize(dtype)
        unsigned = pd.api.types.is_unsigned_integer_dtype(dtype)
        if size <= 1 or (size == 2 and not unsigned):
            return "smallint"
        if size == 2 or (size == 4 and not unsigned):
            return "integer"
        return "bigint"
    if pd.api.types.is_float_dtype(dtype):
        size = _itemsize(dtype)
        return "real" if size <= 4 else "double precision"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return _TIME
    return "text"


def _itemsize(dtype: Any) -> int:
    """Bytes per value of a numeric dtype (numpy's or pandas' nullable one)."""
    return int(np.dtype(getattr(dtype, "numpy_dtype", dtype)).itemsize)


def frame_columns(frame: Frame) -> dict[str, str]:
    """The stored column types of ``frame``'s attribute columns (geometry as ``geometry``)."""
    geometry = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
    columns: dict[str, str] = {}
    for name in frame.columns:
        if name == geometry:
            continue
        if str(name) in (ROW_COLUMN, GEOMETRY_COLUMN):
            raise WorkspaceError(
                f"a layer cannot have a column named {name!r}; rename it before saving"
            )
        columns[str(name)] = column_type(frame[name])
    if geometry is not None:
        columns[GEOMETRY_COLUMN] = "geometry"
    return columns


def create_table(cur: psycopg.Cursor[Any], schema: str, name: str, columns: dict[str, str]) -> None:
    """Create the table of layer ``name`` with its indexes (geometry, incident times)."""
    _check_name(name, "layer")
    for column in columns:
        _check_name(column, "column")
    table = sql.Identifier(schema, name)
    parts = [sql.SQL("{} bigserial PRIMARY KEY").format(sql.Identifier(ROW_COLUMN))]
    for column, kind in columns.items():
        stored = f"geometry(Geometry, {_SRID})" if kind == "geometry" else kind
        parts.append(sql.SQL("{} {}").format(sql.Identifier(column), sql.SQL(stored)))
    cur.execute(sql.SQL("CREATE TABLE {} ({})").format(table, sql.SQL(", ").join(parts)))
    if "geometry" in columns.values():
        cur.execute(
            sql.SQL("CREATE INDEX {} ON {} USING gist ({})").format(
                sql.Identifier(_index_name(name, "geom")), table, sql.Identifier(GEOMETRY_COLUMN)
            )
        )
    if name == "incidents" and columns.get("occurred_at") == _TIME:
        cur.execute(
            sql.SQL("CREATE INDEX {} ON {} ({})").format(
                sql.Identifier(_index_name(name, "occurred_at")),
                table,
                sql.Identifier("occurred_at"),
            )
        )


def _index_name(table: str, what: str) -> str:
    # Index names are unique in a schema and at most 63 bytes: a digest of the table name.
    digest = hashlib.sha1(table.encode(), usedforsecurity=False).hexdigest()[:16]
    return f"gisapp_{digest}_{what}"


def _check_name(name: str, what: str) -> None:
    """Refuse a name the database would cut short (it keeps 63 bytes)."""
    if len(name.encode()) > _MAX_NAME_BYTES:
        raise WorkspaceError(
            f"{what} name {name!r} is too long for a database workspace (at most "
            f"{_MAX_NAME_BYTES} bytes); rename it before saving"
        )


def stored_columns(cur: psycopg.Cursor[Any], schema: str, name: str) -> dict[str, str]:
    """The stored column types of layer ``name`` (without the row-order column)."""
    cur.execute(
        """
        SELECT a.attname, format_type(a.atttypid, NULL)
        FROM pg_attribute a
        WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum
        """,
        (sql.Identifier(schema, name).as_string(cur),),
    )
    return {str(col): str(kind) for col, kind in cur.fetchall() if col != ROW_COLUMN}


def insert_rows(cur: psycopg.Cursor[Any], schema: str, name: str, frame: Frame) -> None:
    """Append ``frame``'s rows to layer ``name`` with ``COPY``."""
    columns = frame_columns(frame)
    if not len(frame):
        return
    values = [_column_values(frame, column, kind) for column, kind in columns.items()]
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(schema, name), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with cur.copy(statement) as copy:
        for row in zip(*values, strict=True):
            copy.write_row(row)


def _column_values(frame: Frame, column: str, kind: str) -> list[Any]:
    """Python values of one column, ready for ``COPY`` (None for missing ones)."""
    if kind == "geometry":
        assert isinstance(frame, gpd.GeoDataFrame)
        geoms = shapely.set_srid(np.asarray(frame.geometry.values, dtype=object), _SRID)
        hexes = shapely.to_wkb(geoms, hex=True, include_srid=True)
        return [None if g is None else h for g, h in zip(geoms, hexes, strict=True)]
    series = frame[column]
    missing = series.isna().to_numpy()
    convert: Any
    if kind == "boolean":
        convert = bool
    elif kind in _INTEGER_DTYPES:
        convert = int
    elif kind in _FLOAT_DTYPES:
        convert = float
    elif kind == _TIME:
        # Stored to the microsecond, as the server keeps times.
        series = pd.Series(pd.to_datetime(series, utc=True)).dt.floor("us")
        convert = pd.Timestamp.to_pydatetime
    else:
        convert = str
    objects = series.to_numpy(dtype=object)
    return [None if m else convert(v) for v, m in zip(objects, missing, strict=True)]


def read_rows(cur: psycopg.Cursor[Any], schema: str, name: str) -> Frame:
    """Layer ``name`` as a frame, in stored order, with the GeoPackage's dtypes.

    One statement reads the columns and the rows together, so a save replacing the layer
    meanwhile gives the layer before or after it, never columns of one and rows of the other.
    """
    cur.execute(
        sql.SQL("SELECT * FROM {} ORDER BY {}").format(
            sql.Identifier(schema, name), sql.Identifier(ROW_COLUMN)
        )
    )
    described = [(d.name, _OID_KINDS.get(d.type_code, "text")) for d in cur.description or []]
    rows = cur.fetchall()
    data: dict[str, pd.Series] = {}
    geometry: np.ndarray | None = None
    for i, (column, kind) in enumerate(described):
        if column == ROW_COLUMN:
            continue
        values = [row[i] for row in rows]
        if column == GEOMETRY_COLUMN:
            # The server's text form of a geometry: hex EWKB, with its SRID.
            geometry = shapely.from_wkb(np.array(values, dtype=object))
        else:
            data[column] = _series(values, kind)
    frame = pd.DataFrame(data, index=pd.RangeIndex(len(rows)))
    if geometry is None:
        return frame
    return gpd.GeoDataFrame(
        frame, geometry=gpd.GeoSeries(geometry, index=frame.index, crs=STORAGE_CRS)
    )


def _series(values: Sequence[Any], kind: str) -> pd.Series:
    """One stored column as the GeoPackage reader gives it."""
    has_missing = any(v is None for v in values)
    if kind in _INTEGER_DTYPES:
        if has_missing:
            return pd.Series([np.nan if v is None else v for v in values], dtype="float64")
        return pd.Series(values, dtype=_INTEGER_DTYPES[kind])
    if kind in _FLOAT_DTYPES:
        return pd.Series([np.nan if v is None else v for v in values], dtype=_FLOAT_DTYPES[kind])
    if kind == "boolean":
        return pd.Series(values, dtype=object if has_missing else bool)
    if kind == _TIME:
        if not values:
            return pd.Series([], dtype="datetime64[ms]")
        return pd.Series(pd.to_datetime(list(values), utc=True)).dt.as_unit("ms")
    if not values:
        return pd.Series([], dtype=object)
    return pd.Series(np.array(list(values), dtype=object))
