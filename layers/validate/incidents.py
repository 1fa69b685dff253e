"""Checks of the incident attributes: times, severity, the preventable flag."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from layers.errors import LayerError
from layers.i18n import _
from layers.incidents import parse_timestamps_checked
from layers.validate.dates import stray_dates
from layers.validate.report import ProblemCollector

#: Incidents before this date are implausible by default (placeholders such as 0001-01-01).
EARLIEST_TIME = pd.Timestamp("1990-01-01", tz="UTC")
#: Incidents later than this after the validation are implausible by default.
FUTURE_SLACK = pd.Timedelta(days=1)


@dataclass(frozen=True)
class TimeWindow:
    """Incident times outside ``[earliest, latest]`` are implausible (both UTC)."""

    earliest: pd.Timestamp
    latest: pd.Timestamp

    @classmethod
    def of(cls, window: tuple[object, object] | None) -> TimeWindow:
        """The window given as two dates or timestamps; by default 1990 to tomorrow.

        Raises
        ------
        LayerError
            If a bound is not a date, or the window is empty.
        """
        if window is None:
            return cls(EARLIEST_TIME, pd.Timestamp.now(tz="UTC") + FUTURE_SLACK)
        try:
            earliest, latest = (pd.Timestamp(bound) for bound in window)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise LayerError(
                _(
                    "time_window=%(window)s should be two dates, e.g. ('1990-01-01', '2030-01-01')",
                    window=repr(window),
                )
            ) from None
        earliest = earliest.tz_localize("UTC") if earliest.tzinfo is None else earliest
        latest = latest.tz_localize("UTC") if latest.tzinfo is None else latest
        if not earliest < latest:
            raise LayerError(
                _("time_window=%(window)s should start before it ends", window=repr(window))
            )
        return cls(earliest.tz_convert("UTC"), latest.tz_convert("UTC"))


_TRUE = {"true", "t", "yes", "y", "1", "是", "对"}


_FALSE = {"false", "f", "no", "n", "0", "否", "不"}


def check_incidents(
    frame: pd.DataFrame,
    labels: np.ndarray,
    found: ProblemCollector,
    *,
    timezone: str,
    window: TimeWindow | None = None,
) -> None:
    """Incident times, severity and the preventable flag (coerced when it can be)."""
    if "occurred_at" in frame.columns:
        frame["occurred_at"] = check_occurred_at(
            frame["occurred_at"], labels, found, timezone=timezone, window=window
        )

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
            lambda i: _(
                "incident %(incident)s has severity %(value)s, expected a number from 1 to 5",
                incident=labels[bad][i],
                value=repr(values[bad][i]),
            ),
            _("incidents with a severity outside 1-5"),
            _("set severity from 1 (minor) to 5 (most severe), or leave it empty"),
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
            lambda i: _(
                "incident %(incident)s has preventable %(value)s, expected yes/no "
                "(true/false, 1/0)",
                incident=labels[bad][i],
                value=repr(values[bad][i]),
            ),
            _("incidents whose preventable flag is not yes/no"),
            _("set preventable to true or false (可防性案件: robbery, theft, burglary...)"),
        )
        if not bad.any():
            # Booleans with gaps (object dtype) convert without comment; text and numbers
            # are reported, since "0"/"否" read as False is a guess the user should see.
            if not raw.dropna().map(lambda v: isinstance(v, bool | np.bool_)).all():
                found.add(
                    "incidents",
                    None,
                    "preventable_coerced",
                    _(
                        "preventable held %(dtype)s values such as %(value)s and was "
                        "converted to true/false",
                        dtype=raw.dtype,
                        value=repr(raw.dropna().iloc[0]),
                    ),
                    _("nothing to do; store preventable as a boolean field to skip this step"),
                    "repaired",
                )
            frame["preventable"] = as_bool


def check_occurred_at(
    raw: pd.Series,
    labels: np.ndarray,
    found: ProblemCollector,
    *,
    timezone: str,
    window: TimeWindow | None,
) -> pd.Series:
    """Missing, unreadable, implausible and DST-shifted times; return them in UTC.

    Incidents without a readable time are kept, with a missing time (``NaT``), for maps
    and places; time analyses leave them out. They are warnings, with one summary
    (``undated_incidents``) giving their count and share.
    """
    times = parse_timestamps_checked(raw, tz=timezone)
    parsed = times.utc
    blank = raw.isna().to_numpy() | (
        raw.astype("string").str.strip().eq("").fillna(False).to_numpy(dtype=bool)
    )
    unparseable = parsed.isna().to_numpy() & ~blank
    values = raw.to_numpy(dtype=object)
    # When no incident has a time, the one summary below says it all.
    listed_blank = blank if not blank.all() else np.zeros(len(blank), dtype=bool)
    found.per_feature(
        "incidents",
        list(labels[listed_blank]),
        "missing_time",
        lambda i: _(
            "incident %(incident)s has no occurred_at; it is kept without a time (left out "
            "of time figures)",
            incident=labels[listed_blank][i],
        ),
        _("incidents without a time, kept without one"),
        _(
            "fill in occurred_at (date and time) to count these incidents in shift and "
            "trend figures"
        ),
        "warning",
    )
    found.per_feature(
        "incidents",
        list(labels[unparseable]),
        "unparseable_time",
        lambda i: _(
            "incident %(incident)s has occurred_at %(value)s, which is not a readable date "
            "and time; it is kept without a time (left out of time figures)",
            incident=labels[unparseable][i],
            value=repr(values[unparseable][i]),
        ),
        _("incidents whose time cannot be read, kept without one"),
        _(
            "write times as ISO 8601 (2024-02-15 21:48) or map the date and time columns "
            "(occurred_at=DATE_COLUMN+TIME_COLUMN)"
        ),
        "warning",
    )
    report_undated(int(blank.sum() + unparseable.sum()), len(raw), found)
    check_times(raw, times.utc, labels, found, window=window or TimeWindow.of(None))
    check_stray_times(raw, parsed, labels, found)
    check_clock_changes(raw, times.ambiguous, times.nonexistent, labels, found, timezone)
    return parsed


def report_undated(undated: int, total: int, found: ProblemCollector) -> None:
    """One warning with how many incidents have no usable time, and their share."""
    if not undated or not total:
        return
    if undated == total:
        message = _(
            "none of the %(total)s incidents has a readable time; they are imported for "
            "maps and places, and shift, hour and trend figures will be empty",
            total=format(total, ","),
        )
    else:
        message = _(
            "%(count)s of %(total)s incidents (%(share)s) have no readable time; they are "
            "kept for maps and places and left out of shift, hour and trend figures",
            count=format(undated, ","),
            total=format(total, ","),
            share=format(undated / total, ".1%"),
        )
    found.add(
        "incidents",
        None,
        "undated_incidents",
        message,
        _(
            "map the time column (occurred_at=COLUMN, or occurred_at=DATE_COLUMN+TIME_COLUMN) "
            "or fill in the times, then import again"
        ),
        "warning",
    )


def fill_occurred_at(frame: pd.DataFrame, found: ProblemCollector) -> pd.DataFrame:
    """Incidents without an ``occurred_at`` field: add it empty and warn once.

    Parameters
    ----------
    frame
        The incidents as read.
    found
        Where the warning (``no_time_field``) goes.

    Returns
    -------
    pandas.DataFrame
        ``frame`` itself when it has the field, else a copy with an empty one.
    """
    if "occurred_at" in frame.columns or frame.empty:
        return frame
    present = ", ".join(str(c) for c in frame.columns if c != "geometry") or _("none")
    found.add(
        "incidents",
        None,
        "no_time_field",
        _(
            "the incidents have no occurred_at field (their fields are: %(present)s); all "
            "%(count)s are imported without a time, for maps and places only",
            present=present,
            count=format(len(frame), ","),
        ),
        _(
            "map the time column, e.g. occurred_at=发案时间, or a date and an hour column, "
            "e.g. occurred_at=发案日期+发案时段"
        ),
        "warning",
    )
    out = frame.copy()
    out["occurred_at"] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us, UTC]")
    return out


def check_times(
    raw: pd.Series,
    parsed: pd.Series,
    labels: np.ndarray,
    found: ProblemCollector,
    *,
    window: TimeWindow,
) -> None:
    """Incident times before ``window.earliest`` or after ``window.latest`` (errors)."""
    values = raw.to_numpy(dtype=object)
    utc = parsed.to_numpy(dtype=object)
    known = parsed.notna().to_numpy()
    early = known & (parsed < window.earliest).fillna(False).to_numpy(dtype=bool)
    late = known & (parsed > window.latest).fillna(False).to_numpy(dtype=bool)
    bad = early | late
    first, last = f"{window.earliest:%Y-%m-%d}", f"{window.latest:%Y-%m-%d %H:%M}"
    found.per_feature(
        "incidents",
        list(labels[bad]),
        "implausible_time",
        lambda i: (
            _(
                "incident %(incident)s has occurred_at %(value)s (%(utc)s UTC), before %(first)s",
                incident=labels[bad][i],
                value=repr(values[bad][i]),
                utc=str(utc[bad][i])[:16],
                first=first,
            )
            if early[bad][i]
            else _(
                "incident %(incident)s has occurred_at %(value)s (%(utc)s UTC), in the "
                "future (after %(last)s UTC)",
                incident=labels[bad][i],
                value=repr(values[bad][i]),
                utc=str(utc[bad][i])[:16],
                last=last,
            )
        ),
        _("incidents dated before %(first)s or after %(last)s UTC", first=first, last=last),
        _(
            "correct the date (0001-01-01 or 9999-12-31 often stand for 'unknown'), or "
            "remove these incidents"
        ),
    )


def check_stray_times(
    raw: pd.Series, parsed: pd.Series, labels: np.ndarray, found: ProblemCollector
) -> None:
    """A few incidents dated years apart from all the others (:func:`stray_dates`): a
    warning, as time figures will leave them out."""
    known = parsed.notna().to_numpy()
    stray = np.zeros(len(parsed), dtype=bool)
    stray[known] = stray_dates(parsed[known]).to_numpy()
    values = raw.to_numpy(dtype=object)
    found.per_feature(
        "incidents",
        list(labels[stray]),
        "stray_time",
        lambda i: _(
            "incident %(incident)s has occurred_at %(value)s, years apart from all the other "
            "incidents; it is kept and left out of time figures",
            incident=labels[stray][i],
            value=repr(values[stray][i]),
        ),
        _("incidents dated years apart from all the others"),
        _(
            "check these dates (a placeholder such as 1995-01-01 or a mistyped year is "
            "common) and correct them"
        ),
        "warning",
    )


def check_clock_changes(
    raw: pd.Series,
    ambiguous: np.ndarray,
    nonexistent: np.ndarray,
    labels: np.ndarray,
    found: ProblemCollector,
    timezone: str,
) -> None:
    """Local times in the repeated or skipped hour of a DST change (warnings)."""
    values = raw.to_numpy(dtype=object)
    found.per_feature(
        "incidents",
        list(labels[ambiguous]),
        "ambiguous_time",
        lambda i: _(
            "incident %(incident)s has occurred_at %(value)s, which happens twice in "
            "%(timezone)s (clocks go back); the first, daylight-saving one was taken",
            incident=labels[ambiguous][i],
            value=repr(values[ambiguous][i]),
            timezone=timezone,
        ),
        _(
            "incident times that happen twice in %(timezone)s (clocks go back)",
            timezone=timezone,
        ),
        _("add the UTC offset to these times (e.g. 01:30-05:00) if the second one was meant"),
        "warning",
    )
    found.per_feature(
        "incidents",
        list(labels[nonexistent]),
        "nonexistent_time",
        lambda i: _(
            "incident %(incident)s has occurred_at %(value)s, which does not exist in "
            "%(timezone)s (clocks go forward and skip that hour); it was moved one hour later",
            incident=labels[nonexistent][i],
            value=repr(values[nonexistent][i]),
            timezone=timezone,
        ),
        _(
            "incident times that do not exist in %(timezone)s (clocks go forward)",
            timezone=timezone,
        ),
        _(
            "check these times: the recording clock was probably not yet changed; add the "
            "UTC offset to say exactly which instant was meant"
        ),
        "warning",
    )
