"""Measuring on polygons: the metric CRS, compactness, points and street length per polygon.

* :func:`metric_crs` picks the CRS to measure a layer in (its own when projected, else its
  UTM zone).
* :func:`polsby_popper` scores the compactness of polygons.
* :func:`assign_points` puts each point in exactly one polygon (points on a shared edge go
  to the polygon whose centroid is nearest).
* :func:`line_length_in_polygons` gives the street length per polygon (shared edges split
  evenly).
* :func:`overlap_areas` lists the area shared by the polygons of two layouts.
"""

from __future__ import annotations

import math
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from layers.crs import metric_crs as layers_metric_crs
from layers.i18n import _
from routing.errors import GridError
from routing.grids._checks import check_frame

__all__ = [
    "assign_points",
    "line_length_in_polygons",
    "metric_crs",
    "overlap_areas",
    "polsby_popper",
]

#: Tolerance (metres) for a street piece or point to count as lying on a polygon.
_ON_POLYGON_M = 0.01


def metric_crs(frame: gpd.GeoDataFrame | gpd.GeoSeries) -> Any:
    """The CRS to measure ``frame`` in: its own when projected, else its UTM zone.

    The zone is the one of the centre of the bounds (:func:`layers.crs.utm_crs`).

    Parameters
    ----------
    frame
        Any layer with a CRS.

    Returns
    -------
    pyproj.CRS
        ``frame``'s CRS when projected, else the WGS 84 UTM zone of its centre.

    Raises
    ------
    GridError
        If ``frame`` has no CRS or no geometry to place.
    """
    if frame.crs is None:
        raise GridError(
            _(
                "the layer has no coordinate reference system (CRS); set one (e.g. EPSG:4326) "
                "before measuring or designing grids"
            )
        )
    if frame.crs.is_projected:
        return frame.crs
    if not np.all(np.isfinite(frame.total_bounds)):
        raise GridError(_("the layer has no geometry to measure; give it features first"))
    return layers_metric_crs(frame)


def polsby_popper(geometries: gpd.GeoDataFrame | gpd.GeoSeries) -> pd.Series:
    """Polsby-Popper compactness ``4 pi A / P**2`` (1 for a disc, towards 0 when ragged).

    Measured in the metric CRS of the geometries (their UTM zone when geographic).

    Returns
    -------
    pandas.Series
        Named ``polsby_popper``, indexed like ``geometries``.
    """
    series = geometries.geometry if isinstance(geometries, gpd.GeoDataFrame) else geometries
    measured = series.to_crs(metric_crs(series))
    perimeter_m = measured.length.to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(
            perimeter_m > 0, 4 * math.pi * measured.area.to_numpy() / perimeter_m**2, np.nan
        )
    return pd.Series(value, index=geometries.index, name="polsby_popper")


