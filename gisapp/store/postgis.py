"""The PostGIS backend of a workspace: one schema of a PostgreSQL database.

A workspace at ``postgresql://USER@HOST:PORT/DATABASE?schema=SCHEMA`` (schema ``public``
when not given) keeps each layer as a table of that schema (see
:mod:`gisapp.store._pg_frames`: geometry in SRID 4326 with a GiST index, times as
``timestamptz``, the incidents indexed by ``occurred_at``), its metadata in
``gisapp_meta``, its layers' order and versions in ``gisapp_layers`` and its version
counter in ``gisapp_version``. ``gisapp_schema_version`` lists the migrations applied to
the schema; they run in order, each once, when a workspace is created or opened.

Saving
------
A save is **one transaction** (``BEGIN`` ... ``COMMIT``): the layers it replaces, the rows
it replaces by key (``DELETE`` of the keys, then ``COPY`` of the new rows), the layers it
drops, the metadata keys it sets and the version counter it bumps. Readers see the
content before or after it, never half of it. Savers wait for each other on a transaction
advisory lock of the schema (``pg_advisory_xact_lock``), held from a save's read of stored
rows to its commit; a save that waits longer than :data:`WRITE_TIMEOUT_S` says the
workspace is busy. A save cut off by a crash is rolled back by the server.

Counting
--------
:meth:`PostGISBackend.incident_counts` counts incidents per area on the server in one
read transaction (:func:`gisapp.store._pg_frames.count_incidents`): the period through the
index on ``occurred_at`` and the shift window on local clock times (``AT TIME ZONE``) pick
the incidents into a temporary table with a GiST index; the point-in-area join and the
``GROUP BY`` the area follow. One row per area comes back, however many incidents the
schema holds.
"""

from __future__ import annotations

import atexit
import logging
import os
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd
import psycopg
from psycopg import sql

from gisapp.errors import WorkspaceError
from gisapp.store import _pg_frames as frames_sql
from gisapp.store import backend as _backend
from gisapp.store.backend import (
    META_TABLE,
    ON_EDGE_M,
    CountQuery,
    DatabaseURL,
    Frame,
    IncidentProfile,
    Keyed,
    ProfileQuery,
    busy_error,
    counts_frame,
    frame_like,
    no_area_ids,
    no_category_field,
    no_incident_field,
    shown_location,
)
from layers.i18n import _

logger = logging.getLogger(__name__)

#: How long a save waits for another one to finish before giving up.
WRITE_TIMEOUT_S = _backend.WRITE_TIMEOUT_S
_CONNECT_TIMEOUT_S = 10

#: The schema's migrations: (version, what it does, statements with ``{schema}``).
MIGRATIONS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (
        1,
        "workspace metadata, layer list and version counter",
        (
            "CREATE TABLE {schema}.gisapp_meta (key text PRIMARY KEY, value text NOT NULL)",
            "CREATE TABLE {schema}.gisapp_layers (name text PRIMARY KEY,"
            " position integer NOT NULL, version bigint NOT NULL)",
            "CREATE TABLE {schema}.gisapp_version (id boolean PRIMARY KEY DEFAULT true"
            " CHECK (id), instance text NOT NULL, counter bigint NOT NULL,"
            " saved_at timestamptz NOT NULL)",
            "INSERT INTO {schema}.gisapp_version VALUES"
            " (true, md5(random()::text || clock_timestamp()::text), 0, now())",
        ),
    ),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]


def default_name(location: str) -> str:
    """A new PostGIS workspace's name: its schema."""
    return DatabaseURL(location).schema


