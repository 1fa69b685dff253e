"""Data commands: ``import``, ``validate``, ``info`` and ``demo``."""

from __future__ import annotations

from pathlib import Path

import click

from gisapp.cli._common import (
    counts_line,
    echo_problems,
    join_items,
    lang_option,
    settings_from,
    write_json,
)
from gisapp.errors import WorkspaceError
from layers.errors import LayerError, Problem
from layers.i18n import _

#: The reading options shared by ``import`` and ``validate``: a file validated with them
#: is read exactly as it would be imported.
_map_fields_option = click.option(
    "--map-fields",
    "map_fields",
    multiple=True,
    metavar="[LAYER:]OURS=THEIRS,...",
    help=(
        "Map your column names to ours, e.g. 'incidents:occurred_at=发案时间'. A value in "
        "quotes is the same for every feature: \"stations:kind='police'\". A date column "
        "and a time column make the time: 'incidents:occurred_at=发案日期+发案时段' (the "
        "time may read 21, 21:48, 2148 or 21时48分). Repeatable."
    ),
)
_offset_option = click.option(
    "--offset",
    "offsets",
    multiple=True,
    metavar="[LAYER=]SYSTEM",
    help=(
        "Coordinates are GCJ-02 (Amap, Tencent) or BD-09 (Baidu): convert to WGS84. "
        "'gcj02' or 'bd09' for every layer, or per layer: '--offset incidents=gcj02 "
        "--offset grids=none'. Repeatable."
    ),
)
_timezone_option = click.option("--timezone", help="Time zone of naive incident times (IANA name).")
_encoding_option = click.option(
    "--encoding", help="Text encoding of the sources when it cannot be detected (e.g. gbk)."
)


@click.command("import")
@click.argument("sources", nargs=-1, required=True)
@click.option(
    "--out",
    "-w",
    "--workspace",
    "out",
    required=True,
    help="Workspace to create or update: a GeoPackage, or a database URL "
    "(postgresql://USER@HOST/DB?schema=SCHEMA).",
)
@_map_fields_option
@_offset_option
@_timezone_option
@_encoding_option
@click.option("--force", is_flag=True, help="Replace the workspace instead of updating it.")
@click.option(
    "--repair-overlaps",
    is_flag=True,
    help="Give each overlap between sibling areas (grids of one community...) to the "
    "feature whose centre is nearest, and report each repair.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the problem report as JSON.")
@click.pass_context
def import_(
    ctx: click.Context,
    sources: tuple[str, ...],
    out: str,
    map_fields: tuple[str, ...],
    offsets: tuple[str, ...],
    timezone: str | None,
    encoding: str | None,
    force: bool,
    repair_overlaps: bool,
    as_json: bool,
) -> None:
    """Import SOURCES (PATH, LAYER=PATH or LAYER=PATH:FILE_LAYER) into the workspace --out.

    Reads GeoPackage, GeoJSON, zipped Shapefile (with .cpg or GBK), CSV (lon/lat or WKT),
    GeoParquet and OSM PBF/XML. Pick one layer of a GeoPackage, or one shapefile of a zip,
    after a colon: grids=city.gpkg:wangge. Point layers without an id column get ids
    (inc-000001 ...); incidents without a readable time are kept without one. Everything
    is validated before anything is written: with errors the workspace is left as it
    was. Layers not named in SOURCES are kept.
    """
    from gisapp.services.ingest import Source, import_into, parse_mappings, parse_offsets
    from gisapp.store.backend import location_label

    settings = settings_from(ctx)
    result = import_into(
        out,
        [Source.parse(s) for s in sources],
        mappings=parse_mappings(map_fields),
        offset=parse_offsets(offsets),
        timezone=timezone,
        default_timezone=settings.timezone,
        encoding=encoding,
        force=force,
        note=f"imported from {', '.join(sources)}",
        limits=settings.read_limits(),
        repair_overlaps=repair_overlaps,
    )
    problems = result.problems
    label = location_label(out)
    overlaps = result.overlaps.to_dict() if result.overlaps else None
    if as_json:
        write_json(
            {"ok": result.ok, "problems": [p.to_dict() for p in problems], "overlaps": overlaps}
        )
    else:
        echo_problems(problems)
    if not result.ok:
        click.echo(
            _(
                "Not imported: %(problems)s. %(workspace)s is unchanged.",
                problems=counts_line(problems),
                workspace=label,
            ),
            err=True,
        )
        if not repair_overlaps and any(p.code == "sibling_overlap" for p in problems):
            click.echo(
                _("To accept the repair of sibling overlaps, import again with --repair-overlaps."),
                err=True,
            )
        ctx.exit(1)
    if not as_json:
        counts = join_items(f"{n} {c:,}" for n, c in result.saved.items())
        click.echo(
            _(
                "Imported into %(workspace)s: %(counts)s (%(problems)s).",
                workspace=label,
                counts=counts,
                problems=counts_line(problems),
            )
        )


