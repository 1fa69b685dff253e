"""Checks of a file before it is read: damage, duplicate columns, an unknown CRS.

The readers would otherwise hide these: a truncated GeoPackage lists no layers, a CSV's
second ``category`` column comes back as ``category.1``, a GeoJSON keeps the last of two
equal property names, and an unknown CRS code silently falls back to WGS84.
:func:`check_source_file` raises one :class:`~layers.errors.LayerError` naming the file,
what is wrong and what to change.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import struct
import zipfile
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import pyproj
from pyproj.exceptions import CRSError

from layers.errors import LayerError
from layers.i18n import _, _l

_SQLITE_MAGIC = b"SQLite format 3\x00"
_SQLITE_HEADER_BYTES = 100
#: Enough of a CSV to hold its header row.
_CSV_HEAD_BYTES = 1 << 16
_DBF_HEADER_BYTES = 1 << 16
#: A .prj is a line of WKT; more than this is not one (and is not read into memory).
_PRJ_BYTES = 1 << 16
#: GeoJSON files up to this size are parsed for repeated property names; a larger one is
#: left to the reader (which keeps the last of repeated names) to bound memory.
GEOJSON_SCAN_BYTES = 128 << 20
_CRS_HINT = _l("EPSG:4326 (WGS84) or EPSG:4490 (CGCS2000)")


def check_source_file(path: str | Path, *, layer: str | None = None) -> None:
    """Raise when a file is damaged, repeats a column name or declares an unknown CRS.

    Parameters
    ----------
    path
        The file as the user gave it (GeoPackage, CSV, GeoJSON, Shapefile or zipped
        Shapefile; other files are left to the readers).
    layer
        The layer the file is meant for, named in the message.

    Notes
    -----
    GeoJSON files larger than :data:`GEOJSON_SCAN_BYTES` are not parsed for repeated
    property names (the reader keeps the last of them); only the first 64 KiB of a DBF
    header or ``.prj`` is read, even from a zip.

    Raises
    ------
    LayerError
        With the file, the problem and the fix.
    """
    file = Path(path)
    if not file.is_file():
        return  # the reader says that the file is missing
    if layer:
        what = _("file '%(file)s' (layer %(layer)s)", file=file, layer=repr(layer))
    else:
        what = _("file '%(file)s'", file=file)
    with file.open("rb") as handle:
        head = handle.read(_SQLITE_HEADER_BYTES)
    suffix = "".join(file.suffixes[-2:]).lower()
    if head.startswith(_SQLITE_MAGIC[:6]):
        _check_sqlite_size(file, head, what)
    elif suffix.endswith(".csv") or suffix.endswith(".txt"):
        _check_unique(_csv_header(file), what, "columns")
    elif suffix.endswith((".geojson", ".json")):
        _check_geojson(file, what)
    elif suffix.endswith(".zip"):
        _check_zipped_shapefiles(file, what)
    elif suffix.endswith(".shp"):
        dbf, prj = file.with_suffix(".dbf"), file.with_suffix(".prj")
        if dbf.is_file():
            with dbf.open("rb") as handle:
                _check_unique(_dbf_field_names(handle.read(_DBF_HEADER_BYTES)), what, "fields")
        if prj.is_file():
            with prj.open("rb") as handle:
                _check_wkt(handle.read(_PRJ_BYTES), what)


def _check_sqlite_size(file: Path, head: bytes, what: str) -> None:
    """A GeoPackage shorter than its header says is truncated (a cut download or copy)."""
    size = file.stat().st_size
    if len(head) < _SQLITE_HEADER_BYTES or not head.startswith(_SQLITE_MAGIC):
        raise _damaged(what, size, None)
    page_size = struct.unpack(">H", head[16:18])[0]
    page_size = 65536 if page_size == 1 else page_size
    page_count, change_counter = struct.unpack(">I", head[28:32])[0], head[24:28]
    # The page count is only trustworthy when written by a recent SQLite (file format
    # 3.7.0+), which keeps it in step with the change counter.
    if page_count and change_counter == head[92:96]:
        expected = page_size * page_count
        if size < expected:
            raise _damaged(what, size, expected)
    try:
        with sqlite3.connect(f"{file.resolve().as_uri()}?mode=ro", uri=True) as db:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError:
        raise _damaged(what, size, None) from None


def _damaged(what: str, size: int, expected: int | None) -> LayerError:
    if expected:
        return LayerError(
            _(
                "%(what)s is truncated or damaged: it should hold %(expected)s bytes but holds "
                "%(size)s; copy or export the GeoPackage again (an interrupted download or "
                "copy cuts a file short), or restore a backup",
                what=what,
                expected=format(expected, ","),
                size=format(size, ","),
            )
        )
    return LayerError(
        _(
            "%(what)s is truncated or damaged: its table of contents cannot be read; copy or "
            "export the GeoPackage again (an interrupted download or copy cuts a file "
            "short), or restore a backup",
            what=what,
        )
    )


def _check_unique(
    names: Iterable[str], what: str, kind: Literal["columns", "fields", "property names"]
) -> None:
    counts = Counter(name.strip() for name in names)
    repeated = [
        _("%(name)s (%(count)s times)", name=repr(name), count=n)
        for name, n in counts.items()
        if n > 1 and name
    ]
    if not repeated:
        return
    if kind == "columns":
        message = _(
            "%(what)s has duplicate columns: %(names)s; rename or remove the extra columns so "
            "that each name appears once, then try again",
            what=what,
            names=", ".join(repeated),
        )
    elif kind == "fields":
        message = _(
            "%(what)s has duplicate fields: %(names)s; rename or remove the extra fields so "
            "that each name appears once, then try again",
            what=what,
            names=", ".join(repeated),
        )
    else:
        message = _(
            "%(what)s has duplicate property names: %(names)s; rename or remove the extra "
            "property names so that each name appears once, then try again",
            what=what,
            names=", ".join(repeated),
        )
    raise LayerError(message)


def _csv_header(file: Path) -> list[str]:
    with file.open("rb") as handle:
        head = handle.read(_CSV_HEAD_BYTES)
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = head.decode(encoding)
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:  # not only a character cut by the read limit
                continue
            text = head[: exc.start].decode(encoding)
        return next(csv.reader(io.StringIO(text)), [])
    return []  # the reader explains an undecodable file


def _check_geojson(file: Path, what: str) -> None:
    if file.stat().st_size > GEOJSON_SCAN_BYTES:
        return
    repeated: Counter[str] = Counter()

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        for key, n in Counter(key for key, _value in items).items():
            if n > 1:
                repeated[key] = max(repeated[key], n)
        return dict(items)

    try:
        with file.open("rb") as handle:
            data = json.load(handle, object_pairs_hook=pairs)
    except (ValueError, UnicodeDecodeError):
        return  # the reader explains a file that is not JSON
    if repeated:
        _check_unique(repeated.elements(), what, "property names")
    crs = data.get("crs") if isinstance(data, dict) else None
    if isinstance(crs, dict):
        name = (crs.get("properties") or {}).get("name")
        if isinstance(name, str):
            _check_crs_code(name, what)


def _check_crs_code(name: str, what: str) -> None:
    code = name
    if name.lower().startswith("urn:ogc:def:crs:"):
        parts = name.split(":")
        code = f"{parts[4]}:{parts[-1]}" if len(parts) >= 6 else name
    try:
        pyproj.CRS.from_user_input(code)
    except CRSError:
        raise LayerError(
            _(
                "%(what)s declares the CRS %(code)s, which is not a known coordinate "
                "reference system; save the file in %(hint)s, or declare the CRS its "
                "coordinates really use",
                what=what,
                code=code,
                hint=_CRS_HINT,
            )
        ) from None


def _check_wkt(prj: bytes, what: str) -> None:
    text = prj.decode("utf-8", errors="replace").strip()
    if not text:
        return
    try:
        pyproj.CRS.from_wkt(text)
    except CRSError:
        shown = text if len(text) <= 60 else text[:60] + "..."
        raise LayerError(
            _(
                "%(what)s declares the CRS %(crs)s in its .prj, which is not a known "
                "coordinate reference system; save the file in %(hint)s, or replace the "
                ".prj with the CRS its coordinates really use",
                what=what,
                crs=repr(shown),
                hint=_CRS_HINT,
            )
        ) from None


def _check_zipped_shapefiles(file: Path, what: str) -> None:
    try:
        archive = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, OSError):
        return  # the reader explains a damaged archive
    with archive:
        names = {info.filename.lower(): info for info in archive.infolist()}
        for lower, info in names.items():
            stem = lower[:-4]
            if lower.endswith(".dbf"):
                with archive.open(info) as handle:
                    fields = _dbf_field_names(handle.read(_DBF_HEADER_BYTES))
                _check_unique(fields, f"{what} ({Path(info.filename).name})", "fields")
            elif lower.endswith(".prj") and f"{stem}.shp" in names:
                with archive.open(info) as handle:
                    wkt = handle.read(_PRJ_BYTES)
                _check_wkt(wkt, f"{what} ({Path(info.filename).name})")


def _dbf_field_names(header: bytes) -> list[str]:
    """Field names of a DBF header (32-byte descriptors after the first 32 bytes)."""
    names = []
    for start in range(32, len(header) - 31, 32):
        if header[start] == 0x0D:
            break
        raw = header[start : start + 11].split(b"\x00", 1)[0]
        names.append(raw.decode("gb18030", errors="replace"))
    return names
