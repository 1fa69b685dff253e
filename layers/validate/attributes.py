"""Attribute checks of one layer: ids, required values, the units table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from layers.i18n import _
from layers.schema import UNIT_MODES, parse_id_list
from layers.validate.report import ProblemCollector


def as_id_strings(values: pd.Series) -> pd.Series:
    """Ids as strings: ``7`` and ``7.0`` both become ``"7"``; blanks become missing."""
    if pd.api.types.is_float_dtype(values.dtype):
        finite = values.dropna()
        if (finite == np.round(finite)).all():
            values = values.astype("Int64")
    text = values.map(lambda v: str(v).strip(), na_action="ignore")
    return text.where(text.notna() & (text != ""), None).astype("object")


def feature_labels(frame: pd.DataFrame) -> np.ndarray:
    """How to name each feature in a message: its id, or its row number."""
    if "id" in frame.columns:
        labels = frame["id"].to_numpy(dtype=object).copy()
    else:
        labels = np.full(len(frame), None, dtype=object)
    # the row numbers are worded only where there is no id (a city's layers have them)
    missing = np.flatnonzero(pd.isna(labels))
    labels[missing] = [_("row %(row)s", row=int(i)) for i in missing]
    return labels


def check_ids(ids: pd.Series, labels: np.ndarray, name: str, found: ProblemCollector) -> None:
    """Every feature has an id, and no two share one."""
    missing = ids.isna().to_numpy()
    found.per_feature(
        name,
        list(labels[missing]),
        "missing_id",
        lambda i: _(
            "%(feature)s of layer %(layer)s has no id",
            feature=labels[missing][i],
            layer=repr(name),
        ),
        _("features of %(layer)s without an id", layer=repr(name)),
        _("give every feature a unique id"),
    )
    dup = ids[ids.duplicated(keep=False) & ids.notna()]
    if dup.empty:
        return
    rows = pd.Series(np.arange(len(ids)), index=ids.index)[dup.index]
    groups = rows.groupby(dup.to_numpy(), sort=True).agg(list)
    keys = [str(k) for k in groups.index]
    found.per_feature(
        name,
        keys,
        "duplicate_id",
        lambda i: _(
            "id %(id)s of layer %(layer)s is used by %(count)s features (rows %(rows)s)",
            id=repr(keys[i]),
            layer=repr(name),
            count=len(groups.iloc[i]),
            rows=", ".join(map(str, groups.iloc[i])),
        ),
        _("ids used more than once in %(layer)s", layer=repr(name)),
        _("give each feature its own id (ids must be unique within a layer)"),
    )


def check_filled(values: pd.Series, labels: np.ndarray, name: str, found: ProblemCollector) -> None:
    """Every feature has a value (not null, not blank) in a required field."""
    blank = values.isna().to_numpy() | (
        values.astype("string").str.strip().eq("").fillna(False).to_numpy(dtype=bool)
    )
    field_name = values.name
    found.per_feature(
        name,
        list(labels[blank]),
        "missing_value",
        lambda i: _(
            "%(feature)s of layer %(layer)s has no %(field)s",
            feature=labels[blank][i],
            layer=repr(name),
            field=field_name,
        ),
        _("features of %(layer)s without %(field)s", layer=repr(name), field=field_name),
        _(
            "fill in %(field)s: it is required for every feature of %(layer)s",
            field=field_name,
            layer=repr(name),
        ),
    )


def check_units(frame: pd.DataFrame, labels: np.ndarray, found: ProblemCollector) -> None:
    """Every unit's ``mode`` is one of :data:`layers.schema.UNIT_MODES`."""
    if "mode" in frame.columns:
        mode = frame["mode"].map(lambda v: str(v).strip().lower(), na_action="ignore")
        bad = (frame["mode"].notna() & ~mode.isin(UNIT_MODES)).to_numpy()
        values = frame["mode"].to_numpy(dtype=object)
        found.per_feature(
            "units",
            list(labels[bad]),
            "unknown_mode",
            lambda i: _(
                "unit %(unit)s has mode %(mode)s, expected one of %(modes)s",
                unit=labels[bad][i],
                mode=repr(values[bad][i]),
                modes=", ".join(UNIT_MODES),
            ),
            _("units with an unknown mode"),
            _("set mode to one of %(modes)s", modes=", ".join(UNIT_MODES)),
        )
        frame["mode"] = mode.where(~bad, frame["mode"])
    if "grid_ids" in frame.columns:
        frame["grid_ids"] = [",".join(parse_id_list(v)) for v in frame["grid_ids"]]
