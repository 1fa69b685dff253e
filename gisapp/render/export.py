"""Briefing exports: the plan, grid and blind-zone packs written into a folder.

One job for the CLI (``gisapp export``) and the web downloads: it draws with
:mod:`gisapp.render` and writes with :mod:`gisapp.outputs`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import geopandas as gpd

from gisapp.errors import ExportError
from gisapp.outputs.coords import Coords, coords_label, coords_suffix, in_coords, plan_in_coords
from gisapp.outputs.files import (
    output_dir,
    safe_path,
    unique_file_names,
    write_file,
)
from gisapp.outputs.geojson import to_geojson
from gisapp.outputs.gpx import gpx_bytes
from gisapp.outputs.plan import (
    routes_geojson,
    stops_csv,
    stops_geojson,
    unit_file_names,
    write_gpkg,
)
from gisapp.plans import Plan
from gisapp.render import maps
from gisapp.render.area_maps import blind_zones_map, blind_zones_page, grids_page
from gisapp.render.briefing import briefing_pages, plan_html, timetable_csv
from gisapp.render.printing import Paper, Printout, PrintSession, print_session
from gisapp.store.geopackage import Workspace
from layers.i18n import _

logger = logging.getLogger(__name__)


#: Formats of a plan export, in the order they are written.
PLAN_FORMATS: tuple[str, ...] = ("pdf", "png", "html", "gpx", "geojson", "gpkg", "csv")


#: Formats of the grid and blind-zone map exports.
MAP_FORMATS: tuple[str, ...] = ("pdf", "png", "html", "geojson")


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
            _(
                "'formats' %(formats)r has unknown or no formats %(unknown)s; "
                "choose from %(choices)s",
                formats=sorted(wanted) or text,
                unknown=unknown,
                choices=", ".join(allowed),
            )
        )
    return [f for f in allowed if f in wanted]


def export_plan(
    plan: Plan,
    out_dir: str | os.PathLike[str],
    *,
    formats: Iterable[str] = PLAN_FORMATS,
    ws: Workspace | None = None,
    blind_zones: gpd.GeoDataFrame | None = None,
    paper: Paper = "A4",
    landscape: bool = False,
    dpi: int = 300,
    chromium_path: str | os.PathLike[str] | None = None,
    coords: Coords = "wgs84",
) -> list[Path]:
    """Write a plan's exports into ``out_dir`` (created when missing).

    Files: ``briefing.pdf``, ``briefing.png``, ``plan_map.html``, ``<unit>.gpx`` per unit,
    ``routes.geojson`` and ``stops.geojson``, ``plan.gpkg``, ``stops.csv`` and
    ``timetable_<unit>.csv`` per unit. Unit ids are sanitised into file names. With
    ``coords`` ``gcj02`` or ``bd09`` the GPX, GeoJSON and stops CSV are written in that
    system and named for it (``car-1.gcj02.gpx``, see :mod:`gisapp.outputs.coords`).

    Returns
    -------
    list of Path
        The files written.
    """
    chosen = parse_formats(list(formats))
    out = output_dir(out_dir)
    # the smaller first sheet goes to Chromium first, which prints it while the unit
    # maps of the whole pack are drawn
    kinds: list[Literal["pdf", "png"]] = [k for k in ("png", "pdf") if k in chosen]
    with _printer(kinds, paper=paper, landscape=landscape, chromium_path=chromium_path) as printer:
        printing: dict[str, Future[bytes]] = {}
        if printer is not None:
            pages = briefing_pages(  # both drawn on one overview map
                plan,
                ws=ws,
                blind_zones=blind_zones,
                paper=paper,
                landscape=landscape,
                first_sheet="png" in kinds,
                whole_pack="pdf" in kinds,
            )
            for kind in kinds:
                printing[f"briefing.{kind}"] = printer.submit(Printout(next(pages), kind, dpi))
        # the other files are written while Chromium prints
        others = _write_plan_files(plan, out, chosen, ws=ws, blind_zones=blind_zones, coords=coords)
        written = _write_printed(printing, out) + others
    logger.info("plan %s: %s file(s) written to %s", plan.plan_id, len(written), out)
    return written


def _write_plan_files(
    plan: Plan,
    out: Path,
    chosen: Sequence[str],
    *,
    ws: Workspace | None,
    blind_zones: gpd.GeoDataFrame | None,
    coords: Coords,
) -> list[Path]:
    """Write the plan's files other than the printed ones, as chosen."""
    written: list[Path] = []

    def put(name: str, data: str | bytes) -> None:
        written.append(write_file(safe_path(out, name), data))

    if "html" in chosen:
        put("plan_map.html", plan_html(plan, ws=ws, blind_zones=blind_zones))
    units = plan.unit_ids
    moved, suffix = plan_in_coords(plan, coords), coords_suffix(coords)
    label = None if coords == "wgs84" else coords_label(coords)
    if "gpx" in chosen:
        for unit, name in unit_file_names(plan, f"{suffix}.gpx").items():
            put(name, gpx_bytes(moved, unit, coordinates=label))
    if "geojson" in chosen:
        put(f"routes{suffix}.geojson", routes_geojson(moved, coordinate_system=label))
        put(f"stops{suffix}.geojson", stops_geojson(moved, coordinate_system=label))
    if "gpkg" in chosen:
        written.append(write_gpkg(plan, safe_path(out, "plan.gpkg")))
    if "csv" in chosen:
        put(f"stops{suffix}.csv", stops_csv(moved))
        names = unique_file_names([f"timetable_{u}" for u in units], suffix=".csv")
        for unit, name in zip(units, names, strict=True):
            put(name, timetable_csv(plan, unit))
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
    coords: Coords = "wgs84",
) -> list[Path]:
    """Write the grid responsibility map: ``grids.pdf``, ``grids.png``, ``grids_map.html``,
    ``grids.geojson`` (``grids.gcj02.geojson`` in ``coords`` other than WGS84)."""
    from gisapp.render.layer_maps import grid_workload, workspace_grid_map

    chosen = parse_formats(list(formats), allowed=MAP_FORMATS)
    out = output_dir(out_dir)
    written: list[Path] = []
    kinds: list[Literal["pdf", "png"]] = [k for k in ("pdf", "png") if k in chosen]
    with _printer(kinds, paper=paper, landscape=landscape, chromium_path=chromium_path) as printer:
        printing: dict[str, Future[bytes]] = {}
        if printer is not None:
            page = grids_page(ws, paper=paper, landscape=landscape)
            printing = {f"grids.{k}": printer.submit(Printout(page, k, dpi)) for k in kinds}
        if "html" in chosen:
            html_text = maps.render_html(
                workspace_grid_map(ws),
                inline_assets=True,
                title=_("Grids of %(workspace)s", workspace=ws.label),
            )
            written.append(write_file(safe_path(out, "grids_map.html"), html_text))
        if "geojson" in chosen:
            grids = ws.spatial_layer("grids")
            incidents = ws.spatial_layer("incidents") if ws.has_layer("incidents") else None
            grids = grids.assign(incidents=grid_workload(grids, incidents).to_numpy())
            written.append(_write_geojson(grids, out, "grids", coords))
        return _write_printed(printing, out) + written


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
    coords: Coords = "wgs84",
) -> list[Path]:
    """Write the blind-zone map: ``blind_zones.pdf``/``.png``, ``blind_zones_map.html``,
    ``blind_zones.geojson`` (``blind_zones.gcj02.geojson`` in ``coords`` other than WGS84)."""
    chosen = parse_formats(list(formats), allowed=MAP_FORMATS)
    out = output_dir(out_dir)
    written: list[Path] = []
    kinds: list[Literal["pdf", "png"]] = [k for k in ("pdf", "png") if k in chosen]
    with _printer(kinds, paper=paper, landscape=landscape, chromium_path=chromium_path) as printer:
        printing: dict[str, Future[bytes]] = {}
        if printer is not None:
            page = blind_zones_page(ws, blind_zones, paper=paper, landscape=landscape)
            printing = {f"blind_zones.{k}": printer.submit(Printout(page, k, dpi)) for k in kinds}
        if "html" in chosen:
            html_text = maps.render_html(
                blind_zones_map(ws, blind_zones),
                inline_assets=True,
                title=_("Blind zones of %(workspace)s", workspace=ws.label),
            )
            written.append(write_file(safe_path(out, "blind_zones_map.html"), html_text))
        if "geojson" in chosen:
            written.append(_write_geojson(blind_zones, out, "blind_zones", coords))
        return _write_printed(printing, out) + written


def _write_geojson(frame: gpd.GeoDataFrame, out: Path, stem: str, coords: Coords) -> Path:
    """Write ``frame`` as ``<stem>.geojson`` in WGS84, or ``<stem>.<coords>.geojson``."""
    label = None if coords == "wgs84" else coords_label(coords)
    text = to_geojson(in_coords(frame, coords), coordinate_system=label)
    return write_file(safe_path(out, f"{stem}{coords_suffix(coords)}.geojson"), text)


@contextmanager
def _printer(
    kinds: Sequence[str],
    *,
    paper: Paper,
    landscape: bool,
    chromium_path: str | os.PathLike[str] | None,
) -> Iterator[PrintSession | None]:
    """A print session, Chromium starting at once, when ``kinds`` asks for printing."""
    if not kinds:
        yield None
        return
    with print_session(paper=paper, landscape=landscape, chromium_path=chromium_path) as printer:
        yield printer


def _write_printed(printing: Mapping[str, Future[bytes]], out: Path) -> list[Path]:
    """Write each printed file of ``printing`` (file name: its bytes to come) into ``out``,
    PDF before PNG."""
    names = sorted(printing, key=lambda name: name.endswith(".png"))
    return [write_file(safe_path(out, name), printing[name].result()) for name in names]
