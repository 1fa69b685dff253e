"""Offline Leaflet maps built with folium: a vector base map, layers, legends, HTML output.

Police intranets have no internet, so every map here loads its JavaScript and CSS from the
app's own ``/static/vendor`` (or embeds them with ``render_html(..., inline_assets=True)``),
has no tile layer, and draws its base map from the workspace's roads. Every piece of user
text that reaches the page (tooltips, popups, labels, legend, layer names, attribution) is
HTML-escaped here, because Leaflet inserts those strings as HTML.

Typical use::

    m = base_map(bounds, roads=roads, attribution="© OpenStreetMap contributors")
    add_polygons(m, grids, name=_("Grids"), color_by="team", label_field="id")
    add_points(m, incidents, name="Incidents", tooltip_fields={"category": "Category"})
    add_legend(m, "Team", {"A": "#1f77b4", "B": "#ff7f0e"})
    html = render_html(m, inline_assets=True)

The Leaflet controls live in ``gisapp.render.elements``, the vendored-asset handling in
``gisapp.render.assets`` and the colours in ``gisapp.render.colors`` (re-exported here).
"""

from __future__ import annotations

import html
import logging
import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import shapely
from branca.element import MacroElement
from folium.map import FitBounds
from folium.plugins import MarkerCluster

from gisapp.render import assets
from gisapp.render.assets import VENDOR_DIR
from gisapp.render.colors import (
    PALETTE,
    ROAD_COLOR,
    ROAD_MAJOR_COLOR,
    category_colors,
    css_color,
    unit_colors,
)
from gisapp.render.elements import (
    PANES,
    Attribution,
    Labels,
    Legend,
    Panes,
    ScaleBar,
    Slider,
    StreetLabels,
    hatch_fill,
    pane_options,
)
from gisapp.render.features import as_text, rounded_geojson
from gisapp.render.figure import GeoJson, render_figure
from gisapp.render.street_labels import street_labels
from layers.crs import metric_crs
from layers.i18n import DEFAULT_LANGUAGE, _, current_language

__all__ = [
    "OSM_ATTRIBUTION",
    "PALETTE",
    "PANES",
    "VENDOR_DIR",
    "add_layer_slider",
    "add_legend",
    "add_lines",
    "add_points",
    "add_polygons",
    "add_roads_base",
    "aggregate_points",
    "attribution_for",
    "base_map",
    "category_colors",
    "hatch_fill",
    "pane_options",
    "render_html",
    "unit_colors",
]

logger = logging.getLogger(__name__)

#: Road classes drawn heavier on the base map (OSM ``highway`` values, TIGER ``MTFCC``).
_MAJOR_ROADS = frozenset(
    {"motorway", "trunk", "primary", "secondary", "S1100", "S1200"}
    | {"motorway_link", "trunk_link", "primary_link"}
)


def major_roads(roads: gpd.GeoDataFrame) -> npt.NDArray[np.bool_]:
    """Which of ``roads`` are major streets, by their ``highway`` (OpenStreetMap) or
    ``MTFCC`` (TIGER) class; none without a class."""
    class_col = road_class_column(roads)
    if class_col is None:
        return np.zeros(len(roads), dtype=bool)
    return np.asarray(roads[class_col].astype(str).isin(_MAJOR_ROADS).to_numpy(), dtype=bool)


def road_class_column(roads: gpd.GeoDataFrame) -> str | None:
    """The column of ``roads`` giving their class (``highway`` or ``MTFCC``), if any."""
    return next((c for c in ("highway", "MTFCC") if c in roads.columns), None)


#: Width of a printed map in CSS pixels: A4 portrait less its margins (190 mm).
PRINT_WIDTH_PX = 718
#: Ground metres a pixel of a printed map may cover with its minor streets still drawn:
#: OpenStreetMap's standard map shows residential streets from zoom 13, about 19 m a pixel.
MINOR_STREETS_MAX_M_PER_PX = 19.0