def _near_polygons(
    points: NDArray[np.object_], polygons: gpd.GeoSeries
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Pairs (point, polygon) with the point inside or within ``_ON_POLYGON_M`` of it.

    Point-in-polygon first (fast); the distance test only for points near an edge or
    in no polygon, where floating point decides between neighbours.
    """
    tree = polygons.sindex
    hit_pt, hit_poly = tree.query(points, predicate="intersects")
    edges = shapely.boundary(polygons.to_numpy())
    near_edge = shapely.dwithin(points[hit_pt], edges[hit_poly], _ON_POLYGON_M)
    redo = np.ones(len(points), dtype=bool)
    redo[hit_pt] = False
    redo[hit_pt[near_edge]] = True
    keep = ~redo[hit_pt]
    redo_idx = np.flatnonzero(redo)
    near_pt, near_poly = tree.query(points[redo_idx], predicate="dwithin", distance=_ON_POLYGON_M)
    return (
        np.concatenate([hit_pt[keep], redo_idx[near_pt]]).astype(np.int64),
        np.concatenate([hit_poly[keep], near_poly]).astype(np.int64),
    )


def assign_points(
    points: gpd.GeoDataFrame | gpd.GeoSeries, polygons: gpd.GeoDataFrame | gpd.GeoSeries
) -> pd.Series:
    """The polygon of each point, each point counted exactly once.

    A point on the edge shared by two polygons goes to the one whose centroid is nearest
    (incidents geocoded to street centre lines often sit exactly on a grid boundary).

    Returns
    -------
    pandas.Series
        Position (0..n-1) of the polygon holding each point, ``-1`` outside all polygons;
        indexed like ``points``, named ``polygon``.
    """
    pts = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
    polys = polygons.geometry if isinstance(polygons, gpd.GeoDataFrame) else polygons
    work_crs = metric_crs(polys)
    pts_m = pts.to_crs(work_crs).to_numpy()
    polys_m = polys.to_crs(work_crs)
    result = np.full(len(pts_m), -1, dtype=np.int64)
    valid = ~(shapely.is_missing(pts_m) | shapely.is_empty(pts_m))
    idx = np.flatnonzero(valid)
    hit_pt, hit_poly = _near_polygons(pts_m[idx], polys_m)
    if len(hit_pt):
        centroids = shapely.centroid(polys_m.to_numpy())
        distance_m = shapely.distance(pts_m[idx[hit_pt]], centroids[hit_poly])
        order = np.lexsort((hit_poly, distance_m, hit_pt))
        first = order[np.r_[True, hit_pt[order][1:] != hit_pt[order][:-1]]]
        result[idx[hit_pt[first]]] = hit_poly[first]
    return pd.Series(result, index=points.index, name="polygon")


def line_length_in_polygons(
    lines: gpd.GeoDataFrame | gpd.GeoSeries,
    polygons: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    piece_m: float = 20.0,
) -> pd.Series:
    """Street length per polygon; a street on the edge of two polygons counts half in each.

    Lines are cut into pieces of at most ``piece_m`` and each piece goes to the polygons
    that hold its midpoint, split evenly among them, so the total length inside the
    polygons is kept (to within one piece per boundary crossing).

    Returns
    -------
    pandas.Series
        ``length_m`` per polygon, indexed like ``polygons``.
    """
    polys = polygons.geometry if isinstance(polygons, gpd.GeoDataFrame) else polygons
    series = lines.geometry if isinstance(lines, gpd.GeoDataFrame) else lines
    work_crs = metric_crs(polys)
    dense = shapely.segmentize(series.to_crs(work_crs).dropna().to_numpy(), piece_m)
    coords, part = shapely.get_coordinates(shapely.get_parts(dense), return_index=True)
    same = part[1:] == part[:-1]
    start, end = coords[:-1][same], coords[1:][same]
    piece_length_m = np.hypot(*(end - start).T)
    mids = shapely.points((start + end) / 2)
    polys_m = polys.to_crs(work_crs)
    hit_piece, hit_poly = _near_polygons(mids, polys_m)
    shares = np.bincount(hit_piece, minlength=len(mids))
    length_m = np.bincount(
        hit_poly, weights=piece_length_m[hit_piece] / shares[hit_piece], minlength=len(polys_m)
    )
    return pd.Series(length_m, index=polygons.index, name="length_m")


def overlap_areas(
    polygons: gpd.GeoDataFrame,
    others: gpd.GeoDataFrame,
    *,
    group_column: str | None = None,
) -> pd.DataFrame:
    """Area shared by every pair of polygons of two layers, and their distance.

    Measured in the metric CRS of ``polygons`` (``others`` is reprojected to it). Meant
    for matching one layout to another, e.g. designed grids to the current ones.

    Parameters
    ----------
    polygons, others
        Polygon layers (any CRS; both need one).
    group_column
        Column of both layers: only pairs with the same value are listed (e.g.
        ``community_id``, so a grid is matched within its own community). Every pair is
        listed when None, so keep the layers small or grouped.

    Returns
    -------
    pandas.DataFrame
        One row per pair: ``polygon`` and ``other`` (positions 0..n-1 in each layer),
        ``overlap_m2`` (area of the intersection, 0 when they only touch or are apart) and
        ``distance_m`` (0 when they touch or overlap), ordered by ``polygon``, ``other``.

    Raises
    ------
    GridError
        If a layer is not polygons, has no CRS, or lacks ``group_column``.
    """
    check_frame(polygons, "polygons", ("Polygon", "MultiPolygon"))
    check_frame(others, "others", ("Polygon", "MultiPolygon"))
    if group_column is not None:
        for name, frame in (("polygons", polygons), ("others", others)):
            if group_column not in frame.columns:
                raise GridError(
                    _(
                        "%(layer)r has no column %(column)r to pair the polygons by; add it or "
                        "pair every polygon with every other",
                        layer=name,
                        column=group_column,
                    )
                )
    work_crs = metric_crs(polygons)
    left = shapely.make_valid(polygons.geometry.to_crs(work_crs).to_numpy())
    right = shapely.make_valid(others.geometry.to_crs(work_crs).to_numpy())
    left_key = (
        polygons[group_column].astype(str).to_numpy()
        if group_column is not None
        else np.zeros(len(polygons), dtype=str)
    )
    right_key = (
        others[group_column].astype(str).to_numpy()
        if group_column is not None
        else np.zeros(len(others), dtype=str)
    )
    pairs = pd.merge(
        pd.DataFrame({"polygon": np.arange(len(left)), "key": left_key}),
        pd.DataFrame({"other": np.arange(len(right)), "key": right_key}),
        on="key",
    )
    i = pairs["polygon"].to_numpy(dtype=np.int64)
    j = pairs["other"].to_numpy(dtype=np.int64)
    overlap_m2 = shapely.area(shapely.intersection(left[i], right[j])) if len(i) else np.zeros(0)
    distance_m = shapely.distance(left[i], right[j]) if len(i) else np.zeros(0)
    table = pd.DataFrame(
        {
            "polygon": i,
            "other": j,
            "overlap_m2": np.nan_to_num(np.asarray(overlap_m2, dtype=float)),
            "distance_m": np.nan_to_num(np.asarray(distance_m, dtype=float)),
        }
    )
    return table.sort_values(["polygon", "other"], ignore_index=True)
