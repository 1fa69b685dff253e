"""Coverage commands: ``place`` (duty-point placement) and ``coverage`` (1-3-5 minute
circles and blind zones)."""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gisapp.cli._common import (
    join_items,
    lang_option,
    out_dir_option,
    parse_minutes,
    settings_from,
)
from gisapp.services.placement import PROPOSED_LAYER
from layers.i18n import _, pgettext
from layers.schema import UNIT_MODES
from routing.coverage import PLACEMENT_MODELS

if TYPE_CHECKING:
    from gisapp.plans import Plan
    from gisapp.services.coverage import CoverageResult
    from gisapp.services.hourly import HourlyCoverage, HourlyOptions
    from gisapp.store.geopackage import Workspace

logger = logging.getLogger(__name__)


def _window(text: str | None) -> tuple[str, str] | None:
    if text is None:
        return None
    parts = [p.strip() for p in text.split("-")]
    if len(parts) != 2 or not all(parts):
        raise click.BadParameter(
            _("expected a window like '22:00-06:00', got %(text)s", text=repr(text))
        )
    return parts[0], parts[1]


_MODE = click.option(
    "--mode",
    type=click.Choice(UNIT_MODES),
    default="car",
    show_default=True,
    help="Travel mode of the responders.",
)
_RISK_WINDOW = click.option(
    "--risk-window",
    default=None,
    help="Shift window of the incident risk, e.g. 22:00-06:00 (default: every hour).",
)


@click.command("place")
@click.argument("workspace")
@click.option(
    "--model",
    type=click.Choice(list(PLACEMENT_MODELS)),
    default="mclp",
    show_default=True,
    help="mclp: most risk within the radius; lscp: fewest posts covering all; pmedian: "
    "least total time; pcenter: least worst time; backup: most risk covered twice.",
)
@click.option(
    "--posts",
    type=click.IntRange(0),
    default=5,
    show_default=True,
    help="New duty points to add; stations and existing duty points stay (fixed).",
)
@click.option(
    "--minutes",
    type=click.FloatRange(0, min_open=True),
    default=3.0,
    show_default=True,
    help="Service radius in minutes.",
)
@click.option(
    "--demand",
    type=click.Choice(["risk", "key_places"]),
    default="risk",
    show_default=True,
    help="What to cover: street risk from incidents, or key places in their required minutes.",
)
@click.option(
    "--max-candidates",
    type=click.IntRange(1),
    default=400,
    show_default=True,
    help="Most intersections considered as sites (thinned evenly, then sampled with --seed).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sampling.")
