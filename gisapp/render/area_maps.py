"""Printed and offline maps of areas: the grid responsibility map and the blind-zone map."""

from __future__ import annotations

import html
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj

from gisapp.errors import ExportError
from gisapp.outputs.words import blind_kind_name
from gisapp.plans import text
from gisapp.render import maps
from gisapp.render.colors import BLIND_COLOR, STATION_COLOR
from gisapp.render.printing import (
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
from layers.i18n import _, format_number, ngettext

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
        "id": _("Grid"),
        "community_id": _("Community"),
        "officer": _("Officer"),
        "team": _("Team"),
        "phone": _("Phone"),
        "unit_id": _("Unit"),
    }
    n_grids = format_number(len(rows))
    section = Section(
        title=_("Grid responsibility"),
        columns=[*(labels[c] for c in columns), _("Incidents")],
        rows=rows,
        cell_classes=[""] * len(columns) + ["num"],
        row_classes=[""] * len(rows),
        figures=ngettext(
            "%(num)s grid · incidents counted inside each grid",
            "%(num)s grids · incidents counted inside each grid",
            len(rows),
            num=n_grids,
        ),
    )
    width_mm, height_mm = page_size(paper, landscape)
    return print_page(
        maps.render_html(m, inline_assets=True, layer_control=False),
        title=_("Grid responsibility map"),
        meta=[
            _("Workspace %(name)s", name=ws.name),
            ngettext("%(num)s grid", "%(num)s grids", len(rows), num=n_grids),
        ],
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
            _(
                "blind zones file %(file)r does not exist; run 'gisapp coverage WS --out DIR' "
                "and pass DIR/blind_zones.geojson",
                file=str(file),
            )
        )
    try:
        zones = gpd.read_file(file)
    except pyogrio.errors.DataSourceError as exc:
        raise ExportError(
            _("blind zones file %(file)r cannot be read (%(error)s)", file=str(file), error=exc)
        ) from None
    if "kind" not in zones.columns:
        raise ExportError(
            _(
                "blind zones file %(file)r has no 'kind' column; is it blind_zones.geojson?",
                file=str(file),
            )
        )
    return zones


def blind_zones_map(
    ws: Workspace, blind_zones: gpd.GeoDataFrame, *, for_print: bool = False
) -> folium.Map:
    """Map of blind zones (盲区) by kind over the roads, with stations, legend and arrow."""
    if not len(blind_zones):
        raise ExportError(_("there are no blind zones to map: everything is reached in time"))
    zones = blind_zones.to_crs(4326)
    bounds = padded_bounds(np.array([zones.total_bounds]), 0.04)
    m = maps.base_map(
        bounds,
        roads=clipped_roads_base(ws, clipped_layer(ws, "roads", bounds)),
        attribution=maps.attribution_for(ws.layer_notes),
    )
    set_print_options(m, for_print)
    hatched: dict[str, float] = {}
    legend = add_blind_zones(m, zones, by_kind=True, hatched=hatched)
    if ws.has_layer("stations"):
        stations = ws.spatial_layer("stations")
        if len(stations):
            maps.add_points(
                m,
                stations,
                name=_("Stations"),
                color=STATION_COLOR,
                radius=6,
                tooltip_fields={"name": _("Station")},
                pane="gisapp-stations",
            )
            legend[_("Station")] = STATION_COLOR
    maps.add_legend(m, _("Blind zones"), legend, hatched=hatched)
    NorthArrow().add_to(m)
    return m


