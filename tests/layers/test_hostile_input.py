"""Hostile input: every bad file gives a problem naming the layer, the rows and the fix."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import Polygon, box

from layers.errors import LayerError, Problem
from layers.fields import find_column
from layers.io import read_layer
from layers.validate import MAX_LISTED, validate_layers
from layers.validate.files import check_source_file

SEED = 20240310
#: A small area of New Haven, as grids of a workspace: swapped, its lon/lat are still in
#: range (41.3, -72.9), so only the workspace can tell that they are swapped.
AREA = (-72.94, 41.30, -72.92, 41.32)


def _rng() -> np.random.Generator:
    return np.random.default_rng(SEED)


def _workspace() -> dict[str, pd.DataFrame]:
    minx, miny, maxx, maxy = AREA
    midx = (minx + maxx) / 2
    grids = gpd.GeoDataFrame(
        {"id": ["G1", "G2"], "community_id": ["C1", "C1"], "unit_id": ["U1", "U1"]},
        geometry=[box(minx, miny, midx, maxy), box(midx, miny, maxx, maxy)],
        crs=4326,
    )
    units = pd.DataFrame({"id": ["U1"], "mode": ["car"], "station_id": ["S1"]})
    return {"grids": grids, "units": units}


def _incidents(xs: np.ndarray, ys: np.ndarray, times: list[str] | None = None) -> gpd.GeoDataFrame:
    n = len(xs)
    return gpd.GeoDataFrame(
        {
            "id": [f"I{i}" for i in range(n)],
            "occurred_at": times or ["2024-02-15 21:48"] * n,
            "category": ["theft"] * n,
        },
        geometry=gpd.points_from_xy(xs, ys),
        crs=4326,
    )


def _points_inside(n: int) -> tuple[np.ndarray, np.ndarray]:
    minx, miny, maxx, maxy = AREA
    rng = _rng()
    return rng.uniform(minx + 0.001, maxx - 0.001, n), rng.uniform(miny + 0.001, maxy - 0.001, n)


def _codes(problems: list[Problem], code: str) -> list[Problem]:
    return [p for p in problems if p.code == code]


def _write_geojson(path: Path, features: list[dict], **extra: object) -> Path:
    path.write_text(
        json.dumps({"type": "FeatureCollection", "features": features, **extra}), encoding="utf-8"
    )
    return path


def _polygon_feature(fid: str, rings: list[list[tuple[float, float]]]) -> dict:
    return {
        "type": "Feature",
        "properties": {"id": fid, "community_id": "C1"},
        "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in r] for r in rings]},
    }


# -- geometry ---------------------------------------------------------------------------------


def test_unclosed_ring_is_read_closed_and_reported(tmp_path: Path) -> None:
    minx, miny, maxx, maxy = AREA
    open_ring = [(minx, miny), (maxx, miny), (maxx, maxy), (minx, maxy)]  # last != first
    path = _write_geojson(tmp_path / "grids.geojson", [_polygon_feature("G9", [open_ring])])

    grids = read_layer(path)  # no longer a GEOS error on the whole file
    report = validate_layers({"grids": grids})

    (problem,) = _codes(report.problems, "unclosed_ring")
    assert problem.severity == "repaired" and problem.feature_id == "G9"
    assert "does not end where it starts" in problem.message
    assert report.ok
    assert report.layers["grids"].geometry.iloc[0].equals(box(*AREA))

    strict = validate_layers({"grids": grids}, repair=False)
    (problem,) = _codes(strict.problems, "unclosed_ring")
    assert problem.severity == "error" and "close the outline" in problem.fix


def test_bowtie_is_repaired_and_reported_in_words() -> None:
    minx, miny, maxx, maxy = AREA
    bowtie = Polygon([(minx, miny), (maxx, maxy), (maxx, miny), (minx, maxy)])
    grids = gpd.GeoDataFrame({"id": ["G1"], "community_id": ["C1"]}, geometry=[bowtie], crs=4326)

    report = validate_layers({"grids": grids})

    (problem,) = _codes(report.problems, "invalid_geometry")
    assert problem.severity == "repaired" and problem.feature_id == "G1"
    assert "crosses itself" in problem.message and "split into 2 parts" in problem.message
    assert "make_valid" not in problem.message + problem.fix
    assert report.layers["grids"].geometry.iloc[0].is_valid

    strict = validate_layers({"grids": grids}, repair=False)
    (problem,) = _codes(strict.problems, "invalid_geometry")
    assert problem.severity == "error" and "repair=" not in problem.fix
    assert not strict.ok


def test_hole_outside_its_shell_is_dropped_not_added(tmp_path: Path) -> None:
    minx, miny, maxx, maxy = AREA
    shell = [(minx, miny), (maxx, miny), (maxx, maxy), (minx, maxy), (minx, miny)]
    far = [(x + 0.1, y) for x, y in shell]  # a "hole" 10 km east of its grid
    path = _write_geojson(tmp_path / "grids.geojson", [_polygon_feature("G1", [shell, far])])

    report = validate_layers({"grids": read_layer(path)})

    (problem,) = _codes(report.problems, "invalid_geometry")
    assert problem.severity == "repaired"
    assert "hole lies outside its outline" in problem.message and "dropped" in problem.message
    # make_valid would have made the stray hole a second piece of the grid.
    assert report.layers["grids"].geometry.iloc[0].equals(Polygon(shell))


# -- coordinates ------------------------------------------------------------------------------


def test_null_island_points_are_errors_listed_then_counted() -> None:
    xs, ys = _points_inside(30)
    n_zero = MAX_LISTED + 5
    xs[:n_zero], ys[:n_zero] = 0.0, 0.0

    report = validate_layers({"incidents": _incidents(xs, ys)})

    (problem,) = _codes(report.problems, "null_island")
    assert problem.severity == "error" and problem.layer == "incidents"
    assert f"{n_zero:,} features, e.g. I0, I1, I2" in problem.message
    assert "longitude 0, latitude 0" in problem.message
    assert "real coordinates" in problem.fix


def test_swapped_points_are_found_against_the_workspace() -> None:
    xs, ys = _points_inside(20)
    xs[:3], ys[:3] = ys[:3].copy(), xs[:3].copy()  # three rows typed lat, lon

    report = validate_layers({"incidents": _incidents(xs, ys)}, workspace=_workspace())

    swapped = _codes(report.problems, "swapped_lat_lon")
    assert [p.feature_id for p in swapped] == ["I0", "I1", "I2"]
    assert all("longitude and latitude look swapped" in p.message for p in swapped)
    assert not report.ok


def test_swapped_points_are_found_against_areas_checked_with_them() -> None:
    xs, ys = _points_inside(20)
    xs[5], ys[5] = ys[5], xs[5]
    layers = {"grids": _workspace()["grids"], "incidents": _incidents(xs, ys)}

    report = validate_layers(layers)

    (problem,) = _codes(report.problems, "swapped_lat_lon")
    assert problem.feature_id == "I5" and "outside the grids" in problem.message
    assert not _codes(report.problems, "outside_workspace")  # no workspace: no such check


def test_a_layer_outside_the_workspace_is_an_error_with_the_distance() -> None:
    xs, ys = _points_inside(5)
    report = validate_layers({"incidents": _incidents(xs + 1.0, ys)}, workspace=_workspace())

    (problem,) = _codes(report.problems, "outside_workspace")
    assert problem.severity == "error"
    assert "none of the 5 features" in problem.message and "km away" in problem.message
    distance_km = float(problem.message.split("nearest is ")[1].split(" km")[0])
    assert 80 < distance_km < 90  # one degree of longitude at 41.3°N is ~84 km


def test_a_workspace_without_the_file_keeps_its_layers_and_checks_references() -> None:
    ws = _workspace()
    units = pd.DataFrame({"id": ["U1"], "mode": ["car"], "station_id": ["S1"], "grid_ids": ["G7"]})
    report = validate_layers({"units": units}, workspace={"grids": ws["grids"]})
    (problem,) = _codes(report.problems, "unknown_grid")
    assert "G7" in problem.message
    assert set(report.layers) == {"grids", "units"}

    grids = ws["grids"].assign(unit_id=["U1", "U9"])
    report = validate_layers({"grids": grids}, workspace={"units": ws["units"]})
    (problem,) = _codes(report.problems, "unknown_unit")
    assert problem.feature_id == "G2" and "'U9'" in problem.message


def test_station_ids_that_clash_with_the_workspace_duty_points() -> None:
    xs, ys = _points_inside(2)
    points = gpd.points_from_xy(xs, ys)
    stations = gpd.GeoDataFrame(
        {"id": ["S1"], "name": ["East"], "kind": ["station"]}, geometry=points[:1], crs=4326
    )
    duty_points = gpd.GeoDataFrame(
        {"id": ["S1"], "name": ["Gate"], "kind": ["post"]}, geometry=points[1:], crs=4326
    )
    workspace = {**_workspace(), "duty_points": duty_points}

    report = validate_layers({"stations": stations}, workspace=workspace)

    (problem,) = _codes(report.problems, "ambiguous_station")
    assert problem.feature_id == "U1" and "both a station and a duty point" in problem.message


# -- times ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [("9999-12-31T23:59:59", "in the future"), ("0001-01-01 00:00", "before 1990-01-01")],
)
def test_placeholder_years_are_implausible_not_a_crash(text: str, words: str) -> None:
    xs, ys = _points_inside(3)
    incidents = _incidents(xs, ys, ["2024-02-15 21:48", text, "2024-02-16 08:00"])

    report = validate_layers({"incidents": incidents}, timezone="America/New_York")

    (problem,) = _codes(report.problems, "implausible_time")
    assert problem.feature_id == "I1" and words in problem.message and text in problem.message
    assert not report.ok


def test_the_plausible_window_can_be_set() -> None:
    xs, ys = _points_inside(2)
    incidents = _incidents(xs, ys, ["1985-06-01 10:00", "2024-02-15 21:48"])
    assert _codes(validate_layers({"incidents": incidents}).problems, "implausible_time")
    wide = validate_layers({"incidents": incidents}, time_window=("1980-01-01", "2030-01-01"))
    assert wide.ok
    with pytest.raises(LayerError, match="start before it ends"):
        validate_layers({"incidents": incidents}, time_window=("2030-01-01", "1980-01-01"))


def test_dst_gap_and_fold_are_read_and_reported() -> None:
    xs, ys = _points_inside(3)
    times = ["2024-03-10 02:30", "2024-11-03 01:30", "2024-03-10 12:00"]

    report = validate_layers({"incidents": _incidents(xs, ys, times)}, timezone="America/New_York")

    (gap,) = _codes(report.problems, "nonexistent_time")
    (fold,) = _codes(report.problems, "ambiguous_time")
    assert gap.feature_id == "I0" and "does not exist in America/New_York" in gap.message
    assert fold.feature_id == "I1" and "happens twice" in fold.message
    assert gap.severity == fold.severity == "warning" and report.ok
    occurred = report.layers["incidents"]["occurred_at"]
    assert occurred.iloc[0] == pd.Timestamp("2024-03-10 07:30", tz="UTC")  # 03:30 EDT
    assert occurred.iloc[1] == pd.Timestamp("2024-11-03 05:30", tz="UTC")  # first: EDT


# -- files ------------------------------------------------------------------------------------


def test_duplicate_csv_columns_are_refused_with_their_names(tmp_path: Path) -> None:
    path = tmp_path / "incidents.csv"
    path.write_text(
        "id,occurred_at,category,lon,lat,category\nI1,2024-02-15 21:48,theft,-72.93,41.31,x\n",
        encoding="utf-8",
    )
    with pytest.raises(LayerError, match=r"duplicate columns: 'category' \(2 times\)") as err:
        check_source_file(path, layer="incidents")
    assert "(layer 'incidents')" in str(err.value) and "rename or remove" in str(err.value)


def test_duplicate_geojson_properties_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "incidents.geojson"
    feature = (
        '{"type":"Feature","properties":{"id":"I1","category":"theft","category":"x",'
        '"category":"y"},"geometry":{"type":"Point","coordinates":[-72.93,41.31]}}'
    )
    path.write_text(f'{{"type":"FeatureCollection","features":[{feature}]}}', encoding="utf-8")
    with pytest.raises(LayerError, match=r"duplicate property names: 'category' \(3 times\)"):
        check_source_file(path)


def test_unknown_crs_code_is_named_with_the_usual_ones(tmp_path: Path) -> None:
    xs, ys = _points_inside(1)
    feature = {
        "type": "Feature",
        "properties": {"id": "I1"},
        "geometry": {"type": "Point", "coordinates": [xs[0], ys[0]]},
    }
    crs = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::999999"}}
    path = _write_geojson(tmp_path / "incidents.geojson", [feature], crs=crs)
    with pytest.raises(LayerError, match="EPSG:999999") as err:
        check_source_file(path, layer="incidents")
    assert "EPSG:4326" in str(err.value) and "EPSG:4490" in str(err.value)


def test_unknown_crs_in_a_zipped_shapefile_prj(tmp_path: Path) -> None:
    folder = tmp_path / "shp"
    folder.mkdir()
    pyogrio.write_dataframe(_workspace()["grids"], folder / "grids.shp")
    (folder / "grids.prj").write_text('PROJCS["nonsense",GEOGCS[', encoding="utf-8")
    path = tmp_path / "grids.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for member in folder.iterdir():
            archive.write(member, member.name)
    with pytest.raises(LayerError, match=r"in its \.prj, which is not a known") as err:
        check_source_file(path, layer="grids")
    assert "(grids.prj)" in str(err.value) and "EPSG:4326" in str(err.value)


def test_truncated_geopackage_says_truncated(tmp_path: Path) -> None:
    xs, ys = _points_inside(300)
    whole = tmp_path / "whole.gpkg"
    _incidents(xs, ys).to_file(whole, driver="GPKG")
    data = whole.read_bytes()
    cut = tmp_path / "data.gpkg"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(LayerError, match="truncated or damaged") as err:
        check_source_file(cut)
    assert f"{len(data):,} bytes" in str(err.value)
    check_source_file(whole)  # a whole file passes
    damaged = bytearray(data)
    damaged[100:4096] = b"\xff" * (4096 - 100)  # the first page, with the table list
    cut.write_bytes(bytes(damaged))
    with pytest.raises(LayerError, match="table of contents cannot be read"):
        check_source_file(cut)


def test_a_cut_shapefile_field_name_is_found_by_its_full_name() -> None:
    assert find_column(["id", "所属社区编"], "所属社区编码") == "所属社区编"
    assert find_column(["id"], "所属社区编码") is None


def test_check_source_file_leaves_other_formats_to_the_readers(tmp_path: Path) -> None:
    check_source_file(tmp_path / "missing.csv")  # the reader says it is missing
    odd = tmp_path / "notes.txt"
    odd.write_text("", encoding="utf-8")
    check_source_file(odd)  # no header to check: the reader explains an empty file
    with pytest.raises(LayerError, match="does not exist"):
        read_layer(tmp_path / "missing.csv")
