"""Data behind the map pages: which layers and grids a user may see (an officer his unit's).

The web app is a thin adapter over these functions: they return data and maps, never
responses.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import folium
import geopandas as gpd

from gisapp.errors import WorkspaceError
from gisapp.render import layer_maps, maps
from gisapp.store import Workspace
from gisapp.views.cache import derived_cached, is_shared
from layers.i18n import _
from layers.schema import LAYERS, parse_id_list

logger = logging.getLogger(__name__)

#: Layers an officer may only see for his own unit.
UNIT_SCOPED_LAYERS = frozenset({"grids", "incidents", "units"})

# A cached map may be shared by requests; folium's rendering is not thread-safe.
_render_lock = threading.Lock()


def unit_grid_ids(ws: Workspace, unit_id: str) -> set[str]:
    """Ids of the grids of ``unit_id``: ``grids.unit_id`` plus the unit's ``grid_ids``."""
    found: set[str] = set()
    names = ws.layer_names()
    if "grids" in names:
        grids = ws.layer("grids")
        if "unit_id" in grids.columns:
            found |= set(grids.loc[grids["unit_id"].astype(str) == unit_id, "id"].astype(str))
    if "units" in names:
        units = ws.layer("units")
        if "grid_ids" in units.columns:
            for value in units.loc[units["id"].astype(str) == unit_id, "grid_ids"].dropna():
                found |= set(parse_id_list(value))
    return found


def grid_unit_choices(ws: Workspace) -> list[str]:
    """Ids of the units that are responsible for at least one grid, sorted.

    A unit counts through ``grids.unit_id`` or through its own ``units.grid_ids`` naming
    a grid of the workspace, as :func:`unit_grid_ids` finds them.
    """
    names = ws.layer_names()
    if "grids" not in names:
        return []
    grids = ws.layer("grids")
    grid_ids = set(grids["id"].astype(str))
    found: set[str] = set()
    if "unit_id" in grids.columns:
        found |= {u for u in grids["unit_id"].dropna().astype(str) if u.strip()}
    if "units" in names:
        units = ws.layer("units")
        if "grid_ids" in units.columns:
            for unit_id, value in zip(units["id"].astype(str), units["grid_ids"], strict=True):
                if isinstance(value, str) and grid_ids & set(parse_id_list(value)):
                    found.add(unit_id)
    return sorted(found)


def layer_for_unit(ws: Workspace, name: str, unit_id: str | None) -> Any:
    """Return layer ``name``, restricted to ``unit_id`` when it is a unit-scoped layer.

    Grids keep the unit's grids, incidents those inside them, units the unit itself;
    shared geography (roads, stations, communities...) is returned whole.
    """
    if unit_id is None or name not in UNIT_SCOPED_LAYERS:
        return ws.layer(name)
    if name == "units":
        units = ws.layer("units")
        return units[units["id"].astype(str) == unit_id]
    grid_ids = unit_grid_ids(ws, unit_id)
    grids = ws.spatial_layer("grids")
    grids = grids[grids["id"].astype(str).isin(grid_ids)]
    if name == "grids":
        return grids
    points = ws.spatial_layer(name)
    if not len(grids):
        return points.iloc[0:0]
    area = grids.to_crs(points.crs).union_all()
    return points[points.within(area)]


def spatial_layer_names(ws: Workspace) -> list[str]:
    """Names of the workspace's data-model layers that have geometry, in file order."""
    return [n for n in ws.layer_names() if n in LAYERS and not LAYERS[n].is_table]


def grid_map(
    ws: Workspace,
    *,
    unit_id: str | None = None,
    color_by: str = "team",
    assets_url: str = "/static/vendor",
) -> folium.Map:
    """The grid responsibility map page: every grid, or an officer's unit's grids only.

    Raises
    ------
    WorkspaceError
        If the workspace has no grids (or none for the unit).
    """
    names = ws.layer_names()
    if "grids" not in names:
        raise WorkspaceError(_("the workspace has no grids layer; import grids first"))
    grids = layer_for_unit(ws, "grids", unit_id)
    if not len(grids):
        raise WorkspaceError(_("no grids belong to unit %(unit)r", unit=unit_id))
    return layer_maps.grid_map(
        grids,
        incidents=layer_for_unit(ws, "incidents", unit_id) if "incidents" in names else None,
        roads=ws.spatial_layer("roads") if "roads" in names else None,
        attribution=maps.attribution_for(ws.layer_notes),
        color_by=color_by,
        assets_url=assets_url,
    )


def overview_map(
    ws: Workspace, *, unit_id: str | None = None, assets_url: str = "/static/vendor"
) -> folium.Map:
    """The workspace overview map: roads, grids and incidents (an officer's unit only).

    Raises
    ------
    WorkspaceError
        If the workspace has none of those layers.
    """
    names = ws.layer_names()

    def spatial(name: str) -> gpd.GeoDataFrame | None:
        if name not in names:
            return None
        frame = layer_for_unit(ws, name, unit_id)
        return frame if isinstance(frame, gpd.GeoDataFrame) else None

    return layer_maps.layers_map(
        roads=spatial("roads"),
        grids=spatial("grids"),
        incidents=spatial("incidents"),
        attribution=maps.attribution_for(ws.layer_notes),
        assets_url=assets_url,
    )


def map_html(m: folium.Map, *, inline_assets: bool = False) -> str:
    """A map as the HTML page a frame shows (Leaflet inlined for a download).

    A map from the cache (shared by requests) is rendered once per form and its HTML
    kept while the map is alive; a fresh map is simply rendered.
    """
    if not is_shared(m):
        return maps.render_html(m, inline_assets=inline_assets)

    def render() -> str:
        with _render_lock:
            return maps.render_html(m, inline_assets=inline_assets)

    return derived_cached(m, ("map_html", inline_assets), render)
