"""Incident analytics commands: ``hotspots``, ``bulletin`` and ``areas``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click
import geopandas as gpd

from gisapp.cli._common import echo_problems, open_workspace, settings_from, write_json
from gisapp.errors import WorkspaceError
from gisapp.services.analytics import (
    area_trend,
    bulletin_map_html,
    counts_by_shift,
    load_incidents,
    monthly_bulletin,
    shift_hotspots,
    study_area,
)
from routing.hotspots import DEFAULT_CELL_SIZE_M, METHODS

logger = logging.getLogger(__name__)


@click.command("hotspots")
@click.argument("workspace")
@click.option(
    "--shift",
    "shifts",
    multiple=True,
    help="Named shift (day, evening, night, late) or a window like 22:00-06:00; "
    "repeat for several. Default: every configured shift.",
)
@click.option(
    "--method",
    type=click.Choice(METHODS),
    default="kde",
    show_default=True,
    help="kde (quartic kernel density), gistar (Getis-Ord Gi*), counts (last "
    "period's counts) or streets (hot street segments).",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for hotspots_<shift>_<method>.geojson and kpis.json.",
)
@click.option(
    "--area-share",
    default=0.05,
    show_default=True,
    type=click.FloatRange(0, 1, min_open=True),
    help="Share of the area (of street length for streets) flagged as hotspots.",
)
@click.option(
    "--cell-size-m",
    default=DEFAULT_CELL_SIZE_M,
    show_default=True,
    type=click.FloatRange(1),
    help="Grid cell side in metres.",
)
@click.option(
    "--bandwidth-m",
    type=click.FloatRange(1),
    default=None,
    help="KDE radius in metres (default: rule of thumb from the incidents).",
)
@click.option(
    "--group", "groups", multiple=True, help="Category group to keep; repeat for several."
)
@click.option("--weekdays", help="Shift start days, e.g. 'sat,sun' or '0,1,2,3,4'.")
@click.option("--preventable", is_flag=True, help="Only preventable incidents (可防性案件).")
@click.option(
    "--categories",
    type=click.Path(dir_okay=False, exists=True),
    help="Category table CSV (default: the bundled table when the layer lacks groups).",
)
@click.pass_context
def hotspots(
    ctx: click.Context,
    workspace: str,
    shifts: tuple[str, ...],
    method: str,
    out: Path,
    area_share: float,
    cell_size_m: float,
    bandwidth_m: float | None,
    groups: tuple[str, ...],
    weekdays: str | None,
    preventable: bool,
    categories: str | None,
) -> None:
    """Map incident hotspots of WORKSPACE per shift and score them with the PAI.

    The hotspot layer uses every incident of the shift; kpis.json gives the PAI and hit
    rate of the same method built on weeks 1-2 and tested on weeks 3-4 of the data.
    """
    settings = settings_from(ctx)
    ws = open_workspace(workspace)
    incidents, problems = load_incidents(ws, category_table=categories)
    echo_problems(problems)
    area = study_area(ws)
    network = None
    if method == "streets":
        if not ws.has_layer("roads"):
            raise WorkspaceError(f"method 'streets' needs a 'roads' layer in {ws.path.name!r}")
        from routing.network import network_from_lines

        roads = ws.layer("roads")
        assert isinstance(roads, gpd.GeoDataFrame)
        network = network_from_lines(roads)
    days = [d.strip() for d in weekdays.split(",")] if weekdays else None
    names = shifts or tuple(settings.shifts)
    out.mkdir(parents=True, exist_ok=True)
    kpis: dict[str, Any] = {
        "workspace": ws.name,
        "timezone": ws.timezone,
        "method": method,
        "problems": [p.to_dict() for p in problems],
        "shifts": {},
    }
    for name in names:
        shift = settings.shift(name)
        layer, figures = shift_hotspots(
            incidents,
            shift=shift,
            method=method,
            area=area,
            network=network,
            area_share=area_share,
            cell_size_m=cell_size_m,
            bandwidth_m=bandwidth_m,
            weekdays=[int(d) if d.isdigit() else d for d in days] if days else None,
            groups=groups or None,
            preventable_only=preventable,
        )
        path = out / f"hotspots_{_slug(shift.name)}_{method}.geojson"
        layer.to_file(path, driver="GeoJSON")
        figures["file"] = path.name
        kpis["shifts"][shift.name] = figures
        pai = figures.get("pai")
        click.echo(
            f"{shift.name} ({shift.label()}): {figures['incidents']:,} incidents, "
            f"{len(layer):,} hotspot {'segments' if method == 'streets' else 'cells'}, "
            f"PAI {pai if pai is not None else 'n/a'} -> {path}"
        )
    write_json(kpis, out / "kpis.json")
    click.echo(f"Wrote {out / 'kpis.json'}")


@click.command("bulletin")
@click.argument("workspace")
@click.option("--month", required=True, help="Month as YYYY-MM, e.g. 2014-09.")
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for bulletin_<month>.csv/.geojson/.html and kpis.json.",
)
@click.option(
    "--top",
    "top_n",
    default=3,
    show_default=True,
    type=click.IntRange(1),
    help="Hotspot cells listed per community.",
)
@click.option(
    "--categories",
    type=click.Path(dir_okay=False, exists=True),
    help="Category table CSV (default: the bundled table when the layer lacks groups).",
)
def bulletin(workspace: str, month: str, out: Path, top_n: int, categories: str | None) -> None:
    """Write the monthly community bulletin (社区治安状况月报) of WORKSPACE.

    One row per community: incidents by category group, trend, warning level and top
    hotspots, as CSV, GeoJSON and an offline HTML map.
    """
    ws = open_workspace(workspace)
    incidents, problems = load_incidents(ws, category_table=categories)
    communities = ws.layer("communities")
    assert isinstance(communities, gpd.GeoDataFrame)
    result = monthly_bulletin(incidents, communities, month=month, top_n=top_n, problems=problems)
    echo_problems(result.problems)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"bulletin_{month}"
    result.to_csv(out / f"{stem}.csv")
    result.table.to_file(out / f"{stem}.geojson", driver="GeoJSON")
    roads = ws.layer("roads") if ws.has_layer("roads") else None
    html = bulletin_map_html(result, roads=roads if isinstance(roads, gpd.GeoDataFrame) else None)
    (out / f"{stem}.html").write_text(html, encoding="utf-8")
    levels = result.table["warning_level"].value_counts().to_dict()
    write_json(
        {
            "month": month,
            "comparison": result.comparison,
            "communities": len(result.table),
            "incidents": int(result.table["incidents"].sum()),
            "warning_levels": {str(k): int(v) for k, v in levels.items()},
            "problems": [p.to_dict() for p in result.problems],
        },
        out / "kpis.json",
    )
    click.echo(
        f"Bulletin {month}: {len(result.table):,} communities, "
        f"{int(result.table['incidents'].sum()):,} incidents ({result.comparison}); "
        f"warning levels {levels} -> {out}"
    )


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).strip("_") or "shift"


_LEVELS = ("grids", "communities", "subdistricts")


@click.command("areas")
@click.argument("workspace")
@click.option(
    "--level",
    type=click.Choice(_LEVELS),
    default="grids",
    show_default=True,
    help="Areas to count incidents in.",
)
@click.option(
    "--from", "start", required=True, help="First day of the period (YYYY-MM-DD, local time)."
)
@click.option("--to", "end", required=True, help="Day after the period (YYYY-MM-DD, exclusive).")
@click.option("--shift", "shift_text", help="Named shift or HH:MM-HH:MM window (default: all day).")
@click.option("--preventable", is_flag=True, help="Only preventable incidents (可防性案件).")
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for areas_<level>.geojson/.csv, areas_<level>_by_shift.csv, kpis.json.",
)
@click.pass_context
def areas(
    ctx: click.Context,
    workspace: str,
    level: str,
    start: str,
    end: str,
    shift_text: str | None,
    preventable: bool,
    out: Path,
) -> None:
    """Incidents per grid, community or sub-district of WORKSPACE in a period and shift.

    Each area gets its count, the count of the period of the same length just before, the
    change, and a colour warning level (分色预警: red, orange, yellow, blue); a second table
    counts every area's incidents per configured shift.
    """
    settings = settings_from(ctx)
    ws = open_workspace(workspace)
    incidents, problems = load_incidents(ws)
    echo_problems(problems)
    polygons = ws.spatial_layer(level)
    shift = settings.shift(shift_text) if shift_text else None
    table = area_trend(
        incidents, polygons, period=(start, end), shift=shift, preventable_only=preventable
    )
    shifts = {name: settings.shift(name) for name in settings.shifts}
    by_shift = counts_by_shift(
        incidents, polygons, shifts, period=(start, end), preventable_only=preventable
    )
    out.mkdir(parents=True, exist_ok=True)
    stem = f"areas_{level}"
    table.to_file(out / f"{stem}.geojson", driver="GeoJSON")
    table.drop(columns=table.geometry.name).to_csv(out / f"{stem}.csv", index=False)
    by_shift.to_csv(out / f"{stem}_by_shift.csv")
    levels = table["warning_level"].value_counts().to_dict()
    write_json(
        {
            "level": level,
            "period": [start, end],
            "shift": shift.label() if shift else None,
            "preventable_only": preventable,
            "areas": len(table),
            "incidents": int(table["incidents"].sum()),
            "previous_incidents": int(table["previous"].sum()),
            "outside_every_area": int(table.attrs.get("outside", 0)),
            "warning_levels": {str(k): int(v) for k, v in levels.items()},
            "problems": [p.to_dict() for p in problems],
        },
        out / "kpis.json",
    )
    click.echo(
        f"{level} {start}..{end}{' ' + shift.label() if shift else ''}: "
        f"{int(table['incidents'].sum()):,} incidents (previous period "
        f"{int(table['previous'].sum()):,}); warning levels {levels} -> {out}"
    )
