"""Data commands: ``import``, ``validate``, ``info`` and ``demo``."""

from __future__ import annotations

from pathlib import Path

import click

from gisapp.commands._common import (
    counts_line,
    echo_problems,
    open_workspace,
    settings_from,
    write_json,
)
from gisapp.errors import WorkspaceError
from gisapp.ingest import Source, import_into, ingest, parse_mappings
from gisapp.summary import format_summary, workspace_summary
from gisapp.workspace import Workspace
from layers.errors import LayerError, Problem
from layers.validate import validate_layers


@click.command("import")
@click.argument("sources", nargs=-1, required=True)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Workspace GeoPackage to create or update.",
)
@click.option(
    "--map-fields",
    "map_fields",
    multiple=True,
    metavar="[LAYER:]OURS=THEIRS,...",
    help="Map your column names to ours, e.g. 'incidents:occurred_at=发案时间'.",
)
@click.option(
    "--offset",
    type=click.Choice(["gcj02", "bd09"]),
    help="Coordinates are GCJ-02 (Amap, Tencent) or BD-09 (Baidu): convert to WGS84.",
)
@click.option("--timezone", help="Time zone of naive incident times (IANA name).")
@click.option(
    "--encoding", help="Text encoding of the sources when it cannot be detected (e.g. gbk)."
)
@click.option("--force", is_flag=True, help="Replace the workspace instead of updating it.")
@click.option("--json", "as_json", is_flag=True, help="Print the problem report as JSON.")
@click.pass_context
def import_(
    ctx: click.Context,
    sources: tuple[str, ...],
    out: Path,
    map_fields: tuple[str, ...],
    offset: str | None,
    timezone: str | None,
    encoding: str | None,
    force: bool,
    as_json: bool,
) -> None:
    """Import SOURCES (PATH or LAYER=PATH) into the workspace --out.

    Reads GeoPackage, GeoJSON, zipped Shapefile (with .cpg or GBK), CSV (lon/lat or WKT)
    and OSM PBF/XML. Everything is validated before anything is written: with errors the
    workspace is left as it was. Layers not named in SOURCES are kept.
    """
    settings = settings_from(ctx)
    result = import_into(
        out,
        [Source.parse(s) for s in sources],
        mappings=parse_mappings(map_fields),
        offset=offset,  # type: ignore[arg-type]
        timezone=timezone,
        default_timezone=settings.timezone,
        encoding=encoding,
        force=force,
        note=f"imported from {', '.join(sources)}",
    )
    problems = result.problems
    if as_json:
        write_json({"ok": result.ok, "problems": [p.to_dict() for p in problems]})
    else:
        echo_problems(problems)
    if not result.ok:
        click.echo(f"Not imported: {counts_line(problems)}. {out} is unchanged.", err=True)
        ctx.exit(1)
    if not as_json:
        counts = ", ".join(f"{n} {c:,}" for n, c in result.saved.items())
        click.echo(f"Imported into {out}: {counts} ({counts_line(problems)}).")


@click.command("validate")
@click.argument("sources", nargs=-1, required=True)
@click.option(
    "--layer", help="Which layer a single file is (e.g. grids); or prefix it: grids=FILE."
)
@click.option("--json", "as_json", is_flag=True, help="Print the problem report as JSON.")
@click.option(
    "--tolerance",
    default=0.02,
    show_default=True,
    help="Share of a feature's area allowed outside its parent.",
)
@click.pass_context
def validate(
    ctx: click.Context, sources: tuple[str, ...], layer: str | None, as_json: bool, tolerance: float
) -> None:
    """Validate a workspace, or files checked together as layers (PATH or LAYER=PATH).

    Every problem is collected and reported at once. Exit 0 when there is no error
    (warnings allowed), 1 when there are errors.
    """
    settings = settings_from(ctx)
    label = " ".join(sources)
    problems: list[Problem]
    try:
        first = Path(sources[0])
        if (
            len(sources) == 1
            and layer is None
            and (sources[0].startswith("sample:") or _is_workspace(first))
        ):
            workspace = open_workspace(sources[0])
            report = workspace.validate(area_tolerance=tolerance)
            problems, ok = report.problems, report.ok
        else:
            specs = [f"{layer}={sources[0]}", *sources[1:]] if layer else list(sources)
            ingested = ingest([Source.parse(s) for s in specs], timezone=settings.timezone)
            report = validate_layers(
                ingested.layers, area_tolerance=tolerance, timezone=settings.timezone
            )
            problems, ok = ingested.problems + report.problems, report.ok
    except LayerError as exc:
        problems = [Problem(label, None, "read_error", str(exc), "check the file and its format")]
        ok = False
    if as_json:
        write_json(
            {"sources": list(sources), "ok": ok, "problems": [p.to_dict() for p in problems]}
        )
    else:
        echo_problems(problems)
        click.echo(f"{label}: {'valid' if ok else 'INVALID'} ({counts_line(problems)})")
    if not ok:
        ctx.exit(1)


def _is_workspace(path: Path) -> bool:
    """A GeoPackage with our metadata table, as ``gisapp import`` writes."""
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
@click.pass_context
def demo(ctx: click.Context, sample: str, out: Path) -> None:
    """Run the pipeline on a bundled sample workspace and write its outputs to --out."""
    workspace = open_workspace(f"sample:{sample}")
    report = workspace.validate()
    echo_problems([p for p in report.problems if p.severity == "error"])
    click.echo(f"Validated {workspace.path.name}: {counts_line(report.problems)}")
    if not report.ok:
        ctx.exit(1)
    summary = workspace_summary(workspace)
    click.echo(format_summary(summary))
    out.mkdir(parents=True, exist_ok=True)
    write_json(summary, out / "summary.json")
    write_json(
        {"ok": report.ok, "problems": [p.to_dict() for p in report.problems]},
        out / "validation.json",
    )
    click.echo(f"Wrote {out / 'summary.json'} and {out / 'validation.json'}")
