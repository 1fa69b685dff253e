"""The workspace: one GeoPackage holding the input layers and every saved result.

A workspace opens in QGIS as it is. Spatial layers are stored in EPSG:4326, incident
times in UTC; the table ``gisapp_meta`` records the workspace's name, time zone and where
each layer came from (``layer_notes``: real, derived or generated).

Saving is atomic: the new content is written to a temporary copy beside the file, which
then replaces the original in one ``os.replace``. A crash mid-save leaves the previous
workspace untouched.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import tempfile
import warnings
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeAlias

import geopandas as gpd
import pandas as pd
import pyogrio

from gisapp.errors import WorkspaceError
from layers.schema import LAYERS, STORAGE_CRS

if TYPE_CHECKING:
    from layers.validate import ValidationReport

logger = logging.getLogger(__name__)

META_TABLE = "gisapp_meta"
_GPKG_MAGIC = b"SQLite format 3\x00"
_GPKG_BOOKKEEPING = (
    "gpkg_contents",
    "gpkg_geometry_columns",
    "gpkg_ogr_contents",
    "gpkg_extensions",
)

#: A workspace layer: a GeoDataFrame, or a DataFrame for a table such as ``units``.
Frame: TypeAlias = gpd.GeoDataFrame | pd.DataFrame


def _is_geopackage(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(16) == _GPKG_MAGIC
    except OSError:
        return False


@contextmanager
def _quiet_gdal() -> Any:
    # GDAL notes on conformant-but-unusual content are not the user's problem.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


class Workspace:
    """An open workspace GeoPackage.

    Use :meth:`open` for an existing file and :meth:`create` to write a new one.
    Layers are read on demand and returned as fresh copies; callers may change them
    freely and :meth:`save` what they want to keep.
    """

    def __init__(self, path: Path, meta: dict[str, str], layer_names: list[str]) -> None:
        self.path = path
        self.meta = meta
        self._layer_names = layer_names

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
        if not _is_geopackage(ws_path):
            raise WorkspaceError(
                f"workspace {str(ws_path)!r} is not a GeoPackage (.gpkg); "
                "import other formats with 'gisapp import'"
            )
        try:
            with _quiet_gdal():
                listed = pyogrio.list_layers(ws_path)
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
            raise WorkspaceError(
                f"workspace {str(ws_path)!r} cannot be read ({exc}); it may be truncated or "
                "damaged: restore it from a backup"
            ) from None
        names = [str(name) for name, _ in listed]
        meta = cls._read_meta(ws_path) if META_TABLE in names else {}
        layer_names = [n for n in names if n != META_TABLE]
        return cls(ws_path, meta, layer_names)

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

        Raises
        ------
        WorkspaceError
            If ``path`` exists and ``overwrite`` is false.
        """
        ws_path = Path(path)
        if ws_path.exists() and not overwrite:
            raise WorkspaceError(
                f"{str(ws_path)!r} already exists; choose another --out or pass --force"
            )
        full_meta = {"name": ws_path.stem, "timezone": "UTC", "layer_notes": "{}"}
        full_meta.update({k: _meta_text(v) for k, v in (meta or {}).items()})
        with _atomic_target(ws_path, copy_existing=False) as tmp:
            _write_layers(tmp, layers, full_meta["timezone"])
            _write_meta(tmp, full_meta)
        return cls.open(ws_path)

    @staticmethod
    def _read_meta(path: Path) -> dict[str, str]:
        with _quiet_gdal():
            table = pyogrio.read_dataframe(path, layer=META_TABLE)
        return {
            str(k): "" if pd.isna(v) else str(v)
            for k, v in zip(table["key"], table["value"], strict=True)
        }

    # -- queries ------------------------------------------------------------------------
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
        """Copy the workspace to a new GeoPackage at ``path`` and open the copy."""
        target = Path(path)
        shutil.copy2(self.path, target)
        return Workspace.open(target)

    def open_geopackage(self) -> BinaryIO:
        """The workspace as a GeoPackage file, open for reading (for a download).

        Saves replace the file in one step, so the stream stays one consistent version.
        """
        return self.path.open("rb")

    @property
    def modified(self) -> pd.Timestamp:
        """When the workspace was last written (UTC)."""
        return pd.Timestamp(self.path.stat().st_mtime, unit="s", tz="UTC")

    @property
    def version(self) -> str:
        """A stamp that changes whenever the workspace's content may have changed.

        Caches of derived data (street networks, page data) key on it. It is read from the
        file each time, so a save by another process or an edit in QGIS is seen too.
        """
        try:
            stat = self.path.stat()
        except OSError:
            return "missing"
        return f"{stat.st_mtime_ns}-{stat.st_size}"

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
        return list(self._layer_names)

    def has_layer(self, name: str) -> bool:
        return name in self._layer_names

    def layer(self, name: str, *, required: bool = True) -> Frame:
        """Read one layer; incident times come back in the workspace's time zone.

        Raises
        ------
        WorkspaceError
            If the layer is absent and ``required``.
        """
        if name not in self._layer_names:
            if required:
                raise WorkspaceError(
                    f"workspace {self.path.name!r} has no layer {name!r}; it has "
                    f"{', '.join(self._layer_names) or 'no layers'}. Import one with "
                    f"'gisapp import FILE --layer {name} --out {self.path}'"
                )
            return _empty_layer(name)
        with _quiet_gdal():
            frame = pyogrio.read_dataframe(self.path, layer=name)
        if isinstance(frame, gpd.GeoDataFrame) and frame.crs is None:
            frame = frame.set_crs(STORAGE_CRS)
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
        wanted = [n for n in self._layer_names if n in LAYERS] if names is None else list(names)
        return {n: self.layer(n) for n in wanted}

    def validate(self, *, area_tolerance: float = 0.02) -> ValidationReport:
        """Validate every data-model layer of the workspace together."""
        from layers.validate import validate_layers

        return validate_layers(self.layers(), area_tolerance=area_tolerance, timezone=self.timezone)

    # -- saving ------------------------------------------------------------------------
    def save(
        self,
        layers: Mapping[str, Frame],
        *,
        meta: Mapping[str, Any] | None = None,
        drop: Iterable[str] = (),
    ) -> None:
        """Replace or add layers (and metadata keys) atomically; other layers are kept.

        A crash during the save leaves the previous file as it was.
        """
        new_meta = dict(self.meta)
        new_meta.update({k: _meta_text(v) for k, v in (meta or {}).items()})
        to_drop = set(drop) | set(layers)
        with _atomic_target(self.path, copy_existing=True) as tmp:
            _drop_layers(tmp, to_drop & set(self._layer_names))
            _write_layers(tmp, layers, new_meta.get("timezone", "UTC"))
            _write_meta(tmp, new_meta)
        fresh = Workspace.open(self.path)
        self.meta, self._layer_names = fresh.meta, fresh._layer_names


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


