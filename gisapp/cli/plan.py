"""The ``plan`` command: shift patrol routes for the units of a workspace."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import click

from gisapp.cli._common import join_items, settings_from, share_progress
from gisapp.settings import PLAN_TIME_LIMIT_S, STREET_RISK_WEIGHT
from layers.i18n import _, pgettext

if TYPE_CHECKING:
    from collections.abc import Callable

    from gisapp.services.overrides import PlanOverrides
    from gisapp.settings import Settings, Shift

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
    default=None,
    type=click.IntRange(1),
    help="Hotspots to patrol (default: as many as the units can use over the shift).",
)
@click.option(
    "--effort",
    "search_budget",
    default=None,
    type=click.IntRange(1),
    help="Amount of search (solver steps; default: the plan_effort setting, 30000): more "
    "may find a better plan and takes longer. The same workspace, options, seed and "
    "effort give the same plan on any machine.",
)
@click.option(
    "--time-limit",
    "time_limit_s",
    default=PLAN_TIME_LIMIT_S,
    show_default=True,
    type=click.FloatRange(0.1),
    help="Most seconds the search may take, whatever the effort (reached only on a very "
    "busy machine; the plan then depends on the load).",
)
@click.option(
    "--street-risk-weight",
    default=STREET_RISK_WEIGHT,
    show_default=True,
    type=click.FloatRange(0.0, 1.0),
    help="How much the drives between stops prefer streets with risk in the shift "
    "(0: fastest paths).",
)
@click.option(
    "--lock",
    "locks",
    multiple=True,
    metavar="UNIT:HOTSPOT[@HH:MM]",
    help="A stop the unit must make (a hotspot id of the plan, e.g. car-2:hs-007@23:30); "
    "moves the stop to that unit. Repeatable.",
)
@click.option(
    "--forbid",
    "forbidden",
    multiple=True,
    metavar="HOTSPOT",
    help="A hotspot id no unit may stop at (e.g. hs-012). Repeatable.",
)
@click.option(
    "--close-street",
    "closed_streets",
    multiple=True,
    metavar="NAME",
    help="A street no route may drive along (road works, an event). Repeatable.",
)
@click.option(
    "--order",
    "orders",
    multiple=True,
    metavar="UNIT:HOTSPOT,...",
    help="A unit's stops in the order you set (e.g. car-1:hs-003,hs-001); only timed. Repeatable.",
)
@click.option(
    "--overrides",
    "overrides_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="A JSON file of overrides (as saved with a plan: locks, forbidden, closed_streets, "
    "orders); the options above add to it.",
)
@click.option(
    "--keep-pileups",
    is_flag=True,
    help="Weigh the incidents piled up on one point (a reporting desk, a geocoder's default) "
    "like the others; default: the keep_pileups setting, off.",
)
@click.option("--no-save", is_flag=True, help="Do not save the plan into the workspace.")
@click.option(
    "--by",
    "by",
    type=click.Choice(["subdistrict", "community"]),
    default=None,
    help="Plan the whole city area by area: one plan per sub-district or community with "
    "the units whose grids lie mostly in it, run on the job queue's workers (the job_queue "
    "setting) or here one after another; writes city_report.json and city_report.csv.",
)
@click.pass_context
def plan(
    ctx: click.Context,
    workspace: str,
    shift_text: str,
    units_text: str | None,
    seed: int,
    out: Path,
    date_text: str | None,
    n_hotspots: int | None,
    search_budget: int | None,
    time_limit_s: float,
    street_risk_weight: float,
    locks: tuple[str, ...],
    forbidden: tuple[str, ...],
    closed_streets: tuple[str, ...],
    orders: tuple[str, ...],
    overrides_file: Path | None,
    keep_pileups: bool,
    no_save: bool,
    by: str | None,
) -> None:
    """Plan shift patrol routes for the units of WORKSPACE."""
    from gisapp.outputs.plan import write_plan
    from gisapp.services.plan import plan_shift
    from gisapp.store import open_workspace
    from gisapp.store.plans import save_plan
    from layers.schema import parse_id_list

    settings = settings_from(ctx)
    if keep_pileups:
        settings = dataclasses.replace(settings, keep_pileups=True)
    shift = settings.shift(shift_text)
    date = None
    if date_text is not None:
        try:
            date = dt.date.fromisoformat(date_text)
        except ValueError:
            raise click.BadParameter(
                _("%(text)s is not a date like 2024-05-01", text=repr(date_text)),
                param_hint="--date",
            ) from None
    if by is not None:
        extra = [name for name, given in _NOT_BY_AREA.items() if given(ctx)]
        if extra:
            raise click.UsageError(
                _(
                    "--by plans every area with its own units; leave out %(options)s",
                    options=join_items(extra),
                )
            )
        _plan_city(workspace, by, shift, date, seed, settings, search_budget, out)
        return
    unit_ids = parse_id_list(units_text) if units_text else None
    overrides = _overrides(overrides_file, locks, forbidden, closed_streets, orders)
    ws = open_workspace(workspace)
    with share_progress(_("planning the %(shift)s shift", shift=shift.label())) as progress:
        result = plan_shift(
            ws,
            shift=shift,
            date=date,
            unit_ids=unit_ids,
            seed=seed,
            settings=settings,
            n_hotspots=n_hotspots,
            search_budget=search_budget,
            time_limit_s=time_limit_s,
            street_risk_weight=street_risk_weight,
            progress=progress,
            overrides=overrides or None,
        )
    written = write_plan(result.record, out)
    saved = not no_save and not workspace.startswith("sample:")
    if saved:
        save_plan(result.record, ws)
    kpis = result.kpis
    if saved:
        click.echo(
            _("plan %(plan)s saved in %(workspace)s", plan=result.plan_id, workspace=ws.label)
        )
    else:
        click.echo(_("plan %(plan)s (not saved in the workspace)", plan=result.plan_id))
    click.echo(
        _(
            "%(shift)s plan for %(units)s unit(s): dosage %(dosage)s, %(stops)s hotspot stops "
            "(%(minutes)s min), balance %(balance)s, risk covered %(risk)s",
            shift=shift.label(),
            units=len(result.routes),
            dosage=format(kpis["objective"], ".3f"),
            stops=kpis["hotspot_stops"],
            minutes=format(kpis["hotspot_dosage_minutes"], ".0f"),
            balance=format(kpis["balance_ratio"], ".2f"),
            risk=format(kpis["risk_covered_share"], ".0%"),
        )
    )
    for note in kpis["notes"]:
        click.echo(_("note: %(note)s", note=note))
    click.echo(_("wrote %(count)s files to %(out)s", count=len(written), out=out))


def _given(name: str) -> Callable[[click.Context], bool]:
    def given(ctx: click.Context) -> bool:
        return bool(ctx.params.get(name))

    return given


#: Options that shape one plan and have no meaning for a city planned area by area.
_NOT_BY_AREA: dict[str, Callable[[click.Context], bool]] = {
    "--units": _given("units_text"),
    "--hotspots": _given("n_hotspots"),
    "--lock": _given("locks"),
    "--forbid": _given("forbidden"),
    "--close-street": _given("closed_streets"),
    "--order": _given("orders"),
    "--overrides": _given("overrides_file"),
    "--no-save": _given("no_save"),
}


def _plan_city(
    workspace: str,
    by: str,
    shift: Shift,
    date: dt.date | None,
    seed: int,
    settings: Settings,
    search_budget: int | None,
    out: Path,
) -> None:
    """Plan every area of the city on the job queue; write and print the city report."""
    from gisapp.services.fanout import plan_city, write_city_report
    from gisapp.services.jobs import job_queue

    jobs = job_queue(settings)
    label = _("planning the %(shift)s shift by %(area)s", shift=shift.label(), area=by)
    with share_progress(label) as progress:
        report = plan_city(
            workspace,
            by=by,
            shift=shift,
            date=date,
            seed=seed,
            settings=settings,
            jobs=jobs,
            progress=progress,
            search_budget=search_budget,
        )
    written = write_city_report(report, out)
    for area in report.areas:
        if area.status == "done":
            click.echo(
                _(
                    "%(area)s (%(name)s): %(status)s, plan %(plan)s, %(units)s unit(s), dosage "
                    "%(dosage)s, %(stops)s hotspot stops, %(km)s km, %(seconds)s s",
                    area=area.area_id,
                    name=area.name,
                    status=_area_status(area.status),
                    plan=area.plan_id,
                    units=len(area.unit_ids),
                    dosage=format(area.dosage, ".3f"),
                    stops=area.hotspot_stops,
                    km=format(area.distance_km, ".1f"),
                    seconds=format(area.seconds or 0.0, ".1f"),
                )
            )
        else:
            click.echo(
                _(
                    "%(area)s (%(name)s): %(status)s: %(error)s",
                    area=area.area_id,
                    name=area.name,
                    status=_area_status(area.status),
                    error=area.error,
                )
            )
    for placed in report.spanning:
        spread = join_items(f"{a} {n}" for a, n in placed.grids_by_area.items())
        click.echo(
            _(
                "note: %(unit)s spans areas (grids: %(grids)s); planned with %(area)s",
                unit=placed.unit_id,
                grids=spread,
                area=placed.area_id,
            )
        )
    for unit_id, reason in report.unplaced.items():
        click.echo(_("note: %(unit)s not planned: %(reason)s", unit=unit_id, reason=reason))
    for note in report.notes:
        click.echo(_("note: %(note)s", note=note))
    totals = report.totals
    click.echo(
        _(
            "city: %(planned)s of %(areas)s area(s) planned (%(failed)s failed, %(skipped)s "
            "skipped), %(units)s unit(s), dosage %(dosage)s, %(stops)s hotspot stops, "
            "%(km)s km, %(seconds)s s",
            planned=totals["areas_planned"],
            areas=totals["areas"],
            failed=totals["areas_failed"],
            skipped=totals["areas_skipped"],
            units=totals["units_planned"],
            dosage=format(totals["hotspot_risk_dosed"], ".3f"),
            stops=totals["hotspot_stops"],
            km=format(totals["distance_km"], ".1f"),
            seconds=format(totals["wall_seconds"], ".1f"),
        )
    )
    click.echo(_("wrote %(count)s files to %(out)s", count=len(written), out=out))
    if totals["areas_failed"]:
        raise click.exceptions.Exit(1)


def _area_status(status: str) -> str:
    """How an area of the city plan went, in words (``done``, ``failed``, ``skipped``)."""
    words = {
        "done": pgettext("area status", "done"),
        "failed": pgettext("area status", "failed"),
        "skipped": pgettext("area status", "skipped"),
    }
    return words.get(status, status)


def _overrides(
    path: Path | None,
    locks: tuple[str, ...],
    forbidden: tuple[str, ...],
    closed_streets: tuple[str, ...],
    orders: tuple[str, ...],
) -> PlanOverrides:
    """The overrides of the file (if any) and of the options, together."""
    from gisapp.services.overrides import PlanOverrides

    base = PlanOverrides()
    if path is not None:
        try:
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise click.BadParameter(
                _("%(file)s cannot be read as JSON (%(reason)s)", file=path, reason=exc),
                param_hint="--overrides",
            ) from None
        base = PlanOverrides.from_dict(
            data.get("overrides", data) if isinstance(data, dict) else {}
        )
    more = PlanOverrides.from_specs(
        locks=locks, forbidden=forbidden, closed_streets=closed_streets, orders=orders
    )
    return PlanOverrides(
        locks=base.locks + more.locks,
        forbidden=base.forbidden + more.forbidden,
        closed_streets=base.closed_streets + more.closed_streets,
        orders={**base.orders, **more.orders},
    )
