"""Coverage commands: ``place`` (duty-point placement) and ``coverage`` (1-3-5 minute
circles and blind zones)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gisapp.cli._common import out_dir_option, parse_minutes, settings_from
from gisapp.services.placement import PROPOSED_LAYER
from layers.schema import UNIT_MODES
from routing.coverage import PLACEMENT_MODELS

if TYPE_CHECKING:
    from gisapp.plans import Plan
    from gisapp.services.hourly import HourlyCoverage
    from gisapp.store.geopackage import Workspace

logger = logging.getLogger(__name__)


def _window(text: str | None) -> tuple[str, str] | None:
    if text is None:
        return None
    parts = [p.strip() for p in text.split("-")]
    if len(parts) != 2 or not all(parts):
        raise click.BadParameter(f"expected a window like '22:00-06:00', got {text!r}")
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
        f"{kpis['model']}: {kpis['opened']} duty point(s) ({kpis['fixed']} fixed, "
        f"{kpis['new_posts']} new) from {kpis['candidates']:,} candidates, {kpis['status']}"
    )
    if share is not None:
        base = kpis.get("fixed_only_covered_share")
        before = f" (fixed posts alone: {base:.1%})" if base is not None else ""
        click.echo(f"{kpis['demand']} covered within {minutes:g} min: {share:.1%}{before}")
    if save:
        save_proposed(ws, result)
        click.echo(f"Saved the proposal as layer {PROPOSED_LAYER!r} of {ws.label}")
    click.echo(f"Wrote duty_points.geojson and kpis.json to {out}")


def _plan(ws: Workspace, text: str | Path) -> Plan:
    """The plan ``--plan`` names: a plan folder (or its stops.csv), else a saved plan id."""
    from gisapp.outputs.plan import read_plan_dir
    from gisapp.store.plans import load_plan

    path = Path(text)
    if path.exists():
        # the times are read in the workspace's time zone, as its risk hours are
        return read_plan_dir(path.parent if path.is_file() else path, timezone=ws.timezone)
    return load_plan(ws, str(text))


def _echo_bands(kpis: dict[str, Any]) -> None:
    for band in kpis["bands"]:
        risk = "" if band["risk_share"] is None else f", risk {band['risk_share']:.1%}"
        places = (
            ""
            if band["key_places_share"] is None
            else f", key places {band['key_places_share']:.1%}"
        )
        people = (
            ""
            if band.get("residents_share") is None
            else f", {kpis['residents_measure']} {band['residents_share']:.1%}"
        )
        click.echo(
            f"{band['minutes']:g} min: street {band['street_share']:.1%}{risk}{places}"
            f"{people}, {band['area_km2']:,.2f} km2"
        )


def _echo_blind(kpis: dict[str, Any], street_minutes: float) -> None:
    blind = kpis["blind"]
    click.echo(
        f"blind zones (盲区): {blind['street_zones']} street zone(s), "
        f"{blind['street_length_km']:,.1f} km of street beyond {street_minutes:g} min, "
        f"{blind['grids']} grid(s), {blind['key_places']} key place(s), "
        f"{blind['prevention_zones']} prevention zone(s)"
    )
    if kpis["key_places"]["count"] == 0:
        click.echo(f"note: {kpis['key_places']['note']}")


def _echo_hours(hourly: HourlyCoverage) -> None:
    widest = hourly.minutes[-1]
    click.echo(f"plan {hourly.plan_id} ({hourly.shift}), within {widest:g} min by hour:")
    for row in hourly.rows():
        band = row["bands"][-1]
        risk = "" if band["risk_share"] is None else f", risk {band['risk_share']:.1%}"
        click.echo(f"  {row['hour']}: street {band['street_share']:.1%}{risk}")


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
    from gisapp.render.coverage import coverage_map, hourly_coverage_map
    from gisapp.render.maps import attribution_for
    from gisapp.services.coverage import CoverageOptions, compute_coverage, coverage_kpis
    from gisapp.services.coverage_inputs import read_posts
    from gisapp.services.hourly import HourlyOptions, plan_coverage_by_hour
    from gisapp.store import open_workspace

    settings = settings_from(ctx)
    minutes = (
        list(settings.response_minutes) if minutes_text is None else parse_minutes(minutes_text)
    )
    if save_zones and not school_zones:
        raise click.UsageError("--save-zones needs --school-zones")
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
    result = compute_coverage(ws, options)
    hourly = None
    if plan is not None:
        hourly = plan_coverage_by_hour(
            ws,
            _plan(ws, plan),
            HourlyOptions(
                minutes=tuple(minutes),
                mode=mode,
                key_place_minutes=settings.key_place_minutes,
                keep_pileups=settings.keep_pileups,
            ),
        )
    roads = ws.layer("roads")
    attribution = attribution_for(ws.layer_notes)
    kpis = coverage_kpis(result, hourly)
    maps = {"coverage_map.html": coverage_map(result, roads=roads, attribution=attribution)}
    if hourly is not None:
        maps["coverage_by_hour.html"] = hourly_coverage_map(
            hourly, roads=roads, attribution=attribution, inline_assets=True
        )
    write_coverage_files(
        bands=result.bands,
        blind_zones=result.blind_zones,
        kpis=kpis,
        out=out,
        hourly=None if hourly is None else hourly.table,
        pages=maps,
    )
    _echo_bands(kpis)
    _echo_blind(kpis, street_minutes)
    if hourly is not None:
        _echo_hours(hourly)
    added = kpis["prevention_zones"]["added_school_zones"]
    if school_zones:
        click.echo(f"school surroundings zones added: {added}")
        if save_zones and added:
            ws.save({"prevention_zones": result.prevention_zones})
            click.echo(f"Saved {added} new zone(s) in the prevention_zones layer of {ws.label}")
    extra = " and the coverage by hour" if hourly is not None else ""
    click.echo(
        f"Wrote {len(kpis['bands'])} band(s), blind_zones.geojson, kpis.json and "
        f"coverage_map.html{extra} to {out}"
    )
