"""Bounds on what an input unpacks to: archive members, bytes, features and vertices.

A small file can unpack to gigabytes: a zip of zeros, a shapefile of one polygon with fifty
million vertices, two million points. Every bound is checked before the data is built in
memory where the file allows it:

- a zip's central directory (member count and names, nested archives, declared sizes,
  compression ratio) before anything is extracted, and the byte count again while
  extracting, since declared sizes can lie;
- a shapefile's vertex count from its byte size before reading (a vertex takes at least
  16 bytes), a layer's feature count from its header (:func:`pyogrio.read_info`), then its
  vertices in bounded batches of geometries, stopping at the limit;
- a CSV's line count before it is parsed;
- a GeoParquet file's row count from its footer, then the vertices of its WKB geometry
  column in bounded batches, before the file is read;
- the features and vertices of a whole workspace before it is saved.

Every refusal is a :class:`LimitError` whose ``code`` says whether the input is too large
(``"too_large"``) or an archive that is refused whatever its size (``"unsafe_archive"``).
"""

from __future__ import annotations

import re
import struct
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from layers.errors import LayerError
from layers.i18n import _, _l

__all__ = [
    "MB",
    "LimitError",
    "ReadLimits",
    "check_archive",
    "check_frame",
    "check_layer_count",
    "check_workspace",
    "count_csv_rows",
    "extract_shapefile",
    "probe_layer",
    "probe_parquet",
    "shapefile_vertex_floor",
]

MB = 1024 * 1024
LimitCode = Literal["too_large", "unsafe_archive"]

#: Members smaller than this are not held to the compression ratio (tiny files vary).
RATIO_MIN_BYTES = 1 * MB
#: The files of a shapefile that are extracted from a zip; the rest stay packed.
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
#: Archive endings refused inside a zip (an archive in an archive hides its size).
_ARCHIVE_ENDINGS = (".zip", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".tar", ".kmz", ".jar")
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_COPY_BYTES = 1 * MB
#: Geometries per batch when vertices are counted.
_BATCH_FEATURES = 10_000
#: Shapefile shape type -> (fixed bytes of a record's content, most bytes per vertex); a
#: record of n vertices and p <= n parts takes at most ``fixed + n * per_vertex`` bytes.
_SHAPE_RECORD_BOUNDS = {
    3: (44, 20),
    5: (44, 20),
    8: (44, 20),
    13: (76, 36),
    15: (76, 36),
    18: (76, 36),
    23: (60, 28),
    25: (60, 28),
    28: (60, 28),
    31: (76, 40),
}
_FIX_SPLIT = _l(
    "split the data into smaller files (e.g. by sub-district), or ask the administrator "
    "to raise the import limits in the settings"
)
_FIX_ZIP = _l("zip only the layer's own files (.shp, .shx, .dbf, .prj, .cpg) and upload that zip")


@dataclass(frozen=True)
class ReadLimits:
    """What one import may unpack to. The defaults suit a precinct or a district.

    Parameters
    ----------
    max_unpacked_bytes
        Bytes all extracted members of a zip may add up to (200 MB).
    max_members
        Files a zip may hold (200: a shapefile is 3-8 files).
    max_ratio
        Unpacked over packed size of one zip member above 1 MB (500: a zip bomb of zeros
        reaches 1,000; coordinates pack 2-3 times, a DBF of repeated text up to ~200).
    max_features
        Features of one layer (500,000: years of a district's incidents).
    max_vertices
        Coordinate pairs of one layer (5,000,000: a city's streets take about 1,000,000).
    max_layers
        Layers read in one import (20).
    max_workspace_features, max_workspace_vertices
        Features and vertices of every layer of the workspace after the import.
    """

    max_unpacked_bytes: int = 200 * MB
    max_members: int = 200
    max_ratio: float = 500.0
    max_features: int = 500_000
    max_vertices: int = 5_000_000
    max_layers: int = 20
    max_workspace_features: int = 2_000_000
    max_workspace_vertices: int = 20_000_000

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise LayerError(
                    _(
                        "import limit %(name)s should be above 0, got %(value)s",
                        name=repr(item.name),
                        value=repr(value),
                    )
                )


