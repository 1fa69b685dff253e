"""The words pages, printed documents and maps show for the product's machine values:
one name per value for the web, the briefing pack, the bulletin and every map.

Data files keep their machine values (``car``, ``hotspot``, ``red``, ``night``,
``key_place``...); a page shows them in the reader's language. English, the source
language, shows the values as they are (what pages have always printed), every other
language the police word of :file:`docs/GLOSSARY.md`; a value the product does not know
(a user's own shift name, key-place kind...) is shown as it is.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from gisapp.plans import shift_label, text
from layers.i18n import DEFAULT_LANGUAGE, _, current_language, format_date

__all__ = [
    "blind_kind_name",
    "category_group_name",
    "date_text",
    "hotspot_method_name",
    "key_place_kind_name",
    "mode_name",
    "month_text",
    "shift_name",
    "shift_text",
    "source_name",
    "stop_kind_name",
    "warning_level_name",
]


def _in_words(value: Any, words: Callable[[], dict[str, str]], english: str | None = None) -> str:
    """``value``'s word in the current language; the source language shows ``english``
    (by default the value itself)."""
    raw = text(value)
    if current_language() == DEFAULT_LANGUAGE:
        return raw if english is None else english
    return words().get(raw, raw if english is None else english)


def mode_name(mode: Any) -> str:
    """A unit's mode of travel: ``car`` (巡逻车), ``ebike`` (电动巡逻车), ``foot`` (步巡)."""
    return _in_words(
        mode,
        lambda: {
            "car": _("patrol car"),
            "ebike": _("e-bike patrol"),
            "foot": _("foot patrol"),
        },
    )


def stop_kind_name(kind: Any) -> str:
    """A timetable row's kind: ``station``, ``hotspot``, ``break`` or ``waypoint``."""
    return _in_words(
        kind,
        lambda: {
            "station": _("station (start and end)"),
            "hotspot": _("hotspot stop"),
            "break": _("break"),
            "waypoint": _("turn"),
        },
    )


def blind_kind_name(kind: Any) -> str:
    """A blind zone's kind (``street``, ``grid``, ``key_place``, ``prevention_zone``); in
    English with spaces for underscores, as the pages have always shown it."""
    raw = text(kind)
    return _in_words(
        raw,
        lambda: {
            "street": _("blind street"),
            "grid": _("blind grid"),
            "key_place": _("key place reached late"),
            "prevention_zone": _("prevention zone reached late"),
            "zone": _("blind zone"),
        },
        english=raw.replace("_", " "),
    )


def category_group_name(group: Any) -> str:
    """A category group of the standard tables (``layers.categories.CATEGORY_GROUPS``); a
    workspace's own group is shown by its name (in English with spaces for underscores)."""
    raw = text(group)
    return _in_words(
        raw,
        lambda: {
            "burglary": _("burglary"),
            "robbery": _("robbery"),
            "theft": _("theft"),
            "vehicle_theft": _("vehicle theft"),
            "assault": _("assault"),
            "weapons": _("weapons"),
            "drugs": _("drugs"),
            "vandalism": _("vandalism"),
            "disorder": _("disorder"),
            "fraud": _("fraud"),
            "traffic": _("traffic"),
            "alarm": _("alarm"),
            "service": _("service"),
            "other": _("other"),
        },
        english=raw.replace("_", " "),
    )


def key_place_kind_name(kind: Any) -> str:
    """A key place's kind (``school``, ``hospital``, ``bank``...)."""
    return _in_words(
        kind,
        lambda: {
            "school": _("school"),
            "kindergarten": _("kindergarten"),
            "hospital": _("hospital"),
            "station": _("police station"),
            "police": _("police station"),
            "mall": _("shopping mall"),
            "bank": _("bank"),
        },
    )


def source_name(source: Any) -> str:
    """Where a unit of the coverage starts: ``stations``, ``duty_points`` or ``posts``."""
    return _in_words(
        source,
        lambda: {
            "stations": _("police station"),
            "duty_points": _("duty point"),
            "posts": _("proposed duty point"),
        },
    )


def warning_level_name(level: Any) -> str:
    """A colour warning level (分色预警): ``red``, ``orange``, ``yellow`` or ``blue``."""
    return _in_words(
        level,
        lambda: {
            "red": _("red warning"),
            "orange": _("orange warning"),
            "yellow": _("yellow warning"),
            "blue": _("blue warning"),
        },
    )


def hotspot_method_name(method: Any) -> str:
    """A hotspot method: ``kde``, ``gistar``, ``counts`` or ``streets``."""
    return _in_words(
        method,
        lambda: {
            "kde": _("kernel density"),
            "gistar": _("Gi* hot spots"),
            "counts": _("incident counts"),
            "streets": _("hot streets"),
        },
    )


def _shift_names() -> dict[str, str]:
    return {
        "day": _("day shift"),
        "evening": _("evening shift"),
        "night": _("night shift"),
        "late": _("late shift"),
    }


def shift_name(name: Any) -> str:
    """A shift's name: ``day``, ``evening``, ``night``, ``late`` (白班, 中班, 夜班, 深夜班)."""
    return _in_words(name, _shift_names)


_WINDOW = re.compile(r"(\d{1,2}):(\d{2})\s*[-–—]\s*(\d{1,2}):(\d{2})")


def shift_text(name: Any, window: Any) -> str:
    """A shift as the reader reads it: ``night (00:00-08:00)`` in English (see
    :func:`gisapp.plans.shift_label`), ``夜班（22:00—次日06:00）`` in Chinese."""
    if current_language() == DEFAULT_LANGUAGE:
        return shift_label(name, window)
    name_text, window_text = text(name).strip(), text(window).strip()
    found = _WINDOW.search(window_text)
    if found:
        start = f"{int(found[1]):02d}:{found[2]}"
        end = f"{int(found[3]):02d}:{found[4]}"
        if (int(found[3]), int(found[4])) <= (int(found[1]), int(found[2])) and end != "24:00":
            span = _("%(start)s to %(end)s the next day", start=start, end=end)
        else:
            span = _("%(start)s to %(end)s", start=start, end=end)
        # the window's own words ("night 00:00-08:00") name the shift when no name is set
        rest = (window_text[: found.start()] + window_text[found.end() :]).strip(" ()")
        name_text = name_text if name_text and name_text != window_text else rest
    else:
        span = window_text
    if not name_text or name_text == span:
        return span
    shown = _shift_names().get(name_text, name_text)
    return _("%(shift)s (%(window)s)", shift=shown, window=span) if span else shown


def date_text(value: Any) -> str:
    """A day of a printed document: the plan's ``2014-09-18`` as it is in English,
    ``2014年9月18日`` in Chinese; text that is no date is shown as it is."""
    raw = text(value).strip()
    if current_language() == DEFAULT_LANGUAGE or not raw:
        return raw
    try:
        day = dt.date.fromisoformat(raw[:10])
    except ValueError:
        return raw
    return format_date(day) + raw[10:]


def month_text(month: Any) -> str:
    """A month ``YYYY-MM`` as the reader reads it: as it is in English, ``2014年9月`` in
    Chinese."""
    raw = text(month).strip()
    if current_language() == DEFAULT_LANGUAGE:
        return raw
    found = re.fullmatch(r"(\d{4})-(\d{1,2})", raw)
    if not found:
        return raw
    from babel.dates import format_skeleton

    first = dt.date(int(found[1]), int(found[2]), 1)
    return format_skeleton("yMMM", first, locale=current_language())
