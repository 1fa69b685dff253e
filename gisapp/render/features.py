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

__all__ = ["COORD_DECIMALS", "as_text", "is_missing", "rounded_geojson", "rounded_mapping"]

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
    text = rounded_geojson([geom])[0]
    return None if text is None else json.loads(text)


def rounded_geojson(geoms: Any) -> list[str | None]:
    """Every geometry of ``geoms`` (a sequence or array in EPSG:4326) as GeoJSON text with
    rounded coordinates, in one pass over their coordinates; ``None`` for a missing or
    empty one. Maps put the text on the page as it is (see
    :class:`gisapp.render.figure.GeoJson`)."""
    array = np.asarray(geoms, dtype=object).ravel()
    if not len(array):
        return []
    present = np.array([g is not None for g in array]) & ~shapely.is_empty(array)
    rounded = shapely.transform(array[present], lambda xy: np.round(xy, COORD_DECIMALS))
    texts = iter(shapely.to_geojson(rounded).tolist())
    return [next(texts) if p else None for p in present]


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