class LimitError(LayerError):
    """An input goes beyond a :class:`ReadLimits` bound or is an unsafe archive.

    Parameters
    ----------
    message
        What was refused, with the figure and the limit.
    code
        ``"too_large"`` (the input is too big once unpacked) or ``"unsafe_archive"``.
    fix
        What the user can change.
    """

    def __init__(self, message: str, *, code: LimitCode, fix: object) -> None:
        fix = str(fix)
        super().__init__(_("%(message)s; %(fix)s", message=message, fix=fix))
        self.code: LimitCode = code
        self.fix = fix
        self.summary = message


def _too_large(message: str) -> LimitError:
    return LimitError(message, code="too_large", fix=_FIX_SPLIT)


def _mb(size_bytes: float) -> str:
    return f"{size_bytes / MB:,.1f} MB"


# ------------------------------------------------------------------------ archives


def _unsafe_name(name: str) -> bool:
    parts = re.split(r"[\\/]", name)
    absolute = name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) is not None
    return absolute or ".." in parts or "\x00" in name


def check_archive(archive: zipfile.ZipFile, label: str, limits: ReadLimits) -> None:
    """Refuse a zip by its central directory before anything is extracted.

    Parameters
    ----------
    archive
        The open zip.
    label
        The file as the user knows it, for messages.
    limits
        The bounds.

    Raises
    ------
    LimitError
        If the zip holds too many files, a path outside its folder, an archive, an
        encrypted file, more bytes than allowed or a member packed beyond the ratio.
    """
    members = [info for info in archive.infolist() if not info.is_dir()]
    if len(members) > limits.max_members:
        raise LimitError(
            _(
                "zip '%(label)s' holds %(count)s files, more than the limit of %(limit)s",
                label=label,
                count=format(len(members), ","),
                limit=format(limits.max_members, ","),
            ),
            code="too_large",
            fix=_FIX_ZIP,
        )
    unsafe = [m.filename for m in members if _unsafe_name(m.filename)]
    if unsafe:
        raise LimitError(
            _(
                "zip '%(label)s' holds files with paths outside the zip (%(name)s)",
                label=label,
                name=repr(unsafe[0]),
            ),
            code="unsafe_archive",
            fix=_FIX_ZIP,
        )
    nested = [m.filename for m in members if m.filename.lower().endswith(_ARCHIVE_ENDINGS)]
    if nested:
        raise LimitError(
            _(
                "zip '%(label)s' holds another archive (%(name)s); archives inside a zip "
                "are not read",
                label=label,
                name=repr(nested[0]),
            ),
            code="unsafe_archive",
            fix=_FIX_ZIP,
        )
    if any(m.flag_bits & 0x1 for m in members):
        raise LimitError(
            _("zip '%(label)s' is password-protected", label=label),
            code="unsafe_archive",
            fix=_("zip the files again without a password"),
        )
    declared = sum(m.file_size for m in members)
    if declared > limits.max_unpacked_bytes:
        raise _too_large(
            _(
                "zip '%(label)s' unpacks to %(size)s, more than the limit of %(limit)s",
                label=label,
                size=_mb(declared),
                limit=_mb(limits.max_unpacked_bytes),
            )
        )
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size >= RATIO_MIN_BYTES and ratio > limits.max_ratio:
            raise LimitError(
                _(
                    "zip '%(label)s': %(name)s unpacks to %(ratio)s times its packed size "
                    "(at most %(limit)s), as a zip bomb does",
                    label=label,
                    name=repr(member.filename),
                    ratio=format(ratio, ",.0f"),
                    limit=format(limits.max_ratio, ",.0f"),
                ),
                code="unsafe_archive",
                fix=_FIX_ZIP,
            )


