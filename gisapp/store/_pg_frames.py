"""Layers moved between pandas frames and PostGIS tables, with the GeoPackage's dtypes.

A layer is a table with a row-order column (:data:`ROW_COLUMN`), its attribute columns
and, for a spatial layer, a ``geom`` column of type ``geometry`` in SRID 4326 with a GiST
index. Column types follow the frame's dtypes (integers by width, floats, booleans,
``timestamptz`` for times, text for the rest); a layer read back has the dtypes the same
layer has when read from a GeoPackage, so services cannot tell the stores apart.
"""

from __future__ import annotations

import datetime as dt
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
from layers.i18n import _
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
                _("a layer cannot have a column named %(name)r; rename it before saving", name=name)
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


def add_columns(cur: psycopg.Cursor[Any], schema: str, name: str, columns: dict[str, str]) -> None:
    """Add attribute columns (name -> stored type, as :func:`frame_columns` gives them) to
    the table of layer ``name``; its stored rows get no value in them."""
    table = sql.Identifier(schema, name)
    for column, kind in columns.items():
        _check_name(column, "column")
        cur.execute(
            sql.SQL("ALTER TABLE {} ADD COLUMN {} {}").format(
                table, sql.Identifier(column), sql.SQL(kind)
            )
        )


def _index_name(table: str, what: str) -> str:
    # Index names are unique in a schema and at most 63 bytes: a digest of the table name.
    digest = hashlib.sha1(table.encode(), usedforsecurity=False).hexdigest()[:16]
    return f"gisapp_{digest}_{what}"


