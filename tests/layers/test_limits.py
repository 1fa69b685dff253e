"""Uploads bounded by what they unpack to: zip bombs, huge layers, long error messages.

Every bomb is built here, seeded, in ``tmp_path``; the limits are set low so the tests
stay fast, except the slow-marked ones with realistic sizes.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import textwrap
import zipfile
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from click.testing import CliRunner

from gisapp.cli import cli
from gisapp.services.ingest import Source, import_into
from layers.errors import LayerError
from layers.io import list_layers, read_layer
from layers.limits import (
    MB,
    LimitError,
    ReadLimits,
    check_workspace,
    shapefile_vertex_floor,
)
from layers.validate.report import MAX_MESSAGE_CHARS, ProblemCollector, bounded_message, listed

LOW = ReadLimits(
    max_unpacked_bytes=4 * MB,
    max_members=10,
    max_ratio=50.0,
    max_features=2_000,
    max_vertices=1_000,
    max_layers=2,
    max_workspace_features=3_000,
    max_workspace_vertices=5_000,
)


def _points(n: int, seed: int = 7) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    xy = rng.uniform([114.2, 30.5], [114.4, 30.7], size=(n, 2))
    return gpd.GeoDataFrame(
        {"id": [f"P{i}" for i in range(n)], "category": "theft"},
        geometry=shapely.points(xy),
        crs=4326,
    )


def _polygon(n_vertices: int, seed: int = 7) -> shapely.Polygon:
    rng = np.random.default_rng(seed)
    angles = np.sort(rng.uniform(0, 2 * np.pi, n_vertices))
    radius = 0.01 + rng.uniform(0, 0.001, n_vertices)
    return shapely.Polygon(
        np.column_stack([114.3 + radius * np.cos(angles), 30.6 + radius * np.sin(angles)])
    )


def _zip_of(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _zip_shapefile(folder: Path, frame: gpd.GeoDataFrame, name: str = "grids") -> Path:
    shp = folder / f"{name}.shp"
    frame.to_file(shp)
    members = {
        f"{name}{ext}": shp.with_suffix(ext).read_bytes()
        for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg")
        if shp.with_suffix(ext).exists()
    }
    return _zip_of(folder / f"{name}.zip", members)


def _declare_size(path: Path, member: str, size: int) -> None:
    """Rewrite the unpacked size a zip declares for ``member`` (local and central)."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member)
    data = bytearray(path.read_bytes())
    struct.pack_into("<I", data, info.header_offset + 22, size)
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, size)
    path.write_bytes(bytes(data))


# -- archives -------------------------------------------------------------------------------


def test_high_ratio_member_is_refused_before_extraction(tmp_path: Path) -> None:
    bomb = _zip_of(tmp_path / "grids.zip", {"grids.shp": bytes(3 * MB), "grids.shx": b""})
    with pytest.raises(LimitError, match="times its packed size") as caught:
        read_layer(bomb, limits=LOW)
    assert caught.value.code == "unsafe_archive"


def test_declared_total_beyond_the_limit_is_refused(tmp_path: Path) -> None:
    bomb = _zip_of(tmp_path / "grids.zip", {"grids.shp": bytes(5 * MB)})
    with pytest.raises(LimitError, match=r"unpacks to 5\.0 MB, more than the limit of 4\.0 MB"):
        list_layers(bomb, limits=LOW)


def test_member_that_lies_about_its_size_is_not_unpacked_past_it(tmp_path: Path) -> None:
    # a member of zeros that declares a small size: the central directory looks harmless
    bomb = _zip_of(tmp_path / "grids.zip", {"grids.shp": bytes(3 * MB), "grids.shx": b"x"})
    _declare_size(bomb, "grids.shp", 1_000)
    with zipfile.ZipFile(bomb) as archive:
        assert archive.getinfo("grids.shp").file_size == 1_000
    with pytest.raises(LayerError, match="does not unpack to the size and checksum"):
        read_layer(bomb, limits=LOW)


def test_many_members_are_refused(tmp_path: Path) -> None:
    members = {f"part{i}.txt": b"x" for i in range(11)}
    bomb = _zip_of(tmp_path / "grids.zip", {"grids.shp": b"x", **members})
    with pytest.raises(LimitError, match="holds 12 files, more than the limit of 10") as caught:
        read_layer(bomb, limits=LOW)
    assert caught.value.code == "too_large"