def printable_roads(roads: gpd.GeoDataFrame, bounds: Sequence[float]) -> gpd.GeoDataFrame:
    """The streets a printed map of ``bounds`` (EPSG:4326) shows legibly.

    A map covering a whole city on a sheet of paper would draw its minor streets as one
    grey mass under the routes: past :data:`MINOR_STREETS_MAX_M_PER_PX` only the major
    streets are kept (as OpenStreetMap's own maps do at that scale). Roads without a
    ``highway`` or ``MTFCC`` class are all kept (nothing tells the minor ones).
    """
    minx, miny, maxx, maxy = bounds
    metres_per_degree = 111_320.0
    width_m = (maxx - minx) * metres_per_degree * math.cos(math.radians((miny + maxy) / 2))
    height_m = (maxy - miny) * metres_per_degree
    legible = max(width_m, height_m) / PRINT_WIDTH_PX <= MINOR_STREETS_MAX_M_PER_PX
    if legible or road_class_column(roads) is None:
        return roads
    return roads[major_roads(roads)]


def base_map(
    bounds: Sequence[float] | npt.NDArray[np.floating[Any]],
    *,
    roads: gpd.GeoDataFrame | RoadsBase | None = None,
    attribution: str | None = None,
    assets_url: str = "/static/vendor",
    simplify_m: float = 5.0,
    height: str = "100%",
) -> folium.Map:
    """Return an offline folium map fitted to ``bounds`` with the roads as its base map.

    Parameters
    ----------
    bounds
        ``(minx, miny, maxx, maxy)`` in EPSG:4326 degrees, e.g. a ``total_bounds``.
    roads
        Road centre lines drawn as light grey lines (simplified and merged into one feature
        per road class so a whole city stays small), or the streets :func:`roads_base`
        prepared; no base layer when ``None``.
    attribution
        Plain text shown in the map's attribution corner, e.g. "© OpenStreetMap
        contributors" when the roads are OSM-derived. The caller decides from the
        workspace's layer notes.
    assets_url
        URL prefix under which the vendored ``leaflet/`` and ``leaflet.markercluster/``
        folders are served.
    simplify_m
        Douglas-Peucker tolerance for the base roads, metres.
    height
        CSS height of the map element.

    Returns
    -------
    folium.Map
        Map with ``tiles=None`` and canvas rendering; ``render_html`` adds the layer
        control.

    Raises
    ------
    ValueError
        If ``bounds`` is not four finite numbers with min below max.
    """
    minx, miny, maxx, maxy = _check_bounds(bounds)
    metric_only = current_language() != DEFAULT_LANGUAGE
    m = folium.Map(
        location=[(miny + maxy) / 2, (minx + maxx) / 2],
        tiles=None,
        prefer_canvas=True,
        # English maps keep Leaflet's metric and imperial bar; other readers get metres
        control_scale=metric_only is False,
        height=height,
        zoom_start=13,
    )
    Panes().add_to(m)  # first, so every layer below finds its pane and renderer
    if metric_only:
        ScaleBar().add_to(m)
    # Without a tile layer the map has no maxZoom, which MarkerCluster needs to cluster.
    m.options["max_zoom"] = 19
    # Fractional zoom lets a district fill the frame instead of the next power of two.
    m.options["zoom_snap"] = 0.25
    assets.use_local_assets(m, assets_url)
    assets.set_assets_url(m, assets_url)  # read back by render_html and add_points
    # The map opens at the fitted view itself: an animated fit would first draw every
    # layer at the starting zoom, then zoom for a quarter of a second during which Leaflet
    # ignores the reader's own zooming.
    fit = FitBounds([[miny, minx], [maxy, maxx]])
    fit.options["animate"] = False
    fit.add_to(m)
    if roads is not None and (isinstance(roads, RoadsBase) or len(roads)):
        add_roads_base(m, roads, simplify_m=simplify_m)
    if attribution:
        Attribution(attribution).add_to(m)
    return m


@dataclass(frozen=True)
class RoadsBase:
    """The streets of a vector base map, prepared once (:func:`roads_base`): a command
    drawing several maps of one city simplifies, merges and names its streets once."""

    #: Merged, simplified, rounded geometry (GeoJSON text) of the minor and the major
    #: streets (``None`` for a class with no street).
    minor: str | None
    major: str | None
    #: Placed street names (:func:`gisapp.render.street_labels.street_labels`).
    labels: list[dict[str, Any]]
    #: Bounds of the streets in EPSG:4326 (``minx, miny, maxx, maxy``).
    total_bounds: npt.NDArray[np.float64]
    #: How many street lines it was made of.
    lines: int