def create(
    location: str, frames: Mapping[str, Frame], meta: Mapping[str, str], *, overwrite: bool
) -> None:
    """Write a new workspace into the schema of ``location``, in one transaction.

    Raises
    ------
    WorkspaceError
        If the schema holds a workspace already and ``overwrite`` is false, or the server
        cannot be reached or written.
    """
    url = DatabaseURL(location)
    with _connect(url) as con, _sql_errors(url), con.transaction(), con.cursor() as cur:
        if not _held_locks().get(_lock_key(url)):
            _lock(cur, url)
        _migrate(cur, url, create=True)
        cur.execute(sql.SQL("SELECT name FROM {}").format(_table(url, "gisapp_layers")))
        stored = [str(name) for (name,) in cur.fetchall()]
        cur.execute(sql.SQL("SELECT count(*) FROM {}").format(_table(url, META_TABLE)))
        (n_meta,) = cur.fetchone() or (0,)
        if (stored or n_meta) and not overwrite:
            raise WorkspaceError(
                _(
                    "schema %(schema)r of database %(database)r holds a workspace "
                    "already; choose another schema (?schema=NAME) or pass --force",
                    schema=url.schema,
                    database=url.database,
                )
            )
        for name in stored:
            _drop_layer(cur, url, name)
        cur.execute(sql.SQL("DELETE FROM {}").format(_table(url, META_TABLE)))
        version = _bump(cur, url)
        for name, frame in frames.items():
            _replace_layer(cur, url, name, frame, version)
        _set_meta(cur, url, list(meta.items()))
    logger.info("created workspace %s with %s layers", url.label, f"{len(frames):,}")


