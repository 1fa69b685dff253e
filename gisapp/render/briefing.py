"""Briefing exports: PDF/PNG briefing packs, offline HTML, GPX, GeoJSON, GeoPackage, CSV.

A roll-call briefing needs the shift plan on paper and on devices that have no network:

* :class:`BriefingPlan` is what every plan export reads: routes (one line per unit), stops
  with their times, KPIs and the plan's title, shift and date. :func:`read_plan_dir` makes
  one from the stable plan files (``routes.geojson``, ``stops.csv``, ``kpis.json``) and
  :func:`as_briefing_plan` from whatever a caller holds (a directory, a plan object with
  ``routes`` and ``stops`` frames, or a ``BriefingPlan``).
* :func:`plan_map` draws it (routes per unit in distinct colours, numbered stops, station,
  grids, blind zones, legend, scale bar, north arrow, attribution); :func:`plan_html` is the
  self-contained page, :func:`briefing_pdf` / :func:`briefing_png` the printed pack.
* :func:`gpx_bytes`, :func:`routes_geojson`, :func:`stops_geojson`, :func:`write_gpkg`,
  :func:`stops_csv` and :func:`timetable_csv` are the data files; :func:`export_plan` writes
  any of them into a folder, :func:`export_grids` and :func:`export_blind_zones` do the same
  for the grid responsibility map and the blind-zone map.

Every function returns ``bytes``/``str`` or the paths written, so the web app can send them
as downloads. File names built from user text (unit ids) go through :func:`safe_file_name`
and :func:`safe_path` and cannot leave the output folder.

Printing runs headless Chromium on a local page that loads nothing from anywhere: every
request the page makes is refused, and the page is printed only once Leaflet has drawn.
"""

from __future__ import annotations

import dataclasses
import html
import json
import logging
import math
import os
import re
import tempfile
import unicodedata
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import folium
import geopandas as gpd
import jinja2
import numpy as np
import pandas as pd
import pyogrio
import shapely
from branca.element import MacroElement
from jinja2 import Template

from gisapp.errors import GisappError
from gisapp.render import maps
from gisapp.render.browser import CHROMIUM_ARGS, CHROMIUM_PATH
from gisapp.services.plan import STOP_COLUMNS
from gisapp.store.geopackage import Workspace

logger = logging.getLogger(__name__)

#: Paper sizes in millimetres, portrait (width, height).
PAPER_SIZES_MM: dict[str, tuple[float, float]] = {"A4": (210.0, 297.0), "A3": (297.0, 420.0)}
#: Formats of a plan export, in the order they are written.
PLAN_FORMATS: tuple[str, ...] = ("pdf", "png", "html", "gpx", "geojson", "gpkg", "csv")
#: Formats of the grid and blind-zone map exports.
MAP_FORMATS: tuple[str, ...] = ("pdf", "png", "html", "geojson")
GPX_NS = "http://www.topografix.com/GPX/1/1"

_MARGIN_MM = 10.0
_PX_PER_MM = 96 / 25.4
_BRIEFING_DIR = Path(__file__).resolve().parent / "_briefing"
_STATION_COLOR = "#111111"
_GRID_COLOR = "#1d3557"
_BLIND_COLOR = "#e31a1c"
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{p}{i}" for p in ("COM", "LPT") for i in [*range(10), "¹", "²", "³"]}
)
_MAX_NAME_BYTES = 120  # leaves room for a suffix under the 255-byte limit of most file systems

Paper = Literal["A4", "A3"]


class ExportError(GisappError):
    """An export cannot be made: bad plan data, bad format or paper, no browser."""


# -- the plan as exports see it ----------------------------------------------------------


@dataclass(frozen=True)
class BriefingPlan:
    """A shift plan as the exports read it.

    Parameters
    ----------
    plan_id
        Plan identifier (shown on the briefing; never used as a file name unsanitised).
    routes
        One line per unit in EPSG:4326 with ``unit_id``, ``mode``, ``distance_m``,
        ``duration_s`` (more columns are kept).
    stops
        The ``stops.csv`` columns; ``arrive`` and ``depart`` are time-zone aware
        timestamps (``NaT`` where a stop has none, e.g. the first station row's arrival).
    kpis
        The plan's ``kpis.json``.
    title, shift, date
        Text of the briefing header.
    timezone
        IANA time zone the times are shown in.
    """

    plan_id: str
    routes: gpd.GeoDataFrame
    stops: pd.DataFrame
    kpis: Mapping[str, Any] = field(default_factory=dict)
    title: str = "Patrol plan"
    shift: str = ""
    date: str = ""
    timezone: str = "UTC"

    @property
    def unit_ids(self) -> list[str]:
        """Unit ids in route order."""
        return [str(u) for u in self.routes["unit_id"]]

    def unit_stops(self, unit_id: str) -> pd.DataFrame:
        """Stops of ``unit_id`` in timetable order."""
        rows = self.stops[self.stops["unit_id"] == unit_id]
        return rows.sort_values("seq", kind="stable")


