"""Maps of a workspace's layers: the overview, the grid responsibility map, whole-city maps.

Built with :mod:`gisapp.render.maps`; the web pages and the printed grid map draw these.
"""

from __future__ import annotations

import logging

import folium
import geopandas as gpd
import pandas as pd

from gisapp.errors import WorkspaceError
from gisapp.render import maps
from gisapp.store import Workspace
from layers.i18n import _, _l

logger = logging.getLogger(__name__)


#: What a click on an incident shows (fields the layer lacks are left out; text escaped).
INCIDENT_DETAILS = {
    "id": _l("Incident"),
    "category": _l("Category"),
    "occurred_at": _l("Time"),
    "address": _l("Address"),
    # Translators: the incident's free-text description, 简要案情 in Chinese
    "description": _l("Description (简要案情)"),
}


def grid_workload(grids: gpd.GeoDataFrame, incidents: gpd.GeoDataFrame) -> pd.Series:
    """Count incidents per grid.

    Parameters
    ----------
    grids
        Polygons with an ``id`` field.
    incidents
        Points in any CRS.

    Returns
    -------
    pandas.Series
        Incident count per grid id (0 for a grid with none), named ``incidents``.
    """
    ids = grids["id"].astype(str)
    if incidents is None or not len(incidents):
        return pd.Series(0, index=ids.to_numpy(), name="incidents")
    points = incidents[["geometry"]].to_crs(grids.crs)
    joined = gpd.sjoin(points, grids[["id", "geometry"]], predicate="within", how="inner")
    counts = joined["id"].astype(str).value_counts()
    return counts.reindex(ids.to_numpy(), fill_value=0).rename("incidents")


def grid_map(
    grids: gpd.GeoDataFrame,
    *,
    incidents: gpd.GeoDataFrame | None = None,
    roads: gpd.GeoDataFrame | None = None,
    attribution: str | None = None,
    color_by: str = "team",
    assets_url: str = "/static/vendor",
) -> folium.Map:
    """Build the grid responsibility map: grids coloured by ``color_by``, labels, workload.

    Parameters
    ----------
    grids
        The grids to show (not empty).
    incidents, roads
        Incidents counted per grid and drawn; roads of the base map (clipped to the grids'
        surroundings so an officer's page stays small).
    attribution
        Credit line of the data shown.
    color_by
        ``"team"``, ``"officer"`` or ``"unit_id"``.
    assets_url
        URL prefix of the vendored Leaflet files.
    """
    grids = grids.assign(incidents=grid_workload(grids, incidents).to_numpy())
    if roads is not None and len(roads):
        minx, miny, maxx, maxy = grids.total_bounds
        pad = max(maxx - minx, maxy - miny) * 0.25
        roads = roads.cx[minx - pad : maxx + pad, miny - pad : maxy + pad]
    m = maps.base_map(
        grids.total_bounds,
        roads=roads,
        attribution=attribution,
        assets_url=assets_url,
    )
    colors = maps.category_colors(grids[color_by]) if color_by in grids.columns else {}
    fields = {
        "id": _("Grid"),
        "community_id": _("Community"),
        "officer": _("Officer"),
        "team": _("Team"),
        "unit_id": _("Unit"),
        "phone": _("Phone"),
        "incidents": _("Incidents"),
    }
    maps.add_polygons(
        m,
        grids,
        name=_("Grids"),
        color_by=color_by,
        colors=colors,
        label_field="id",
        tooltip_fields=fields,
    )
    if colors:
        titles = {"team": _("Team"), "officer": _("Officer"), "unit_id": _("Unit Id")}
        title = titles.get(color_by) or color_by.replace("_", " ").title()
        maps.add_legend(m, title, {str(k): v for k, v in colors.items()})
    return m


# -- overview and whole-city maps ------------------------------------------------------------


def layers_map(
    *,
    roads: gpd.GeoDataFrame | None = None,
    grids: gpd.GeoDataFrame | None = None,
    incidents: gpd.GeoDataFrame | None = None,
    attribution: str | None = None,
    incidents_name: str | None = None,
    assets_url: str = "/static/vendor",
) -> folium.Map:
    """Build a map of roads (base), grids and incidents that stays usable at city scale.

    Roads are merged into one simplified line per road class; incidents are clustered
    above 500 points and counted in 250 m cells above 20,000 (see
    :func:`gisapp.render.maps.add_points`), so a whole city with hundreds of thousands of
    incidents stays a page of a few megabytes.

    Parameters
    ----------
    roads, grids, incidents
        Layers in any CRS; a layer that is ``None`` or empty is left out.
    attribution
        Plain text for the attribution corner (e.g. the OSM notice).
    incidents_name
        Name of the incident layer in the layer control (e.g. "Incidents (generated)");
        "Incidents" in the reader's language by default.
    assets_url
        URL prefix of the vendored Leaflet files.

    Returns
    -------
    folium.Map
        The map (render it with :func:`gisapp.render.maps.render_html`).

    Raises
    ------
    WorkspaceError
        If every layer is missing or empty.
    """
    present = [f for f in (grids, incidents, roads) if f is not None and len(f)]
    if not present:
        raise WorkspaceError(_("nothing to map: the workspace has no roads, grids or incidents"))
    bounds = present[0].to_crs(4326).total_bounds
    m = maps.base_map(bounds, roads=roads, attribution=attribution, assets_url=assets_url)
    if grids is not None and len(grids):
        maps.add_polygons(
            m,
            grids,
            name=_("Grids"),
            color="#1d3557",
            fill_opacity=0.08,
            label_field="id" if "id" in grids.columns else None,
            tooltip_fields={"id": _("Grid"), "officer": _("Officer"), "unit_id": _("Unit")},
        )
    if incidents is not None and len(incidents):
        maps.add_points(
            m,
            incidents,
            name=_("Incidents") if incidents_name is None else incidents_name,
            tooltip_fields={"category": _("Category"), "occurred_at": _("Time")},
            popup_fields={field: str(label) for field, label in INCIDENT_DETAILS.items()},
        )
    return m


def workspace_grid_map(ws: Workspace, *, assets_url: str = "/static/vendor") -> folium.Map:
    """The grid responsibility map of a whole workspace (every grid, incident and road)."""
    names = ws.layer_names()
    return grid_map(
        ws.spatial_layer("grids"),
        incidents=ws.spatial_layer("incidents") if "incidents" in names else None,
        roads=ws.spatial_layer("roads") if "roads" in names else None,
        attribution=maps.attribution_for(ws.layer_notes),
        assets_url=assets_url,
    )
