"""New layers checked against the workspace they are meant for: inside its area, not swapped."""

from __future__ import annotations

from collections.abc import Collection, Mapping

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from layers.i18n import _
from layers.schema import STORAGE_CRS
from layers.validate.hierarchy import AREA_LAYERS
from layers.validate.report import ProblemCollector


def _area_words(area_name: str, *, of_workspace: bool) -> str:
    """What the workspace's area is called in messages, by the layer that gives it."""
    if of_workspace:
        if area_name == "subdistricts":
            return _("workspace's sub-districts")
        if area_name == "communities":
            return _("workspace's communities")
        if area_name == "grids":
            return _("workspace's grids")
        return _("workspace's road network's extent")
    if area_name == "subdistricts":
        return _("sub-districts")
    if area_name == "communities":
        return _("communities")
    if area_name == "grids":
        return _("grids")
    return _("road network's extent")


def workspace_area(
    geo: Mapping[str, gpd.GeoDataFrame],
    workspace_names: Collection[str],
    new_names: Collection[str],
) -> tuple[str, np.ndarray] | None:
    """The area the new layers must fall in: the workspace's outermost area layer that is
    not being replaced, else the extent of its roads; ``None`` when it has neither.

    Returns
    -------
    tuple of (str, numpy.ndarray) or None
        The layer giving the area and its geometries in EPSG:4326.
    """
    kept = [n for n in workspace_names if n not in new_names and n in geo and len(geo[n])]
    for name in AREA_LAYERS:
        if name in kept:
            return name, geo[name].geometry.to_numpy()
    if "roads" in kept:
        return "roads", np.array([shapely.box(*geo["roads"].total_bounds)], dtype=object)
    return None


def check_in_workspace(
    geo: Mapping[str, gpd.GeoDataFrame],
    workspace_names: Collection[str],
    new_names: Collection[str],
    metric_crs: CRS,
    buffer_m: float,
    found: ProblemCollector,
    *,
    swapped_only: bool = False,
) -> None:
    """Features of the new layers outside the workspace's area.

    A feature outside whose swapped lon/lat copy lies inside is an error
    (``swapped_lat_lon``); a layer with no feature inside is an error
    (``outside_workspace``, with the distance); a few features outside are warnings
    (``outside_area``; incidents have their own warning from the area check). With
    ``swapped_only`` (layers checked together, without a workspace) only swapped
    features are reported: the other checks already cover a layer out of place.
    """
    area = workspace_area(geo, workspace_names, new_names)
    if area is None:
        return
    area_name, area_4326 = area
    area_metric = gpd.GeoSeries(area_4326, crs=STORAGE_CRS).to_crs(metric_crs).to_numpy()
    tree = shapely.STRtree(area_metric)
    for name in new_names:
        layer = geo.get(name)
        if layer is not None and len(layer) and name != area_name:
            where = _area_words(area_name, of_workspace=not swapped_only)
            outside = _check_swapped(layer, name, tree, where, metric_crs, buffer_m, found)
            if not swapped_only:
                _check_outside(
                    layer, name, outside, area_metric, where, metric_crs, buffer_m, found
                )


def _check_swapped(
    layer: gpd.GeoDataFrame,
    name: str,
    tree: shapely.STRtree,
    where: str,
    metric_crs: CRS,
    buffer_m: float,
    found: ProblemCollector,
) -> np.ndarray:
    """Report features inside the area only when swapped; return those outside it."""
    geoms = layer.geometry.to_numpy()
    inside = _near(tree, _to_metric(geoms, metric_crs), buffer_m)
    swapped = ~inside & _near(tree, _to_metric(_swap_xy(geoms), metric_crs), buffer_m)
    labels = layer["label"].to_numpy()
    bounds = shapely.bounds(geoms)
    found.per_feature(
        name,
        list(labels[swapped]),
        "swapped_lat_lon",
        lambda i: _(
            "%(feature)s of layer %(layer)s (x %(x)s, y %(y)s) lies outside the %(where)s, "
            "but inside them with x and y exchanged: longitude and latitude look swapped",
            feature=labels[swapped][i],
            layer=repr(name),
            x=format(bounds[swapped][i, 0], ".5f"),
            y=format(bounds[swapped][i, 1], ".5f"),
            where=where,
        ),
        _("features of %(layer)s whose longitude and latitude look swapped", layer=repr(name)),
        _("swap the columns on import: x is the longitude, y the latitude"),
    )
    return ~inside & ~swapped


