"""Checks shared by the grid modules: layer type, CRS, geometry kinds and needed columns.

Each raises :class:`~routing.errors.GridError` with a message that names the layer and
the fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import pandas as pd

from layers.i18n import _
from routing.errors import GridError


def check_frame(frame: Any, name: str, kinds: tuple[str, ...]) -> None:
    """Check that ``frame`` is a GeoDataFrame or GeoSeries with a CRS and ``kinds`` geometries.

    Parameters
    ----------
    frame
        The layer to check.
    name
        How the message names the layer (e.g. ``"lines"``).
    kinds
        Accepted geometry types (``"Polygon"``, ``"MultiPolygon"``...).

    Raises
    ------
    GridError
        If ``frame`` is not a geopandas layer, has no CRS or holds other geometries.
    """
    if not isinstance(frame, gpd.GeoDataFrame | gpd.GeoSeries):
        raise GridError(f"{name!r} should be a GeoDataFrame, got {type(frame).__name__}")
    if frame.crs is None:
        raise GridError(
            _(
                "%(layer)r has no coordinate reference system (CRS); set one (e.g. EPSG:4326) first",
                layer=name,
            )
        )
    types = set(frame.geom_type.dropna().unique())
    if not types <= set(kinds):
        raise GridError(
            _(
                "%(layer)r should hold %(kinds)s geometries, got %(found)s",
                layer=name,
                kinds=" or ".join(kinds),
                found=", ".join(sorted(types)),
            )
        )


def require_columns(frame: pd.DataFrame, layer: str, columns: Sequence[str]) -> None:
    """Check that ``frame`` has every one of ``columns``.

    Parameters
    ----------
    frame
        The table to check.
    layer
        How the message names the table, in the user's words (e.g. ``"the grids layer"``).
    columns
        Columns the table needs.

    Raises
    ------
    GridError
        Naming the missing columns and the ones the table has.
    """
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise GridError(
            _(
                "%(layer)s lacks the column(s) %(missing)s (it has %(columns)s); map them on import",
                layer=layer,
                missing=", ".join(missing),
                columns=", ".join(map(str, frame.columns)),
            )
        )
