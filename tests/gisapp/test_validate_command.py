"""``gisapp validate`` on hostile files: exit 1 and a message in the user's words, no traceback;
the reading options of ``gisapp import``; checks against the workspace a file is meant for."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner, Result
from shapely.geometry import box

from gisapp.cli import cli
from gisapp.store.geopackage import Workspace
from layers.crs import wgs84_to_gcj02

SEED = 7
#: Downtown New Haven: swapped, its lon/lat (41.3, -72.9) are still in range.
AREA = (-72.94, 41.30, -72.92, 41.32)


def run(*args: str) -> Result:
    """Run the CLI; an exception that escapes it (a traceback) fails the test."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _inside(n: int) -> tuple[np.ndarray, np.ndarray]:
    minx, miny, maxx, maxy = AREA
    rng = np.random.default_rng(SEED)
    return rng.uniform(minx + 0.001, maxx - 0.001, n), rng.uniform(miny + 0.001, maxy - 0.001, n)


def _csv(path: Path, xs: np.ndarray, ys: np.ndarray, times: list[str] | None = None) -> Path:
    frame = pd.DataFrame(
        {
            "id": [f"I{i}" for i in range(len(xs))],
            "occurred_at": times or ["2024-02-15 21:48"] * len(xs),
            "category": ["theft"] * len(xs),
            "lon": xs,
            "lat": ys,
        }
    )
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A workspace of two grids over :data:`AREA` with one unit."""
    minx, miny, maxx, maxy = AREA
    midx = (minx + maxx) / 2
    grids = gpd.GeoDataFrame(
        {"id": ["G1", "G2"], "community_id": ["C1", "C1"], "unit_id": ["U1", "U1"]},
        geometry=[box(minx, miny, midx, maxy), box(midx, miny, maxx, maxy)],
        crs=4326,
    )
    units = pd.DataFrame(
        {"id": ["U1"], "mode": ["car"], "station_id": ["S1"], "grid_ids": ["G1,G2"]}
    )
    path = tmp_path / "ws.gpkg"
    Workspace.create(path, {"grids": grids, "units": units}, meta={"timezone": "America/New_York"})
    return path


def _problems(result: Result) -> list[dict]:
    return list(json.loads(result.output)["problems"])


def _polygon_file(path: Path, rings: list[list[tuple[float, float]]]) -> Path:
    feature = {
        "type": "Feature",
        "properties": {"id": "G1", "community_id": "C1"},
        "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in r] for r in rings]},
    }
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    return path


# -- hostile files ----------------------------------------------------------------------------


def test_unclosed_ring_is_closed_and_reported(tmp_path: Path) -> None:
    minx, miny, maxx, maxy = AREA
    path = _polygon_file(tmp_path / "g.geojson", [[(minx, miny), (maxx, miny), (maxx, maxy)]])
    result = run("validate", f"grids={path}")
    assert result.exit_code == 0, result.output
    assert "REPAIRED" in result.output and "does not end where it starts" in result.output


def test_bowtie_is_repaired_and_reported(tmp_path: Path) -> None:
    minx, miny, maxx, maxy = AREA
    ring = [(minx, miny), (maxx, maxy), (maxx, miny), (minx, maxy), (minx, miny)]
    result = run("validate", f"grids={_polygon_file(tmp_path / 'g.geojson', [ring])}")
    assert result.exit_code == 0, result.output
    assert "crosses itself" in result.output and "split into 2 parts" in result.output


def test_hole_outside_shell_is_reported(tmp_path: Path) -> None:
    minx, miny, maxx, maxy = AREA
    shell = [(minx, miny), (maxx, miny), (maxx, maxy), (minx, maxy), (minx, miny)]
    hole = [(x + 0.1, y) for x, y in shell]
    result = run("validate", f"grids={_polygon_file(tmp_path / 'g.geojson', [shell, hole])}")
    assert "hole lies outside its outline" in result.output and "dropped" in result.output


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("9999-12-31T23:59:59", "in the future"),
        ("0001-01-01 00:00", "before 1990-01-01"),
    ],
)
def test_implausible_years_exit_1(tmp_path: Path, text: str, words: str) -> None:
    xs, ys = _inside(3)
    path = _csv(tmp_path / "i.csv", xs, ys, ["2024-02-15 21:48", text, "2024-02-16 08:00"])
    result = run("validate", f"incidents={path}", "--timezone", "America/New_York")
    assert result.exit_code == 1, result.output
    assert "incidents[I1]" in result.output and words in result.output


def test_dst_gap_is_moved_and_reported(tmp_path: Path) -> None:
    xs, ys = _inside(2)
    path = _csv(tmp_path / "i.csv", xs, ys, ["2024-03-10 02:30", "2024-03-10 12:00"])
    result = run("validate", f"incidents={path}", "--timezone", "America/New_York")
    assert result.exit_code == 0, result.output
    assert "does not exist in America/New_York" in result.output


def test_null_island_exits_1(tmp_path: Path) -> None:
    xs, ys = _inside(4)
    xs[2], ys[2] = 0.0, 0.0
    result = run("validate", f"incidents={_csv(tmp_path / 'i.csv', xs, ys)}")
    assert result.exit_code == 1
    assert "incidents[I2]" in result.output and "longitude 0, latitude 0" in result.output


def test_duplicate_columns_exit_1_with_their_names(tmp_path: Path) -> None:
    path = tmp_path / "i.csv"
    path.write_text("id,category,occurred_at,category,lon,lat\nI1,a,2024-02-15,b,-72.93,41.31\n")
    result = run("validate", f"incidents={path}")
    assert result.exit_code == 1
    assert "duplicate columns: 'category' (2 times)" in result.output


def test_unknown_crs_exits_1_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "i.geojson"
    crs = {"type": "name", "properties": {"name": "EPSG:999999"}}
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [], "crs": crs}))
    result = run("validate", f"incidents={path}")
    assert result.exit_code == 1
    assert "EPSG:999999" in result.output and "EPSG:4490" in result.output


def test_truncated_geopackage_says_so(tmp_path: Path) -> None:
    xs, ys = _inside(300)
    whole = tmp_path / "whole.gpkg"
    gpd.GeoDataFrame({"id": range(300)}, geometry=gpd.points_from_xy(xs, ys), crs=4326).to_file(
        whole, driver="GPKG"
    )
    data = tmp_path / "data.gpkg"
    data.write_bytes(whole.read_bytes()[:40_000])
    result = run("validate", str(data))
    assert result.exit_code == 1
    assert "truncated or damaged" in result.output
    assert "cannot tell which layer" not in result.output


# -- the options of import --------------------------------------------------------------------


def test_map_fields_finds_a_gbk_field_cut_to_10_bytes(tmp_path: Path) -> None:
    minx, miny, maxx, maxy = AREA
    grids = gpd.GeoDataFrame(
        {"id": ["G1"], "所属社区编码": ["C1"], "网格员": ["李伟"]},
        geometry=[box(minx, miny, maxx, maxy)],
        crs=4326,
    )
    folder = tmp_path / "shp"
    folder.mkdir()
    pyogrio.write_dataframe(grids, folder / "grids.shp", encoding="GBK")
    path = tmp_path / "grids.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for member in sorted(os.listdir(folder)):
            archive.write(folder / member, member)
    assert "所属社区编" in pyogrio.read_info(folder / "grids.shp")["fields"]  # cut on disk

    plain = run("validate", f"grids={path}")
    assert plain.exit_code == 1 and "community_id" in plain.output
    for name in ("所属社区编码", "所属社区编"):  # the full name, or the cut one
        mapped = run("validate", f"grids={path}", "--map-fields", f"grids:community_id={name}")
        assert mapped.exit_code == 0, mapped.output


def test_offset_converts_gcj02_like_import(tmp_path: Path) -> None:
    lon, lat = wgs84_to_gcj02(np.array([114.305]), np.array([30.593]))
    path = tmp_path / "stations.csv"
    path.write_text(f"id,name,kind,lon,lat\nS1,江汉,station,{lon[0]},{lat[0]}\n")
    result = run("validate", f"stations={path}", "--offset", "gcj02", "--json")
    assert result.exit_code == 0, result.output
    assert [p["code"] for p in _problems(result)] == ["offset_converted"]
    assert "GCJ02 to WGS84" in _problems(result)[0]["message"]


# -- against a workspace ----------------------------------------------------------------------


def test_workspace_catches_a_file_outside_its_area(tmp_path: Path, workspace: Path) -> None:
    xs, ys = _inside(5)
    path = _csv(tmp_path / "i.csv", xs + 1.0, ys)
    alone = run("validate", f"incidents={path}")
    assert alone.exit_code == 0, alone.output  # nothing tells that it is elsewhere
    result = run("validate", f"incidents={path}", "-w", str(workspace))
    assert result.exit_code == 1
    assert "none of the 5 features of layer 'incidents'" in result.output
    assert "workspace's grids" in result.output and "km away" in result.output


def test_workspace_catches_swapped_rows(tmp_path: Path, workspace: Path) -> None:
    xs, ys = _inside(8)
    xs[:2], ys[:2] = ys[:2].copy(), xs[:2].copy()
    path = _csv(tmp_path / "i.csv", xs, ys)
    assert run("validate", f"incidents={path}").exit_code == 0
    result = run("validate", f"incidents={path}", "--workspace", str(workspace), "--json")
    assert result.exit_code == 1
    swapped = [p for p in _problems(result) if p["code"] == "swapped_lat_lon"]
    assert [p["feature_id"] for p in swapped] == ["I0", "I1"]
    assert "longitude and latitude look swapped" in swapped[0]["message"]


def test_workspace_checks_references_and_uses_its_time_zone(
    tmp_path: Path, workspace: Path
) -> None:
    minx, miny, maxx, maxy = AREA
    grids = gpd.GeoDataFrame(
        {"id": ["G1", "G3"], "community_id": ["C1", "C1"], "unit_id": ["U1", "U9"]},
        geometry=[
            box(minx, miny, maxx, (miny + maxy) / 2),
            box(minx, (miny + maxy) / 2, maxx, maxy),
        ],
        crs=4326,
    )
    path = tmp_path / "grids.geojson"
    grids.to_file(path, driver="GeoJSON")
    assert run("validate", f"grids={path}").exit_code == 0
    result = run("validate", f"grids={path}", "-w", str(workspace))
    assert result.exit_code == 1
    # The workspace's unit U1 looks after G2, which the new grids drop; G3 names no unit.
    assert "unit U1 names grid(s) G2 not in 'grids'" in result.output
    assert "grid G3 has unit_id 'U9', which is not an id in 'units'" in result.output

    xs, ys = _inside(1)
    gap = _csv(tmp_path / "i.csv", xs, ys, ["2024-03-10 02:30"])
    result = run("validate", f"incidents={gap}", "-w", str(workspace))
    assert "does not exist in America/New_York" in result.output


def test_unknown_workspace_is_a_clear_error(tmp_path: Path) -> None:
    xs, ys = _inside(1)
    result = CliRunner().invoke(
        cli, ["validate", f"incidents={_csv(tmp_path / 'i.csv', xs, ys)}", "-w", "nowhere.gpkg"]
    )
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