@click.option(
    "--time-limit-s",
    type=click.FloatRange(0, min_open=True),
    default=60.0,
    show_default=True,
    help="Solver time limit; the best answer so far is kept.",
)
@click.option(
    "--save",
    is_flag=True,
    help=f"Also store the proposal as the workspace layer {PROPOSED_LAYER!r} "
    "(the duty_points layer is never changed).",
)
@_RISK_WINDOW
@_MODE
@out_dir_option
@click.pass_context
def place(
    ctx: click.Context,
    workspace: str,
    model: str,
    posts: int,
    minutes: float,
    demand: str,
    max_candidates: int,
    seed: int,
    time_limit_s: float,
    save: bool,
    risk_window: str | None,
    mode: str,
    out: Path,
) -> None:
    """Propose duty points (执勤点) for WORKSPACE over street travel times.

    Writes duty_points.geojson (id, fixed, covered_weight; stations and existing duty points
    are fixed) and kpis.json to --out.
    """
    from gisapp.outputs.coverage import write_placement
    from gisapp.services.placement import PlacementOptions, propose_posts, save_proposed
    from gisapp.store import open_workspace

    settings = settings_from(ctx)
    ws = open_workspace(workspace)
    options = PlacementOptions(
        model=model,
        posts=posts,
        minutes=minutes,
        demand=demand,
        mode=mode,
        key_place_minutes=settings.key_place_minutes,
        max_candidates=max_candidates,
        time_limit_s=time_limit_s,
        seed=seed,
        risk_window=_window(risk_window),
        keep_pileups=settings.keep_pileups,
    )
    result = propose_posts(ws, options)
    write_placement(result.duty_points, result.kpis, out)
    kpis = result.kpis
    share = kpis["covered_share"]
    click.echo(
        _(
            "%(model)s: %(opened)s duty point(s) (%(fixed)s fixed, %(new)s new) from "
            "%(candidates)s candidates, %(status)s",
            model=kpis["model"],
            opened=kpis["opened"],
            fixed=kpis["fixed"],
            new=kpis["new_posts"],
            candidates=format(kpis["candidates"], ","),
            status=_status_label(kpis["status"]),
        )
    )
    if share is not None:
        base = kpis.get("fixed_only_covered_share")
        figures = {
            "demand": _demand_label(kpis["demand"]),
            "minutes": f"{minutes:g}",
            "share": f"{share:.1%}",
        }
        if base is None:
            line = _("%(demand)s covered within %(minutes)s min: %(share)s", **figures)
        else:
            line = _(
                "%(demand)s covered within %(minutes)s min: %(share)s (fixed posts alone: "
                "%(fixed_share)s)",
                fixed_share=format(base, ".1%"),
                **figures,
            )
        click.echo(line)
    if save:
        save_proposed(ws, result)
        click.echo(
            _(
                "Saved the proposal as layer %(layer)s of %(workspace)s",
                layer=repr(PROPOSED_LAYER),
                workspace=ws.label,
            )
        )
    click.echo(_("Wrote duty_points.geojson and kpis.json to %(out)s", out=out))


def _plan(ws: Workspace, text: str | Path) -> Plan:
    """The plan ``--plan`` names: a plan folder (or its stops.csv), else a saved plan id."""
    from gisapp.outputs.plan import read_plan_dir
    from gisapp.store.plans import load_plan

    path = Path(text)
    if path.exists():
        # the times are read in the workspace's time zone, as its risk hours are
        return read_plan_dir(path.parent if path.is_file() else path, timezone=ws.timezone)
    return load_plan(ws, str(text))


def _plan_hours(
    location: str, plan: Plan, options: HourlyOptions, attribution: str | None
) -> tuple[HourlyCoverage, str]:
    """A plan's coverage by hour and its offline map (run beside the stations' coverage)."""
    from gisapp.render.coverage import hourly_coverage_map
    from gisapp.render.maps import roads_base
    from gisapp.services.hourly import plan_coverage_by_hour
    from gisapp.store import open_workspace

    ws = open_workspace(location)
    hourly = plan_coverage_by_hour(ws, plan, options)
    page = hourly_coverage_map(
        hourly, roads=roads_base(ws.layer("roads")), attribution=attribution, inline_assets=True
    )
    return hourly, page


def _echo_bands(kpis: dict[str, Any]) -> None:
    for band in kpis["bands"]:
        # the figures of the band, each a label and its value
        figures = [_("street %(share)s", share=format(band["street_share"], ".1%"))]
        if band["risk_share"] is not None:
            figures.append(_("risk %(share)s", share=format(band["risk_share"], ".1%")))
        if band["key_places_share"] is not None:
            figures.append(_("key places %(share)s", share=format(band["key_places_share"], ".1%")))
        if band.get("residents_share") is not None:
            measure = _residents_label(kpis["residents_measure"])
            figures.append(f"{measure} {band['residents_share']:.1%}")
        figures.append(_("%(area)s km2", area=format(band["area_km2"], ",.2f")))
        click.echo(
            _(
                "%(minutes)s min: %(figures)s",
                minutes=format(band["minutes"], "g"),
                figures=join_items(figures),
            )
        )


