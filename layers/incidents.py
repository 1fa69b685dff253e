"""Incidents in time: timestamp parsing and the incident category table.

Incident feeds carry their times in many shapes: New Haven's ``Thu, Sept. 18th 2014`` with a
separate ``01:53 p.m.``, ISO 8601 with or without an offset, US ``09/18/2014 1:53 PM``,
Chinese ``2024年2月15日 21:48``, epoch seconds. :func:`parse_timestamps` reads all of them into
one tz-aware UTC column. The category table (:func:`apply_categories`, group, severity
and ``preventable`` flag) lives in :mod:`layers.categories`; its names are kept here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from layers.categories import (
    CATEGORY_COLUMNS,
    CATEGORY_GROUPS,
    DEFAULT_CATEGORY_TABLE,
    UNKNOWN_CATEGORY,
    apply_categories,
    load_category_table,
)
from layers.errors import LayerError
from layers.i18n import _

logger = logging.getLogger(__name__)

__all__ = [
    "CATEGORY_COLUMNS",
    "CATEGORY_GROUPS",
    "DEFAULT_CATEGORY_TABLE",
    "UNKNOWN_CATEGORY",
    "ParsedTimes",
    "apply_categories",
    "load_category_table",
    "normalize_clock",
    "normalize_date",
    "parse_timestamps",
    "parse_timestamps_checked",
]

_MONTHS: Mapping[str, int] = {
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "may": 5,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}

# One time-of-day tail shared by every date shape: optional clock time, optional am/pm,
# optional UTC offset ("z", "utc", "+08", "+0800", "+08:00").
_TIME = (
    r"(?:(?:t|\s+|t\s*)(?P<hour>\d{1,2}):(?P<minute>\d{2})"
    r"(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d{1,9}))?)?)?"
    r"\s*(?P<ampm>am|pm)?"
    r"\s*(?P<offset>z|utc|gmt|[+-]\d{2}(?::?\d{2})?)?$"
)
_DATE_SHAPES: tuple[re.Pattern[str], ...] = (
    # 2014-09-18, 2014/9/18, 2014.09.18 (ISO 8601 and the Chinese numeric forms)
    re.compile(r"^(?P<year>\d{4})[-/.](?P<month>\d{1,2})[-/.](?P<day>\d{1,2})" + _TIME),
    # 09/18/2014 (US month first)
    re.compile(r"^(?P<month>\d{1,2})/(?P<day>\d{1,2})/(?P<year>\d{4})" + _TIME),
    # sep 18 2014, september 18, 2014
    re.compile(r"^(?P<monthname>[a-z]{3})[a-z]*\s+(?P<day>\d{1,2}),?\s+(?P<year>\d{4})" + _TIME),
    # 18 sep 2014
    re.compile(r"^(?P<day>\d{1,2})\s+(?P<monthname>[a-z]{3})[a-z]*,?\s+(?P<year>\d{4})" + _TIME),
)
_PLAIN_ISO = r"\d{4}-\d{2}-\d{2}(?:[ t]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?"
_EPOCH = re.compile(r"^[+-]?\d{9,11}(?:\.\d+)?$")
_CN_CLOCK = re.compile(r"(\d{1,2})\s*[时点]\s*(\d{1,2})\s*分?(?:\s*(\d{1,2})\s*秒)?")
_CN_PERIOD = re.compile(r"(上午|早上|凌晨|下午|晚上|中午)\s*(\d{1,2}:\d{2}(?::\d{2})?)")
# A time-of-day cell: 21, 2148, 21:48, 21:48:05, 21时, 21时48分, 21点48; a period such as
# 21时-22时 or 21:00-22:00 reads as its start.
_CLOCK_CELL = re.compile(
    r"^(?P<hour>\d{1,2})(?:\s*[:：时点]\s*(?P<minute>\d{1,2})?\s*分?"
    r"(?:\s*:?\s*(?P<second>\d{1,2})\s*秒?)?)?\s*(?:[-~～至到].*)?$"
)
_HHMM_CELL = re.compile(r"^(?P<hour>\d{1,2})(?P<minute>\d{2})$")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


def _cn_period(match: re.Match[str]) -> str:
    # 中午 12:30 is half past noon, 凌晨/早上/上午 are before noon, 下午/晚上 after it.
    word, clock = match.group(1), match.group(2)
    return f"{clock} {'am' if word in ('上午', '早上', '凌晨') else 'pm'}"


def _normalise_text(text: pd.Series) -> pd.Series:
    """Lower-case and rewrite ``text`` so that it fits one of ``_DATE_SHAPES``."""
    text = text.str.strip().str.lower()
    # Chinese dates and times: 2024年2月15日 21时48分 -> 2024-2-15 21:48
    text = text.str.replace(
        r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]", r"\1-\2-\3 ", regex=True
    )
    # Replacements by function run row by row in Python: only on the rows that need them.
    chinese_clock = text.str.contains("[时点午晚早凌]", regex=True).fillna(False).astype(bool)
    if chinese_clock.any():
        subset = text[chinese_clock].str.replace(_CN_CLOCK, _cn_clock, regex=True)
        text[chinese_clock] = subset.str.replace(_CN_PERIOD, _cn_period, regex=True)
    # English: weekday prefix, "sept." and other abbreviation dots, ordinals, a.m./p.m.
    text = text.str.replace(r"^(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s*", "", regex=True)
    text = text.str.replace(r"\b([ap])\.?\s?m\.?(\s|$)", r"\1m\2", regex=True)
    text = text.str.replace(r"\b([a-z]{3,9})\.", r"\1", regex=True)
    text = text.str.replace(r"\b(\d{1,2})(?:st|nd|rd|th)\b", r"\1", regex=True)
    return text.str.replace(r"\s+", " ", regex=True).str.strip()


def _cn_clock(match: re.Match[str]) -> str:
    hour, minute, second = match.group(1), match.group(2), match.group(3)
    if len(minute) == 1:
        minute = f"0{minute}"
    return f"{hour}:{minute}" + (f":{int(second):02d}" if second else "")


def _clock_text(value: object) -> str | None:
    """One time-of-day cell as ``H:MM`` (``H:MM:SS``), or its text when it is no clock."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)) or value is pd.NA:
        return None
    if isinstance(value, int | float | np.integer | np.floating):
        if float(value) != int(value):
            return str(value)
        value = str(int(value))
    text = str(value).strip()
    if not text:
        return None
    compact = _HHMM_CELL.match(text)
    if compact and len(text) in (3, 4):
        return f"{int(compact['hour'])}:{compact['minute']}"
    cell = _CLOCK_CELL.match(text)
    if cell is None:
        return text  # am/pm and 上午/下午 forms are read by the timestamp parser itself
    minute = int(cell["minute"] or 0)
    clock = f"{int(cell['hour'])}:{minute:02d}"
    return clock + (f":{int(cell['second']):02d}" if cell["second"] else "")


