"""Read layers from the files captains bring: GeoPackage, GeoJSON, Shapefile, CSV, OSM.

The format is told from the file's content (its first bytes), the extension only breaking
ties, so a GeoPackage saved as ``.dat`` reads and a picture renamed ``.geojson`` gives a
clear error. Readers read and convert (text encoding, coordinate columns, Chinese offset
coordinates when asked); they do not check the data model, which is the validator's job.

Every failure is a :class:`~layers.errors.LayerError` naming the file and the fix; GDAL's
own errors and warnings are folded into it or logged, never passed on raw.
"""

from __future__ import annotations

import codecs
import logging
import re
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from io import StringIO
from pathlib import Path, PurePosixPath
from typing import Literal, TypeAlias

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import shapely
from pyogrio.errors import DataLayerError, DataSourceError

from layers.crs import convert_offset_coordinates, looks_like_lonlat
from layers.encodings import normalize_encoding, shapefile_encoding
from layers.errors import LayerError
from layers.i18n import _, _l
from layers.limits import (
    ReadLimits,
    check_archive,
    check_frame,
    check_layer_count,
    count_csv_rows,
    extract_shapefile,
    probe_layer,
)
from layers.parquet import PARQUET_MAGIC, read_parquet_layer
from layers.schema import STORAGE_CRS
from layers.validate.rings import read_closing_rings

__all__ = ["detect_format", "list_layers", "read_layer", "read_layers", "read_table"]

logger = logging.getLogger(__name__)

Format = Literal["gpkg", "geojson", "zip", "shp", "csv", "osm_pbf", "osm_xml", "parquet"]
Frame: TypeAlias = gpd.GeoDataFrame | pd.DataFrame

SUPPORTED = _l(
    "GeoPackage (.gpkg), GeoJSON (.geojson/.json), zipped Shapefile (.zip), "
    "Shapefile (.shp), CSV (.csv/.txt), GeoParquet (.parquet) and OpenStreetMap (.osm.pbf/.osm)"
)
_SQLITE_MAGIC = b"SQLite format 3\x00"
_SHP_MAGIC = b"\x00\x00\x27\x0a"
_CSV_EXTENSIONS = (".csv", ".txt", ".tsv")
_LON_NAMES = ("lon", "lng", "long", "longitude", "x", "经度", "pointx", "xcoord", "坐标x")
_LAT_NAMES = ("lat", "latitude", "y", "纬度", "pointy", "ycoord", "坐标y")
_WKT_NAMES = ("wkt", "geometry", "geom", "thegeom", "shape", "几何", "坐标串")
#: OSM "layers" and what each is read as: the streets open to cars or on foot (with
#: ``car``/``foot`` flags), the walkable streets, admin boundaries, key places (schools,
#: hospitals, banks, malls...) and police stations.
OSM_LAYERS: dict[str, Literal["all", "walk", "boundaries", "key_places", "stations"]] = {
    "roads": "all",
    "roads_walk": "walk",
    "boundaries": "boundaries",
    "places": "key_places",
    "police": "stations",
}
#: The OSM layer read when an extract is imported as one of these workspace layers.
OSM_LAYER_FOR: dict[str, str] = {"key_places": "places", "stations": "police"}
_SAMPLE_BYTES = 1 << 16
_DBF_SAMPLE_BYTES = 1 << 21
_OFFSET_SYSTEMS = ("gcj02", "bd09")


# --------------------------------------------------------------------------- helpers


def _check_path(path: str | Path) -> Path:
    if not isinstance(path, str | Path):
        raise LayerError(f"'path' should be a file path, got {type(path).__name__}")
    file = Path(path)
    if not file.exists():
        raise LayerError(
            _("file '%(file)s' does not exist; check the path and the file name", file=file)
        )
    if file.is_dir():
        raise LayerError(
            _(
                "'%(file)s' is a folder, not a file; pass a .gpkg, .geojson, .zip, .shp, .csv "
                "or .osm.pbf file (zip a shapefile's files together)",
                file=file,
            )
        )
    if file.stat().st_size == 0:
        raise LayerError(_("file '%(file)s' is empty (0 bytes); export it again", file=file))
    return file