@dataclass(frozen=True)
class SimplifiedStreets:
    """Street lines simplified once (:func:`simplified_streets`): maps cut from one layer
    take their lines' simplified parts from here instead of simplifying them again."""

    #: The lines simplified (EPSG:4326) and their index, which the maps' lines are rows of.
    lines: npt.NDArray[np.object_]
    index: pd.Index
    #: The metric CRS they were simplified in, and by how many metres.
    crs: pyproj.CRS
    simplify_m: float
    #: The parts of the simplified lines (EPSG:4326): line ``i``'s are
    #: ``parts[offsets[i]:offsets[i + 1]]``.
    parts: npt.NDArray[np.object_]
    offsets: npt.NDArray[np.intp]

    def rows_of(self, lines: gpd.GeoDataFrame) -> npt.NDArray[np.intp] | None:
        """Where each of ``lines`` is among the simplified lines; None unless every one of
        them is one of these very lines (a row of the layer they came from)."""
        if not self.index.is_unique:
            return None
        rows = np.asarray(self.index.get_indexer(lines.index), dtype=np.intp)
        if len(rows) and rows.min() < 0:
            return None
        same = map(operator.is_, self.lines[rows], lines.geometry.to_numpy())
        return rows if all(same) else None

    def parts_of(self, rows: npt.NDArray[np.intp]) -> npt.NDArray[np.object_]:
        """The simplified parts of the lines at ``rows``, in their order (as
        ``shapely.get_parts`` gives them)."""
        starts = self.offsets[rows]
        counts = self.offsets[rows + 1] - starts
        before = np.cumsum(counts) - counts
        at = np.repeat(starts - before, counts) + np.arange(counts.sum())
        return self.parts[at]


def simplified_streets(
    lines: gpd.GeoDataFrame, crs: pyproj.CRS, *, simplify_m: float = 5.0
) -> SimplifiedStreets:
    """Simplify ``lines`` (EPSG:4326, none missing or empty) by ``simplify_m`` metres in
    ``crs`` and split them into their parts, for :func:`roads_base`.

    Each line is simplified on its own, so the lines of a map cut from ``lines`` come
    out the same as if that map's lines were simplified alone.
    """
    simplified = lines.geometry.to_crs(crs).simplify(simplify_m).to_crs(4326).to_numpy()
    parts, owner = shapely.get_parts(simplified, return_index=True)
    offsets = np.zeros(len(lines) + 1, dtype=np.intp)
    np.cumsum(np.bincount(owner, minlength=len(lines)), out=offsets[1:])
    return SimplifiedStreets(
        lines=lines.geometry.to_numpy(),
        index=lines.index,
        crs=crs,
        simplify_m=simplify_m,
        parts=np.asarray(parts, dtype=object),
        offsets=offsets,
    )


def roads_base(
    roads: gpd.GeoDataFrame,
    *,
    simplify_m: float = 5.0,
    labels: bool = True,
    simplified: Callable[[pyproj.CRS, float], SimplifiedStreets | None] | None = None,
) -> RoadsBase:
    """Prepare ``roads`` (lines in any CRS; a ``highway`` or ``MTFCC`` column picks the
    major streets, a ``name`` column gives the names) for :func:`add_roads_base`.

    Lines are simplified by ``simplify_m`` metres in a metric CRS, coordinates rounded to
    about a metre and merged into one multi-line per class (major / minor), so the page
    carries coordinates only: on the whole Wuhan network this is what keeps a city map
    responsive. The names are placed without overlap by
    :func:`gisapp.render.street_labels.street_labels` (none when ``labels`` is False).

    ``simplified``, given the metric CRS and the tolerance, gives the layer ``roads`` is
    cut from already simplified (:func:`simplified_streets`), so that several maps of one
    city simplify its streets once; the result is the same without it.
    """
    lines = to_wgs84(roads, "roads")
    lines = lines[lines.geometry.notna() & ~lines.geometry.is_empty]
    crs = metric_crs(lines)
    streets = simplified(crs, simplify_m) if simplified is not None else None
    rows = streets.rows_of(lines) if streets is not None else None
    if streets is None or rows is None:
        streets = simplified_streets(lines, crs, simplify_m=simplify_m)
        rows = np.arange(len(lines), dtype=np.intp)
    major = major_roads(lines)

    def merged(chosen: npt.NDArray[np.intp]) -> str | None:
        if not len(chosen):
            return None
        parts = streets.parts_of(chosen)
        return rounded_geojson([shapely.line_merge(shapely.multilinestrings(parts))])[0]

    return RoadsBase(
        minor=merged(rows[~major]),
        major=merged(rows[major]),
        labels=street_labels(lines, major=major) if labels and len(lines) else [],
        total_bounds=np.asarray(lines.total_bounds, dtype=np.float64),
        lines=len(lines),
    )


