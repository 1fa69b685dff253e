"""Default travel speeds per mode and road class, and parsing of road attributes.

The tables are free-flow patrol speeds in km/h. A class missing from a mode's table is not
usable by that mode (e.g. cars on footways, e-bikes and walkers on motorways).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from layers.i18n import pgettext
from layers.osm import parse_maxspeed_kph as parse_osm_maxspeed_kph

#: Modes of travel, as in ``layers.schema.UNIT_MODES``.
MODES = ("car", "ebike", "foot")


def mode_name(mode: str) -> str:
    """A mode of travel as messages name it (``car`` in English, 巡逻车 in Chinese); a mode
    the product does not know is named by its code."""
    names = {
        "car": pgettext("travel mode", "car"),
        "ebike": pgettext("travel mode", "ebike"),
        "foot": pgettext("travel mode", "foot"),
    }
    return names.get(mode, mode)


#: Class given to lines with no usable road class (e.g. TIGER-like data without ``highway``).
DEFAULT_HIGHWAY = "residential"

#: Car speeds: urban free-flow, used when a line has no ``maxspeed_kph``.
CAR_SPEED_KPH: dict[str, float] = {
    "motorway": 90.0,
    "motorway_link": 50.0,
    "trunk": 70.0,
    "trunk_link": 40.0,
    "primary": 50.0,
    "primary_link": 40.0,
    "secondary": 45.0,
    "secondary_link": 35.0,
    "tertiary": 40.0,
    "tertiary_link": 30.0,
    "unclassified": 30.0,
    "residential": 30.0,
    "road": 30.0,
    "living_street": 10.0,
    "service": 20.0,
    "track": 15.0,
    # police cars may enter pedestrian streets at walking-to-cycling pace
    "pedestrian": 10.0,
}

#: E-bike speeds; never faster than ``maxspeed_kph`` where known.
EBIKE_SPEED_KPH: dict[str, float] = {
    "trunk": 20.0,
    "trunk_link": 20.0,
    "primary": 20.0,
    "primary_link": 20.0,
    "secondary": 20.0,
    "secondary_link": 20.0,
    "tertiary": 20.0,
    "tertiary_link": 20.0,
    "unclassified": 20.0,
    "residential": 18.0,
    "road": 18.0,
    "living_street": 12.0,
    "service": 15.0,
    "track": 12.0,
    "cycleway": 20.0,
    "pedestrian": 10.0,
    "footway": 8.0,
    "path": 10.0,
}

#: Walking speeds; one-way restrictions do not apply on foot.
FOOT_SPEED_KPH: dict[str, float] = {
    cls: 5.0
    for cls in (
        "trunk",
        "trunk_link",
        "primary",
        "primary_link",
        "secondary",
        "secondary_link",
        "tertiary",
        "tertiary_link",
        "unclassified",
        "residential",
        "road",
        "living_street",
        "service",
        "track",
        "cycleway",
        "pedestrian",
        "footway",
        "path",
        "bridleway",
        "corridor",
    )
} | {"steps": 2.5}

SPEED_TABLES_KPH: dict[str, dict[str, float]] = {
    "car": CAR_SPEED_KPH,
    "ebike": EBIKE_SPEED_KPH,
    "foot": FOOT_SPEED_KPH,
}

#: US Census TIGER ``MTFCC`` feature class codes mapped to OSM-like road classes.
MTFCC_HIGHWAY: dict[str, str] = {
    "S1100": "motorway",
    "S1200": "primary",
    "S1400": "residential",
    "S1500": "track",
    "S1630": "motorway_link",
    "S1640": "service",
    "S1710": "footway",
    "S1720": "steps",
    "S1730": "service",
    "S1740": "service",
    "S1750": "service",
    "S1780": "service",
    "S1820": "cycleway",
    "S1830": "bridleway",
}

_MPH_TO_KPH = 1.609344


def road_class(values: pd.Series) -> NDArray[np.object_]:
    """Normalise a road-class column to one lower-case class per line.

    OSMnx-style lists and ``"a;b"`` values take their first class; missing values become
    :data:`DEFAULT_HIGHWAY`.
    """

    def first(value: object) -> str:
        if isinstance(value, list | tuple | np.ndarray):
            value = value[0] if len(value) else None
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return DEFAULT_HIGHWAY
        text = str(value).split(";")[0].strip().lower()
        return text or DEFAULT_HIGHWAY

    return np.array([first(v) for v in values.to_numpy(dtype=object)], dtype=object)


def parse_maxspeed_kph(values: pd.Series) -> NDArray[np.float64]:
    """Read speed limits as km/h (``50``, ``"30 mph"``, ``"CH:urban"``...); NaN when unknown.

    Text values go through :func:`layers.osm.parse_maxspeed_kph`, once per distinct value.
    """
    if pd.api.types.is_numeric_dtype(values):
        return values.to_numpy(dtype=float, na_value=np.nan)
    text = values.astype("string")
    speeds = {v: parse_osm_maxspeed_kph(v) for v in text.dropna().unique()}
    return text.map(speeds).to_numpy(dtype=float, na_value=np.nan)


def parse_oneway(values: pd.Series) -> NDArray[np.int8]:
    """Read one-way flags: 1 along the line, -1 against it, 0 both ways."""
    if pd.api.types.is_bool_dtype(values):
        return values.fillna(False).to_numpy(dtype=bool).astype(np.int8)
    text = values.astype("string").str.strip().str.lower()
    forward = text.isin(["yes", "true", "1", "t", "y"]).fillna(False).to_numpy(dtype=bool)
    backward = text.isin(["-1", "reverse"]).fillna(False).to_numpy(dtype=bool)
    return forward.astype(np.int8) - backward.astype(np.int8)


def mode_speed_kph(
    highway: NDArray[np.object_],
    maxspeed_kph: NDArray[np.float64],
    *,
    mode: str,
    speed_kph: Mapping[str, float] | None = None,
) -> NDArray[np.float64]:
    """Travel speed of every line for ``mode``; NaN where the mode may not use the line.

    Cars drive at the posted limit where known and at the class speed otherwise; e-bikes
    ride at the class speed capped by the limit; walkers ignore limits.
    """
    table = {**SPEED_TABLES_KPH[mode], **(speed_kph or {})}
    by_class = np.array([table.get(cls, np.nan) for cls in highway], dtype=float)
    limit = np.where(maxspeed_kph > 0, maxspeed_kph, np.nan)
    if mode == "car":
        return np.where(np.isnan(by_class) | np.isnan(limit), by_class, limit)
    if mode == "ebike":
        return np.fmin(by_class, np.where(np.isnan(by_class), np.nan, limit))
    return by_class
