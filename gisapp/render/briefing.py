"""The briefing of a shift plan: its map, its offline HTML page and its printed pack.

:func:`plan_map` draws the plan (routes per unit in distinct colours, numbered stops,
station, grids, blind zones, legend, scale bar, north arrow, attribution); :func:`plan_html`
is the self-contained page, :func:`briefing_pdf` / :func:`briefing_png` the printed pack:
the overview map and the units (with call sign, officer and phone, :func:`unit_contacts`),
then a page per unit with its own map and its timetable (:func:`timetable_rows`). Stops are
numbered once (:func:`gisapp.outputs.stops.numbered_stops`) for the maps, timetables and GPX.
"""

from __future__ import annotations

import copy
import html
import logging
import os
import re
from collections.abc import Iterator, Mapping
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from gisapp.errors import ExportError
from gisapp.outputs.files import csv_text
from gisapp.outputs.plan import stops_layer
from gisapp.outputs.stops import numbered_stops
from gisapp.outputs.words import date_text, mode_name, shift_text, stop_kind_name
from gisapp.plans import Plan, clock_text, is_missing, text
from gisapp.render import colors, maps
from gisapp.render.area_maps import (
    add_blind_zones,
    clipped_layer,
    clipped_roads_base,
    padded_bounds,
)
from gisapp.render.colors import GRID_COLOR, STATION_COLOR
from gisapp.render.elements import StopMarkers
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
from layers.i18n import LANGUAGES, _, _l, format_km, format_number, ngettext, use_language

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
    return csv_text(table)


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
    colors: Mapping[str, str] | None = None,
    dashes: Mapping[str, str | None] | None = None,
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
    colors, dashes
        Each unit's colour and dash, by default from the plan's units (a one-unit part of
        a plan passes the whole plan's, so the unit keeps its colour).

    Returns
    -------
    folium.Map
        Map with scale bar and north arrow (render with :func:`gisapp.render.maps.render_html`).
    """
    colors = dict(colors) if colors is not None else unit_colors(plan)
    dashes = dict(dashes) if dashes is not None else unit_dashes(plan)
    stops = stops_layer(plan)
    frames = [f for f in (plan.routes, stops) if len(f)]
    if not frames:
        raise ExportError(_("plan %(plan)r has no routes or stops to map", plan=plan.plan_id))
    bounds = padded_bounds(np.array([f.total_bounds for f in frames]), 0.04)
    roads = grids = None
    if ws is not None:
        if attribution is None:
            attribution = maps.attribution_for(ws.layer_notes)
        clipped = clipped_layer(ws, "roads", bounds)
        if for_print and clipped is not None:
            clipped = maps.printable_roads(clipped, bounds)
        roads = clipped_roads_base(ws, clipped)
        grids = clipped_layer(ws, "grids", bounds)
    m = maps.base_map(bounds, roads=roads, attribution=attribution, assets_url=assets_url)
    set_print_options(m, for_print)
    legend: dict[str, str] = {}
    if grids is not None and len(grids):
        maps.add_polygons(
            m,
            grids,
            name=_("Grids"),
            color=GRID_COLOR,
            fill_opacity=0.03,
            weight=0.8,
            tooltip_fields={"id": _("Grid"), "officer": _("Officer"), "unit_id": _("Unit")},
        )
        legend[_("Grid")] = GRID_COLOR
    hatched: dict[str, float] = {}
    if blind_zones is not None and len(blind_zones):
        # Under the routes, blind zones are context: faint, so the routes stay readable.
        legend.update(
            add_blind_zones(m, blind_zones, fill_opacity=0.12, line_weight=1.5, hatched=hatched)
        )
    routes = plan.routes.assign(
        distance_km=(plan.routes["distance_m"].astype(float) / 1000).round(1),
        duration_h=(plan.routes["duration_s"].astype(float) / 3600).round(2),
        # shown in the tooltip; the colours go by the machine value
        mode_name=plan.routes["mode"].map(mode_name),
    )
    maps.add_lines(
        m,
        routes,
        name=_("Routes"),
        id_field="unit_id",
        color_by="unit_id",
        colors=colors,
        # past ten units the colours come round again with another dash (docs/CARTOGRAPHY.md)
        dashes=dashes,
        weight=4.0,
        tooltip_fields={
            "unit_id": _("Unit"),
            "mode_name": _("Mode"),
            "distance_km": _("km"),
            "duration_h": _("Hours"),
        },
    )
    StopMarkers(_stop_marks(plan, colors)).add_to(m)
    for unit in plan.unit_ids:
        mode = mode_name(plan.routes.loc[plan.routes["unit_id"] == unit, "mode"].iloc[0])
        label = (
            _("Unit %(unit)s (%(mode)s)", unit=unit, mode=mode)
            if mode
            else _("Unit %(unit)s", unit=unit)
        )
        legend[label] = colors[unit]
    legend[_("Station")] = STATION_COLOR
    maps.add_legend(m, _("Patrol plan"), legend, position="bottomright", hatched=hatched)
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
        title=_("Patrol plan %(plan)s", plan=plan.plan_id),
    )


def briefing_page(
    plan: Plan,
    *,
    ws: Workspace | None = None,
    blind_zones: gpd.GeoDataFrame | None = None,
    paper: Paper = "A4",
    landscape: bool = False,
    unit_pages: bool = True,
) -> str:
    """The printable HTML of a plan's briefing pack.

    Page 1 holds the title, shift, date, the overview map and a table of the units (with
    call sign, officer and phone where the workspace knows them); then one page per unit
    with who it is, its own map (zoomed to its route, its stops numbered as in its
    timetable) and its timetable, breaks included (a long timetable runs on, repeating
    its header).

    Parameters
    ----------
    plan, ws, blind_zones
        As in :func:`plan_map`.
    paper
        ``"A4"`` or ``"A3"``.
    landscape
        Landscape instead of portrait.
    unit_pages
        Add each unit's page; without them the page is the first sheet alone (what the
        PNG shows), drawn without building maps nobody sees.

    Returns
    -------
    str
        HTML with every asset inlined; print it with :func:`print_pdf`.
    """
    pages = briefing_pages(
        plan,
        ws=ws,
        blind_zones=blind_zones,
        paper=paper,
        landscape=landscape,
        first_sheet=not unit_pages,
        whole_pack=unit_pages,
    )
    return next(pages)


def briefing_pages(
    plan: Plan,
    *,
    ws: Workspace | None = None,
    blind_zones: gpd.GeoDataFrame | None = None,
    paper: Paper = "A4",
    landscape: bool = False,
    first_sheet: bool = True,
    whole_pack: bool = True,
) -> Iterator[str]:
    """The printable pages of a plan's briefing drawn on one overview map: the first
    sheet alone (what the PNG shows) if ``first_sheet``, then the whole pack if
    ``whole_pack`` (see :func:`briefing_page`).

    Each page is built when asked for, so the first can be printing while the second is
    built::

        pages = briefing_pages(plan, ws=ws)
        png = printer.submit(Printout(next(pages), "png"))
        pdf = printer.submit(Printout(next(pages), "pdf"))
    """
    width_mm, height_mm = page_size(paper, landscape)
    colors, dashes = unit_colors(plan), unit_dashes(plan)
    contacts = unit_contacts(plan, ws)
    summary = _units_section(plan, contacts)
    # A units table taller than a third of the page would squeeze the map: it then
    # gets a page of its own.
    fits = 12.0 + 6.0 * len(summary.rows) <= (height_mm - 2 * MARGIN_MM) / 3
    first = [summary] if fits else []
    sections = [] if fits else [replace_section(summary, new_page=True)]
    m = plan_map(plan, ws=ws, blind_zones=blind_zones, for_print=True)
    meta = [
        m
        for m in (
            shift_text(plan.shift_name, plan.shift),
            date_text(plan.date),
            _("Plan %(plan)s", plan=plan.plan_id),
        )
        if m
    ]
    if ws is not None:
        meta.append(_("Workspace %(name)s", name=ws.name))

    def page(overview: folium.Map, sections: list[Section]) -> str:
        return print_page(
            maps.render_html(overview, inline_assets=True, layer_control=False),
            title=plan_title(plan),
            meta=meta,
            page_footer=page_footer(ws, plan.timezone),
            sections=sections,
            width_mm=width_mm,
            height_mm=height_mm,
            first_page=first,
        )

    if first_sheet:
        # a copy is rendered (a figure rendered twice repeats its scripts), and it takes
        # a hundredth of the time of drawing the overview again
        yield page(copy.deepcopy(m) if whole_pack else m, sections)
    if not whole_pack:
        return
    for unit in plan.unit_ids:
        # a unit's map shows its route and stops on the streets; the city's blind zones
        # stay on the overview (their hatching would also weigh megabytes per page)
        unit_map = plan_map(
            plan.for_unit(unit),
            ws=ws,
            for_print=True,
            colors={unit: colors[unit]},
            dashes={unit: dashes[unit]},
        )
        # one page, one figure: every map is drawn by the same inlined scripts
        m.get_root().add_child(unit_map)
        sections.append(_unit_section(plan, unit, colors[unit], contacts[unit], unit_map))
    yield page(m, sections)


def plan_title(plan: Plan) -> str:
    """The title of a plan's briefing: its own title, or "Patrol plan <id>" in the
    reader's language when it has the title every plan gets by default."""
    defaults = {"", "Patrol plan"}
    for language in LANGUAGES:  # the default title, in whichever language it was made
        with use_language(language):
            defaults.add(_("Patrol plan %(plan)s", plan=plan.plan_id))
    if plan.title in defaults:
        return _("Patrol plan %(plan)s", plan=plan.plan_id)
    return plan.title


