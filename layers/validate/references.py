"""Cross-layer id checks: parent ids, the units' stations and grids."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from layers.i18n import _
from layers.schema import LAYERS, parse_id_list
from layers.validate.attributes import feature_labels
from layers.validate.report import ProblemCollector


def _ids(frame: pd.DataFrame | None) -> set[str]:
    if frame is None or "id" not in frame.columns:
        return set()
    return set(frame["id"].dropna())


def check_parent_ids(frames: Mapping[str, pd.DataFrame], found: ProblemCollector) -> None:
    """Grids name existing communities and communities existing sub-districts."""
    for name, frame in frames.items():
        spec = LAYERS.get(name)
        if spec is None or spec.parent is None or frame.empty:
            continue
        key, parent = spec.parent
        if key in frame.columns and parent in frames:
            _check_parent_id(frame, name, key, parent, _ids(frames[parent]), found)


def _check_parent_id(
    frame: pd.DataFrame, name: str, key: str, parent: str, known: set[str], found: ProblemCollector
) -> None:
    keys = frame[key]
    bad = (keys.notna() & ~keys.isin(known)).to_numpy()
    labels = feature_labels(frame)[bad]
    values = keys.to_numpy(dtype=object)[bad]
    found.per_feature(
        name,
        list(labels),
        "unknown_parent",
        lambda i: _(
            "%(feature)s of layer %(layer)s has %(key)s %(value)s, which is not an id in "
            "%(parent)s",
            feature=labels[i],
            layer=repr(name),
            key=key,
            value=repr(values[i]),
            parent=repr(parent),
        ),
        _(
            "features of %(layer)s whose %(key)s is not in %(parent)s",
            layer=repr(name),
            key=key,
            parent=repr(parent),
        ),
        _(
            "correct %(key)s to an existing %(parent_layer)s id, or add that feature to %(parent)s",
            key=key,
            parent_layer=parent,
            parent=repr(parent),
        ),
    )


def check_units_references(frames: Mapping[str, pd.DataFrame], found: ProblemCollector) -> None:
    """The units' stations and grids exist."""
    units = frames.get("units")
    if units is None or units.empty:
        return
    labels = feature_labels(units)
    if "station_id" in units.columns and ("stations" in frames or "duty_points" in frames):
        known = _ids(frames.get("stations")) | _ids(frames.get("duty_points"))
        station = units["station_id"]
        bad = (station.notna() & ~station.isin(known)).to_numpy()
        values = station.to_numpy(dtype=object)
        found.per_feature(
            "units",
            list(labels[bad]),
            "unknown_station",
            lambda i: _(
                "unit %(unit)s has station_id %(value)s, which is not an id in 'stations' or "
                "'duty_points'",
                unit=labels[bad][i],
                value=repr(values[bad][i]),
            ),
            _("units based at an unknown station"),
            _("set station_id to an existing station (or duty point) id"),
        )
        both = _ids(frames.get("stations")) & _ids(frames.get("duty_points"))
        shared = (station.notna() & station.isin(both)).to_numpy()
        found.per_feature(
            "units",
            list(labels[shared]),
            "ambiguous_station",
            lambda i: _(
                "unit %(unit)s has station_id %(value)s, which is the id of both a station "
                "and a duty point",
                unit=labels[shared][i],
                value=repr(values[shared][i]),
            ),
            _("units whose station_id names both a station and a duty point"),
            _("give the station and the duty point different ids, then correct station_id"),
        )
    if "grid_ids" in units.columns and "grids" in frames:
        known = _ids(frames["grids"])
        unknown = [[g for g in parse_id_list(v) if g not in known] for v in units["grid_ids"]]
        bad = np.array([bool(u) for u in unknown], dtype=bool)
        names = [", ".join(u) for u, b in zip(unknown, bad, strict=True) if b]
        found.per_feature(
            "units",
            list(labels[bad]),
            "unknown_grid",
            lambda i: _(
                "unit %(unit)s names grid(s) %(grids)s not in 'grids'",
                unit=labels[bad][i],
                grids=names[i],
            ),
            _("units responsible for unknown grids"),
            _("correct grid_ids (comma-separated ids of existing grids)"),
        )


def check_grid_units(frames: Mapping[str, pd.DataFrame], found: ProblemCollector) -> None:
    """The unit each grid names (``grids.unit_id``) exists in ``units``."""
    grids, units = frames.get("grids"), frames.get("units")
    if grids is None or units is None or "unit_id" not in grids.columns or units.empty:
        return
    known = _ids(units)
    unit = grids["unit_id"]
    bad = (unit.notna() & ~unit.isin(known)).to_numpy()
    labels = feature_labels(grids)
    values = unit.to_numpy(dtype=object)
    found.per_feature(
        "grids",
        list(labels[bad]),
        "unknown_unit",
        lambda i: _(
            "grid %(grid)s has unit_id %(value)s, which is not an id in 'units'",
            grid=labels[bad][i],
            value=repr(values[bad][i]),
        ),
        _("grids whose responsible unit is not in 'units'"),
        _("correct unit_id to an existing unit id, or add that unit to 'units'"),
    )