@pytest.mark.parametrize(
    "name", ["../grids.shp", "/etc/grids.shp", "a/../../grids.shp", "C:/g.shp"]
)
def test_paths_outside_the_zip_are_refused(tmp_path: Path, name: str) -> None:
    bomb = _zip_of(tmp_path / "grids.zip", {name: b"x"})
    with pytest.raises(LimitError, match="paths outside the zip") as caught:
        read_layer(bomb)
    assert caught.value.code == "unsafe_archive"


def test_nested_zips_are_refused_by_name_and_by_content(tmp_path: Path) -> None:
    inner = _zip_of(tmp_path / "inner.zip", {"grids.shp": bytes(1000)}).read_bytes()
    named = _zip_of(tmp_path / "a.zip", {"grids.shp": b"x", "more.zip": inner})
    with pytest.raises(LimitError, match="holds another archive"):
        read_layer(named)
    disguised = _zip_of(tmp_path / "b.zip", {"grids.shp": inner, "grids.shx": b"x"})
    with pytest.raises(LimitError, match="is itself a zip archive"):
        read_layer(disguised)


def test_a_zipped_shapefile_within_the_limits_reads(tmp_path: Path) -> None:
    frame = _points(50)
    zipped = _zip_shapefile(tmp_path, frame, "incidents")
    read = read_layer(zipped, limits=LOW)
    assert read["id"].tolist() == frame["id"].tolist()
    assert shapely.equals(read.geometry.array, frame.geometry.array).all()


# -- layers ---------------------------------------------------------------------------------


def test_many_points_are_refused_from_the_header(tmp_path: Path) -> None:
    path = tmp_path / "incidents.geojson"
    _points(2_001).to_file(path)
    with pytest.raises(LimitError, match="holds 2,001 features, more than the limit of 2,000"):
        read_layer(path, limits=LOW)
    zipped = _zip_shapefile(tmp_path, _points(2_001), "incidents")
    with pytest.raises(LimitError, match="2,001 features"):
        read_layer(zipped, limits=LOW)
    assert len(read_layer(path)) == 2_001  # the default limits let it through


def test_many_csv_rows_are_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "incidents.csv"
    rows = "".join(f"P{i},114.3,30.6\n" for i in range(2_001))
    path.write_text("id,lon,lat\n" + rows, encoding="utf-8")
    with pytest.raises(LimitError, match="2,001 features"):
        read_layer(path, limits=LOW)
    path.write_text("id,lon,lat\n" + rows[: rows.index("P2000")], encoding="utf-8")
    assert len(read_layer(path, limits=replace(LOW, max_vertices=2_000))) == 2_000


def test_polygon_with_many_vertices_is_refused(tmp_path: Path) -> None:
    polygon = _polygon(5_000)
    frame = gpd.GeoDataFrame({"id": ["g1"]}, geometry=[polygon], crs=4326)
    geojson = tmp_path / "grids.geojson"
    frame.to_file(geojson)
    with pytest.raises(LimitError, match=r"holds at least [\d,]+ vertices, more than the limit"):
        read_layer(geojson, limits=LOW)
    zipped = _zip_shapefile(tmp_path, frame)
    with pytest.raises(LimitError, match="vertices"):
        read_layer(zipped, limits=LOW)