#: Who a unit is: the fields read, in order, and the words they are printed with.
CONTACT_FIELDS: dict[str, Any] = {
    "call_sign": _l("Call sign"),
    "officer": _l("Officer"),
    "phone": _l("Phone"),
}
#: Other spellings of those fields accepted in the units table.
_CONTACT_ALIASES: dict[str, tuple[str, ...]] = {
    "call_sign": ("call_sign", "callsign", "call sign"),
    "officer": ("officer", "officers", "leader"),
    "phone": ("phone", "mobile", "telephone"),
}


def unit_contacts(plan: Plan, ws: Workspace | None) -> dict[str, dict[str, str]]:
    """Each unit's call sign, officer and phone, as far as the workspace knows them.

    The ``units`` table's own columns come first (``call_sign``, ``officer``, ``phone``
    and their usual spellings); a field it leaves empty comes from the grids whose
    ``unit_id`` names the unit (the first grid's officer and phone, "+N" when the grids
    name more officers). Fields nobody knows are left out, never written as "nan".

    Returns
    -------
    dict
        Per unit id, the known fields among :data:`CONTACT_FIELDS`.
    """
    found: dict[str, dict[str, str]] = {unit: {} for unit in plan.unit_ids}
    if ws is None:
        return found
    if ws.has_layer("units"):
        units = ws.layer("units")
        columns = {str(c).strip().casefold(): c for c in units.columns}
        ids = units["id"].map(text) if "id" in units.columns else pd.Series(dtype=str)
        for field_name, aliases in _CONTACT_ALIASES.items():
            column = next((columns[a] for a in aliases if a in columns), None)
            if column is None:
                continue
            for unit_id, value in zip(ids, units[column].map(_clean), strict=True):
                if unit_id in found and value:
                    found[unit_id][field_name] = value
    if ws.has_layer("grids"):
        grids = ws.layer("grids")
        if "unit_id" in grids.columns:
            grids = grids.assign(unit_id=grids["unit_id"].map(_clean))
            if "id" in grids.columns:
                grids = grids.sort_values("id", kind="stable", key=lambda c: c.map(text))
            for unit, mine in grids.groupby("unit_id", sort=False):
                if unit in found:
                    _contacts_from_grids(found[str(unit)], mine)
    return found


