"""The GeoPackage backend of a workspace: one file holding the layers and every saved result.

A workspace opens in QGIS as it is. Spatial layers are stored in EPSG:4326, incident
times in UTC; the table ``gisapp_meta`` records the workspace's name, time zone and where
each layer came from (``layer_notes``: real, derived or generated).

Saving
------
A save changes the GeoPackage in place, in **one SQLite transaction**: the layers it
replaces, the rows it adds or replaces by key (a saved plan's rows in every plan table and
its index row), the layers it drops and the metadata keys it sets. GDAL (pyogrio) first
writes each new layer into a GeoPackage in memory; the transaction then copies those tables
into the workspace with plain SQL. So:

- another program reading the workspace sees the content before the save or after it,
  never half of it (never half a plan);
- two saves at the same time, from any processes, run one after the other and both keep
  their work: a transaction starts with ``BEGIN IMMEDIATE`` (SQLite's write lock, waited
  for up to a minute), and a save that merges rows into what is stored holds an exclusive
  ``flock`` on the workspace file from its read to its commit;
- metadata keys are set one by one, so a save never writes back metadata it read earlier;
- a crash or ``kill -9`` during a save leaves the previous content: SQLite's rollback
  journal (``WS.gpkg-journal``, present only while a save runs) is rolled back and removed
  by the next open. No copy of the workspace is ever made beside it.

The workspace keeps SQLite's rollback journal rather than WAL: a GeoPackage must stay one
file that QGIS, GDAL and a download open as they are, and WAL would leave ``-wal`` and
``-shm`` files beside it. Write transactions are short (the layers are prepared before it
starts), so readers in other processes wait at most for a commit; GDAL retries a locked
file for a few seconds. A workspace that QGIS left in WAL mode is written in that mode and
left as it was. The locks assume the workspace is on a local disk, as SQLite's do.

Inside one process, GDAL's SQLite and Python's ``sqlite3`` must not close the file while
the other holds a lock on it (POSIX drops a process's locks on any close); see
:mod:`gisapp.store._locks`.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import sqlite3
import tempfile
import warnings
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import geopandas as gpd
import pandas as pd
import pyogrio

from gisapp.errors import WorkspaceError
from gisapp.store import backend as _backend
from gisapp.store._gpkg_sql import (
    LayerImage,
    append_conflicts,
    append_rows,
    drop_table,
    geometry_column,
    has_table,
    quoted,
    register_gpkg_functions,
    replace_table,
    table_columns,
    upsert_rows,
)
from gisapp.store._locks import file_gate, write_lock
from gisapp.store.backend import (
    META_TABLE,
    CountQuery,
    Frame,
    IncidentProfile,
    Keyed,
    ProfileQuery,
    busy_error,
    count_in_areas,
    frame_like,
    profile,
    storable,
)
from gisapp.store.workspace import Workspace
from layers.i18n import _
from layers.schema import STORAGE_CRS

__all__ = ["META_TABLE", "WRITE_TIMEOUT_S", "Frame", "GeoPackageBackend", "Workspace"]

logger = logging.getLogger(__name__)

_GPKG_MAGIC = b"SQLite format 3\x00"
_JOURNAL_MAGIC = bytes.fromhex("d9d505f920a163d7")
#: How long a save waits for another one to finish before giving up.
WRITE_TIMEOUT_S = _backend.WRITE_TIMEOUT_S


def _header(path: Path, size: int = 100) -> bytes:
    """The first bytes of the file (SQLite's header), read while no connection holds a lock."""
    with file_gate(path).exclusive():
        try:
            with path.open("rb") as fh:
                return fh.read(size)
        except OSError:
            return b""


def _is_geopackage(path: Path) -> bool:
    return _header(path, 16) == _GPKG_MAGIC


@contextmanager
def _quiet_gdal() -> Any:
    # GDAL notes on conformant-but-unusual content are not the user's problem.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


@contextmanager
def _gdal_reading(path: Path) -> Iterator[None]:
    """Read through GDAL: quietly, and never while Python's sqlite3 holds the file."""
    with file_gate(path).shared(), _quiet_gdal():
        yield


def _file_stamp(path: Path) -> str:
    """mtime, size and SQLite's change counter (bumped by every commit), and the WAL's."""
    try:
        stat = path.stat()
    except OSError:
        return "missing"
    counter = _header(path, 28)[24:28].hex()
    stamp = f"{stat.st_mtime_ns}-{stat.st_size}-{counter}"
    wal = path.with_name(path.name + "-wal")
    if wal.exists():
        wal_stat = wal.stat()
        stamp += f"-{wal_stat.st_mtime_ns}-{wal_stat.st_size}"
    return stamp


def default_name(location: str) -> str:
    """A new GeoPackage workspace's name: its file name without the extension."""
    return Path(location).stem


def create(
    location: str, frames: Mapping[str, Frame], meta: Mapping[str, str], *, overwrite: bool
) -> None:
    """Write a new GeoPackage workspace from storable layers and its full metadata.

    Raises
    ------
    WorkspaceError
        If the file exists and ``overwrite`` is false.
    """
    ws_path = Path(location)
    exists = ws_path.exists() and ws_path.stat().st_size > 0
    if exists and not overwrite:
        raise WorkspaceError(
            _(
                "%(path)r already exists; choose another --out or pass --force",
                path=str(ws_path),
            )
        )
    meta_image = _meta_image(meta)
    images = _layer_images(frames, None)
    try:
        for image in images.values():
            with _sql_errors(ws_path):
                replace_table(meta_image.con, image)
        ws_path.parent.mkdir(parents=True, exist_ok=True)
        lock = write_lock(ws_path, timeout_s=WRITE_TIMEOUT_S) if exists else _no_lock()
        with lock as taken:
            if not taken:
                raise _busy_error(ws_path)
            _backup(meta_image.con, ws_path)
    finally:
        for image in [meta_image, *images.values()]:
            image.close()


class GeoPackageBackend:
    """A workspace stored in one GeoPackage file (see the module's notes on saving)."""

    def __init__(self, path: Path) -> None:
        self._path = path

    @classmethod
    def open(cls, ws_path: Path) -> GeoPackageBackend:
        """The workspace GeoPackage at ``ws_path``, after undoing a cut-off save.

        Raises
        ------
        WorkspaceError
            If the file is missing, not a GeoPackage, or damaged.
        """
        if not ws_path.exists():
            raise WorkspaceError(
                _(
                    "workspace %(path)r does not exist; create one with "
                    "'gisapp import SRC... --out WS.gpkg'",
                    path=str(ws_path),
                )
            )
        if ws_path.is_dir():
            raise WorkspaceError(
                _(
                    "workspace %(path)r is a folder; import its files first with "
                    "'gisapp import %(folder)s/* --out WS.gpkg'",
                    path=str(ws_path),
                    folder=ws_path,
                )
            )
        if ws_path.stat().st_size == 0:
            raise WorkspaceError(
                _(
                    "workspace %(path)r is empty (an import was interrupted); import "
                    "again with 'gisapp import SRC... --out %(out)s'",
                    path=str(ws_path),
                    out=ws_path,
                )
            )
        if not _is_geopackage(ws_path):
            raise WorkspaceError(
                _(
                    "workspace %(path)r is not a GeoPackage (.gpkg); "
                    "import other formats with 'gisapp import'",
                    path=str(ws_path),
                )
            )
        _recover(ws_path)
        return cls(ws_path)

    @property
    def location(self) -> str:
        return str(self._path)

    @property
    def label(self) -> str:
        return self._path.name

    @property
    def default_name(self) -> str:
        return self._path.stem

    @property
    def path(self) -> Path | None:
        return self._path

    def stamp(self) -> str:
        """The file's time, size and SQLite's change counter, which every commit bumps."""
        return _file_stamp(self._path)

    def read_state(self) -> tuple[dict[str, str], list[str]]:
        return _read_state(self._path)

    def modified(self) -> pd.Timestamp:
        return pd.Timestamp(self._path.stat().st_mtime, unit="s", tz="UTC")

    def read_layer(self, name: str) -> Frame:
        with _gdal_reading(self._path):
            frame = pyogrio.read_dataframe(self._path, layer=name)
        if isinstance(frame, gpd.GeoDataFrame) and frame.crs is None:
            frame = frame.set_crs(STORAGE_CRS)
        return frame

    def copy_to_geopackage(self, path: Path) -> None:
        """Copy the file through SQLite's backup, one consistent version."""
        snapshot = sqlite3.connect(":memory:")
        try:
            _backup_from(self._path, snapshot)
            _backup(snapshot, path)
        finally:
            snapshot.close()

    def open_geopackage(self) -> BinaryIO:
        """The file's bytes copied inside one read transaction (no save can commit meanwhile)."""
        out = tempfile.TemporaryFile()  # noqa: SIM115 - returned open to the caller
        try:
            with _connection(self._path) as con:
                con.execute("BEGIN")
                con.execute("SELECT count(*) FROM sqlite_master").fetchone()
                (mode,) = con.execute("PRAGMA journal_mode").fetchone()
                if str(mode).lower() == "wal":
                    # Recent commits may still be in the -wal file: let SQLite copy.
                    con.execute("ROLLBACK")
                    _backup_into_file(con, out)
                else:
                    with self._path.open("rb") as source:
                        shutil.copyfileobj(source, out)
                    con.execute("ROLLBACK")
        except BaseException:
            out.close()
            raise
        out.seek(0)
        return out

    def incident_counts(self, query: CountQuery) -> pd.DataFrame:
        """Read the incidents of the slices (times, points, fields counted by) and count here.

        The slices' span is pushed into GDAL's read as a text comparison on the stored ISO
        times, a day wider on each side (stored times may be written with or without
        fractions); the exact slices, windows and categories are applied on the rows read.
        """
        wanted = ["occurred_at", *query.by]
        if query.categories is not None:
            wanted.append("category")
        with _gdal_reading(self._path):
            stored = {f.lower() for f in pyogrio.read_info(self._path, layer="incidents")["fields"]}
        columns = list(
            dict.fromkeys(c for c in wanted if c.lower() in stored or c == "occurred_at")
        )
        bounds = []
        start_utc, end_utc = query.span_utc()
        if start_utc is not None:
            since = start_utc - pd.Timedelta(days=1)
            bounds.append(f"occurred_at >= '{since:%Y-%m-%dT%H:%M:%S}'")
        if end_utc is not None:
            until = end_utc + pd.Timedelta(days=1)
            bounds.append(f"occurred_at < '{until:%Y-%m-%dT%H:%M:%S}'")
        with _gdal_reading(self._path):
            incidents = pyogrio.read_dataframe(
                self._path,
                layer="incidents",
                columns=columns,
                where=" AND ".join(bounds) or None,
                fid_as_index=True,
            )
            areas = pyogrio.read_dataframe(self._path, layer=query.areas_layer, columns=["id"])
        for frame in (incidents, areas):
            if isinstance(frame, gpd.GeoDataFrame) and frame.crs is None:
                frame.set_crs(STORAGE_CRS, inplace=True)
        return count_in_areas(incidents, areas, query)

    def incident_profile(self, query: ProfileQuery) -> IncidentProfile:
        """Read the incidents (and stations) and look at them here."""
        with _gdal_reading(self._path):
            incidents = pyogrio.read_dataframe(self._path, layer="incidents", fid_as_index=True)
        if incidents.crs is None:
            incidents.set_crs(STORAGE_CRS, inplace=True)
        stations = None
        if _has_stored_table(self._path, "stations"):
            layer = self.read_layer("stations")
            stations = layer if isinstance(layer, gpd.GeoDataFrame) else None
        return profile(incidents, stations, query)

    def layer_version(self, name: str) -> str:
        """Geometries hashed exactly; other columns through per-column totals and lengths."""
        digest = hashlib.sha256()
        with _connection(self._path) as con:
            if not has_table(con, name):
                return ""
            columns = [quoted(c) for c in table_columns(con, name)]
            sums = ", ".join(f"total(length({c})), total({c})" for c in columns)
            totals = con.execute(f"SELECT count(*), {sums} FROM {quoted(name)}").fetchone()
            digest.update(repr(totals).encode())
            if has_table(con, "gpkg_contents"):
                contents = con.execute(
                    "SELECT * FROM gpkg_contents WHERE table_name = ?", (name,)
                ).fetchone()
                digest.update(repr(contents).encode())
            geometry = geometry_column(con, name)
            if geometry is not None:
                rows = con.execute(f"SELECT {quoted(geometry)} FROM {quoted(name)} ORDER BY rowid")
                for (blob,) in rows:
                    digest.update(blob or b"")
        return digest.hexdigest()

    @contextmanager
    def write_lock(self) -> Iterator[None]:
        """An exclusive ``flock`` on the file, re-entrant in this thread."""
        with write_lock(self._path, timeout_s=WRITE_TIMEOUT_S) as taken:
            if not taken:
                raise _busy_error(self._path)
            yield

    def save(
        self,
        frames: Mapping[str, Frame],
        *,
        meta_pairs: list[tuple[str, str]],
        drop: set[str],
        keyed: Keyed,
    ) -> None:
        """GDAL's images of the layers, copied in by one SQLite transaction."""
        images = self._images_to_write(frames, keyed)
        try:
            with _transaction(self._path) as con:
                _apply(con, images, keyed, drop, meta_pairs)
        finally:
            for image, _ in images.values():
                image.close()

    def _images_to_write(
        self, frames: Mapping[str, Frame], keyed: Keyed
    ) -> dict[str, tuple[LayerImage, bool]]:
        """GDAL's images of the layers, each with whether its rows go in by key.

        A keyed layer whose stored table cannot take the new rows as they are (another
        column type, an old layout) is merged here with its stored rows and replaced.
        """
        images = _layer_images(frames, None)
        out: dict[str, tuple[LayerImage, bool]] = {}
        for name, image in images.items():
            if name not in keyed:
                out[name] = (image, False)
                continue
            key, values = keyed[name]
            with _connection(self._path) as con:
                problems = append_conflicts(con, image, key)
            if not problems:
                out[name] = (image, True)
                continue
            if _has_stored_table(self._path, name):
                logger.info("rewriting layer %s whole: %s", name, "; ".join(problems))
                stored = self.read_layer(name)
                new = frames[name]
                if key in stored.columns:
                    stored = stored[~stored[key].astype(str).isin([str(v) for v in values])]
                merged = pd.concat([stored, new], ignore_index=True) if len(stored) else new
                image.close()
                image = _layer_images({name: frame_like(merged, new)}, None)[name]
            out[name] = (image, False)
        return out


def _has_stored_table(path: Path, name: str) -> bool:
    """Whether the workspace file at ``path`` has the table ``name`` now."""
    with _connection(path) as con:
        return has_table(con, name)


def _recover(path: Path) -> None:
    """Undo a save that was cut off, and remove the journal it left.

    A journal whose header SQLite had finalised is *hot*: the first read rolls it back
    and deletes it. A save killed before that point had not touched the workspace yet;
    its journal has a blank header and SQLite would leave it lying beside the file, so it
    is removed here while holding the write lock (so it cannot be a live save's journal).
    """
    journal = path.with_name(path.name + "-journal")
    with _connection(path) as con:
        con.execute("SELECT count(*) FROM sqlite_master").fetchone()
        if not journal.exists() or _journal_is_hot(journal):
            return
        con.execute("PRAGMA busy_timeout = 0")
        try:
            con.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            return  # a save is running (the journal is its own), or the file is read-only
        try:
            if journal.exists() and not _journal_is_hot(journal):
                journal.unlink(missing_ok=True)
                logger.info("removed the journal of an interrupted save beside %s", path.name)
        finally:
            con.execute("ROLLBACK")


def _journal_is_hot(journal: Path) -> bool:
    """Whether a rollback journal holds changes to undo (it starts with SQLite's magic)."""
    try:
        with journal.open("rb") as fh:
            return fh.read(8) == _JOURNAL_MAGIC
    except OSError:
        return False


def _read_state(path: Path) -> tuple[dict[str, str], list[str]]:
    """The metadata and layer names stored in the workspace now."""
    try:
        with _gdal_reading(path):
            names = [str(name) for name, _ in pyogrio.list_layers(path)]
            table = pyogrio.read_dataframe(path, layer=META_TABLE) if META_TABLE in names else None
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise WorkspaceError(
            _(
                "workspace %(workspace)r cannot be read (%(error)s); it may be truncated or "
                "damaged: restore it from a backup",
                workspace=str(path),
                error=exc,
            )
        ) from None
    meta: dict[str, str] = {}
    if table is not None:
        meta = {
            str(k): "" if pd.isna(v) else str(v)
            for k, v in zip(table["key"], table["value"], strict=True)
        }
    return meta, [n for n in names if n != META_TABLE]


def _busy_error(path: Path) -> WorkspaceError:
    return busy_error(path.name, WRITE_TIMEOUT_S)


@contextmanager
def _sql_errors(path: Path) -> Iterator[None]:
    """SQLite's errors in the user's words."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        text = str(exc).lower()
        if "locked" in text or "busy" in text:
            raise _busy_error(path) from None
        if "readonly" in text or "read-only" in text:
            raise WorkspaceError(
                _(
                    "workspace %(workspace)r cannot be written: it is read-only; check the "
                    "file's permissions or copy it somewhere you can write",
                    workspace=path.name,
                )
            ) from None
        if "disk" in text and "full" in text:
            raise WorkspaceError(
                _(
                    "workspace %(workspace)r cannot be saved: the disk is full; free some "
                    "space and save again (the workspace is unchanged)",
                    workspace=path.name,
                )
            ) from None
        raise WorkspaceError(
            _(
                "workspace %(workspace)r cannot be saved (%(error)s); the workspace is unchanged",
                workspace=path.name,
                error=exc,
            )
        ) from None
    except sqlite3.DatabaseError as exc:
        raise WorkspaceError(
            _(
                "workspace %(workspace)r cannot be read (%(error)s); it may be truncated or "
                "damaged: restore it from a backup",
                workspace=path.name,
                error=exc,
            )
        ) from None


@contextmanager
def _connection(path: Path) -> Iterator[sqlite3.Connection]:
    """A short Python ``sqlite3`` connection to the workspace, alone in this process."""
    with file_gate(path).exclusive(), _sql_errors(path):
        con = sqlite3.connect(path, timeout=WRITE_TIMEOUT_S, isolation_level=None)
        try:
            yield con
        finally:
            con.close()


@contextmanager
def _transaction(path: Path) -> Iterator[sqlite3.Connection]:
    """One write transaction on the workspace: all of it is committed, or none."""
    with _connection(path) as con:
        register_gpkg_functions(con)
        # Big layers stay in memory until the commit instead of spilling into the file
        # early, which would keep readers out for longer.
        con.execute("PRAGMA cache_size = -65536")
        con.execute("BEGIN IMMEDIATE")
        try:
            yield con
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")


@contextmanager
def _no_lock() -> Iterator[bool]:
    yield True


def _backup_from(path: Path, target: sqlite3.Connection) -> None:
    """Copy the workspace at ``path`` into ``target`` in one read transaction."""
    with _connection(path) as con:
        con.backup(target)


def _backup_into_file(con: sqlite3.Connection, out: BinaryIO) -> None:
    """Write a consistent copy of ``con``'s database into the open file ``out``."""
    snapshot = sqlite3.connect(":memory:")
    try:
        con.backup(snapshot)
        out.write(snapshot.serialize())
    finally:
        snapshot.close()


def _backup(source: sqlite3.Connection, path: Path) -> None:
    """Replace the content of the file at ``path`` by ``source``, in one transaction."""
    with _connection(path) as con:
        source.backup(con)


def _apply(
    con: sqlite3.Connection,
    images: Mapping[str, tuple[LayerImage, bool]],
    keyed: Mapping[str, tuple[str, Collection[str]]],
    drop: set[str],
    meta_pairs: list[tuple[str, str]],
) -> None:
    """The changes of one save, inside its transaction."""
    for name in sorted(drop):
        drop_table(con, name)
    for name, (image, by_key) in images.items():
        if by_key:
            key, values = keyed[name]
            if append_conflicts(con, image, key):
                raise WorkspaceError(
                    _(
                        "layer %(layer)r was changed by another program during the save; "
                        "save again",
                        layer=name,
                    )
                )
            append_rows(con, image, key, values)
        else:
            replace_table(con, image)
        logger.debug("wrote layer %s", name)
    if meta_pairs:
        if not has_table(con, META_TABLE):
            meta_image = _meta_image({})
            try:
                replace_table(con, meta_image)
            finally:
                meta_image.close()
        upsert_rows(con, META_TABLE, meta_pairs)


def _meta_image(meta: Mapping[str, str]) -> LayerImage:
    table = pd.DataFrame(
        {"key": pd.Series(list(meta), dtype=object), "value": [str(v) for v in meta.values()]}
    )
    if table.empty:
        table = pd.DataFrame({"key": pd.Series([], dtype=str), "value": pd.Series([], dtype=str)})
    with _quiet_gdal():
        return LayerImage.write(META_TABLE, table, spatial=False)


def _layer_images(layers: Mapping[str, Frame], timezone: str | None) -> dict[str, LayerImage]:
    """GDAL's images of the layers (made storable first unless ``timezone`` is None)."""
    images: dict[str, LayerImage] = {}
    try:
        for name, frame in layers.items():
            if name == META_TABLE:
                raise WorkspaceError(
                    _("%(name)r is reserved for workspace metadata", name=META_TABLE)
                )
            data = frame if timezone is None else storable(frame, timezone)
            with _quiet_gdal():
                images[name] = LayerImage.write(
                    name, data, spatial=isinstance(data, gpd.GeoDataFrame)
                )
            logger.debug("prepared layer %s (%s features)", name, f"{len(data):,}")
    except BaseException:
        for image in images.values():
            image.close()
        raise
    return images
