"""The monthly community bulletin (社区治安状况月报) as an offline HTML map."""

from __future__ import annotations

import geopandas as gpd

from gisapp.outputs.words import month_text, warning_level_name
from gisapp.services.analytics import WARNING_COLORS
from gisapp.services.bulletin import Bulletin
from layers.i18n import _

__all__ = ["bulletin_map", "bulletin_map_html"]


def _tooltip() -> dict[str, str]:
    """A community's figures in its tooltip, in the reader's language."""
    return {
        "name": _("Community"),
        "incidents": _("Incidents"),
        "preventable": _("Preventable"),
        "previous": _("Previous period"),
        "current": _("Current period"),
        "change_pct": _("Change %"),
        "warning_name": _("Warning"),
        "top_hotspots": _("Top hotspots"),
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
    # the colours go by the machine level, the tooltip reads it in words
    shown["warning_name"] = shown["warning_level"].map(warning_level_name)
    maps.add_polygons(
        m,
        shown,
        name=_("Communities %(month)s", month=month_text(month)),
        color_by="warning_level",
        colors=WARNING_COLORS,
        label_field="name",
        tooltip_fields=_tooltip(),
    )
    if len(hotspots):
        maps.add_polygons(
            m,
            hotspots.assign(id=hotspots["label"]),
            name=_("Top hotspots"),
            color="#7b3294",
            tooltip_fields={
                "community_id": _("Community"),
                "rank": _("Rank"),
                "incidents": _("Incidents"),
            },
            fill_opacity=0.6,
        )
    maps.add_legend(
        m,
        _("Warning level"),
        {warning_level_name(level): WARNING_COLORS[level] for level in reversed(WARNING_COLORS)},
    )
    return maps.render_html(
        m,
        inline_assets=inline_assets,
        title=_("Community safety bulletin %(month)s", month=month_text(month)),
    )


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