def blind_zones_page(
    ws: Workspace,
    blind_zones: gpd.GeoDataFrame,
    *,
    paper: Paper = "A4",
    landscape: bool = False,
    max_rows: int = 60,
) -> str:
    """Printable blind-zone map: the map, then the ``max_rows`` riskiest zones, riskiest
    first (every zone is in ``blind_zones.geojson``)."""
    m = blind_zones_map(ws, blind_zones, for_print=True)
    ranked = ranked_blind_zones(blind_zones).head(max_rows)
    columns = [
        c
        for c in (
            "rank",
            "name",
            "kind",
            "grid",
            "incidents",
            "risk",
            "required_minutes",
            "reached_minutes",
        )
        if c in ranked
    ]
    rows = [[cell_text(v) for v in rec] for rec in ranked[columns].to_numpy()]
    rows = [
        [blind_kind_name(r) if c == "kind" else r for c, r in zip(columns, row, strict=True)]
        for row in rows
    ]
    labels = {
        "rank": "#",
        "kind": _("Kind"),
        "name": _("Where"),
        "grid": _("Grid"),
        "incidents": _("Incidents"),
        "risk": _("Risk"),
        "required_minutes": _("Required (min)"),
        "reached_minutes": _("Reached (min)"),
    }
    n_zones = format_number(len(blind_zones))
    section = Section(
        title=_("Blind zones, riskiest first"),
        columns=[labels[c] for c in columns],
        rows=rows,
        cell_classes=["num" if c in _NUMERIC_COLUMNS else "" for c in columns],
        row_classes=[""] * len(rows),
        figures=ngettext(
            "the %(shown)s riskiest of %(num)s zone; risk = incidents of the shift on the "
            "zone's streets, weighted by severity; reached = minutes until first reached "
            "(blank: never)",
            "the %(shown)s riskiest of %(num)s zones; risk = incidents of the shift on the "
            "zone's streets, weighted by severity; reached = minutes until first reached "
            "(blank: never)",
            len(blind_zones),
            shown=format_number(len(rows)),
            num=n_zones,
        ),
    )
    width_mm, height_mm = page_size(paper, landscape)
    return print_page(
        maps.render_html(m, inline_assets=True, layer_control=False),
        title=_("Blind zones"),
        meta=[
            _("Workspace %(name)s", name=ws.name),
            ngettext("%(num)s zone", "%(num)s zones", len(blind_zones), num=n_zones),
        ],
        page_footer=page_footer(ws, ws.timezone),
        sections=[section],
        width_mm=width_mm,
        height_mm=height_mm,
    )


#: How each kind of blind zone is told apart: the angle of its hatching, the dash and width
#: of its outline, and the strength of the hatching relative to the map's (a blind grid
#: holds blind streets already hatched: it gets a faint hatching and a bold dashed outline).
BLIND_KIND_STYLES: dict[str, tuple[float, str | None, float, float]] = {
    "street": (45.0, None, 0.5, 1.0),
    "grid": (135.0, "8 5", 2.0, 0.4),
    "key_place": (90.0, None, 1.5, 1.0),
    "prevention_zone": (0.0, "2 4", 1.5, 0.8),
}


def _blind_tips() -> dict[str, str]:
    """What a blind zone's tooltip shows, in the reader's language."""
    return {
        "rank": _("Rank"),
        "label": _("Where"),
        "kind": _("Kind"),
        "name": _("Name"),
        "grid": _("Grid"),
        "incidents": _("Incidents in the shift"),
        "risk": _("Risk"),
        "required_minutes": _("Required (min)"),
        "reached_minutes": _("Reached (min)"),
    }


_NUMERIC_COLUMNS = frozenset({"rank", "incidents", "risk", "required_minutes", "reached_minutes"})