def normalize_clock(values: pd.Series) -> pd.Series:
    """Write time-of-day cells the way :func:`parse_timestamps` reads them.

    An hour column comes in many shapes: ``21`` (the hour), ``2148`` or ``948`` (hours
    and minutes run together, as spreadsheets keep them), ``21:48``, ``21时48分``,
    ``21点``, or a period such as ``21时-22时`` (read as its start). Cells that fit none of
    them are kept as they are, so that the parser reads ``9:48 pm`` or ``下午9:48`` and
    reports what it cannot read.

    Parameters
    ----------
    values
        Time-of-day cells: text or whole numbers.

    Returns
    -------
    pandas.Series
        ``string`` values like ``"21:48"``, indexed like ``values``; missing where blank.
    """
    return pd.Series(
        [_clock_text(v) for v in values.to_numpy(dtype=object)], index=values.index, dtype="string"
    )


def normalize_date(values: pd.Series) -> pd.Series:
    """Write date cells as text a time of day can follow.

    Datetimes become ``YYYY-MM-DD``; ``20240215`` (a number or text) becomes
    ``2024-02-15``; a midnight time that spreadsheets append (``2024-02-15 00:00:00``) is
    dropped. Other text is kept for :func:`parse_timestamps`.

    Parameters
    ----------
    values
        Date cells.

    Returns
    -------
    pandas.Series
        ``string`` values indexed like ``values``; missing where blank.
    """
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values.dt.strftime("%Y-%m-%d").astype("string")
    if pd.api.types.is_float_dtype(values.dtype):
        whole = values.dropna()
        if (whole == whole.round()).all():
            values = values.astype("Int64")
    text = values.astype("string").str.strip()
    text = text.str.replace(_COMPACT_DATE, r"\1-\2-\3", regex=True)
    text = text.str.replace(r"[\sT]+0{1,2}:00(?::00(?:\.0+)?)?$", "", regex=True)
    return text.where(text != "")


