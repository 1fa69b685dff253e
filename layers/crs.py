"""Coordinate reference systems: storage CRS, metric CRS and Chinese offset coordinates.

Chinese web maps publish coordinates in offset systems: GCJ-02 (Amap/Gaode, Tencent,
Google China) and BD-09 (Baidu, an extra offset on top of GCJ-02). Taken as WGS84 they land
hundreds of metres off, so they are converted explicitly. The GCJ-02 offset applies only
inside China; points outside the country's bounding box are left unchanged by every
function here, as the map providers do.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Literal

import geopandas as gpd
import numpy as np
import pyproj
import shapely
from numpy.typing import ArrayLike, NDArray

from layers.errors import LayerError, Problem
from layers.i18n import _
from layers.schema import STORAGE_CRS

__all__ = [
    "OFFSET_SYSTEM_NAMES",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "convert_offset_coordinates",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "looks_like_lonlat",
    "metric_crs",
    "to_offset_coordinates",
    "to_storage_crs",
    "utm_crs",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

logger = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
OffsetSystem = Literal["gcj02", "bd09"]

# Krasovsky 1940 ellipsoid, which the GCJ-02 obfuscation is defined on.
_GCJ_A = 6378245.0
_GCJ_EE = 0.00669342162296594323
_BD_X_PI = np.pi * 3000.0 / 180.0
# Stop iterating the inverse once the forward image is within ~1 mm of the target.
_INVERSE_TOL_DEG = 1e-9
_INVERSE_MAX_ITER = 30


def _as_float(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    lon_arr = np.asarray(lon, dtype=np.float64)
    lat_arr = np.asarray(lat, dtype=np.float64)
    if lon_arr.shape != lat_arr.shape:
        raise LayerError(
            f"'lon' and 'lat' should have the same shape, got {lon_arr.shape} and {lat_arr.shape}"
        )
    return lon_arr, lat_arr


def _inside_china(lon: FloatArray, lat: FloatArray) -> NDArray[np.bool_]:
    """Return where the GCJ-02 offset applies (the bounding box the providers use)."""
    return (lon >= 72.004) & (lon <= 137.8347) & (lat >= 0.8293) & (lat <= 55.8271)


def _converged(err_lon: FloatArray, err_lat: FloatArray) -> bool:
    errors = np.abs(np.concatenate([np.ravel(err_lon), np.ravel(err_lat)]))
    errors = errors[np.isfinite(errors)]  # NaN input stays NaN and must not block the stop
    return bool(errors.size == 0 or errors.max() <= _INVERSE_TOL_DEG)


def _gcj02_delta(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Return the GCJ-02 offset ``(dlon, dlat)`` in degrees at WGS84 ``lon``/``lat``."""
    x = lon - 105.0
    y = lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x + common
    dlat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x + common
    dlon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    rad_lat = lat / 180.0 * np.pi
    magic = 1.0 - _GCJ_EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_GCJ_A * (1.0 - _GCJ_EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_GCJ_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert WGS84 lon/lat to GCJ-02 (Amap, Tencent).

    Parameters
    ----------
    lon, lat
        Longitudes and latitudes in degrees (scalars or arrays of the same shape).

    Returns
    -------
    tuple of numpy.ndarray
        GCJ-02 ``(lon, lat)``; points outside China are returned unchanged.
    """
    lon_arr, lat_arr = _as_float(lon, lat)
    dlon, dlat = _gcj02_delta(lon_arr, lat_arr)
    inside = _inside_china(lon_arr, lat_arr)
    return np.where(inside, lon_arr + dlon, lon_arr), np.where(inside, lat_arr + dlat, lat_arr)


def _invert(
    forward: Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]],
    target_lon: FloatArray,
    target_lat: FloatArray,
    lon: FloatArray,
    lat: FloatArray,
    inside: NDArray[np.bool_],
) -> tuple[FloatArray, FloatArray]:
    """Fixed-point inverse of ``forward`` near ``(lon, lat)``: the offsets are smooth and
    small, so subtracting the forward error converges in a few steps."""
    for _step in range(_INVERSE_MAX_ITER):
        fwd_lon, fwd_lat = forward(lon, lat)
        err_lon = np.where(inside, fwd_lon - target_lon, 0.0)
        err_lat = np.where(inside, fwd_lat - target_lat, 0.0)
        lon = lon - err_lon
        lat = lat - err_lat
        if _converged(err_lon, err_lat):
            break
    return lon, lat


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert GCJ-02 lon/lat to WGS84 by iterating the forward transform.

    The closed-form inverse in common use is off by up to a few metres; iterating
    ``wgs -= forward(wgs) - gcj`` converges to about a millimetre in a few steps.

    Parameters
    ----------
    lon, lat
        GCJ-02 longitudes and latitudes in degrees.

    Returns
    -------
    tuple of numpy.ndarray
        WGS84 ``(lon, lat)``; points outside China are returned unchanged.
    """
    gcj_lon, gcj_lat = _as_float(lon, lat)
    inside = _inside_china(gcj_lon, gcj_lat)
    return _invert(wgs84_to_gcj02, gcj_lon, gcj_lat, gcj_lon.copy(), gcj_lat.copy(), inside)


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert GCJ-02 lon/lat to BD-09 (Baidu).

    Parameters
    ----------
    lon, lat
        GCJ-02 longitudes and latitudes in degrees.

    Returns
    -------
    tuple of numpy.ndarray
        BD-09 ``(lon, lat)``; points outside China are returned unchanged.
    """
    x, y = _as_float(lon, lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _BD_X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _BD_X_PI)
    inside = _inside_china(x, y)
    bd_lon = np.where(inside, z * np.cos(theta) + 0.0065, x)
    bd_lat = np.where(inside, z * np.sin(theta) + 0.006, y)
    return bd_lon, bd_lat


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert BD-09 lon/lat to GCJ-02, refined iteratively against the forward transform.

    Parameters
    ----------
    lon, lat
        BD-09 longitudes and latitudes in degrees.

    Returns
    -------
    tuple of numpy.ndarray
        GCJ-02 ``(lon, lat)``; points outside China are returned unchanged.
    """
    bd_lon, bd_lat = _as_float(lon, lat)
    inside = _inside_china(bd_lon, bd_lat)
    x = bd_lon - 0.0065
    y = bd_lat - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _BD_X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _BD_X_PI)
    gcj_lon = np.where(inside, z * np.cos(theta), bd_lon)
    gcj_lat = np.where(inside, z * np.sin(theta), bd_lat)
    # The closed form above is an approximation of the inverse; a few fixed-point steps
    # make the round trip exact to the millimetre.
    return _invert(gcj02_to_bd09, bd_lon, bd_lat, gcj_lon, gcj_lat, inside)


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert BD-09 lon/lat to WGS84 (through GCJ-02).

    Parameters
    ----------
    lon, lat
        BD-09 longitudes and latitudes in degrees.

    Returns
    -------
    tuple of numpy.ndarray
        WGS84 ``(lon, lat)``; points outside China are returned unchanged.
    """
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert WGS84 lon/lat to BD-09 (through GCJ-02).

    Parameters
    ----------
    lon, lat
        WGS84 longitudes and latitudes in degrees.

    Returns
    -------
    tuple of numpy.ndarray
        BD-09 ``(lon, lat)``; points outside China are returned unchanged.
    """
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