def ranked_blind_zones(zones: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Blind zones riskiest first: by ``rank`` when the file has it, else by ``risk``."""
    if "rank" in zones.columns:
        return zones.sort_values("rank", kind="stable")
    if "risk" in zones.columns:
        return zones.sort_values("risk", ascending=False, kind="stable")
    return zones


def add_blind_zones(
    m: folium.Map,
    zones: gpd.GeoDataFrame,
    *,
    by_kind: bool = False,
    fill_opacity: float = 0.35,
    line_weight: float = 4.0,
    hatched: dict[str, float] | None = None,
) -> dict[str, str]:
    """Draw blind zones as red hatching with a red outline; return legend entries.

    Blind zones are drawn in the zones pane, above the grids and below the routes, as
    hatching (never a solid fill), so the grids and streets under them stay readable; the
    kinds differ by the angle of the hatching and the dash of the outline
    (:data:`BLIND_KIND_STYLES`).

    Parameters
    ----------
    m
        Map made by :func:`gisapp.render.maps.base_map`.
    zones
        Blind zones (``blind_zones.geojson``) in any CRS.
    by_kind
        One layer and legend entry per kind; otherwise one for all.
    fill_opacity
        Opacity of the hatching of street blind zones, doubled because hatching is thin
        (other kinds scale it by :data:`BLIND_KIND_STYLES`).
    line_weight
        Width of blind street lines, pixels.
    hatched
        Filled with ``{legend label: hatching angle}`` for :func:`maps.add_legend`.

    Returns
    -------
    dict[str, str]
        ``{legend label: colour}``.
    """
    data = zones.to_crs(4326)
    data = data[data.geometry.notna() & ~data.geometry.is_empty]
    kinds = (
        data["kind"].astype(str) if "kind" in data.columns else pd.Series("zone", index=data.index)
    )
    legend: dict[str, str] = {}
    together = None
    if not by_kind:
        everything = _("Blind zones")
        together = folium.FeatureGroup(name=html.escape(everything))
        together.add_to(m)
        legend[everything] = BLIND_COLOR
        if hatched is not None:
            hatched[everything] = BLIND_KIND_STYLES["street"][0]
    for kind in sorted(kinds.unique()):
        # Translators: a map layer, e.g. "Blind zones (盲区): street"; in Chinese the kind
        # says it all ("盲区路段")
        name = _("Blind zones (盲区): %(kind)s", kind=blind_kind_name(kind))
        _draw_blind_kind(
            m if together is None else together,
            data[kinds == kind],
            kind,
            name=name,
            fill_opacity=fill_opacity,
            line_weight=line_weight,
        )
        if together is None:
            legend[name] = BLIND_COLOR
            if hatched is not None:
                hatched[name] = BLIND_KIND_STYLES.get(kind, BLIND_KIND_STYLES["street"])[0]
    return legend


def _draw_blind_kind(
    target: folium.Map | folium.FeatureGroup,
    part: gpd.GeoDataFrame,
    kind: str,
    *,
    name: str,
    fill_opacity: float,
    line_weight: float,
) -> None:
    """Draw the blind zones of one kind (EPSG:4326) in the style of :data:`BLIND_KIND_STYLES`."""
    angle, dash, outline_px, strength = BLIND_KIND_STYLES.get(kind, BLIND_KIND_STYLES["street"])
    if "kind" in part.columns:  # the tooltip reads the kind in words
        part = part.assign(kind=part["kind"].map(blind_kind_name))
    tips = _blind_tips()
    geom = part.geom_type.fillna("")
    polys = part[geom.str.contains("Polygon")]
    lines = part[geom.str.contains("LineString")]
    points = part[geom.str.contains("Point")]
    if len(polys):
        maps.add_polygons(
            target,
            polys,
            name=name,
            id_field="id" if "id" in polys.columns else None,
            color=BLIND_COLOR,
            fill_opacity=min(1.0, fill_opacity * 2 * strength),
            weight=outline_px,
            opacity=0.6 if kind == "street" else 0.9,
            tooltip_fields=tips,
            pane="gisapp-zones",
            hatch=BLIND_COLOR,
            hatch_angle=angle,
            dash=dash,
        )
    if len(lines):
        maps.add_lines(
            target,
            lines,
            name=name,
            id_field=None,
            color=BLIND_COLOR,
            weight=line_weight,
            tooltip_fields=tips,
            pane="gisapp-zones",
        )
    if len(points):
        maps.add_points(
            target,
            points,
            name=name,
            id_field=None,
            color=BLIND_COLOR,
            radius=6,
            tooltip_fields=tips,
        )


def clipped_layer(ws: Workspace, name: str, bounds: Sequence[float]) -> gpd.GeoDataFrame | None:
    """The features of layer ``name`` near ``bounds`` (EPSG:4326), or None without any.

    A briefing draws one map per unit over the same roads and grids: the layer is read and
    reprojected once per workspace version (:func:`_layer_wgs84`), each map slices it.
    """
    if not ws.has_layer(name):
        return None
    layer = _layer_wgs84(ws.location, name, ws.version, ws)
    if layer is None:
        return None
    minx, miny, maxx, maxy = bounds
    pad = max(maxx - minx, maxy - miny) * 0.3
    return layer.cx[minx - pad : maxx + pad, miny - pad : maxy + pad].copy()


#: Layers kept read for :func:`clipped_layer` (a workspace's roads and grids, and one more).
_LAYER_CACHE_SIZE = 3
_layer_cache: OrderedDict[tuple[str, str, str], gpd.GeoDataFrame | None] = OrderedDict()
_layer_cache_lock = threading.Lock()


def _layer_wgs84(location: str, name: str, version: str, ws: Workspace) -> gpd.GeoDataFrame | None:
    """Layer ``name`` of the workspace at ``location`` in EPSG:4326, read once per
    workspace ``version`` (the few most recent kept); None when it has no features."""
    key = (location, name, version)
    with _layer_cache_lock:
        if key in _layer_cache:
            _layer_cache.move_to_end(key)
            return _layer_cache[key]
    layer = ws.layer(name)
    read = layer.to_crs(4326) if isinstance(layer, gpd.GeoDataFrame) and len(layer) else None
    with _layer_cache_lock:
        _layer_cache[key] = read
        while len(_layer_cache) > _LAYER_CACHE_SIZE:
            _layer_cache.popitem(last=False)
    return read


def clipped_roads_base(
    ws: Workspace, roads: gpd.GeoDataFrame | None, *, simplify_m: float = 5.0
) -> maps.RoadsBase | None:
    """The base map of ``roads``, rows of :func:`clipped_layer` of the workspace's
    ``"roads"`` (see :func:`gisapp.render.maps.roads_base`); None without any road.

    The workspace's streets are simplified once per workspace version (and metric CRS),
    each map takes its own lines' share: a briefing draws a map per unit of one city.
    """
    if roads is None or not len(roads):
        return None

    def simplified(crs: pyproj.CRS, tolerance_m: float) -> maps.SimplifiedStreets | None:
        return _simplified_roads(ws.location, ws.version, crs, tolerance_m, ws)

    return maps.roads_base(roads, simplify_m=simplify_m, simplified=simplified)


#: Workspaces whose streets are kept simplified for :func:`clipped_roads_base`.
_SIMPLIFIED_CACHE_SIZE = 2
_simplified_cache: OrderedDict[tuple[str, str, str, float], maps.SimplifiedStreets | None] = (
    OrderedDict()
)


def _simplified_roads(
    location: str, version: str, crs: pyproj.CRS, simplify_m: float, ws: Workspace
) -> maps.SimplifiedStreets | None:
    """The roads of :func:`_layer_wgs84` simplified in ``crs``, once per workspace
    ``version`` (the few most recent kept); None when there are none."""
    key = (location, version, crs.to_wkt(), simplify_m)
    with _layer_cache_lock:
        if key in _simplified_cache:
            _simplified_cache.move_to_end(key)
            return _simplified_cache[key]
    layer = _layer_wgs84(location, "roads", version, ws)
    if layer is not None:
        layer = layer[layer.geometry.notna() & ~layer.geometry.is_empty]
    streets = (
        maps.simplified_streets(layer, crs, simplify_m=simplify_m)
        if layer is not None and len(layer)
        else None
    )
    with _layer_cache_lock:
        _simplified_cache[key] = streets
        while len(_simplified_cache) > _SIMPLIFIED_CACHE_SIZE:
            _simplified_cache.popitem(last=False)
    return streets


def padded_bounds(boxes: np.ndarray, share: float) -> list[float]:
    minx, miny = np.nanmin(boxes[:, 0]), np.nanmin(boxes[:, 1])
    maxx, maxy = np.nanmax(boxes[:, 2]), np.nanmax(boxes[:, 3])
    pad = max(maxx - minx, maxy - miny, 0.002) * share
    return [float(minx - pad), float(miny - pad), float(maxx + pad), float(maxy + pad)]