def add_roads_base(
    m: folium.Map,
    roads: gpd.GeoDataFrame | RoadsBase,
    *,
    simplify_m: float = 5.0,
    name: str | None = None,
    color: str = ROAD_COLOR,
    major_color: str = ROAD_MAJOR_COLOR,
    labels: bool = True,
) -> folium.GeoJson:
    """Add ``roads`` as a muted, non-interactive vector base layer with street names.

    The base is drawn in the lowest pane, on a canvas, as two multi-lines (minor and major
    streets, see :func:`roads_base`), with the names of the streets above.

    Parameters
    ----------
    m
        Map to draw on.
    roads
        Line layer in any CRS (see :func:`roads_base`), or streets already prepared by it.
    simplify_m
        Simplification tolerance, metres (for a line layer).
    name
        Name in the layer control, "Streets" in the reader's language by default.
    color, major_color
        Line colours of the minor and the major streets.
    labels
        Whether to add the street names.

    Returns
    -------
    folium.GeoJson
        The base layer.
    """
    base = (
        roads
        if isinstance(roads, RoadsBase)
        else roads_base(roads, simplify_m=simplify_m, labels=labels)
    )
    drawn = [
        (geometry, major_color if is_major else color, weight)
        for geometry, is_major, weight in ((base.minor, False, 1.2), (base.major, True, 2.6))
        if geometry is not None
    ]
    features = [
        {
            "type": "Feature",
            "properties": {"style": {"color": line_color, "weight": weight, "opacity": 0.9}},
        }
        for _geometry, line_color, weight in drawn
    ]
    layer = GeoJson(
        {"type": "FeatureCollection", "features": features},
        geometries=[geometry for geometry, _color, _weight in drawn],
        name=html.escape(_("Streets") if name is None else str(name)),
        interactive=False,
        smooth_factor=1.0,
        **pane_options("gisapp-base"),
    )
    layer.add_to(m)
    if labels and base.labels:
        StreetLabels(base.labels).add_to(m)
    logger.debug("base roads: %s lines drawn as %s features", f"{base.lines:,}", len(features))
    return layer


def add_polygons(
    m: folium.Map | folium.FeatureGroup,
    gdf: gpd.GeoDataFrame,
    *,
    name: str,
    id_field: str | None = "id",
    color: str = "#3388ff",
    color_by: str | None = None,
    colors: Mapping[Any, str] | None = None,
    label_field: str | None = None,
    tooltip_fields: Mapping[str, str] | None = None,
    popup_fields: Mapping[str, str] | None = None,
    fill_opacity: float = 0.35,
    weight: float = 1.5,
    show: bool = True,
    max_labels: int = 1000,
    pane: str = "gisapp-grids",
    hatch: str | None = None,
    hatch_angle: float = 45.0,
    dash: str | None = None,
    opacity: float = 0.9,
) -> folium.FeatureGroup:
    """Add polygons, optionally coloured by a category, labelled and with tooltips.

    Parameters
    ----------
    m
        Map to draw on.
    gdf
        Polygon layer in any CRS (reprojected to EPSG:4326 for display).
    name
        Name in the layer control (plain text).
    id_field
        Field written as each GeoJSON feature's ``id`` (scripts and tests find features by
        it), or ``None``.
    color
        Colour when ``color_by`` is ``None`` or a value has no colour.
    color_by
        Field whose values pick the colour, e.g. ``"team"`` or ``"officer"``.
    colors
        Colour per value of ``color_by``; by default ``category_colors`` of the values.
    label_field
        Field shown as a permanent label at each polygon's representative point; labels
        are skipped above ``max_labels`` polygons, where they would cover the map.
    tooltip_fields, popup_fields
        ``{field: label}`` shown on hover / click; values are escaped.
    fill_opacity, weight
        Fill opacity and outline width in pixels.
    show
        Whether the layer is on when the map opens.
    max_labels
        Most labels drawn.
    pane
        Drawing-order pane (:data:`PANES`): ``"gisapp-grids"`` for grids and areas,
        ``"gisapp-zones"`` for blind zones and reach bands.
    hatch, hatch_angle
        Fill with hatching of this ``#rrggbb`` colour at this angle (degrees) instead of a
        flat fill (the outline keeps its colour), so what lies below stays visible.
    dash
        Outline dash pattern (SVG ``stroke-dasharray``, e.g. ``"6 4"``), or ``None``.
    opacity
        Outline opacity.

    Returns
    -------
    folium.FeatureGroup
        The group holding the polygons and their labels.
    """
    data = to_wgs84(gdf, "gdf")
    if color_by is not None and colors is None:
        colors = category_colors(data[color_by]) if color_by in data.columns else {}
    fills = (
        [(colors or {}).get(v, color) for v in data[color_by]]
        if color_by is not None and color_by in data.columns
        else [color] * len(data)
    )
    fill = hatch_fill(m, hatch, hatch_angle) if hatch else None
    styles = [
        {
            "color": c,
            "fillColor": fill or c,
            "weight": weight,
            "fillOpacity": fill_opacity,
            "opacity": opacity,
            **({"dashArray": dash} if dash else {}),
        }
        for c in fills
    ]
    group = folium.FeatureGroup(name=html.escape(str(name)), show=show)
    _feature_layer(data, styles, id_field, tooltip_fields, popup_fields, pane=pane).add_to(group)
    if label_field is not None and 0 < len(data) <= max_labels:
        points = data.geometry.representative_point()
        labels = gpd.GeoDataFrame({"_label": data[label_field].map(as_text)}, geometry=points)
        # A few labels read at any zoom; hundreds only once the view is a neighbourhood.
        Labels(labels, min_zoom=0 if len(data) <= 30 else 14.5).add_to(group)
    group.add_to(m)
    return group


