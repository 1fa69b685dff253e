"""Read GeoParquet files (``.parquet`` / ``.geoparquet``), bounded like every other format.

The row count is taken from the file's footer and the vertices of its geometry column are
counted in batches before anything is read into memory
(:func:`layers.limits.probe_parquet`); then :func:`geopandas.read_parquet` reads it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyarrow as pa

from layers.errors import LayerError
from layers.i18n import _
from layers.limits import ReadLimits, check_frame, probe_parquet

__all__ = ["PARQUET_MAGIC", "read_parquet_layer"]

logger = logging.getLogger(__name__)

#: The first (and last) four bytes of every Parquet file.
PARQUET_MAGIC = b"PAR1"


def read_parquet_layer(file: Path, *, limits: ReadLimits) -> gpd.GeoDataFrame | pd.DataFrame:
    """Read a GeoParquet file as one layer.

    Parameters
    ----------
    file
        The file.
    limits
        Bounds on its features and vertices, checked before it is read.

    Returns
    -------
    geopandas.GeoDataFrame or pandas.DataFrame
        The layer in the file's CRS; a DataFrame for a plain Parquet table (no
        GeoParquet metadata), e.g. ``units``.

    Raises
    ------
    LayerError
        If the file is not readable Parquet; :class:`~layers.limits.LimitError` if it
        goes beyond ``limits``.
    """
    column = probe_parquet(file, str(file), limits)
    fix = _("export the layer as GeoParquet again (e.g. GeoDataFrame.to_parquet or QGIS)")
    try:
        frame = gpd.read_parquet(file) if column else pd.read_parquet(file)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise LayerError(
            _("cannot read '%(file)s' (%(reason)s); %(fix)s", file=file, reason=exc, fix=fix)
        ) from None
    check_frame(frame, str(file), limits)
    logger.info("read %s features from %s", f"{len(frame):,}", file.name)
    return frame
