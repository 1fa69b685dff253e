"""The briefing of a shift plan: its map, its offline HTML page and its printed pack.

:func:`plan_map` draws the plan (routes per unit in distinct colours, numbered stops,
station, grids, blind zones, legend, scale bar, north arrow, attribution); :func:`plan_html`
is the self-contained page, :func:`briefing_pdf` / :func:`briefing_png` the printed pack
with one timetable per unit (:func:`timetable_rows`).
"""

from __future__ import annotations

import html
import logging
import os
import re
from collections.abc import Mapping
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from branca.element import MacroElement
from jinja2 import Template

from gisapp.errors import ExportError
from gisapp.outputs.plan import stops_layer
from gisapp.plans import Plan, clock_text, is_missing, text
from gisapp.render import colors, maps
from gisapp.render.area_maps import add_blind_zones, clipped_layer, padded_bounds
from gisapp.render.colors import GRID_COLOR, STATION_COLOR
from gisapp.render.printing import (
    MARGIN_MM,
    NorthArrow,
    Paper,
    Section,
    css_color,
    page_footer,
    page_size,
    print_page,
    print_pdf,
    print_png,
    replace_section,
    set_print_options,
)
from gisapp.store.geopackage import Workspace

logger = logging.getLogger(__name__)


def timetable_csv(plan: Plan, unit_id: str) -> str:
    """One unit's timetable for people: stop, kind, name, street, arrive, dwell, depart.

    Raises
    ------
    ExportError
        If the plan has no unit ``unit_id``.
    """
    rows = _timetable_rows(plan, plan.check_unit(unit_id))
    table = pd.DataFrame(
        rows, columns=["stop", "kind", "name", "street", "arrive", "dwell_min", "depart", "via"]
    )
    return str(table.to_csv(index=False, lineterminator="\n"))


def timetable_rows(plan: Plan, unit_id: str) -> list[list[str]]:
    """One unit's timetable as text rows: stop number ("S" for the station), kind, name,
    street, arrive (HH:MM), dwell (minutes), depart (HH:MM) in the plan's time zone, and
    the streets driven since the previous row (the turn list, as "via").

    Raises
    ------
    ExportError
        If the plan has no unit ``unit_id``.
    """
    return _timetable_rows(plan, plan.check_unit(unit_id))


def unit_colors(plan: Plan) -> dict[str, str]:
    """Each unit's colour: the same on every map and page (see :func:`colors.unit_colors`)."""
    return colors.unit_colors(plan.unit_ids)


def unit_dashes(plan: Plan) -> dict[str, str | None]:
    """Each unit's line dash (``None``: solid), which tells apart units past the tenth
    whose colours come round again (see :func:`colors.unit_styles`)."""
    return {unit: style.dash for unit, style in colors.unit_styles(plan.unit_ids).items()}


