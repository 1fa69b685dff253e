"""Maps of a workspace's layers: the overview, the grid responsibility map, whole-city maps.

Built with :mod:`gisapp.render.maps`; the web pages and the printed grid map draw these.
At city scale (tens of thousands of streets or incidents) the streets and the incident
counts are drawn by the canvas layers of :mod:`gisapp.render.elements`
(:class:`~gisapp.render.elements.CityLines`, :class:`~gisapp.render.elements.CityCells`),
whose data come pre-projected and packed, so the page stays small and a zoom step only
redraws what is in view.
"""

from __future__ import annotations

import base64
import html
import logging
import math

import folium
import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from gisapp.errors import WorkspaceError
from gisapp.render import maps
from gisapp.render.colors import ROAD_COLOR, ROAD_MAJOR_COLOR
from gisapp.render.elements import CityCells, CityLines
from gisapp.render.street_labels import add_street_labels
from gisapp.store import Workspace
from layers.i18n import _, _l

logger = logging.getLogger(__name__)

#: Above this many street segments ``layers_map`` draws the streets with ``add_city_roads``.
CITY_ROADS_ABOVE = 20_000
#: Above this many incidents ``layers_map`` counts them in cells with ``add_city_cells``
#: (the size at which :func:`gisapp.render.maps.add_points` stops drawing points, too).
CITY_POINTS_ABOVE = 20_000
#: Web Mercator, the map's own projection: data drawn by the city layers are stored in it.
_MERCATOR = 3857


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
    city_roads = roads is not None and len(roads) > CITY_ROADS_ABOVE
    m = maps.base_map(
        bounds,
        roads=None if city_roads else roads,
        attribution=attribution,
        assets_url=assets_url,
    )
    if city_roads and roads is not None:
        add_city_roads(m, roads)
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
    if incidents is not None and len(incidents) > CITY_POINTS_ABOVE:
        add_city_cells(
            m, incidents, name=_("Incidents") if incidents_name is None else incidents_name
        )
    elif incidents is not None and len(incidents):
        maps.add_points(
            m,
            incidents,
            name=_("Incidents") if incidents_name is None else incidents_name,
            tooltip_fields={"category": _("Category"), "occurred_at": _("Time")},
            popup_fields={field: str(label) for field, label in INCIDENT_DETAILS.items()},
        )
    return m


def add_city_roads(
    m: folium.Map,
    roads: gpd.GeoDataFrame,
    *,
    simplify_m: float = 5.0,
    name: str | None = None,
    labels: bool = True,
) -> CityLines:
    """Add a whole city's streets as the base layer, drawn on one canvas.

    The same base map as :func:`gisapp.render.maps.add_roads_base` (minor and major
    streets in the same colours, street names), built for size: the segments of
    each road class are merged into lines, simplified, projected once to Web Mercator and
    packed (see :class:`~gisapp.render.elements.CityLines`), so the browser never parses
    GeoJSON nor re-projects a vertex when the map zooms, and draws only the lines in view.

    Parameters
    ----------
    m
        Map made by :func:`gisapp.render.maps.base_map` (without roads).
    roads
        Line layer in any CRS; a ``highway`` or ``MTFCC`` column picks the major roads.
    simplify_m
        Simplification tolerance, ground metres.
    name
        Name in the layer control, "Streets" in the reader's language by default.
    labels
        Whether to add the street names (a ``name`` column).

    Returns
    -------
    CityLines
        The base layer.

    Raises
    ------
    ValueError
        If ``roads`` has no CRS or no line.
    """
    lines = maps.to_wgs84(roads, "roads")
    lines = lines[lines.geometry.notna() & ~lines.geometry.is_empty]
    if not len(lines):
        raise ValueError("'roads' has no line to draw; pass a layer with street lines")
    major = maps.major_roads(lines)
    metric = lines.geometry.to_crs(_MERCATOR).to_numpy()
    minx, miny, _maxx, _maxy = shapely.total_bounds(metric)
    origin = (math.floor(minx), math.floor(miny))
    # Mercator stretches ground lengths by 1 / cos(latitude)
    stretch = 1.0 / math.cos(math.radians(float(np.mean(lines.total_bounds[[1, 3]]))))
    classes = []
    # minor streets 1 px wide (1.2 on the GeoJSON base): a browser strokes those fastest
    for is_major, color, weight in ((False, ROAD_COLOR, 1.0), (True, ROAD_MAJOR_COLOR, 2.6)):
        geoms = metric[major == is_major]
        if not len(geoms):
            continue
        merged = shapely.line_merge(shapely.multilinestrings(shapely.get_parts(geoms)))
        parts = shapely.get_parts(shapely.simplify(shapely.get_parts(merged), simplify_m * stretch))
        parts = parts[shapely.get_num_coordinates(parts) >= 2]
        # neighbouring lines one after the other: the steps between them stay short
        parts = parts[np.argsort(gpd.GeoSeries(parts).hilbert_distance(), kind="stable")]
        classes.append(
            {
                "style": {"color": color, "weight": weight, "opacity": 0.9},
                "lines": _pack_lines(parts, origin),
            }
        )
    layer = CityLines(
        classes, origin, name=html.escape(_("Streets") if name is None else str(name))
    )
    layer.add_to(m)
    if labels:
        add_street_labels(m, lines, major=major)
    logger.info(
        "city roads: %s segments packed into %s characters",
        f"{len(lines):,}",
        f"{sum(len(c['lines']) for c in classes):,}",
    )
    return layer


