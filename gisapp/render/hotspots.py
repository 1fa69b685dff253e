"""Hotspot maps: ranked hotspot cells over the roads, coloured by rank band, with a legend."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import folium
import geopandas as gpd
import pandas as pd

from gisapp.outputs.words import hotspot_method_name, shift_name
from gisapp.render import maps
from layers.i18n import _, _l

__all__ = ["HOTSPOT_BANDS", "hotspot_map"]

#: Rank bands of hotspot cells and their colours, hottest first: (last rank, label, colour).
HOTSPOT_BANDS: tuple[tuple[int, Any, str], ...] = (
    (5, _l("Top 5"), "#bd0026"),
    (15, _l("Top 6-15"), "#f03b20"),
    (10**9, _l("Other hot cells"), "#feb24c"),
)


def hotspot_map(
    cells: gpd.GeoDataFrame,
    kpis: Mapping[str, Any],
    *,
    roads: gpd.GeoDataFrame | None = None,
    attribution: str | None = None,
    assets_url: str = "/static/vendor",
) -> folium.Map:
    """Map hotspot cells over the roads, coloured by rank band, with a legend.

    Parameters
    ----------
    cells
        Hotspot cells (EPSG:4326) with ``rank``, ``score`` and ``incidents``; not empty.
    kpis
        The hotspot figures: ``shift``, ``method`` and ``pai`` name the layer and legend.
    roads
        Roads for the vector base map (clipped here to the cells' surroundings).
    attribution
        Data attribution shown on the map.
    assets_url
        URL prefix of the vendored Leaflet files.
    """
    if roads is not None and len(roads):
        minx, miny, maxx, maxy = cells.total_bounds
        pad = max(maxx - minx, maxy - miny) * 0.25
        roads = roads.cx[minx - pad : maxx + pad, miny - pad : maxy + pad]
    m = maps.base_map(
        cells.total_bounds, roads=roads, attribution=attribution, assets_url=assets_url
    )
    rank = cells["rank"].to_numpy()
    bands = [(limit, str(label), color) for limit, label, color in HOTSPOT_BANDS]
    band = pd.Series(bands[-1][1], index=cells.index)
    for limit, label, _color in reversed(bands):
        band[rank <= limit] = label
    data = cells.assign(
        id=[f"H{r}" for r in rank],
        band=band.to_numpy(),
        score=cells["score"].astype(float).round(3),
    )
    colors = {label: color for _limit, label, color in bands}
    maps.add_polygons(
        m,
        data,
        name=_(
            "Hotspots %(shift)s (%(method)s)",
            shift=shift_name(kpis.get("shift", "")),
            method=hotspot_method_name(kpis.get("method", "")),
        ),
        color_by="band",
        colors=colors,
        fill_opacity=0.6,
        tooltip_fields={"rank": _("Rank"), "incidents": _("Incidents"), "score": _("Score")},
    )
    pai = kpis.get("pai")
    title = (
        _("Hotspots, PAI %(pai)s", pai=format(pai, "g"))
        if isinstance(pai, int | float)
        else _("Hotspots")
    )
    maps.add_legend(m, title, colors)
    return m