def plan_map(
    plan: Plan,
    *,
    ws: Workspace | None = None,
    blind_zones: gpd.GeoDataFrame | None = None,
    attribution: str | None = None,
    for_print: bool = False,
    assets_url: str = "/static/vendor",
) -> folium.Map:
    """Map of a plan: base roads, grids, blind zones, routes, numbered stops and legend.

    Parameters
    ----------
    plan
        The plan.
    ws
        Workspace whose ``roads`` (base map) and ``grids`` are drawn, and whose layer notes
        decide the attribution.
    blind_zones
        Blind zones (``blind_zones.geojson``) to draw in red, or ``None``.
    attribution
        Attribution text; by default from the workspace's layer notes.
    for_print
        Drop the zoom buttons and snap the zoom finely, so the plan fills the printed map.
    assets_url
        Where the page loads Leaflet and its plugins from (inlined by ``render_html``
        with ``inline_assets=True``).

    Returns
    -------
    folium.Map
        Map with scale bar and north arrow (render with :func:`gisapp.render.maps.render_html`).
    """
    colors = unit_colors(plan)
    stops = stops_layer(plan)
    frames = [f for f in (plan.routes, stops) if len(f)]
    if not frames:
        raise ExportError(f"plan {plan.plan_id!r} has no routes or stops to map")
    bounds = padded_bounds(np.array([f.total_bounds for f in frames]), 0.04)
    roads = grids = None
    if ws is not None:
        if attribution is None:
            attribution = maps.attribution_for(ws.layer_notes)
        roads = clipped_layer(ws, "roads", bounds)
        grids = clipped_layer(ws, "grids", bounds)
    m = maps.base_map(bounds, roads=roads, attribution=attribution, assets_url=assets_url)
    set_print_options(m, for_print)
    legend: dict[str, str] = {}
    if grids is not None and len(grids):
        maps.add_polygons(
            m,
            grids,
            name="Grids (网格)",
            color=GRID_COLOR,
            fill_opacity=0.03,
            weight=0.8,
            tooltip_fields={"id": "Grid (网格)", "officer": "Officer", "unit_id": "Unit"},
        )
        legend["Grid (网格)"] = GRID_COLOR
    hatched: dict[str, float] = {}
    if blind_zones is not None and len(blind_zones):
        # Under the routes, blind zones are context: faint, so the routes stay readable.
        legend.update(
            add_blind_zones(m, blind_zones, fill_opacity=0.12, line_weight=1.5, hatched=hatched)
        )
    routes = plan.routes.assign(
        distance_km=(plan.routes["distance_m"].astype(float) / 1000).round(1),
        duration_h=(plan.routes["duration_s"].astype(float) / 3600).round(2),
    )
    maps.add_lines(
        m,
        routes,
        name="Routes",
        id_field="unit_id",
        color_by="unit_id",
        colors=colors,
        # past ten units the colours come round again with another dash (docs/CARTOGRAPHY.md)
        dashes=unit_dashes(plan),
        weight=4.0,
        tooltip_fields={
            "unit_id": "Unit",
            "mode": "Mode",
            "distance_km": "km",
            "duration_h": "Hours",
        },
    )
    _StopMarkers(stops, colors).add_to(m)
    for unit in plan.unit_ids:
        mode = text(plan.routes.loc[plan.routes["unit_id"] == unit, "mode"].iloc[0])
        legend[f"Unit {unit} ({mode})" if mode else f"Unit {unit}"] = colors[unit]
    legend["Station"] = STATION_COLOR
    maps.add_legend(m, "Patrol plan", legend, position="bottomright", hatched=hatched)
    NorthArrow().add_to(m)
    return m


def plan_html(
    plan: Plan,
    *,
    ws: Workspace | None = None,
    blind_zones: gpd.GeoDataFrame | None = None,
) -> str:
    """The plan's map as one self-contained HTML file (every script and style inlined)."""
    return maps.render_html(
        plan_map(plan, ws=ws, blind_zones=blind_zones),
        inline_assets=True,
        layer_control=True,
        title=f"Patrol plan {plan.plan_id}",
    )