def add_points(
    m: folium.Map | folium.FeatureGroup,
    gdf: gpd.GeoDataFrame,
    *,
    name: str,
    id_field: str | None = "id",
    color: str = "#404040",
    radius: float = 4.0,
    tooltip_fields: Mapping[str, str] | None = None,
    popup_fields: Mapping[str, str] | None = None,
    cluster_above: int = 500,
    aggregate_above: int = 20_000,
    cell_m: float = 250.0,
    show: bool = True,
    pane: str = "gisapp-points",
) -> folium.FeatureGroup:
    """Add points as circle markers, clustered or aggregated when there are many.

    Up to ``cluster_above`` points are drawn one by one; up to ``aggregate_above`` they go
    into a marker cluster; above that they are counted in square cells of ``cell_m``
    metres drawn as shaded squares, because tens of thousands of markers make a page
    unusable (and tooltips per point lose their meaning).

    Parameters
    ----------
    m
        Map (or a layer group of it) to draw on.
    gdf
        Point layer in any CRS.
    name
        Name in the layer control.
    id_field
        Field written as each feature's GeoJSON ``id``, or ``None``.
    color, radius
        Marker colour and radius in pixels.
    tooltip_fields, popup_fields
        ``{field: label}`` shown on hover / click; values are escaped.
    cluster_above, aggregate_above
        Size thresholds described above.
    cell_m
        Cell size of the aggregation, metres.
    show
        Whether the layer is on when the map opens.
    pane
        Drawing-order pane: ``"gisapp-points"`` (incidents, key places), ``"gisapp-stops"``
        or ``"gisapp-stations"`` (stations and posts, drawn on top of everything).

    Returns
    -------
    folium.FeatureGroup
        The group holding the points, clusters or cells.
    """
    data = to_wgs84(gdf, "gdf")
    data = data[data.geometry.notna() & ~data.geometry.is_empty]
    group = folium.FeatureGroup(name=html.escape(str(name)), show=show)
    if len(data) > aggregate_above:
        cells = aggregate_points(data, cell_m=cell_m)
        top = max(int(cells["count"].max()), 1)
        styles = [
            {
                "color": color,
                "weight": 0,
                "fillColor": color,
                "fillOpacity": round(0.15 + 0.7 * float(c) / top, 3),
            }
            for c in cells["count"]
        ]
        _feature_layer(cells, styles, None, {"count": _("Count")}, None, pane=pane).add_to(group)
        logger.info("%s points aggregated into %s cells", f"{len(data):,}", f"{len(cells):,}")
    else:
        layer = _feature_layer(
            data,
            None,
            id_field,
            tooltip_fields,
            popup_fields,
            marker=folium.CircleMarker(
                radius=radius, color="#ffffff", weight=1, fill_color=color, fill_opacity=0.85
            ),
            pane=pane,
        )
        if len(data) > cluster_above:
            cluster = MarkerCluster(options={"chunkedLoading": True, "maxClusterRadius": 50})
            assets.use_local_assets(cluster, assets.assets_url_of(m))
            layer.add_to(cluster)
            cluster.add_to(group)
        else:
            layer.add_to(group)
    group.add_to(m)
    return group