def _offset_minutes(offset: pd.Series) -> pd.Series:
    """Minutes east of UTC for offsets like ``z``, ``+08``, ``-0500``, ``+05:30``."""
    digits = offset.str.replace(":", "", regex=False)
    sign = np.where(digits.str.startswith("-"), -1, 1)
    hours = pd.to_numeric(digits.str[1:3], errors="coerce").fillna(0)
    minutes = pd.to_numeric(digits.str[3:5], errors="coerce").fillna(0)
    zulu = offset.isin(["z", "utc", "gmt"])
    return pd.Series(np.where(zulu, 0, sign * (hours * 60 + minutes)), index=offset.index)


def _parse_text(text: pd.Series, zone: str) -> ParsedTimes:
    """Parse strings into UTC timestamps (NaT where no shape fits) and the DST flags."""
    result = pd.Series(pd.NaT, index=text.index, dtype="datetime64[us, UTC]")
    ambiguous = pd.Series(False, index=text.index, dtype=bool)
    nonexistent = pd.Series(False, index=text.index, dtype=bool)

    def put(local: pd.Series) -> None:
        times = _localise(local, zone)
        result[local.index] = times.utc
        ambiguous[local.index] = times.ambiguous
        nonexistent[local.index] = times.nonexistent

    text = text.str.strip().str.lower()
    todo = text.notna() & (text != "")

    # Plain ISO 8601 without an offset is the common case: let pandas' C parser take it.
    iso = todo & text.str.fullmatch(_PLAIN_ISO).fillna(False).astype(bool)
    if iso.any():
        naive = pd.to_datetime(
            text[iso].str.replace("t", " ", regex=False), format="ISO8601", errors="coerce"
        ).astype("datetime64[us]")
        naive = naive[naive.notna()]
        put(naive)
        todo[naive.index] = False
    if not todo.any():
        return ParsedTimes(result, ambiguous.to_numpy(), nonexistent.to_numpy())
    text = _normalise_text(text.where(todo))

    epoch = todo & text.str.fullmatch(_EPOCH.pattern).fillna(False).astype(bool)
    if epoch.any():
        seconds = pd.to_numeric(text[epoch], errors="coerce")
        result[epoch] = pd.to_datetime(seconds, unit="s", utc=True, errors="coerce")
        todo &= ~epoch

    for shape in _DATE_SHAPES:
        if not todo.any():
            break
        parts = text[todo].str.extract(shape)
        matched = parts["year"].notna()
        if not matched.any():
            continue
        parts = parts[matched]
        if "monthname" in parts:
            month = parts["monthname"].map(_MONTHS)
        else:
            month = pd.to_numeric(parts["month"])
        hour = pd.to_numeric(parts["hour"]).fillna(0)
        ampm = parts["ampm"].fillna("").astype(str)
        # 12:xx a.m. is just after midnight, 12:xx p.m. just after noon; 13:00 pm is wrong.
        bad_clock = (ampm != "") & ((hour > 12) | (hour == 0))
        hour = hour.where(~((ampm == "am") & (hour == 12)), 0)
        hour = hour.where(~((ampm == "pm") & (hour < 12)), hour + 12)
        fraction = parts["fraction"].fillna("0").str.ljust(6, "0").str[:6]
        fields = pd.DataFrame(
            {
                "year": pd.to_numeric(parts["year"]),
                "month": month,
                "day": pd.to_numeric(parts["day"]),
                "hour": hour.where(~bad_clock, 99),
                "minute": pd.to_numeric(parts["minute"]).fillna(0),
                "second": pd.to_numeric(parts["second"]).fillna(0),
                "microsecond": pd.to_numeric(fraction),
            }
        )
        # Out-of-range fields (Feb 30, 25:00) become NaT rather than an error.
        fields = fields.astype("float64")
        fields = fields.where(fields["hour"] < 24)
        fields = fields.where((fields["minute"] < 60) & (fields["second"] < 61))
        naive = pd.to_datetime(fields, errors="coerce").astype("datetime64[us]")
        has_offset = parts["offset"].notna().astype(bool)
        if has_offset.any():
            minutes = _offset_minutes(parts.loc[has_offset, "offset"])
            shifted = naive[has_offset] - pd.to_timedelta(minutes, unit="min")
            result[shifted.index] = shifted.dt.tz_localize("UTC")
        local = naive[~has_offset]
        if len(local):
            put(local)
        todo[parts.index] = False
    return ParsedTimes(result, ambiguous.to_numpy(), nonexistent.to_numpy())