def _copy_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: int, label: str
) -> int:
    """Extract one member, counting bytes as they come; return how many were written."""
    written = 0
    with archive.open(info) as source, target.open("wb") as out:
        while chunk := source.read(_COPY_BYTES):
            if written == 0 and chunk.startswith(_ZIP_MAGIC):
                raise LimitError(
                    _(
                        "zip '%(label)s': %(name)s is itself a zip archive",
                        label=label,
                        name=repr(info.filename),
                    ),
                    code="unsafe_archive",
                    fix=_FIX_ZIP,
                )
            written += len(chunk)
            if written > info.file_size:
                raise LimitError(
                    _(
                        "zip '%(label)s': %(name)s unpacks to more than the %(size)s bytes "
                        "it declares",
                        label=label,
                        name=repr(info.filename),
                        size=format(info.file_size, ","),
                    ),
                    code="unsafe_archive",
                    fix=_FIX_ZIP,
                )
            if written > budget:
                raise _too_large(
                    _(
                        "zip '%(label)s' unpacks to more than the limit of %(limit)s for "
                        "the layer's files",
                        label=label,
                        limit=_mb(budget),
                    )
                )
            out.write(chunk)
    return written


def extract_shapefile(
    archive: zipfile.ZipFile, member: str, folder: Path, label: str, limits: ReadLimits
) -> Path:
    """Extract one shapefile's files from a checked zip, bounded while streaming.

    The files are written under names built here (``layer.shp``, ``layer.dbf``...), never
    under the names in the zip.

    Parameters
    ----------
    archive
        A zip that passed :func:`check_archive`.
    member
        The ``.shp`` member to extract, with its sidecar files.
    folder
        An empty folder to extract into.
    label
        The zip as the user knows it, for messages.
    limits
        The bounds (``max_unpacked_bytes`` is enforced on the bytes actually unpacked).

    Returns
    -------
    Path
        The extracted ``.shp``.

    Raises
    ------
    LimitError
        If the files unpack beyond the limit or beyond their declared sizes.
    LayerError
        If the zip is damaged or uses an unreadable compression method.
    """
    base = member[:-4].lower()
    by_name = {name.lower(): name for name in archive.namelist()}
    total = 0
    for ending in SHAPEFILE_PARTS:
        name = by_name.get(base + ending)
        if name is None:
            continue
        target = folder / f"layer{ending}"
        try:
            total += _copy_member(
                archive, archive.getinfo(name), target, limits.max_unpacked_bytes - total, label
            )
        except (zipfile.BadZipFile, zlib.error, EOFError):
            raise LayerError(
                _(
                    "zip '%(label)s' is damaged: %(name)s does not unpack to the size and "
                    "checksum it declares; zip the files again",
                    label=label,
                    name=repr(name),
                )
            ) from None
        except NotImplementedError:
            raise LayerError(
                _(
                    "zip '%(label)s' uses a compression method that cannot be read; zip the "
                    "files again with the usual (deflate) compression",
                    label=label,
                )
            ) from None
    return folder / "layer.shp"


# ------------------------------------------------------------------------ layers


