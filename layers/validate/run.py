"""The entry points: every check over the layers of a workspace, one report."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import geopandas as gpd
import pandas as pd

from layers.errors import LayerError
from layers.fields import auto_filled_fields
from layers.i18n import _
from layers.incidents import parse_timestamps
from layers.schema import LAYERS
from layers.validate.hierarchy import (
    AREA_LAYERS,
    area_metric_crs,
    check_incidents_in_area,
    check_nesting,
    check_placement,
)
from layers.validate.incidents import TimeWindow, fill_occurred_at
from layers.validate.layer import CheckedLayer, check_layer
from layers.validate.pileups import check_pileups
from layers.validate.references import (
    check_grid_units,
    check_parent_ids,
    check_units_references,
)
from layers.validate.report import ProblemCollector, ValidationReport
from layers.validate.workspace import check_in_workspace

logger = logging.getLogger(__name__)

#: The start of generated ids per layer: ``inc-000001`` is the first incident.
ID_PREFIXES = {
    "incidents": "inc",
    "stations": "stn",
    "duty_points": "dp",
    "key_places": "kp",
    "cameras": "cam",
}


def validate_layers(
    layers: Mapping[str, pd.DataFrame],
    *,
    area_tolerance: float = 0.02,
    area_buffer_m: float = 100.0,
    repair: bool = True,
    timezone: str = "UTC",
    workspace: Mapping[str, pd.DataFrame] | None = None,
    time_window: tuple[object, object] | None = None,
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
    workspace
        The layers already in the workspace that ``layers`` are meant for. Its layers
        that ``layers`` does not replace take part in every check, and the spatial
        layers of ``layers`` must lie in its area (its outermost area layer, else its
        roads' extent): see ``outside_workspace`` and ``swapped_lat_lon``.
    time_window
        Earliest and latest plausible incident time (dates or timestamps, UTC when
        naive); by default 1990-01-01 to one day after now.

    Returns
    -------
    ValidationReport
        Repaired copies of the layers (with the workspace's, when given) and every
        problem found; see the module docstring for the problem codes.

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
    # Fails fast on an unknown zone or window, before any data is looked at.
    parse_timestamps(pd.Series([], dtype="string"), tz=timezone)
    window = TimeWindow.of(time_window)
    context = dict(workspace or {})

    found = ProblemCollector()
    checked: dict[str, CheckedLayer] = {}
    filled = {name: fill_fields(frame, name, found) for name, frame in layers.items()}
    for name, frame in {**context, **filled}.items():
        checked[name] = check_layer(
            frame, name, found, repair=repair, timezone=timezone, window=window
        )

    frames = {name: c.frame for name, c in checked.items()}
    geo = {name: c.geo for name, c in checked.items() if c.geo is not None and len(c.geo)}
    _check_across(frames, geo, list(context), list(layers), area_tolerance, area_buffer_m, found)

    report = ValidationReport(frames, found.problems)
    logger.info(
        "validated %s layer(s): %s error(s), %s warning(s), %s repair(s)",
        f"{len(frames):,}",
        f"{len(report.errors):,}",
        f"{len(report.warnings):,}",
        f"{len(report.repairs):,}",
    )
    return report


def fill_fields(frame: object, name: str, found: ProblemCollector) -> object:
    """Fill the required fields a captain's file may lack (see ``auto_filled_fields``).

    A point layer without an ``id`` field gets ids from its row order and its name
    (``inc-000001``, ``inc-000002`` ...: the same file gives the same ids), reported as
    ``generated_id``; incidents without ``occurred_at`` get an empty one
    (``no_time_field``). Layers that have the field are returned unchanged, whatever
    their values: missing or repeated ids stay errors.

    Parameters
    ----------
    frame
        A layer as given to :func:`validate_layers` (anything: the checks report what
        is not a table).
    name
        Its layer name.
    found
        Where the repairs and warnings go.

    Returns
    -------
    object
        ``frame``, or a copy with the fields added.
    """
    if not isinstance(frame, pd.DataFrame) or name not in LAYERS or frame.empty:
        return frame
    auto = auto_filled_fields(name)
    if "id" in auto and "id" not in frame.columns:
        prefix = ID_PREFIXES.get(name, name)
        frame = frame.copy()
        ids = [f"{prefix}-{row:06d}" for row in range(1, len(frame) + 1)]
        frame.insert(0, "id", pd.Series(ids, index=frame.index, dtype=object))
        found.add(
            name,
            None,
            "generated_id",
            _(
                "layer %(layer)s has no id field; its %(count)s features were given ids in "
                "file order, %(first)s to %(last)s",
                layer=repr(name),
                count=format(len(frame), ","),
                first=ids[0],
                last=ids[-1],
            ),
            _("nothing to do; add an id column (or map one, id=COLUMN) to keep your own ids"),
            "repaired",
        )
    if "occurred_at" in auto:
        frame = fill_occurred_at(frame, found)
    return frame


def _check_across(
    frames: dict[str, pd.DataFrame],
    geo: dict[str, gpd.GeoDataFrame],
    workspace_names: list[str],
    new_names: list[str],
    area_tolerance: float,
    area_buffer_m: float,
    found: ProblemCollector,
) -> None:
    """The checks across layers: ids, placement, nesting, the area (of the workspace)."""
    check_placement(geo, found)
    check_parent_ids(frames, found)
    check_units_references(frames, found)
    check_grid_units(frames, found)
    if not geo:
        return
    metric_crs = area_metric_crs(geo)
    check_nesting(geo, metric_crs, area_tolerance, found)
    check_incidents_in_area(geo, metric_crs, area_buffer_m, found)
    check_pileups(frames, geo, found)
    if workspace_names:
        check_in_workspace(geo, workspace_names, new_names, metric_crs, area_buffer_m, found)
    else:
        # Layers checked together: the area layers tell which points are swapped.
        areas = [n for n in AREA_LAYERS if n in geo]
        others = [n for n in geo if n not in AREA_LAYERS]
        check_in_workspace(geo, areas, others, metric_crs, area_buffer_m, found, swapped_only=True)


def validate_layer(
    frame: pd.DataFrame,
    name: str,
    *,
    repair: bool = True,
    timezone: str = "UTC",
    workspace: Mapping[str, pd.DataFrame] | None = None,
) -> ValidationReport:
    """Check one layer on its own (no cross-layer checks but its own siblings' overlaps).

    Parameters
    ----------
    frame
        The layer: a GeoDataFrame, or a DataFrame for ``units``.
    name
        Its layer name in :data:`layers.schema.LAYERS`.
    repair, timezone, workspace
        As in :func:`validate_layers`.

    Returns
    -------
    ValidationReport
        ``layers`` holds the one repaired layer under ``name``.
    """
    return validate_layers({name: frame}, repair=repair, timezone=timezone, workspace=workspace)
