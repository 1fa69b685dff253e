"""GeoPackage tables moved between SQLite databases inside one transaction.

GDAL (through pyogrio) writes each layer into a GeoPackage held in memory: an *image* of
the layer with its table, spatial index, triggers and bookkeeping rows exactly as GDAL
makes them. The functions here copy such an image into the workspace with plain SQL, so
that every change of a save happens inside one SQLite transaction of the workspace file.
"""

from __future__ import annotations

import io
import sqlite3
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyogrio
import shapely

#: GeoPackage tables that describe other tables by a ``table_name`` column.
_NOT_PER_TABLE = {"gpkg_spatial_ref_sys", "gpkg_tile_matrix_set", "gpkg_tile_matrix"}
_HEADER = struct.Struct("<2sBBi")
_ENVELOPE_DOUBLES = {0: 0, 1: 4, 2: 6, 3: 6, 4: 8}


def quoted(name: str) -> str:
    """``name`` as an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


# -- the SQL functions GDAL's spatial index triggers call --------------------------------
def _bounds(blob: Any) -> tuple[float, float, float, float] | None:
    """(minx, maxx, miny, maxy) of a GeoPackage geometry blob; None when empty or not one."""
    if not isinstance(blob, bytes) or len(blob) < _HEADER.size or blob[:2] != b"GP":
        return None
    flags = blob[3]
    if flags & 0x10:
        return None
    order = "<" if flags & 0x01 else ">"
    n_doubles = _ENVELOPE_DOUBLES.get((flags >> 1) & 0x07, 0)
    if n_doubles:
        minx, maxx, miny, maxy = struct.unpack_from(f"{order}4d", blob, 8)
        return minx, maxx, miny, maxy
    geometry = shapely.from_wkb(blob[8 + 8 * n_doubles :])
    if geometry is None or geometry.is_empty:
        return None
    x0, y0, x1, y1 = geometry.bounds
    return x0, x1, y0, y1


def _is_empty(blob: Any) -> int:
    return 1 if _bounds(blob) is None else 0


def _bound(i: int) -> Any:
    def value(blob: Any) -> float | None:
        bounds = _bounds(blob)
        return None if bounds is None else bounds[i]

    return value


def register_gpkg_functions(con: sqlite3.Connection) -> None:
    """Give ``con`` the functions GDAL's R-tree triggers call when rows are inserted."""
    con.create_function("ST_IsEmpty", 1, _is_empty, deterministic=True)
    for i, name in enumerate(("ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY")):
        con.create_function(name, 1, _bound(i), deterministic=True)


# -- layer images ----------------------------------------------------------------------

#: The schema a layer image is opened as in the connection it is copied into (an attached
#: in-memory database, gone with the connection).
IMAGE_SCHEMA = "gisapp_image"


@dataclass
class LayerImage:
    """One layer written by GDAL into a GeoPackage in memory, open for copying."""

    name: str
    con: sqlite3.Connection

    @classmethod
    def write(cls, name: str, frame: pd.DataFrame, *, spatial: bool) -> LayerImage:
        """Let GDAL write ``frame`` as layer ``name`` into a new GeoPackage in memory."""
        buffer = io.BytesIO()
        if spatial:
            pyogrio.write_dataframe(
                frame, buffer, layer=name, driver="GPKG", promote_to_multi=False
            )
        else:
            pyogrio.write_dataframe(pd.DataFrame(frame), buffer, layer=name, driver="GPKG")
        # Autocommit: an image is only read, or filled as a whole before a backup.
        con = sqlite3.connect(":memory:", isolation_level=None)
        con.deserialize(buffer.getvalue())
        register_gpkg_functions(con)
        return cls(name, con)

    def close(self) -> None:
        self.con.close()

    def columns(self) -> dict[str, str]:
        """Column name -> declared type of the layer's table."""
        return table_columns(self.con, self.name)

    def geometry_column(self) -> str | None:
        return geometry_column(self.con, self.name)

    def copy_rows(self, con: sqlite3.Connection, columns: Sequence[str]) -> None:
        """Insert the layer's rows (``columns`` of them, in feature order) into the table
        of the same name in ``con``: one SQL statement that SQLite runs from this image
        opened in ``con`` (:meth:`open_in`), no row passing through Python."""
        schema = self.open_in(con)
        names = ", ".join(quoted(c) for c in columns)
        table = quoted(self.name)
        con.execute(
            f"INSERT INTO main.{table} ({names}) SELECT {names} FROM {schema}.{table} ORDER BY fid"
        )

    def open_in(self, con: sqlite3.Connection) -> str:
        """Open a copy of this image in ``con`` as the schema :data:`IMAGE_SCHEMA` (in
        place of the image opened there before), inside or outside a transaction."""
        if IMAGE_SCHEMA not in {str(row[1]) for row in con.execute("PRAGMA database_list")}:
            con.execute(f"ATTACH DATABASE ':memory:' AS {IMAGE_SCHEMA}")
        con.deserialize(self.con.serialize(), name=IMAGE_SCHEMA)
        return IMAGE_SCHEMA

    def schema_sql(self, kind: str) -> list[str]:
        """CREATE statements of the given kind (table, index, trigger) belonging to the layer."""
        found = self.con.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = ? AND tbl_name = ? AND sql NOT NULL"
            " ORDER BY rowid",
            (kind, self.name),
        ).fetchall()
        return [str(sql) for _, sql in found]

    def rtree_tables(self) -> list[tuple[str, str]]:
        """(name, CREATE VIRTUAL TABLE sql) of the layer's spatial index."""
        found = self.con.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name LIKE ? "
            "AND sql LIKE 'CREATE VIRTUAL TABLE%'",
            (f"rtree_{self.name}_%",),
        ).fetchall()
        return [(str(n), str(s)) for n, s in found]


