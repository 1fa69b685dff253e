"""Grid command: ``gisapp grids WS --report`` and ``gisapp grids WS --design``."""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gisapp.cli._common import echo_problems, join_items, settings_from, write_json
from gisapp.outputs.files import write_csv
from gisapp.services.grids import ASSIGNMENT_METHODS
from layers.i18n import _, pgettext

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

    from gisapp.services.grids import AssignmentMethod, GridWorkload
    from gisapp.settings import Settings
    from gisapp.store.geopackage import Workspace

logger = logging.getLogger(__name__)

#: Layer a designed layout is saved to; the user's ``grids`` layer is never overwritten.
DESIGNED_LAYER = "grids_designed"
DEFAULT_SHIFT_NAMES = ("day", "evening", "night")


@click.command("grids")
@click.argument("workspace")
@click.option(
    "--report",
    "mode",
    flag_value="report",
    help="Responsibility, workload and staffing of the current grids.",
)
@click.option(
    "--design",
    "mode",
    flag_value="design",
    help="Design balanced grids from street blocks and compare.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for the outputs (created when missing).",
)
@click.option(
    "--tolerance",
    default=0.15,
    show_default=True,
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    help="Accepted workload deviation from the mean (0.15 is ±15%).",
)
@click.option(
    "--n-grids", type=click.IntRange(min=1), help="Grids to design (default: as many as now)."
)
@click.option(
    "--seed", default=0, show_default=True, help="Seed of the design: same seed, same layout."
)
@click.option(
    "--shift",
    "shift_names",
    multiple=True,
    metavar="NAME|HH:MM-HH:MM",
    help="Shifts for the incident counts (repeatable; default day, evening, night).",
)
@click.option(
    "--assignments",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="CSV with grid_id and officer/team/phone/unit_id replacing the grids' own.",
)
@click.option(
    "--assign",
    "assign",
    type=click.Choice(ASSIGNMENT_METHODS),
    default="balanced",
    show_default=True,
    help="How designed grids inherit officers from the current grids they overlap: "
    "'balanced' keeps each officer's number of grids where possible, 'overlap' follows "
    "the largest overlap alone.",
)
@click.option(
    "--save",
    is_flag=True,
    help=f"Save the designed grids into the workspace as '{DESIGNED_LAYER}'.",
)
@click.option(
    "--layer",
    "layer_name",
    default=DESIGNED_LAYER,
    show_default=True,
    help="Layer name for --save (never 'grids').",
)
@click.option(
    "--keep-pileups",
    is_flag=True,
    help="Count incidents at pile-ups (many on one point, e.g. a reporting desk).",
)
@click.pass_context
def grids(
    ctx: click.Context,
    workspace: str,
    mode: str | None,
    out: Path,
    tolerance: float,
    n_grids: int | None,
    seed: int,
    shift_names: tuple[str, ...],
    assignments: Path | None,
    assign: AssignmentMethod,
    save: bool,
    layer_name: str,
    keep_pileups: bool,
) -> None:
    """Grid (网格) responsibility report, or a balanced grid design, for WORKSPACE.

    --report writes grids.csv, grids.geojson, units.csv, staffing.csv and kpis.json
    (imbalance: max/mean, Gini, coefficient of variation). --design writes
    designed_grids.geojson/.gpkg/.csv and kpis.json comparing it with the current grids;
    each designed grid inherits the officer, team, phone and unit of the current grids it
    overlaps (designed_assignment.csv, and designed_changes.csv per officer, unit and team).
    """
    import pandas as pd
    import pyogrio

    from gisapp.services.grids import (
        design_workspace_grids,
        grid_workload,
        staffing_table,
        unit_workload,
        with_geocoding_quality,
    )
    from gisapp.store import open_workspace

    if mode is None:
        raise click.UsageError(_("choose --report or --design"))
    if save and mode != "design":
        raise click.UsageError(_("--save only applies to --design"))
    if save and layer_name == "grids":
        raise click.UsageError(_("--layer grids would overwrite your grids; choose another name"))
    settings = settings_from(ctx)
    ws = open_workspace(workspace)
    shifts = _shift_windows(settings, shift_names)
    incidents = _incidents(ws, keep_pileups=keep_pileups or settings.keep_pileups)
    roads = ws.layer("roads")
    communities = ws.layer("communities")
    table = pd.read_csv(assignments, dtype=str) if assignments else None
    out.mkdir(parents=True, exist_ok=True)

    if mode == "report":
        current = ws.layer("grids")
        result = grid_workload(
            current,
            incidents=incidents,
            roads=roads,
            communities=communities,
            assignments=table,
            shifts=shifts,
        )
        result = with_geocoding_quality(ws, result)
        staffing = staffing_table(communities, result.table)
        _write_layout(result, out, "grids")
        write_csv(unit_workload(result.table), out / "units.csv")
        write_csv(staffing, out / "staffing.csv")
        if len(result.outside):
            _write_geojson(result.outside, out / "incidents_outside_grids.geojson")
        kpis = {
            "workspace": ws.name,
            "tolerance": tolerance,
            "shifts": {k: f"{a}-{b}" for k, (a, b) in shifts.items()},
            **result.kpis(tolerance=tolerance),
            "staffing": _staffing_kpis(staffing),
            "geocoding_suspect_share": _suspect_share(result.table),
        }
        write_json(_finite(kpis), out / "kpis.json")
        _echo_report(kpis)
        click.echo(
            _(
                "Wrote %(files)s to %(out)s",
                files=join_items(
                    ["grids.csv", "grids.geojson", "units.csv", "staffing.csv", "kpis.json"]
                ),
                out=out,
            )
        )
        return

    design = design_workspace_grids(
        ws,
        incidents=incidents,
        shifts=shifts,
        n_grids=n_grids,
        tolerance=tolerance,
        seed=seed,
        assign=assign,
        save_as=layer_name if save else None,
        note="derived: grids designed from street blocks by 'gisapp grids --design'",
    )
    _write_layout(design.designed, out, "designed_grids")
    written = ["designed_grids.geojson", "designed_grids.gpkg", "designed_grids.csv"]
    if len(design.assignment):
        write_csv(design.assignment, out / "designed_assignment.csv")
        write_csv(design.changes, out / "designed_changes.csv")
        written += ["designed_assignment.csv", "designed_changes.csv"]
    layer = design.designed.table
    with _quiet():
        pyogrio.write_dataframe(
            layer, out / "designed_grids.gpkg", layer=DESIGNED_LAYER, driver="GPKG"
        )
    kpis = {"workspace": ws.name, "tolerance": tolerance, **design.kpis}
    write_json(_finite(kpis), out / "kpis.json")
    _echo_design(kpis)
    if save:
        click.echo(
            _(
                "Saved %(count)s designed grids to layer %(layer)s of %(workspace)s",
                count=format(len(layer), ","),
                layer=repr(layer_name),
                workspace=ws.location,
            )
        )
    click.echo(_("Wrote %(files)s to %(out)s", files=join_items([*written, "kpis.json"]), out=out))


