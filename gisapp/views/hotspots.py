"""Data behind the hotspots page: the choices of the form, the hotspots of a shift, the map.

The hotspots come from :func:`gisapp.services.hotspots.shift_hotspots`, the service the
``gisapp hotspots`` command calls too; this module only shapes the page's choices and map.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import folium
import geopandas as gpd

from gisapp.errors import WorkspaceError
from gisapp.outputs.words import category_group_name
from gisapp.render import maps
from gisapp.render.hotspots import hotspot_map as render_hotspot_map
from gisapp.services.hotspots import (
    ALL_CATEGORIES,
    PREVENTABLE,
    HotspotOptions,
    HotspotResult,
    category_groups,
    category_options,
    shift_hotspots,
)
from gisapp.settings import Shift
from gisapp.store.geopackage import Workspace
from gisapp.views.cache import derived_cached, mark_shared
from layers.i18n import _

logger = logging.getLogger(__name__)

__all__ = [
    "ALL_GROUPS",
    "HOTSPOT_METHODS",
    "PREVENTABLE_ONLY",
    "HotspotView",
    "hotspot_group_choices",
    "hotspot_map",
    "incident_groups",
    "shift_hotspot_view",
]

#: Hotspot methods offered on the web page (``streets`` needs a network build per request).
HOTSPOT_METHODS: tuple[str, ...] = ("counts", "kde", "gistar")

#: Category choice of the hotspot page that keeps every incident.
ALL_GROUPS = ALL_CATEGORIES
#: Category choice of the hotspot page that keeps the preventable incidents (可防性案件).
PREVENTABLE_ONLY = PREVENTABLE

#: What the page shows: the service's result (layer, PAI table, KPIs, problems).
HotspotView = HotspotResult


def incident_groups(ws: Workspace) -> list[str]:
    """The category groups present in the workspace's incidents, sorted (empty without any)."""
    return category_groups(ws)


def hotspot_group_choices(groups: Sequence[str]) -> dict[str, str]:
    """The category choices of the hotspot page: ``{value: label}``, "all" first; the labels
    in the reader's language."""
    choices = {ALL_GROUPS: _("All categories"), PREVENTABLE_ONLY: _("Preventable only")}
    choices.update({g: category_group_name(g) for g in groups if g not in choices})
    return choices


def shift_hotspot_view(
    ws: Workspace,
    *,
    shift: Shift,
    method: str,
    group: str = ALL_GROUPS,
    keep_pileups: bool = False,
) -> HotspotResult:
    """The hotspots of ``shift`` with ``method`` for one category choice of the page.

    Parameters
    ----------
    ws
        Workspace with incidents (and areas or roads for the study area).
    shift
        Shift window.
    method
        A hotspot method (the page offers :data:`HOTSPOT_METHODS`).
    group
        :data:`ALL_GROUPS`, :data:`PREVENTABLE_ONLY` or a category group of the incidents.
    keep_pileups
        Weigh the incidents at pile-ups too (the ``keep_pileups`` setting).

    Raises
    ------
    GisappError
        As :func:`gisapp.services.hotspots.shift_hotspots` (unknown method or group, no
        incidents in the shift), with the same messages as the command line.
    """
    groups, preventable_only = category_options([group])
    options = HotspotOptions(
        shift=shift,
        method=method,
        groups=groups,
        preventable_only=preventable_only,
        keep_pileups=keep_pileups,
    )
    return shift_hotspots(ws, options)


def hotspot_map(
    ws: Workspace, view: HotspotResult, *, assets_url: str = "/static/vendor"
) -> folium.Map:
    """Map the hotspot cells of ``view`` over the workspace's roads.

    The map is kept while ``view`` is alive and the workspace unchanged, so a cached
    result is drawn once.

    Raises
    ------
    WorkspaceError
        If there are no hotspot cells to draw.
    """
    if not len(view.layer):
        raise WorkspaceError(_("no hotspot cells to map for this shift; choose another shift"))

    def draw() -> folium.Map:
        roads = ws.layer("roads") if ws.has_layer("roads") else None
        m = render_hotspot_map(
            view.layer,
            view.kpis,
            roads=roads if isinstance(roads, gpd.GeoDataFrame) else None,
            attribution=maps.attribution_for(ws.layer_notes),
            assets_url=assets_url,
        )
        return mark_shared(m)

    return derived_cached(view, (ws.location, ws.version, "hotspot_map", assets_url), draw)
