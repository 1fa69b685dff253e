"""Colours of maps and pages: one palette, one colour per category or unit everywhere.

``unit_colors`` is the single source of a unit's colour: every map, briefing and page of a
plan asks it with the plan's unit ids, so a unit keeps its colour wherever it is drawn.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from gisapp.render.features import is_missing

__all__ = ["PALETTE", "category_colors", "css_color", "unit_colors"]

#: Categorical colours (Tableau 10), readable on the light grey base map.
PALETTE: tuple[str, ...] = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)


def category_colors(values: Iterable[Any]) -> dict[Any, str]:
    """Map each distinct value (sorted as text) to a colour of ``PALETTE``, cycling."""
    distinct = sorted({v for v in values if not is_missing(v)}, key=str)
    return {v: PALETTE[i % len(PALETTE)] for i, v in enumerate(distinct)}


def unit_colors(unit_ids: Iterable[str]) -> dict[str, str]:
    """Return the colour of each unit of a plan, the same on every map and page.

    A unit's colour is ``PALETTE`` at its position in the sorted ids of the plan's units
    (cycling past ten units), so it does not depend on route order or on which page asks.

    Parameters
    ----------
    unit_ids
        Ids of all the plan's units, in any order; duplicates are ignored. Pass every unit
        of the plan (e.g. ``plan.unit_ids``), not a subset, or the colours shift.

    Returns
    -------
    dict[str, str]
        ``{unit id: css colour}`` in sorted id order.

    Raises
    ------
    TypeError
        If ``unit_ids`` is a single string instead of a collection of ids.
    """
    if isinstance(unit_ids, str):
        raise TypeError(
            f"'unit_ids' should be a collection of unit ids, got the string {unit_ids!r}"
        )
    distinct = sorted(set(unit_ids), key=str)
    return {u: PALETTE[i % len(PALETTE)] for i, u in enumerate(distinct)}


def css_color(value: str) -> str:
    """Return ``value`` if it is a plain CSS colour token, else grey (it lands in a style)."""
    return value if re.fullmatch(r"#[0-9A-Fa-f]{3,8}|[a-zA-Z]{3,20}", value) else "#999"