def table_columns(con: sqlite3.Connection, table: str) -> dict[str, str]:
    """Column name -> declared type (upper case) of ``table``; empty when it is absent."""
    found = con.execute(f"PRAGMA table_info({quoted(table)})").fetchall()
    return {str(row[1]): str(row[2]).upper() for row in found}


def geometry_column(con: sqlite3.Connection, table: str) -> str | None:
    if not has_table(con, "gpkg_geometry_columns"):
        return None
    row = con.execute(
        "SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?", (table,)
    ).fetchone()
    return None if row is None else str(row[0])


def has_table(con: sqlite3.Connection, name: str) -> bool:
    row = con.execute(
        "SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?", (name,)
    ).fetchone()
    return row is not None


def _bookkeeping_tables(con: sqlite3.Connection) -> list[str]:
    names = con.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'gpkg%' ORDER BY rowid"
    ).fetchall()
    return [
        str(n)
        for (n,) in names
        if n not in _NOT_PER_TABLE and "table_name" in table_columns(con, str(n))
    ]


# -- changes inside the workspace's transaction ---------------------------------------
def drop_table(con: sqlite3.Connection, name: str) -> None:
    """Drop a layer with its spatial index, triggers and bookkeeping rows."""
    for (trigger,) in con.execute(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", (name,)
    ).fetchall():
        con.execute(f"DROP TRIGGER IF EXISTS {quoted(str(trigger))}")
    for (rtree,) in con.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE ? "
        "AND sql LIKE 'CREATE VIRTUAL TABLE%'",
        (f"rtree_{name}_%",),
    ).fetchall():
        con.execute(f"DROP TABLE IF EXISTS {quoted(str(rtree))}")
    con.execute(f"DROP TABLE IF EXISTS {quoted(name)}")
    for table in _bookkeeping_tables(con):
        con.execute(f"DELETE FROM {quoted(table)} WHERE lower(table_name) = lower(?)", (name,))


def replace_table(con: sqlite3.Connection, image: LayerImage) -> None:
    """Put the layer of ``image`` in place of the table of the same name in ``con``."""
    name = image.name
    drop_table(con, name)
    for sql in image.schema_sql("table"):
        con.execute(sql)
    image.copy_rows(con, list(image.columns()))
    for rtree_name, sql in image.rtree_tables():
        con.execute(sql)
        rtree = quoted(rtree_name)
        con.execute(f"INSERT INTO main.{rtree} SELECT * FROM {IMAGE_SCHEMA}.{rtree}")
    for sql in image.schema_sql("index"):
        con.execute(sql)
    _copy_bookkeeping(con, image)
    for sql in image.schema_sql("trigger"):
        con.execute(sql)