def add_city_cells(
    m: folium.Map,
    points: gpd.GeoDataFrame,
    *,
    name: str,
    cell_m: float = 250.0,
    color: str = "#404040",
) -> CityCells:
    """Add a city's points counted in square cells, shaded by count on one canvas.

    The cells are those of :func:`gisapp.render.maps.add_points` above its aggregation
    size (squares of ``cell_m`` metres, opacity from 0.15 to 0.85 with the count, the
    count shown on hover), laid out in Web Mercator so that they stay square on the map:
    a side is ``cell_m`` on the ground at the points' middle latitude (within 0.5 % over
    a city 50 km across).

    Parameters
    ----------
    m
        Map made by :func:`gisapp.render.maps.base_map`.
    points
        Point layer in any CRS.
    name
        Name in the layer control (escaped here).
    cell_m
        Cell side, ground metres.
    color
        Fill colour of the cells.

    Returns
    -------
    CityCells
        The layer.

    Raises
    ------
    ValueError
        If ``points`` has no CRS or no point.
    """
    xy, counts, origin, cell = city_cell_counts(points, cell_m=cell_m)
    # Translators: one line of a map tooltip or popup, e.g. "Grid: WG01"
    line = html.escape(_("%(label)s: %(value)s"), quote=False)
    tip = line % {"label": f"<b>{html.escape(_('Count'))}</b>", "value": "\x00"}
    before, _sep, after = tip.partition("\x00")
    steps_j = np.diff(xy[:, 1], prepend=0)
    steps_i = np.diff(xy[:, 0], prepend=0)
    steps_i[steps_j != 0] = xy[steps_j != 0, 0]
    layer = CityCells(
        _varints_base64(np.column_stack([steps_i, steps_j, counts]).ravel()),
        origin,
        cell,
        name=html.escape(str(name)),
        color=color,
        tip=(before, after),
    )
    layer.add_to(m)
    logger.info("%s points counted in %s cells", f"{int(counts.sum()):,}", f"{len(counts):,}")
    return layer


def city_cell_counts(
    points: gpd.GeoDataFrame, *, cell_m: float = 250.0
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], tuple[int, int], float]:
    """Count points in the Web Mercator cells of :func:`add_city_cells`.

    Parameters
    ----------
    points
        Point layer with a CRS.
    cell_m
        Cell side, ground metres at the points' middle latitude.

    Returns
    -------
    tuple
        The non-empty cells' ``(column, row)`` indices sorted by row then column, their
        counts, the grid's origin (Web Mercator metres) and the cell side in Web
        Mercator metres.

    Raises
    ------
    ValueError
        If ``points`` has no CRS or no point.
    """
    wgs84 = maps.to_wgs84(points, "points").geometry
    wgs84 = wgs84[wgs84.notna() & ~wgs84.is_empty]
    if not len(wgs84):
        raise ValueError("'points' has no point to count; pass a layer with points")
    lat = float(np.mean(wgs84.total_bounds[[1, 3]]))
    cell = cell_m / math.cos(math.radians(lat))
    xy = shapely.get_coordinates(wgs84.to_crs(_MERCATOR).to_numpy())
    origin = (math.floor(xy[:, 0].min()), math.floor(xy[:, 1].min()))
    ij = np.floor((xy - origin) / cell).astype(np.int64)
    cells, counts = np.unique(ij[:, [1, 0]], axis=0, return_counts=True)
    return cells[:, [1, 0]], counts.astype(np.int64), origin, cell


def _pack_lines(lines: npt.NDArray[np.object_], origin: tuple[int, int]) -> str:
    """Lines as :class:`~gisapp.render.elements.CityLines` reads them: per line its vertex
    count, then each vertex as the step (whole metres) from the previous one."""
    coords = np.rint(shapely.get_coordinates(lines) - origin).astype(np.int64)
    counts = shapely.get_num_coordinates(lines).astype(np.int64)
    steps = np.diff(coords, axis=0, prepend=np.zeros((1, 2), dtype=np.int64))
    heads = np.arange(len(counts)) + 2 * np.concatenate([[0], np.cumsum(counts)[:-1]])
    stream = np.empty(len(counts) + steps.size, dtype=np.int64)
    is_head = np.zeros(len(stream), dtype=bool)
    is_head[heads] = True
    stream[is_head] = counts
    stream[~is_head] = steps.ravel()
    return _varints_base64(stream)


def _varints_base64(values: npt.NDArray[np.int64]) -> str:
    """Integers as zigzag LEB128 varints (small numbers, of either sign, in one byte), base64."""
    signed = np.asarray(values, dtype=np.int64)
    zigzag = ((signed << 1) ^ (signed >> 63)).astype(np.uint64)
    sizes = np.ones(len(zigzag), dtype=np.int64)
    for k in range(1, 10):
        sizes += zigzag >= np.uint64(1 << (7 * k))
    starts = np.cumsum(sizes) - sizes
    out = np.empty(int(sizes.sum()), dtype=np.uint8)
    for k in range(int(sizes.max(initial=0))):
        sel = sizes > k
        low = (zigzag[sel] >> np.uint64(7 * k)) & np.uint64(0x7F)
        more = (sizes[sel] > k + 1).astype(np.uint64) << np.uint64(7)
        out[starts[sel] + k] = (low | more).astype(np.uint8)
    return base64.b64encode(out.tobytes()).decode("ascii")


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
