"""Export command: ``gisapp export WS --what plan|grids|coverage --format ... --out DIR``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import click

from gisapp.cli._common import lang_option
from gisapp.render import export as exports
from gisapp.render.printing import PAPER_SIZES_MM
from layers.i18n import _

if TYPE_CHECKING:
    import geopandas as gpd

    from gisapp.plans import Plan
    from gisapp.store.geopackage import Workspace

logger = logging.getLogger(__name__)


@click.command("export")
@click.argument("workspace")
@click.option(
    "--what",
    type=click.Choice(["plan", "grids", "coverage"]),
    default="plan",
    show_default=True,
    help="Shift plan briefing, grid responsibility map (网格) or blind-zone map (盲区).",
)
@click.option(
    "--plan",
    "plan_ref",
    default=None,
    metavar="ID",
    help="Id of a plan saved in the workspace (default: the latest saved plan); "
    "a folder written by 'gisapp plan --out' is accepted too.",
)
@click.option(
    "--plan-dir",
    "plan_dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Plan folder written by 'gisapp plan --out' (routes.geojson, stops.csv, kpis.json) "
    "instead of a saved plan.",
)
@click.option(
    "--format",
    "formats",
    default=None,
    metavar="LIST",
    help=(
        f"Comma-separated formats; plan: {','.join(exports.PLAN_FORMATS)} (default all); "
        f"grids/coverage: {','.join(exports.MAP_FORMATS)} (default all)."
    ),
)
@click.option("--paper", type=click.Choice(sorted(PAPER_SIZES_MM)), default="A4", show_default=True)
@click.option("--landscape", is_flag=True, help="Landscape pages (portrait by default).")
@click.option(
    "--dpi",
    type=click.IntRange(72, 600),
    default=300,
    show_default=True,
    help="Resolution of the PNG.",
)
@click.option(
    "--blind-zones",
    "blind_zones_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="blind_zones.geojson from 'gisapp coverage': drawn on the plan map, or mapped "
    "with --what coverage (computed from the workspace when not given).",
)
@click.option(
    "--coords",
    type=click.Choice(["wgs84", "gcj02", "bd09"]),
    default="wgs84",
    show_default=True,
    help="Coordinates of the GPX, GeoJSON and CSV files: gcj02 for Amap and Tencent maps, "
    "bd09 for Baidu; the file names say which (routes.gcj02.geojson). Maps stay WGS84.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for the files (created when missing).",
)
@lang_option
def export(
    workspace: str,
    what: str,
    plan_ref: str | None,
    plan_dir: Path | None,
    formats: str | None,
    paper: str,
    landscape: bool,
    dpi: int,
    blind_zones_file: Path | None,
    coords: str,
    out: Path,
) -> None:
    """Export briefing files of WORKSPACE: PDF/PNG briefing, offline HTML map, GPX, GeoJSON,
    GeoPackage and CSV timetables of a plan, or the grid and blind-zone maps.

    Unit ids become file names only after sanitising: nothing is written outside --out.
    """
    from gisapp.outputs.coords import check_coords
    from gisapp.render.area_maps import read_blind_zones
    from gisapp.render.printing import Paper
    from gisapp.store import open_workspace

    ws = open_workspace(workspace)
    paper_size: Paper = "A3" if paper == "A3" else "A4"
    blind = read_blind_zones(blind_zones_file) if blind_zones_file else None
    system = check_coords(coords)
    if what == "plan":
        plan = _chosen_plan(ws, plan_ref, plan_dir)
        chosen = exports.parse_formats(formats or ",".join(exports.PLAN_FORMATS))
        written = exports.export_plan(
            plan,
            out,
            formats=chosen,
            ws=ws,
            blind_zones=blind,
            paper=paper_size,
            landscape=landscape,
            dpi=dpi,
            coords=system,
        )
    else:
        chosen = exports.parse_formats(
            formats or ",".join(exports.MAP_FORMATS), allowed=exports.MAP_FORMATS
        )
        if what == "grids":
            written = exports.export_grids(
                ws,
                out,
                formats=chosen,
                paper=paper_size,
                landscape=landscape,
                dpi=dpi,
                coords=system,
            )
        else:
            zones = blind if blind is not None else _computed_blind_zones(ws)
            written = exports.export_blind_zones(
                ws,
                zones,
                out,
                formats=chosen,
                paper=paper_size,
                landscape=landscape,
                dpi=dpi,
                coords=system,
            )
    for path in written:
        click.echo(str(path))


def _chosen_plan(ws: Workspace, plan_ref: str | None, plan_dir: Path | None) -> Plan:
    """The plan to export: a plan folder, a saved plan by id, or the latest saved plan."""
    from gisapp.outputs.plan import read_plan_dir
    from gisapp.store.plans import load_plan

    if plan_ref is not None and plan_dir is not None:
        raise click.UsageError(_("give --plan ID or --plan-dir DIR, not both"))
    # A folder given to --plan (as earlier versions took) still works.
    if plan_ref is not None and Path(plan_ref).is_dir():
        plan_dir, plan_ref = Path(plan_ref), None
    if plan_dir is not None:
        return read_plan_dir(plan_dir, timezone=ws.timezone)
    saved = load_plan(ws, plan_ref)
    click.echo(_("exporting plan %(plan)s", plan=saved.plan_id), err=True)
    return saved


def _computed_blind_zones(ws: Workspace) -> gpd.GeoDataFrame:
    from gisapp.services.coverage import compute_coverage

    click.echo(
        _("computing coverage and blind zones (pass --blind-zones to reuse a run)"), err=True
    )
    return compute_coverage(ws).blind_zones