#: Wall-clock times outside these years are not placed in a time zone (the zone rules
#: do not reach them and year 9999 overflows once shifted): they are read as UTC.
_ZONED_YEARS = (1800, 2200)


def _localise(naive: pd.Series, zone: str) -> ParsedTimes:
    """Read naive wall-clock times in ``zone``; return them in UTC with the DST flags.

    An ambiguous time (the repeated hour when DST ends) is read as its first, daylight
    occurrence; a nonexistent time (the skipped hour when DST starts) is moved one hour
    forward, which is what a clock that was not yet changed meant. Both are flagged so
    that the validator can report them. Years outside ``_ZONED_YEARS`` are read as UTC.
    """
    values = naive.astype("datetime64[us]").reset_index(drop=True)
    years = values.dt.year
    zoned = ((years >= _ZONED_YEARS[0]) & (years < _ZONED_YEARS[1])).fillna(False)
    utc = values.dt.tz_localize("UTC")
    ambiguous = np.zeros(len(values), dtype=bool)
    nonexistent = np.zeros(len(values), dtype=bool)
    inside = values[zoned.astype(bool)]
    if len(inside):
        first = np.ones(len(inside), dtype=bool)
        shift = pd.Timedelta(hours=1)
        aware = inside.dt.tz_localize(zone, ambiguous=first, nonexistent=shift)
        utc[inside.index] = aware.dt.tz_convert("UTC")
        gap = inside.dt.tz_localize(zone, ambiguous=first, nonexistent="NaT").isna()
        fold = inside.dt.tz_localize(zone, ambiguous="NaT", nonexistent=shift).isna()
        nonexistent[inside.index] = gap.to_numpy(dtype=bool)
        ambiguous[inside.index] = fold.to_numpy(dtype=bool)
    out = pd.Series(utc.array, index=naive.index, name=naive.name)
    return ParsedTimes(out.astype("datetime64[us, UTC]"), ambiguous, nonexistent)


@dataclass(frozen=True)
class ParsedTimes:
    """Incident times read by :func:`parse_timestamps_checked`.

    Parameters
    ----------
    utc
        ``datetime64[us, UTC]`` values; ``NaT`` where a value cannot be read.
    ambiguous
        Where a wall-clock time falls in the repeated hour when DST ends (read as the
        first, daylight occurrence).
    nonexistent
        Where a wall-clock time falls in the hour skipped when DST starts (moved one
        hour forward).
    """

    utc: pd.Series
    ambiguous: np.ndarray
    nonexistent: np.ndarray