def _write_layers(path: Path, layers: Mapping[str, Frame], timezone: str) -> None:
    for name, frame in layers.items():
        if name == META_TABLE:
            raise WorkspaceError(f"{META_TABLE!r} is reserved for workspace metadata")
        data = _storable(frame, timezone)
        is_spatial = isinstance(data, gpd.GeoDataFrame)
        with _quiet_gdal():
            if is_spatial:
                pyogrio.write_dataframe(
                    data, path, layer=name, driver="GPKG", promote_to_multi=False
                )
            else:
                pyogrio.write_dataframe(pd.DataFrame(data), path, layer=name, driver="GPKG")
        logger.debug("wrote layer %s (%s features)", name, f"{len(data):,}")


def _write_meta(path: Path, meta: Mapping[str, str]) -> None:
    table = pd.DataFrame({"key": list(meta), "value": [str(v) for v in meta.values()]})
    with _quiet_gdal():
        if path.exists() and META_TABLE in {n for n, _ in pyogrio.list_layers(path)}:
            _drop_layers(path, {META_TABLE})
        pyogrio.write_dataframe(table, path, layer=META_TABLE, driver="GPKG")


def _drop_layers(path: Path, names: set[str]) -> None:
    if not names:
        return
    # GDAL has no layer-drop call in pyogrio; the GeoPackage is SQLite, and the GeoPackage
    # spec defines which bookkeeping rows describe a table.
    con = sqlite3.connect(path)
    try:
        with con:
            for name in names:
                con.execute(f'DROP TABLE IF EXISTS "{name.replace(chr(34), "")}"')
                for table in _GPKG_BOOKKEEPING:
                    if _has_table(con, table):
                        con.execute(f"DELETE FROM {table} WHERE table_name = ?", (name,))
                rtree = con.execute(
                    "SELECT name FROM sqlite_master WHERE type='table' AND name LIKE ?",
                    (f"rtree_{name}_%",),
                ).fetchall()
                for (rtree_name,) in rtree:
                    con.execute(f'DROP TABLE IF EXISTS "{rtree_name}"')
                for trigger in con.execute(
                    "SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name = ?", (name,)
                ).fetchall():
                    con.execute(f'DROP TRIGGER IF EXISTS "{trigger[0]}"')
    finally:
        con.close()


def _has_table(con: sqlite3.Connection, name: str) -> bool:
    row = con.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)
    ).fetchone()
    return row is not None


@contextmanager
def _atomic_target(path: Path, *, copy_existing: bool) -> Any:
    """Yield a temporary path beside ``path``; move it over ``path`` only on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp.gpkg", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()
    try:
        if copy_existing and path.exists():
            shutil.copy2(path, tmp)
        yield tmp
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