def _status_label(status: str) -> str:
    """How the placement answer was reached, in words (the solver's status code)."""
    words = {
        "optimal": pgettext("solver status", "optimal"),
        "time_limit": pgettext("solver status", "time_limit"),
        "greedy": pgettext("solver status", "greedy"),
    }
    return words.get(status, status)


def _demand_label(demand: str) -> str:
    """What a placement covers, in words (the value of ``--demand``)."""
    words = {
        "risk": pgettext("coverage demand", "risk"),
        "key_places": pgettext("coverage demand", "key_places"),
    }
    return words.get(demand, demand)


def _residents_label(measure: str) -> str:
    """The word for the residents a band reaches: ``population`` or ``households``."""
    words = {
        "population": pgettext("residents measure", "population"),
        "households": pgettext("residents measure", "households"),
    }
    return words.get(measure, measure)


def _echo_blind(kpis: dict[str, Any], street_minutes: float) -> None:
    blind = kpis["blind"]
    click.echo(
        _(
            "blind zones: %(street_zones)s street zone(s), %(street_km)s km of street beyond "
            "%(minutes)s min, %(grids)s grid(s), %(key_places)s key place(s), "
            "%(prevention_zones)s prevention zone(s)",
            street_zones=blind["street_zones"],
            street_km=format(blind["street_length_km"], ",.1f"),
            minutes=format(street_minutes, "g"),
            grids=blind["grids"],
            key_places=blind["key_places"],
            prevention_zones=blind["prevention_zones"],
        )
    )
    if kpis["key_places"]["count"] == 0:
        click.echo(_("note: %(note)s", note=kpis["key_places"]["note"]))


def _echo_hours(hourly: HourlyCoverage) -> None:
    widest = hourly.minutes[-1]
    click.echo(
        _(
            "plan %(plan)s (%(shift)s), within %(minutes)s min by hour:",
            plan=hourly.plan_id,
            shift=hourly.shift,
            minutes=format(widest, "g"),
        )
    )
    for row in hourly.rows():
        band = row["bands"][-1]
        figures = [_("street %(share)s", share=format(band["street_share"], ".1%"))]
        if band["risk_share"] is not None:
            figures.append(_("risk %(share)s", share=format(band["risk_share"], ".1%")))
        click.echo("  " + _("%(hour)s: %(figures)s", hour=row["hour"], figures=join_items(figures)))


