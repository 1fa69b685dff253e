"""A plan's stable files: ``routes.geojson``, ``stops.csv``, ``hotspots.geojson``,
``<unit_id>.gpx``, ``kpis.json`` — written here and read back here, nowhere else.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio

from gisapp.errors import ExportError
from gisapp.outputs.files import (
    csv_text,
    output_dir,
    safe_path,
    unique_file_names,
    write_file,
)
from gisapp.outputs.geojson import to_geojson, write_geojson
from gisapp.outputs.gpx import gpx_bytes
from gisapp.outputs.kpis import write_kpis
from gisapp.plans import STOP_COLUMNS, STOP_EXTRA_COLUMNS, Plan, iso_text, plan_from_frames
from layers.i18n import _


def stops_table(plan: Plan) -> pd.DataFrame:
    """The stops as written to ``stops.csv``: stable columns first, times ISO 8601 text."""
    table = plan.stops.copy()
    for column in ("arrive", "depart"):
        table[column] = table[column].map(iso_text)
    extra = [c for c in table.columns if c not in STOP_COLUMNS]
    return table[[*STOP_COLUMNS, *extra]]


def stops_csv(plan: Plan) -> str:
    """Every unit's stops as the stable ``stops.csv`` text."""
    return csv_text(stops_table(plan))


def stops_layer(plan: Plan) -> gpd.GeoDataFrame:
    """The stops as WGS84 points with ISO 8601 times."""
    table = stops_table(plan)
    geometry = gpd.points_from_xy(table["lon"], table["lat"], crs=4326)
    return gpd.GeoDataFrame(table, geometry=geometry, crs=4326)


def routes_geojson(plan: Plan, *, coordinate_system: str | None = None) -> str:
    """The plan's routes as GeoJSON text (EPSG:4326, one feature per unit);
    ``coordinate_system`` labels a plan converted to an offset system."""
    return to_geojson(plan.routes, coordinate_system=coordinate_system)


def stops_geojson(plan: Plan, *, coordinate_system: str | None = None) -> str:
    """The plan's stops as GeoJSON points, times as ISO 8601 text;
    ``coordinate_system`` labels a plan converted to an offset system."""
    return to_geojson(stops_layer(plan), coordinate_system=coordinate_system)


def unit_file_names(plan: Plan, suffix: str) -> dict[str, str]:
    """One safe, distinct file name per unit (``car-1.gpx``; Chinese names kept)."""
    return dict(zip(plan.unit_ids, unique_file_names(plan.unit_ids, suffix=suffix), strict=True))


def write_plan(plan: Plan, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write ``routes.geojson``, ``stops.csv``, ``hotspots.geojson`` (when known),
    ``<unit_id>.gpx`` per unit and ``kpis.json`` into ``out_dir``; return the files."""
    out = output_dir(out_dir)
    written = [
        write_geojson(plan.routes, out / "routes.geojson"),
        write_file(out / "stops.csv", stops_csv(plan)),
    ]
    if plan.hotspots is not None:
        written.append(write_geojson(plan.hotspots, out / "hotspots.geojson"))
    for unit_id, name in unit_file_names(plan, ".gpx").items():
        written.append(write_file(safe_path(out, name), gpx_bytes(plan, unit_id)))
    written.append(write_kpis(plan.kpis, out / "kpis.json"))
    return written


def write_gpkg(plan: Plan, path: str | os.PathLike[str]) -> Path:
    """Write the plan as a GeoPackage with layers ``routes`` and ``stops``, atomically."""
    target = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".gpkg", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()
    try:
        with warnings.catch_warnings():
            # GDAL notes about layer creation options are not the user's problem.
            warnings.simplefilter("ignore", RuntimeWarning)
            pyogrio.write_dataframe(plan.routes, tmp, layer="routes", driver="GPKG")
            pyogrio.write_dataframe(stops_layer(plan), tmp, layer="stops", driver="GPKG")
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    return target


def read_plan_dir(
    directory: str | os.PathLike[str],
    *,
    plan_id: str | None = None,
    timezone: str | None = None,
) -> Plan:
    """Read a plan from its stable files: ``routes.geojson``, ``stops.csv``, ``kpis.json``.

    Unit ids are read as text (``007`` stays ``007``).

    Parameters
    ----------
    directory
        Folder written by ``gisapp plan``.
    plan_id
        Plan identifier; by default the KPIs' ``plan_id``, else the folder name.
    timezone
        Time zone of the times; by default the KPIs' ``timezone``, else UTC.

    Raises
    ------
    ExportError
        If a file is missing or its content is not a plan.
    """
    folder = Path(directory)
    needed = [folder / "routes.geojson", folder / "stops.csv"]
    absent = [p.name for p in needed if not p.is_file()]
    if absent:
        raise ExportError(
            _(
                "plan folder %(folder)r lacks %(files)s; "
                "point it at the --out folder of 'gisapp plan'",
                folder=str(folder),
                files=", ".join(absent),
            )
        )
    kpis = _read_kpis(folder / "kpis.json")
    try:
        routes = gpd.read_file(needed[0])
        stops = pd.read_csv(
            needed[1],
            dtype={
                "unit_id": str,
                "name": str,
                "street": str,
                **dict.fromkeys(STOP_EXTRA_COLUMNS, str),
            },
            keep_default_na=False,
        )
        hotspots_path = folder / "hotspots.geojson"
        hotspots = gpd.read_file(hotspots_path) if hotspots_path.is_file() else None
    except (pyogrio.errors.DataSourceError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ExportError(
            _(
                "plan files in %(folder)r cannot be read (%(error)s)",
                folder=str(folder),
                error=exc,
            )
        ) from None
    if "unit_id" in routes.columns:
        # GeoJSON readers guess types: an id written as "007" must stay text.
        routes["unit_id"] = _raw_unit_ids(needed[0], routes["unit_id"])
    for column in ("arrive", "depart", "dwell_min"):
        if column in stops.columns:
            stops[column] = stops[column].replace("", None)
    return plan_from_frames(
        routes,
        stops,
        kpis=kpis,
        plan_id=plan_id or str(kpis.get("plan_id") or folder.name),
        timezone=timezone,
        hotspots=hotspots,
    )


def _read_kpis(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ExportError(
            _("%(path)r is not valid JSON (%(error)s)", path=str(path), error=exc)
        ) from None
    return loaded if isinstance(loaded, dict) else {}


def _raw_unit_ids(path: Path, parsed: pd.Series) -> pd.Series:
    try:
        features = json.loads(path.read_text(encoding="utf-8")).get("features", [])
        raw = [str((f.get("properties") or {}).get("unit_id")) for f in features]
    except (json.JSONDecodeError, AttributeError):
        return parsed.astype(str)
    return pd.Series(raw, index=parsed.index) if len(raw) == len(parsed) else parsed.astype(str)