def _suspect_share(table: pd.DataFrame) -> float | None:
    """Share of the grids' incidents at pile-ups or grid centroids (geocoding quality)."""
    total = int(table["geocoded_incidents"].sum())
    suspect = int(table["at_pileups"].sum() + table["at_centroid"].sum())
    return round(suspect / total, 4) if total else None


def _shift_windows(settings: Settings, names: tuple[str, ...]) -> dict[str, tuple[str, str]]:
    wanted = names or tuple(n for n in DEFAULT_SHIFT_NAMES if n in settings.shifts)
    windows = {}
    for name in wanted:
        shift = settings.shift(name)
        label = (
            name if name in settings.shifts else shift.label().replace(":", "").replace("-", "_")
        )
        windows[label] = (f"{shift.start:%H:%M}", f"{shift.end:%H:%M}")
    return windows


def _incidents(ws: Workspace, *, keep_pileups: bool) -> gpd.GeoDataFrame | None:
    from gisapp.services.grids import workload_incidents

    incidents, problems = workload_incidents(ws, keep_pileups=keep_pileups)
    echo_problems(problems)
    return incidents


def _write_layout(layout: GridWorkload, out: Path, stem: str) -> None:
    write_csv(layout.table.drop(columns="geometry"), out / f"{stem}.csv")
    _write_geojson(layout.table, out / f"{stem}.geojson")


def _write_geojson(frame: gpd.GeoDataFrame, path: Path) -> None:
    import pandas as pd
    import pyogrio

    export = frame.to_crs("EPSG:4326")
    for column in export.columns:
        if isinstance(export[column].dtype, pd.DatetimeTZDtype):
            export[column] = export[column].map(lambda t: t.isoformat() if pd.notna(t) else None)
    with _quiet():
        pyogrio.write_dataframe(export, path, driver="GeoJSON")