def _contacts_from_grids(known: dict[str, str], grids: pd.DataFrame) -> None:
    """Fill ``known``'s missing officer and phone from a unit's grids."""
    officers = [o for o in dict.fromkeys(grids.get("officer", pd.Series()).map(_clean)) if o]
    if "officer" not in known and officers:
        known["officer"] = (
            _(
                "%(officer)s (+%(more)s more in its grids)",
                officer=officers[0],
                more=len(officers) - 1,
            )
            if len(officers) > 1
            else officers[0]
        )
        if "phone" not in known and "phone" in grids.columns:
            first = grids[grids["officer"].map(_clean) == officers[0]]
            phone = next((p for p in first["phone"].map(_clean) if p), "")
            if phone:
                known["phone"] = phone


def _clean(value: Any) -> str:
    """A cell as trimmed text; missing values and the words pandas writes for them are ''."""
    out = text(value).strip()
    return "" if out.casefold() in {"nan", "none", "nat", "<na>", "null"} else out


def contact_line(contact: Mapping[str, str]) -> str:
    """A unit's known contact fields as one line ("Call sign A-12 · Officer Li · Phone …")."""
    words = {
        "call_sign": lambda v: _("Call sign %(value)s", value=v),
        "officer": lambda v: _("Officer %(value)s", value=v),
        "phone": lambda v: _("Phone %(value)s", value=v),
    }
    return " · ".join(words[k](contact[k]) for k in CONTACT_FIELDS if contact.get(k))


