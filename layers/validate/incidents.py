"""Checks of the incident attributes: times, severity, the preventable flag."""

from __future__ import annotations

import numpy as np
import pandas as pd

from layers.incidents import parse_timestamps
from layers.validate.report import ProblemCollector

_TRUE = {"true", "t", "yes", "y", "1", "是", "对"}


_FALSE = {"false", "f", "no", "n", "0", "否", "不"}


def check_incidents(
    frame: pd.DataFrame, labels: np.ndarray, found: ProblemCollector, *, timezone: str
) -> None:
    """Incident times, severity and the preventable flag (coerced when it can be)."""
    if "occurred_at" in frame.columns:
        raw = frame["occurred_at"]
        parsed = parse_timestamps(raw, tz=timezone)
        blank = raw.isna().to_numpy() | (
            raw.astype("string").str.strip().eq("").fillna(False).to_numpy(dtype=bool)
        )
        unparseable = parsed.isna().to_numpy() & ~blank
        values = raw.to_numpy(dtype=object)
        found.per_feature(
            "incidents",
            list(labels[blank]),
            "missing_time",
            lambda i: f"incident {labels[blank][i]} has no occurred_at",
            "incidents without a time",
            "fill in occurred_at (date and time), or remove the incidents",
        )
        found.per_feature(
            "incidents",
            list(labels[unparseable]),
            "unparseable_time",
            lambda i: (
                f"incident {labels[unparseable][i]} has occurred_at "
                f"{values[unparseable][i]!r}, which is not a readable date and time"
            ),
            "incidents whose time cannot be read",
            "write times as ISO 8601 (2024-02-15 21:48) or map the date and time columns",
        )
        frame["occurred_at"] = parsed

    if "severity" in frame.columns:
        raw = frame["severity"]
        number = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            bad = raw.notna().to_numpy() & ~((number >= 1) & (number <= 5))
        values = raw.to_numpy(dtype=object)
        found.per_feature(
            "incidents",
            list(labels[bad]),
            "severity_out_of_range",
            lambda i: (
                f"incident {labels[bad][i]} has severity {values[bad][i]!r}, "
                "expected a number from 1 to 5"
            ),
            "incidents with a severity outside 1-5",
            "set severity from 1 (minor) to 5 (most severe), or leave it empty",
        )

    if "preventable" in frame.columns and not pd.api.types.is_bool_dtype(
        frame["preventable"].dtype
    ):
        raw = frame["preventable"]
        text = raw.map(lambda v: str(v).strip().lower(), na_action="ignore")
        text = text.map(lambda s: s[:-2] if s.endswith(".0") else s, na_action="ignore")
        as_bool = pd.Series(pd.NA, index=raw.index, dtype="boolean")
        as_bool[text.isin(_TRUE)] = True
        as_bool[text.isin(_FALSE)] = False
        bad = (raw.notna() & as_bool.isna()).to_numpy()
        values = raw.to_numpy(dtype=object)
        found.per_feature(
            "incidents",
            list(labels[bad]),
            "preventable_not_boolean",
            lambda i: (
                f"incident {labels[bad][i]} has preventable {values[bad][i]!r}, "
                "expected yes/no (true/false, 1/0)"
            ),
            "incidents whose preventable flag is not yes/no",
            "set preventable to true or false (可防性案件: robbery, theft, burglary...)",
        )
        if not bad.any():
            # Booleans with gaps (object dtype) convert without comment; text and numbers
            # are reported, since "0"/"否" read as False is a guess the user should see.
            if not raw.dropna().map(lambda v: isinstance(v, bool | np.bool_)).all():
                found.add(
                    "incidents",
                    None,
                    "preventable_coerced",
                    f"preventable held {raw.dtype} values such as "
                    f"{raw.dropna().iloc[0]!r} and was converted to true/false",
                    "nothing to do; store preventable as a boolean field to skip this step",
                    "repaired",
                )
            frame["preventable"] = as_bool
