"""Per-feature encoding shared by the map modules: rounded GeoJSON geometry, missing values.

Coordinates are rounded before they reach a page because finer digits are invisible on a
map and cost bytes; missing values (``None``, ``NaN``, ``NA``) show as empty text.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import shapely

__all__ = ["COORD_DECIMALS", "as_text", "is_missing", "rounded_mapping", "rounded_mappings"]

#: Decimals kept in EPSG:4326 coordinates: about 1 m at the equator.
COORD_DECIMALS = 5


def rounded_mapping(geom: Any) -> dict[str, Any] | None:
    """Return ``geom`` as a GeoJSON geometry dict with rounded coordinates.

    Parameters
    ----------
    geom
        A shapely geometry in EPSG:4326, or ``None``.

    Returns
    -------
    dict or None
        The GeoJSON geometry, or ``None`` for a missing or empty geometry.
    """
    return rounded_mappings([geom])[0]


def rounded_mappings(geoms: Any) -> list[dict[str, Any] | None]:
    """:func:`rounded_mapping` of every geometry of ``geoms`` (a sequence or array), in one
    pass over their coordinates and one JSON parse (a city layer has thousands)."""
    array = np.asarray(geoms, dtype=object).ravel()
    if not len(array):
        return []
    present = np.array([g is not None for g in array]) & ~shapely.is_empty(array)
    rounded = shapely.transform(array[present], lambda xy: np.round(xy, COORD_DECIMALS))
    parsed = iter(json.loads("[" + ",".join(shapely.to_geojson(rounded).tolist()) + "]"))
    return [next(parsed) if p else None for p in present]


def is_missing(value: Any) -> bool:
    """Whether ``value`` is a missing scalar (``None``, ``NaN``, ``pd.NA``, ``NaT``)."""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        # pd.isna of a list or array is element-wise: such a value is present
        return False


def as_text(value: Any) -> str:
    """``value`` as display text, empty when missing."""
    return "" if is_missing(value) else str(value)