def shapefile_vertex_floor(shp: Path) -> int:
    """Return the fewest vertices a shapefile of this size can hold (0 when unknown).

    A record of ``n`` vertices in ``p <= n`` parts takes at most ``fixed + n * per_vertex``
    bytes, so the file's size, less its headers, bounds the vertex count from below.

    Parameters
    ----------
    shp
        The ``.shp`` file; its ``.shx`` beside it gives the record count.

    Returns
    -------
    int
        A lower bound of the vertex count; 0 for points or when the headers are missing.
    """
    shx = shp.with_suffix(".shx")
    if not shx.exists():
        return 0
    with shp.open("rb") as stream:
        header = stream.read(100)
    if len(header) < 100:
        return 0
    (shape_type,) = struct.unpack("<i", header[32:36])
    bounds = _SHAPE_RECORD_BOUNDS.get(shape_type)
    if bounds is None:
        return 0
    fixed, per_vertex = bounds
    records = max(0, (shx.stat().st_size - 100) // 8)
    content = shp.stat().st_size - 100 - records * (8 + fixed)
    return max(0, content // per_vertex)


def _check_features(count: int, label: str, limits: ReadLimits) -> None:
    if count > limits.max_features:
        raise _too_large(
            _(
                "'%(label)s' holds %(count)s features, more than the limit of %(limit)s per layer",
                label=label,
                count=format(count, ","),
                limit=format(limits.max_features, ","),
            )
        )


def _vertex_error(count: int, label: str, limits: ReadLimits, *, at_least: bool) -> LimitError:
    if at_least:
        message = _(
            "'%(label)s' holds at least %(count)s vertices, more than the limit of %(limit)s "
            "per layer (simplify the shapes or split the layer)",
            label=label,
            count=format(count, ","),
            limit=format(limits.max_vertices, ","),
        )
    else:
        message = _(
            "'%(label)s' holds %(count)s vertices, more than the limit of %(limit)s "
            "per layer (simplify the shapes or split the layer)",
            label=label,
            count=format(count, ","),
            limit=format(limits.max_vertices, ","),
        )
    return _too_large(message)


def _count_vertices(batches: Iterable[Any], column: str, label: str, limits: ReadLimits) -> int:
    total = 0
    for batch in batches:
        wkb = batch.column(column).to_numpy(zero_copy_only=False)
        total += int(shapely.get_num_coordinates(shapely.from_wkb(wkb, on_invalid="fix")).sum())
        if total > limits.max_vertices:
            raise _vertex_error(total, label, limits, at_least=True)
    return total


def probe_layer(
    source: str, *, layer: str | None, encoding: str | None, label: str, limits: ReadLimits
) -> None:
    """Refuse a GDAL-readable layer by its size before it is read into memory.

    The feature count comes from the layer's header; the vertices are counted in batches
    of geometries, and the count stops as soon as it passes the limit.

    Parameters
    ----------
    source
        What :func:`pyogrio.read_dataframe` would read.
    layer, encoding
        As for :func:`pyogrio.read_dataframe`.
    label
        The layer as the user knows it, for messages.
    limits
        The bounds.

    Raises
    ------
    LimitError
        If the layer holds too many features or vertices.
    """
    info = pyogrio.read_info(source, layer=layer, encoding=encoding)
    features = int(info["features"])
    if features < 0:
        forced = pyogrio.read_info(source, layer=layer, encoding=encoding, force_feature_count=True)
        features = int(forced["features"])
    _check_features(features, label, limits)
    if info.get("geometry_type") is None:
        return
    if source.lower().endswith(".shp"):
        floor = shapefile_vertex_floor(Path(source))
        if floor > limits.max_vertices:
            raise _vertex_error(floor, label, limits, at_least=True)
    with pyogrio.open_arrow(
        source,
        layer=layer,
        encoding=encoding,
        columns=[],
        batch_size=_BATCH_FEATURES,
        use_pyarrow=True,
    ) as (meta, reader):
        _count_vertices(reader, meta["geometry_name"] or "wkb_geometry", label, limits)


def probe_parquet(file: Path, label: str, limits: ReadLimits) -> str | None:
    """Refuse a GeoParquet file by its size before it is read into memory.

    The row count comes from the file's footer; the vertices of a WKB geometry column are
    counted in batches, stopping as soon as the count passes the limit (other geometry
    encodings are counted once the layer is read, by :func:`check_frame`).

    Parameters
    ----------
    file
        The ``.parquet`` / ``.geoparquet`` file.
    label
        The file as the user knows it, for messages.
    limits
        The bounds.

    Returns
    -------
    str or None
        The primary geometry column named by the GeoParquet metadata, None without it.

    Raises
    ------
    LimitError
        If the file holds too many features or vertices.
    LayerError
        If the file is not a readable Parquet file.
    """
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(file)
    except (pa.ArrowException, OSError) as exc:
        raise LayerError(
            _(
                "cannot read '%(label)s' as Parquet (%(reason)s); export the layer as "
                "GeoParquet again",
                label=label,
                reason=exc,
            )
        ) from None
    with parquet:
        _check_features(int(parquet.metadata.num_rows), label, limits)
        raw = (parquet.schema_arrow.metadata or {}).get(b"geo")
        try:
            geo = json.loads(raw) if raw else {}
            column = str(geo["primary_column"]) if geo else None
            encoding = str(geo["columns"][column].get("encoding", "WKB")) if column else ""
        except (ValueError, KeyError, TypeError, AttributeError):
            raise LayerError(
                _(
                    "'%(label)s' has damaged GeoParquet metadata (its 'geo' entry); export "
                    "the layer as GeoParquet again",
                    label=label,
                )
            ) from None
        if column is None or encoding.upper() != "WKB":
            return column
        batches = parquet.iter_batches(batch_size=_BATCH_FEATURES, columns=[column])
        _count_vertices(batches, column, label, limits)
    return column


def count_csv_rows(file: Path, label: str, limits: ReadLimits) -> int:
    """Count a CSV's data lines without parsing it, stopping past the feature limit.

    Raises
    ------
    LimitError
        If the file has more data lines than ``limits.max_features``.
    """
    lines = 0
    last = b"\n"
    with file.open("rb") as stream:
        while chunk := stream.read(_COPY_BYTES):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
            if lines - 1 > limits.max_features:
                break
    rows = lines - 1 + (last != b"\n")
    _check_features(rows, label, limits)
    return max(rows, 0)


def _vertices(frame: pd.DataFrame) -> int:
    if not isinstance(frame, gpd.GeoDataFrame) or frame.active_geometry_name is None:
        return 0
    return int(shapely.get_num_coordinates(np.asarray(frame.geometry.array)).sum())


def check_frame(frame: pd.DataFrame, label: str, limits: ReadLimits) -> None:
    """Check a layer already in memory (sources whose size cannot be told beforehand).

    Raises
    ------
    LimitError
        If the layer holds too many features or vertices.
    """
    _check_features(len(frame), label, limits)
    vertices = _vertices(frame)
    if vertices > limits.max_vertices:
        raise _vertex_error(vertices, label, limits, at_least=False)


def check_layer_count(count: int, label: str, limits: ReadLimits) -> None:
    """Refuse an import of more layers than ``limits.max_layers``.

    Raises
    ------
    LimitError
        If ``count`` is above the limit.
    """
    if count > limits.max_layers:
        raise _too_large(
            _(
                "'%(label)s' holds %(count)s layers to import, more than the limit of "
                "%(limit)s in one import",
                label=label,
                count=format(count, ","),
                limit=format(limits.max_layers, ","),
            )
        )


def check_workspace(layers: Mapping[str, pd.DataFrame], limits: ReadLimits) -> None:
    """Refuse a workspace whose layers together go beyond the workspace limits.

    Parameters
    ----------
    layers
        Every layer the workspace would hold after the import.
    limits
        The bounds.

    Raises
    ------
    LimitError
        If the features or vertices of all layers add up beyond the limits.
    """
    features = sum(len(frame) for frame in layers.values())
    vertices = sum(_vertices(frame) for frame in layers.values())
    if features > limits.max_workspace_features:
        raise _too_large(
            _(
                "the workspace would hold %(count)s features, more than the limit of %(limit)s",
                count=format(features, ","),
                limit=format(limits.max_workspace_features, ","),
            )
        )
    if vertices > limits.max_workspace_vertices:
        raise _too_large(
            _(
                "the workspace would hold %(count)s vertices, more than the limit of %(limit)s",
                count=format(vertices, ","),
                limit=format(limits.max_workspace_vertices, ","),
            )
        )
