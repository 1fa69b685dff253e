"""Street network commands: ``network`` (build and export) and ``reach`` (1-3-5 minute areas)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click
import geopandas as gpd

from gisapp.cli._common import open_workspace, out_dir_option, parse_minutes, write_json
from gisapp.errors import WorkspaceError
from gisapp.services.network import workspace_network
from gisapp.store.geopackage import Workspace
from layers.schema import STORAGE_CRS, UNIT_MODES
from routing.network import StreetNetwork
from routing.reach import isochrones

logger = logging.getLogger(__name__)


def _network(workspace: Workspace, mode: str, node_tolerance_m: float) -> StreetNetwork:
    return workspace_network(workspace, mode, node_tolerance_m=node_tolerance_m)


def _band_name(minutes: float) -> str:
    return f"{minutes:g}"


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
    ws = open_workspace(workspace)
    net = _network(ws, mode, node_tolerance_m)
    out.mkdir(parents=True, exist_ok=True)
    target = out / "network.gpkg"
    net.edges_gdf(crs=STORAGE_CRS).to_file(target, layer="edges", driver="GPKG")
    net.nodes_gdf(crs=STORAGE_CRS).to_file(target, layer="nodes", driver="GPKG", mode="a")
    click.echo(net.report.summary())
    click.echo(f"{net.n_edges:,} directed edges; CRS for distances: {net.crs.name}")
    click.echo(f"Wrote {target}")


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
def reach(
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
    m minutes, drawn along the streets) and kpis.json beside them.
    """
    minutes = parse_minutes(minutes_text)
    ws = open_workspace(workspace)
    sources = ws.layer(from_layer)
    if not isinstance(sources, gpd.GeoDataFrame) or len(sources) == 0:
        raise WorkspaceError(
            f"layer {from_layer!r} of workspace {ws.path.name!r} has no points to start from; "
            "import it or pick another layer with --from"
        )
    if "id" in sources.columns:
        sources = sources.set_index("id")
    net = _network(ws, mode, node_tolerance_m)
    bands = isochrones(net, sources.geometry, minutes=minutes, buffer_m=buffer_m)
    out.mkdir(parents=True, exist_ok=True)
    kpis: dict[str, Any] = {
        "workspace": ws.name,
        "mode": mode,
        "sources_layer": from_layer,
        "sources": len(sources),
        "network_km": round(net.length_km, 3),
        "buffer_m": buffer_m,
        "bands": [],
    }
    for row in bands.itertuples():
        name = f"reach_{_band_name(row.minutes)}min.geojson"
        band = bands[bands["minutes"] == row.minutes].to_crs(STORAGE_CRS)
        band.to_file(out / name, driver="GeoJSON")
        kpis["bands"].append(
            {
                "minutes": row.minutes,
                "file": name,
                "reached_km": round(row.reached_km, 3),
                "reached_share": round(row.reached_km / net.length_km, 4) if net.length_km else 0,
                "area_km2": round(row.area_km2, 4),
            }
        )
        click.echo(
            f"{_band_name(row.minutes)} min: {row.reached_km:,.1f} of {net.length_km:,.1f} km "
            f"of street, {row.area_km2:,.2f} km2"
        )
    write_json(kpis, out / "kpis.json")
    click.echo(f"Wrote {len(bands)} band(s) and kpis.json to {out}")