def _copy_bookkeeping(con: sqlite3.Connection, image: LayerImage) -> None:
    srs_ids = image.con.execute(
        "SELECT srs_id FROM gpkg_contents WHERE table_name = ? AND srs_id NOT NULL", (image.name,)
    ).fetchall()
    for (srs_id,) in srs_ids:
        row = image.con.execute(
            "SELECT * FROM gpkg_spatial_ref_sys WHERE srs_id = ?", (srs_id,)
        ).fetchone()
        if row is not None:
            marks = ", ".join("?" for _ in row)
            con.execute(f"INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES ({marks})", row)
    for table in _bookkeeping_tables(image.con):
        rows = image.con.execute(
            f"SELECT * FROM {quoted(table)} WHERE table_name = ?", (image.name,)
        ).fetchall()
        if not rows:
            continue
        if not has_table(con, table):
            (sql,) = image.con.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
            ).fetchone()
            con.execute(str(sql))
        columns = list(table_columns(image.con, table))
        names = ", ".join(quoted(c) for c in columns)
        marks = ", ".join("?" for _ in columns)
        con.executemany(f"INSERT OR REPLACE INTO {quoted(table)} ({names}) VALUES ({marks})", rows)


def append_conflicts(con: sqlite3.Connection, image: LayerImage, key: str) -> list[str]:
    """Why the rows of ``image`` cannot be added in place to the table in ``con``.

    Empty when they can: the table exists, has the ``key`` column and the same geometry
    column, and every column both have is declared with the same type.
    """
    stored = table_columns(con, image.name)
    if not stored:
        return [f"no table {image.name!r}"]
    problems = [] if key in stored else [f"no column {key!r}"]
    if geometry_column(con, image.name) != image.geometry_column():
        problems.append("another geometry column")
    for column, declared in image.columns().items():
        if column in stored and stored[column] != declared:
            problems.append(f"column {column!r} is {stored[column]}, not {declared}")
    return problems


def append_rows(
    con: sqlite3.Connection, image: LayerImage, key: str, values: Iterable[str]
) -> None:
    """Replace the rows of ``con``'s table whose ``key`` is one of ``values`` by the image's.

    Call only when :func:`append_conflicts` found nothing. Columns new to the table are
    added; the spatial index and feature count follow through GDAL's triggers.
    """
    name = image.name
    stored = table_columns(con, name)
    incoming = image.columns()
    for column, declared in incoming.items():
        if column not in stored:
            con.execute(f"ALTER TABLE {quoted(name)} ADD COLUMN {quoted(column)} {declared}")
    con.executemany(
        f"DELETE FROM {quoted(name)} WHERE {quoted(key)} = ?", [(str(v),) for v in values]
    )
    image.copy_rows(con, [c for c in incoming if c != "fid"])
    _refresh_contents(con, image)


def _refresh_contents(con: sqlite3.Connection, image: LayerImage) -> None:
    """Widen the layer's extent and geometry type to cover the new rows."""
    name = image.name
    con.execute(
        "UPDATE gpkg_contents SET last_change = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
        "WHERE table_name = ?",
        (name,),
    )
    mine = image.con.execute(
        "SELECT min_x, min_y, max_x, max_y FROM gpkg_contents WHERE table_name = ?", (name,)
    ).fetchone()
    if mine is not None and None not in mine:
        con.execute(
            "UPDATE gpkg_contents SET min_x = min(coalesce(min_x, ?1), ?1), "
            "min_y = min(coalesce(min_y, ?2), ?2), max_x = max(coalesce(max_x, ?3), ?3), "
            "max_y = max(coalesce(max_y, ?4), ?4) WHERE table_name = ?5",
            (*mine, name),
        )
    if not has_table(con, "gpkg_geometry_columns"):
        return
    new_type = image.con.execute(
        "SELECT geometry_type_name FROM gpkg_geometry_columns WHERE table_name = ?", (name,)
    ).fetchone()
    if new_type is not None:
        con.execute(
            "UPDATE gpkg_geometry_columns SET geometry_type_name = 'GEOMETRY' "
            "WHERE table_name = ? AND geometry_type_name != ?",
            (name, new_type[0]),
        )


def upsert_rows(con: sqlite3.Connection, table: str, pairs: Iterable[tuple[str, str]]) -> None:
    """Set ``value`` of each ``key`` in a key/value table such as the workspace metadata."""
    for key, value in pairs:
        con.execute(f"DELETE FROM {quoted(table)} WHERE key = ?", (key,))
        con.execute(f"INSERT INTO {quoted(table)} (key, value) VALUES (?, ?)", (key, value))
