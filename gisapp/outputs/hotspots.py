"""Stable files of the incident analytics: hotspots per shift, the monthly bulletin, areas.

- hotspots: ``hotspots_<shift>_<method>.geojson`` per shift and ``kpis.json``
  (``workspace``, ``timezone``, ``method``, ``problems``, ``shifts`` by name);
- bulletin: ``bulletin_<month>.csv`` / ``.geojson`` / ``.html`` and ``kpis.json``;
- areas: ``areas_<level>.geojson`` / ``.csv``, ``areas_<level>_by_shift.csv``, ``kpis.json``.

The writers take plain layers, tables and KPI dicts: the services assemble them.

Every file here is machine-readable and the same in every language: column and property
names are the stable English keys above (``incidents``, ``preventable``, ``n_<group>``,
``previous``, ``current``, ``change``, ``change_pct``, ``warning_level`` with the values
``blue``/``yellow``/``orange``/``red``, ``top_hotspots``), so scripts and spreadsheets that
read them keep working whoever made them. The bulletin's reading form for people is its
HTML map (``bulletin_<month>.html``), in the reader's language.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from gisapp.outputs.files import write_csv
from gisapp.outputs.geojson import to_geojson
from gisapp.outputs.kpis import write_kpis

__all__ = [
    "hotspot_file_name",
    "table_csv",
    "write_areas",
    "write_bulletin",
    "write_hotspots",
]


def hotspot_file_name(shift_name: str, method: str) -> str:
    """``hotspots_<shift>_<method>.geojson`` with the shift name kept to safe characters."""
    slug = "".join(c if c.isalnum() else "_" for c in shift_name).strip("_") or "shift"
    return f"hotspots_{slug}_{method}.geojson"


def table_csv(table: pd.DataFrame, path: str | Path) -> Path:
    """Write a table without its geometry as UTF-8 CSV (with a BOM, so spreadsheets read
    Chinese text right)."""
    frame = pd.DataFrame(table)
    if isinstance(table, gpd.GeoDataFrame):
        frame = pd.DataFrame(table.drop(columns=table.geometry.name))
    return write_csv(frame, path)


def write_hotspots(
    layers: Mapping[str, gpd.GeoDataFrame], kpis: Mapping[str, Any], out: Path
) -> list[Path]:
    """Write one GeoJSON per file name of ``layers`` and ``kpis.json`` to ``out``.

    Parameters
    ----------
    layers
        Hotspot layers by file name (:func:`hotspot_file_name`).
    kpis
        The figures of ``kpis.json``.
    out
        Output folder, created when missing.

    Returns
    -------
    list of Path
        The hotspot files in the order of ``layers``, then ``kpis.json``.
    """
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, layer in layers.items():
        path = out / name
        path.write_text(to_geojson(layer), encoding="utf-8")
        paths.append(path)
    paths.append(write_kpis(kpis, out / "kpis.json"))
    return paths


def write_bulletin(
    out: Path, *, month: str, table: gpd.GeoDataFrame, html: str, kpis: Mapping[str, Any]
) -> list[Path]:
    """Write the bulletin's CSV, GeoJSON, HTML map and ``kpis.json`` to ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    stem = f"bulletin_{month}"
    csv, geojson, page = (out / f"{stem}{s}" for s in (".csv", ".geojson", ".html"))
    table_csv(table, csv)
    geojson.write_text(to_geojson(table), encoding="utf-8")
    page.write_text(html, encoding="utf-8")
    return [csv, geojson, page, write_kpis(kpis, out / "kpis.json")]


def write_areas(
    out: Path,
    *,
    level: str,
    table: gpd.GeoDataFrame,
    by_shift: pd.DataFrame,
    kpis: Mapping[str, Any],
) -> list[Path]:
    """Write the areas table (GeoJSON, CSV), the per-shift counts and ``kpis.json``."""
    out.mkdir(parents=True, exist_ok=True)
    stem = f"areas_{level}"
    geojson, csv, shifts_csv = (
        out / f"{stem}.geojson",
        out / f"{stem}.csv",
        out / f"{stem}_by_shift.csv",
    )
    geojson.write_text(to_geojson(table), encoding="utf-8")
    write_csv(table.drop(columns=table.geometry.name), csv)
    write_csv(by_shift, shifts_csv, index=True)
    return [geojson, csv, shifts_csv, write_kpis(kpis, out / "kpis.json")]