def _units_section(plan: Plan, contacts: Mapping[str, Mapping[str, str]]) -> Section:
    """The units table of page 1; contact columns only when some unit has them."""
    shown = [k for k in CONTACT_FIELDS if any(c.get(k) for c in contacts.values())]
    rows = []
    for unit in plan.unit_ids:
        route = plan.routes[plan.routes["unit_id"] == unit].iloc[0]
        unit_stops = plan.unit_stops(unit)
        hot = unit_stops[unit_stops["kind"] == "hotspot"]
        rows.append(
            [
                unit,
                *(contacts[unit].get(k, "") for k in shown),
                mode_name(route.get("mode")),
                _km(route.get("distance_m")),
                _hours(route.get("duration_s")),
                str(len(hot)),
                _minutes(hot["dwell_min"].sum()) if len(hot) else "0",
                clock_text(unit_stops["depart"].min()),
                clock_text(unit_stops["arrive"].max()),
            ]
        )
    return Section(
        title=_("Patrol units"),
        columns=[
            _("Unit"),
            *(str(CONTACT_FIELDS[k]) for k in shown),
            _("Mode"),
            _("km"),
            _("Route time"),
            _("Hotspot stops"),
            _("Dwell (min)"),
            _("Leaves"),
            _("Back"),
        ],
        rows=rows,
        cell_classes=["", *([""] * len(shown)), "", "num", "num", "num", "num", "time", "time"],
        row_classes=[""] * len(rows),
        new_page=False,
    )


