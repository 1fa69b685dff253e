"""Colours of maps and pages: one cartographic style, one colour per category or unit everywhere.

``unit_colors`` is the single source of a unit's colour: every map, briefing and page of a
plan asks it with the plan's unit ids, so a unit keeps its colour wherever it is drawn.
``unit_styles`` adds the line dash that keeps units apart past the palette's size.

The unit palette is chosen so that no unit can be mistaken for a warning: every unit colour
is at least :data:`MIN_WARNING_DISTANCE` (CIEDE2000) from the blind-zone red and the four
分色预警 colours, and two consecutive palette colours are at least
:data:`MIN_CONSECUTIVE_DISTANCE` apart. ``docs/CARTOGRAPHY.md`` writes the style down.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gisapp.render.features import is_missing

__all__ = [
    "BLIND_COLOR",
    "DASHES",
    "GRID_COLOR",
    "LIGHTNESS_STEPS",
    "MIN_CONSECUTIVE_DISTANCE",
    "MIN_WARNING_DISTANCE",
    "PALETTE",
    "ROAD_COLOR",
    "ROAD_MAJOR_COLOR",
    "STATION_COLOR",
    "UnitStyle",
    "category_colors",
    "css_color",
    "delta_e_2000",
    "hex_to_lab",
    "lab_to_hex",
    "unit_colors",
    "unit_styles",
]

#: Unit and category colours: greens, purples, browns, teals and olives, none of them a
#: warning colour. Ordered so that neighbours differ strongly (ΔE00 ≥ 23 between each
#: colour and the next, the last and the first included); any two differ by ΔE00 ≥ 14.
PALETTE: tuple[str, ...] = (
    "#1b7837",  # green
    "#6a3d9a",  # purple
    "#8c510a",  # brown
    "#35978f",  # teal
    "#c080ff",  # lilac
    "#543005",  # dark brown
    "#66a61e",  # leaf green
    "#b07aa1",  # mauve
    "#01665e",  # dark teal
    "#888800",  # olive
)

#: Line dash per round of the palette: units 1-10 solid, 11-20 long dashes, 21-30 dots, ...
DASHES: tuple[str | None, ...] = (None, "12 6", "3 6", "12 5 3 5")

#: CIELAB lightness change per round of ``PALETTE`` × ``DASHES`` (units 41-80 darker,
#: 81-120 lighter), so the first 120 units all get a different colour and dash.
LIGHTNESS_STEPS: tuple[float, ...] = (0.0, -10.0, 8.0)

#: Every unit colour is at least this far (CIEDE2000) from every warning colour.
MIN_WARNING_DISTANCE = 20.0
#: Consecutive palette colours (unit n and unit n + 1) are at least this far apart.
MIN_CONSECUTIVE_DISTANCE = 20.0

#: Blind zones (盲区): the 分色预警 red, drawn as hatching and an outline, never a solid fill.
BLIND_COLOR = "#d7191c"
#: Grid outlines (网格): dark slate, thin, drawn above the base and below everything else.
GRID_COLOR = "#1d3557"
#: Stations and posts: near black squares or circles, drawn on top.
STATION_COLOR = "#111111"
#: The muted vector base map: minor and major streets.
ROAD_COLOR = "#b4b4b4"
ROAD_MAJOR_COLOR = "#8f8f8f"


@dataclass(frozen=True)
class UnitStyle:
    """How a unit's route is drawn: its colour and its dash (``None``: a solid line)."""

    color: str
    dash: str | None


def category_colors(values: Iterable[Any]) -> dict[Any, str]:
    """Map each distinct value (sorted as text) to a colour of ``PALETTE``, cycling."""
    distinct = sorted({v for v in values if not is_missing(v)}, key=str)
    return {v: PALETTE[i % len(PALETTE)] for i, v in enumerate(distinct)}


