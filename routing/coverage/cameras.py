"""What cameras see: sectors of range and field of view, and the street length inside them."""

from __future__ import annotations

import math
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
import shapely.ops
from numpy.typing import NDArray

from layers.i18n import _
from routing.errors import RoutingError
from routing.network import StreetNetwork

#: Range of a camera whose layer gives none (a typical street camera sees about this far).
DEFAULT_CAMERA_RANGE_M = 50.0


#: Field of view of a camera whose layer gives none or no heading: all round (a dome).
DEFAULT_CAMERA_FOV_DEG = 360.0


#: Vertices of a camera sector's arc per full circle.
_ARC_VERTICES = 72


def camera_sectors(
    cameras: gpd.GeoDataFrame,
    *,
    crs: Any,
    default_range_m: float = DEFAULT_CAMERA_RANGE_M,
    default_fov_deg: float = DEFAULT_CAMERA_FOV_DEG,
) -> gpd.GeoSeries:
    """The area every camera sees: a sector ``heading_deg ± fov_deg / 2`` of ``range_m``.

    Headings are compass bearings (0 = north, 90 = east, clockwise). A camera with no
    heading, or a field of view of 360 degrees or more, sees a full circle.

    Parameters
    ----------
    cameras
        Points with optional ``range_m``, ``heading_deg`` and ``fov_deg``.
    crs
        Metric CRS to draw the sectors in (the network's).
    default_range_m, default_fov_deg
        Used where a camera has no value.

    Returns
    -------
    GeoSeries
        One polygon per camera, indexed like ``cameras``, in ``crs``.

    Raises
    ------
    RoutingError
        If ``cameras`` is not a point layer with a CRS, or a range or field of view is not
        positive.
    """
    if not isinstance(cameras, gpd.GeoDataFrame):
        raise RoutingError(f"'cameras' should be a GeoDataFrame, got {type(cameras).__name__}")
    if cameras.crs is None and len(cameras):
        raise RoutingError(_("'cameras' has no CRS; set it with .set_crs(...) (EPSG:4326)"))
    if not default_range_m > 0 or not default_fov_deg > 0:
        raise RoutingError(
            _(
                "'default_range_m' and 'default_fov_deg' should be > 0, got %(range)r and %(fov)r",
                range=default_range_m,
                fov=default_fov_deg,
            )
        )
    target = pyproj.CRS.from_user_input(crs)
    points = cameras.geometry if len(cameras) == 0 else cameras.geometry.to_crs(target)
    kinds = points[points.notna()].geom_type
    if (kinds != "Point").any():
        raise RoutingError(
            _(
                "'cameras' should hold Point geometries, got %(kinds)s; one point per camera",
                kinds=sorted(set(kinds)),
            )
        )
    range_m = _column_or(cameras, "range_m", default_range_m)
    fov = _column_or(cameras, "fov_deg", default_fov_deg)
    heading = pd.to_numeric(
        cameras["heading_deg"] if "heading_deg" in cameras.columns else pd.Series(np.nan),
        errors="coerce",
    ).to_numpy(dtype=float)
    if len(heading) != len(cameras):
        heading = np.full(len(cameras), np.nan)
    bad = (range_m <= 0) | (fov <= 0)
    if bad.any():
        rows = cameras.index[bad][:5].tolist()
        raise RoutingError(
            _(
                "'cameras' rows %(rows)s have a range_m or fov_deg of 0 or less; give positive "
                "values or leave them empty for the defaults",
                rows=rows,
            )
        )
    sectors = []
    for point, r, f, h in zip(points, range_m, fov, heading, strict=True):
        if point is None or point.is_empty:
            sectors.append(shapely.Polygon())
        elif f >= 360.0 or np.isnan(h):
            sectors.append(point.buffer(r, quad_segs=_ARC_VERTICES // 4))
        else:
            steps = max(2, math.ceil(_ARC_VERTICES * f / 360.0))
            bearings = np.radians(np.linspace(h - f / 2, h + f / 2, steps + 1))
            arc = np.column_stack([point.x + r * np.sin(bearings), point.y + r * np.cos(bearings)])
            sectors.append(shapely.Polygon([(point.x, point.y), *arc.tolist()]))
    return gpd.GeoSeries(sectors, index=cameras.index, crs=target)


def _column_or(frame: pd.DataFrame, name: str, default: float) -> NDArray[np.float64]:
    if name not in frame.columns:
        return np.full(len(frame), float(default))
    values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
    return np.where(np.isnan(values), float(default), values)


def camera_coverage(network: StreetNetwork, sectors: gpd.GeoSeries) -> pd.Series:
    """Street length every segment has inside some camera's sector.

    Parameters
    ----------
    network
        The street network.
    sectors
        Sector polygons from :func:`camera_sectors`, in the network CRS.

    Returns
    -------
    Series
        ``camera_length_m`` indexed by segment.
    """
    seen = np.zeros(network.n_segments)
    shapes = sectors.to_numpy() if len(sectors) else np.empty(0, dtype=object)
    shapes = shapes[~shapely.is_empty(shapes)] if len(shapes) else shapes
    if len(shapes):
        union = shapely.union_all(shapes)
        hit = network.segment_tree.query(union, predicate="intersects")
        seen[hit] = shapely.length(shapely.intersection(network.segment_geometry[hit], union))
    return pd.Series(
        seen, index=pd.RangeIndex(network.n_segments, name="segment"), name="camera_length_m"
    )
