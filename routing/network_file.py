"""A built :class:`~routing.network.StreetNetwork` stored in one ``.npz`` file and read back.

Building a city's network (noding, merging, components) takes seconds; reading it back
takes a few hundredths of one. The file holds plain arrays only (no pickles): numbers as
they are, texts as the distinct values and a code per segment (-1 for a missing name),
segment geometries as coordinates with offsets (LineStrings) or as WKB, the fastest edge
of every node pair in matrix order (so that reading needs no sort), the CRS as WKT and the
build report as JSON. Geometries are decoded on first use, not on reading: a command that
only routes never pays for them. A file written by another :data:`FORMAT_VERSION` is
refused, so callers rebuild.
"""

from __future__ import annotations

import dataclasses
import json
import os
import zipfile
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pyproj
import shapely
from numpy.typing import NDArray

from layers.i18n import _
from routing.errors import NetworkError
from routing.network import NetworkReport, StreetNetwork

#: Layout of the file; bumped whenever the stored arrays change (2: texts as codes, the
#: fastest edges stored).
FORMAT_VERSION = 2

#: Number arrays of :class:`StreetNetwork`, stored as they are.
_NUMBER_FIELDS = (
    "node_x",
    "node_y",
    "segment_u",
    "segment_v",
    "segment_length_m",
    "segment_source",
    "edge_u",
    "edge_v",
    "edge_segment",
    "edge_forward",
    "edge_length_m",
    "edge_travel_time_s",
    "edge_speed_kph",
    "fastest_edge",
)

_LINESTRING = shapely.GeometryType.LINESTRING


def save_network(network: StreetNetwork, path: str | os.PathLike[str]) -> Path:
    """Write ``network`` to ``path`` (an ``.npz`` file), atomically.

    The file is first written beside ``path`` and then renamed over it, so a reader never
    sees half a file.

    Returns
    -------
    Path
        The file written.
    """
    target = Path(path)
    arrays: dict[str, NDArray[Any]] = {name: getattr(network, name) for name in _NUMBER_FIELDS}
    header = {
        "format": FORMAT_VERSION,
        "mode": network.mode,
        "crs": network.crs.to_wkt(),
        "report": dataclasses.asdict(network.report),
    }
    arrays["header"] = np.array(json.dumps(header, ensure_ascii=False))
    arrays.update(_text_arrays("segment_name", network.segment_name))
    arrays.update(_text_arrays("segment_highway", network.segment_highway))
    arrays.update(_geometry_arrays(network.segment_geometry))
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        with partial.open("wb") as out:
            np.savez(out, **arrays)  # type: ignore[arg-type]  # no array is named allow_pickle
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def load_network(path: str | os.PathLike[str]) -> StreetNetwork:
    """Read a network written by :func:`save_network`.

    Raises
    ------
    NetworkError
        If the file is missing, damaged or of another format version.
    """
    source = Path(path)
    try:
        with np.load(source, allow_pickle=False) as data:
            header = json.loads(str(data["header"]))
            if header.get("format") != FORMAT_VERSION:
                raise NetworkError(
                    _(
                        "%(file)s holds a network of format %(found)s, not %(expected)s; build "
                        "the network again",
                        file=source.name,
                        found=header.get("format"),
                        expected=FORMAT_VERSION,
                    )
                )
            numbers = {name: data[name] for name in _NUMBER_FIELDS}
            names = _texts(data, "segment_name")
            highways = _texts(data, "segment_highway")
            geometry = _stored_geometries(data)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise NetworkError(
            _("cannot read the stored network %(file)s: %(reason)s", file=source.name, reason=exc)
        ) from exc
    return StreetNetwork(
        crs=pyproj.CRS.from_wkt(header["crs"]),
        mode=str(header["mode"]),
        segment_geometry=geometry,
        segment_name=names,
        segment_highway=highways,
        report=NetworkReport(**header["report"]),
        **numbers,
    )


def _text_arrays(name: str, values: NDArray[np.object_]) -> dict[str, NDArray[Any]]:
    """Texts as their distinct values (fixed-width strings) and the position of each text
    among them, -1 for a missing one."""
    missing = np.array([v is None for v in values], dtype=bool)
    texts = np.array(["" if v is None else str(v) for v in values], dtype=np.str_)
    distinct, inverse = np.unique(texts, return_inverse=True)
    codes = np.where(missing, -1, inverse.reshape(-1)).astype(np.int32)
    return {f"{name}__distinct": distinct, f"{name}__code": codes}


def _texts(data: Any, name: str) -> NDArray[np.object_]:
    # one str object per distinct text, shared by its segments; None appended for code -1
    distinct = np.append(data[f"{name}__distinct"].astype(object), [None])
    return np.asarray(distinct[data[f"{name}__code"]], dtype=object)


def _geometry_arrays(geometry: NDArray[np.object_]) -> dict[str, NDArray[Any]]:
    """LineStrings as coordinates with offsets; anything else as WKB bytes with offsets."""
    if len(geometry) and bool(np.all(shapely.get_type_id(geometry) == _LINESTRING)):
        _, coords, (offsets,) = shapely.to_ragged_array(geometry)
        return {"geometry__coords": coords, "geometry__offsets": offsets}
    blobs = shapely.to_wkb(geometry)
    sizes = np.fromiter((len(b) for b in blobs), dtype=np.int64, count=len(blobs))
    joined = np.frombuffer(b"".join(blobs), dtype=np.uint8)
    return {"geometry__wkb": joined, "geometry__wkb_ends": np.cumsum(sizes)}


def _stored_geometries(data: Any) -> partial[NDArray[np.object_]]:
    """The stored geometry arrays, read now, and the function that decodes them later."""
    if "geometry__coords" in data:
        return partial(_lines, data["geometry__coords"], data["geometry__offsets"])
    return partial(_wkb, data["geometry__wkb"], data["geometry__wkb_ends"])


def _lines(coords: NDArray[np.float64], offsets: NDArray[np.int64]) -> NDArray[np.object_]:
    geometry = shapely.from_ragged_array(_LINESTRING, coords, (offsets,))
    return np.asarray(geometry, dtype=object)


def _wkb(joined: NDArray[np.uint8], ends: NDArray[np.int64]) -> NDArray[np.object_]:
    raw = joined.tobytes()
    starts = np.concatenate([[0], ends[:-1]])
    blobs = np.array([raw[s:e] for s, e in zip(starts, ends, strict=True)], dtype=object)
    return np.asarray(shapely.from_wkb(blobs), dtype=object)