@click.command("validate")
@click.argument("sources", nargs=-1, required=True)
@click.option(
    "--layer", help="Which layer a single file is (e.g. grids); or prefix it: grids=FILE."
)
@click.option(
    "-w",
    "--workspace",
    "workspace_location",
    metavar="WS",
    help="Check the files against the workspace they are meant for (its area, ids, time zone).",
)
@_map_fields_option
@_offset_option
@_timezone_option
@_encoding_option
@click.option("--json", "as_json", is_flag=True, help="Print the problem report as JSON.")
@click.option(
    "--tolerance",
    default=0.02,
    show_default=True,
    help="Share of a feature's area allowed outside its parent.",
)
@click.pass_context
def validate(
    ctx: click.Context,
    sources: tuple[str, ...],
    layer: str | None,
    workspace_location: str | None,
    map_fields: tuple[str, ...],
    offsets: tuple[str, ...],
    timezone: str | None,
    encoding: str | None,
    as_json: bool,
    tolerance: float,
) -> None:
    """Validate a workspace, or files checked together as layers (PATH, LAYER=PATH or
    LAYER=PATH:FILE_LAYER).

    Files are read as ``gisapp import`` reads them (--map-fields, --offset, --encoding);
    with -w/--workspace they are checked with the workspace's other layers and must lie
    in its area. Every problem is collected and reported at once. Exit 0 when there is
    no error (warnings allowed), 1 when there are errors.
    """
    from gisapp.services.ingest import Frame, Source, ingest, parse_mappings, parse_offsets
    from gisapp.store import open_workspace
    from layers.validate import validate_layers

    settings = settings_from(ctx)
    label = " ".join(sources)
    problems: list[Problem]
    try:
        if (
            len(sources) == 1
            and layer is None
            and workspace_location is None
            and _is_workspace(sources[0])
        ):
            report = open_workspace(sources[0]).validate(area_tolerance=tolerance)
            problems, ok = report.problems, report.ok
        else:
            context: dict[str, Frame] = {}
            zone = timezone or settings.timezone
            if workspace_location is not None:
                workspace = open_workspace(workspace_location)
                context, zone = workspace.layers(), timezone or workspace.timezone
            specs = [f"{layer}={sources[0]}", *sources[1:]] if layer else list(sources)
            ingested = ingest(
                [Source.parse(s) for s in specs],
                mappings=parse_mappings(map_fields),
                offset=parse_offsets(offsets),
                encoding=encoding,
                limits=settings.read_limits(),
            )
            report = validate_layers(
                ingested.layers, workspace=context, area_tolerance=tolerance, timezone=zone
            )
            problems, ok = ingested.problems + report.problems, report.ok
    except LayerError as exc:
        hint = _("check the file and its format")
        problems = [Problem(label, None, "read_error", str(exc), hint)]
        ok = False
    if as_json:
        write_json(
            {"sources": list(sources), "ok": ok, "problems": [p.to_dict() for p in problems]}
        )
    else:
        echo_problems(problems)
        counts = counts_line(problems)
        if ok:
            click.echo(_("%(source)s: valid (%(problems)s)", source=label, problems=counts))
        else:
            click.echo(_("%(source)s: INVALID (%(problems)s)", source=label, problems=counts))
    if not ok:
        ctx.exit(1)


def _is_workspace(location: str) -> bool:
    """A bundled sample, a database URL, or a GeoPackage with our metadata table, as
    ``gisapp import`` writes."""
    from gisapp.store import Workspace, is_database_url

    if location.startswith("sample:") or is_database_url(location):
        return True
    path = Path(location)
    if path.suffix.lower() != ".gpkg":
        return False
    try:
        return bool(Workspace.open(path).meta)
    except WorkspaceError:
        return False