def make_briefing_plan(
    routes: gpd.GeoDataFrame,
    stops: pd.DataFrame,
    *,
    kpis: Mapping[str, Any] | None = None,
    plan_id: str = "plan",
    title: str | None = None,
    shift: str | None = None,
    date: str | None = None,
    timezone: str | None = None,
) -> BriefingPlan:
    """Check plan frames and return a :class:`BriefingPlan`; inputs are not changed.

    Parameters
    ----------
    routes
        One line per unit with the ``routes.geojson`` fields, any CRS.
    stops
        Rows with the ``stops.csv`` fields; ``arrive``/``depart`` as ISO 8601 text or
        timestamps.
    kpis
        Plan KPIs; ``title``, ``shift`` and ``date`` keys are used when present.
    plan_id
        Plan identifier.
    title, shift, date
        Header text; by default from ``kpis``, else from the stop times.
    timezone
        Time zone the times are shown in; by default the KPIs' ``timezone``, else UTC.

    Returns
    -------
    BriefingPlan

    Raises
    ------
    ExportError
        Listing every problem found: missing columns, missing CRS, units with stops but
        no route, unreadable times.
    """
    kpis = dict(kpis or {})
    tz = timezone or str(kpis.get("timezone") or "UTC")
    problems: list[str] = []
    if not isinstance(routes, gpd.GeoDataFrame):
        raise ExportError(f"'routes' should be a GeoDataFrame, got {type(routes).__name__}")
    if routes.crs is None:
        problems.append("'routes' has no CRS; set it (plan files are EPSG:4326)")
    missing = [c for c in ("unit_id",) if c not in routes.columns]
    if missing:
        problems.append(f"'routes' lacks column(s) {missing}; each route needs its unit_id")
    missing = [c for c in ("unit_id", "seq", "kind", "lon", "lat") if c not in stops.columns]
    if missing:
        problems.append(f"'stops' lacks column(s) {missing}; stops need {', '.join(STOP_COLUMNS)}")
    if problems:
        raise ExportError("; ".join(problems))
    out_routes = routes.to_crs(4326) if routes.crs.to_epsg() != 4326 else routes.copy()
    out_routes["unit_id"] = out_routes["unit_id"].astype(str)
    for column, default in (("mode", ""), ("distance_m", np.nan), ("duration_s", np.nan)):
        if column not in out_routes.columns:
            out_routes[column] = default
    dupes = out_routes["unit_id"][out_routes["unit_id"].duplicated()].unique().tolist()
    if dupes:
        problems.append(f"'routes' has more than one route for unit(s) {dupes}; give one each")
    out_stops = pd.DataFrame(stops).copy()
    out_stops["unit_id"] = out_stops["unit_id"].astype(str)
    for column in STOP_COLUMNS:
        if column not in out_stops.columns:
            out_stops[column] = np.nan if column in ("dwell_min",) else ""
    for column in ("name", "street", "kind"):
        out_stops[column] = out_stops[column].map(_text)
    out_stops["seq"] = pd.to_numeric(out_stops["seq"], errors="coerce")
    for column in ("lon", "lat", "dwell_min"):
        out_stops[column] = pd.to_numeric(out_stops[column], errors="coerce")
    bad_xy = out_stops[["lon", "lat"]].isna().any(axis=1) | out_stops["seq"].isna()
    if bad_xy.any():
        rows = out_stops.index[bad_xy][:10].tolist()
        problems.append(f"'stops' rows {rows} lack a number in seq, lon or lat")
    for column in ("arrive", "depart"):
        try:
            out_stops[column] = _times(out_stops[column], tz)
        except (ValueError, TypeError) as exc:
            problems.append(
                f"'stops' column {column!r} is not ISO 8601 time ({exc}); "
                "write times like 2014-09-18T01:10:00-04:00"
            )
    orphans = sorted(set(out_stops["unit_id"]) - set(out_routes["unit_id"]))
    if orphans:
        problems.append(f"'stops' has units {orphans[:10]} with no route in 'routes'")
    if problems:
        raise ExportError("; ".join(problems))
    out_stops = out_stops.sort_values(["unit_id", "seq"], kind="stable", ignore_index=True)
    out_stops["seq"] = out_stops["seq"].astype(int)
    times = pd.concat([out_stops["depart"], out_stops["arrive"]]).dropna()
    start, end = (times.min(), times.max()) if len(times) else (None, None)
    shift_text = shift if shift is not None else _shift_text(kpis.get("shift"), start, end)
    date_text = date if date is not None else str(kpis.get("date") or _date_text(start))
    return BriefingPlan(
        plan_id=str(plan_id),
        routes=out_routes,
        stops=out_stops,
        kpis=kpis,
        title=title or str(kpis.get("title") or f"Patrol plan {plan_id}"),
        shift=shift_text,
        date=date_text,
        timezone=tz,
    )


#: KPI keys that describe the plan as a whole and say nothing about other units.
_PLAN_META_KEYS = ("plan_id", "shift", "shift_name", "start", "date", "timezone", "seed", "title")


def unit_plan(plan: BriefingPlan, unit_id: str) -> BriefingPlan:
    """The part of a plan one unit may see: its route, its stops and its own figures.

    Parameters
    ----------
    plan
        The whole plan (not changed).
    unit_id
        The unit.

    Returns
    -------
    BriefingPlan
        The same plan id, title, shift and date; only ``unit_id``'s route and stops; KPIs
        cut to the plan's description and ``units`` to this unit's entry.

    Raises
    ------
    ExportError
        If the plan has no unit ``unit_id``.
    """
    unit = _check_unit(plan, unit_id)
    units = plan.kpis.get("units")
    kpis: dict[str, Any] = {k: plan.kpis[k] for k in _PLAN_META_KEYS if k in plan.kpis}
    if isinstance(units, Mapping) and unit in units:
        kpis["units"] = {unit: units[unit]}
    return dataclasses.replace(
        plan,
        routes=plan.routes[plan.routes["unit_id"] == unit].reset_index(drop=True),
        stops=plan.stops[plan.stops["unit_id"] == unit].reset_index(drop=True),
        kpis=kpis,
    )