@click.command("coverage")
@click.argument("workspace")
@click.option(
    "--minutes",
    "minutes_text",
    default=None,
    help="Comma-separated rapid-response bands (快反圈); default from the settings (1,3,5).",
)
@click.option(
    "--street-minutes",
    type=click.FloatRange(0, min_open=True),
    default=3.0,
    show_default=True,
    help="Streets not reached within this are blind zones (盲区).",
)
@click.option(
    "--with-posts",
    "with_posts",
    default=None,
    help="Extra duty points: a file such as the duty_points.geojson of 'gisapp place', or a "
    "workspace layer name such as proposed_duty_points.",
)
@click.option(
    "--plan",
    "plan",
    default=None,
    help="A saved plan id of the workspace, or a plan's output folder (or its stops.csv): "
    "adds coverage hour by hour of its shift, the units moving along their routes.",
)
@click.option(
    "--school-zones",
    is_flag=True,
    help="Add 200 m prevention zones around schools and kindergartens that have none.",
)
@click.option(
    "--save-zones",
    is_flag=True,
    help="With --school-zones: also store the added zones in the workspace's prevention_zones.",
)
@click.option(
    "--buffer-m",
    type=click.FloatRange(0, min_open=True),
    default=25.0,
    show_default=True,
    help="Half-width of reach and blind-zone areas around the streets.",
)
@_RISK_WINDOW
@_MODE
@out_dir_option
@lang_option
@click.pass_context
def coverage(
    ctx: click.Context,
    workspace: str,
    minutes_text: str | None,
    street_minutes: float,
    with_posts: str | None,
    plan: str | None,
    school_zones: bool,
    save_zones: bool,
    buffer_m: float,
    risk_window: str | None,
    mode: str,
    out: Path,
) -> None:
    """Measure 1-3-5 minute coverage and blind zones of WORKSPACE's stations and posts.

    Writes reach_<m>min.geojson per band, blind_zones.geojson (kind, risk,
    required_minutes, reached_minutes), kpis.json and coverage_map.html (works offline) to
    --out; with --plan also coverage_by_hour.csv and coverage_by_hour.html (the risk of the
    plan's shift hours, as on the web coverage page).
    """
    from gisapp.outputs.coverage import write_coverage_files
    from gisapp.render.coverage import coverage_map
    from gisapp.render.maps import attribution_for, roads_base
    from gisapp.services.coverage import CoverageOptions, compute_coverage, coverage_kpis
    from gisapp.services.coverage_inputs import read_posts
    from gisapp.services.hourly import HourlyOptions
    from gisapp.services.side import side_by_side
    from gisapp.store import open_workspace

    settings = settings_from(ctx)
    minutes = (
        list(settings.response_minutes) if minutes_text is None else parse_minutes(minutes_text)
    )
    if save_zones and not school_zones:
        raise click.UsageError(_("--save-zones needs --school-zones"))
    ws = open_workspace(workspace)
    options = CoverageOptions(
        minutes=tuple(minutes),
        street_minutes=street_minutes,
        key_place_minutes=settings.key_place_minutes,
        mode=mode,
        extra_posts=None if with_posts is None else read_posts(with_posts, ws),
        add_school_zones=school_zones,
        buffer_m=buffer_m,
        risk_window=_window(risk_window),
        keep_pileups=settings.keep_pileups,
    )
    attribution = attribution_for(ws.layer_notes)

    def stations() -> tuple[CoverageResult, str]:
        result = compute_coverage(ws, options)
        roads = roads_base(ws.layer("roads"))
        return result, coverage_map(result, roads=roads, attribution=attribution)

    hourly: HourlyCoverage | None = None
    if plan is None:
        result, page = stations()
        pages = {"coverage_map.html": page}
    else:
        hourly_options = HourlyOptions(
            minutes=tuple(minutes),
            mode=mode,
            key_place_minutes=settings.key_place_minutes,
            keep_pileups=settings.keep_pileups,
        )
        hours = functools.partial(
            _plan_hours, ws.location, _plan(ws, plan), hourly_options, attribution
        )
        # the stations' coverage here, the plan's hours and their map in a second process
        (result, page), (hourly, hourly_page) = side_by_side(stations, hours)
        pages = {"coverage_map.html": page, "coverage_by_hour.html": hourly_page}
    kpis = coverage_kpis(result, hourly)
    write_coverage_files(
        bands=result.bands,
        blind_zones=result.blind_zones,
        kpis=kpis,
        out=out,
        hourly=None if hourly is None else hourly.table,
        pages=pages,
    )
    _echo_bands(kpis)
    _echo_blind(kpis, street_minutes)
    if hourly is not None:
        _echo_hours(hourly)
    added = kpis["prevention_zones"]["added_school_zones"]
    if school_zones:
        click.echo(_("school surroundings zones added: %(count)s", count=added))
        if save_zones and added:
            ws.save({"prevention_zones": result.prevention_zones})
            click.echo(
                _(
                    "Saved %(count)s new zone(s) in the prevention_zones layer of %(workspace)s",
                    count=added,
                    workspace=ws.label,
                )
            )
    if hourly is None:
        wrote = _(
            "Wrote %(bands)s band(s), blind_zones.geojson, kpis.json and coverage_map.html "
            "to %(out)s",
            bands=len(kpis["bands"]),
            out=out,
        )
    else:
        wrote = _(
            "Wrote %(bands)s band(s), blind_zones.geojson, kpis.json and coverage_map.html "
            "and the coverage by hour to %(out)s",
            bands=len(kpis["bands"]),
            out=out,
        )
    click.echo(wrote)