def briefing_page(
    plan: Plan,
    *,
    ws: Workspace | None = None,
    blind_zones: gpd.GeoDataFrame | None = None,
    paper: Paper = "A4",
    landscape: bool = False,
) -> str:
    """The printable HTML of a plan's briefing pack.

    Page 1 holds the title, shift, date, the map and a table of the units; then one page
    per unit with its timetable (a long timetable runs on, repeating its header).

    Parameters
    ----------
    plan, ws, blind_zones
        As in :func:`plan_map`.
    paper
        ``"A4"`` or ``"A3"``.
    landscape
        Landscape instead of portrait.

    Returns
    -------
    str
        HTML with every asset inlined; print it with :func:`print_pdf`.
    """
    width_mm, height_mm = page_size(paper, landscape)
    colors = unit_colors(plan)
    summary_rows = []
    for unit in plan.unit_ids:
        route = plan.routes[plan.routes["unit_id"] == unit].iloc[0]
        unit_stops = plan.unit_stops(unit)
        hot = unit_stops[unit_stops["kind"] == "hotspot"]
        summary_rows.append(
            [
                unit,
                text(route.get("mode")),
                _km(route.get("distance_m")),
                _hours(route.get("duration_s")),
                str(len(hot)),
                _minutes(hot["dwell_min"].sum()) if len(hot) else "0",
                clock_text(unit_stops["depart"].min()),
                clock_text(unit_stops["arrive"].max()),
            ]
        )
    summary = Section(
        title="Units",
        columns=[
            "Unit",
            "Mode",
            "km",
            "Route time",
            "Hotspot stops",
            "Dwell (min)",
            "Leaves",
            "Back",
        ],
        rows=summary_rows,
        cell_classes=["", "", "num", "num", "num", "num", "time", "time"],
        row_classes=[""] * len(summary_rows),
        new_page=False,
    )
    # A units table taller than a third of the page would squeeze the map: it then
    # gets a page of its own.
    fits = 12.0 + 6.0 * len(summary_rows) <= (height_mm - 2 * MARGIN_MM) / 3
    first = [summary] if fits else []
    sections = [] if fits else [replace_section(summary, new_page=True)]
    for unit in plan.unit_ids:
        route = plan.routes[plan.routes["unit_id"] == unit].iloc[0]
        rows = _timetable_rows(plan, unit)
        n_hot = sum(r[1] == "hotspot" for r in rows)
        figures = " · ".join(
            t
            for t in (
                text(route.get("mode")),
                f"{_km(route.get('distance_m'))} km" if _km(route.get("distance_m")) else "",
                f"route time {_hours(route.get('duration_s'))}"
                if _hours(route.get("duration_s"))
                else "",
                f"{n_hot} hotspot stop(s)",
                plan.shift_label,
                plan.date,
            )
            if t
        )
        sections.append(
            Section(
                title=f"Unit {unit} — timetable",
                columns=["#", "Kind", "Name", "Street", "Arrive", "Dwell (min)", "Depart", "Via"],
                rows=rows,
                cell_classes=["num", "", "", "", "time", "num", "time", "via"],
                row_classes=["station" if r[1] == "station" else "" for r in rows],
                figures=figures,
                color=colors[unit],
                note=f"Times in {plan.timezone}. # = the number on the map.",
            )
        )
    meta = [m for m in (plan.shift_label, plan.date, f"Plan {plan.plan_id}") if m]
    if ws is not None:
        meta.append(f"Workspace {ws.name}")
    m = plan_map(plan, ws=ws, blind_zones=blind_zones, for_print=True)
    return print_page(
        maps.render_html(m, inline_assets=True, layer_control=False),
        title=plan.title,
        meta=meta,
        page_footer=page_footer(ws, plan.timezone),
        sections=sections,
        width_mm=width_mm,
        height_mm=height_mm,
        first_page=first,
    )


def briefing_pdf(
    plan: Plan,
    *,
    ws: Workspace | None = None,
    blind_zones: gpd.GeoDataFrame | None = None,
    paper: Paper = "A4",
    landscape: bool = False,
    chromium_path: str | os.PathLike[str] | None = None,
) -> bytes:
    """The briefing pack of a plan as PDF bytes (see :func:`briefing_page`)."""
    page = briefing_page(plan, ws=ws, blind_zones=blind_zones, paper=paper, landscape=landscape)
    return print_pdf(page, paper=paper, landscape=landscape, chromium_path=chromium_path)


def briefing_png(
    plan: Plan,
    *,
    ws: Workspace | None = None,
    blind_zones: gpd.GeoDataFrame | None = None,
    paper: Paper = "A4",
    landscape: bool = False,
    dpi: int = 300,
    chromium_path: str | os.PathLike[str] | None = None,
) -> bytes:
    """The briefing's first sheet (title, map, legend, scale, north arrow) as a PNG.

    Parameters
    ----------
    dpi
        Print resolution: the image is the sheet's size on paper at this many dots per
        inch (300 gives about 2,240 pixels across A4 portrait).
    """
    page = briefing_page(plan, ws=ws, blind_zones=blind_zones, paper=paper, landscape=landscape)
    return print_png(page, paper=paper, landscape=landscape, dpi=dpi, chromium_path=chromium_path)