def _gdal_message(exc: Exception) -> str:
    """Return the useful tail of a GDAL message (SQLite errors start with the query)."""
    text = str(exc).split("; It might help")[0].strip().rstrip(";")
    parts = [p.strip() for p in re.split(r";|failed:", text) if p.strip()]
    tail = parts[-1] if parts else text
    return tail if len(tail) <= 160 else tail[:160] + "..."


@contextmanager
def _gdal(file: Path, fix: object) -> Iterator[None]:
    """Turn GDAL errors into a LayerError about ``file`` and log GDAL's warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        except (DataSourceError, DataLayerError) as exc:
            raise LayerError(
                _(
                    "cannot read '%(file)s' (%(reason)s); %(fix)s",
                    file=file,
                    reason=_gdal_message(exc),
                    fix=fix,
                )
            ) from None
        except UnicodeDecodeError as exc:
            raise LayerError(
                _(
                    "the text of '%(file)s' is not %(encoding)s as read; pass the right "
                    "encoding=..., e.g. encoding='GBK' or encoding='UTF-8'",
                    file=file,
                    encoding=exc.encoding,
                )
            ) from None
    for warning in caught:
        logger.debug("%s: %s", file.name, warning.message)


def detect_format(path: str | Path) -> Format:
    """Tell a file's format from its first bytes (the extension only breaks ties).

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    str
        One of ``"gpkg"``, ``"geojson"``, ``"zip"``, ``"shp"``, ``"csv"``, ``"osm_pbf"``,
        ``"osm_xml"``, ``"parquet"``.

    Raises
    ------
    LayerError
        If the file is missing or empty, or its content matches no supported format.
    """
    file = _check_path(path)
    with file.open("rb") as stream:
        head = stream.read(4096)
    name = file.name.lower()
    suffix = file.suffix.lower()
    text_head = head.removeprefix(codecs.BOM_UTF8).lstrip()
    if head.startswith(_SQLITE_MAGIC):
        return "gpkg"
    if suffix == ".gpkg":
        raise LayerError(
            _(
                "file '%(file)s' is not a readable GeoPackage (it lacks the SQLite header, so "
                "it is damaged or another kind of file renamed .gpkg); export it again from "
                "the source or restore a backup",
                file=file,
            )
        )
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if b"OSMHeader" in head[:64]:
        return "osm_pbf"
    if text_head.startswith((b"<?xml", b"<osm")) and b"<osm" in head:
        return "osm_xml"
    if head.startswith(_SHP_MAGIC):
        return "shp"
    if head.startswith(PARQUET_MAGIC):
        return "parquet"
    if text_head.startswith(b"{"):
        return "geojson"
    if suffix in (".geojson", ".json"):
        if _is_text(head):
            message = _(
                "file '%(file)s' is named %(suffix)s but is not GeoJSON (its content looks "
                "like CSV or other text); export the layer as GeoJSON, or give the file its "
                "real extension",
                file=file,
                suffix=suffix,
            )
        else:
            message = _(
                "file '%(file)s' is named %(suffix)s but is not GeoJSON (its content looks "
                "like a binary file); export the layer as GeoJSON, or give the file its real "
                "extension",
                file=file,
                suffix=suffix,
            )
        raise LayerError(message)
    if suffix in _CSV_EXTENSIONS and _is_text(head):
        return "csv"
    if name.endswith(".osm.pbf") or suffix in (".osm", ".pbf"):
        raise LayerError(
            _(
                "file '%(file)s' is named like OpenStreetMap data but its content is not; "
                "download or export the extract again",
                file=file,
            )
        )
    raise LayerError(
        _(
            "file '%(file)s' has an unsupported format (extension %(suffix)s); supported "
            "are %(supported)s",
            file=file,
            suffix=repr(suffix or "(none)"),
            supported=SUPPORTED,
        )
    )


def _is_text(head: bytes) -> bool:
    return b"\x00" not in head


# ------------------------------------------------------------------ readers


def _apply_crs(frame: Frame, crs: str | None, label: str) -> Frame:
    """Assign or convert a CRS the caller named (``crs=``)."""
    if crs is None or not isinstance(frame, gpd.GeoDataFrame):
        return frame
    if crs in _OFFSET_SYSTEMS:
        return convert_offset_coordinates(frame, crs)  # type: ignore[arg-type]
    try:
        wanted = pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError:
        raise LayerError(
            _(
                "'crs' should be a CRS such as 'EPSG:4490', 'gcj02' or 'bd09', got %(value)s",
                value=repr(crs),
            )
        ) from None
    if frame.crs is None:
        return frame.set_crs(wanted)
    if not frame.crs.equals(wanted):
        raise LayerError(
            _(
                "'%(label)s' declares CRS %(crs)s but crs=%(given)s was given; drop crs= to "
                "use the file's CRS, or fix the file's .prj",
                label=label,
                crs=frame.crs.to_string(),
                given=repr(crs),
            )
        )
    return frame


def _read_gdal(
    source: str,
    file: Path,
    *,
    layer: str | None = None,
    encoding: str | None = None,
    fix: object,
    limits: ReadLimits,
) -> Frame:
    label = f"{file} ({layer})" if layer else str(file)
    with _gdal(file, fix):
        probe_layer(source, layer=layer, encoding=encoding, label=label, limits=limits)
        try:
            frame = pyogrio.read_dataframe(source, layer=layer, encoding=encoding)
        except shapely.errors.GEOSException:
            # A ring that does not close: read it closed; the validator reports it.
            frame = read_closing_rings(source, layer=layer, encoding=encoding)
    return frame


def _gpkg_layers(file: Path) -> list[str]:
    fix = _("the GeoPackage is damaged or truncated; export it again or restore a backup")
    with _gdal(file, fix):
        listed = pyogrio.list_layers(file)
    return [str(row[0]) for row in listed]


def _pick(
    file: Path, names: list[str], layer: str | None, what: Literal["layer", "shapefile", "osm"]
) -> str:
    if not names:
        if what == "shapefile":
            message = _("file '%(file)s' holds no shapefile; export the data again", file=file)
        elif what == "osm":
            message = _("file '%(file)s' holds no OSM layer; export the data again", file=file)
        else:
            message = _("file '%(file)s' holds no layer; export the data again", file=file)
        raise LayerError(message)
    if layer is None:
        if len(names) == 1:
            return names[0]
        params = {
            "file": file,
            "count": len(names),
            "names": ", ".join(names),
            "example": f"{file}:{names[0]}",
        }
        if what == "shapefile":
            message = _(
                "file '%(file)s' holds %(count)s shapefiles: %(names)s; name the one to read "
                "after the file, e.g. '%(example)s'",
                **params,
            )
        elif what == "osm":
            message = _(
                "file '%(file)s' holds %(count)s OSM layers: %(names)s; name the one to read "
                "after the file, e.g. '%(example)s'",
                **params,
            )
        else:
            message = _(
                "file '%(file)s' holds %(count)s layers: %(names)s; name the one to read "
                "after the file, e.g. '%(example)s'",
                **params,
            )
        raise LayerError(message)
    if layer not in names:
        raise LayerError(
            _(
                "'%(file)s' has no layer %(layer)s; it holds %(names)s",
                file=file,
                layer=repr(layer),
                names=", ".join(names),
            )
        )
    return layer


def _zip_shapefiles(file: Path, limits: ReadLimits) -> tuple[zipfile.ZipFile, dict[str, str]]:
    try:
        archive = zipfile.ZipFile(file)
    except zipfile.BadZipFile:
        raise LayerError(
            _(
                "file '%(file)s' is not a readable zip archive (damaged or truncated); zip it "
                "again",
                file=file,
            )
        ) from None
    try:
        check_archive(archive, str(file), limits)
    except LayerError:
        archive.close()
        raise
    members = [
        m for m in archive.namelist() if not m.startswith("__MACOSX/") and not m.endswith("/")
    ]
    shps = [m for m in members if m.lower().endswith(".shp")]
    if not shps:
        archive.close()
        if members:
            message = _(
                "zip '%(file)s' holds no shapefile (.shp); it holds %(names)s. Zip the .shp "
                "with its .shx, .dbf, .prj and .cpg files",
                file=file,
                names=", ".join(members[:10]),
            )
        else:
            message = _(
                "zip '%(file)s' holds no shapefile (.shp); it holds nothing. Zip the .shp "
                "with its .shx, .dbf, .prj and .cpg files",
                file=file,
            )
        raise LayerError(message)
    stems = [PurePosixPath(m).stem for m in shps]
    unique = len(set(stems)) == len(stems)
    return archive, {(stem if unique else m[:-4]): m for stem, m in zip(stems, shps, strict=True)}


def _read_zip(file: Path, layer: str | None, encoding: str | None, limits: ReadLimits) -> Frame:
    # The layer's files are extracted, bounded while streaming, rather than read in place:
    # the sizes a zip declares can lie, the bytes written cannot.
    archive, shapefiles = _zip_shapefiles(file, limits)
    with archive, tempfile.TemporaryDirectory(prefix="gisapp-zip-") as folder:
        name = _pick(file, list(shapefiles), layer, "shapefile")
        shp = extract_shapefile(archive, shapefiles[name], Path(folder), str(file), limits)
        fix = _("the zip must hold the .shp with its .shx and .dbf; zip them together again")
        return _read_shp(shp, encoding, limits, label=file, fix=fix)


def _read_shp(
    file: Path,
    encoding: str | None,
    limits: ReadLimits,
    *,
    label: Path | None = None,
    fix: object = _l("keep the .shx and .dbf files beside the .shp, or send it as one .zip"),
) -> Frame:
    def sibling(extension: str, size: int) -> bytes | None:
        for candidate in (file.with_suffix(extension), file.with_suffix(extension.upper())):
            if candidate.exists():
                with candidate.open("rb") as stream:
                    return stream.read(size)
        return None

    shown = label or file
    chosen = shapefile_encoding(
        shown.name, sibling(".cpg", 1024), sibling(".dbf", _DBF_SAMPLE_BYTES), encoding
    )
    return _read_gdal(str(file), shown, encoding=chosen, fix=fix, limits=limits)


def _read_geojson(file: Path, limits: ReadLimits) -> Frame:
    fix = _("the file is not valid GeoJSON; export the layer as GeoJSON again")
    return _read_gdal(str(file), file, fix=fix, limits=limits)


def _read_osm(file: Path, layer: str | None) -> Frame:
    from layers import osm  # osmium is only loaded when OSM data is read

    name = _pick(file, list(OSM_LAYERS), layer or "roads", "osm")
    what = OSM_LAYERS[name]
    if what == "boundaries":
        return osm.read_osm_boundaries(file)
    if what == "key_places":
        return osm.read_osm_key_places(file)
    if what == "stations":
        return osm.read_osm_stations(file)
    return osm.read_osm_roads(file, mode=what)


def _csv_encoding(file: Path, encoding: str | None) -> str:
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise LayerError(
                _(
                    "'encoding' should be a text encoding such as 'utf-8' or 'gbk', got %(value)s",
                    value=repr(encoding),
                )
            ) from None
        return normalize_encoding(encoding) or encoding
    with file.open("rb") as stream:
        sample = stream.read(_SAMPLE_BYTES)
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    for candidate in ("utf-8", "gb18030"):
        decoder = codecs.getincrementaldecoder(candidate)()
        try:
            decoder.decode(sample, final=False)  # the sample may end inside a character
        except UnicodeDecodeError:
            continue
        return candidate
    raise LayerError(
        _(
            "cannot tell the text encoding of '%(file)s' (neither UTF-8 nor GBK/GB18030); "
            "pass encoding=..., e.g. encoding='big5'",
            file=file,
        )
    )


def _read_csv_text(file: Path, encoding: str | None, limits: ReadLimits) -> pd.DataFrame:
    count_csv_rows(file, str(file), limits)
    chosen = _csv_encoding(file, encoding)
    try:
        with file.open("r", encoding=chosen, newline="") as stream:
            text = stream.read()
    except UnicodeDecodeError:
        if encoding is not None or chosen == "gb18030":
            raise LayerError(
                _(
                    "'%(file)s' is not valid %(encoding)s text throughout; pass the right "
                    "encoding=...",
                    file=file,
                    encoding=chosen,
                )
            ) from None
        # The sample decoded as UTF-8 but a later line did not: a GBK export.
        chosen = "gb18030"
        with file.open("r", encoding=chosen, errors="strict", newline="") as stream:
            text = stream.read()
    text = text.removeprefix("\ufeff")
    header = text.split("\n", 1)[0]
    delimiter = max((",", "\t", ";", "|"), key=header.count)
    try:
        frame = pd.read_csv(
            StringIO(text), sep=delimiter, dtype=str, keep_default_na=True, skipinitialspace=True
        )
    except pd.errors.EmptyDataError:
        raise LayerError(
            _("file '%(file)s' has no header row or data; export it again", file=file)
        ) from None
    except pd.errors.ParserError as exc:
        raise LayerError(
            _(
                "'%(file)s' is not a well-formed CSV (%(reason)s); export it again",
                file=file,
                reason=exc,
            )
        ) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    logger.info("read %s rows from %s (%s)", f"{len(frame):,}", file.name, chosen)
    return _infer_numbers(frame)


def _infer_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """Turn wholly numeric text columns into numbers; codes like ``007`` stay text."""
    out = frame.copy()
    for column in out.columns:
        text = out[column].dropna().str.strip()
        if text.empty or text.str.match(r"^[+-]?0\d").any():
            continue
        numbers = pd.to_numeric(text, errors="coerce")
        if numbers.notna().all():
            out[column] = pd.to_numeric(out[column].str.strip(), errors="coerce")
    return out


def _find(columns: list[str], wanted: tuple[str, ...]) -> str | None:
    normalized = {re.sub(r"[\s_\-]+", "", c).casefold(): c for c in reversed(columns)}
    for name in wanted:
        if name in normalized:
            return normalized[name]
    return None


def _column(frame: pd.DataFrame, name: str, argument: str, file: Path) -> str:
    if name in frame.columns:
        return name
    raise LayerError(
        _(
            "'%(argument)s' %(name)s is not a column of '%(file)s'; the columns are %(columns)s",
            argument=argument,
            name=repr(name),
            file=file,
            columns=", ".join(map(str, frame.columns)),
        )
    )


def _read_csv(
    file: Path,
    *,
    encoding: str | None,
    x: str | None,
    y: str | None,
    wkt: str | None,
    crs: str | None,
    limits: ReadLimits,
) -> gpd.GeoDataFrame:
    frame = _read_csv_text(file, encoding, limits)
    columns = [str(c) for c in frame.columns]
    if (x is None) != (y is None):
        raise LayerError(
            _(
                "'x' and 'y' should be given together, got x=%(x)s, y=%(y)s; name both the "
                "longitude and the latitude column",
                x=repr(x),
                y=repr(y),
            )
        )
    if x is not None and y is not None:
        x, y = _column(frame, x, "x", file), _column(frame, y, "y", file)
    elif wkt is not None:
        wkt = _column(frame, wkt, "wkt", file)
    else:
        x, y = _find(columns, _LON_NAMES), _find(columns, _LAT_NAMES)
        if x is None or y is None:
            x = y = None
            wkt = _find(columns, _WKT_NAMES)
    if x is None and wkt is None:
        raise LayerError(
            _(
                "'%(file)s' has no coordinate columns (columns: %(columns)s); name them "
                "lon/lat (经度/纬度) or pass x=..., y=... or wkt=...; for a table without "
                "geometry use read_table",
                file=file,
                columns=", ".join(columns),
            )
        )

    if x is not None and y is not None:
        lon = pd.to_numeric(frame[x], errors="coerce").to_numpy(dtype=float)
        lat = pd.to_numeric(frame[y], errors="coerce").to_numpy(dtype=float)
        usable = np.isfinite(lon) & np.isfinite(lat)
        geometry = np.asarray(shapely.points(np.column_stack([lon, lat])), dtype=object)
        geometry[~usable] = None
        coordinate_columns = [x, y]
        origin = f"columns {x!r}/{y!r}"
    else:
        assert wkt is not None
        text = frame[wkt].astype("string").fillna("").str.strip()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            geometry = shapely.from_wkt(text.to_numpy(dtype=object), on_invalid="ignore")
        usable = ~shapely.is_missing(geometry)
        coordinate_columns = [wkt]
        origin = f"WKT column {wkt!r}"
    bad = int((~usable).sum())
    if bad:
        logger.warning("%s: %s row(s) without usable coordinates in %s", file.name, bad, origin)
    out = gpd.GeoDataFrame(
        frame.drop(columns=coordinate_columns), geometry=gpd.GeoSeries(geometry, index=frame.index)
    )
    if crs is None:
        if looks_like_lonlat(out):
            logger.info(
                "%s: no CRS given; coordinates taken as %s (lon/lat)", file.name, STORAGE_CRS
            )
            out = out.set_crs(STORAGE_CRS)
        else:
            logger.warning(
                "%s: no CRS given and the coordinates are not lon/lat; pass crs=...", file.name
            )
        return out
    return _apply_crs(out, crs, str(file))


# -------------------------------------------------------------------- public


def list_layers(path: str | Path, *, limits: ReadLimits | None = None) -> list[str]:
    """Return the names of the layers a file holds.

    GeoPackage: its layers and tables; zip: its shapefiles (by name without ``.shp``);
    OSM: ``roads`` (streets open to cars or on foot), ``roads_walk`` (walkable),
    ``boundaries``, ``places`` (key places) and ``police`` (police stations); any other
    file: one layer named after the file.

    Parameters
    ----------
    path
        The file.
    limits
        Bounds on what a zip may hold (default :class:`~layers.limits.ReadLimits`).

    Returns
    -------
    list of str
        Layer names, in the file's order.

    Raises
    ------
    LayerError
        If the file cannot be read (:class:`~layers.limits.LimitError` when a zip goes
        beyond the limits).
    """
    file = _check_path(path)
    kind = detect_format(file)
    if kind == "gpkg":
        return _gpkg_layers(file)
    if kind == "zip":
        archive, shapefiles = _zip_shapefiles(file, limits or ReadLimits())
        archive.close()
        return list(shapefiles)
    if kind in ("osm_pbf", "osm_xml"):
        return list(OSM_LAYERS)
    return [file.name.split(".")[0]]


def read_layer(
    path: str | Path,
    *,
    layer: str | None = None,
    encoding: str | None = None,
    x: str | None = None,
    y: str | None = None,
    wkt: str | None = None,
    crs: str | None = None,
    limits: ReadLimits | None = None,
) -> Frame:
    """Read one layer from a GeoPackage, GeoJSON, (zipped) Shapefile, CSV, GeoParquet or OSM file.

    Parameters
    ----------
    path
        The file; its format is told from its content.
    layer
        Which layer of a multi-layer source (GeoPackage layer, shapefile name inside a
        zip, OSM layer from :func:`list_layers`). Required when there are several, except
        for OSM where ``roads`` (the street network) is the default.
    encoding
        Text encoding of a Shapefile's DBF or a CSV. By default a Shapefile's ``.cpg`` is
        honoured and, without one, UTF-8 or GBK is detected from the DBF bytes; a CSV is
        tried as UTF-8 (with or without BOM), then GBK/GB18030.
    x, y
        CSV longitude and latitude columns; by default found by name (lon/lng/longitude/x/
        经度, lat/latitude/y/纬度).
    wkt
        CSV column of WKT geometries, when there are no x/y columns.
    crs
        CRS of the coordinates when the file has none (always for a CSV; without it a
        lon/lat CSV is taken as EPSG:4326, logged). ``"gcj02"`` or ``"bd09"`` says the
        lon/lat are Chinese offset coordinates, converted to WGS84 on reading. A CRS that
        contradicts the file's own is an error.
    limits
        Bounds on what the file may unpack to (default :class:`~layers.limits.ReadLimits`):
        zip members and bytes, features and vertices, checked before the layer is read
        into memory where the format allows it.

    Returns
    -------
    geopandas.GeoDataFrame or pandas.DataFrame
        The layer (a DataFrame for a GeoPackage table without geometry), in the file's
        CRS: reprojecting to storage is :func:`layers.crs.to_storage_crs`'s job.

    Raises
    ------
    LayerError
        If the file is missing, empty, damaged, of an unsupported format, a CSV without
        coordinates, a zip without a shapefile, or ``layer`` is needed or unknown;
        :class:`~layers.limits.LimitError` if it goes beyond ``limits``.
    """
    file = _check_path(path)
    kind = detect_format(file)
    label = str(file)
    limits = limits or ReadLimits()
    if kind == "csv":
        frame = _read_csv(file, encoding=encoding, x=x, y=y, wkt=wkt, crs=crs, limits=limits)
        check_frame(frame, label, limits)
        return frame
    if kind in ("osm_pbf", "osm_xml"):
        frame = _read_osm(file, layer)
    elif kind == "gpkg":
        name = _pick(file, _gpkg_layers(file), layer, "layer")
        fix = _("the GeoPackage is damaged or truncated; export it again or restore a backup")
        frame = _read_gdal(str(file), file, layer=name, fix=fix, limits=limits)
    elif kind == "zip":
        frame = _read_zip(file, layer, encoding, limits)
        label = f"{file}" + (f" ({layer})" if layer else "")
    elif kind == "shp":
        frame = _read_shp(file, encoding, limits)
    elif kind == "parquet":
        frame = read_parquet_layer(file, limits=limits)
    else:
        frame = _read_geojson(file, limits)
    # Formats read whole (OSM, CSV) are checked here; the others were probed before.
    check_frame(frame, label, limits)
    logger.info("read %s features from %s", f"{len(frame):,}", file.name)
    return _apply_crs(frame, crs, label)


def read_layers(
    path: str | Path, *, encoding: str | None = None, limits: ReadLimits | None = None
) -> dict[str, Frame]:
    """Read every layer of a file (see :func:`list_layers` for what a layer is).

    Parameters
    ----------
    path
        The file.
    encoding, limits
        As in :func:`read_layer`.

    Returns
    -------
    dict
        Layer name → GeoDataFrame (or DataFrame for a table), in the file's order.

    Raises
    ------
    LayerError
        If the file or one of its layers cannot be read.
    """
    limits = limits or ReadLimits()
    names = list_layers(path, limits=limits)
    check_layer_count(len(names), str(path), limits)
    return {name: read_layer(path, layer=name, encoding=encoding, limits=limits) for name in names}


def read_table(
    path: str | Path,
    *,
    layer: str | None = None,
    encoding: str | None = None,
    limits: ReadLimits | None = None,
) -> pd.DataFrame:
    """Read a table without geometry (e.g. ``units``) from a CSV or a GeoPackage.

    Parameters
    ----------
    path
        A CSV (encoding detected as in :func:`read_layer`) or a GeoPackage.
    layer
        The GeoPackage table, when it holds several layers.
    encoding
        CSV text encoding.
    limits
        As in :func:`read_layer`.

    Returns
    -------
    pandas.DataFrame
        The rows; a geometry column, if any, is dropped.

    Raises
    ------
    LayerError
        If the file cannot be read or is neither CSV nor GeoPackage.
    """
    file = _check_path(path)
    kind = detect_format(file)
    limits = limits or ReadLimits()
    if kind == "csv":
        return _read_csv_text(file, encoding, limits)
    if kind != "gpkg":
        raise LayerError(
            _(
                "'path' should be a CSV or GeoPackage table, got a %(kind)s file '%(file)s'",
                kind=kind,
                file=file,
            )
        )
    frame = read_layer(file, layer=layer, limits=limits)
    if isinstance(frame, gpd.GeoDataFrame):
        frame = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    return frame