def _check_outside(
    layer: gpd.GeoDataFrame,
    name: str,
    outside: np.ndarray,
    area_metric: np.ndarray,
    where: str,
    metric_crs: CRS,
    buffer_m: float,
    found: ProblemCollector,
) -> None:
    """A layer with no feature in the area is an error; some features outside, warnings."""
    geoms = layer.geometry.to_numpy()
    labels = layer["label"].to_numpy()
    if outside.all():
        distance_km = _distance_km(geoms[outside], area_metric, metric_crs)
        found.add(
            name,
            None,
            "outside_workspace",
            _(
                "none of the %(count)s features of layer %(layer)s lies within %(buffer)s m "
                "of the %(where)s; the nearest is %(distance)s km away",
                count=format(len(geoms), ","),
                layer=repr(name),
                buffer=format(buffer_m, ",.0f"),
                where=where,
                distance=format(distance_km, ",.1f"),
            ),
            _(
                "check that the file belongs to this workspace and that its CRS is right "
                "(a GCJ-02/BD-09 offset moves points a few hundred metres, a wrong CRS "
                "moves them far more)"
            ),
        )
    elif name != "incidents":
        found.per_feature(
            name,
            list(labels[outside]),
            "outside_area",
            lambda i: _(
                "%(feature)s of layer %(layer)s lies more than %(buffer)s m outside the %(where)s",
                feature=labels[outside][i],
                layer=repr(name),
                buffer=format(buffer_m, ",.0f"),
                where=where,
            ),
            _(
                "features of %(layer)s outside the %(where)s",
                layer=repr(name),
                where=where,
            ),
            _("check their coordinates, or extend the %(where)s", where=where),
            "warning",
        )


def _to_metric(geoms: np.ndarray, metric_crs: CRS) -> np.ndarray:
    valid_lat = shapely.bounds(geoms)
    with np.errstate(invalid="ignore"):
        ok = (np.abs(valid_lat[:, 1]) <= 90) & (np.abs(valid_lat[:, 3]) <= 90)
    out = np.full(len(geoms), None, dtype=object)
    if ok.any():
        out[ok] = gpd.GeoSeries(geoms[ok], crs=STORAGE_CRS).to_crs(metric_crs).to_numpy()
    return out


def _near(tree: shapely.STRtree, geoms: np.ndarray, buffer_m: float) -> np.ndarray:
    """Where a geometry lies within ``buffer_m`` of the tree's geometries."""
    hit = np.zeros(len(geoms), dtype=bool)
    present = np.flatnonzero(~shapely.is_missing(geoms))
    if len(present):
        found, _others = tree.query(geoms[present], predicate="dwithin", distance=buffer_m)
        hit[present[found]] = True
    return hit


def _swap_xy(geoms: np.ndarray) -> np.ndarray:
    return np.asarray(shapely.transform(geoms, lambda xy: xy[:, ::-1]))


def _distance_km(geoms: np.ndarray, area_metric: np.ndarray, metric_crs: CRS) -> float:
    """Distance from the area to the nearest of ``geoms`` (great distances are rough)."""
    metric = _to_metric(geoms, metric_crs)
    present = metric[~shapely.is_missing(metric)]
    if not len(present):
        return float("inf")
    union = shapely.union_all(area_metric)
    return float(np.min(shapely.distance(present, union))) / 1000.0
