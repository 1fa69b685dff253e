"""The monthly community bulletin (社区治安状况月报) as an offline HTML map."""

from __future__ import annotations

import geopandas as gpd

from gisapp.services.analytics import WARNING_COLORS
from gisapp.services.bulletin import Bulletin

__all__ = ["bulletin_map", "bulletin_map_html"]


_TOOLTIP = {
    "name": "Community",
    "incidents": "Incidents",
    "preventable": "Preventable",
    "previous": "Previous",
    "current": "Current",
    "change_pct": "Change %",
    "warning_level": "Warning",
    "top_hotspots": "Top hotspots",
}


def bulletin_map(
    table: gpd.GeoDataFrame,
    hotspots: gpd.GeoDataFrame,
    *,
    month: str,
    roads: gpd.GeoDataFrame | None = None,
    inline_assets: bool = True,
) -> str:
    """A self-contained HTML map: communities coloured by warning level, hotspot cells on
    top, the figures in tooltips.

    Parameters
    ----------
    table
        One polygon per community with the bulletin's columns (``warning_level``...).
    hotspots
        The top hotspot cells of every community, with ``label``, ``community_id``,
        ``rank`` and ``incidents``.
    month
        ``YYYY-MM``, for the layer name.
    roads
        Roads for the vector base map.
    inline_assets
        Embed Leaflet in the page (an intranet file) rather than link it.
    """
    from gisapp.render import maps  # folium is heavy: loaded when a map is drawn

    m = maps.base_map(tuple(table.total_bounds), roads=roads)
    shown = table.copy()
    shown["change_pct"] = shown["change_pct"].round(0)
    maps.add_polygons(
        m,
        shown,
        name=f"Communities {month}",
        color_by="warning_level",
        colors=WARNING_COLORS,
        label_field="name",
        tooltip_fields=_TOOLTIP,
    )
    if len(hotspots):
        maps.add_polygons(
            m,
            hotspots.assign(id=hotspots["label"]),
            name="Top hotspots",
            color="#7b3294",
            tooltip_fields={"community_id": "Community", "rank": "Rank", "incidents": "Incidents"},
            fill_opacity=0.6,
        )
    maps.add_legend(
        m,
        "Warning level 预警",
        {level: WARNING_COLORS[level] for level in reversed(WARNING_COLORS)},
    )
    return maps.render_html(m, inline_assets=inline_assets)


def bulletin_map_html(
    bulletin: Bulletin, *, roads: gpd.GeoDataFrame | None = None, inline_assets: bool = True
) -> str:
    """The bulletin as a self-contained HTML map: communities coloured by warning level,
    hotspot cells on top, the figures in tooltips."""
    return bulletin_map(
        bulletin.table,
        bulletin.hotspots,
        month=bulletin.month,
        roads=roads,
        inline_assets=inline_assets,
    )