def parse_timestamps(
    dates: pd.Series, *, times: pd.Series | None = None, tz: str = "UTC"
) -> pd.Series:
    """Parse incident dates (and optional separate times) into UTC timestamps.

    Reads, in any mix: New Haven's ``Thu, Sept. 18th 2014`` (weekday, ``Sept.``, ordinals)
    with times like ``01:53 p.m.``; ISO 8601 with or without an offset
    (``2014-09-18T13:53:00-04:00``, ``2014-09-18 13:53``); US ``09/18/2014 1:53 PM``;
    Chinese ``2024年2月15日 21:48``, ``2024年2月15日 21时48分``, ``2024/2/15 21:48`` and
    ``下午9:48``; epoch seconds (numbers, or 9–11 digit strings); datetime values.
    ``12:xx a.m.`` is just after midnight and ``12:xx p.m.`` just after noon.

    Parameters
    ----------
    dates
        Dates, with or without a time of day.
    times
        Times of day, aligned with ``dates`` by index, for feeds that keep them apart.
        A missing time reads as midnight.
    tz
        IANA time zone of values without an offset (e.g. ``"America/New_York"``). Values in
        the skipped hour when DST starts are moved one hour forward; values in the repeated
        hour when DST ends are read as the first (daylight) occurrence. Wall-clock years
        before 1800 or from 2200 on are read as UTC (no zone rules reach them).

    Returns
    -------
    pandas.Series
        ``datetime64[us, UTC]`` values indexed like ``dates``; ``NaT`` where a value cannot
        be parsed (the caller reports those, this function never raises for one bad value).

    Raises
    ------
    LayerError
        If ``tz`` is not a known time zone or ``times`` is not aligned with ``dates``.
    """
    return parse_timestamps_checked(dates, times=times, tz=tz).utc


def parse_timestamps_checked(
    dates: pd.Series, *, times: pd.Series | None = None, tz: str = "UTC"
) -> ParsedTimes:
    """Parse incident times as :func:`parse_timestamps` does, flagging DST folds and gaps.

    Parameters
    ----------
    dates, times, tz
        As in :func:`parse_timestamps`.

    Returns
    -------
    ParsedTimes
        The UTC times and, aligned with ``dates``, where a wall-clock time was ambiguous
        (read as its first occurrence) or did not exist (moved one hour forward).

    Raises
    ------
    LayerError
        If ``tz`` is not a known time zone or ``times`` is not aligned with ``dates``.
    """
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise LayerError(
            _(
                "tz=%(tz)s is not a known IANA time zone; pass a name such as "
                "'America/New_York' or 'Asia/Shanghai'",
                tz=repr(tz),
            )
        ) from None
    if times is not None and not times.index.equals(dates.index):
        raise LayerError("'times' is not indexed like 'dates'; pass two columns of the same table")
    no_flags = np.zeros(len(dates), dtype=bool)

    if pd.api.types.is_datetime64_any_dtype(dates.dtype) and times is None:
        values = pd.Series(dates, copy=True)
        if values.dt.tz is None:
            return _localise(values, tz)
        utc = values.dt.tz_convert("UTC").astype("datetime64[us, UTC]")
        return ParsedTimes(utc, no_flags, no_flags.copy())
    if pd.api.types.is_numeric_dtype(dates.dtype) and times is None:
        seconds = pd.Series(dates, dtype="float64")
        parsed = pd.to_datetime(seconds, unit="s", utc=True, errors="coerce")
        return ParsedTimes(parsed.astype("datetime64[us, UTC]"), no_flags, no_flags.copy())

    # Positions, not labels, from here on: the caller's index may repeat values.
    text = dates.astype("string").reset_index(drop=True)
    if times is not None:
        clock = times.astype("string").str.strip().reset_index(drop=True)
        text = text.where(clock.isna() | (clock == ""), text + " " + clock)
    # Feeds repeat the same strings a lot (dates, clock minutes): parse each one once.
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    unique_times = _parse_text(pd.Series(uniques, dtype="string"), tz)
    taken = unique_times.utc.array.take(codes, allow_fill=True)
    parsed = pd.Series(taken, index=dates.index, name=dates.name)
    unparsed = int(parsed.isna().sum()) - int(text.isna().sum())
    if unparsed:
        logger.debug("%s of %s timestamps could not be parsed", f"{unparsed:,}", f"{len(text):,}")
    known = codes >= 0
    ambiguous, nonexistent = no_flags.copy(), no_flags.copy()
    ambiguous[known] = unique_times.ambiguous[codes[known]]
    nonexistent[known] = unique_times.nonexistent[codes[known]]
    return ParsedTimes(parsed, ambiguous, nonexistent)
