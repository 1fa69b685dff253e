"""Geometries whose rings do not close: read them closed, and remember which they were.

GDAL hands polygons over as they are written; GEOS refuses a ring whose last point is not
its first. :func:`read_closing_rings` closes such rings on reading and records the rows in
``frame.attrs``, so that the validator reports them (``unclosed_ring``) instead of the
reader failing on the whole file.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pyogrio
import shapely

#: ``frame.attrs`` key: row positions whose rings were closed on reading.
UNCLOSED_RINGS = "unclosed_rings"


def read_closing_rings(source: str, **kwargs: Any) -> pd.DataFrame:
    """Read ``source`` with :func:`pyogrio.read_dataframe`, closing rings that do not close.

    Parameters
    ----------
    source
        What :func:`pyogrio.read_dataframe` reads.
    **kwargs
        Passed on (``layer``, ``encoding``).

    Returns
    -------
    pandas.DataFrame
        The layer; ``attrs[UNCLOSED_RINGS]`` lists the row positions whose rings were
        closed. A geometry that cannot be closed is read as missing.
    """
    with warnings.catch_warnings():
        # GDAL warns once per unclosed ring; the validator reports them per feature.
        warnings.simplefilter("ignore", RuntimeWarning)
        fixed = pyogrio.read_dataframe(source, on_invalid="fix", **kwargs)
        as_is = pyogrio.read_dataframe(source, on_invalid="ignore", **kwargs)
    if "geometry" in fixed:
        refused = shapely.is_missing(as_is.geometry.to_numpy())
        closed = refused & ~shapely.is_missing(fixed.geometry.to_numpy())
        fixed.attrs[UNCLOSED_RINGS] = [int(i) for i in np.flatnonzero(closed)]
    return fixed


def unclosed_ring_rows(frame: pd.DataFrame) -> np.ndarray:
    """Boolean mask of the rows of ``frame`` whose rings were closed on reading."""
    mask = np.zeros(len(frame), dtype=bool)
    rows = [i for i in frame.attrs.get(UNCLOSED_RINGS, []) if 0 <= i < len(frame)]
    mask[rows] = True
    return mask
