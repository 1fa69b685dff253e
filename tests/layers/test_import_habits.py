"""Captains' files as they come: a layer picked out of a multi-layer file, constants and a
date joined with an hour in the field mapping, ids made for point layers, undated
incidents kept, an offset per layer, GeoParquet input and CSV files with a BOM."""

from __future__ import annotations

import sqlite3
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner, Result
from shapely.geometry import box

from gisapp.cli import cli
from gisapp.outputs.files import CSV_BOM, csv_text, write_csv
from gisapp.services.ingest import Source, import_into, ingest, parse_mappings, parse_offsets
from gisapp.store.geopackage import Workspace
from layers.crs import wgs84_to_gcj02
from layers.errors import LayerError
from layers.fields import map_fields, parse_field_mapping
from layers.incidents import normalize_clock, parse_timestamps
from layers.io import detect_format, read_layer
from layers.limits import LimitError, ReadLimits
from layers.validate import validate_layers

SEED = 11
#: A small area of Hangzhou: inside China, so GCJ-02 offsets apply.
AREA = (120.150, 30.250, 120.170, 30.270)


def run(*args: str) -> Result:
    """Run the CLI; a traceback escaping it fails the test."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _points(n: int) -> tuple[np.ndarray, np.ndarray]:
    minx, miny, maxx, maxy = AREA
    rng = np.random.default_rng(SEED)
    return rng.uniform(minx + 0.001, maxx - 0.001, n), rng.uniform(miny + 0.001, maxy - 0.001, n)


def _grids() -> gpd.GeoDataFrame:
    minx, miny, maxx, maxy = AREA
    mid = (minx + maxx) / 2
    return gpd.GeoDataFrame(
        {"编号": ["g1", "g2"], "社区": ["c1", "c1"]},
        geometry=[box(minx, miny, mid, maxy), box(mid, miny, maxx, maxy)],
        crs=4326,
    )


def _two_layer_gpkg(path: Path) -> Path:
    grids = _grids()
    grids.to_file(path, layer="wangge")
    grids.assign(编号=["x1", "x2"]).to_file(path, layer="other_grids")
    return path


def _incident_csv(path: Path, n: int, *, undated_every: int = 0) -> Path:
    lon, lat = _points(n)
    hours = ["21:48", "21", "2148", "21时48分"]
    frame = pd.DataFrame(
        {
            "经度": lon,
            "纬度": lat,
            "发案日期": [f"2024年2月{1 + i % 28}日" for i in range(n)],
            "发案时段": [hours[i % 4] for i in range(n)],
            "类别": ["盗窃"] * n,
        }
    )
    if undated_every:
        frame.loc[::undated_every, "发案日期"] = "不详"
    frame.to_csv(path, index=False)
    return path


# --- 1. a layer picked out of a multi-layer file ----------------------------------------


def test_source_names_a_layer_inside_a_file(tmp_path: Path) -> None:
    gpkg = _two_layer_gpkg(tmp_path / "city.gpkg")
    assert Source.parse(f"grids={gpkg}:wangge") == Source(gpkg, "grids", "wangge")
    assert Source.parse(f"{gpkg}:wangge") == Source(gpkg, None, "wangge")
    # A drive letter or a colon inside an existing file's name is part of the path.
    assert Source.parse(r"C:\data\city.gpkg") == Source(Path(r"C:\data\city.gpkg"))
    odd = tmp_path / "a:b.csv"
    odd.write_text("lon,lat\n1,2\n", encoding="utf-8")
    assert Source.parse(f"incidents={odd}") == Source(odd, "incidents")


def test_import_takes_the_named_layer_of_a_geopackage(tmp_path: Path) -> None:
    gpkg = _two_layer_gpkg(tmp_path / "city.gpkg")
    ws = tmp_path / "ws.gpkg"
    result = run(
        "import", f"grids={gpkg}:other_grids", "--out", str(ws),
        "--map-fields", "grids:id=编号,community_id=社区",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(Workspace.open(ws).layer("grids")["id"]) == ["x1", "x2"]


def test_import_help_shows_the_new_forms() -> None:
    text = " ".join(run("import", "--help").output.split())
    assert "'police'" in text and "occurred_at=发案日期+发案时段" in text
    assert "grids=city.gpkg:wangge" in text and "incidents=gcj02" in text and "grids=none" in text


def test_import_into_workspace_with_w(tmp_path: Path) -> None:
    gpkg = _two_layer_gpkg(tmp_path / "city.gpkg")
    ws = tmp_path / "ws.gpkg"
    mapping = "grids:id=编号,community_id=社区"
    result = run("import", "-w", str(ws), f"grids={gpkg}:wangge", "--map-fields", mapping)
    assert result.exit_code == 0, result.output
    assert sorted(Workspace.open(ws).layer("grids")["id"]) == ["g1", "g2"]


def test_unknown_inner_layer_lists_the_layers_of_the_file(tmp_path: Path) -> None:
    gpkg = _two_layer_gpkg(tmp_path / "city.gpkg")
    with pytest.raises(LayerError, match="has no layer 'wangge2'; it holds wangge, other_grids"):
        ingest([Source.parse(f"grids={gpkg}:wangge2")])
    result = run("import", f"grids={gpkg}:nope", "--out", str(tmp_path / "ws.gpkg"))
    assert result.exit_code == 1
    assert "it holds wangge, other_grids" in result.output
    assert "Traceback" not in result.output


def test_a_multi_layer_file_without_a_choice_says_how_to_choose(tmp_path: Path) -> None:
    gpkg = _two_layer_gpkg(tmp_path / "city.gpkg")
    with pytest.raises(LayerError) as info:
        ingest([Source.parse(f"grids={gpkg}")])
    assert f"'{gpkg}:wangge'" in str(info.value)
    assert "layer=" not in str(info.value) and "--layer" not in str(info.value)


def test_a_shapefile_is_picked_out_of_a_zip_with_several(tmp_path: Path) -> None:
    folder = tmp_path / "shp"
    folder.mkdir()
    _grids().to_file(folder / "wangge_a.shp", encoding="UTF-8")
    _grids().assign(编号=["b1", "b2"]).to_file(folder / "wangge_b.shp", encoding="UTF-8")
    archive = tmp_path / "grids.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for part in sorted(folder.iterdir()):
            zipped.write(part, part.name)
    ingested = ingest(
        [Source.parse(f"grids={archive}:wangge_b")],
        mappings=parse_mappings(["grids:id=编号,community_id=社区"]),
    )
    assert list(ingested.layers["grids"]["id"]) == ["b1", "b2"]


# --- 2. constants and a date joined with an hour -----------------------------------------


@pytest.mark.parametrize(
    ("cell", "clock"),
    [("21", "21:00"), ("21:48", "21:48"), ("2148", "21:48"), ("948", "9:48"),
     ("21时48分", "21:48"), ("21点", "21:00"), ("21时-22时", "21:00"), (2148, "21:48"),
     (21, "21:00")],
)  # fmt: skip
def test_hour_cells_are_read_as_clock_times(cell: object, clock: str) -> None:
    assert normalize_clock(pd.Series([cell], dtype=object)).iloc[0] == clock


def test_date_and_hour_columns_make_the_time(tmp_path: Path) -> None:
    csv = _incident_csv(tmp_path / "警情.csv", 8)
    ingested = ingest(
        [Source.parse(f"incidents={csv}")],
        mappings=parse_mappings(["incidents:occurred_at=发案日期+发案时段,category=类别"]),
    )
    times = parse_timestamps(ingested.layers["incidents"]["occurred_at"], tz="Asia/Shanghai")
    local = times.dt.tz_convert("Asia/Shanghai")
    assert local.notna().all()
    assert list(local.dt.strftime("%H:%M")[:4]) == ["21:48", "21:00", "21:48", "21:48"]
    assert local.iloc[0].strftime("%Y-%m-%d") == "2024-02-01"
    assert not ingested.problems


def test_unreadable_date_and_hour_are_counted_with_an_example() -> None:
    frame = gpd.GeoDataFrame(
        {
            "日期": ["2024年2月15日", "2024年2月30日", "2024年2月16日", "2024年2月17日"],
            "时段": ["21:48", "21:48", "25:99", "9"],
            "类别": ["盗窃"] * 4,
        },
        geometry=gpd.points_from_xy(*_points(4)),
        crs=4326,
    )
    problems: list = []
    mapping = parse_field_mapping("occurred_at=日期+时段,category=类别")
    map_fields(frame, mapping, layer="incidents", problems=problems)
    (problem,) = problems
    assert problem.code == "unreadable_date_time" and problem.severity == "warning"
    assert "2 of 4 rows (50.0%)" in problem.message
    assert "'日期' + '时段'" in problem.message
    assert "row 2: '2024年2月30日' + '21:48'" in problem.message


def test_a_quoted_value_is_a_constant(tmp_path: Path) -> None:
    lon, lat = _points(3)
    csv = tmp_path / "stations.csv"
    pd.DataFrame({"名称": ["一所", "二所", "三所"], "lon": lon, "lat": lat}).to_csv(
        csv, index=False
    )
    ingested = ingest(
        [Source.parse(f"stations={csv}")],
        mappings=parse_mappings(["stations:name=名称,kind='police',capacity=“4”"]),
    )
    stations = ingested.layers["stations"]
    assert list(stations["kind"]) == ["police"] * 3
    assert list(stations["capacity"]) == [4, 4, 4]
    report = validate_layers(ingested.layers)
    assert report.ok, [str(p) for p in report.errors]


def test_joining_columns_into_another_field_is_refused() -> None:
    frame = pd.DataFrame({"a": ["1"], "b": ["2"], "mode": ["car"], "station_id": ["s"]})
    with pytest.raises(LayerError, match="only occurred_at can be made of a date column"):
        map_fields(frame, {"id": "a+b"}, layer="units")


# --- 3. ids made for point layers ---------------------------------------------------------


def test_point_layer_without_ids_gets_stable_ids(tmp_path: Path) -> None:
    csv = _incident_csv(tmp_path / "inc.csv", 5)
    specs = ["incidents:occurred_at=发案日期+发案时段,category=类别"]
    first = ingest([Source.parse(f"incidents={csv}")], mappings=parse_mappings(specs))
    report = validate_layers(first.layers)
    assert report.ok, [str(p) for p in report.errors]
    ids = list(report.layers["incidents"]["id"])
    assert ids == [f"inc-{i:06d}" for i in range(1, 6)]
    (repair,) = [p for p in report.problems if p.code == "generated_id"]
    assert repair.severity == "repaired" and "inc-000001 to inc-000005" in repair.message
    again = validate_layers(
        ingest([Source.parse(f"incidents={csv}")], mappings=parse_mappings(specs)).layers
    )
    assert list(again.layers["incidents"]["id"]) == ids


def test_duplicate_ids_stay_an_error() -> None:
    lon, lat = _points(3)
    incidents = gpd.GeoDataFrame(
        {"id": ["a", "a", "b"], "occurred_at": ["2024-02-15 21:48"] * 3, "category": ["x"] * 3},
        geometry=gpd.points_from_xy(lon, lat),
        crs=4326,
    )
    report = validate_layers({"incidents": incidents})
    assert "duplicate_id" in {p.code for p in report.errors}
    assert "generated_id" not in report.codes


# --- 4. undated incidents -------------------------------------------------------------------


def test_undated_incidents_are_kept_and_counted(tmp_path: Path) -> None:
    csv = _incident_csv(tmp_path / "inc.csv", 40, undated_every=10)
    ws = tmp_path / "ws.gpkg"
    result = import_into(
        ws,
        [Source.parse(f"incidents={csv}")],
        mappings=parse_mappings(["incidents:occurred_at=发案日期+发案时段,category=类别"]),
        timezone="Asia/Shanghai",
    )
    assert result.ok, [str(p) for p in result.problems if p.severity == "error"]
    assert result.saved == {"incidents": 40}
    (summary,) = [p for p in result.problems if p.code == "undated_incidents"]
    assert "4 of 40 incidents (10.0%)" in summary.message
    assert "unreadable_date_time" in {p.code for p in result.problems}
    stored = Workspace.open(ws).layer("incidents")
    assert int(stored["occurred_at"].isna().sum()) == 4
    assert stored.loc[stored["occurred_at"].isna(), "id"].tolist() == [
        "inc-000001", "inc-000011", "inc-000021", "inc-000031",
    ]  # fmt: skip
    with sqlite3.connect(ws) as db:
        nulls = db.execute("SELECT count(*) FROM incidents WHERE occurred_at IS NULL").fetchone()
    assert nulls == (4,)


def test_all_undated_incidents_still_import_with_a_warning(tmp_path: Path) -> None:
    lon, lat = _points(6)
    csv = tmp_path / "inc.csv"
    pd.DataFrame({"lon": lon, "lat": lat, "category": ["盗窃"] * 6}).to_csv(csv, index=False)
    ws = tmp_path / "ws.gpkg"
    result = import_into(ws, [Source.parse(f"incidents={csv}")])
    assert result.ok, [str(p) for p in result.problems]
    codes = {p.code: p for p in result.problems}
    assert codes["no_time_field"].severity == "warning"
    assert "none of the 6 incidents" in codes["undated_incidents"].message
    assert Workspace.open(ws).layer("incidents")["occurred_at"].isna().all()


# --- 5. an offset per layer -------------------------------------------------------------------


def test_offsets_per_layer() -> None:
    assert parse_offsets(["gcj02"]) == {None: "gcj02"}
    assert parse_offsets(["incidents=gcj02", "grids=none"]) == {
        "incidents": "gcj02",
        "grids": None,
    }
    with pytest.raises(LayerError, match="'wgs' is not a coordinate system"):
        parse_offsets(["incidents=wgs"])
    with pytest.raises(LayerError, match="'incident' is not a layer"):
        parse_offsets(["incident=gcj02"])


def test_an_offset_converts_only_its_layer(tmp_path: Path) -> None:
    lon, lat = _points(5)
    glon, glat = wgs84_to_gcj02(lon, lat)
    incidents = tmp_path / "incidents.csv"
    pd.DataFrame(
        {"id": list("abcde"), "lon": glon, "lat": glat, "occurred_at": ["2024-02-15 21:48"] * 5,
         "category": ["盗窃"] * 5}
    ).to_csv(incidents, index=False)  # fmt: skip
    stations = tmp_path / "stations.csv"
    pd.DataFrame({"id": list("abcde"), "name": list("abcde"), "kind": ["police"] * 5,
                  "lon": lon, "lat": lat}).to_csv(stations, index=False)  # fmt: skip
    ws = tmp_path / "ws.gpkg"
    result = run(
        "import", f"incidents={incidents}", f"stations={stations}", "--out", str(ws),
        "--offset", "gcj02", "--offset", "stations=none",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    workspace = Workspace.open(ws)
    original = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs=4326).to_crs(32651)
    moved = workspace.layer("incidents").sort_values("id").geometry.to_crs(32651)
    assert float(moved.distance(original, align=False).max()) < 1.0
    kept = workspace.layer("stations").sort_values("id").geometry
    assert np.array_equal(
        shapely.get_coordinates(np.asarray(kept.array)), np.column_stack([lon, lat])
    )


def test_validate_takes_offsets_per_layer_too(tmp_path: Path) -> None:
    lon, lat = _points(3)
    stations = tmp_path / "stations.csv"
    pd.DataFrame({"id": list("abc"), "name": list("abc"), "kind": ["police"] * 3,
                  "lon": lon, "lat": lat}).to_csv(stations, index=False)  # fmt: skip
    result = run("validate", f"stations={stations}", "--offset", "stations=bd09", "--json")
    assert result.exit_code == 0, result.output
    assert "converted from BD09" in result.output
    result = run("validate", f"stations={stations}", "--offset", "roads=gcj02")
    assert result.exit_code == 1
    assert "which this import does not read" in result.output


# --- 6. GeoParquet ----------------------------------------------------------------------------


def test_geoparquet_is_read_like_other_formats(tmp_path: Path) -> None:
    path = tmp_path / "grids.parquet"
    _grids().to_parquet(path)
    assert detect_format(path) == "parquet"
    frame = read_layer(path)
    assert isinstance(frame, gpd.GeoDataFrame) and len(frame) == 2
    assert frame.crs is not None and frame.crs.to_epsg() == 4326
    renamed = tmp_path / "grids.geoparquet"
    renamed.write_bytes(path.read_bytes())
    ingested = ingest(
        [Source.parse(str(renamed))], mappings=parse_mappings(["grids:id=编号,community_id=社区"])
    )
    assert list(ingested.layers["grids"]["id"]) == ["g1", "g2"]


def test_geoparquet_over_the_limit_is_refused_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "incidents.parquet"
    lon, lat = _points(30)
    gpd.GeoDataFrame({"v": range(30)}, geometry=gpd.points_from_xy(lon, lat), crs=4326).to_parquet(
        path
    )

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the file was read before its size was checked")

    monkeypatch.setattr(gpd, "read_parquet", never)
    with pytest.raises(LimitError, match="30 features"):
        read_layer(path, limits=ReadLimits(max_features=20))
    with pytest.raises(LimitError, match="vertices"):
        read_layer(path, limits=ReadLimits(max_vertices=10))


def test_a_damaged_parquet_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1" + b"\x00" * 64)
    with pytest.raises(LayerError, match="export the layer as GeoParquet again"):
        read_layer(path)


# --- 7. CSV files with a BOM ------------------------------------------------------------------


def test_csv_for_people_starts_with_a_bom(tmp_path: Path) -> None:
    table = pd.DataFrame({"网格": ["一号"], "警情": [3]})
    assert csv_text(table).startswith(CSV_BOM)
    path = write_csv(table, tmp_path / "t.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw.decode("utf-8-sig").splitlines()[1] == "一号,3"
    assert pd.read_csv(path).columns.tolist() == ["网格", "警情"]


def test_product_csv_writers_use_the_bom(tmp_path: Path) -> None:
    from gisapp.outputs.hotspots import table_csv

    layer = gpd.GeoDataFrame({"社区": ["东湖"]}, geometry=gpd.points_from_xy([120.1], [30.2]))
    assert table_csv(layer, tmp_path / "areas.csv").read_bytes().startswith("\ufeff社区".encode())


def test_a_mapped_column_that_is_not_there_is_named(tmp_path: Path) -> None:
    csv = _incident_csv(tmp_path / "inc.csv", 4)
    mapping = parse_mappings(["incidents:occurred_at=发案日期+发案时间,category=类别"])
    with pytest.raises(LayerError, match=r"occurred_at=发案日期\+发案时间; the columns are"):
        ingest([Source.parse(f"incidents={csv}")], mappings=mapping)


def test_validate_reads_a_named_layer_of_a_file(tmp_path: Path) -> None:
    gpkg = _two_layer_gpkg(tmp_path / "city.gpkg")
    args = ["--map-fields", "grids:id=编号,community_id=社区", "--json"]
    result = run("validate", f"{gpkg}:wangge", "--layer", "grids", *args)
    assert result.exit_code == 0, result.output
    result = run("validate", f"grids={gpkg}:missing", *args)
    assert result.exit_code == 1 and "it holds wangge, other_grids" in result.output
