"""Write the bad-input corpus of ``tests/data/bad/`` and its ``MANIFEST.json``.

Every file is a small, deliberately broken workspace layer; the manifest says which layer
it is read as, the problem ``code`` the validator must report (or ``read_error`` when the
reader must refuse the file) and the clean context layers the check needs. The clean
layers themselves are in ``bad/context/`` (and all together in ``context/workspace.gpkg``).

Deterministic: fixed coordinates, a seeded generator and a fixed GeoPackage date, so a
rerun writes the same content. Run from the repository root::

    python tests/data/make_bad.py
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from shapely.geometry import LineString, Point, Polygon, box

BAD_DIR = Path(__file__).resolve().parent / "bad"

#: UTM 50N, the metric CRS the clean layers are drawn in (Tianjin, about 117.0 E 39.1 N).
DRAW_CRS = "EPSG:32650"
X0, Y0 = 500_000.0, 4_330_000.0
SEED = 20240215


def _in_4326(frame: dict[str, Any], geoms: list[Any]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(frame, geometry=geoms, crs=DRAW_CRS).to_crs("EPSG:4326")


def clean_layers() -> dict[str, pd.DataFrame]:
    """Return a small clean workspace: every layer, consistent, in EPSG:4326.

    One sub-district of 2 km x 1 km, two communities, four grids, a station, a duty
    point, two units, 40 incidents, roads, key places, cameras and a prevention zone.
    """
    rng = np.random.default_rng(SEED)

    def cell(x: float, y: float, w: float, h: float) -> Polygon:
        return box(X0 + x, Y0 + y, X0 + x + w, Y0 + y + h)

    subdistricts = _in_4326({"id": ["s1"], "name": ["Heping"]}, [cell(0, 0, 2000, 1000)])
    communities = _in_4326(
        {
            "id": ["c1", "c2"],
            "name": ["Nanshi", "Xiaobailou"],
            "subdistrict_id": ["s1", "s1"],
            "households": [1400, 2100],
        },
        [cell(0, 0, 1000, 1000), cell(1000, 0, 1000, 1000)],
    )
    grids = _in_4326(
        {
            "id": ["g1", "g2", "g3", "g4"],
            "community_id": ["c1", "c1", "c2", "c2"],
            "officer": ["Li", "Wang", "Zhang", "Liu"],
        },
        [
            cell(0, 0, 500, 1000),
            cell(500, 0, 500, 1000),
            cell(1000, 0, 1000, 500),
            cell(1000, 500, 1000, 500),
        ],
    )
    stations = _in_4326(
        {"id": ["st1"], "name": ["Heping station"], "kind": ["station"]},
        [Point(X0 + 1000, Y0 + 500)],
    )
    duty_points = _in_4326(
        {"id": ["dp1"], "name": ["Binjiang kiosk"], "kind": ["kiosk"]},
        [Point(X0 + 300, Y0 + 700)],
    )
    n = 40
    xy = rng.uniform([50, 50], [1950, 950], size=(n, 2))
    hours = rng.integers(0, 24, size=n)
    incidents = _in_4326(
        {
            "id": [f"i{k:03d}" for k in range(n)],
            "occurred_at": [
                f"2024-03-{1 + k % 28:02d} {h:02d}:{(7 * k) % 60:02d}" for k, h in enumerate(hours)
            ],
            "category": rng.choice(["theft", "robbery", "burglary", "dispute"], size=n),
            "severity": rng.integers(1, 6, size=n),
            "preventable": rng.random(n) < 0.6,
        },
        [Point(X0 + x, Y0 + y) for x, y in xy],
    )
    roads = _in_4326(
        {"name": ["Heping Road", "Nanjing Road"], "highway": ["primary", "secondary"]},
        [
            LineString([(X0, Y0 + 500), (X0 + 2000, Y0 + 500)]),
            LineString([(X0 + 1000, Y0), (X0 + 1000, Y0 + 1000)]),
        ],
    )
    key_places = _in_4326(
        {"id": ["k1"], "name": ["No. 1 Primary School"], "kind": ["school"]},
        [Point(X0 + 1500, Y0 + 800)],
    )
    prevention_zones = _in_4326(
        {"id": ["z1"], "name": ["School surroundings 200 m"], "kind": ["school_200m"]},
        [Point(X0 + 1500, Y0 + 800).buffer(200)],
    )
    cameras = _in_4326({"id": ["cam1"], "range_m": [60.0]}, [Point(X0 + 990, Y0 + 510)])
    units = pd.DataFrame(
        {
            "id": ["u1", "u2"],
            "mode": ["car", "foot"],
            "station_id": ["st1", "dp1"],
            "grid_ids": ["g1,g2", "g3,g4"],
        }
    )
    return {
        "subdistricts": subdistricts,
        "communities": communities,
        "grids": grids,
        "stations": stations,
        "duty_points": duty_points,
        "incidents": incidents,
        "roads": roads,
        "key_places": key_places,
        "prevention_zones": prevention_zones,
        "cameras": cameras,
        "units": units,
    }


def _metric_cell(x: float, y: float, w: float, h: float) -> Polygon:
    """A rectangle drawn in metres from the corner of the clean layers, in EPSG:4326."""
    cell = gpd.GeoSeries([box(X0 + x, Y0 + y, X0 + x + w, Y0 + y + h)], crs=DRAW_CRS)
    polygon: Polygon = cell.to_crs("EPSG:4326").iloc[0]
    return polygon


def _swap_xy(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    out = frame.copy()
    out.geometry = shapely.transform(frame.geometry.to_numpy(), lambda xy: xy[:, ::-1])
    return out


def _write(frame: pd.DataFrame, name: str, **kwargs: Any) -> None:
    path = BAD_DIR / name
    if isinstance(frame, gpd.GeoDataFrame):
        frame.to_file(path, engine="pyogrio", **kwargs)
    else:
        pyogrio.write_dataframe(frame, path, **kwargs)


def make_corpus() -> list[dict[str, Any]]:
    """Write every bad input and return the manifest entries."""
    clean = clean_layers()
    grids, incidents = clean["grids"], clean["incidents"]
    entries: list[dict[str, Any]] = []

    def add(
        file: str, layer: str, expect: str, note: str, context: dict[str, str] | None = None
    ) -> None:
        entries.append(
            {"file": file, "layer": layer, "expect": expect, "context": context or {}, "note": note}
        )

    communities_ctx = {"communities": "context/communities.geojson"}

    bowtie = grids.copy()
    minx, miny, maxx, maxy = bowtie.geometry.iloc[0].bounds
    bowtie.loc[0, "geometry"] = Polygon([(minx, miny), (maxx, maxy), (maxx, miny), (minx, maxy)])
    _write(bowtie, "bowtie_grid.geojson")
    add(
        "bowtie_grid.geojson", "grids", "invalid_geometry", "grid g1 is a self-intersecting bow-tie"
    )

    outside = grids.copy()
    outside.loc[1, "geometry"] = _metric_cell(500, 500, 500, 1000)
    _write(outside, "grid_outside_community.geojson")
    add(
        "grid_outside_community.geojson",
        "grids",
        "not_nested",
        "grid g2 shifted 500 m north, half outside community c1",
        communities_ctx,
    )

    overlap = grids.copy()
    overlap.loc[0, "geometry"] = _metric_cell(0, 0, 700, 1000)
    _write(overlap, "overlapping_grids.geojson")
    add(
        "overlapping_grids.geojson",
        "grids",
        "sibling_overlap",
        "grid g1 grown into its sibling g2",
        communities_ctx,
    )

    gap = grids[grids["id"] != "g2"]
    _write(gap, "gap_grids.geojson")
    add(
        "gap_grids.geojson",
        "grids",
        "coverage_gap",
        "grid g2 missing: half of community c1 is covered by no grid",
        communities_ctx,
    )

    # Chinese shapefiles often come in metres (CGCS2000 Gauss-Kruger) with the .prj lost.
    _write(clean["stations"].to_crs(DRAW_CRS), "missing_crs_stations.shp")
    (BAD_DIR / "missing_crs_stations.prj").unlink()
    add(
        "missing_crs_stations.shp",
        "stations",
        "missing_crs",
        "shapefile in metres without its .prj: its position is unknown",
    )

    _write(clean["duty_points"], "crs_assumed_duty_points.shp")
    (BAD_DIR / "crs_assumed_duty_points.prj").unlink()
    add(
        "crs_assumed_duty_points.shp",
        "duty_points",
        "crs_assumed",
        "shapefile in lon/lat without its .prj: EPSG:4326 assumed, with a warning",
    )

    _write(_swap_xy(clean["stations"]), "swapped_lat_lon_stations.geojson")
    add(
        "swapped_lat_lon_stations.geojson",
        "stations",
        "swapped_lat_lon",
        "station written as (lat, lon): y = 117 is beyond ±90",
    )

    # Near Vaduz both orders are within ±90: only the other layers show the swap.
    vaduz = gpd.GeoDataFrame(
        {"id": ["s1"], "name": ["Vaduz"]}, geometry=[box(9.50, 47.12, 9.54, 47.16)], crs="EPSG:4326"
    )
    _write(vaduz, "context/vaduz_subdistricts.geojson")
    vaduz_incidents = incidents.head(5).copy()
    vaduz_incidents.geometry = [Point(9.51 + 0.005 * k, 47.13 + 0.004 * k) for k in range(5)]
    _write(_swap_xy(vaduz_incidents), "swapped_lat_lon_incidents.geojson")
    add(
        "swapped_lat_lon_incidents.geojson",
        "incidents",
        "swapped_lat_lon",
        "incidents near Vaduz written as (lat, lon); both orders are plausible degrees",
        {"subdistricts": "context/vaduz_subdistricts.geojson"},
    )

    metres = clean["communities"].to_crs(DRAW_CRS).set_crs("EPSG:4326", allow_override=True)
    _write(metres, "metres_as_degrees_communities.geojson")
    add(
        "metres_as_degrees_communities.geojson",
        "communities",
        "implausible_coordinates",
        "UTM 50N metres written as if they were degrees",
    )

    dates = incidents.copy()
    dates["occurred_at"] = dates["occurred_at"].astype(object)
    dates.loc[[3, 7, 11], "occurred_at"] = ["last tuesday", "32/13/2024 25:61", "2024-02-30 10:00"]
    _write(dates, "unparseable_dates_incidents.geojson")
    add(
        "unparseable_dates_incidents.geojson",
        "incidents",
        "unparseable_time",
        "three incidents with times that are not dates",
    )

    no_time = incidents.copy()
    no_time["occurred_at"] = no_time["occurred_at"].astype(object)
    no_time.loc[[0, 5], "occurred_at"] = None
    _write(no_time, "missing_times_incidents.geojson")
    add(
        "missing_times_incidents.geojson",
        "incidents",
        "missing_time",
        "two incidents without occurred_at",
    )

    _write(grids.iloc[:0], "empty_grids.gpkg", layer="grids")
    add("empty_grids.gpkg", "grids", "empty_layer", "GeoPackage layer with no features")

    dup = grids.copy()
    dup.loc[2, "id"] = "g1"
    _write(dup, "duplicate_ids_grids.geojson")
    add("duplicate_ids_grids.geojson", "grids", "duplicate_id", "two grids with id g1")

    no_id = grids.copy()
    no_id["id"] = no_id["id"].astype(object)
    no_id.loc[3, "id"] = None
    _write(no_id, "missing_id_grids.geojson")
    add("missing_id_grids.geojson", "grids", "missing_id", "a grid without an id")

    orphan = grids.copy()
    orphan.loc[3, "community_id"] = "c9"
    _write(orphan, "unknown_parent_grids.geojson")
    add(
        "unknown_parent_grids.geojson",
        "grids",
        "unknown_parent",
        "grid g4 names community c9, which does not exist",
        communities_ctx,
    )

    lines = grids.copy()
    lines.geometry = lines.geometry.boundary
    _write(lines, "lines_as_grids.geojson")
    add(
        "lines_as_grids.geojson",
        "grids",
        "wrong_geometry_type",
        "grid outlines (lines) where polygons are expected",
    )

    no_geom = grids.copy()
    no_geom.loc[1, "geometry"] = None
    _write(no_geom, "null_geometry_grids.geojson")
    add("null_geometry_grids.geojson", "grids", "missing_geometry", "grid g2 has no geometry")

    _write(incidents.drop(columns="category"), "missing_field_incidents.geojson")
    add(
        "missing_field_incidents.geojson",
        "incidents",
        "missing_field",
        "incidents without the required category field",
    )

    severe = incidents.copy()
    severe.loc[[2, 9], "severity"] = [0, 9]
    _write(severe, "severity_out_of_range_incidents.geojson")
    add(
        "severity_out_of_range_incidents.geojson",
        "incidents",
        "severity_out_of_range",
        "severities 0 and 9",
    )

    flag = incidents.copy()
    flag["preventable"] = np.where(flag["preventable"], "yes", "no").astype(object)
    flag.loc[4, "preventable"] = "maybe"
    _write(flag, "preventable_not_boolean_incidents.geojson")
    add(
        "preventable_not_boolean_incidents.geojson",
        "incidents",
        "preventable_not_boolean",
        "preventable 'maybe'",
    )

    far = incidents.copy()
    far.loc[[1, 2, 3], "geometry"] = [Point(117.2, 39.3), Point(117.3, 39.2), Point(116.8, 39.0)]
    _write(far, "incidents_outside_area.geojson")
    add(
        "incidents_outside_area.geojson",
        "incidents",
        "outside_area",
        "three incidents kilometres outside the sub-district",
        {"subdistricts": "context/subdistricts.geojson"},
    )

    stations_ctx = {"stations": "context/stations.geojson"}
    units = clean["units"]
    bad_station = units.copy()
    bad_station.loc[1, "station_id"] = "st9"
    _write(bad_station, "unknown_station_units.gpkg", layer="units")
    add(
        "unknown_station_units.gpkg",
        "units",
        "unknown_station",
        "unit u2 based at station st9, which does not exist",
        stations_ctx,
    )

    bad_mode = units.copy()
    bad_mode.loc[0, "mode"] = "helicopter"
    _write(bad_mode, "unknown_mode_units.gpkg", layer="units")
    add("unknown_mode_units.gpkg", "units", "unknown_mode", "unit u1 with mode 'helicopter'")

    bad_grid = units.copy()
    bad_grid.loc[0, "grid_ids"] = "g1,g7"
    _write(bad_grid, "unknown_grid_units.gpkg", layer="units")
    add(
        "unknown_grid_units.gpkg",
        "units",
        "unknown_grid",
        "unit u1 responsible for grid g7, which does not exist",
        {"grids": "context/grids.geojson"},
    )

    _write(grids, "truncated.gpkg", layer="grids")
    data = (BAD_DIR / "truncated.gpkg").read_bytes()
    (BAD_DIR / "truncated.gpkg").write_bytes(data[: len(data) // 3])
    add("truncated.gpkg", "grids", "read_error", "GeoPackage cut to a third of its size")

    (BAD_DIR / "not_geographic.geojson").write_text(
        "Roster for the night shift\nunit,officer\nu1,Li\nu2,Wang\n", encoding="utf-8"
    )
    add("not_geographic.geojson", "grids", "read_error", "a CSV roster renamed .geojson")

    (BAD_DIR / "empty_file.geojson").write_bytes(b"")
    add("empty_file.geojson", "grids", "read_error", "zero-byte file")

    add("does_not_exist.geojson", "grids", "read_error", "missing file (not written)")
    return entries


def main() -> None:
    """Rewrite ``tests/data/bad/`` from scratch."""
    if BAD_DIR.exists():
        shutil.rmtree(BAD_DIR)
    (BAD_DIR / "context").mkdir(parents=True)
    # A fixed date in the GeoPackage metadata keeps reruns identical.
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2024-01-01T00:00:00Z"})
    clean = clean_layers()
    for name in ("subdistricts", "communities", "grids", "stations"):
        _write(clean[name], f"context/{name}.geojson")
    for name, frame in clean.items():
        _write(
            frame,
            "context/workspace.gpkg",
            layer=name,
            append=(BAD_DIR / "context/workspace.gpkg").exists(),
        )
    entries = make_corpus()
    (BAD_DIR / "MANIFEST.json").write_text(json.dumps(entries, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
