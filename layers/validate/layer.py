"""The checks of one layer on its own, from its table to its geometries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import pandas as pd

from layers.i18n import _
from layers.schema import LAYERS
from layers.validate.attributes import (
    as_id_strings,
    check_filled,
    check_ids,
    check_units,
    feature_labels,
)
from layers.validate.categories import check_categories
from layers.validate.geometry import check_crs, check_geometry
from layers.validate.incidents import TimeWindow, check_incidents
from layers.validate.report import ProblemCollector


@dataclass
class CheckedLayer:
    """One layer after the per-layer checks."""

    frame: pd.DataFrame
    #: Usable features in EPSG:4326 for cross-layer checks, or None when there are none.
    geo: gpd.GeoDataFrame | None = None


def check_layer(
    frame: Any,
    name: str,
    found: ProblemCollector,
    *,
    repair: bool,
    timezone: str,
    window: TimeWindow | None = None,
) -> CheckedLayer:
    """Every check of one layer on its own; the repaired copy and its usable geometries."""
    if not isinstance(frame, pd.DataFrame):
        found.add(
            name,
            None,
            "not_a_table",
            _(
                "layer %(layer)s should be a GeoDataFrame or DataFrame, got %(kind)s",
                layer=repr(name),
                kind=type(frame).__name__,
            ),
            _("read the file with layers.io.read_layer and pass the resulting GeoDataFrame"),
        )
        return CheckedLayer(pd.DataFrame())
    frame = frame.copy()
    spec = LAYERS.get(name)
    if spec is None:
        found.add(
            name,
            None,
            "unknown_layer",
            _(
                "layer %(layer)s is not part of the workspace model and was not checked",
                layer=repr(name),
            ),
            _(
                "rename it to one of %(layers)s or map it on import",
                layers=", ".join(LAYERS),
            ),
            "warning",
        )
        return CheckedLayer(frame)
    if frame.empty:
        found.add(
            name,
            None,
            "empty_layer",
            _("layer %(layer)s has no features", layer=repr(name)),
            _(
                "add %(layer)s to the file, or leave the layer out of the workspace",
                layer=name,
            ),
        )
        return CheckedLayer(frame)

    missing = [f for f in spec.required if f not in frame.columns]
    if missing:
        present = ", ".join(str(c) for c in frame.columns if c != "geometry") or _("none")
        found.add(
            name,
            None,
            "missing_field",
            _(
                "layer %(layer)s lacks required field(s) %(missing)s; its fields are: %(present)s",
                layer=repr(name),
                missing=", ".join(missing),
                present=present,
            ),
            _("rename the matching columns (field mapping on import) or add the missing fields"),
        )
    for id_field in ("id", *(f for f in frame.columns if str(f).endswith("_id"))):
        if id_field in frame.columns:
            frame[id_field] = as_id_strings(frame[id_field])
    labels = feature_labels(frame)
    if "id" in frame.columns:
        check_ids(frame["id"], labels, name, found)
    # id and occurred_at have their own codes; the rest share one.
    for required in spec.required:
        if required in frame.columns and required not in ("id", "occurred_at"):
            check_filled(frame[required], labels, name, found)

    if spec.is_table:
        if name == "units":
            check_units(frame, labels, found)
        elif name == "categories":
            check_categories(frame, found)
        return CheckedLayer(frame)

    if not isinstance(frame, gpd.GeoDataFrame) or frame._geometry_column_name not in frame:
        found.add(
            name,
            None,
            "not_spatial",
            _(
                "layer %(layer)s has no geometry column; %(geometry)s geometries are expected",
                layer=repr(name),
                geometry=spec.geometry[0],
            ),
            _("read it with coordinates (lon/lat columns or WKT) or from a spatial file"),
        )
        return CheckedLayer(frame)

    usable = check_geometry(frame, labels, spec, found, repair=repair)
    frame, geo = check_crs(frame, labels, usable, name, found)
    if name == "incidents":
        check_incidents(frame, labels, found, timezone=timezone, window=window)
    return CheckedLayer(frame, geo)