class _StopMarkers(MacroElement):
    """Numbered stop markers coloured by unit, and square station markers.

    Labels and tooltips are escaped here (Leaflet inserts them as HTML). Units stopping at
    the same place get side-by-side markers instead of hiding each other.
    """

    _template = Template(
        """{% macro script(this, kwargs) %}
        (function () {
          var group = L.featureGroup().addTo({{ this._parent.get_name() }});
          {{ this.data|tojson }}.forEach(function (s) {
            var cls = s.station ? 'gisapp-station' : 'gisapp-stop';
            var style = s.station ? '' : ' style="background:' + s.color + '"';
            var icon = L.divIcon({className: cls, html: '<span' + style + '>' + s.label + '</span>',
              iconSize: null, iconAnchor: [8 - s.offset, 8]});
            L.marker([s.lat, s.lon], {icon: icon, keyboard: false, zIndexOffset: s.station ? 1000 : 0})
              .bindTooltip(s.tip).addTo(group);
          });
        })();
        {% endmacro %}"""
    )

    def __init__(self, stops: gpd.GeoDataFrame, colors: Mapping[str, str]) -> None:
        super().__init__()
        self._name = "StopMarkers"
        data: list[dict[str, Any]] = []
        stations = stops[stops["kind"] == "station"]
        for (lon, lat), group in stations.groupby(
            [stations["lon"].round(6), stations["lat"].round(6)]
        ):
            names = sorted({n for n in group["name"] if n}) or ["Station"]
            data.append(
                {
                    "lat": lat,
                    "lon": lon,
                    "label": "S",
                    "tip": html.escape(", ".join(names)),
                    "color": STATION_COLOR,
                    "station": True,
                    "offset": 0,
                }
            )
        # Turns (waypoints) are on the route line already; only hotspot stops get numbers,
        # counted per unit as in the timetable.
        visits = stops[stops["kind"] == "hotspot"].copy()
        visits["seq"] = visits.groupby("unit_id").cumcount() + 1
        key_lon, key_lat = visits["lon"].round(5), visits["lat"].round(5)
        offsets: dict[tuple[float, float], int] = {}
        for (lon, lat, unit), group in visits.groupby(
            [key_lon, key_lat, visits["unit_id"]], sort=False
        ):
            k = offsets.get((lon, lat), 0)
            offsets[(lon, lat)] = k + 1
            label = ",".join(str(s) for s in group["seq"])
            tip = "<br>".join(
                html.escape(
                    f"Unit {unit} #{r.seq}: {r.name or r.kind}, {clock_text(r.arrive)}–{clock_text(r.depart)}"
                )
                for r in group.itertuples(index=False)
            )
            data.append(
                {
                    "lat": float(group["lat"].iloc[0]),
                    "lon": float(group["lon"].iloc[0]),
                    "label": html.escape(label),
                    "tip": tip,
                    "color": css_color(colors.get(str(unit), "#555")),
                    "station": False,
                    "offset": 18 * k,
                }
            )
        self.data = data


def _timetable_rows(plan: Plan, unit_id: str) -> list[list[str]]:
    """Station and hotspot rows, numbered like the map's markers; the turns in between
    (waypoint rows of ``stops.csv``) become the next row's "via" streets."""
    rows: list[list[str]] = []
    via: list[str] = []
    n_hotspots = 0
    for r in plan.unit_stops(unit_id).itertuples(index=False):
        kind = str(r.kind)
        if kind == "waypoint":
            street = text(r.street)
            if street and _street_key(street) not in {_street_key(v) for v in via}:
                via.append(street)
            continue
        if kind == "hotspot":
            n_hotspots += 1
        rows.append(
            [
                {"hotspot": str(n_hotspots), "station": "S"}.get(kind, ""),
                kind,
                text(r.name),
                text(r.street),
                clock_text(r.arrive),
                _minutes(r.dwell_min),
                clock_text(r.depart),
                ", ".join(via),
            ]
        )
        via = []
    return rows


def _km(value: Any) -> str:
    return "" if is_missing(value) else f"{float(value) / 1000:.1f}"


def _hours(value: Any) -> str:
    if is_missing(value):
        return ""
    minutes = round(float(value) / 60)
    return f"{minutes // 60}:{minutes % 60:02d}"


def _minutes(value: Any) -> str:
    """Whole minutes, as every printed time is (a dwell of 12.25 min reads 12)."""
    return "" if is_missing(value) else f"{round(float(value)):d}"


_DIRECTION = re.compile(r"(?:north|south|east|west|[nsew]|[ns]b|[ew]b)$")


def _street_key(name: str) -> str:
    """A street name as the turn list compares it: case, spaces, dots and hyphens and a
    trailing direction ignored ("I-91", "I- 91" and "I 91 N" are one street)."""
    words = re.sub(r"[\s.\-_/]+", " ", name.casefold()).split()
    if len(words) > 1 and _DIRECTION.fullmatch(words[-1]):
        words = words[:-1]
    return "".join(words)