def _unit_section(
    plan: Plan, unit: str, color: str, contact: Mapping[str, str], unit_map: folium.Map
) -> Section:
    """A unit's page: who it is, its figures, its map and its timetable."""
    route = plan.routes[plan.routes["unit_id"] == unit].iloc[0]
    rows = _timetable_rows(plan, unit)
    n_hot = sum(r[1] == "hotspot" for r in rows)
    distance, hours = route.get("distance_m"), _hours(route.get("duration_s"))
    figures = " · ".join(
        t
        for t in (
            mode_name(route.get("mode")),
            "" if is_missing(distance) else format_km(float(distance) / 1000),
            _("route time %(time)s", time=hours) if hours else "",
            ngettext("%(num)s hotspot stop", "%(num)s hotspot stops", n_hot),
            shift_text(plan.shift_name, plan.shift),
            date_text(plan.date),
        )
        if t
    )
    # the kinds read in words; the row classes go by the machine value
    shown = [[r[0], stop_kind_name(r[1]), *r[2:]] for r in rows]
    return Section(
        title=_("Unit %(unit)s — timetable", unit=unit),
        columns=[
            "#",
            _("Kind"),
            _("Name"),
            _("Street"),
            _("Arrive"),
            _("Dwell (min)"),
            _("Depart"),
            _("Via"),
        ],
        rows=shown,
        cell_classes=["num", "", "", "", "time", "num", "time", "via"],
        row_classes=[r[1] if r[1] in ("station", "break") else "" for r in rows],
        figures=figures,
        details=contact_line(contact),
        color=color,
        note=_("Times in %(timezone)s. # = the number on the map.", timezone=plan.timezone),
        map_name=unit_map.get_name(),
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
    page = briefing_page(
        plan, ws=ws, blind_zones=blind_zones, paper=paper, landscape=landscape, unit_pages=False
    )
    return print_png(page, paper=paper, landscape=landscape, dpi=dpi, chromium_path=chromium_path)


def _stop_marks(plan: Plan, colors: Mapping[str, str]) -> list[dict[str, Any]]:
    """The labels of :class:`StopMarkers`: stations first, then each unit's hotspot stops
    numbered as in its timetable (:func:`numbered_stops`); a unit stopping twice at one
    place gets one label with both numbers ("2,5")."""
    stations = plan.stops[plan.stops["kind"] == "station"]
    marks: list[dict[str, Any]] = []
    for (lon, lat), group in stations.groupby([stations["lon"].round(6), stations["lat"].round(6)]):
        names = sorted({n for n in group["name"] if n}) or [_("Station")]
        marks.append(
            {
                "lat": lat,
                "lon": lon,
                "label": "S",
                "tip": html.escape(", ".join(names)),
                "color": STATION_COLOR,
                "station": True,
            }
        )
    for unit in plan.unit_ids:
        visits = numbered_stops(plan, unit)
        visits = visits[visits["kind"] == "hotspot"]
        # the visits of one place, in timetable order (rows, not frames: a city has hundreds)
        places: dict[tuple[float, float], list[Any]] = {}
        keys = zip(visits["lon"].round(5).tolist(), visits["lat"].round(5).tolist(), strict=True)
        for key, r in zip(keys, visits.itertuples(index=False), strict=True):
            places.setdefault(key, []).append(r)
        for rows in places.values():
            tip = "<br>".join(
                html.escape(
                    _(
                        "Unit %(unit)s #%(number)s: %(name)s, %(arrive)s–%(depart)s",
                        unit=unit,
                        number=r.number,
                        name=text(r.name) or stop_kind_name(r.kind),
                        arrive=clock_text(r.arrive),
                        depart=clock_text(r.depart),
                    )
                )
                for r in rows
            )
            marks.append(
                {
                    "lat": float(rows[0].lat),
                    "lon": float(rows[0].lon),
                    "label": html.escape(",".join(str(r.number) for r in rows)),
                    "tip": tip,
                    "color": css_color(colors.get(unit, "#555")),
                    "station": False,
                }
            )
    return marks


def _timetable_rows(plan: Plan, unit_id: str) -> list[list[str]]:
    """Station, hotspot and break rows, numbered like the map's labels
    (:func:`numbered_stops`); the turns in between (waypoint rows of ``stops.csv``) become
    the next row's "via" streets."""
    numbers = numbered_stops(plan, unit_id)["number"].to_dict()
    rows: list[list[str]] = []
    via: list[str] = []
    for index, r in plan.unit_stops(unit_id).iterrows():
        kind = str(r["kind"])
        if kind == "waypoint":
            street = text(r["street"])
            if street and _street_key(street) not in {_street_key(v) for v in via}:
                via.append(street)
            continue
        rows.append(
            [
                str(numbers[index]),
                kind,
                text(r["name"]),
                text(r["street"]),
                clock_text(r["arrive"]),
                _minutes(r["dwell_min"]),
                clock_text(r["depart"]),
                ", ".join(via),
            ]
        )
        via = []
    return rows


def _km(value: Any) -> str:
    return "" if is_missing(value) else format_number(float(value) / 1000, 1)


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