class PostGISBackend:
    """A workspace stored in one schema of a PostGIS database."""

    def __init__(self, url: DatabaseURL) -> None:
        self._url = url

    @classmethod
    def open(cls, location: str) -> PostGISBackend:
        """The workspace in the schema of ``location``, migrated to this version.

        Raises
        ------
        WorkspaceError
            If the server cannot be reached or the schema holds no workspace.
        """
        url = DatabaseURL(location)
        with _connect(url) as con, _sql_errors(url), con.cursor() as cur:
            cur.execute("SELECT to_regclass(%s)", (_name(url, "gisapp_schema_version"),))
            row = cur.fetchone()
            if row is None or row[0] is None:
                raise WorkspaceError(
                    _(
                        "schema %(schema)r of database %(database)r holds no "
                        "workspace; copy one in with 'gisapp copy WS.gpkg %(location)s'",
                        schema=url.schema,
                        database=url.database,
                        location=shown_location(location),
                    )
                )
            if _schema_version(cur, url) != SCHEMA_VERSION:
                with con.transaction():
                    _lock(cur, url)
                    _migrate(cur, url, create=False)
        return cls(url)

    @property
    def location(self) -> str:
        return self._url.location

    @property
    def label(self) -> str:
        return self._url.label

    @property
    def default_name(self) -> str:
        return self._url.schema

    @property
    def path(self) -> Path | None:
        return None

    def stamp(self) -> str:
        """The schema's instance and its version counter, bumped by every save."""
        try:
            with _reader(self._url) as cur:
                cur.execute(
                    sql.SQL("SELECT instance, counter FROM {}").format(
                        _table(self._url, "gisapp_version")
                    )
                )
                row = cur.fetchone()
        except WorkspaceError:
            return "missing"
        return "missing" if row is None else f"{row[0]}-{row[1]}"

    def read_state(self) -> tuple[dict[str, str], list[str]]:
        with _reader(self._url) as cur, cur.connection.transaction():
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            return _state(cur, self._url)

    def modified(self) -> pd.Timestamp:
        with _reader(self._url) as cur:
            cur.execute(
                sql.SQL("SELECT saved_at FROM {}").format(_table(self._url, "gisapp_version"))
            )
            row = cur.fetchone()
        return pd.Timestamp(row[0] if row else 0).tz_convert("UTC")

    def read_layer(self, name: str) -> Frame:
        with _reader(self._url) as cur:
            return frames_sql.read_rows(cur, self._url.schema, name)

    def layer_version(self, name: str) -> str:
        """The schema's instance, the layer and the save that last wrote it."""
        with _reader(self._url) as cur:
            cur.execute(
                sql.SQL("SELECT l.version, v.instance FROM {} l, {} v WHERE l.name = %s").format(
                    _table(self._url, "gisapp_layers"), _table(self._url, "gisapp_version")
                ),
                (name,),
            )
            row = cur.fetchone()
        return "" if row is None else f"{row[1]}-{name}-{row[0]}"

    @contextmanager
    def write_lock(self) -> Iterator[None]:
        """The schema's advisory lock, held by a transaction open for the block."""
        held = _held_locks()
        key = _lock_key(self._url)
        if held.get(key, 0):
            held[key] += 1
            try:
                yield
            finally:
                held[key] -= 1
            return
        with _connect(self._url) as con, _sql_errors(self._url), con.transaction():
            with con.cursor() as cur:
                _lock(cur, self._url)
            held[key] = 1
            try:
                yield
            finally:
                held[key] = 0

    def save(
        self,
        frames: Mapping[str, Frame],
        *,
        meta_pairs: list[tuple[str, str]],
        drop: set[str],
        keyed: Keyed,
    ) -> None:
        """The changes of one save in one transaction; the caller holds :meth:`write_lock`."""
        url = self._url
        with _connect(url) as con, _sql_errors(url), con.transaction(), con.cursor() as cur:
            cur.execute(sql.SQL("SELECT name FROM {}").format(_table(url, "gisapp_layers")))
            stored = {str(name) for (name,) in cur.fetchall()}
            version = _bump(cur, url)
            for name in sorted(drop & stored):
                _drop_layer(cur, url, name)
            for name, frame in frames.items():
                if name in keyed and name in stored:
                    _replace_rows(cur, url, name, frame, keyed[name], version)
                else:
                    _replace_layer(cur, url, name, frame, version)
                logger.debug("wrote layer %s", name)
            _set_meta(cur, url, meta_pairs)

    def incident_counts(self, query: CountQuery) -> pd.DataFrame:
        """Counted by the server in one transaction: one row per area and slice comes back."""
        with _reader(self._url) as cur, cur.connection.transaction():
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            columns = frames_sql.stored_columns(cur, self._url.schema, query.areas_layer)
            if "id" not in columns:
                raise WorkspaceError(no_area_ids(query.areas_layer))
            stored = frames_sql.stored_columns(cur, self._url.schema, "incidents")
            if query.categories is not None and "category" not in stored:
                raise WorkspaceError(no_category_field())
            for column in query.by:
                if column not in stored:
                    raise WorkspaceError(no_incident_field(column))
            ids, rows = frames_sql.count_incidents(
                cur,
                self._url.schema,
                query.areas_layer,
                slices=[(s.start_utc, s.end_utc, s.window_min) for s in query.all_slices()],
                timezone=query.timezone,
                categories=query.categories,
                by=query.by,
                exclude_rows=query.exclude_rows,
                cell=query.cell,
                tolerance_m=ON_EDGE_M,
            )
        return counts_frame(ids, rows, query)

    def incident_profile(self, query: ProfileQuery) -> IncidentProfile:
        """Looked at by the server in one transaction: only the summaries come back."""
        with _reader(self._url) as cur, cur.connection.transaction():
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            return frames_sql.profile_incidents(cur, self._url.schema, query)

    def copy_to_geopackage(self, path: Path) -> None:
        """Read every layer in one snapshot and write them as a new GeoPackage."""
        from gisapp.store import geopackage

        with _reader(self._url) as cur, cur.connection.transaction():
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            meta, names = _state(cur, self._url)
            layers = {name: frames_sql.read_rows(cur, self._url.schema, name) for name in names}
        geopackage.create(str(path), layers, meta, overwrite=True)

    def open_geopackage(self) -> BinaryIO:
        """A GeoPackage copy written into a temporary folder, open, its name removed."""
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "workspace.gpkg"
            self.copy_to_geopackage(path)
            return path.open("rb")


