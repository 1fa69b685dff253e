"""The entry points: every check over the layers of a workspace, one report."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import pandas as pd

from layers.errors import LayerError
from layers.incidents import parse_timestamps
from layers.validate.hierarchy import (
    area_metric_crs,
    check_incidents_in_area,
    check_nesting,
    check_placement,
)
from layers.validate.layer import CheckedLayer, check_layer
from layers.validate.references import check_parent_ids, check_units_references
from layers.validate.report import ProblemCollector, ValidationReport

logger = logging.getLogger(__name__)


def validate_layers(
    layers: Mapping[str, pd.DataFrame],
    *,
    area_tolerance: float = 0.02,
    area_buffer_m: float = 100.0,
    repair: bool = True,
    timezone: str = "UTC",
) -> ValidationReport:
    """Check workspace layers one by one and against each other, collecting every problem.

    Parameters
    ----------
    layers
        Layer name (see :data:`layers.schema.LAYERS`) to GeoDataFrame, or DataFrame for
        the ``units`` table.
    area_tolerance
        Share of a feature's area allowed outside its parent, of the smaller sibling's
        area allowed to overlap, and of a parent's area allowed to stay uncovered by its
        children (0.02 = 2 %).
    area_buffer_m
        Incidents within this distance of the area polygons count as inside.
    repair
        Repair invalid geometries with ``shapely.make_valid`` (reported as ``repaired``);
        when False they are errors.
    timezone
        IANA time zone of incident times given without an offset.

    Returns
    -------
    ValidationReport
        Repaired copies of the layers and every problem found; see the module docstring
        for the problem codes.

    Raises
    ------
    LayerError
        If the arguments themselves are wrong (not a mapping, bad tolerance or time zone).
        Problems in the data never raise here: call ``report.raise_if_errors()``.
    """
    if not isinstance(layers, Mapping):
        raise LayerError(
            f"'layers' should be a mapping of layer name to GeoDataFrame, got "
            f"{type(layers).__name__}; pass e.g. {{'grids': grids_gdf}}"
        )
    if not 0 <= area_tolerance < 1:
        raise LayerError(
            f"area_tolerance={area_tolerance!r} should be a share between 0 and 1, e.g. 0.02"
        )
    if area_buffer_m < 0:
        raise LayerError(f"area_buffer_m={area_buffer_m!r} should be 0 or more metres")
    # Fails fast on an unknown zone, before any data is looked at.
    parse_timestamps(pd.Series([], dtype="string"), tz=timezone)

    found = ProblemCollector()
    checked: dict[str, CheckedLayer] = {}
    for name, frame in layers.items():
        checked[name] = check_layer(frame, name, found, repair=repair, timezone=timezone)

    geo = {name: c.geo for name, c in checked.items() if c.geo is not None and len(c.geo)}
    check_placement(geo, found)
    frames = {name: c.frame for name, c in checked.items()}
    check_parent_ids(frames, found)
    check_units_references(frames, found)
    if geo:
        metric_crs = area_metric_crs(geo)
        check_nesting(geo, metric_crs, area_tolerance, found)
        check_incidents_in_area(geo, metric_crs, area_buffer_m, found)

    report = ValidationReport(frames, found.problems)
    logger.info(
        "validated %s layer(s): %s error(s), %s warning(s), %s repair(s)",
        f"{len(frames):,}",
        f"{len(report.errors):,}",
        f"{len(report.warnings):,}",
        f"{len(report.repairs):,}",
    )
    return report


def validate_layer(
    frame: pd.DataFrame,
    name: str,
    *,
    repair: bool = True,
    timezone: str = "UTC",
) -> ValidationReport:
    """Check one layer on its own (no cross-layer checks but its own siblings' overlaps).

    Parameters
    ----------
    frame
        The layer: a GeoDataFrame, or a DataFrame for ``units``.
    name
        Its layer name in :data:`layers.schema.LAYERS`.
    repair, timezone
        As in :func:`validate_layers`.

    Returns
    -------
    ValidationReport
        ``layers`` holds the one repaired layer under ``name``.
    """
    return validate_layers({name: frame}, repair=repair, timezone=timezone)