@contextmanager
def _quiet() -> Iterator[None]:
    # GDAL notes on field types (e.g. booleans in GeoJSON) are not the user's problem.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _staffing_kpis(staffing: pd.DataFrame) -> dict[str, Any]:
    required = staffing["officers_required"]
    current = staffing["officers_current"]
    known = required.notna() & current.notna()
    return {
        "communities": len(staffing),
        "officers_required": int(required.sum()) if required.notna().any() else None,
        "officers_current": int(current.sum()) if current.notna().any() else None,
        "communities_understaffed": int((known & (current < required)).sum()),
        "communities_property_company": int((staffing["property_managed"] == "full").sum()),
        "communities_rule_unknown": int(required.isna().sum()),
    }


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: write them as null."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _echo_report(kpis: dict[str, Any]) -> None:
    w = kpis["workload"]
    click.echo(
        _(
            "%(grids)s grids; workload max/mean %(max_mean)s, Gini %(gini)s, CV %(cv)s, "
            "%(within)s within ±%(tolerance)s; incidents %(inside)s in grids, "
            "%(outside)s outside",
            grids=format(kpis["grids"], ","),
            max_mean=format(w["max_mean"], ".2f"),
            gini=format(w["gini"], ".3f"),
            cv=format(w["cv"], ".3f"),
            within=format(w["within_tolerance_share"], ".0%"),
            tolerance=format(kpis["tolerance"], ".0%"),
            inside=format(kpis["incidents_in_grids"], ","),
            outside=format(kpis["incidents_outside_grids"], ","),
        )
    )
    if "units" in kpis:
        u = kpis["units"]
        click.echo(
            _(
                "units: max/mean %(max_mean)s, Gini %(gini)s, CV %(cv)s",
                max_mean=format(u["max_mean"], ".2f"),
                gini=format(u["gini"], ".3f"),
                cv=format(u["cv"], ".3f"),
            )
        )


def _layout_label(name: str) -> str:
    """The name of a grid layout in the comparison table (``current`` or ``designed``)."""
    if name == "current":
        return pgettext("grid layout", "current")
    return pgettext("grid layout", "designed")


def _echo_design(kpis: dict[str, Any]) -> None:
    for name in ("current", "designed"):
        if name not in kpis:
            continue
        k = kpis[name]
        w = k["workload"]
        click.echo(
            _(
                "%(layout)s %(grids)s grids  max/mean %(max_mean)s  Gini %(gini)s  CV %(cv)s  "
                "within ±%(tolerance)s %(within)s  Polsby-Popper %(compactness)s",
                layout=format(_layout_label(name), "9"),
                grids=format(k["grids"], "4,"),
                max_mean=format(w["max_mean"], ".2f"),
                gini=format(w["gini"], ".3f"),
                cv=format(w["cv"], ".3f"),
                tolerance=format(kpis["tolerance"], ".0%"),
                within=format(w["within_tolerance_share"], ".0%"),
                compactness=format(k["polsby_popper_mean"], ".2f"),
            )
        )
    if kpis.get("design", {}).get("note"):
        click.echo(_("note: %(note)s", note=kpis["design"]["note"]))
    units = {
        name: kpis[name]["units"]
        for name in ("current", "designed")
        if "units" in kpis.get(name, {})
    }
    if units:
        cells = [
            _(
                "%(layout)s max/mean %(max_mean)s  Gini %(gini)s  CV %(cv)s",
                layout=_layout_label(name),
                max_mean=format(u["max_mean"], ".2f"),
                gini=format(u["gini"], ".3f"),
                cv=format(u["cv"], ".3f"),
            )
            for name, u in units.items()
        ]
        # a table row: its label in the first column, then one cell per layout
        label = pgettext("grid table", "units")
        click.echo(f"{label:9} " + "  |  ".join(cells))
    if "assignment" in kpis:
        a = kpis["assignment"]
        o = a["officer"]
        click.echo(
            _(
                "assignment (%(method)s): %(assigned)s of %(grids)s designed grids have an "
                "officer; %(same)s of %(officers)s officers keep their number of grids, "
                "%(more)s gain, %(fewer)s lose (%(none)s have none now); %(share)s of the area "
                "stays with the same officer",
                method=a["method"],
                assigned=format(a["grids_assigned"], ","),
                grids=format(a["grids"], ","),
                same=format(o["same_grids"], ","),
                officers=format(o["current"], ","),
                more=format(o["more_grids"], ","),
                fewer=format(o["fewer_grids"], ","),
                none=format(o["no_grids_now"], ","),
                share=format(a["area_with_same_officer_share"], ".0%"),
            )
        )