def _lock_key(url: DatabaseURL) -> str:
    return url.conninfo + "#" + url.schema


def _held_locks() -> dict[str, int]:
    """The write locks this thread holds, by schema, with their depth."""
    held: dict[str, int] | None = getattr(_THREAD, "held", None)
    if held is None:
        held = {}
        _THREAD.held = held
    return held


_THREAD = threading.local()
_READERS: dict[str, tuple[threading.Lock, list[psycopg.Connection[Any]]]] = {}
_READERS_LOCK = threading.Lock()


def _forget_after_fork() -> None:
    """In a forked child: leave the parent's connections and locks alone, make new ones.

    A connection must not be used by two processes; psycopg does not end the parent's
    session when the child drops its copy, so the child just stops using them.
    """
    global _READERS, _READERS_LOCK
    _READERS = {}
    _READERS_LOCK = threading.Lock()
    _THREAD.held = {}


os.register_at_fork(after_in_child=_forget_after_fork)


@atexit.register
def _close_readers() -> None:
    """Close this process's reading connections (the server ends their sessions)."""
    with _READERS_LOCK:
        for _, slot in _READERS.values():
            for con in slot:
                con.close()
            slot.clear()


def _connect(url: DatabaseURL) -> psycopg.Connection[Any]:
    """A new connection to the workspace's server (times in UTC).

    Raises
    ------
    WorkspaceError
        If the server cannot be reached or refuses the login.
    """
    try:
        return psycopg.connect(
            url.conninfo,
            autocommit=True,
            connect_timeout=_CONNECT_TIMEOUT_S,
            options="-c TimeZone=UTC",
            application_name="gisapp",
        )
    except psycopg.OperationalError as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        reason = lines[-1] if lines else _("no answer")
        raise WorkspaceError(
            _(
                "cannot connect to database %(database)r on %(host)s:%(port)s "
                "(%(reason)s); check the workspace URL and that the server is running",
                database=url.database,
                host=url.host,
                port=url.port,
                reason=reason,
            )
        ) from None


@contextmanager
def _reader(url: DatabaseURL) -> Iterator[psycopg.Cursor[Any]]:
    """A cursor on this process's shared reading connection to the server."""
    with _READERS_LOCK:
        gate, slot = _READERS.setdefault(url.conninfo, (threading.Lock(), []))
    with gate, _sql_errors(url):
        if not slot or slot[0].closed or slot[0].broken:
            slot[:] = [_connect(url)]
        con = slot[0]
        try:
            with con.cursor() as cur:
                yield cur
        except psycopg.OperationalError:
            con.close()
            raise


@contextmanager
def _sql_errors(url: DatabaseURL) -> Iterator[None]:
    """The server's errors in the user's words."""
    try:
        yield
    except psycopg.errors.LockNotAvailable:
        raise busy_error(url.label, WRITE_TIMEOUT_S) from None
    except psycopg.errors.InsufficientPrivilege as exc:
        raise WorkspaceError(
            _(
                "workspace %(workspace)r cannot be written (%(error)s); ask "
                "the database's administrator for the rights to the schema",
                workspace=url.label,
                error=exc.diag.message_primary,
            )
        ) from None
    except psycopg.errors.UndefinedObject as exc:
        raise WorkspaceError(
            _(
                "database %(database)r cannot hold a workspace (%(error)s); "
                "ask its administrator to run 'CREATE EXTENSION postgis' in it",
                database=url.database,
                error=exc.diag.message_primary,
            )
        ) from None
    except psycopg.errors.DiskFull:
        raise WorkspaceError(
            _(
                "workspace %(workspace)r cannot be saved: the server's disk is full; the "
                "workspace is unchanged",
                workspace=url.label,
            )
        ) from None
    except psycopg.Error as exc:
        message = exc.diag.message_primary or str(exc)
        raise WorkspaceError(
            _(
                "workspace %(workspace)r cannot be read or saved (%(error)s); the workspace "
                "is unchanged",
                workspace=url.label,
                error=message,
            )
        ) from None