def read_plan_dir(
    directory: str | os.PathLike[str],
    *,
    plan_id: str | None = None,
    timezone: str | None = None,
) -> BriefingPlan:
    """Read a plan from its stable output files: ``routes.geojson``, ``stops.csv``, ``kpis.json``.

    Parameters
    ----------
    directory
        Folder written by ``gisapp plan``.
    plan_id
        Plan identifier; by default the KPIs' ``plan_id``, else the folder name.
    timezone
        Time zone for display; by default the KPIs' ``timezone``, else UTC.

    Raises
    ------
    ExportError
        If a file is missing or its content is not a plan.
    """
    folder = Path(directory)
    needed = [folder / "routes.geojson", folder / "stops.csv"]
    absent = [p.name for p in needed if not p.is_file()]
    if absent:
        raise ExportError(
            f"plan folder {str(folder)!r} lacks {', '.join(absent)}; "
            "point it at the --out folder of 'gisapp plan'"
        )
    kpis: dict[str, Any] = {}
    kpis_path = folder / "kpis.json"
    if kpis_path.is_file():
        try:
            loaded = json.loads(kpis_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ExportError(f"{str(kpis_path)!r} is not valid JSON ({exc})") from None
        kpis = loaded if isinstance(loaded, dict) else {}
    try:
        routes = gpd.read_file(needed[0])
        stops = pd.read_csv(needed[1], dtype={"unit_id": str}, keep_default_na=False)
    except (pyogrio.errors.DataSourceError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ExportError(f"plan files in {str(folder)!r} cannot be read ({exc})") from None
    for column in ("arrive", "depart", "dwell_min"):
        if column in stops.columns:
            stops[column] = stops[column].replace("", None)
    return make_briefing_plan(
        routes,
        stops,
        kpis=kpis,
        plan_id=plan_id or str(kpis.get("plan_id") or folder.name),
        timezone=timezone,
    )


def as_briefing_plan(
    plan: Any, *, plan_id: str | None = None, timezone: str | None = None
) -> BriefingPlan:
    """Return ``plan`` as a :class:`BriefingPlan`: the one adapter between planner and exports.

    Parameters
    ----------
    plan
        A ``BriefingPlan``; a folder with the stable plan files; or an object with
        ``routes`` (GeoDataFrame) and ``stops`` (DataFrame) attributes and optionally
        ``kpis``, ``plan_id``/``id``, ``timezone``.
    plan_id, timezone
        Override the plan's own.

    Raises
    ------
    ExportError
        If ``plan`` is none of these.
    """
    if isinstance(plan, BriefingPlan):
        return plan
    if isinstance(plan, str | os.PathLike):
        return read_plan_dir(plan, plan_id=plan_id, timezone=timezone)
    routes = getattr(plan, "routes", None)
    stops = getattr(plan, "stops", None)
    if isinstance(routes, gpd.GeoDataFrame) and isinstance(stops, pd.DataFrame):
        kpis = getattr(plan, "kpis", None)
        own_id = getattr(plan, "plan_id", None) or getattr(plan, "id", None)
        return make_briefing_plan(
            routes,
            stops,
            kpis=kpis if isinstance(kpis, Mapping) else None,
            plan_id=plan_id or str(own_id or "plan"),
            timezone=timezone or getattr(plan, "timezone", None),
        )
    raise ExportError(
        f"'plan' should be a plan folder or a plan with routes and stops tables, "
        f"got {type(plan).__name__}; save the plan with 'gisapp plan ... --out DIR' first"
    )


# -- safe file names --------------------------------------------------------------------


def safe_file_name(name: Any, *, suffix: str = "", fallback: str = "unnamed") -> str:
    """Return a file name made from user text that stays inside its folder on any system.

    Path separators (``/`` and ``\\``), drive colons, characters Windows refuses, control
    characters and NUL are replaced by ``_``; leading dots and spaces (``..``, hidden
    files) and trailing dots and spaces (which Windows drops) are removed; Windows device
    names (``CON``, ``NUL``, ``COM1``...) get a leading ``_``; the name is cut to
    120 bytes. Non-Latin text (e.g. 巡逻一组) is kept.

    Parameters
    ----------
    name
        User text, e.g. a unit id.
    suffix
        Ending added after sanitising, e.g. ``".gpx"`` (must itself be safe).
    fallback
        Name used when nothing is left.

    Returns
    -------
    str
        A single path component.
    """
    text = unicodedata.normalize("NFKC", _text(name))
    text = re.sub(r'[\x00-\x1f\x7f<>:"/\\|?*]', "_", text)
    text = text.strip(" .")
    encoded = text.encode("utf-8")[:_MAX_NAME_BYTES]
    text = encoded.decode("utf-8", errors="ignore").rstrip(" .")
    if not text:
        text = fallback
    stem = text.split(".", 1)[0].rstrip(" ").upper()
    if stem in _WINDOWS_RESERVED:
        text = "_" + text
    return text + suffix


def unique_file_names(names: Iterable[Any], *, suffix: str = "") -> list[str]:
    """Safe file names for ``names``, made distinct (``-2``, ``-3``...) ignoring case.

    Two units whose ids sanitise alike (``a/b`` and ``a:b``) or differ only in case would
    otherwise overwrite each other's file on Windows and macOS.
    """
    seen: set[str] = set()
    out = []
    for name in names:
        base = safe_file_name(name)
        candidate, k = base, 1
        while (candidate + suffix).casefold() in seen:
            k += 1
            candidate = f"{base}-{k}"
        seen.add((candidate + suffix).casefold())
        out.append(candidate + suffix)
    return out


def safe_path(out_dir: str | os.PathLike[str], name: str) -> Path:
    """Join ``out_dir`` and a file name, refusing any result outside ``out_dir``.

    Raises
    ------
    ExportError
        If ``name`` is not a single safe path component.
    """
    root = Path(out_dir).resolve()
    if (
        not name
        or name != safe_file_name(name, fallback="")
        or "\x00" in name
        or Path(name).is_absolute()
    ):
        raise ExportError(
            f"file name {name!r} is not a plain file name; build it with safe_file_name()"
        )
    path = (root / name).resolve()
    if path.parent != root:
        raise ExportError(f"file name {name!r} would leave the output folder {str(root)!r}")
    return path


# -- data files -------------------------------------------------------------------------


def routes_geojson(plan: BriefingPlan) -> str:
    """The plan's routes as GeoJSON text (EPSG:4326, one feature per unit)."""
    return _geojson_text(plan.routes)


def stops_geojson(plan: BriefingPlan) -> str:
    """The plan's stops as GeoJSON points, times as ISO 8601 text."""
    return _geojson_text(_stops_gdf(plan))


def stops_csv(plan: BriefingPlan) -> str:
    """Every unit's stops as the stable ``stops.csv`` (times ISO 8601 in the plan's zone)."""
    table = plan.stops.copy()
    for column in ("arrive", "depart"):
        table[column] = table[column].map(_iso)
    extra = [c for c in table.columns if c not in STOP_COLUMNS]
    return str(table[list(STOP_COLUMNS) + extra].to_csv(index=False, lineterminator="\n"))


def timetable_csv(plan: BriefingPlan, unit_id: str) -> str:
    """One unit's timetable for people: stop, kind, name, street, arrive, dwell, depart.

    Raises
    ------
    ExportError
        If the plan has no unit ``unit_id``.
    """
    rows = _timetable_rows(plan, _check_unit(plan, unit_id))
    table = pd.DataFrame(
        rows, columns=["stop", "kind", "name", "street", "arrive", "dwell_min", "depart", "via"]
    )
    return str(table.to_csv(index=False, lineterminator="\n"))


def timetable_rows(plan: BriefingPlan, unit_id: str) -> list[list[str]]:
    """One unit's timetable as text rows: stop number ("S" for the station), kind, name,
    street, arrive (HH:MM), dwell (minutes), depart (HH:MM) in the plan's time zone, and
    the streets driven since the previous row (the turn list, as "via").

    Raises
    ------
    ExportError
        If the plan has no unit ``unit_id``.
    """
    return _timetable_rows(plan, _check_unit(plan, unit_id))


def gpx_bytes(plan: BriefingPlan, unit_id: str, *, creator: str = "gisapp") -> bytes:
    """One unit's route as GPX 1.1: its stops as waypoints and its route as a track.

    Parameters
    ----------
    plan
        The plan.
    unit_id
        The unit.
    creator
        Value of the ``creator`` attribute.

    Returns
    -------
    bytes
        UTF-8 GPX 1.1 document (valid against the GPX 1.1 schema).

    Raises
    ------
    ExportError
        If the plan has no unit ``unit_id``.
    """
    unit = _check_unit(plan, unit_id)
    route = plan.routes[plan.routes["unit_id"] == unit].iloc[0]
    ET.register_namespace("", GPX_NS)
    q = _gpx_tag
    root = ET.Element(q("gpx"), {"version": "1.1", "creator": creator})
    meta = ET.SubElement(root, q("metadata"))
    ET.SubElement(meta, q("name")).text = f"{plan.title} — unit {unit}"
    ET.SubElement(meta, q("desc")).text = " · ".join(
        t for t in (plan.shift, plan.date, f"plan {plan.plan_id}") if t
    )
    stop_rows: Iterable[Any] = plan.unit_stops(unit).itertuples(index=False)
    for row in stop_rows:
        wpt = ET.SubElement(root, q("wpt"), {"lat": _coord(row.lat), "lon": _coord(row.lon)})
        when = row.arrive if not pd.isna(row.arrive) else row.depart
        if not pd.isna(when):
            ET.SubElement(wpt, q("time")).text = _gpx_time(when)
        ET.SubElement(wpt, q("name")).text = f"{row.seq} {row.name}".strip()
        ET.SubElement(wpt, q("desc")).text = _stop_description(row)
        ET.SubElement(wpt, q("type")).text = row.kind or "stop"
    trk = ET.SubElement(root, q("trk"))
    ET.SubElement(trk, q("name")).text = f"Unit {unit}"
    if _text(route.get("mode")):
        ET.SubElement(trk, q("type")).text = _text(route.get("mode"))
    for part in _line_parts(route.geometry):
        seg = ET.SubElement(trk, q("trkseg"))
        for lon, lat in shapely.get_coordinates(part):
            ET.SubElement(seg, q("trkpt"), {"lat": _coord(lat), "lon": _coord(lon)})
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def write_gpkg(plan: BriefingPlan, path: str | os.PathLike[str]) -> Path:
    """Write the plan as a GeoPackage with layers ``routes`` and ``stops``, atomically.

    Returns
    -------
    Path
        The file written (replaced when it existed).
    """
    target = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".gpkg", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()
    try:
        with warnings.catch_warnings():
            # GDAL notes about layer creation options are not the user's problem.
            warnings.simplefilter("ignore", RuntimeWarning)
            pyogrio.write_dataframe(plan.routes, tmp, layer="routes", driver="GPKG")
            pyogrio.write_dataframe(_stops_gdf(plan), tmp, layer="stops", driver="GPKG")
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    return target


# -- maps -------------------------------------------------------------------------------


def unit_colors(plan: BriefingPlan) -> dict[str, str]:
    """A distinct colour per unit, in route order."""
    return {u: maps.PALETTE[i % len(maps.PALETTE)] for i, u in enumerate(plan.unit_ids)}


def plan_map(
    plan: BriefingPlan,
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
    stops = _stops_gdf(plan)
    frames = [f for f in (plan.routes, stops) if len(f)]
    if not frames:
        raise ExportError(f"plan {plan.plan_id!r} has no routes or stops to map")
    bounds = _padded_bounds(np.array([f.total_bounds for f in frames]), 0.04)
    roads = grids = None
    if ws is not None:
        from gisapp.views.pages import attribution_for

        if attribution is None:
            attribution = attribution_for(ws)
        roads = _clipped_layer(ws, "roads", bounds)
        grids = _clipped_layer(ws, "grids", bounds)
    m = maps.base_map(bounds, roads=roads, attribution=attribution, assets_url=assets_url)
    _print_options(m, for_print)
    legend: dict[str, str] = {}
    if grids is not None and len(grids):
        maps.add_polygons(
            m,
            grids,
            name="Grids (网格)",
            color=_GRID_COLOR,
            fill_opacity=0.03,
            weight=0.8,
            tooltip_fields={"id": "Grid (网格)", "officer": "Officer", "unit_id": "Unit"},
        )
        legend["Grid (网格)"] = _GRID_COLOR
    if blind_zones is not None and len(blind_zones):
        # Under the routes, blind zones are context: faint, so the routes stay readable.
        _add_blind_zones(m, blind_zones, fill_opacity=0.12, line_weight=1.5)
        legend["Blind zone (盲区)"] = _BLIND_COLOR
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
        mode = _text(plan.routes.loc[plan.routes["unit_id"] == unit, "mode"].iloc[0])
        legend[f"Unit {unit} ({mode})" if mode else f"Unit {unit}"] = colors[unit]
    legend["Station"] = _STATION_COLOR
    maps.add_legend(m, "Patrol plan", legend, position="bottomright")
    _NorthArrow().add_to(m)
    return m


def plan_html(
    plan: BriefingPlan,
    *,
    ws: Workspace | None = None,
    blind_zones: gpd.GeoDataFrame | None = None,
) -> str:
    """The plan's map as one self-contained HTML file (every script and style inlined)."""
    return maps.render_html(
        plan_map(plan, ws=ws, blind_zones=blind_zones), inline_assets=True, layer_control=True
    )


@dataclass(frozen=True)
class _Section:
    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[str]]
    cell_classes: Sequence[str]
    row_classes: Sequence[str]
    figures: str = ""
    color: str = ""
    note: str = ""
    new_page: bool = True


def briefing_page(
    plan: BriefingPlan,
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
    width_mm, height_mm = _page_size(paper, landscape)
    colors = unit_colors(plan)
    summary_rows = []
    for unit in plan.unit_ids:
        route = plan.routes[plan.routes["unit_id"] == unit].iloc[0]
        unit_stops = plan.unit_stops(unit)
        hot = unit_stops[unit_stops["kind"] == "hotspot"]
        summary_rows.append(
            [
                unit,
                _text(route.get("mode")),
                _km(route.get("distance_m")),
                _hours(route.get("duration_s")),
                str(len(hot)),
                _minutes(hot["dwell_min"].sum()) if len(hot) else "0",
                _clock(unit_stops["depart"].min()),
                _clock(unit_stops["arrive"].max()),
            ]
        )
    summary = _Section(
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
    fits = 12.0 + 6.0 * len(summary_rows) <= (height_mm - 2 * _MARGIN_MM) / 3
    first = [summary] if fits else []
    sections = [] if fits else [_replace(summary, new_page=True)]
    for unit in plan.unit_ids:
        route = plan.routes[plan.routes["unit_id"] == unit].iloc[0]
        rows = _timetable_rows(plan, unit)
        n_hot = sum(r[1] == "hotspot" for r in rows)
        figures = " · ".join(
            t
            for t in (
                _text(route.get("mode")),
                f"{_km(route.get('distance_m'))} km" if _km(route.get("distance_m")) else "",
                f"route time {_hours(route.get('duration_s'))}"
                if _hours(route.get("duration_s"))
                else "",
                f"{n_hot} hotspot stop(s)",
                plan.shift,
                plan.date,
            )
            if t
        )
        sections.append(
            _Section(
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
    meta = [m for m in (plan.shift, plan.date, f"Plan {plan.plan_id}") if m]
    if ws is not None:
        meta.append(f"Workspace {ws.name}")
    m = plan_map(plan, ws=ws, blind_zones=blind_zones, for_print=True)
    return _print_page(
        maps.render_html(m, inline_assets=True, layer_control=False),
        title=plan.title,
        meta=meta,
        footer=_footer(ws, plan.timezone),
        sections=sections,
        width_mm=width_mm,
        height_mm=height_mm,
        first_page=first,
    )


def briefing_pdf(
    plan: BriefingPlan,
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
    plan: BriefingPlan,
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


# -- grid and blind-zone maps -------------------------------------------------------------


def grids_page(ws: Workspace, *, paper: Paper = "A4", landscape: bool = False) -> str:
    """Printable grid responsibility map (网格): the map, then the responsibility table."""
    from gisapp.views.pages import grid_map, grid_workload

    m = grid_map(ws, assets_url="/static/vendor")
    _print_options(m, True)
    _NorthArrow().add_to(m)
    grids = ws.spatial_layer("grids")
    incidents = ws.spatial_layer("incidents") if ws.has_layer("incidents") else None
    counts = grid_workload(grids, incidents)
    columns = [
        c for c in ("id", "community_id", "officer", "team", "phone", "unit_id") if c in grids
    ]
    order = [c for c in ("team", "officer", "id") if c in grids]
    table = grids.assign(incidents=counts.to_numpy()).sort_values(order, kind="stable")
    rows = [[_text(v) for v in rec] for rec in table[[*columns, "incidents"]].to_numpy()]
    labels = {
        "id": "Grid (网格)",
        "community_id": "Community",
        "officer": "Officer",
        "team": "Team",
        "phone": "Phone",
        "unit_id": "Unit",
    }
    section = _Section(
        title="Grid responsibility (网格责任)",
        columns=[*(labels[c] for c in columns), "Incidents"],
        rows=rows,
        cell_classes=[""] * len(columns) + ["num"],
        row_classes=[""] * len(rows),
        figures=f"{len(rows):,} grids · incidents counted inside each grid",
    )
    width_mm, height_mm = _page_size(paper, landscape)
    return _print_page(
        maps.render_html(m, inline_assets=True, layer_control=False),
        title="Grid responsibility map (网格)",
        meta=[f"Workspace {ws.name}", f"{len(rows):,} grids"],
        footer=_footer(ws, ws.timezone),
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
    from gisapp.views.pages import attribution_for

    if not len(blind_zones):
        raise ExportError("there are no blind zones to map: everything is reached in time")
    zones = blind_zones.to_crs(4326)
    bounds = _padded_bounds(np.array([zones.total_bounds]), 0.04)
    m = maps.base_map(
        bounds, roads=_clipped_layer(ws, "roads", bounds), attribution=attribution_for(ws)
    )
    _print_options(m, for_print)
    legend = _add_blind_zones(m, zones, by_kind=True)
    if ws.has_layer("stations"):
        stations = ws.spatial_layer("stations")
        if len(stations):
            maps.add_points(
                m,
                stations,
                name="Stations",
                color=_STATION_COLOR,
                radius=6,
                tooltip_fields={"name": "Station"},
            )
            legend["Station"] = _STATION_COLOR
    maps.add_legend(m, "Blind zones (盲区)", legend)
    _NorthArrow().add_to(m)
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
    rows = [[_cell(v) for v in rec] for rec in blind_zones[columns].to_numpy()]
    labels = {
        "kind": "Kind",
        "id": "Id",
        "name": "Name",
        "risk": "Risk",
        "required_minutes": "Required (min)",
        "reached_minutes": "Reached (min)",
    }
    section = _Section(
        title="Blind zones (盲区)",
        columns=[labels[c] for c in columns],
        rows=rows,
        cell_classes=["num" if c not in ("kind", "id", "name") else "" for c in columns],
        row_classes=[""] * len(rows),
        figures=f"{len(rows):,} zone(s); reached = minutes until first reached (blank: never)",
    )
    width_mm, height_mm = _page_size(paper, landscape)
    return _print_page(
        maps.render_html(m, inline_assets=True, layer_control=False),
        title="Blind zones (盲区)",
        meta=[f"Workspace {ws.name}", f"{len(rows):,} zone(s)"],
        footer=_footer(ws, ws.timezone),
        sections=[section],
        width_mm=width_mm,
        height_mm=height_mm,
    )


# -- writing folders ----------------------------------------------------------------------


def parse_formats(text: str | Iterable[str], *, allowed: Sequence[str] = PLAN_FORMATS) -> list[str]:
    """Parse ``"pdf,png"`` (or a list) into known formats, in ``allowed`` order.

    Raises
    ------
    ExportError
        Naming the unknown formats and the accepted ones.
    """
    items = text.split(",") if isinstance(text, str) else list(text)
    wanted = {i.strip().lower() for i in items if i.strip()}
    unknown = sorted(wanted - set(allowed))
    if unknown or not wanted:
        raise ExportError(
            f"'formats' {sorted(wanted) or text!r} has unknown or no formats {unknown}; "
            f"choose from {', '.join(allowed)}"
        )
    return [f for f in allowed if f in wanted]


def export_plan(
    plan: BriefingPlan,
    out_dir: str | os.PathLike[str],
    *,
    formats: Iterable[str] = PLAN_FORMATS,
    ws: Workspace | None = None,
    blind_zones: gpd.GeoDataFrame | None = None,
    paper: Paper = "A4",
    landscape: bool = False,
    dpi: int = 300,
    chromium_path: str | os.PathLike[str] | None = None,
) -> list[Path]:
    """Write a plan's exports into ``out_dir`` (created when missing).

    Files: ``briefing.pdf``, ``briefing.png``, ``plan_map.html``, ``<unit>.gpx`` per unit,
    ``routes.geojson`` and ``stops.geojson``, ``plan.gpkg``, ``stops.csv`` and
    ``timetable_<unit>.csv`` per unit. Unit ids are sanitised into file names.

    Returns
    -------
    list of Path
        The files written.
    """
    chosen = parse_formats(list(formats))
    out = _out_dir(out_dir)
    written: list[Path] = []

    def put(name: str, data: str | bytes) -> None:
        written.append(_write(safe_path(out, name), data))

    if "pdf" in chosen:
        put(
            "briefing.pdf",
            briefing_pdf(
                plan,
                ws=ws,
                blind_zones=blind_zones,
                paper=paper,
                landscape=landscape,
                chromium_path=chromium_path,
            ),
        )
    if "png" in chosen:
        put(
            "briefing.png",
            briefing_png(
                plan,
                ws=ws,
                blind_zones=blind_zones,
                paper=paper,
                landscape=landscape,
                dpi=dpi,
                chromium_path=chromium_path,
            ),
        )
    if "html" in chosen:
        put("plan_map.html", plan_html(plan, ws=ws, blind_zones=blind_zones))
    units = plan.unit_ids
    if "gpx" in chosen:
        for unit, name in zip(units, unique_file_names(units, suffix=".gpx"), strict=True):
            put(name, gpx_bytes(plan, unit))
    if "geojson" in chosen:
        put("routes.geojson", routes_geojson(plan))
        put("stops.geojson", stops_geojson(plan))
    if "gpkg" in chosen:
        written.append(write_gpkg(plan, safe_path(out, "plan.gpkg")))
    if "csv" in chosen:
        put("stops.csv", stops_csv(plan))
        names = unique_file_names([f"timetable_{u}" for u in units], suffix=".csv")
        for unit, name in zip(units, names, strict=True):
            put(name, timetable_csv(plan, unit))
    logger.info("plan %s: %s file(s) written to %s", plan.plan_id, len(written), out)
    return written


def export_grids(
    ws: Workspace,
    out_dir: str | os.PathLike[str],
    *,
    formats: Iterable[str] = MAP_FORMATS,
    paper: Paper = "A4",
    landscape: bool = False,
    dpi: int = 300,
    chromium_path: str | os.PathLike[str] | None = None,
) -> list[Path]:
    """Write the grid responsibility map: ``grids.pdf``, ``grids.png``, ``grids_map.html``, ``grids.geojson``."""
    from gisapp.views.pages import grid_map, grid_workload, to_geojson

    chosen = parse_formats(list(formats), allowed=MAP_FORMATS)
    out = _out_dir(out_dir)
    written: list[Path] = []
    if "pdf" in chosen or "png" in chosen:
        page = grids_page(ws, paper=paper, landscape=landscape)
        written += _write_printed(
            page,
            out,
            "grids",
            chosen,
            paper=paper,
            landscape=landscape,
            dpi=dpi,
            chromium_path=chromium_path,
        )
    if "html" in chosen:
        html_text = maps.render_html(grid_map(ws), inline_assets=True)
        written.append(_write(safe_path(out, "grids_map.html"), html_text))
    if "geojson" in chosen:
        grids = ws.spatial_layer("grids")
        incidents = ws.spatial_layer("incidents") if ws.has_layer("incidents") else None
        grids = grids.assign(incidents=grid_workload(grids, incidents).to_numpy())
        written.append(_write(safe_path(out, "grids.geojson"), to_geojson(grids)))
    return written


def export_blind_zones(
    ws: Workspace,
    blind_zones: gpd.GeoDataFrame,
    out_dir: str | os.PathLike[str],
    *,
    formats: Iterable[str] = MAP_FORMATS,
    paper: Paper = "A4",
    landscape: bool = False,
    dpi: int = 300,
    chromium_path: str | os.PathLike[str] | None = None,
) -> list[Path]:
    """Write the blind-zone map: ``blind_zones.pdf``/``.png``, ``blind_zones_map.html``, ``blind_zones.geojson``."""
    chosen = parse_formats(list(formats), allowed=MAP_FORMATS)
    out = _out_dir(out_dir)
    written: list[Path] = []
    if "pdf" in chosen or "png" in chosen:
        page = blind_zones_page(ws, blind_zones, paper=paper, landscape=landscape)
        written += _write_printed(
            page,
            out,
            "blind_zones",
            chosen,
            paper=paper,
            landscape=landscape,
            dpi=dpi,
            chromium_path=chromium_path,
        )
    if "html" in chosen:
        html_text = maps.render_html(blind_zones_map(ws, blind_zones), inline_assets=True)
        written.append(_write(safe_path(out, "blind_zones_map.html"), html_text))
    if "geojson" in chosen:
        written.append(_write(safe_path(out, "blind_zones.geojson"), _geojson_text(blind_zones)))
    return written


def _write_printed(
    page: str,
    out: Path,
    stem: str,
    chosen: Sequence[str],
    *,
    paper: Paper,
    landscape: bool,
    dpi: int,
    chromium_path: str | os.PathLike[str] | None,
) -> list[Path]:
    """Print ``page`` as ``<stem>.pdf`` and/or ``<stem>.png`` into ``out``, as chosen."""
    written = []
    if "pdf" in chosen:
        pdf = print_pdf(page, paper=paper, landscape=landscape, chromium_path=chromium_path)
        written.append(_write(safe_path(out, f"{stem}.pdf"), pdf))
    if "png" in chosen:
        png = print_png(
            page, paper=paper, landscape=landscape, dpi=dpi, chromium_path=chromium_path
        )
        written.append(_write(safe_path(out, f"{stem}.png"), png))
    return written


# -- printing with Chromium ------------------------------------------------------------------

_WAIT_DRAWN_JS = """() => new Promise((resolve) => {
  if (typeof L === 'undefined') { resolve(-1); return; }
  // folium names its map variable map_<hex>; reading every window property would touch
  // storage, which a page set from memory may not read.
  const key = Object.keys(window).find(k => k.startsWith('map_') && window[k] instanceof L.Map);
  if (!key) { resolve(-1); return; }
  const map = window[key];
  // The print layout may have resized the map after Leaflet measured it: without this
  // the canvas layers stay drawn for the old size and leave bands of the map blank.
  map.whenReady(() => { map.invalidateSize(false); map.fire('moveend'); });
  map.whenReady(() => requestAnimationFrame(() => requestAnimationFrame(() => {
    let drawn = 0;
    map.eachLayer(l => { if (l._parts && l._parts.length) drawn += 1; });
    resolve(drawn);
  })));
})"""


def print_pdf(
    page_html: str,
    *,
    paper: Paper = "A4",
    landscape: bool = False,
    chromium_path: str | os.PathLike[str] | None = None,
) -> bytes:
    """Print a page from :func:`briefing_page` (or similar) to PDF in headless Chromium.

    Raises
    ------
    ExportError
        If Chromium or Playwright is missing, or the map did not draw.
    """
    _page_size(paper, landscape)

    def run(page: Any) -> bytes:
        margin = f"{_MARGIN_MM:g}mm"
        pdf: bytes = page.pdf(
            format=paper,
            landscape=landscape,
            print_background=True,
            margin={"top": margin, "bottom": margin, "left": margin, "right": margin},
        )
        return pdf

    return _in_chromium(
        page_html,
        paper=paper,
        landscape=landscape,
        scale=2.0,
        action=run,
        chromium_path=chromium_path,
    )


def print_png(
    page_html: str,
    *,
    paper: Paper = "A4",
    landscape: bool = False,
    dpi: int = 300,
    chromium_path: str | os.PathLike[str] | None = None,
) -> bytes:
    """Screenshot the first sheet (``.sheet``: title, map, footer) at ``dpi`` as PNG bytes.

    Raises
    ------
    ExportError
        If ``dpi`` is out of 72-600, Chromium or Playwright is missing, or the map did not draw.
    """
    if not 72 <= dpi <= 600:
        raise ExportError(f"'dpi' should be between 72 and 600, got {dpi!r}; 300 is print quality")

    def run(page: Any) -> bytes:
        png: bytes = page.locator(".sheet").first.screenshot(type="png")
        return png

    return _in_chromium(
        page_html,
        paper=paper,
        landscape=landscape,
        scale=dpi / 96,
        action=run,
        chromium_path=chromium_path,
    )


def chromium_executable(path: str | os.PathLike[str] | None = None) -> Path:
    """The Chromium binary to print with.

    Raises
    ------
    ExportError
        If it is not installed.
    """
    exe = Path(path) if path is not None else CHROMIUM_PATH
    if not exe.is_file():
        raise ExportError(
            f"Chromium is not at {str(exe)!r}; install the 'chromium' system package "
            "(PDF and PNG exports print through it) or choose html/gpx/geojson/gpkg/csv"
        )
    return exe


def _in_chromium(
    page_html: str,
    *,
    paper: Paper,
    landscape: bool,
    scale: float,
    action: Callable[[Any], bytes],
    chromium_path: str | os.PathLike[str] | None,
) -> bytes:
    exe = chromium_executable(chromium_path)
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise ExportError(
            "PDF and PNG exports need the 'playwright' package: pip install playwright"
        ) from None
    width_mm, height_mm = _page_size(paper, landscape)
    # The viewport is the printable page, so Leaflet draws the whole map at the size it
    # prints: its canvas renders only what lies in the viewport when the map loads.
    viewport: Any = {
        "width": round((width_mm - 2 * _MARGIN_MM) * _PX_PER_MM),
        "height": round((height_mm - 2 * _MARGIN_MM) * _PX_PER_MM),
    }
    refused: list[str] = []
    errors: list[str] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(exe), args=list(CHROMIUM_ARGS))
            try:
                context = browser.new_context(
                    viewport=viewport, device_scale_factor=scale, offline=True
                )

                def refuse(route: Any) -> None:
                    refused.append(route.request.url)
                    route.abort()

                # The page is self-contained: anything it asks for is refused and reported.
                context.route("**/*", refuse)
                page = context.new_page()
                page.on(
                    "console", lambda msg: errors.append(msg.text) if msg.type == "error" else None
                )
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                page.emulate_media(media="print")
                page.set_content(page_html, wait_until="load")
                drawn = page.evaluate(_WAIT_DRAWN_JS)
                if drawn < 0:
                    raise ExportError(
                        f"the map did not draw before printing ({'; '.join(errors) or 'no Leaflet map on the page'})"
                    )
                result = action(page)
            finally:
                browser.close()
    except PlaywrightError as exc:
        raise ExportError(f"Chromium failed to print the page: {exc}") from None
    if refused:
        logger.warning(
            "the printed page asked for %s resource(s), refused: %s", len(refused), refused[:5]
        )
    if errors:
        logger.warning("the printed page logged errors: %s", errors[:5])
    return result


# -- helpers ----------------------------------------------------------------------------------


def _replace(section: _Section, **changes: Any) -> _Section:
    return dataclasses.replace(section, **changes)


def _print_page(
    map_html: str,
    *,
    title: str,
    meta: Sequence[str],
    footer: str,
    sections: Sequence[_Section],
    width_mm: float,
    height_mm: float,
    first_page: Sequence[_Section] = (),
) -> str:
    """Wrap an inlined folium page into a printable sheet: header, map, footer, tables."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_BRIEFING_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    parts: Any = env.get_template("briefing.html.j2").module
    css = env.from_string((_BRIEFING_DIR / "briefing.css").read_text(encoding="utf-8")).render(
        content_w_mm=f"{width_mm - 2 * _MARGIN_MM:g}",
        # a hair under the printable height, so rounding never spills onto a blank page
        content_h_mm=f"{height_mm - 2 * _MARGIN_MM - 1.5:g}",
    )

    def safe(items: Sequence[_Section]) -> list[_Section]:
        return [_replace(s, color=_css_color(s.color) if s.color else "") for s in items]

    map_div = re.findall(r'<div class="folium-map" id="[^"]+"\s*></div>', map_html)
    if len(map_html.split("</head>")) != 2 or len(map_div) != 1 or map_html.count("</body>") != 1:
        raise ExportError("the map page has an unexpected layout; it cannot be printed")
    page = map_html.replace("</head>", f"<style>{css}</style>\n</head>", 1)
    sheet = (
        str(parts.sheet_open(title, list(meta)))
        + map_div[0]
        + str(parts.sheet_close(footer, safe(first_page)))
    )
    page = page.replace(map_div[0], sheet, 1)
    return page.replace("</body>", str(parts.sections(safe(sections))) + "\n</body>", 1)


class _NorthArrow(MacroElement):
    """A north arrow in the top-right corner (web maps here are always north-up)."""

    _template = Template(
        """{% macro script(this, kwargs) %}
        (function () {
          var arrow = L.control({position: 'topright'});
          arrow.onAdd = function () {
            var div = L.DomUtil.create('div', 'gisapp-north');
            div.title = 'North';
            div.innerHTML = '<svg width="26" height="38" viewBox="0 0 26 38" role="img" '
              + 'aria-label="North"><text x="13" y="11" text-anchor="middle" '
              + 'font-family="sans-serif" font-weight="bold" font-size="11">N</text>'
              + '<polygon points="13,13 22,36 13,30" fill="#fff" stroke="#111" stroke-width="1.2"/>'
              + '<polygon points="13,13 4,36 13,30" fill="#111" stroke="#111" stroke-width="1.2"/>'
              + '</svg>';
            return div;
          };
          arrow.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}"""
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "NorthArrow"


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
                    "color": _STATION_COLOR,
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
                    f"Unit {unit} #{r.seq}: {r.name or r.kind}, {_clock(r.arrive)}–{_clock(r.depart)}"
                )
                for r in group.itertuples(index=False)
            )
            data.append(
                {
                    "lat": float(group["lat"].iloc[0]),
                    "lon": float(group["lon"].iloc[0]),
                    "label": html.escape(label),
                    "tip": tip,
                    "color": _css_color(colors.get(str(unit), "#555")),
                    "station": False,
                    "offset": 18 * k,
                }
            )
        self.data = data


def _add_blind_zones(
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
        color = _BLIND_COLOR if kind is None else kind_colors.get(kind, _BLIND_COLOR)
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


def _print_options(m: folium.Map, for_print: bool) -> None:
    if for_print:
        # Whole zoom levels waste up to half the printed map; quarter steps fill it.
        m.options["zoomSnap"] = 0.25
        m.options["zoomControl"] = False
        # No animations: the page is printed as soon as the map has drawn, and a zoom
        # still animating leaves the layers drawn for the previous view.
        m.options["zoomAnimation"] = False
        m.options["fadeAnimation"] = False
        m.options["markerZoomAnimation"] = False


def _clipped_layer(ws: Workspace, name: str, bounds: Sequence[float]) -> gpd.GeoDataFrame | None:
    if not ws.has_layer(name):
        return None
    layer = ws.layer(name)
    if not isinstance(layer, gpd.GeoDataFrame) or not len(layer):
        return None
    minx, miny, maxx, maxy = bounds
    pad = max(maxx - minx, maxy - miny) * 0.3
    return layer.to_crs(4326).cx[minx - pad : maxx + pad, miny - pad : maxy + pad]


def _padded_bounds(boxes: np.ndarray, share: float) -> list[float]:
    minx, miny = np.nanmin(boxes[:, 0]), np.nanmin(boxes[:, 1])
    maxx, maxy = np.nanmax(boxes[:, 2]), np.nanmax(boxes[:, 3])
    pad = max(maxx - minx, maxy - miny, 0.002) * share
    return [float(minx - pad), float(miny - pad), float(maxx + pad), float(maxy + pad)]


def _page_size(paper: str, landscape: bool) -> tuple[float, float]:
    if paper not in PAPER_SIZES_MM:
        raise ExportError(f"'paper' should be one of {', '.join(PAPER_SIZES_MM)}, got {paper!r}")
    w, h = PAPER_SIZES_MM[paper]
    return (h, w) if landscape else (w, h)


def _footer(ws: Workspace | None, timezone: str) -> str:
    parts = [f"Times in {timezone}."]
    if ws is not None:
        from gisapp.views.pages import attribution_for

        notice = attribution_for(ws)
        if notice:
            parts.append(f"Map data {notice} (ODbL).")
        road_note = ws.layer_notes.get("roads")
        if road_note and not notice:
            parts.append(f"Streets: {road_note}.")
    return " ".join(parts)


def _stops_gdf(plan: BriefingPlan) -> gpd.GeoDataFrame:
    table = plan.stops.copy()
    for column in ("arrive", "depart"):
        table[column] = table[column].map(_iso)
    geometry = gpd.points_from_xy(table["lon"], table["lat"], crs=4326)
    return gpd.GeoDataFrame(table, geometry=geometry, crs=4326)


def _geojson_text(frame: gpd.GeoDataFrame) -> str:
    from gisapp.views.pages import to_geojson

    return to_geojson(frame)


def _timetable_rows(plan: BriefingPlan, unit_id: str) -> list[list[str]]:
    """Station and hotspot rows, numbered like the map's markers; the turns in between
    (waypoint rows of ``stops.csv``) become the next row's "via" streets."""
    rows: list[list[str]] = []
    via: list[str] = []
    n_hotspots = 0
    for r in plan.unit_stops(unit_id).itertuples(index=False):
        kind = str(r.kind)
        if kind == "waypoint":
            street = _text(r.street)
            if street and (not via or via[-1] != street):
                via.append(street)
            continue
        if kind == "hotspot":
            n_hotspots += 1
        rows.append(
            [
                {"hotspot": str(n_hotspots), "station": "S"}.get(kind, ""),
                kind,
                _text(r.name),
                _text(r.street),
                _clock(r.arrive),
                _minutes(r.dwell_min),
                _clock(r.depart),
                ", ".join(via),
            ]
        )
        via = []
    return rows


def _check_unit(plan: BriefingPlan, unit_id: str) -> str:
    unit = str(unit_id)
    if unit not in plan.unit_ids:
        raise ExportError(
            f"'unit_id' {unit!r} is not in plan {plan.plan_id!r}; its units are "
            f"{', '.join(plan.unit_ids)}"
        )
    return unit


def _stop_description(row: Any) -> str:
    parts = []
    if not pd.isna(row.arrive):
        parts.append(f"arrive {_clock(row.arrive)}")
    if not pd.isna(row.dwell_min) and row.dwell_min:
        parts.append(f"dwell {_minutes(row.dwell_min)} min")
    if not pd.isna(row.depart):
        parts.append(f"depart {_clock(row.depart)}")
    if row.street:
        parts.append(row.street)
    return ", ".join(parts)


def _line_parts(geom: Any) -> list[Any]:
    if geom is None or shapely.is_empty(geom):
        return []
    return [p for p in shapely.get_parts(geom) if p.geom_type == "LineString" and not p.is_empty]


def _gpx_tag(name: str) -> str:
    return f"{{{GPX_NS}}}{name}"


def _gpx_time(value: pd.Timestamp) -> str:
    return pd.Timestamp(value).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def _coord(value: float) -> str:
    return f"{float(value):.7f}"


def _times(values: pd.Series, timezone: str) -> pd.Series:
    """ISO 8601 text or timestamps to aware timestamps in ``timezone`` (naive = local)."""
    present = values.map(lambda v: not _is_missing(v) and str(v).strip() != "")
    out = pd.Series(pd.NaT, index=values.index, dtype=f"datetime64[ns, {timezone}]")
    if not present.any():
        return out
    stamps = [pd.Timestamp(v) for v in values[present]]
    aware = [
        (t.tz_localize(timezone) if t.tzinfo is None else t).tz_convert(timezone) for t in stamps
    ]
    out[present] = pd.Series(aware, index=values.index[present]).astype(out.dtype)
    return out


def _iso(value: Any) -> str:
    return "" if _is_missing(value) else pd.Timestamp(value).isoformat()


def _clock(value: Any) -> str:
    return "" if _is_missing(value) else pd.Timestamp(value).strftime("%H:%M")


def _date_text(value: Any) -> str:
    return "" if _is_missing(value) else pd.Timestamp(value).strftime("%Y-%m-%d")


def _shift_text(kpi_shift: Any, start: Any, end: Any) -> str:
    if isinstance(kpi_shift, str) and kpi_shift.strip():
        return kpi_shift.strip()
    if isinstance(kpi_shift, Mapping):
        name = _text(kpi_shift.get("name"))
        window = "–".join(_text(kpi_shift.get(k)) for k in ("start", "end") if kpi_shift.get(k))
        text = " ".join(t for t in (name, window) if t)
        if text:
            return f"Shift {text}"
    if start is None:
        return ""
    return f"Shift {_clock(start)}–{_clock(end)}"


def _km(value: Any) -> str:
    return "" if _is_missing(value) else f"{float(value) / 1000:.1f}"


def _hours(value: Any) -> str:
    if _is_missing(value):
        return ""
    minutes = round(float(value) / 60)
    return f"{minutes // 60}:{minutes % 60:02d}"


def _minutes(value: Any) -> str:
    return "" if _is_missing(value) else f"{float(value):g}"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "" if not math.isfinite(value) else f"{value:,.2f}".rstrip("0").rstrip(".")
    return _text(value)


def _css_color(value: str) -> str:
    """``value`` if it is a plain CSS colour token, else grey (it lands in a style)."""
    return value if re.fullmatch(r"#[0-9A-Fa-f]{3,8}|[a-zA-Z]{3,20}", value) else "#999"


def _text(value: Any) -> str:
    return "" if _is_missing(value) else str(value)


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _out_dir(out_dir: str | os.PathLike[str]) -> Path:
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ExportError(f"'out' {str(out)!r} is a file; give a folder for the exports")
    out.mkdir(parents=True, exist_ok=True)
    return out.resolve()


def _write(path: Path, data: str | bytes) -> Path:
    blob = data.encode("utf-8") if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(blob)
    os.replace(tmp, path)
    return path