def test_shapefile_vertex_floor_is_a_lower_bound(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    shapes = [
        shapely.MultiPolygon([_polygon(int(n), seed=i)])
        for i, n in enumerate(rng.integers(4, 400, 30))
    ]
    frame = gpd.GeoDataFrame({"id": range(30)}, geometry=shapes, crs=4326)
    shp = tmp_path / "grids.shp"
    frame.to_file(shp)
    vertices = int(shapely.get_num_coordinates(frame.geometry.array).sum())
    floor = shapefile_vertex_floor(shp)
    assert 0.8 * vertices <= floor <= vertices


def test_layers_per_import_and_workspace_totals(tmp_path: Path) -> None:
    gpkg = tmp_path / "data.gpkg"
    for name in ("incidents", "stations", "cameras"):
        _points(10).to_file(gpkg, layer=name)
    result = import_into(tmp_path / "ws.gpkg", [Source(gpkg)], limits=LOW)
    assert [p.code for p in result.problems] == ["too_large"]
    assert "3 layers to import, more than the limit of 2" in result.problems[0].message
    with pytest.raises(LimitError, match="workspace would hold 3,002 features"):
        check_workspace({"a": _points(1_501), "b": _points(1_501)}, LOW)


def test_import_refuses_with_one_problem_and_saves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "incidents.geojson"
    _points(2_001).to_file(path)
    workspace = tmp_path / "ws.gpkg"
    result = import_into(workspace, [Source(path, "incidents")], limits=LOW)
    assert not result.ok and not workspace.exists()
    [problem] = result.problems
    assert problem.code == "too_large" and "2,001 features" in problem.message
    assert "split the data" in problem.fix


# -- the command line (default limits) --------------------------------------------------------


@pytest.mark.parametrize(
    ("members", "expected"),
    [
        ({"grids.shp": bytes(20 * MB), "grids.shx": b"x"}, "times its packed size"),
        ({"../../grids.shp": b"x"}, "paths outside the zip"),
        ({"grids.shp": b"x", "inner.zip": b"PK\x05\x06" + bytes(18)}, "another archive"),
    ],
)
def test_cli_import_refuses_bombs(tmp_path: Path, members: dict[str, bytes], expected: str) -> None:
    bomb = _zip_of(tmp_path / "grids.zip", members)
    out = tmp_path / "ws.gpkg"
    result = CliRunner().invoke(cli, ["import", f"grids={bomb}", "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert expected in result.output
    assert "Traceback" not in result.output and len(result.output) < 2_000
    assert not out.exists()


# -- bounded messages -------------------------------------------------------------------------


def test_long_lists_in_messages_are_cut() -> None:
    rows = ", ".join(map(str, range(2_000_000)))
    message = bounded_message(f"id 'x' is used by 2000000 features (rows {rows})")
    assert message.endswith("18, 19, … and 1,999,980 more rows)")
    assert len(message) < 200
    assert bounded_message("rows 1, 2, 3") == "rows 1, 2, 3"
    assert len(bounded_message("x" * 50_000)) <= MAX_MESSAGE_CHARS
    assert listed(list(range(25)), noun="ids").endswith("… and 5 more ids")


def test_duplicate_ids_report_stays_small() -> None:
    found = ProblemCollector()
    rows = ", ".join(map(str, range(100_000)))
    found.add("incidents", "A1", "duplicate_id", f"used by 100000 features (rows {rows})", "fix")
    assert len(json.dumps([p.to_dict() for p in found.problems])) < 1_000


# -- memory (realistic sizes) ------------------------------------------------------------------


def _shapefile_bomb(path: Path, n_vertices: int) -> Path:
    """A zipped polygon shapefile of ``n_vertices`` zero vertices, written in a stream."""
    content = 44 + 4 + 16 * n_vertices
    shp_size = 100 + 8 + content
    header = struct.pack(">7i", 9994, 0, 0, 0, 0, 0, shp_size // 2)
    header += struct.pack("<2i4d4d", 1000, 5, 0, 0, 1, 1, 0, 0, 0, 0)
    record = struct.pack(">2i", 1, content // 2) + struct.pack(
        "<i4d2i", 5, 0, 0, 1, 1, 1, n_vertices
    )
    shx = header[:24] + struct.pack(">i", 54) + header[28:] + struct.pack(">2i", 50, content // 2)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("grids.shp", "w", force_zip64=True) as out:
            out.write(header + record + struct.pack("<i", 0))
            chunk = bytes(16 * 1_000_000)
            for _ in range(n_vertices // 1_000_000):
                out.write(chunk)
        archive.writestr("grids.shx", shx)
    return path


@pytest.mark.slow
def test_realistic_bomb_fails_cleanly_under_a_memory_cap(tmp_path: Path) -> None:
    bomb = _shapefile_bomb(tmp_path / "grids.zip", 50_000_000)
    assert bomb.stat().st_size < 2 * MB
    script = textwrap.dedent(
        f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (1536 * 1024 * 1024,) * 2)
        from gisapp.services.ingest import Source, import_into
        result = import_into({str(tmp_path / "ws.gpkg")!r}, [Source.parse({f"grids={bomb}"!r})])
        print(result.ok, result.problems[0].code, result.problems[0].message)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2_000:]
    assert "MemoryError" not in done.stderr
    assert done.stdout.startswith("False too_large")
    assert "unpacks to 762.9 MB, more than the limit of 200.0 MB" in done.stdout
    assert not (tmp_path / "ws.gpkg").exists()


@pytest.mark.slow
def test_realistic_point_layer_is_refused_at_default_limits(tmp_path: Path) -> None:
    frame = _points(600_000)
    zipped = _zip_shapefile(tmp_path, frame, "incidents")
    with pytest.raises(LimitError, match="600,000 features, more than the limit of 500,000"):
        read_layer(zipped)
