"""Street names on the vector base map, placed so that no two names overlap at any zoom.

Every named street gets one name on its longest stretch (long streets one more per further
stretch), tried in order of importance: major streets first, then the longest. At each zoom
level from :data:`FIRST_ZOOM` to :data:`LAST_ZOOM` the names not yet shown are placed where
their box (the text's size in pixels at that zoom) touches no name already shown and the
street stretch is at least as long as its name; a name placed at one zoom stays at every
closer zoom, where the boxes only move apart. The printed map (a whole district at about
zoom 13 to 14) so shows the main streets' names, and an officer zooming in sees the rest.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import numpy.typing as npt
import shapely

from gisapp.render.elements import StreetLabels
from gisapp.render.features import as_text
from layers.crs import metric_crs

__all__ = ["FIRST_ZOOM", "LAST_ZOOM", "add_street_labels", "street_labels"]

#: First zoom level at which names may show (a city at this zoom fits in a screen).
FIRST_ZOOM = 12
#: From this zoom on every name that can be placed is shown.
LAST_ZOOM = 18
#: Web Mercator metres per pixel at zoom 0 on the equator.
_M_PER_PX_Z0 = 156_543.033_92
#: Stretches shorter than this never carry a name.
_MIN_STRETCH_M = 60.0
#: Two names of the same street are at least this far apart on the screen.
_SAME_NAME_GAP_PX = 320.0


@dataclass
class _Candidate:
    name: str
    x: float
    y: float
    stretch_m: float
    width_px: float
    placed_at: int | None = None


def add_street_labels(
    m: folium.Map,
    lines: gpd.GeoDataFrame,
    *,
    major: npt.NDArray[np.bool_] | None = None,
    max_names: int = 3000,
) -> StreetLabels | None:
    """Add the names of ``lines`` (a ``name`` column) to ``m``; ``None`` when none has one.

    Parameters
    ----------
    m
        Map made by :func:`gisapp.render.maps.base_map`.
    lines
        Street centre lines in EPSG:4326.
    major
        Which lines are major streets (their names come first), aligned with ``lines``.
    max_names
        Most street names considered (the most important first), so a whole city stays
        a light page.

    Returns
    -------
    StreetLabels or None
        The label element added.
    """
    labels = street_labels(lines, major=major, max_names=max_names)
    if not labels:
        return None
    element = StreetLabels(labels)
    element.add_to(m)
    return element


def street_labels(
    lines: gpd.GeoDataFrame,
    *,
    major: npt.NDArray[np.bool_] | None = None,
    max_names: int = 3000,
) -> list[dict[str, Any]]:
    """Place the street names of ``lines``: text (escaped), position and first zoom.

    Returns
    -------
    list of dict
        ``{"label", "lat", "lon", "z"}`` per name shown, ``z`` the zoom it appears at.
    """
    if "name" not in lines.columns or not len(lines):
        return []
    names = lines["name"].map(as_text).str.strip()
    keep = (names != "").to_numpy()
    if not keep.any():
        return []
    local_crs = metric_crs(lines)
    metric = lines.geometry[keep].to_crs(local_crs).to_numpy()
    is_major = (
        np.zeros(len(lines), dtype=bool) if major is None else np.asarray(major, dtype=bool)
    )[keep]
    candidates = list(_candidates(names[keep].to_numpy(), metric, is_major, max_names))
    if not candidates:
        return []
    lat0 = float(lines.geometry[keep].iloc[0].centroid.y)
    _place(candidates, math.cos(math.radians(lat0)))
    placed = [c for c in candidates if c.placed_at is not None]
    points = gpd.GeoSeries(
        shapely.points([c.x for c in placed], [c.y for c in placed]), crs=local_crs
    ).to_crs(4326)
    return [
        {"label": html.escape(c.name), "lat": round(p.y, 5), "lon": round(p.x, 5), "z": c.placed_at}
        for c, p in zip(placed, points, strict=True)
    ]


def _text_width_px(name: str) -> float:
    """Width of a name in 11 px italic sans-serif: Chinese characters are about square."""
    return sum(11.0 if ord(ch) > 0x2E80 else 6.3 for ch in name) + 6.0


def _candidates(
    names: npt.NDArray[Any],
    metric: npt.NDArray[Any],
    is_major: npt.NDArray[np.bool_],
    max_names: int,
) -> Iterator[_Candidate]:
    """Label positions per street, in order of importance (major, then longest)."""
    order: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        order.setdefault(str(name), []).append(i)
    ranked = sorted(
        order.items(),
        key=lambda item: (
            not is_major[item[1]].any(),
            -float(shapely.length(metric[item[1]]).sum()),
            item[0],
        ),
    )
    for name, rows in ranked[:max_names]:
        merged = shapely.line_merge(shapely.union_all(metric[rows]))
        parts = sorted(shapely.get_parts(merged), key=lambda g: -g.length)
        width = _text_width_px(name)
        for k, part in enumerate(parts[:3]):
            if part.length < _MIN_STRETCH_M or (k and part.length < 4 * _MIN_STRETCH_M):
                break
            mid = shapely.line_interpolate_point(part, 0.5, normalized=True)
            yield _Candidate(name, float(mid.x), float(mid.y), float(part.length), width)


Box = tuple[float, float, float, float]


class _Screen:
    """The name boxes shown at one zoom, hashed in cells of 64 pixels."""

    def __init__(self, zoom: int, cos_lat: float) -> None:
        self.px_m = _M_PER_PX_Z0 * cos_lat / 2**zoom  # metres per pixel
        self.cell = 64.0 * self.px_m
        self.boxes: dict[tuple[int, int], list[Box]] = {}
        self.shown: dict[str, list[tuple[float, float]]] = {}

    def box(self, c: _Candidate) -> Box:
        half_w, half_h = (c.width_px / 2 + 3) * self.px_m, 9.0 * self.px_m
        return c.x - half_w, c.y - half_h, c.x + half_w, c.y + half_h

    def free(self, box: Box) -> bool:
        return not any(
            box[0] < other[2] and other[0] < box[2] and box[1] < other[3] and other[1] < box[3]
            for key in _cells(box, self.cell)
            for other in self.boxes.get(key, ())
        )

    def add(self, c: _Candidate, box: Box) -> None:
        for key in _cells(box, self.cell):
            self.boxes.setdefault(key, []).append(box)
        self.shown.setdefault(c.name, []).append((c.x, c.y))

    def repeats(self, c: _Candidate) -> bool:
        gap = _SAME_NAME_GAP_PX * self.px_m
        return any(math.hypot(c.x - x, c.y - y) < gap for x, y in self.shown.get(c.name, ()))


def _place(candidates: list[_Candidate], cos_lat: float) -> None:
    """Give each candidate the first zoom at which it fits (``placed_at``), or leave it."""
    for zoom in range(FIRST_ZOOM, LAST_ZOOM + 1):
        screen = _Screen(zoom, cos_lat)
        for c in candidates:  # names shown at a lower zoom keep their place
            if c.placed_at is not None:
                screen.add(c, screen.box(c))
        for c in candidates:
            if c.placed_at is not None or c.stretch_m < c.width_px * screen.px_m:
                continue
            box = screen.box(c)
            if not screen.repeats(c) and screen.free(box):
                c.placed_at = zoom
                screen.add(c, box)


def _cells(box: Box, cell: float) -> Iterator[tuple[int, int]]:
    for i in range(math.floor(box[0] / cell), math.floor(box[2] / cell) + 1):
        for j in range(math.floor(box[1] / cell), math.floor(box[3] / cell) + 1):
            yield i, j
