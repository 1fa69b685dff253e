"""Hotspot maps: ranked hotspot cells over the roads, coloured by rank band, with a legend."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import folium
import geopandas as gpd
import pandas as pd

from gisapp.render import maps

__all__ = ["HOTSPOT_BANDS", "hotspot_map"]

#: Rank bands of hotspot cells and their colours, hottest first: (last rank, label, colour).
HOTSPOT_BANDS: tuple[tuple[int, str, str], ...] = (
    (5, "Top 5", "#bd0026"),
    (15, "Top 6-15", "#f03b20"),
    (10**9, "Other hot cells", "#feb24c"),
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
    band = pd.Series(HOTSPOT_BANDS[-1][1], index=cells.index)
    for limit, label, _ in reversed(HOTSPOT_BANDS):
        band[rank <= limit] = label
    data = cells.assign(
        id=[f"H{r}" for r in rank],
        band=band.to_numpy(),
        score=cells["score"].astype(float).round(3),
    )
    colors = {label: color for _, label, color in HOTSPOT_BANDS}
    maps.add_polygons(
        m,
        data,
        name=f"Hotspots {kpis.get('shift', '')} ({kpis.get('method', '')})",
        color_by="band",
        colors=colors,
        fill_opacity=0.6,
        tooltip_fields={"rank": "Rank", "incidents": "Incidents", "score": "Score"},
    )
    pai = kpis.get("pai")
    title = f"Hotspots, PAI {pai:g}" if isinstance(pai, int | float) else "Hotspots"
    maps.add_legend(m, title, colors)
    return m