def _check_name(name: str, what: str) -> None:
    """Refuse a name the database would cut short (it keeps 63 bytes)."""
    if len(name.encode()) > _MAX_NAME_BYTES:
        if what == "column":
            message = _(
                "column name %(name)r is too long for a database workspace (at most "
                "%(max)s bytes); rename it before saving",
                name=name,
                max=_MAX_NAME_BYTES,
            )
        else:
            message = _(
                "layer name %(name)r is too long for a database workspace (at most "
                "%(max)s bytes); rename it before saving",
                name=name,
                max=_MAX_NAME_BYTES,
            )
        raise WorkspaceError(message)


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
    The statement is never prepared: a layer saved again with other columns would make the
    server refuse a prepared ``SELECT *`` ("cached plan must not change result type").
    """
    cur.execute(
        sql.SQL("SELECT * FROM {} ORDER BY {}").format(
            sql.Identifier(schema, name), sql.Identifier(ROW_COLUMN)
        ),
        prepare=False,
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


#: Degrees of latitude per metre: the edge tolerance of the point-in-area join.
_DEGREES_PER_M = 1.0 / 111_320.0

#: The incidents to count, kept for one transaction with their own spatial index: joined
#: from the areas' side, each area's test is repeated over its points (PostGIS caches it),
#: which is about twice as fast as one index probe of the areas per point.
_CHOSEN_SQL = """
CREATE TEMPORARY TABLE gisapp_chosen ON COMMIT DROP AS
SELECT i.{row} AS fid, i.{geom} AS geom FROM {incidents} i
WHERE i.{geom} IS NOT NULL AND NOT ST_IsEmpty(i.{geom}) AND i.occurred_at IS NOT NULL
{filters}
"""
_CHOSEN_INDEX_SQL = "CREATE INDEX ON gisapp_chosen USING gist (geom)"

_COUNT_SQL = """
WITH zone AS (
    SELECT CASE WHEN (ST_YMin(e) + ST_YMax(e)) / 2 >= 0 THEN 32600 ELSE 32700 END
           + LEAST(floor(((ST_XMin(e) + ST_XMax(e)) / 2 + 180) / 6)::integer + 1, 60) AS srid
    FROM (SELECT ST_Extent({geom}) AS e FROM {areas}) AS extent
),
hits AS MATERIALIZED (
    SELECT c.fid, c.geom, a.{row} AS pos, count(*) OVER (PARTITION BY c.fid) AS n
    FROM {areas} a JOIN gisapp_chosen c ON ST_DWithin(a.{geom}, c.geom, %(tolerance)s)
),
centres AS (
    SELECT a.{row} AS pos, ST_Centroid(ST_Transform(a.{geom}, zone.srid)) AS centre_m
    FROM {areas} a, zone
    WHERE a.{row} IN (SELECT pos FROM hits WHERE n > 1)
),
placed AS (
    SELECT fid, pos FROM hits WHERE n = 1
    UNION ALL
    (SELECT DISTINCT ON (h.fid) h.fid, h.pos
     FROM hits h JOIN centres m ON m.pos = h.pos CROSS JOIN zone
     WHERE h.n > 1
     ORDER BY h.fid, ST_Distance(ST_Transform(h.geom, zone.srid), m.centre_m), h.pos)
),
counted AS (SELECT pos, count(*) AS n FROM placed GROUP BY pos)
SELECT a.id::text, coalesce(counted.n, 0), a.{row}
FROM {areas} a LEFT JOIN counted ON counted.pos = a.{row}
UNION ALL
SELECT NULL, (SELECT count(*) FROM gisapp_chosen) - (SELECT count(*) FROM placed), NULL
ORDER BY 3 NULLS LAST
"""


def count_incidents(
    cur: psycopg.Cursor[Any],
    schema: str,
    areas: str,
    *,
    start_utc: Any,
    end_utc: Any,
    window_min: tuple[int, int] | None,
    timezone: str,
    categories: Sequence[str] | None,
    tolerance_m: float,
) -> tuple[list[str], list[int], int]:
    """Incidents per area counted by the server; only one row per area comes back.

    Runs in a transaction of its own (a savepoint inside the caller's), which holds its
    temporary table. The period uses the index on ``occurred_at``, the point-in-area join a GiST index; a point within ``tolerance_m`` of several areas goes to the one whose
    centroid is nearest in the areas' UTM zone (then the first stored). The window's
    clock times are read in ``timezone`` (``AT TIME ZONE``, so a day of a daylight-saving
    change has its real hours). Needs the right to create temporary tables, which every
    role has by default.

    Returns
    -------
    tuple of (list of str, list of int, int)
        Area ids and their counts in stored order, and the incidents counted in no area.
    """
    filters: list[sql.Composable] = []
    params: dict[str, Any] = {"tolerance": tolerance_m * _DEGREES_PER_M, "tz": timezone}
    if start_utc is not None:
        filters.append(sql.SQL("AND i.occurred_at >= %(start)s"))
        params["start"] = start_utc.to_pydatetime()
    if end_utc is not None:
        filters.append(sql.SQL("AND i.occurred_at < %(end)s"))
        params["end"] = end_utc.to_pydatetime()
    if window_min is not None and window_min[0] != window_min[1]:
        # Comparing the exact local time with the window's whole minutes gives what
        # comparing its minute of the day does (``routing.risk.shift_mask``).
        joiner = "AND" if window_min[0] < window_min[1] else "OR"
        filters.append(
            sql.SQL("AND ({t} >= %(w_start)s {j} {t} < %(w_end)s)").format(
                t=sql.SQL("(i.occurred_at AT TIME ZONE %(tz)s)::time"), j=sql.SQL(joiner)
            )
        )
        params["w_start"], params["w_end"] = (dt.time(m // 60, m % 60) for m in window_min)
    if categories is not None:
        filters.append(sql.SQL("AND i.category::text = ANY(%(categories)s)"))
        params["categories"] = list(categories)
    names = {
        "areas": sql.Identifier(schema, areas),
        "incidents": sql.Identifier(schema, "incidents"),
        "row": sql.Identifier(ROW_COLUMN),
        "geom": sql.Identifier(GEOMETRY_COLUMN),
    }
    chosen = sql.SQL(_CHOSEN_SQL).format(filters=sql.SQL(" ").join(filters), **names)
    with cur.connection.transaction():
        # The planner's cost of the rare tie-breaks (ST_Transform) is high enough to
        # trigger JIT compilation, which takes longer than the whole count.
        cur.execute("SET LOCAL jit = off")
        cur.execute(chosen, params)
        cur.execute(_CHOSEN_INDEX_SQL)
        cur.execute(sql.SQL(_COUNT_SQL).format(**names), params)
        *rows, (_, outside, _) = cur.fetchall()
        cur.execute("DROP TABLE gisapp_chosen")
    return [str(r[0]) for r in rows], [int(r[1]) for r in rows], int(outside)