def add_lines(
    m: folium.Map | folium.FeatureGroup,
    gdf: gpd.GeoDataFrame,
    *,
    name: str,
    id_field: str | None = "id",
    color: str = "#1f77b4",
    color_by: str | None = None,
    colors: Mapping[Any, str] | None = None,
    weight: float = 3.0,
    tooltip_fields: Mapping[str, str] | None = None,
    popup_fields: Mapping[str, str] | None = None,
    simplify_m: float | None = None,
    show: bool = True,
    pane: str = "gisapp-routes",
    dashes: Mapping[Any, str | None] | None = None,
) -> folium.FeatureGroup:
    """Add lines (routes, risky streets), optionally coloured by a category.

    Parameters
    ----------
    m
        Map (or a layer group of it) to draw on.
    gdf
        Line layer in any CRS.
    name
        Name in the layer control.
    id_field
        Field written as each feature's GeoJSON ``id``, or ``None``.
    color, color_by, colors
        As in ``add_polygons``.
    weight
        Line width in pixels.
    tooltip_fields, popup_fields
        ``{field: label}`` shown on hover / click; values are escaped.
    simplify_m
        Simplification tolerance in metres, or ``None`` to keep every vertex.
    show
        Whether the layer is on when the map opens.
    pane
        Drawing-order pane (:data:`PANES`); routes by default.
    dashes
        Dash pattern per value of ``color_by`` (e.g. from
        :func:`gisapp.render.colors.unit_styles`), ``None`` for a solid line.

    Returns
    -------
    folium.FeatureGroup
        The group holding the lines.
    """
    data = to_wgs84(gdf, "gdf")
    if simplify_m:
        metric = data.to_crs(metric_crs(data))
        data = data.set_geometry(metric.geometry.simplify(simplify_m).to_crs(4326))
    if color_by is not None and colors is None:
        colors = category_colors(data[color_by]) if color_by in data.columns else {}
    line_colors = (
        [(colors or {}).get(v, color) for v in data[color_by]]
        if color_by is not None and color_by in data.columns
        else [color] * len(data)
    )
    line_dashes = (
        [(dashes or {}).get(v) for v in data[color_by]]
        if color_by is not None and color_by in data.columns
        else [None] * len(data)
    )
    styles = [
        {"color": c, "weight": weight, "opacity": 0.9, **({"dashArray": d} if d else {})}
        for c, d in zip(line_colors, line_dashes, strict=True)
    ]
    group = folium.FeatureGroup(name=html.escape(str(name)), show=show)
    _feature_layer(data, styles, id_field, tooltip_fields, popup_fields, pane=pane).add_to(group)
    group.add_to(m)
    return group


def add_legend(
    m: folium.Map,
    title: str,
    entries: Mapping[str, str],
    *,
    position: str = "bottomright",
    hatched: Mapping[str, float] | None = None,
) -> MacroElement:
    """Add a legend box: a title and one colour swatch per label.

    Parameters
    ----------
    m
        Map to draw on.
    title
        Legend title (plain text).
    entries
        ``{label: css colour}`` in display order; labels are escaped.
    position
        Leaflet control corner.
    hatched
        ``{label: angle}`` of the entries drawn as hatching (blind zones): their swatch is
        hatched at that angle too.

    Returns
    -------
    branca.element.MacroElement
        The legend element.
    """
    rows = "".join(
        f'<div><i style="{_swatch_style(css_color(c), (hatched or {}).get(label))}"></i>'
        f"{html.escape(str(label))}</div>"
        for label, c in entries.items()
    )
    legend = Legend(f"<b>{html.escape(str(title))}</b>{rows}", position)
    legend.add_to(m)
    return legend


def _swatch_style(color: str, angle: float | None) -> str:
    if angle is None:
        return f"background:{color}"
    # CSS gradients run perpendicular to SVG pattern lines: turn by 90° to match the map
    return (
        f"background:repeating-linear-gradient({(angle + 90) % 180:g}deg,{color} 0 2px,"
        f"transparent 2px 5px);border:1px solid {color}"
    )


