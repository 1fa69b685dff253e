"""Coordinates of exported files: WGS84, or the offset systems Chinese map apps use.

Amap and Tencent maps take GCJ-02 and Baidu takes BD-09; a WGS84 point shown on them
lands 300-700 m off in China. The GPX, GeoJSON and CSV exports can be written in either,
and say so: the file name carries the system (``routes.gcj02.geojson``), GeoJSON gets a
``coordinate_system`` member, GPX its description and CSV a ``coordinates`` column.
Maps, printed briefings and GeoPackages stay WGS84 (their base map and CRS are WGS84).
"""

from __future__ import annotations

import dataclasses
from typing import Literal, cast

import geopandas as gpd
import pandas as pd

from gisapp.errors import ExportError
from gisapp.plans import Plan
from layers.crs import OFFSET_SYSTEM_NAMES, OffsetSystem, to_offset_coordinates
from layers.i18n import _

__all__ = [
    "COORDINATE_SYSTEMS",
    "Coords",
    "check_coords",
    "coords_label",
    "coords_suffix",
    "in_coords",
    "plan_in_coords",
]

Coords = Literal["wgs84", "gcj02", "bd09"]

#: The systems exports may be written in, WGS84 first (the default).
COORDINATE_SYSTEMS: tuple[str, ...] = ("wgs84", "gcj02", "bd09")


def check_coords(coords: str) -> Coords:
    """``coords`` in lower case when it is one of :data:`COORDINATE_SYSTEMS`.

    Raises
    ------
    ExportError
        Naming the systems accepted.
    """
    chosen = coords.strip().lower().replace("-", "")
    if chosen not in COORDINATE_SYSTEMS:
        raise ExportError(
            _(
                "coordinates %(coords)r are unknown; choose wgs84, gcj02 (Amap, Tencent) or "
                "bd09 (Baidu)",
                coords=coords,
            )
        )
    return cast(Coords, chosen)


def coords_label(coords: Coords) -> str:
    """How people name the system: ``WGS-84``, ``GCJ-02``, ``BD-09``."""
    return "WGS-84" if coords == "wgs84" else OFFSET_SYSTEM_NAMES[coords]


def coords_suffix(coords: Coords) -> str:
    """The part of a file name that says the system: ``""`` for WGS84, else ``.gcj02``."""
    return "" if coords == "wgs84" else f".{coords}"


def in_coords(frame: gpd.GeoDataFrame, coords: Coords) -> gpd.GeoDataFrame:
    """``frame`` with its geometry in ``coords`` (unchanged for WGS84)."""
    if coords == "wgs84" or not len(frame):
        return frame
    return to_offset_coordinates(frame, cast(OffsetSystem, coords))


def plan_in_coords(plan: Plan, coords: Coords) -> Plan:
    """``plan`` with its routes, stops (``lon``/``lat``) and hotspots in ``coords``."""
    if coords == "wgs84":
        return plan
    stops = plan.stops.copy()
    points = gpd.GeoDataFrame(
        geometry=gpd.points_from_xy(stops["lon"], stops["lat"]), crs=4326, index=stops.index
    )
    moved = in_coords(points, coords).geometry
    stops["lon"], stops["lat"] = moved.x.to_numpy(), moved.y.to_numpy()
    stops["coordinates"] = pd.Series(coords_label(coords), index=stops.index)
    hotspots = plan.hotspots
    return dataclasses.replace(
        plan,
        routes=in_coords(plan.routes, coords),
        stops=stops,
        hotspots=None if hotspots is None else in_coords(hotspots, coords),
    )
