"""Cross-layer id checks: parent ids, the units' stations and grids."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

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
        lambda i: (
            f"{labels[i]} of layer {name!r} has {key} {values[i]!r}, "
            f"which is not an id in {parent!r}"
        ),
        f"features of {name!r} whose {key} is not in {parent!r}",
        f"correct {key} to an existing {parent} id, or add that feature to {parent!r}",
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
            lambda i: (
                f"unit {labels[bad][i]} has station_id {values[bad][i]!r}, which is not "
                "an id in 'stations' or 'duty_points'"
            ),
            "units based at an unknown station",
            "set station_id to an existing station (or duty point) id",
        )
        both = _ids(frames.get("stations")) & _ids(frames.get("duty_points"))
        shared = (station.notna() & station.isin(both)).to_numpy()
        found.per_feature(
            "units",
            list(labels[shared]),
            "ambiguous_station",
            lambda i: (
                f"unit {labels[shared][i]} has station_id {values[shared][i]!r}, which is "
                "the id of both a station and a duty point"
            ),
            "units whose station_id names both a station and a duty point",
            "give the station and the duty point different ids, then correct station_id",
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
            lambda i: f"unit {labels[bad][i]} names grid(s) {names[i]} not in 'grids'",
            "units responsible for unknown grids",
            "correct grid_ids (comma-separated ids of existing grids)",
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
        lambda i: (
            f"grid {labels[bad][i]} has unit_id {values[bad][i]!r}, which is not an id in 'units'"
        ),
        "grids whose responsible unit is not in 'units'",
        "correct unit_id to an existing unit id, or add that unit to 'units'",
    )