def _name(url: DatabaseURL, table: str) -> str:
    """``schema.table`` quoted, as ``to_regclass`` takes it."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in (url.schema, table))


def _table(url: DatabaseURL, table: str) -> sql.Identifier:
    return sql.Identifier(url.schema, table)


def _lock(cur: psycopg.Cursor[Any], url: DatabaseURL) -> None:
    """Take the schema's write lock for the current transaction, waiting a while."""
    cur.execute(
        sql.SQL("SET LOCAL lock_timeout = {}").format(
            sql.Literal(f"{max(1, round(WRITE_TIMEOUT_S * 1000))}ms")
        )
    )
    cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", ("gisapp:" + url.schema,))


def _migrate(cur: psycopg.Cursor[Any], url: DatabaseURL, *, create: bool) -> None:
    """Apply the migrations the schema has not had yet, in order (inside a transaction)."""
    schema = sql.Identifier(url.schema)
    if create:
        cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema))
        cur.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (version integer PRIMARY KEY,"
                " description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
            ).format(_table(url, "gisapp_schema_version"))
        )
    current = _schema_version(cur, url)
    if current > SCHEMA_VERSION:
        raise WorkspaceError(
            _(
                "workspace %(workspace)r was written by a newer gisapp (schema version "
                "%(version)s, this one knows %(known)s); upgrade gisapp to open it",
                workspace=url.label,
                version=current,
                known=SCHEMA_VERSION,
            )
        )
    for version, description, statements in MIGRATIONS:
        if version <= current:
            continue
        for statement in statements:
            cur.execute(sql.SQL(statement).format(schema=schema))
        cur.execute(
            sql.SQL("INSERT INTO {} (version, description) VALUES (%s, %s)").format(
                _table(url, "gisapp_schema_version")
            ),
            (version, description),
        )
        logger.info("workspace %s: applied schema migration %s", url.label, version)


def _schema_version(cur: psycopg.Cursor[Any], url: DatabaseURL) -> int:
    """The last migration applied to the schema."""
    cur.execute(
        sql.SQL("SELECT coalesce(max(version), 0) FROM {}").format(
            _table(url, "gisapp_schema_version")
        )
    )
    row = cur.fetchone()
    return int(row[0]) if row else 0


def _state(cur: psycopg.Cursor[Any], url: DatabaseURL) -> tuple[dict[str, str], list[str]]:
    """The metadata and the layer names in their order."""
    cur.execute(sql.SQL("SELECT key, value FROM {}").format(_table(url, META_TABLE)))
    meta = {str(k): str(v) for k, v in cur.fetchall()}
    # As a GeoPackage lists them: layers with geometry first, then tables.
    cur.execute(
        sql.SQL(
            "SELECT l.name FROM {} l ORDER BY NOT EXISTS (SELECT 1 FROM pg_attribute a"
            " WHERE a.attrelid = to_regclass(quote_ident(%s) || '.' || quote_ident(l.name))"
            " AND a.attname = %s AND NOT a.attisdropped), l.position"
        ).format(_table(url, "gisapp_layers")),
        (url.schema, frames_sql.GEOMETRY_COLUMN),
    )
    return meta, [str(name) for (name,) in cur.fetchall()]


def _bump(cur: psycopg.Cursor[Any], url: DatabaseURL) -> int:
    """Bump the version counter (this save's number); the row lock orders the saves."""
    cur.execute(
        sql.SQL("UPDATE {} SET counter = counter + 1, saved_at = now() RETURNING counter").format(
            _table(url, "gisapp_version")
        )
    )
    row = cur.fetchone()
    if row is None:
        raise WorkspaceError(
            _("workspace %(workspace)r has lost its version counter", workspace=url.label)
        )
    return int(row[0])