def add_layer_slider(
    m: folium.Map,
    groups: Sequence[folium.FeatureGroup],
    labels: Sequence[str],
    *,
    title: str,
    position: str = "topleft",
) -> MacroElement:
    """Add a range input that shows one of ``groups`` at a time (e.g. one per hour).

    The first group is on at load (create it with ``show=True`` and the others with
    ``show=False``, all with ``control=False``); moving the slider turns the chosen group
    on and the others off. The page gets ``window.gisappSlider`` (``groups``, ``show(i)``,
    ``current()``) for scripts and tests. Plain JavaScript, nothing loaded.

    Parameters
    ----------
    m
        Map holding the groups (add them before the slider).
    groups
        The layer groups, in slider order.
    labels
        Plain text shown under the slider for each group (set as text, never as HTML).
    title
        Plain text above the slider, e.g. "Hour" (set as text).
    position
        Leaflet control corner.

    Returns
    -------
    branca.element.MacroElement
        The slider element.

    Raises
    ------
    ValueError
        If there are no groups or not one label per group.
    """
    if not groups or len(labels) != len(groups):
        raise ValueError(
            f"'labels' should hold one label per group ({len(groups)}), got {len(labels)}"
        )
    slider = Slider([g.get_name() for g in groups], [str(t) for t in labels], str(title), position)
    slider.add_to(m)
    return slider


def with_title(page: str, title: str) -> str:
    """``page`` with ``<title>`` set to ``title`` (escaped), added when it has none."""
    tag = f"<title>{html.escape(str(title))}</title>"
    if re.search(r"<title>.*?</title>", page, flags=re.S):
        return re.sub(r"<title>.*?</title>", lambda _: tag, page, count=1, flags=re.S)
    return page.replace("<head>", "<head>\n" + tag, 1)


def render_html(
    m: folium.Map,
    *,
    inline_assets: bool = False,
    assets_dir: Path | None = None,
    layer_control: bool = True,
    title: str | None = None,
) -> str:
    """Return the map as one HTML document.

    Parameters
    ----------
    m
        Map from ``base_map``.
    inline_assets
        Embed every JavaScript and CSS file (and the images the CSS uses) so the file works
        opened from a USB stick with no server.
    assets_dir
        Folder holding the vendored files, ``VENDOR_DIR`` by default.
    layer_control
        Add a layer control (collapsed, top right) when the map has none.
    title
        The document's title (a browser tab's, a saved file's), escaped.

    Returns
    -------
    str
        The HTML document.

    Raises
    ------
    ValueError
        If the page would load a script or stylesheet from another host.
    """
    if layer_control and not any(
        isinstance(child, folium.LayerControl) for child in m._children.values()
    ):
        folium.LayerControl(collapsed=True).add_to(m)
    page = _with_language(render_figure(m.get_root()))
    if title is not None:
        page = with_title(page, title)
    if inline_assets:
        page = assets.inline_assets(page, assets.assets_url_of(m), assets_dir or VENDOR_DIR)
    remote = re.findall(r'<(?:script|link)[^>]+(?:src|href)="((?:https?:)?//[^"]+)"', page)
    if remote:
        raise ValueError(f"map would load remote assets {remote}; offline maps use local files")
    return page


def _with_language(page: str) -> str:
    """``page`` saying which language it is in (``<html lang="zh-CN">``), so browsers and
    the print server pick the fonts and line breaks of that language."""
    tag = current_language().replace("_", "-")
    return re.sub(r"<html(?=[\s>])(?![^>]*\blang=)", f'<html lang="{tag}"', page, count=1)


def aggregate_points(points: gpd.GeoDataFrame, *, cell_m: float = 250.0) -> gpd.GeoDataFrame:
    """Count points in square cells of ``cell_m`` metres.

    Parameters
    ----------
    points
        Point layer with a CRS.
    cell_m
        Cell side, metres, in the layer's local UTM zone.

    Returns
    -------
    geopandas.GeoDataFrame
        One square per non-empty cell with a ``count`` column, in EPSG:4326.
    """
    metric = points.to_crs(metric_crs(points))
    xy = shapely.get_coordinates(metric.geometry.to_numpy())
    ij = np.floor(xy / cell_m).astype(np.int64)
    cells, counts = np.unique(ij, axis=0, return_counts=True)
    boxes = shapely.box(
        cells[:, 0] * cell_m,
        cells[:, 1] * cell_m,
        (cells[:, 0] + 1) * cell_m,
        (cells[:, 1] + 1) * cell_m,
    )
    out = gpd.GeoDataFrame({"count": counts}, geometry=boxes, crs=metric.crs)
    return out.to_crs(4326)


