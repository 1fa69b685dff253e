"""The ``plan`` command: shift patrol routes for the units of a workspace."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import click

from gisapp.cli._common import settings_from, timed_progress
from gisapp.outputs.plan import write_plan
from gisapp.services.plan import STREET_RISK_WEIGHT, plan_shift
from gisapp.store import open_workspace
from gisapp.store.plans import save_plan

logger = logging.getLogger(__name__)


@click.command("plan")
@click.argument("workspace")
@click.option(
    "--shift",
    "shift_text",
    required=True,
    help="Shift window like 22:00-06:00 (may cross midnight) or a named shift "
    "from the settings (day, evening, night, late).",
)
@click.option(
    "--units",
    "units_text",
    default=None,
    help="Comma-separated unit ids (default: the units on this shift).",
)
@click.option(
    "--seed",
    default=0,
    show_default=True,
    type=int,
    help="Varies the routes from shift to shift with the same guarantees.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for routes.geojson, stops.csv, <unit>.gpx and kpis.json.",
)
@click.option(
    "--date",
    "date_text",
    default=None,
    help="Day the shift starts, YYYY-MM-DD (default: today, workspace time zone).",
)
@click.option(
    "--hotspots",
    "n_hotspots",
    default=40,
    show_default=True,
    type=click.IntRange(1),
    help="Hotspots to patrol.",
)
@click.option(
    "--time-limit",
    "time_limit_s",
    default=30.0,
    show_default=True,
    type=click.FloatRange(0.1),
    help="Solver search seconds.",
)
@click.option(
    "--street-risk-weight",
    default=STREET_RISK_WEIGHT,
    show_default=True,
    type=click.FloatRange(0.0, 1.0),
    help="How much the drives between stops prefer streets with risk in the shift "
    "(0: fastest paths).",
)
@click.option("--no-save", is_flag=True, help="Do not save the plan into the workspace.")
@click.pass_context
def plan(
    ctx: click.Context,
    workspace: str,
    shift_text: str,
    units_text: str | None,
    seed: int,
    out: Path,
    date_text: str | None,
    n_hotspots: int,
    time_limit_s: float,
    street_risk_weight: float,
    no_save: bool,
) -> None:
    """Plan shift patrol routes for the units of WORKSPACE."""
    settings = settings_from(ctx)
    shift = settings.shift(shift_text)
    date = None
    if date_text is not None:
        try:
            date = dt.date.fromisoformat(date_text)
        except ValueError:
            raise click.BadParameter(
                f"{date_text!r} is not a date like 2024-05-01", param_hint="--date"
            ) from None
    unit_ids = [u.strip() for u in units_text.split(",") if u.strip()] if units_text else None
    ws = open_workspace(workspace)
    with timed_progress(f"planning the {shift.label()} shift", time_limit_s):
        result = plan_shift(
            ws,
            shift=shift,
            date=date,
            unit_ids=unit_ids,
            seed=seed,
            settings=settings,
            n_hotspots=n_hotspots,
            time_limit_s=time_limit_s,
            street_risk_weight=street_risk_weight,
        )
    written = write_plan(result.record, out)
    saved = not no_save and not workspace.startswith("sample:")
    if saved:
        save_plan(result.record, ws)
    kpis = result.kpis
    click.echo(
        f"plan {result.plan_id}"
        + (f" saved in {ws.label}" if saved else " (not saved in the workspace)")
    )
    click.echo(
        f"{shift.label()} plan for {len(result.routes)} unit(s): dosage {kpis['objective']:.3f}, "
        f"{kpis['hotspot_stops']} hotspot stops ({kpis['hotspot_dosage_minutes']:.0f} min), "
        f"balance {kpis['balance_ratio']:.2f}, risk covered {kpis['risk_covered_share']:.0%}"
    )
    click.echo(f"wrote {len(written)} files to {out}")
