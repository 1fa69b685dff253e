"""The workspace: one GeoPackage holding the input layers and every saved result.

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
import json
import logging
import os
import shutil
import sqlite3
import tempfile
import warnings
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeAlias

import geopandas as gpd
import pandas as pd
import pyogrio

from gisapp.errors import WorkspaceError
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
from layers.schema import LAYERS, STORAGE_CRS

if TYPE_CHECKING:
    from layers.validate import ValidationReport

logger = logging.getLogger(__name__)

META_TABLE = "gisapp_meta"
_GPKG_MAGIC = b"SQLite format 3\x00"
_JOURNAL_MAGIC = bytes.fromhex("d9d505f920a163d7")
#: How long a save waits for another one to finish before giving up.
WRITE_TIMEOUT_S = 60.0

#: A workspace layer: a GeoDataFrame, or a DataFrame for a table such as ``units``.
Frame: TypeAlias = gpd.GeoDataFrame | pd.DataFrame


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


class Workspace:
    """An open workspace GeoPackage.

    Use :meth:`open` for an existing file and :meth:`create` to write a new one.
    Layers are read on demand and returned as fresh copies; callers may change them
    freely and :meth:`save` what they want to keep. The layer names and metadata follow
    the file: after another process saved into it they are read again.
    """

    def __init__(
        self,
        path: Path,
        meta: dict[str, str],
        layer_names: list[str],
        *,
        stamp: str | None = None,
    ) -> None:
        self.path = path
        self._meta = meta
        self._layer_names = layer_names
        # The file's stamp when ``meta`` and ``layer_names`` were read.
        self._stamp = _file_stamp(path) if stamp is None else stamp

    # -- opening and creating ---------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Workspace:
        """Open an existing workspace GeoPackage.

        Raises
        ------
        WorkspaceError
            If the file is missing, not a GeoPackage, or damaged.
        """
        ws_path = Path(path)
        if not ws_path.exists():
            raise WorkspaceError(
                f"workspace {str(ws_path)!r} does not exist; create one with "
                "'gisapp import SRC... --out WS.gpkg'"
            )
        if ws_path.is_dir():
            raise WorkspaceError(
                f"workspace {str(ws_path)!r} is a folder; import its files first with "
                f"'gisapp import {ws_path}/* --out WS.gpkg'"
            )
        if ws_path.stat().st_size == 0:
            raise WorkspaceError(
                f"workspace {str(ws_path)!r} is empty (an import was interrupted); import "
                f"again with 'gisapp import SRC... --out {ws_path}'"
            )
        if not _is_geopackage(ws_path):
            raise WorkspaceError(
                f"workspace {str(ws_path)!r} is not a GeoPackage (.gpkg); "
                "import other formats with 'gisapp import'"
            )
        _recover(ws_path)
        stamp = _file_stamp(ws_path)
        meta, layer_names = _read_state(ws_path)
        return cls(ws_path, meta, layer_names, stamp=stamp)

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        layers: Mapping[str, Frame],
        *,
        meta: Mapping[str, Any] | None = None,
        overwrite: bool = False,
    ) -> Workspace:
        """Write a new workspace from layers and metadata, atomically.

        Over an existing workspace (``overwrite``) the whole content is replaced in one
        transaction, so its readers see the old workspace or the new one.

        Raises
        ------
        WorkspaceError
            If ``path`` exists and ``overwrite`` is false.
        """
        ws_path = Path(path)
        exists = ws_path.exists() and ws_path.stat().st_size > 0
        if exists and not overwrite:
            raise WorkspaceError(
                f"{str(ws_path)!r} already exists; choose another --out or pass --force"
            )
        full_meta = {"name": ws_path.stem, "timezone": "UTC", "layer_notes": "{}"}
        full_meta.update({k: _meta_text(v) for k, v in (meta or {}).items()})
        meta_image = _meta_image(full_meta)
        images = _layer_images(layers, full_meta["timezone"])
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
        return cls.open(ws_path)

    # -- queries ------------------------------------------------------------------------
    @property
    def meta(self) -> dict[str, str]:
        """The workspace's metadata (name, time zone, layer notes, last plan KPIs...)."""
        self._follow_file()
        return self._meta

    @property
    def name(self) -> str:
        return self.meta.get("name") or self.path.stem

    @property
    def label(self) -> str:
        """How messages name the workspace to its user: the file name."""
        return self.path.name

    @property
    def location(self) -> str:
        """Where the workspace is, as a user gives it on the command line: the file path."""
        return str(self.path)

    def copy_to(self, path: str | os.PathLike[str]) -> Workspace:
        """Copy the workspace to a new GeoPackage at ``path`` and open the copy.

        The copy is one consistent version even while another process saves.
        """
        target = Path(path)
        snapshot = sqlite3.connect(":memory:")
        try:
            _backup_from(self.path, snapshot)
            _backup(snapshot, target)
        finally:
            snapshot.close()
        return Workspace.open(target)

    def open_geopackage(self) -> BinaryIO:
        """The workspace as a GeoPackage file, open for reading (for a download).

        The stream is the file's bytes copied inside one read transaction (no save can
        commit meanwhile), so it is one consistent version; the copy has no name on disk.
        """
        out = tempfile.TemporaryFile()  # noqa: SIM115 - returned open to the caller
        try:
            with _connection(self.path) as con:
                con.execute("BEGIN")
                con.execute("SELECT count(*) FROM sqlite_master").fetchone()
                (mode,) = con.execute("PRAGMA journal_mode").fetchone()
                if str(mode).lower() == "wal":
                    # Recent commits may still be in the -wal file: let SQLite copy.
                    con.execute("ROLLBACK")
                    _backup_into_file(con, out)
                else:
                    with self.path.open("rb") as source:
                        shutil.copyfileobj(source, out)
                    con.execute("ROLLBACK")
        except BaseException:
            out.close()
            raise
        out.seek(0)
        return out

    @property
    def modified(self) -> pd.Timestamp:
        """When the workspace was last written (UTC)."""
        return pd.Timestamp(self.path.stat().st_mtime, unit="s", tz="UTC")

    @property
    def version(self) -> str:
        """A stamp that changes whenever the workspace's content may have changed.

        Caches of derived data (street networks, page data) key on it. It is read from the
        file each time (its time, size and SQLite's change counter, which every committed
        save bumps), so a save by another process or an edit in QGIS is seen too.
        """
        return _file_stamp(self.path)

    def layer_version(self, name: str) -> str:
        """A stamp of the stored content of layer ``name`` alone ("" when it is not stored).

        It changes when the layer's rows change and stays when other layers, saved plans
        or metadata do, so data derived from one layer (the street network of the roads)
        outlives a plan save. Geometries are hashed exactly; the other columns through
        their per-column totals and lengths, with the row count and the layer's change time.
        """
        digest = hashlib.sha256()
        with _connection(self.path) as con:
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

    @property
    def timezone(self) -> str:
        return self.meta.get("timezone") or "UTC"

    @property
    def layer_notes(self) -> dict[str, str]:
        try:
            notes = json.loads(self.meta.get("layer_notes") or "{}")
        except json.JSONDecodeError:
            return {}
        return {str(k): str(v) for k, v in notes.items()} if isinstance(notes, dict) else {}

    def layer_names(self) -> list[str]:
        """Names of the layers present, in file order."""
        self._follow_file()
        return list(self._layer_names)

    def has_layer(self, name: str) -> bool:
        return name in self.layer_names()

    def layer(self, name: str, *, required: bool = True) -> Frame:
        """Read one layer; incident times come back in the workspace's time zone.

        Raises
        ------
        WorkspaceError
            If the layer is absent and ``required``.
        """
        if not self.has_layer(name):
            if required:
                raise WorkspaceError(
                    f"workspace {self.path.name!r} has no layer {name!r}; it has "
                    f"{', '.join(self._layer_names) or 'no layers'}. Import one with "
                    f"'gisapp import {name}=FILE --out {self.path}'"
                )
            return _empty_layer(name)
        frame = self._read_stored(name)
        if "id" in frame.columns:
            frame["id"] = frame["id"].astype("string")
        if name == "incidents" and "occurred_at" in frame.columns:
            frame["occurred_at"] = _local_times(frame["occurred_at"], self.timezone)
        return frame

    def spatial_layer(self, name: str) -> gpd.GeoDataFrame:
        """Read a layer that must have geometry.

        Raises
        ------
        WorkspaceError
            If the layer is absent or is a table without geometry.
        """
        frame = self.layer(name)
        if not isinstance(frame, gpd.GeoDataFrame):
            raise WorkspaceError(f"layer {name!r} of {self.path.name!r} has no geometry")
        return frame

    def layers(self, names: Iterable[str] | None = None) -> dict[str, Frame]:
        """Read several layers (all present data-model layers when ``names`` is None)."""
        wanted = [n for n in self.layer_names() if n in LAYERS] if names is None else list(names)
        return {n: self.layer(n) for n in wanted}

    def validate(self, *, area_tolerance: float = 0.02) -> ValidationReport:
        """Validate every data-model layer of the workspace together."""
        from layers.validate import validate_layers

        return validate_layers(self.layers(), area_tolerance=area_tolerance, timezone=self.timezone)

    # -- saving ------------------------------------------------------------------------
    @contextmanager
    def write_lock(self) -> Iterator[None]:
        """Keep other savers out, e.g. from reading stored rows to writing them back.

        Saves inside the block (by this thread) go ahead; saves from other processes and
        threads wait until it ends.

        Raises
        ------
        WorkspaceError
            If another save holds the workspace for longer than :data:`WRITE_TIMEOUT_S`.
        """
        with write_lock(self.path, timeout_s=WRITE_TIMEOUT_S) as taken:
            if not taken:
                raise _busy_error(self.path)
            yield

    def save(
        self,
        layers: Mapping[str, Frame],
        *,
        meta: Mapping[str, Any] | None = None,
        drop: Iterable[str] = (),
        keyed: Mapping[str, tuple[str, Collection[str]]] | None = None,
    ) -> None:
        """Replace or add layers, rows and metadata keys in one transaction.

        Parameters
        ----------
        layers
            Layers to write. A layer named in ``keyed`` keeps its stored rows except those
            with one of the given keys, and gets the new rows; any other layer is replaced
            whole.
        meta
            Metadata keys to set; other keys are kept as stored.
        drop
            Layers to remove.
        keyed
            Layer name -> (key column, the keys whose rows are replaced), e.g.
            ``{"plan_routes": ("plan_id", ["2014-09-18-night-s3"])}``.

        Raises
        ------
        WorkspaceError
            If a layer cannot be stored, the file cannot be written, or another save
            holds the workspace for longer than :data:`WRITE_TIMEOUT_S`.

        Notes
        -----
        Other layers are kept. A crash during the save leaves the previous content.
        """
        keyed = dict(keyed or {})
        meta_pairs = [(k, _meta_text(v)) for k, v in (meta or {}).items()]
        timezone = dict(meta_pairs).get("timezone") or self.timezone
        frames = {name: _storable(frame, timezone) for name, frame in layers.items()}
        with self.write_lock():
            images = self._images_to_write(frames, keyed)
            try:
                with _transaction(self.path) as con:
                    _apply(con, images, keyed, set(drop) - set(images), meta_pairs)
            finally:
                for image, _ in images.values():
                    image.close()
        self._reload()

    def delete_layer(self, name: str) -> None:
        """Remove layer ``name`` and its provenance note, in one transaction.

        Raises
        ------
        WorkspaceError
            If the workspace has no such layer, or it cannot be written.
        """
        if not self.has_layer(name):
            raise WorkspaceError(f"workspace {self.path.name!r} has no layer {name!r}")
        notes = {k: v for k, v in self.layer_notes.items() if k != name}
        self.save({}, meta={"layer_notes": notes}, drop=[name])

    def _images_to_write(
        self, frames: Mapping[str, Frame], keyed: Mapping[str, tuple[str, Collection[str]]]
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
            with _connection(self.path) as con:
                problems = append_conflicts(con, image, key)
            if not problems:
                out[name] = (image, True)
                continue
            if _has_stored_table(self.path, name):
                logger.info("rewriting layer %s whole: %s", name, "; ".join(problems))
                stored = self._read_stored(name)
                new = frames[name]
                if key in stored.columns:
                    stored = stored[~stored[key].astype(str).isin([str(v) for v in values])]
                merged = pd.concat([stored, new], ignore_index=True) if len(stored) else new
                image.close()
                image = _layer_images({name: _frame_like(merged, new)}, None)[name]
            out[name] = (image, False)
        return out

    def _read_stored(self, name: str) -> Frame:
        with _gdal_reading(self.path):
            frame = pyogrio.read_dataframe(self.path, layer=name)
        if isinstance(frame, gpd.GeoDataFrame) and frame.crs is None:
            frame = frame.set_crs(STORAGE_CRS)
        return frame

    def _follow_file(self) -> None:
        if _file_stamp(self.path) != self._stamp:
            self._reload()

    def _reload(self) -> None:
        stamp = _file_stamp(self.path)
        try:
            self._meta, self._layer_names = _read_state(self.path)
        except WorkspaceError:
            # The file went away or broke under us: keep what we knew; reads will say why.
            return
        self._stamp = stamp


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
            f"workspace {str(path)!r} cannot be read ({exc}); it may be truncated or "
            "damaged: restore it from a backup"
        ) from None
    meta: dict[str, str] = {}
    if table is not None:
        meta = {
            str(k): "" if pd.isna(v) else str(v)
            for k, v in zip(table["key"], table["value"], strict=True)
        }
    return meta, [n for n in names if n != META_TABLE]


