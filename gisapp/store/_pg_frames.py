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
from gisapp.store.backend import CATEGORY_FIELDS, Frame, IncidentProfile, ProfileQuery
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
SELECT i.{row} AS fid, i.{geom} AS geom, i.occurred_at AS t,
       (i.occurred_at AT TIME ZONE %(tz)s)::time AS clock {fields}
FROM {incidents} i {lateral}
WHERE i.{geom} IS NOT NULL AND NOT ST_IsEmpty(i.{geom}) AND i.occurred_at IS NOT NULL
{filters}
"""


def _left_out(row: sql.Composable) -> sql.Composable:
    """The filter leaving out the incidents whose row is in ``%(excluded)s``: an anti-join
    (hashed), not ``NOT row = ANY(array)``, which compares every incident with every left-out
    row (hundreds of thousands at a city's reporting desks)."""
    return sql.SQL(
        "AND NOT EXISTS (SELECT 1 FROM unnest(%(excluded)s::bigint[]) AS x(r) WHERE x.r = i.{})"
    ).format(row)


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
slices (k, s, e, ws, we) AS (VALUES {slices})
SELECT p.pos, sl.k {keys}, count(*)
FROM gisapp_chosen c
LEFT JOIN placed p ON p.fid = c.fid
JOIN slices sl
  ON (sl.s IS NULL OR c.t >= sl.s) AND (sl.e IS NULL OR c.t < sl.e)
 AND (CASE WHEN sl.ws IS NULL OR sl.ws = sl.we THEN true
           WHEN sl.ws < sl.we THEN c.clock >= sl.ws AND c.clock < sl.we
           ELSE c.clock >= sl.ws OR c.clock < sl.we END)
GROUP BY p.pos, sl.k {keys}
"""


def count_incidents(
    cur: psycopg.Cursor[Any],
    schema: str,
    areas: str,
    *,
    slices: Sequence[tuple[Any, Any, tuple[int, int] | None]],
    timezone: str,
    categories: Sequence[str] | None,
    by: Sequence[str] = (),
    exclude_rows: Sequence[int] = (),
    cell: tuple[int, float] | None = None,
    tolerance_m: float,
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Incidents per area and slice counted by the server; one row per area and slice.

    Runs in a transaction of its own (a savepoint inside the caller's), which holds its
    temporary table. The span of the slices uses the index on ``occurred_at``, the
    point-in-area join a GiST index; a point within ``tolerance_m`` of several areas goes
    to the one whose centroid is nearest in the areas' UTM zone (then the first stored).
    A slice's window is read on local clock times in ``timezone`` (``AT TIME ZONE``, so a
    day of a daylight-saving change has its real hours): comparing the exact local time
    with the window's whole minutes gives what comparing its minute of the day does
    (``routing.risk.shift_mask``). Needs the right to create temporary tables, which every
    role has by default.

    Parameters
    ----------
    slices
        ``(start_utc, end_utc, window_min)`` of every slice (None for no bound).
    by
        Incident fields to break the counts down by.
    exclude_rows
        Stored row numbers of incidents left out.
    cell
        ``(EPSG code, side in metres)`` to break the counts down by cell.

    Returns
    -------
    tuple of (list of str, list of tuple)
        Area ids in stored order, and ``(area position or None, slice, *by values, [row,
        col], incidents)`` for every combination holding incidents.
    """
    filters: list[sql.Composable] = []
    params: dict[str, Any] = {"tolerance": tolerance_m * _DEGREES_PER_M, "tz": timezone}
    starts = [s[0] for s in slices]
    ends = [s[1] for s in slices]
    if starts and all(v is not None for v in starts):
        filters.append(sql.SQL("AND i.occurred_at >= %(start)s"))
        params["start"] = min(starts).to_pydatetime()
    if ends and all(v is not None for v in ends):
        filters.append(sql.SQL("AND i.occurred_at < %(end)s"))
        params["end"] = max(ends).to_pydatetime()
    if categories is not None:
        filters.append(sql.SQL("AND i.category::text = ANY(%(categories)s)"))
        params["categories"] = list(categories)
    if exclude_rows:
        filters.append(_left_out(sql.Identifier(ROW_COLUMN)))
        params["excluded"] = [int(r) for r in exclude_rows]
    fields: list[sql.Composable] = [
        sql.SQL(", i.{} AS {}").format(sql.Identifier(name), sql.Identifier(f"b{n}"))
        for n, name in enumerate(by)
    ]
    keys: list[sql.Composable] = [
        sql.SQL(", c.{}").format(sql.Identifier(f"b{n}")) for n in range(len(by))
    ]
    if cell is not None:
        params["cell_srid"], params["cell_side"] = int(cell[0]), float(cell[1])
        fields.append(
            sql.SQL(
                ", floor(ST_Y(m.g) / %(cell_side)s)::bigint AS cell_row,"
                " floor(ST_X(m.g) / %(cell_side)s)::bigint AS cell_col"
            )
        )
        keys += [sql.SQL(", c.cell_row"), sql.SQL(", c.cell_col")]
    values = []
    for k, (start, end, window) in enumerate(slices):
        values.append(
            sql.SQL("({}::integer, {}::timestamptz, {}::timestamptz, {}::time, {}::time)").format(
                sql.Literal(k),
                sql.Literal(None if start is None else start.to_pydatetime()),
                sql.Literal(None if end is None else end.to_pydatetime()),
                sql.Literal(None if window is None else _clock(window[0])),
                sql.Literal(None if window is None else _clock(window[1])),
            )
        )
    names = {
        "areas": sql.Identifier(schema, areas),
        "incidents": sql.Identifier(schema, "incidents"),
        "row": sql.Identifier(ROW_COLUMN),
        "geom": sql.Identifier(GEOMETRY_COLUMN),
    }
    lateral: sql.Composable = sql.SQL("")
    if cell is not None:
        # The position of each point in the cells' metric CRS.
        lateral = sql.SQL(", LATERAL (SELECT ST_Transform(i.{}, %(cell_srid)s) AS g) m").format(
            sql.Identifier(GEOMETRY_COLUMN)
        )
    chosen = sql.SQL(_CHOSEN_SQL).format(
        fields=sql.SQL("").join(fields),
        filters=sql.SQL(" ").join(filters),
        lateral=lateral,
        **names,
    )
    count = sql.SQL(_COUNT_SQL).format(
        slices=sql.SQL(", ").join(values), keys=sql.SQL("").join(keys), **names
    )
    with cur.connection.transaction():
        # The planner's cost of the rare tie-breaks (ST_Transform) is high enough to
        # trigger JIT compilation, which takes longer than the whole count.
        cur.execute("SET LOCAL jit = off")
        cur.execute(
            sql.SQL("SELECT {}, id::text FROM {} ORDER BY 1").format(names["row"], names["areas"])
        )
        stored = cur.fetchall()
        cur.execute(chosen, params)
        cur.execute(_CHOSEN_INDEX_SQL)
        # without statistics the planner guesses a few hundred rows and joins every
        # incident with every other one (minutes on a million incidents instead of a second)
        cur.execute("ANALYZE gisapp_chosen")
        cur.execute(count, params)
        rows = cur.fetchall()
        cur.execute("DROP TABLE gisapp_chosen")
    position = {int(fid): n for n, (fid, _id) in enumerate(stored)}
    answer = [
        (None if r[0] is None else position[int(r[0])], int(r[1]), *r[2:-1], int(r[-1]))
        for r in rows
    ]
    return [str(area_id) for _fid, area_id in stored], answer


def _clock(minute: int) -> dt.time:
    return dt.time(minute // 60, minute % 60)


#: The UTM zone of the centre of a geometry column's extent, as ``layers.crs.metric_crs``.
_ZONE_SQL = """
SELECT CASE WHEN (ST_YMin(e) + ST_YMax(e)) / 2 >= 0 THEN 32600 ELSE 32700 END
       + LEAST(GREATEST(floor(((ST_XMin(e) + ST_XMax(e)) / 2 + 180) / 6)::integer + 1, 1), 60)
FROM (SELECT ST_Extent({geom}) AS e FROM {incidents}
      WHERE {geom} IS NOT NULL AND NOT ST_IsEmpty({geom})) AS extent
"""

#: Every usable incident point in metres and its place: points within the tolerance of
#: each other, chained, are one place (``layers.validate.pileups._places``). The distinct
#: positions are clustered, not the incidents: a reporting desk's thousands of incidents on
#: one point would make every one of them a neighbour of every other.
_PLACES_SQL = """
CREATE TEMPORARY TABLE gisapp_points ON COMMIT DROP AS
WITH located AS (
    SELECT i.{row} AS fid, ST_X(m.g) AS x, ST_Y(m.g) AS y
    FROM {incidents} i, LATERAL (SELECT ST_Transform(i.{geom}, %(srid)s) AS g) m
    WHERE i.{geom} IS NOT NULL AND NOT ST_IsEmpty(i.{geom})
),
spots AS (
    SELECT x, y, array_agg(fid) AS fids FROM located GROUP BY x, y
),
clustered AS (
    SELECT fids,
           ST_ClusterDBSCAN(ST_MakePoint(x, y), eps := %(tolerance)s, minpoints := 1)
           OVER () AS place
    FROM spots
)
SELECT unnest(fids) AS fid, place FROM clustered
"""

#: The places holding at least ``min_count`` incidents, their centre, and the median count
#: of the other places whose centre is within the radius (at least 1).
_HEAVY_SQL = """
CREATE TEMPORARY TABLE gisapp_places ON COMMIT DROP AS
SELECT p.place, count(*) AS n, min(p.fid) AS first,
       ST_MakePoint(avg(ST_X(ST_Transform(i.{geom}, %(srid)s))),
                    avg(ST_Y(ST_Transform(i.{geom}, %(srid)s)))) AS centre
FROM gisapp_points p JOIN {incidents} i ON i.{row} = p.fid
GROUP BY p.place
"""
_FLAGGED_SQL = """
WITH heavy AS (SELECT * FROM gisapp_places WHERE n >= %(min_count)s),
local AS (
    SELECT h.place, h.n, h.first,
           GREATEST(1.0, coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY o.n), 1.0)) AS m
    FROM heavy h
    LEFT JOIN gisapp_places o
      ON o.place <> h.place AND ST_DWithin(o.centre, h.centre, %(radius)s)
    GROUP BY h.place, h.n, h.first
)
SELECT place, m FROM local WHERE n >= %(min_ratio)s * m ORDER BY first
"""

#: The gaps of at least two years between the sorted times that are not in the future.
_GAPS_SQL = """
WITH kept AS (
    SELECT i.occurred_at AS t FROM {incidents} i
    WHERE i.occurred_at IS NOT NULL AND i.occurred_at <= %(future)s {excluded}
),
ordered AS (
    SELECT t, lag(t) OVER (ORDER BY t) AS prev, row_number() OVER (ORDER BY t) - 1 AS g
    FROM kept
)
SELECT (SELECT count(*) FROM kept), g - 1, prev, t FROM ordered
WHERE prev IS NOT NULL AND extract(epoch FROM t - prev) >= %(gap_s)s
UNION ALL SELECT (SELECT count(*) FROM kept), NULL, NULL, NULL
ORDER BY 2 NULLS LAST
"""

#: The incidents without a time, the plausible range and the implausible times' days.
_TIMES_SQL = """
WITH kept AS (
    SELECT i.occurred_at AS t,
           i.occurred_at <= %(future)s
           AND (%(lower)s::timestamptz IS NULL OR i.occurred_at >= %(lower)s::timestamptz)
           AND (%(upper)s::timestamptz IS NULL OR i.occurred_at <= %(upper)s::timestamptz) AS ok
    FROM {incidents} i WHERE true {excluded}
)
SELECT count(*) FILTER (WHERE t IS NULL), min(t) FILTER (WHERE ok), max(t) FILTER (WHERE ok),
       count(*) FILTER (WHERE NOT ok),
       array_agg(DISTINCT to_char(t AT TIME ZONE %(tz)s, 'YYYY-MM-DD')) FILTER (WHERE NOT ok)
FROM kept
"""


def profile_incidents(
    cur: psycopg.Cursor[Any], schema: str, query: ProfileQuery
) -> IncidentProfile:
    """The :class:`gisapp.store.backend.IncidentProfile` of the incidents, by the server.

    What ``gisapp.store.backend.profile`` finds in Python, found with SQL so that only
    summaries cross the wire: the category values and their counts, the pile-ups (places
    by ``ST_ClusterDBSCAN`` in the incidents' UTM zone; only the incidents at pile-ups come
    back, to be described as ``layers.validate.pileups`` does), the incidents without a
    time and the plausible range of times (``layers.validate.dates.stray_dates``).
    """
    from layers.validate.dates import STRAY_GAP, STRAY_SHARE

    names = {
        "incidents": sql.Identifier(schema, "incidents"),
        "row": sql.Identifier(ROW_COLUMN),
        "geom": sql.Identifier(GEOMETRY_COLUMN),
    }
    columns = stored_columns(cur, schema, "incidents")
    cur.execute(sql.SQL("SELECT count(*) FROM {}").format(names["incidents"]))
    (n_incidents,) = cur.fetchone() or (0,)
    has_category = "category" in columns
    if has_category:
        cur.execute(
            sql.SQL(
                "SELECT category, count(*), min({row}) FROM {incidents} GROUP BY category"
                " ORDER BY 3"
            ).format(**names)
        )
        found = cur.fetchall()
        categories = pd.DataFrame(
            {"category": [r[0] for r in found], "incidents": [int(r[1]) for r in found]}
        )
    else:
        categories = pd.DataFrame({"category": [], "incidents": []})
    complete = all(f in columns for f in CATEGORY_FIELDS)
    if complete:
        missing = sql.SQL(" OR ").join(
            sql.SQL("{} IS NULL").format(sql.Identifier(f)) for f in CATEGORY_FIELDS
        )
        cur.execute(
            sql.SQL("SELECT NOT EXISTS (SELECT 1 FROM {} WHERE {})").format(
                names["incidents"], missing
            )
        )
        complete = bool((cur.fetchone() or (False,))[0])
    pileups = _pileups(cur, schema, names, columns, int(n_incidents), query.pileup_rule)
    rows = [int(i) for i in pileups.at_pileup.index]
    excluded: sql.Composable = sql.SQL("")
    params: dict[str, Any] = {
        "future": (query.now_utc + pd.Timedelta(days=1)).to_pydatetime(),
        "gap_s": STRAY_GAP.total_seconds(),
        "tz": query.timezone,
    }
    if rows and not query.keep_pileups:
        excluded = _left_out(names["row"])
        params["excluded"] = rows
    cur.execute(sql.SQL(_GAPS_SQL).format(excluded=excluded, **names), params)
    gaps = cur.fetchall()
    n_ordered = int(gaps[-1][0])
    allowed = int(STRAY_SHARE * n_ordered)
    lower = upper = None
    if n_ordered >= 2:
        before = [g for g in gaps[:-1] if g[1] + 1 <= allowed]
        if before:
            lower = before[-1][3]
        after = [g for g in gaps[:-1] if n_ordered - g[1] - 1 <= allowed]
        if after:
            upper = after[0][2]
    params.update(lower=lower, upper=upper)
    cur.execute(sql.SQL(_TIMES_SQL).format(excluded=excluded, **names), params)
    untimed, first, last, stray, days = cur.fetchone() or (0, None, None, 0, None)
    plausible = None
    if first is not None and last is not None:
        plausible = (pd.Timestamp(first).tz_convert("UTC"), pd.Timestamp(last).tz_convert("UTC"))
    return IncidentProfile(
        incidents=int(n_incidents),
        categories=categories,
        has_category=has_category,
        complete_fields=complete,
        pileups=pileups,
        untimed=int(untimed),
        plausible_utc=plausible,
        stray=int(stray),
        stray_days=tuple(sorted(days or ())),
    )


def _pileups(
    cur: psycopg.Cursor[Any],
    schema: str,
    names: dict[str, sql.Identifier],
    columns: dict[str, str],
    n_incidents: int,
    rule: Any,
) -> Any:
    """The pile-ups (``layers.validate.pileups.find_pileups``) found by the server."""
    from pyproj import CRS

    from layers.validate import pileups as lp

    none = lp.Pileups(lp._empty_places(), pd.Series(False, index=pd.Index([], dtype="int64")))
    if n_incidents < rule.min_count:
        return none
    cur.execute(sql.SQL(_ZONE_SQL).format(**names))
    row = cur.fetchone()
    if row is None or row[0] is None:
        return none
    params = {
        "srid": int(row[0]),
        "tolerance": float(rule.tolerance_m),
        "min_count": int(rule.min_count),
        "min_ratio": float(rule.min_ratio),
        "radius": float(rule.radius_m),
    }
    with cur.connection.transaction():
        cur.execute("SET LOCAL jit = off")
        cur.execute(sql.SQL(_PLACES_SQL).format(**names), params)
        cur.execute(sql.SQL(_HEAVY_SQL).format(**names), params)
        cur.execute("SELECT count(*) FROM gisapp_places WHERE n >= %(min_count)s", params)
        (n_heavy,) = cur.fetchone() or (0,)
        flagged: list[tuple[Any, ...]] = []
        if n_heavy:
            cur.execute("CREATE INDEX ON gisapp_places USING gist (centre)")
            cur.execute("ANALYZE gisapp_places")
            cur.execute(_FLAGGED_SQL, params)
            flagged = cur.fetchall()
        members: list[tuple[Any, ...]] = []
        if flagged:
            address = sql.SQL("i.address::text") if "address" in columns else sql.SQL("NULL::text")
            cur.execute(
                sql.SQL(
                    "SELECT p.fid, p.place, ST_X(i.{geom}), ST_Y(i.{geom}), {address}"
                    " FROM gisapp_points p JOIN {incidents} i ON i.{row} = p.fid"
                    " WHERE p.place = ANY(%(places)s) ORDER BY p.fid"
                ).format(address=address, **names),
                {"places": [int(f[0]) for f in flagged]},
            )
            members = cur.fetchall()
        cur.execute("DROP TABLE gisapp_points")
        cur.execute("DROP TABLE gisapp_places")
    if not flagged:
        return none
    order = {int(place): k for k, (place, _m) in enumerate(flagged)}
    label = np.array([order[int(m[1])] for m in members], dtype=np.int64)
    crs = CRS.from_epsg(int(row[0]))
    points = gpd.GeoSeries(
        shapely.points([m[2] for m in members], [m[3] for m in members]), crs=STORAGE_CRS
    ).to_crs(crs)
    xy = np.column_stack([points.x.to_numpy(), points.y.to_numpy()])
    count = np.bincount(label, minlength=len(flagged))
    centre = np.column_stack(
        [np.bincount(label, xy[:, 0]) / count, np.bincount(label, xy[:, 1]) / count]
    )
    frame = pd.DataFrame({"address": [m[4] for m in members]})
    if "address" not in columns:
        frame = frame.drop(columns="address")
    stations = _stations(cur, schema)
    places = lp.describe_pileups(
        frame,
        np.arange(len(members)),
        label,
        np.arange(len(flagged)),
        count,
        np.array([float(m) for _p, m in flagged]),
        centre,
        crs,
        stations,
        rule,
    )
    at_pileup = pd.Series(True, index=pd.Index([int(m[0]) for m in members], dtype="int64"))
    return lp.Pileups(places, at_pileup)


def _stations(cur: psycopg.Cursor[Any], schema: str) -> gpd.GeoDataFrame | None:
    """The stored stations, to name the pile-ups on them, or None."""
    cur.execute("SELECT to_regclass(%s)", (sql.Identifier(schema, "stations").as_string(cur),))
    row = cur.fetchone()
    if row is None or row[0] is None:
        return None
    stations = read_rows(cur, schema, "stations")
    return stations if isinstance(stations, gpd.GeoDataFrame) else None
