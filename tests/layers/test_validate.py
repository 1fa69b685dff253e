"""Tests of the workspace validator, on hand-made layers and the bad-input corpus."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from shapely.geometry import Point, Polygon, box

from layers.errors import LayerError, ValidationError
from layers.io import read_layer, read_layers
from layers.validate import MAX_LISTED, ValidationReport, validate_layer, validate_layers

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
BAD_DIR = DATA_DIR / "bad"
MANIFEST: list[dict[str, Any]] = json.loads((BAD_DIR / "MANIFEST.json").read_text("utf-8"))
UTM = "EPSG:32650"
X0, Y0 = 500_000.0, 4_330_000.0


def _load_make_bad() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_bad", DATA_DIR / "make_bad.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_bad = _load_make_bad()


def _clean() -> dict[str, pd.DataFrame]:
    layers: dict[str, pd.DataFrame] = make_bad.clean_layers()
    return layers


def _digest(paths: list[Path]) -> dict[str, str]:
    files: list[Path] = []
    for path in paths:
        files += sorted(path.parent.glob(path.stem + ".*")) if path.suffix == ".shp" else [path]
    return {str(f): hashlib.sha256(f.read_bytes()).hexdigest() for f in files if f.exists()}


def _copies(layers: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    return {name: frame.copy() for name, frame in layers.items()}


def _assert_unchanged(before: dict[str, pd.DataFrame], after: dict[str, pd.DataFrame]) -> None:
    for name, frame in before.items():
        if isinstance(frame, gpd.GeoDataFrame):
            assert_geodataframe_equal(after[name], frame, check_less_precise=False)
        else:
            pd.testing.assert_frame_equal(after[name], frame)


def _grids_utm(cells: list[Polygon], community_ids: list[str]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"id": [f"g{k}" for k in range(len(cells))], "community_id": community_ids},
        geometry=cells,
        crs=UTM,
    ).to_crs("EPSG:4326")


def _community_utm() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"id": ["c1"], "name": ["Nanshi"], "subdistrict_id": ["s1"]},
        geometry=[box(X0, Y0, X0 + 1000, Y0 + 1000)],
        crs=UTM,
    ).to_crs("EPSG:4326")


# --- the clean workspace ----------------------------------------------------------------


def test_clean_workspace_has_no_problems() -> None:
    report = validate_layers(_clean())
    assert report.ok
    assert report.problems == []
    assert set(report.layers) == set(_clean())


def test_clean_workspace_file_has_no_errors() -> None:
    layers = read_layers(BAD_DIR / "context" / "workspace.gpkg")
    report = validate_layers(layers)
    assert report.errors == []
    assert report.warnings == []
    times = report.layers["incidents"]["occurred_at"]
    assert str(times.dtype) == "datetime64[us, UTC]"
    assert times.notna().all()


def test_storage_conventions_of_repaired_layers() -> None:
    layers = _clean()
    layers["grids"] = layers["grids"].assign(id=[1, 2, 3, 4])
    layers["units"] = layers["units"].assign(grid_ids=[["1", "2"], " 3 , 4 "])
    report = validate_layers(layers)
    assert report.ok, [str(p) for p in report.errors]
    assert list(report.layers["grids"]["id"]) == ["1", "2", "3", "4"]
    assert list(report.layers["units"]["grid_ids"]) == ["1,2", "3,4"]
    for name in ("grids", "incidents", "stations"):
        assert report.layers[name].crs == "EPSG:4326"


# --- the bad-input corpus ---------------------------------------------------------------


def test_manifest_is_complete() -> None:
    assert len(MANIFEST) >= 15
    for entry in MANIFEST:
        assert set(entry) >= {"file", "layer", "expect", "context"}
        if entry["expect"] != "read_error" or entry["file"] != "does_not_exist.geojson":
            assert (BAD_DIR / entry["file"]).exists(), entry["file"]
        for path in entry["context"].values():
            assert (BAD_DIR / path).exists(), path
    expected = {e["expect"] for e in MANIFEST}
    assert expected >= {
        "invalid_geometry",
        "not_nested",
        "sibling_overlap",
        "missing_crs",
        "swapped_lat_lon",
        "implausible_coordinates",
        "unparseable_time",
        "empty_layer",
        "duplicate_id",
        "unknown_parent",
        "wrong_geometry_type",
        "missing_field",
        "unknown_station",
        "severity_out_of_range",
        "read_error",
    }


@pytest.mark.parametrize("entry", MANIFEST, ids=[e["file"] for e in MANIFEST])
def test_bad_input_yields_its_code(entry: dict[str, Any]) -> None:
    paths = [BAD_DIR / entry["file"], *(BAD_DIR / p for p in entry["context"].values())]
    before = _digest(paths)
    try:
        layers = {name: read_layer(BAD_DIR / path) for name, path in entry["context"].items()}
        layers[entry["layer"]] = read_layer(BAD_DIR / entry["file"])
    except LayerError:
        assert entry["expect"] == "read_error"
    else:
        assert entry["expect"] != "read_error", "the reader accepted a file it must refuse"
        report = validate_layers(layers)
        assert entry["expect"] in report.codes, [str(p) for p in report.problems]
        json.dumps(report.to_dict())
        if any(p.severity == "error" for p in report.problems if p.code == entry["expect"]):
            with pytest.raises(ValidationError) as info:
                report.raise_if_errors()
            assert entry["expect"] in {p.code for p in info.value.problems}
    assert _digest(paths) == before


def test_corpus_matches_its_script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(make_bad, "BAD_DIR", tmp_path / "bad")
    make_bad.main()
    assert (tmp_path / "bad" / "MANIFEST.json").read_text("utf-8") == (
        BAD_DIR / "MANIFEST.json"
    ).read_text("utf-8")
    for entry in MANIFEST:
        name = entry["file"]
        if name.endswith(".geojson") and (BAD_DIR / name).exists():
            assert (tmp_path / "bad" / name).read_bytes() == (BAD_DIR / name).read_bytes()


# --- per-layer checks -------------------------------------------------------------------


def test_bowtie_is_repaired_valid_and_reported() -> None:
    layers = _clean()
    grids = layers["grids"].copy()
    minx, miny, maxx, maxy = grids.geometry.iloc[0].bounds
    grids.loc[0, "geometry"] = Polygon([(minx, miny), (maxx, maxy), (maxx, miny), (minx, maxy)])
    layers["grids"] = grids
    before = _copies(layers)

    report = validate_layers(layers)

    _assert_unchanged(before, layers)
    assert not shapely.is_valid(layers["grids"].geometry.iloc[0])
    repaired = report.layers["grids"].geometry
    assert repaired.is_valid.all()
    assert set(repaired.geom_type) <= {"Polygon", "MultiPolygon"}
    (problem,) = [p for p in report.problems if p.code == "invalid_geometry"]
    assert problem.severity == "repaired"
    assert problem.feature_id == "g1"
    assert "Self-intersection" in problem.message
    # Half of g1 is lost to the bow-tie: the grid layout now has a gap, which is a warning.
    assert report.ok


def test_invalid_geometry_is_an_error_without_repair() -> None:
    ring = Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])
    grids = gpd.GeoDataFrame({"id": ["g1"], "community_id": ["c1"]}, geometry=[ring], crs=4326)
    report = validate_layer(grids, "grids", repair=False)
    (problem,) = report.problems
    assert (problem.code, problem.severity) == ("invalid_geometry", "error")
    assert not report.layers["grids"].geometry.iloc[0].is_valid


def test_collapsed_polygon_cannot_be_repaired() -> None:
    flat = Polygon([(117.0, 39.0), (117.1, 39.0), (117.2, 39.0)])
    grids = gpd.GeoDataFrame({"id": ["g1"], "community_id": ["c1"]}, geometry=[flat], crs=4326)
    report = validate_layer(grids, "grids")
    assert [(p.code, p.severity) for p in report.problems] == [("invalid_geometry", "error")]


def test_every_problem_is_collected_before_reporting() -> None:
    grids = gpd.GeoDataFrame(
        {"id": ["g1", "g1", None], "officer": ["Li", "Wang", "Liu"]},
        geometry=[box(117.0, 39.0, 117.01, 39.01), None, Point(117.0, 39.0)],
        crs=4326,
    )
    report = validate_layer(grids, "grids")
    assert report.codes == {
        "missing_field",
        "duplicate_id",
        "missing_id",
        "missing_geometry",
        "wrong_geometry_type",
    }
    assert all(p.layer == "grids" and p.fix for p in report.problems)
    with pytest.raises(ValidationError) as info:
        report.raise_if_errors()
    assert len(info.value.problems) == len(report.problems)
    assert "community_id" in str(info.value)


def test_blank_required_values_and_nan_coordinates() -> None:
    stations = gpd.GeoDataFrame(
        {"id": ["st1", "st2"], "name": ["Heping", " "], "kind": ["station", None]},
        geometry=[Point(117.0, 39.1), Point(np.nan, np.nan)],
        crs=4326,
    )
    report = validate_layer(stations, "stations")
    assert sorted((p.code, p.feature_id) for p in report.problems) == [
        ("missing_geometry", "st2"),
        ("missing_value", "st2"),
        ("missing_value", "st2"),
    ]


def test_many_bad_times_are_one_problem_listing_samples() -> None:
    incidents = _clean()["incidents"].copy()
    incidents["occurred_at"] = incidents["occurred_at"].astype(object)
    incidents.loc[: MAX_LISTED + 4, "occurred_at"] = "soon"
    report = validate_layer(incidents, "incidents")
    (problem,) = [p for p in report.problems if p.code != "undated_incidents"]
    assert problem.code == "unparseable_time"
    assert problem.feature_id is None
    assert f"{MAX_LISTED + 5:,} features" in problem.message
    assert "i000" in problem.message


def test_naive_times_are_read_in_the_workspace_time_zone() -> None:
    incidents = _clean()["incidents"].head(2).copy()
    incidents["occurred_at"] = pd.to_datetime(["2024-03-01 21:48", "2024-03-02 08:00"])
    report = validate_layer(incidents, "incidents", timezone="Asia/Shanghai")
    assert report.ok
    times = report.layers["incidents"]["occurred_at"]
    assert times.iloc[0] == pd.Timestamp("2024-03-01 13:48", tz="UTC")


def test_unknown_time_zone_is_refused() -> None:
    with pytest.raises(LayerError, match="time zone"):
        validate_layers(_clean(), timezone="Mars/Olympus")


def test_incident_attributes() -> None:
    incidents = _clean()["incidents"].head(4).copy()
    incidents["severity"] = ["3", 6, None, "high"]
    incidents["preventable"] = [1, "no", None, "是"]
    report = validate_layer(incidents, "incidents")
    bad_severity = {p.feature_id for p in report.problems if p.code == "severity_out_of_range"}
    assert bad_severity == {"i001", "i003"}
    assert "preventable_coerced" in report.codes
    assert list(report.layers["incidents"]["preventable"]) == [True, False, pd.NA, True]


def test_units_mode_and_references() -> None:
    layers = _clean()
    layers["units"] = pd.DataFrame(
        {
            "id": ["u1", "u2", "u3"],
            "mode": ["Car", "boat", "foot"],
            "station_id": ["st1", "dp1", "st7"],
            "grid_ids": ["g1,g2", "g3", "g4,g9"],
        }
    )
    report = validate_layers(layers)
    found = {(p.code, p.feature_id) for p in report.errors}
    assert found == {("unknown_mode", "u2"), ("unknown_station", "u3"), ("unknown_grid", "u3")}
    assert report.layers["units"]["mode"].iloc[0] == "car"


def test_layer_in_a_projected_crs_is_reprojected() -> None:
    layers = _clean()
    layers["grids"] = layers["grids"].to_crs(UTM)
    report = validate_layers(layers)
    assert report.ok
    assert [p.code for p in report.problems] == ["reprojected"]
    assert report.layers["grids"].crs == "EPSG:4326"


def test_swapped_lat_lon_found_by_the_other_layers() -> None:
    layers = _clean()
    stations = layers["stations"].copy()
    # Shift the workspace to Europe, where both coordinate orders are plausible degrees.
    for name in ("subdistricts", "communities", "grids"):
        layers[name] = layers[name].set_geometry(
            layers[name].geometry.translate(xoff=-107.5, yoff=8.0)
        )
    stations.geometry = [Point(47.1, 9.5)]
    report = validate_layers(
        {n: layers[n] for n in ("subdistricts", "communities", "grids")} | {"stations": stations}
    )
    assert [(p.code, p.layer) for p in report.errors] == [("swapped_lat_lon", "stations")]


def test_not_a_frame_and_unknown_layer() -> None:
    report = validate_layers({"grids": [1, 2], "parking": pd.DataFrame({"a": [1]})})
    assert {(p.code, p.severity) for p in report.problems} == {
        ("not_a_table", "error"),
        ("unknown_layer", "warning"),
    }


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"area_tolerance": 2.0}, "area_tolerance"), ({"area_buffer_m": -1.0}, "area_buffer_m")],
)
def test_bad_arguments_raise(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(LayerError, match=match):
        validate_layers(_clean(), **kwargs)  # type: ignore[arg-type]


def test_not_a_mapping_raises() -> None:
    with pytest.raises(LayerError, match="mapping"):
        validate_layers([_clean()["grids"]])  # type: ignore[arg-type]


# --- cross-layer checks -----------------------------------------------------------------


@pytest.mark.parametrize(("outside_m", "nested"), [(10.0, True), (50.0, False)])
def test_nesting_uses_the_area_tolerance(outside_m: float, nested: bool) -> None:
    cells = [
        box(X0 - outside_m, Y0, X0 + 500, Y0 + 1000),
        box(X0 + 500, Y0, X0 + 1000, Y0 + 1000),
    ]
    grids = _grids_utm(cells, ["c1", "c1"])
    report = validate_layers({"communities": _community_utm(), "grids": grids})
    problems = [p for p in report.problems if p.code == "not_nested"]
    # 10 m of a 510 m wide grid is 1.96 % (under 2 %); 50 m of 550 m is 9.1 %.
    assert (problems == []) is nested
    if not nested:
        (problem,) = problems
        assert (problem.feature_id, problem.severity) == ("g0", "error")
        assert "9.1%" in problem.message and "50,000 m²" in problem.message
        assert "c1" in problem.message


def test_overlap_and_gap_areas_are_in_square_metres() -> None:
    cells = [box(X0, Y0, X0 + 600, Y0 + 1000), box(X0 + 400, Y0, X0 + 900, Y0 + 1000)]
    report = validate_layers(
        {"communities": _community_utm(), "grids": _grids_utm(cells, ["c1"] * 2)}
    )
    (overlap,) = [p for p in report.problems if p.code == "sibling_overlap"]
    assert "200,000 m²" in overlap.message
    (gap,) = [p for p in report.problems if p.code == "coverage_gap"]
    assert (gap.layer, gap.feature_id, gap.severity) == ("communities", "c1", "warning")
    assert "100,000 m²" in gap.message


def test_siblings_in_different_parents_may_touch() -> None:
    communities = gpd.GeoDataFrame(
        {"id": ["c1", "c2"], "name": ["a", "b"], "subdistrict_id": ["s1", "s1"]},
        geometry=[box(X0, Y0, X0 + 500, Y0 + 500), box(X0 + 500, Y0, X0 + 1000, Y0 + 500)],
        crs=UTM,
    ).to_crs(4326)
    cells = [box(X0, Y0, X0 + 500, Y0 + 500), box(X0 + 500, Y0, X0 + 1000, Y0 + 500)]
    report = validate_layers({"communities": communities, "grids": _grids_utm(cells, ["c1", "c2"])})
    assert report.problems == []


def test_incidents_outside_the_area_are_one_warning() -> None:
    layers = _clean()
    incidents = layers["incidents"].copy()
    incidents.loc[[0, 1], "geometry"] = [Point(117.3, 39.3), Point(117.4, 39.2)]
    layers["incidents"] = incidents
    report = validate_layers(layers)
    (problem,) = report.problems
    assert (problem.code, problem.severity) == ("outside_area", "warning")
    assert "2 of 40 incidents" in problem.message and "i000, i001" in problem.message


def test_report_to_dict_is_json() -> None:
    layers = _clean()
    layers["grids"] = layers["grids"].assign(community_id=["c1", "c1", "c2", "c9"])
    report = validate_layers(layers)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["ok"] is False
    assert data["counts"]["error"] == len(report.errors) >= 1
    assert {p["code"] for p in data["problems"]} >= {"unknown_parent"}
    assert isinstance(report, ValidationReport)


# --- scale --------------------------------------------------------------------------------


def _precinct(rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    """3 sub-districts, 30 communities, 300 grids of 200 m x 200 m, 3,300 incidents."""
    sub, com, grid = [], [], []
    for s in range(3):
        sub.append(box(X0 + s * 2000, Y0, X0 + (s + 1) * 2000, Y0 + 2000))
        for c in range(10):
            cx, cy = X0 + s * 2000 + (c % 5) * 400, Y0 + (c // 5) * 1000
            com.append((f"s{s}", box(cx, cy, cx + 400, cy + 1000)))
            for g in range(10):
                gx, gy = cx + (g % 2) * 200, cy + (g // 2) * 200
                grid.append((f"s{s}c{c}", box(gx, gy, gx + 200, gy + 200)))
    xy = rng.uniform([X0, Y0], [X0 + 6000, Y0 + 2000], size=(3300, 2))
    return {
        "subdistricts": gpd.GeoDataFrame(
            {"id": [f"s{s}" for s in range(3)], "name": ["a", "b", "c"]}, geometry=sub, crs=UTM
        ).to_crs(4326),
        "communities": gpd.GeoDataFrame(
            {
                "id": [f"s{k // 10}c{k % 10}" for k in range(30)],
                "name": "x",
                "subdistrict_id": [p for p, _ in com],
            },
            geometry=[g for _, g in com],
            crs=UTM,
        ).to_crs(4326),
        "grids": gpd.GeoDataFrame(
            {"id": [f"g{k}" for k in range(300)], "community_id": [p for p, _ in grid]},
            geometry=[g for _, g in grid],
            crs=UTM,
        ).to_crs(4326),
        "incidents": gpd.GeoDataFrame(
            {
                "id": [f"i{k}" for k in range(3300)],
                "occurred_at": pd.date_range("2024-03-01", periods=3300, freq="13min"),
                "category": "theft",
            },
            geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]),
            crs=UTM,
        ).to_crs(4326),
    }


def test_precinct_scale_is_clean() -> None:
    layers = _precinct(np.random.default_rng(7))
    report = validate_layers(layers)
    assert report.ok and report.warnings == [], [str(p) for p in report.problems[:5]]
