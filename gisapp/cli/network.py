"""Street network commands: ``network`` (build and export) and ``reach`` (1-3-5 minute areas)."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from gisapp.cli._common import out_dir_option, parse_minutes, settings_from
from layers.i18n import _
from layers.schema import STORAGE_CRS, UNIT_MODES

logger = logging.getLogger(__name__)


_MODE = click.option(
    "--mode",
    type=click.Choice(UNIT_MODES),
    default="car",
    show_default=True,
    help="Travel mode: speeds, usable road classes and one-way rules.",
)
_TOLERANCE = click.option(
    "--node-tolerance-m",
    type=click.FloatRange(0),
    default=0.5,
    show_default=True,
    help="Line ends closer than this are joined.",
)


@click.command("network")
@click.argument("workspace")
@_MODE
@_TOLERANCE
@out_dir_option
def network(workspace: str, mode: str, node_tolerance_m: float, out: Path) -> None:
    """Build the street network of WORKSPACE's roads and write network.gpkg to --out.

    Lines are joined where they cross; only the largest strongly connected part is kept and
    the rest is reported. network.gpkg holds the directed 'edges' (length_m, travel_time_s,
    speed_kph) and the 'nodes', in WGS84.
    """
    from gisapp.services.network import workspace_network
    from gisapp.store import open_workspace

    ws = open_workspace(workspace)
    net = workspace_network(ws, mode, node_tolerance_m=node_tolerance_m)
    out.mkdir(parents=True, exist_ok=True)
    target = out / "network.gpkg"
    # through Arrow: a city's 200,000 edges are written a fifth faster
    net.edges_gdf(crs=STORAGE_CRS).to_file(target, layer="edges", driver="GPKG", use_arrow=True)
    net.nodes_gdf(crs=STORAGE_CRS).to_file(
        target, layer="nodes", driver="GPKG", mode="a", use_arrow=True
    )
    click.echo(net.report.summary())
    click.echo(
        _(
            "%(edges)s directed edges; CRS for distances: %(crs)s",
            edges=format(net.n_edges, ","),
            crs=net.crs.name,
        )
    )
    click.echo(_("Wrote %(file)s", file=target))


@click.command("reach")
@click.argument("workspace")
@click.option(
    "--from",
    "from_layer",
    default="stations",
    show_default=True,
    help="Point layer the reach starts from (stations, duty_points...).",
)
@click.option(
    "--minutes",
    "minutes_text",
    default="1,3,5",
    show_default=True,
    help="Comma-separated minute bands.",
)
@click.option(
    "--buffer-m",
    type=click.FloatRange(0, min_open=True),
    default=25.0,
    show_default=True,
    help="Half-width of the reached area around each street.",
)
@_MODE
@_TOLERANCE
@out_dir_option
@click.pass_context
def reach(
    ctx: click.Context,
    workspace: str,
    from_layer: str,
    minutes_text: str,
    buffer_m: float,
    mode: str,
    node_tolerance_m: float,
    out: Path,
) -> None:
    """Write the areas reached within each minute band from a point layer of WORKSPACE.

    One reach_<m>min.geojson per band (everything reached from the nearest source within
    m minutes, drawn along the streets) and kpis.json beside them: the same bands and
    figures as 'gisapp coverage' gives (street, risk and key-place shares).
    """
    from gisapp.outputs.coverage import write_reach
    from gisapp.services.reach import ReachOptions, compute_reach
    from gisapp.store import open_workspace

    minutes = parse_minutes(minutes_text)
    ws = open_workspace(workspace)
    options = ReachOptions(
        from_layer=from_layer,
        minutes=tuple(minutes),
        buffer_m=buffer_m,
        mode=mode,
        node_tolerance_m=node_tolerance_m,
        keep_pileups=settings_from(ctx).keep_pileups,
    )
    result = compute_reach(ws, options)
    write_reach(result.bands, result.kpis, out)
    for band in result.kpis["bands"]:
        click.echo(
            _(
                "%(minutes)s min: %(reached)s of %(total)s km of street, %(area)s km2",
                minutes=format(band["minutes"], "g"),
                reached=format(band["reached_km"], ",.1f"),
                total=format(result.network_km, ",.1f"),
                area=format(band["area_km2"], ",.2f"),
            )
        )
    bands = len(result.kpis["bands"])
    click.echo(_("Wrote %(bands)s band(s) and kpis.json to %(out)s", bands=bands, out=out))