def unit_styles(unit_ids: Iterable[str]) -> dict[str, UnitStyle]:
    """Return the colour and dash of each unit of a plan, the same on every map and page.

    The n-th unit (in sorted id order, from 0) takes ``PALETTE[n % 10]``; each further round
    of ten takes the next dash of ``DASHES``, and each round of forty the next lightness of
    ``LIGHTNESS_STEPS``, so no two of the first 120 units look alike.

    Parameters
    ----------
    unit_ids
        Ids of all the plan's units, in any order; duplicates are ignored. Pass every unit
        of the plan (e.g. ``plan.unit_ids``), not a subset, or the styles shift.

    Returns
    -------
    dict[str, UnitStyle]
        ``{unit id: style}`` in sorted id order.

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
    return {u: _style_at(i) for i, u in enumerate(distinct)}


def unit_colors(unit_ids: Iterable[str]) -> dict[str, str]:
    """Return the colour of each unit of a plan (see :func:`unit_styles`).

    Parameters
    ----------
    unit_ids
        Ids of all the plan's units, in any order; duplicates are ignored.

    Returns
    -------
    dict[str, str]
        ``{unit id: css colour}`` in sorted id order.

    Raises
    ------
    TypeError
        If ``unit_ids`` is a single string instead of a collection of ids.
    """
    return {u: style.color for u, style in unit_styles(unit_ids).items()}


def _style_at(index: int) -> UnitStyle:
    base = PALETTE[index % len(PALETTE)]
    round_ = index // len(PALETTE)
    dash = DASHES[round_ % len(DASHES)]
    step = LIGHTNESS_STEPS[(round_ // len(DASHES)) % len(LIGHTNESS_STEPS)]
    if not step:
        return UnitStyle(base, dash)
    lightness, a, b = hex_to_lab(base)
    return UnitStyle(lab_to_hex((lightness + step, a, b)), dash)


def css_color(value: str) -> str:
    """Return ``value`` if it is a plain CSS colour token, else grey (it lands in a style)."""
    return value if re.fullmatch(r"#[0-9A-Fa-f]{3,8}|[a-zA-Z]{3,20}", value) else "#999"


# -- colour difference (CIEDE2000 over CIELAB, D65) -------------------------------------------

_WHITE = (0.95047, 1.0, 1.08883)
_TO_XYZ = (
    (0.4124564, 0.3575761, 0.1804375),
    (0.2126729, 0.7151522, 0.0721750),
    (0.0193339, 0.1191920, 0.9503041),
)
_TO_RGB = (
    (3.2404542, -1.5371385, -0.4985314),
    (-0.9692660, 1.8760108, 0.0415560),
    (0.0556434, -0.2040259, 1.0572252),
)
_EPSILON = 216 / 24389
_KAPPA = 24389 / 27


def hex_to_lab(color: str) -> tuple[float, float, float]:
    """CIELAB (D65) of an sRGB ``#rrggbb`` colour.

    Raises
    ------
    ValueError
        If ``color`` is not ``#rrggbb``.
    """
    if not re.fullmatch(r"#[0-9A-Fa-f]{6}", color):
        raise ValueError(f"'color' should be #rrggbb, got {color!r}")
    channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    xyz = [sum(m * c for m, c in zip(row, linear, strict=True)) for row in _TO_XYZ]
    fx, fy, fz = (_lab_f(v / w) for v, w in zip(xyz, _WHITE, strict=True))
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def lab_to_hex(lab: tuple[float, float, float]) -> str:
    """The sRGB ``#rrggbb`` nearest a CIELAB (D65) colour (clipped to the sRGB gamut)."""
    lightness, a, b = lab
    fy = (lightness + 16) / 116
    fx, fz = fy + a / 500, fy - b / 200
    xyz = [
        w * (f**3 if f**3 > _EPSILON else (116 * f - 16) / _KAPPA)
        for f, w in zip((fx, fy, fz), _WHITE, strict=True)
    ]
    linear = [sum(m * c for m, c in zip(row, xyz, strict=True)) for row in _TO_RGB]
    channels = [
        12.92 * c if c <= 0.0031308 else 1.055 * c ** (1 / 2.4) - 0.055
        for c in (min(max(v, 0.0), 1.0) for v in linear)
    ]
    return "#" + "".join(f"{round(c * 255):02x}" for c in channels)


def _lab_f(t: float) -> float:
    return t ** (1 / 3) if t > _EPSILON else (_KAPPA * t + 16) / 116


Lab = tuple[float, float, float]


def delta_e_2000(color1: str | Lab, color2: str | Lab) -> float:
    """The CIEDE2000 colour difference of two colours (Sharma, Wu and Dalal, 2005).

    About 1 is the smallest difference people see side by side; above 20 two colours read
    as different colours at a glance, even as thin lines on a map.

    Parameters
    ----------
    color1, color2
        ``#rrggbb`` sRGB colours or CIELAB ``(L, a, b)`` triples.

    Returns
    -------
    float
        ΔE00, symmetric and 0 for equal colours.
    """
    lightness1, a1, b1 = hex_to_lab(color1) if isinstance(color1, str) else color1
    lightness2, a2, b2 = hex_to_lab(color2) if isinstance(color2, str) else color2
    c_mean = (math.hypot(a1, b1) + math.hypot(a2, b2)) / 2
    g = 0.5 * (1 - math.sqrt(c_mean**7 / (c_mean**7 + 25**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = math.hypot(a1p, b1), math.hypot(a2p, b2)
    h1p = math.degrees(math.atan2(b1, a1p)) % 360 if c1p else 0.0
    h2p = math.degrees(math.atan2(b2, a2p)) % 360 if c2p else 0.0
    dh = 0.0 if c1p * c2p == 0 else (h2p - h1p + 180) % 360 - 180
    d_lightness, d_chroma = lightness2 - lightness1, c2p - c1p
    d_hue = 2 * math.sqrt(c1p * c2p) * math.sin(math.radians(dh / 2))
    l_mean, cp_mean = (lightness1 + lightness2) / 2, (c1p + c2p) / 2
    if c1p * c2p == 0:
        h_mean = h1p + h2p
    elif abs(h1p - h2p) <= 180:
        h_mean = (h1p + h2p) / 2
    else:
        h_mean = (h1p + h2p + (360 if h1p + h2p < 360 else -360)) / 2
    t = (
        1
        - 0.17 * math.cos(math.radians(h_mean - 30))
        + 0.24 * math.cos(math.radians(2 * h_mean))
        + 0.32 * math.cos(math.radians(3 * h_mean + 6))
        - 0.20 * math.cos(math.radians(4 * h_mean - 63))
    )
    rotation = 30 * math.exp(-(((h_mean - 275) / 25) ** 2))
    r_c = 2 * math.sqrt(cp_mean**7 / (cp_mean**7 + 25**7))
    s_l = 1 + 0.015 * (l_mean - 50) ** 2 / math.sqrt(20 + (l_mean - 50) ** 2)
    s_c = 1 + 0.045 * cp_mean
    s_h = 1 + 0.015 * cp_mean * t
    r_t = -math.sin(math.radians(2 * rotation)) * r_c
    return math.sqrt(
        (d_lightness / s_l) ** 2
        + (d_chroma / s_c) ** 2
        + (d_hue / s_h) ** 2
        + r_t * (d_chroma / s_c) * (d_hue / s_h)
    )