_TO_WGS84 = {"gcj02": gcj02_to_wgs84, "bd09": bd09_to_wgs84}


def _is_storage_crs(crs: pyproj.CRS) -> bool:
    # OGC:CRS84 (the GeoJSON default) differs from EPSG:4326 only in axis order, which
    # geopandas always treats as lon/lat anyway.
    return bool(crs.equals(STORAGE_CRS, ignore_axis_order=True))


def convert_offset_coordinates(gdf: gpd.GeoDataFrame, source: OffsetSystem) -> gpd.GeoDataFrame:
    """Convert a layer from a Chinese offset system (GCJ-02 or BD-09) to WGS84.

    Parameters
    ----------
    gdf
        Layer whose lon/lat coordinates are in ``source``; its CRS should be EPSG:4326
        (what offset coordinates are usually labelled as) or missing. Points, lines and
        polygons are converted vertex by vertex. Not modified.
    source
        ``"gcj02"`` (Amap, Tencent) or ``"bd09"`` (Baidu).

    Returns
    -------
    geopandas.GeoDataFrame
        A copy with WGS84 coordinates and CRS EPSG:4326.

    Raises
    ------
    LayerError
        If ``source`` is unknown or ``gdf`` has a projected CRS.
    """
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise LayerError(f"'gdf' should be a GeoDataFrame, got {type(gdf).__name__}")
    if source not in _TO_WGS84:
        raise LayerError(f"'source' should be 'gcj02' or 'bd09', got {source!r}")
    if gdf.crs is not None and not _is_storage_crs(gdf.crs):
        raise LayerError(
            _(
                "'gdf' should hold GCJ-02/BD-09 lon/lat labelled EPSG:4326 or without a CRS, "
                "got CRS %(crs)s; offset coordinates are always lon/lat degrees",
                crs=gdf.crs.to_string(),
            )
        )
    to_wgs84 = _TO_WGS84[source]

    def _convert(coords: FloatArray) -> FloatArray:
        lon, lat = to_wgs84(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    out = gdf.copy()
    out[out.geometry.name] = shapely.transform(np.asarray(gdf.geometry.values), _convert)
    out = out.set_crs(STORAGE_CRS, allow_override=True)
    logger.info("converted %s features from %s to WGS84", f"{len(out):,}", source.upper())
    return out


#: How people name the offset systems (for labels of exported files).
OFFSET_SYSTEM_NAMES: dict[str, str] = {"gcj02": "GCJ-02", "bd09": "BD-09"}

_FROM_WGS84 = {"gcj02": wgs84_to_gcj02, "bd09": wgs84_to_bd09}


def to_offset_coordinates(gdf: gpd.GeoDataFrame, target: OffsetSystem) -> gpd.GeoDataFrame:
    """Convert a layer to a Chinese offset system, for Amap/Tencent (GCJ-02) or Baidu (BD-09).

    The inverse of :func:`convert_offset_coordinates`. Outside China the offsets are zero,
    so coordinates there are unchanged.

    Parameters
    ----------
    gdf
        Layer in any CRS (converted to WGS84 first). Not modified.
    target
        ``"gcj02"`` or ``"bd09"``.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy with ``target`` lon/lat, labelled EPSG:4326 as offset coordinates usually
        are (no EPSG code names them); label the file that carries them.

    Raises
    ------
    LayerError
        If ``target`` is unknown or ``gdf`` has no CRS.
    """
    if target not in _FROM_WGS84:
        raise LayerError(
            _("the coordinate system should be gcj02 or bd09, got %(value)s", value=repr(target))
        )
    if gdf.crs is None:
        raise LayerError(_("the layer has no CRS: cannot convert it to offset coordinates"))
    from_wgs84 = _FROM_WGS84[target]

    def _convert(coords: FloatArray) -> FloatArray:
        lon, lat = from_wgs84(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    out = gdf.to_crs(STORAGE_CRS) if not _is_storage_crs(gdf.crs) else gdf.copy()
    out[out.geometry.name] = shapely.transform(np.asarray(out.geometry.values), _convert)
    return out


def looks_like_lonlat(gdf: gpd.GeoSeries | gpd.GeoDataFrame) -> bool:
    """Return whether every coordinate of ``gdf`` lies within lon/lat degree ranges.

    Parameters
    ----------
    gdf
        Layer or geometries, whatever their declared CRS.

    Returns
    -------
    bool
        True when the bounds fit in ``[-180, 180] x [-90, 90]`` (or there are no
        coordinates at all).
    """
    geoms = gdf.geometry
    nonempty = geoms[~(geoms.isna() | geoms.is_empty)]
    if nonempty.empty:
        return True
    minx, miny, maxx, maxy = nonempty.total_bounds
    return bool(minx >= -180.0 and maxx <= 180.0 and miny >= -90.0 and maxy <= 90.0)


def to_storage_crs(gdf: gpd.GeoDataFrame, *, layer: str) -> tuple[gpd.GeoDataFrame, list[Problem]]:
    """Bring a layer to the storage CRS (EPSG:4326) and report what was done.

    Any geographic or projected CRS (CGCS2000 / EPSG:4490 included) is reprojected
    explicitly and reported as a ``"repaired"`` problem naming the source CRS. A missing
    CRS is a ``"warning"`` when every coordinate is plausibly lon/lat (EPSG:4326 is then
    assumed) and an ``"error"`` otherwise (the layer is returned unchanged, without CRS).

    Parameters
    ----------
    gdf
        Layer to convert. Not modified.
    layer
        Layer name used in the problems.

    Returns
    -------
    tuple of (geopandas.GeoDataFrame, list of Problem)
        The layer in EPSG:4326 (or unchanged on error) and zero or one problem.

    Raises
    ------
    LayerError
        If ``gdf`` is not a GeoDataFrame.
    """
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise LayerError(f"'gdf' should be a GeoDataFrame, got {type(gdf).__name__}")
    crs = gdf.crs
    if crs is None:
        if looks_like_lonlat(gdf):
            logger.warning("layer %s has no CRS; assuming %s (lon/lat)", layer, STORAGE_CRS)
            problem = Problem(
                layer,
                None,
                "crs_assumed",
                _(
                    "The layer has no coordinate reference system; its coordinates look like "
                    "longitude/latitude degrees, so %(crs)s (WGS84) was assumed.",
                    crs=STORAGE_CRS,
                ),
                _(
                    "If the coordinates are GCJ-02 (Amap, Tencent) or BD-09 (Baidu), convert "
                    "them; otherwise save the layer with its CRS (a .prj file) to be sure."
                ),
                "warning",
            )
            return gdf.set_crs(STORAGE_CRS), [problem]
        minx, miny, maxx, maxy = gdf.total_bounds
        problem = Problem(
            layer,
            None,
            "missing_crs",
            _(
                "The layer has no coordinate reference system and its coordinates "
                "(bounds %(bounds)s) are not lon/lat degrees, so its position is unknown.",
                bounds=", ".join(format(v, ".1f") for v in (minx, miny, maxx, maxy)),
            ),
            _(
                "Save the layer with its CRS (a .prj file or GeoPackage), or name it on "
                "import (e.g. crs='EPSG:4547' for CGCS2000 / 3-degree Gauss-Kruger CM 114E)."
            ),
            "error",
        )
        return gdf, [problem]
    if _is_storage_crs(crs):
        if not crs.equals(STORAGE_CRS):
            gdf = gdf.set_crs(STORAGE_CRS, allow_override=True)
        return gdf, []
    source_name = f"{crs.to_string()} ({crs.name})"
    out = gdf.to_crs(STORAGE_CRS)
    logger.info("reprojected layer %s from %s to %s", layer, source_name, STORAGE_CRS)
    problem = Problem(
        layer,
        None,
        "reprojected",
        _(
            "The layer was reprojected from %(source)s to %(crs)s (WGS84) for storage.",
            source=source_name,
            crs=STORAGE_CRS,
        ),
        _("Nothing to do; distances are still computed in a local metric CRS."),
        "repaired",
    )
    return out, [problem]


def utm_crs(lon: float, lat: float) -> pyproj.CRS:
    """The WGS 84 UTM zone holding the point ``lon``, ``lat`` (degrees).

    This is what ``GeoSeries.estimate_utm_crs`` returns for a layer centred there (outside
    the Norway and Svalbard exceptions), without its query of the CRS database, which
    costs about a tenth of a second each time.
    """
    zone = min(max(int((lon + 180) // 6) + 1, 1), 60)
    return _crs_from_epsg((32600 if lat >= 0 else 32700) + zone)


@functools.cache
def _crs_from_epsg(code: int) -> pyproj.CRS:
    return pyproj.CRS.from_epsg(code)


def metric_crs(gdf: gpd.GeoDataFrame | gpd.GeoSeries) -> pyproj.CRS:
    """Return the local UTM CRS in which to compute distances, areas and buffers.

    Parameters
    ----------
    gdf
        Layer with a CRS and at least one non-empty geometry.

    Returns
    -------
    pyproj.CRS
        The UTM zone of the centre of the layer's bounds (WGS84 datum), see
        :func:`utm_crs`.

    Raises
    ------
    LayerError
        If ``gdf`` has no CRS or no geometry to locate it.
    """
    if gdf.crs is None:
        raise LayerError(
            "'gdf' should have a CRS to choose a metric CRS, got None; set it with "
            "gdf.set_crs(...) or convert it with to_storage_crs"
        )
    bounds = gdf.geometry.total_bounds
    if not np.all(np.isfinite(bounds)):
        raise LayerError(
            "'gdf' should have at least one non-empty geometry to choose a metric CRS, got none"
        )
    lon, lat = (bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2
    if not gdf.crs.equals(STORAGE_CRS):
        lon, lat = pyproj.Transformer.from_crs(gdf.crs, STORAGE_CRS, always_xy=True).transform(
            lon, lat
        )
    return utm_crs(float(lon), float(lat))