def _feature_layer(
    data: gpd.GeoDataFrame,
    styles: Sequence[Mapping[str, Any]] | None,
    id_field: str | None,
    tooltip_fields: Mapping[str, str] | None,
    popup_fields: Mapping[str, str] | None,
    *,
    marker: folium.CircleMarker | None = None,
    pane: str = "gisapp-grids",
) -> folium.GeoJson:
    """One folium GeoJson layer whose tooltip and popup HTML is built and escaped here.

    folium's GeoJsonTooltip inserts raw property values with ``innerHTML``; giving it only
    the ``_tip`` / ``_popup`` strings escaped here keeps hostile text inert.
    """
    features = []
    tips = _detail_html(data, tooltip_fields)
    pops = _detail_html(data, popup_fields)
    ids = data[id_field].map(as_text).tolist() if id_field and id_field in data.columns else None
    for i in range(len(data)):
        props: dict[str, Any] = {}
        if styles is not None:
            props["style"] = dict(styles[i])
        if tips is not None:
            props["_tip"] = tips[i]
        if pops is not None:
            props["_popup"] = pops[i]
        feature: dict[str, Any] = {"type": "Feature", "properties": props}
        if ids is not None:
            feature["id"] = ids[i]
        features.append(feature)
    kwargs: dict[str, Any] = {}
    if tips is not None:
        kwargs["tooltip"] = folium.GeoJsonTooltip(["_tip"], labels=False, sticky=True)
    if pops is not None:
        kwargs["popup"] = folium.GeoJsonPopup(["_popup"], labels=False)
    if marker is not None:
        # GeoJSON hands its pane to lines and polygons, not to the markers it makes
        marker.options.update(pane_options(pane))
        kwargs["marker"] = marker
    return GeoJson(
        {"type": "FeatureCollection", "features": features},
        geometries=rounded_geojson(data.geometry.to_numpy()),
        control=False,
        **kwargs,
        **pane_options(pane),
    )


def _detail_html(data: pd.DataFrame, fields: Mapping[str, str] | None) -> list[str] | None:
    """Escaped ``<b>label</b>: value<br>`` text per row, or ``None`` when no fields."""
    if not fields:
        return None
    present = [(f, lab) for f, lab in fields.items() if f in data.columns]
    columns = [data[f].map(as_text).tolist() for f, _field in present]
    # Translators: one line of a map tooltip or popup, e.g. "Grid: WG01"
    line = html.escape(_("%(label)s: %(value)s"), quote=False)
    labels = [f"<b>{html.escape(str(label))}</b>" for _field, label in present]
    return [
        "<br>".join(
            line % {"label": label, "value": html.escape(col[i])}
            for label, col in zip(labels, columns, strict=True)
        )
        for i in range(len(data))
    ]


def to_wgs84(gdf: gpd.GeoDataFrame, arg: str) -> gpd.GeoDataFrame:
    """``gdf`` in EPSG:4326, the CRS of every map layer (``arg`` names it in errors)."""
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise TypeError(f"'{arg}' should be a GeoDataFrame, got {type(gdf).__name__}")
    if gdf.crs is None:
        raise ValueError(f"'{arg}' has no CRS; set one (workspace layers are EPSG:4326)")
    return gdf if gdf.crs.to_epsg() == 4326 else gdf.to_crs(4326)


def _check_bounds(
    bounds: Sequence[float] | npt.NDArray[np.floating[Any]],
) -> tuple[float, float, float, float]:
    values = [float(v) for v in bounds]
    if len(values) != 4 or not np.all(np.isfinite(values)):
        raise ValueError(f"'bounds' should be (minx, miny, maxx, maxy), got {bounds!r}")
    minx, miny, maxx, maxy = values
    if minx > maxx or miny > maxy:
        raise ValueError(f"'bounds' should have min before max, got {bounds!r}")
    return minx, miny, maxx, maxy


OSM_ATTRIBUTION = "© OpenStreetMap contributors"


def attribution_for(notes: Mapping[str, str], layers: tuple[str, ...] = ("roads",)) -> str | None:
    """Return the attribution a map of ``layers`` must show, from the workspace's layer notes."""
    text = " ".join(notes.get(name, "") for name in layers).lower()
    if "openstreetmap" in text or re.search(r"\bosm\b", text):
        return _("© OpenStreetMap contributors")
    return None