@click.command("info")
@click.argument("workspace")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def info(workspace: str, as_json: bool) -> None:
    """Show layer counts, CRS, extent and the incident date range of WORKSPACE."""
    from gisapp.services.summary import format_summary, workspace_summary
    from gisapp.store import open_workspace

    summary = workspace_summary(open_workspace(workspace))
    if as_json:
        write_json(summary)
    else:
        click.echo(format_summary(summary))


@click.command("demo")
@click.option("--sample", default="new_haven", show_default=True, help="Bundled sample to use.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-out"),
    show_default=True,
    help="Directory for the outputs.",
)
@click.option(
    "--shift", default="late", show_default=True, help="Shift to plan (name or HH:MM-HH:MM)."
)
@click.option("--seed", default=1, show_default=True, help="Seed of the patrol plan.")
@click.option("--no-pdf", is_flag=True, help="Skip the PDF briefing (needs Chromium).")
@lang_option
@click.pass_context
def demo(ctx: click.Context, sample: str, out: Path, shift: str, seed: int, no_pdf: bool) -> None:
    """Run the whole pipeline on a bundled sample and write every output to --out.

    validate → hotspots → grid responsibility → shift patrol plan → 1-3-5 minute coverage
    and blind zones (hour by hour with the plan) → duty-point proposal → briefing pack. Each step is the same
    command a user runs by hand; its outputs land in a sub-directory of --out.
    """
    from gisapp.cli.coverage import coverage, place
    from gisapp.cli.export import export
    from gisapp.cli.grids import grids
    from gisapp.cli.hotspots import hotspots
    from gisapp.cli.plan import plan
    from gisapp.services.summary import format_summary, workspace_summary
    from gisapp.store import open_workspace

    # Work on a copy: plans are saved into the workspace, the bundled sample stays as is.
    out.mkdir(parents=True, exist_ok=True)
    bundled = open_workspace(f"sample:{sample}")
    workspace = bundled.copy_to(out / bundled.label)
    report = workspace.validate()
    echo_problems([p for p in report.problems if p.severity == "error"])
    click.echo(
        _(
            "[1/7] validated %(workspace)s: %(problems)s",
            workspace=workspace.label,
            problems=counts_line(report.problems),
        )
    )
    if not report.ok:
        ctx.exit(1)
    summary = workspace_summary(workspace)
    click.echo(format_summary(summary))
    write_json(summary, out / "summary.json")
    write_json(report.to_dict(), out / "validation.json")

    ws_arg = workspace.location
    click.echo(_("[2/7] hotspots of the shift"))
    ctx.invoke(hotspots, workspace=ws_arg, shifts=(shift,), method="counts", out=out / "hotspots")
    click.echo(_("[3/7] grid responsibility and workload"))
    ctx.invoke(grids, workspace=ws_arg, mode="report", out=out / "grids")
    click.echo(_("[4/7] patrol plan for the %(shift)s shift", shift=shift))
    ctx.invoke(plan, workspace=ws_arg, shift_text=shift, seed=seed, out=out / "plan")
    click.echo(_("[5/7] 1-3-5 minute coverage and blind zones, hour by hour with the plan"))
    ctx.invoke(coverage, workspace=ws_arg, plan=out / "plan", out=out / "coverage")
    click.echo(_("[6/7] five proposed duty points (MCLP, 3 minutes)"))
    ctx.invoke(place, workspace=ws_arg, model="mclp", posts=5, minutes=3.0, out=out / "placement")
    formats = "html,gpx,geojson,gpkg,csv" if no_pdf else "pdf,png,html,gpx,geojson,gpkg,csv"
    click.echo(_("[7/7] briefing pack (%(formats)s)", formats=formats))
    ctx.invoke(
        export,
        workspace=ws_arg,
        what="plan",
        plan_dir=out / "plan",
        formats=formats,
        blind_zones_file=out / "coverage" / "blind_zones.geojson",
        out=out / "briefing",
    )
    click.echo(
        _(
            "Done: outputs in %(out)s/. Browse them with 'gisapp serve %(workspace)s'.",
            out=out,
            workspace=workspace.location,
        )
    )
