"""Printed and offline maps of areas: the grid responsibility map and the blind-zone map."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from gisapp.errors import ExportError
from gisapp.plans import text
from gisapp.render import maps
from gisapp.render.printing import (
    BLIND_COLOR,
    STATION_COLOR,
    NorthArrow,
    Paper,
    Section,
    cell_text,
    page_footer,
    page_size,
    print_page,
    set_print_options,
)
from gisapp.store.geopackage import Workspace

logger = logging.getLogger(__name__)


def grids_page(ws: Workspace, *, paper: Paper = "A4", landscape: bool = False) -> str:
    """Printable grid responsibility map (网格): the map, then the responsibility table."""
    from gisapp.render.layer_maps import grid_workload, workspace_grid_map

    m = workspace_grid_map(ws, assets_url="/static/vendor")
    set_print_options(m, True)
    NorthArrow().add_to(m)
    grids = ws.spatial_layer("grids")
    incidents = ws.spatial_layer("incidents") if ws.has_layer("incidents") else None
    counts = grid_workload(grids, incidents)
    columns = [
        c for c in ("id", "community_id", "officer", "team", "phone", "unit_id") if c in grids
    ]
    order = [c for c in ("team", "officer", "id") if c in grids]
    table = grids.assign(incidents=counts.to_numpy()).sort_values(order, kind="stable")
    rows = [[text(v) for v in rec] for rec in table[[*columns, "incidents"]].to_numpy()]
    labels = {
        "id": "Grid (网格)",
        "community_id": "Community",
        "officer": "Officer",
        "team": "Team",
        "phone": "Phone",
        "unit_id": "Unit",
    }
    section = Section(
        title="Grid responsibility (网格责任)",
        columns=[*(labels[c] for c in columns), "Incidents"],
        rows=rows,
        cell_classes=[""] * len(columns) + ["num"],
        row_classes=[""] * len(rows),
        figures=f"{len(rows):,} grids · incidents counted inside each grid",
    )
    width_mm, height_mm = page_size(paper, landscape)
    return print_page(
        maps.render_html(m, inline_assets=True, layer_control=False),
        title="Grid responsibility map (网格)",
        meta=[f"Workspace {ws.name}", f"{len(rows):,} grids"],
        page_footer=page_footer(ws, ws.timezone),
        sections=[section],
        width_mm=width_mm,
        height_mm=height_mm,
    )


def read_blind_zones(path: str | os.PathLike[str]) -> gpd.GeoDataFrame:
    """Read a ``blind_zones.geojson`` written by ``gisapp coverage``.

    Raises
    ------
    ExportError
        If the file is missing, unreadable or lacks ``kind``.
    """
    file = Path(path)
    if not file.is_file():
        raise ExportError(
            f"blind zones file {str(file)!r} does not exist; run 'gisapp coverage WS --out DIR' "
            "and pass DIR/blind_zones.geojson"
        )
    try:
        zones = gpd.read_file(file)
    except pyogrio.errors.DataSourceError as exc:
        raise ExportError(f"blind zones file {str(file)!r} cannot be read ({exc})") from None
    if "kind" not in zones.columns:
        raise ExportError(
            f"blind zones file {str(file)!r} has no 'kind' column; is it blind_zones.geojson?"
        )
    return zones


def blind_zones_map(
    ws: Workspace, blind_zones: gpd.GeoDataFrame, *, for_print: bool = False
) -> folium.Map:
    """Map of blind zones (盲区) by kind over the roads, with stations, legend and arrow."""
    if not len(blind_zones):
        raise ExportError("there are no blind zones to map: everything is reached in time")
    zones = blind_zones.to_crs(4326)
    bounds = padded_bounds(np.array([zones.total_bounds]), 0.04)
    m = maps.base_map(
        bounds,
        roads=clipped_layer(ws, "roads", bounds),
        attribution=maps.attribution_for(ws.layer_notes),
    )
    set_print_options(m, for_print)
    legend = add_blind_zones(m, zones, by_kind=True)
    if ws.has_layer("stations"):
        stations = ws.spatial_layer("stations")
        if len(stations):
            maps.add_points(
                m,
                stations,
                name="Stations",
                color=STATION_COLOR,
                radius=6,
                tooltip_fields={"name": "Station"},
            )
            legend["Station"] = STATION_COLOR
    maps.add_legend(m, "Blind zones (盲区)", legend)
    NorthArrow().add_to(m)
    return m


def blind_zones_page(
    ws: Workspace, blind_zones: gpd.GeoDataFrame, *, paper: Paper = "A4", landscape: bool = False
) -> str:
    """Printable blind-zone map: the map, then the zones ranked by kind and risk."""
    m = blind_zones_map(ws, blind_zones, for_print=True)
    columns = [
        c
        for c in ("kind", "id", "name", "risk", "required_minutes", "reached_minutes")
        if c in blind_zones
    ]
    rows = [[cell_text(v) for v in rec] for rec in blind_zones[columns].to_numpy()]
    labels = {
        "kind": "Kind",
        "id": "Id",
        "name": "Name",
        "risk": "Risk",
        "required_minutes": "Required (min)",
        "reached_minutes": "Reached (min)",
    }
    section = Section(
        title="Blind zones (盲区)",
        columns=[labels[c] for c in columns],
        rows=rows,
        cell_classes=["num" if c not in ("kind", "id", "name") else "" for c in columns],
        row_classes=[""] * len(rows),
        figures=f"{len(rows):,} zone(s); reached = minutes until first reached (blank: never)",
    )
    width_mm, height_mm = page_size(paper, landscape)
    return print_page(
        maps.render_html(m, inline_assets=True, layer_control=False),
        title="Blind zones (盲区)",
        meta=[f"Workspace {ws.name}", f"{len(rows):,} zone(s)"],
        page_footer=page_footer(ws, ws.timezone),
        sections=[section],
        width_mm=width_mm,
        height_mm=height_mm,
    )


def add_blind_zones(
    m: folium.Map,
    zones: gpd.GeoDataFrame,
    *,
    by_kind: bool = False,
    fill_opacity: float = 0.35,
    line_weight: float = 4.0,
) -> dict[str, str]:
    """Draw blind zones by geometry type; return legend entries."""
    data = zones.to_crs(4326)
    data = data[data.geometry.notna() & ~data.geometry.is_empty]
    kinds = (
        data["kind"].astype(str) if "kind" in data.columns else pd.Series("zone", index=data.index)
    )
    kind_colors = {
        "street": "#e31a1c",
        "grid": "#ff7f00",
        "key_place": "#6a3d9a",
        "prevention_zone": "#b15928",
    }
    legend: dict[str, str] = {}
    tips = {
        "kind": "Kind",
        "id": "Id",
        "name": "Name",
        "risk": "Risk",
        "required_minutes": "Required (min)",
        "reached_minutes": "Reached (min)",
    }
    for kind in sorted(kinds.unique()) if by_kind else [None]:
        part = data if kind is None else data[kinds == kind]
        color = BLIND_COLOR if kind is None else kind_colors.get(kind, BLIND_COLOR)
        name = "Blind zones (盲区)" if kind is None else f"Blind: {kind.replace('_', ' ')}"
        geom = part.geom_type.fillna("")
        polys = part[geom.str.contains("Polygon")]
        lines = part[geom.str.contains("LineString")]
        points = part[geom.str.contains("Point")]
        if len(polys):
            maps.add_polygons(
                m,
                polys,
                name=name,
                id_field=None,
                color=color,
                fill_opacity=fill_opacity,
                weight=1.0,
                tooltip_fields=tips,
            )
        if len(lines):
            maps.add_lines(
                m,
                lines,
                name=name,
                id_field=None,
                color=color,
                weight=line_weight,
                tooltip_fields=tips,
            )
        if len(points):
            maps.add_points(
                m, points, name=name, id_field=None, color=color, radius=6, tooltip_fields=tips
            )
        legend[name] = color
    return legend


def clipped_layer(ws: Workspace, name: str, bounds: Sequence[float]) -> gpd.GeoDataFrame | None:
    if not ws.has_layer(name):
        return None
    layer = ws.layer(name)
    if not isinstance(layer, gpd.GeoDataFrame) or not len(layer):
        return None
    minx, miny, maxx, maxy = bounds
    pad = max(maxx - minx, maxy - miny) * 0.3
    return layer.to_crs(4326).cx[minx - pad : maxx + pad, miny - pad : maxy + pad]


def padded_bounds(boxes: np.ndarray, share: float) -> list[float]:
    minx, miny = np.nanmin(boxes[:, 0]), np.nanmin(boxes[:, 1])
    maxx, maxy = np.nanmax(boxes[:, 2]), np.nanmax(boxes[:, 3])
    pad = max(maxx - minx, maxy - miny, 0.002) * share
    return [float(minx - pad), float(miny - pad), float(maxx + pad), float(maxy + pad)]
