"""The coverage and placement files (DESIGN §5): the one writer of each.

* ``reach_<m>min.geojson`` per minute band (:func:`write_reach_bands`), written alike by
  ``gisapp reach`` and ``gisapp coverage`` and served by the web coverage page;
* ``blind_zones.geojson``, riskiest first (``rank``, ``kind``, ``name``, ``street``,
  ``grid``, ``incidents``, ``risk``, ``required_minutes``, ``reached_minutes``);
* ``coverage_by_hour.csv``, the coverage of a plan hour by hour;
* ``duty_points.geojson`` (``id``, ``fixed``, ``covered_weight``);
* ``kpis.json`` beside them, through :func:`gisapp.outputs.kpis.write_kpis`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisapp.outputs.files import safe_path, write_csv, write_file
from gisapp.outputs.geojson import to_geojson
from gisapp.outputs.kpis import kpis_json, write_kpis

#: Decimals of lon/lat in the GeoJSON outputs: 6 is about 0.1 m, finer only costs bytes.
GEOJSON_DECIMALS = 6
BLIND_ZONES_FILE = "blind_zones.geojson"
HOURLY_FILE = "coverage_by_hour.csv"
DUTY_POINTS_FILE = "duty_points.geojson"
KPIS_FILE = "kpis.json"


def reach_band_file(minutes: float) -> str:
    """File name of a band: ``reach_3min.geojson``, ``reach_2.5min.geojson``."""
    return f"reach_{minutes:g}min.geojson"


def _rounded(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    out = frame.to_crs(4326) if frame.crs is not None else frame.copy()
    geometry = shapely.transform(out.geometry.to_numpy(), lambda xy: np.round(xy, GEOJSON_DECIMALS))
    return out.set_geometry(gpd.GeoSeries(geometry, index=out.index, crs=out.crs))


def features_geojson(frame: gpd.GeoDataFrame) -> str:
    """GeoJSON text of a coverage layer: WGS84, lon/lat to 6 decimals."""
    return to_geojson(_rounded(frame))


def reach_band_geojson(bands: gpd.GeoDataFrame, minutes: float | None = None) -> str:
    """GeoJSON text of the reach bands (``minutes``: one band only), as the files hold it."""
    chosen = bands if minutes is None else bands[bands["minutes"] == float(minutes)]
    return features_geojson(chosen)


def with_band_files(kpis: Mapping[str, Any]) -> dict[str, Any]:
    """``kpis`` with the file name of every band (``bands[i]["file"]``), as kpis.json has it."""
    bands = [
        {"minutes": band["minutes"], "file": reach_band_file(float(band["minutes"])), **band}
        for band in kpis.get("bands") or []
    ]
    return {**kpis, "bands": bands}


def coverage_kpis_json(kpis: Mapping[str, Any]) -> str:
    """The text of a coverage or reach ``kpis.json`` (strict JSON, band file names added)."""
    return kpis_json(with_band_files(kpis))


def write_reach_bands(bands: gpd.GeoDataFrame, out: Path) -> list[Path]:
    """Write ``reach_<m>min.geojson`` for every band of ``bands`` to ``out``.

    Parameters
    ----------
    bands
        One polygon per band with a ``minutes`` column.
    out
        The output folder (created when missing).

    Returns
    -------
    list of Path
        The files written.
    """
    out.mkdir(parents=True, exist_ok=True)
    return [
        write_file(out / reach_band_file(float(m)), reach_band_geojson(bands, float(m)))
        for m in sorted(bands["minutes"])
    ]


def write_reach(bands: gpd.GeoDataFrame, kpis: Mapping[str, Any], out: Path) -> list[Path]:
    """Write the reach bands and their ``kpis.json`` (``gisapp reach``) to ``out``."""
    written = write_reach_bands(bands, out)
    written.append(write_file(out / KPIS_FILE, coverage_kpis_json(kpis)))
    return written


def write_blind_zones(zones: gpd.GeoDataFrame, out: Path) -> Path:
    """Write ``blind_zones.geojson`` to ``out``, riskiest first (by ``rank`` when given)."""
    out.mkdir(parents=True, exist_ok=True)
    if "rank" in zones.columns:
        zones = zones.sort_values("rank", kind="stable")
    return write_file(out / BLIND_ZONES_FILE, features_geojson(zones))


def hourly_table(table: pd.DataFrame) -> pd.DataFrame:
    """The coverage-by-hour table as written: ``hour`` as ISO 8601 text, shares to 4 decimals."""
    out = table.copy()
    out["hour"] = out["hour"].map(lambda t: pd.Timestamp(t).isoformat())
    for column in ("risk_share", "street_share", "key_places_share"):
        if column in out.columns:
            out[column] = out[column].astype(float).round(4)
    return out


def write_hourly_table(table: pd.DataFrame, out: Path) -> Path:
    """Write ``coverage_by_hour.csv`` (one row per hour and band) to ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    return write_csv(hourly_table(table), out / HOURLY_FILE)


def write_coverage_files(
    *,
    bands: gpd.GeoDataFrame,
    blind_zones: gpd.GeoDataFrame,
    kpis: Mapping[str, Any],
    out: Path,
    hourly: pd.DataFrame | None = None,
    pages: Mapping[str, str] | None = None,
) -> list[Path]:
    """Write the stable coverage files: the bands, ``blind_zones.geojson``, ``kpis.json``,
    with ``hourly`` ``coverage_by_hour.csv``, and ``pages`` (file name → HTML, e.g. the
    ``coverage_map.html`` drawn by :mod:`gisapp.render.coverage`).

    Returns
    -------
    list of Path
        The files written.
    """
    written = write_reach_bands(bands, out)
    written.append(write_blind_zones(blind_zones, out))
    if hourly is not None:
        written.append(write_hourly_table(hourly, out))
    written.append(write_file(out / KPIS_FILE, coverage_kpis_json(kpis)))
    for name, html in (pages or {}).items():
        written.append(write_file(safe_path(out, name), html))
    return written


def write_placement(
    duty_points: gpd.GeoDataFrame, kpis: Mapping[str, Any], out: Path
) -> list[Path]:
    """Write ``duty_points.geojson`` and ``kpis.json`` to ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    shown = duty_points.drop(columns=[c for c in ("node",) if c in duty_points.columns])
    points = write_file(out / DUTY_POINTS_FILE, features_geojson(shown))
    return [points, write_kpis(kpis, out / KPIS_FILE)]
