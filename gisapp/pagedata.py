"""Data behind the web pages: workspace summary, grid workload, per-unit views, grid map.

The web app is a thin adapter over these functions (they return data and maps, never
responses). Workspace access goes through ``open_workspace`` only.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import pandas as pd

from gisapp import maps
from gisapp.errors import WorkspaceError
from gisapp.workspace import Workspace

logger = logging.getLogger(__name__)

OSM_ATTRIBUTION = "© OpenStreetMap contributors"

#: Layers an officer may only see for his own unit.
UNIT_SCOPED_LAYERS = frozenset({"grids", "incidents", "units"})


def open_workspace(path: str | Path) -> Workspace:
    """Open the workspace GeoPackage the web app serves.

    Raises
    ------
    WorkspaceError
        If the file does not exist or is not a readable GeoPackage.
    """
    return Workspace.open(path)


def attribution_for(ws: Workspace, layers: tuple[str, ...] = ("roads",)) -> str | None:
    """Return the attribution the map of ``layers`` must show, from the layer notes."""
    notes = ws.layer_notes
    text = " ".join(notes.get(name, "") for name in layers).lower()
    if "openstreetmap" in text or re.search(r"\bosm\b", text):
        return OSM_ATTRIBUTION
    return None


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
                found |= {g.strip() for g in str(value).split(",") if g.strip()}
    return found


def layer_for_unit(ws: Workspace, name: str, unit_id: str | None) -> Any:
    """Return layer ``name``, restricted to ``unit_id`` when it is a unit-scoped layer.

    Grids keep the unit's grids, incidents those inside them, units the unit itself;
    shared geography (roads, stations, communities...) is returned whole.
    """
    frame = ws.layer(name)
    if unit_id is None or name not in UNIT_SCOPED_LAYERS:
        return frame
    if name == "units":
        return frame[frame["id"].astype(str) == unit_id]
    grid_ids = unit_grid_ids(ws, unit_id)
    grids = ws.layer("grids")
    grids = grids[grids["id"].astype(str).isin(grid_ids)]
    if name == "grids":
        return grids
    if not len(grids):
        return frame.iloc[0:0]
    area = grids.to_crs(frame.crs).union_all()
    return frame[frame.within(area)]


def grid_map(
    ws: Workspace,
    *,
    unit_id: str | None = None,
    color_by: str = "team",
    assets_url: str = "/static/vendor",
) -> folium.Map:
    """Build the grid responsibility map: grids coloured by ``color_by``, labels, workload.

    Parameters
    ----------
    ws
        Workspace with a ``grids`` layer (``roads`` and ``incidents`` used when present).
    unit_id
        Show only this unit's grids and incidents (an officer's view).
    color_by
        ``"team"``, ``"officer"`` or ``"unit_id"``.
    assets_url
        URL prefix of the vendored Leaflet files.

    Raises
    ------
    WorkspaceError
        If the workspace has no grids (or none for the unit).
    """
    names = ws.layer_names()
    if "grids" not in names:
        raise WorkspaceError("the workspace has no grids layer; import grids first")
    grids = layer_for_unit(ws, "grids", unit_id)
    if not len(grids):
        raise WorkspaceError(f"no grids belong to unit {unit_id!r}")
    incidents = layer_for_unit(ws, "incidents", unit_id) if "incidents" in names else None
    grids = grids.assign(incidents=grid_workload(grids, incidents).to_numpy())
    roads = ws.layer("roads") if "roads" in names else None
    if roads is not None and len(roads):
        # Clip the base map to the view's surroundings so an officer's page stays small.
        minx, miny, maxx, maxy = grids.total_bounds
        pad = max(maxx - minx, maxy - miny) * 0.25
        roads = roads.cx[minx - pad : maxx + pad, miny - pad : maxy + pad]
    m = maps.base_map(
        grids.total_bounds,
        roads=roads,
        attribution=attribution_for(ws),
        assets_url=assets_url,
    )
    colors = maps.category_colors(grids[color_by]) if color_by in grids.columns else {}
    fields = {
        "id": "Grid (网格)",
        "community_id": "Community",
        "officer": "Officer",
        "team": "Team",
        "unit_id": "Unit",
        "phone": "Phone",
        "incidents": "Incidents",
    }
    maps.add_polygons(
        m,
        grids,
        name="Grids (网格)",
        color_by=color_by,
        colors=colors,
        label_field="id",
        tooltip_fields=fields,
    )
    if colors:
        maps.add_legend(
            m, color_by.replace("_", " ").title(), {str(k): v for k, v in colors.items()}
        )
    return m


def to_geojson(frame: gpd.GeoDataFrame) -> str:
    """Return ``frame`` as a GeoJSON string in EPSG:4326 with datetimes as ISO 8601 text."""
    out = frame.to_crs(4326) if frame.crs is not None else frame.copy()
    for column in out.columns:
        if column != out.geometry.name and pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].map(lambda t: None if pd.isna(t) else t.isoformat())
    return out.to_json(drop_id=True, na="null")