def _set_meta(cur: psycopg.Cursor[Any], url: DatabaseURL, pairs: list[tuple[str, str]]) -> None:
    """Set the metadata keys given, one by one (other keys stay as stored)."""
    if not pairs:
        return
    cur.executemany(
        sql.SQL(
            "INSERT INTO {} (key, value) VALUES (%s, %s)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
        ).format(_table(url, META_TABLE)),
        pairs,
    )


def _drop_layer(cur: psycopg.Cursor[Any], url: DatabaseURL, name: str) -> None:
    cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(_table(url, name)))
    cur.execute(
        sql.SQL("DELETE FROM {} WHERE name = %s").format(_table(url, "gisapp_layers")), (name,)
    )


def _replace_layer(
    cur: psycopg.Cursor[Any], url: DatabaseURL, name: str, frame: Frame, version: int
) -> None:
    """Replace layer ``name`` whole (it keeps its place in the layer order)."""
    columns = frames_sql.frame_columns(frame)
    cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(_table(url, name)))
    frames_sql.create_table(cur, url.schema, name, columns)
    frames_sql.insert_rows(cur, url.schema, name, frame)
    cur.execute(
        sql.SQL(
            "INSERT INTO {layers} (name, position, version)"
            " SELECT %s, coalesce(max(position), 0) + 1, %s FROM {layers}"
            " ON CONFLICT (name) DO UPDATE SET version = excluded.version"
        ).format(layers=_table(url, "gisapp_layers")),
        (name, version),
    )


def _replace_rows(
    cur: psycopg.Cursor[Any],
    url: DatabaseURL,
    name: str,
    frame: Frame,
    keys: tuple[str, Any],
    version: int,
) -> None:
    """Replace the rows of the given keys of layer ``name`` by ``frame``'s rows.

    As in a GeoPackage, the new rows go in place when the stored table can take them: it has
    the key column, a geometry column when the rows have one, and every column both have
    is stored with the new rows' type; columns new to the layer are added, stored columns
    the rows lack stay (without a value in the new rows). Otherwise the stored rows of
    other keys and the new rows replace the layer together.
    """
    key, values = keys
    wanted = [str(v) for v in values]
    stored = frames_sql.stored_columns(cur, url.schema, name)
    incoming = frames_sql.frame_columns(frame)
    spatial = frames_sql.GEOMETRY_COLUMN
    fits = (
        key in stored
        and (spatial in stored) == (spatial in incoming)
        and all(stored.get(column, kind) == kind for column, kind in incoming.items())
    )
    if not fits:
        logger.info("rewriting layer %s whole: its columns changed", name)
        old = frames_sql.read_rows(cur, url.schema, name)
        if key in old.columns:
            old = old[~old[key].astype(str).isin(wanted)]
        merged = pd.concat([old, frame], ignore_index=True) if len(old) else frame
        _replace_layer(cur, url, name, frame_like(merged, frame), version)
        return
    new_columns = {c: kind for c, kind in incoming.items() if c not in stored}
    if new_columns:
        frames_sql.add_columns(cur, url.schema, name, new_columns)
    cur.execute(
        sql.SQL("DELETE FROM {} WHERE {}::text = ANY(%s)").format(
            _table(url, name), sql.Identifier(key)
        ),
        (wanted,),
    )
    frames_sql.insert_rows(cur, url.schema, name, frame)
    cur.execute(
        sql.SQL("UPDATE {} SET version = %s WHERE name = %s").format(_table(url, "gisapp_layers")),
        (version, name),
    )


def is_available(location: str) -> bool:
    """Whether the server of ``location`` answers (for tools and tests)."""
    try:
        with _connect(DatabaseURL(location)):
            return True
    except WorkspaceError:
        return False


__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "WRITE_TIMEOUT_S",
    "DatabaseURL",
    "PostGISBackend",
    "create",
    "default_name",
    "is_available",
]