def _busy_error(path: Path) -> WorkspaceError:
    return WorkspaceError(
        f"workspace {path.name!r} is busy: another save into it (or an edit in another "
        f"program, e.g. QGIS) has not finished within {WRITE_TIMEOUT_S:.0f} seconds; "
        "try again when it is done"
    )


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
                f"workspace {path.name!r} cannot be written: it is read-only; check the "
                "file's permissions or copy it somewhere you can write"
            ) from None
        if "disk" in text and "full" in text:
            raise WorkspaceError(
                f"workspace {path.name!r} cannot be saved: the disk is full; free some "
                "space and save again (the workspace is unchanged)"
            ) from None
        raise WorkspaceError(
            f"workspace {path.name!r} cannot be saved ({exc}); the workspace is unchanged"
        ) from None
    except sqlite3.DatabaseError as exc:
        raise WorkspaceError(
            f"workspace {path.name!r} cannot be read ({exc}); it may be truncated or "
            "damaged: restore it from a backup"
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
                    f"layer {name!r} was changed by another program during the save; save again"
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
                raise WorkspaceError(f"{META_TABLE!r} is reserved for workspace metadata")
            data = frame if timezone is None else _storable(frame, timezone)
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


def _frame_like(merged: pd.DataFrame, new: Frame) -> Frame:
    """``merged`` as the same kind of frame as ``new`` (spatial or a table)."""
    if isinstance(new, gpd.GeoDataFrame):
        return gpd.GeoDataFrame(merged, geometry=new.geometry.name, crs=new.crs)
    return pd.DataFrame(merged)


def _meta_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _empty_layer(name: str) -> Frame:
    spec = LAYERS.get(name)
    columns = list(spec.fields) if spec else []
    if spec is None or spec.is_table:
        return pd.DataFrame(columns=columns)
    return gpd.GeoDataFrame(
        columns=columns, geometry=gpd.GeoSeries([], crs=STORAGE_CRS), crs=STORAGE_CRS
    )


def _local_times(values: pd.Series, timezone: str) -> pd.Series:
    times = pd.to_datetime(values, errors="coerce", utc=True)
    return times.dt.tz_convert(timezone)


def _storable(frame: Frame, timezone: str) -> Frame:
    """A copy ready for the GeoPackage: EPSG:4326, UTC times, text ids."""
    out = frame.copy()
    if isinstance(out, gpd.GeoDataFrame):
        if out.crs is None:
            raise WorkspaceError("a layer without a CRS cannot be saved; set its CRS before saving")
        if not out.crs.equals(STORAGE_CRS):
            out = out.to_crs(STORAGE_CRS)
    for column in out.columns:
        series = out[column]
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            out[column] = series.dt.tz_convert("UTC")
        elif pd.api.types.is_datetime64_dtype(series.dtype):
            # Naive times are local to the workspace, by convention.
            out[column] = series.dt.tz_localize(
                timezone, ambiguous="NaT", nonexistent="NaT"
            ).dt.tz_convert("UTC")
    if "id" in out.columns:
        out["id"] = out["id"].astype("string")
    return out
