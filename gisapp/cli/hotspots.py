"""Incident analytics commands: ``hotspots``, ``bulletin`` and ``areas``."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import click

from gisapp.cli._common import echo_problems, lang_option, settings_from, warning_levels_text
from gisapp.services.analytics import AREA_LEVELS
from gisapp.services.hotspots import METHODS
from layers.i18n import _
from routing.hotspots import DEFAULT_CELL_SIZE_M

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
    "--group",
    "groups",
    multiple=True,
    help="Category group to keep ('all', 'preventable' or a group); repeat for several.",
)
@click.option("--weekdays", help="Shift start days, e.g. 'sat,sun' or '0,1,2,3,4'.")
@click.option("--from", "start", help="First day of the incidents to use (YYYY-MM-DD, local time).")
@click.option("--to", "end", help="Day after the incidents to use (YYYY-MM-DD, exclusive).")
@click.option("--preventable", is_flag=True, help="Only preventable incidents (可防性案件).")
@click.option(
    "--categories",
    type=click.Path(dir_okay=False, exists=True),
    help="Category table CSV (default: the workspace's categories table, else the "
    "incidents' own severity and preventable fields, else the bundled standard tables).",
)
@click.option(
    "--keep-pileups",
    is_flag=True,
    help="Keep incidents at pile-ups (many on one point, e.g. a reporting desk); "
    "default: the keep_pileups setting, off.",
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
    start: str | None,
    end: str | None,
    preventable: bool,
    categories: str | None,
    keep_pileups: bool,
) -> None:
    """Map incident hotspots of WORKSPACE per shift and score them with the PAI.

    The hotspot layer uses every incident of the shift; kpis.json gives the PAI and hit
    rate of the same method built on the two weeks before the data's last two weeks and
    tested on those (shorter data is split in the same proportion, and says so).
    """
    from gisapp.outputs.hotspots import hotspot_file_name, write_hotspots
    from gisapp.services.hotspots import (
        HotspotOptions,
        category_options,
        hotspots_by_shift,
        hotspots_kpis,
    )
    from gisapp.store import open_workspace

    if (start is None) != (end is None):
        raise click.UsageError(_("give both --from and --to for a date range, or neither"))
    settings = settings_from(ctx)
    ws = open_workspace(workspace)
    chosen_groups, preventable_only = category_options(groups)
    days = tuple(d.strip() for d in weekdays.split(",") if d.strip()) if weekdays else ()
    options = [
        HotspotOptions(
            shift=settings.shift(name),
            method=method,
            area_share=area_share,
            cell_size_m=cell_size_m,
            bandwidth_m=bandwidth_m,
            weekdays=days,
            groups=chosen_groups,
            preventable_only=preventable or preventable_only,
            period=(start, end) if start is not None and end is not None else None,
            category_table=categories,
            keep_pileups=keep_pileups or settings.keep_pileups,
        )
        for name in shifts or tuple(settings.shifts)
    ]
    results = hotspots_by_shift(ws, options)
    if results:
        echo_problems(results[0].problems)
    layers = {hotspot_file_name(r.options.shift.name, method): r.layer for r in results}
    paths = write_hotspots(layers, hotspots_kpis(ws, results), out)
    for result, path in zip(results, paths, strict=False):
        shift, kpis = result.options.shift, result.kpis
        figures = {
            "shift": shift.name,
            "window": shift.label(),
            "incidents": f"{kpis['incidents']:,}",
            "hotspots": f"{len(result.layer):,}",
            "pai": kpis.get("pai", _("n/a")),
            "path": path,
        }
        if method == "streets":
            line = _(
                "%(shift)s (%(window)s): %(incidents)s incidents, %(hotspots)s hotspot "
                "segments, PAI %(pai)s -> %(path)s",
                **figures,
            )
        else:
            line = _(
                "%(shift)s (%(window)s): %(incidents)s incidents, %(hotspots)s hotspot cells, "
                "PAI %(pai)s -> %(path)s",
                **figures,
            )
        click.echo(line)
        click.echo("  " + _("PAI: %(windows)s", windows=_pai_windows(kpis)))
    click.echo(_("Wrote %(file)s", file=paths[-1]))


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
    help="Category table CSV (default: the workspace's categories table, else the "
    "incidents' own severity and preventable fields, else the bundled standard tables).",
)
@click.option(
    "--keep-pileups",
    is_flag=True,
    help="Count incidents at pile-ups (many on one point, e.g. a reporting desk).",
)
@lang_option
@click.pass_context
def bulletin(
    ctx: click.Context,
    workspace: str,
    month: str,
    out: Path,
    top_n: int,
    categories: str | None,
    keep_pileups: bool,
) -> None:
    """Write the monthly community bulletin (社区治安状况月报) of WORKSPACE.

    One row per community: incidents by category group, trend, warning level and top
    hotspots, as CSV, GeoJSON and an offline HTML map.
    """
    from gisapp.outputs.hotspots import write_bulletin
    from gisapp.render.bulletin import bulletin_map_html
    from gisapp.services.bulletin import community_bulletin
    from gisapp.store import open_workspace

    ws = open_workspace(workspace)
    result = community_bulletin(
        ws,
        month=month,
        top_n=top_n,
        category_table=categories,
        keep_pileups=keep_pileups or settings_from(ctx).keep_pileups,
    )
    echo_problems(result.problems)
    roads = ws.spatial_layer("roads") if ws.has_layer("roads") else None
    kpis = result.kpis
    html = bulletin_map_html(result, roads=roads)
    write_bulletin(out, month=month, table=result.table, html=html, kpis=kpis)
    click.echo(
        _(
            "Bulletin %(month)s: %(communities)s communities, %(incidents)s incidents "
            "(%(comparison)s); warning levels %(levels)s -> %(out)s",
            month=month,
            communities=format(kpis["communities"], ","),
            incidents=format(kpis["incidents"], ","),
            comparison=result.comparison,
            levels=warning_levels_text(kpis["warning_levels"]),
            out=out,
        )
    )


@click.command("areas")
@click.argument("workspace")
@click.option(
    "--level",
    type=click.Choice(AREA_LEVELS),
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
@click.option(
    "--keep-pileups",
    is_flag=True,
    help="Count incidents at pile-ups (many on one point, e.g. a reporting desk).",
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
    keep_pileups: bool,
) -> None:
    """Incidents per grid, community or sub-district of WORKSPACE in a period and shift.

    Each area gets its count, the count of the period of the same length just before, the
    change, and a colour warning level (分色预警: red, orange, yellow, blue); a second table
    counts every area's incidents per configured shift.
    """
    from gisapp.outputs.hotspots import write_areas
    from gisapp.services.analytics import area_report
    from gisapp.store import open_workspace

    settings = settings_from(ctx)
    ws = open_workspace(workspace)
    shift = settings.shift(shift_text) if shift_text else None
    report = area_report(
        ws,
        level=level,
        period=(start, end),
        shifts={name: settings.shift(name) for name in settings.shifts},
        shift=shift,
        preventable_only=preventable,
        keep_pileups=keep_pileups or settings.keep_pileups,
    )
    echo_problems(report.problems)
    write_areas(out, level=level, table=report.table, by_shift=report.by_shift, kpis=report.kpis)
    kpis = report.kpis
    figures = {
        "level": level,
        "start": start,
        "end": end,
        "incidents": f"{kpis['incidents']:,}",
        "previous": f"{kpis['previous_incidents']:,}",
        "levels": warning_levels_text(kpis["warning_levels"]),
        "out": out,
    }
    if shift is None:
        line = _(
            "%(level)s %(start)s..%(end)s: %(incidents)s incidents (previous period "
            "%(previous)s); warning levels %(levels)s -> %(out)s",
            **figures,
        )
    else:
        line = _(
            "%(level)s %(start)s..%(end)s %(window)s: %(incidents)s incidents (previous "
            "period %(previous)s); warning levels %(levels)s -> %(out)s",
            window=shift.label(),
            **figures,
        )
    click.echo(line)


def _pai_windows(kpis: dict[str, Any]) -> str:
    """Which days the PAI was trained and tested on, or why it was not scored."""
    evaluation = kpis.get("evaluation")
    if not evaluation:
        reason = (
            kpis["evaluation_error"] if "evaluation_error" in kpis else _("no incidents to score")
        )
        return _("not scored: %(reason)s", reason=reason)
    (a, b), (c, d) = (
        (_day(s), _day(e) - timedelta(days=1)) for s, e in (evaluation["train"], evaluation["test"])
    )
    return _(
        "trained %(train_start)s to %(train_end)s, tested %(test_start)s to %(test_end)s "
        "(%(windows)s)",
        train_start=a,
        train_end=b,
        test_start=c,
        test_end=d,
        windows=evaluation["windows"],
    )


def _day(stamp: str) -> date:
    """The day of an ISO time stamp."""
    return date.fromisoformat(stamp[:10])
