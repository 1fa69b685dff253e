"""Tests of layers.io: reading every supported format, and clear errors for bad files."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import Point, box

from layers.errors import LayerError
from layers.fields import map_fields, suggest_mapping
from layers.incidents import parse_timestamps
from layers.io import detect_format, list_layers, read_layer, read_layers, read_table

TRICKY = Path(__file__).parents[1] / "data" / "tricky"

GRID_MAPPING = {"id": "网格编号", "community_id": "所属社区编号", "officer": "网格负责民警"}


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "ws.gpkg"
    stations = gpd.GeoDataFrame(
        {"id": ["s1"], "name": ["江汉派出所"], "kind": ["station"]},
        geometry=[Point(114.27, 30.58)],
        crs="EPSG:4326",
    )
    grids = gpd.GeoDataFrame(
        {"id": ["g1"], "community_id": ["c1"]},
        geometry=[box(114.26, 30.57, 114.28, 30.59)],
        crs="EPSG:4326",
    )
    pyogrio.write_dataframe(stations, path, layer="stations")
    pyogrio.write_dataframe(grids, path, layer="grids")
    pyogrio.write_dataframe(
        pd.DataFrame({"key": ["name"], "value": ["江汉"]}), path, layer="gisapp_meta"
    )
    return path


@pytest.mark.parametrize("name", ["grids_gbk.zip", "grids_gbk_nocpg.zip"])
def test_gbk_zipped_shapefile_reads_and_maps(name):
    raw = read_layer(TRICKY / name)
    assert list(raw.columns) == ["网格编号", "所属社区编", "网格负责民", "联系电话", "geometry"]
    grids = map_fields(raw, GRID_MAPPING, layer="grids")
    assert grids["officer"].tolist() == ["张伟", "李娜", "王芳", "刘洋"]
    assert grids["community_id"].tolist() == ["SQ01", "SQ01", "SQ02", "SQ02"]
    assert grids.crs == "EPSG:4326" and len(grids) == 4
    assert suggest_mapping(raw.columns, "grids")["community_id"] == "所属社区编"


def test_plain_shapefile_without_cpg(tmp_path):
    with zipfile.ZipFile(TRICKY / "grids_gbk_nocpg.zip") as archive:
        archive.extractall(tmp_path)
    grids = read_layer(tmp_path / "grids.shp")
    assert grids["网格负责民"].tolist() == ["张伟", "李娜", "王芳", "刘洋"]


def test_utf8_shapefile_without_cpg_is_detected(tmp_path):
    gdf = gpd.GeoDataFrame({"名称": ["花楼社区"]}, geometry=[Point(114.27, 30.58)], crs="EPSG:4326")
    pyogrio.write_dataframe(gdf, tmp_path / "c.shp", encoding="UTF-8")
    (tmp_path / "c.cpg").unlink()
    assert read_layer(tmp_path / "c.shp")["名称"].tolist() == ["花楼社区"]


def _rezip(source: Path, target: Path, cpg: bytes | None) -> Path:
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(target, "w") as out:
        for member in archive.namelist():
            if not member.endswith(".cpg"):
                out.writestr(member, archive.read(member))
        if cpg is not None:
            out.writestr("grids.cpg", cpg)
    return target


@pytest.mark.parametrize("cpg", [b"936", b"ANSI 936", b"GB2312", b"UTF-8", b"nonsense"])
def test_cpg_variants_and_wrong_cpg(tmp_path, cpg):
    # "UTF-8" over GBK data is a wrong .cpg, common from old exporters: the data decides.
    path = _rezip(TRICKY / "grids_gbk.zip", tmp_path / "g.zip", cpg)
    assert read_layer(path)["网格负责民"].iloc[0] == "张伟"


def test_explicit_encoding_wins(tmp_path):
    path = _rezip(TRICKY / "grids_gbk.zip", tmp_path / "g.zip", b"UTF-8")
    assert read_layer(path, encoding="GBK")["网格负责民"].iloc[0] == "张伟"
    with pytest.raises(LayerError, match=r"g.zip.*encoding="):
        read_layer(path, encoding="UTF-8")


def test_zip_with_several_shapefiles(tmp_path):
    path = tmp_path / "two.zip"
    with zipfile.ZipFile(TRICKY / "grids_gbk.zip") as source, zipfile.ZipFile(path, "w") as out:
        for member in source.namelist():
            data = source.read(member)
            out.writestr(f"a/{member.replace('grids', 'first')}", data)
            out.writestr(member.replace("grids", "second"), data)
    assert list_layers(path) == ["first", "second"]
    with pytest.raises(LayerError, match="2 shapefiles: first, second"):
        read_layer(path)
    assert len(read_layer(path, layer="second")) == 4
    assert set(read_layers(path)) == {"first", "second"}


def test_geopackage_layers(workspace):
    assert list_layers(workspace) == ["stations", "grids", "gisapp_meta"]
    with pytest.raises(LayerError, match=r"stations, grids, gisapp_meta.*ws\.gpkg:stations'"):
        read_layer(workspace)
    stations = read_layer(workspace, layer="stations")
    assert isinstance(stations, gpd.GeoDataFrame) and stations["name"].iloc[0] == "江汉派出所"
    meta = read_layer(workspace, layer="gisapp_meta")
    assert type(meta) is pd.DataFrame and meta["value"].iloc[0] == "江汉"
    with pytest.raises(LayerError, match="has no layer 'roads'; it holds stations, grids"):
        read_layer(workspace, layer="roads")
    layers = read_layers(workspace)
    assert list(layers) == ["stations", "grids", "gisapp_meta"]
    assert read_table(workspace, layer="grids").columns.tolist() == ["id", "community_id"]


def test_format_is_told_from_content(workspace, tmp_path):
    renamed = tmp_path / "export.dat"
    shutil.copy(workspace, renamed)
    assert detect_format(renamed) == "gpkg"
    assert read_layer(renamed, layer="grids")["id"].iloc[0] == "g1"


def test_geojson_and_crs_argument(tmp_path):
    path = tmp_path / "s.geojson"
    gpd.GeoDataFrame({"id": ["a"]}, geometry=[Point(114.27, 30.58)], crs="EPSG:4326").to_file(path)
    assert read_layer(path).crs.equals("EPSG:4326")
    with pytest.raises(LayerError, match=r"declares CRS.*crs='EPSG:32650'"):
        read_layer(path, crs="EPSG:32650")
    with pytest.raises(LayerError, match="'crs' should be"):
        read_layer(path, crs="not a crs")


def test_gbk_csv_incidents_through_mapping():
    raw = read_layer(TRICKY / "incidents_gbk.csv")
    assert raw.crs == "EPSG:4326" and "经度" not in raw.columns
    mapping = suggest_mapping(raw.columns, "incidents")
    assert mapping == {
        "id": "警情编号",
        "occurred_at": "发案时间",
        "category": "案件类别",
        "address": "发案地址",
    }
    incidents = map_fields(raw, mapping, layer="incidents")
    occurred = parse_timestamps(incidents["occurred_at"], tz="Asia/Shanghai")
    assert occurred.iloc[0] == pd.Timestamp("2024-02-15 13:48", tz="UTC")
    assert occurred.iloc[3] == pd.Timestamp("2024-02-16 07:30", tz="UTC")  # 下午3:30
    assert pd.isna(occurred.iloc[4])  # "某日" cannot be parsed: NaT, for the validator
    assert incidents["category"].tolist()[:2] == ["盗窃", "抢夺"]
    assert incidents.geometry.iloc[0].x == pytest.approx(114.2651)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_encodings_and_codes(tmp_path, encoding):
    text = "编号;名称;纬度;经度\n007;花楼社区;30.58;114.27\n010;水塔;30.59;114.28\n"
    path = tmp_path / "p.csv"
    path.write_bytes(text.encode(encoding))
    gdf = read_layer(path)
    assert gdf["名称"].tolist() == ["花楼社区", "水塔"]
    assert gdf["编号"].tolist() == ["007", "010"]  # codes keep their leading zeros
    assert gdf.geometry.iloc[0].coords[0] == (114.27, 30.58)


def test_csv_named_columns_wkt_and_crs(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("id,east,north,shape\na,500000,3383000,POINT (500000 3383000)\nb,,,\n")
    gdf = read_layer(path, x="east", y="north", crs="EPSG:32650")
    assert gdf.crs.to_epsg() == 32650 and gdf.geometry.iloc[1] is None
    by_wkt = read_layer(path, wkt="shape", crs="EPSG:32650")
    assert by_wkt.geometry.iloc[0].x == 500000
    with pytest.raises(LayerError, match="'x' 'lon' is not a column"):
        read_layer(path, x="lon", y="north")
    with pytest.raises(LayerError, match="given together"):
        read_layer(path, x="east")


def test_csv_wkt_detected_and_lonlat_assumed(tmp_path):
    path = tmp_path / "zones.csv"
    path.write_text(
        'id,wkt\nz1,"POLYGON ((114.26 30.58, 114.27 30.58, 114.27 30.59, 114.26 30.58))"\n'
    )
    gdf = read_layer(path)
    assert gdf.crs == "EPSG:4326" and gdf.geometry.iloc[0].geom_type == "Polygon"


def test_units_table_from_csv(tmp_path):
    path = tmp_path / "units.csv"
    path.write_text("id,mode,station_id\n01,car,s1\n")
    assert read_table(path).to_dict("records") == [{"id": "01", "mode": "car", "station_id": "s1"}]
    with pytest.raises(LayerError, match=r"no coordinate columns.*read_table"):
        read_layer(path)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda d: d / "nothing.gpkg", "does not exist"),
        (lambda d: _write(d / "e.geojson", b""), "is empty"),
        (lambda d: _write(d / "bad.gpkg", b"not a database at all"), "lacks the SQLite header"),
        (lambda d: _write(d / "map.geojson", b"\x89PNG\r\n\x1a\n\x00\x00"), "not GeoJSON.*binary"),
        (lambda d: _write(d / "t.geojson", b"a,b\n1,2\n"), "not GeoJSON.*CSV"),
        (lambda d: _write(d / "j.geojson", b'{"foo": 1}'), "not valid GeoJSON"),
        (lambda d: _write(d / "x.kml", b"<kml></kml>"), "unsupported format.*'.kml'"),
        (lambda d: _write(d / "n.csv", b"name,remark\na,b\n"), "no coordinate columns"),
        (lambda d: _zip(d / "z.zip", {"readme.txt": b"hi"}), "holds no shapefile.*readme.txt"),
        (lambda d: _zip(d / "s.zip", {"g.shp": b"\x00\x00\x27\x0a"}), "cannot read.*shx"),
        (lambda d: _write(d / "c.zip", b"PK\x03\x04broken"), "not a readable zip"),
        (lambda d: d, "is a folder"),
    ],
    ids=[
        "missing",
        "empty",
        "fake-gpkg",
        "png-as-geojson",
        "csv-as-geojson",
        "json-not-geojson",
        "unsupported",
        "csv-no-coords",
        "zip-no-shp",
        "zip-bad-shp",
        "corrupt-zip",
        "folder",
    ],
)
def test_bad_files_give_clear_errors(tmp_path, make, match):
    path = make(tmp_path)
    with pytest.raises(LayerError, match=match) as info:
        read_layer(path)
    assert path.name in str(info.value)


def test_truncated_geopackage(tmp_path, workspace):
    data = workspace.read_bytes()
    path = _write(tmp_path / "cut.gpkg", data[: len(data) // 3])
    for call in (list_layers, read_layer, read_layers):
        with pytest.raises(LayerError, match=r"cut.gpkg.*damaged or truncated.*export it again"):
            call(path)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_real_new_haven_geopackage(shared_data):
    path = shared_data("new_haven.gpkg")
    assert list_layers(path) == ["incidents", "streets"]
    incidents = read_layer(path, layer="incidents")
    assert len(incidents) == 3293 and incidents.crs.to_epsg() == 4326


def test_real_osm_pbf_delegates_to_osm_reader(shared_data):
    path = shared_data("liechtenstein-2013-08-03.osm.pbf")
    assert detect_format(path) == "osm_pbf"
    assert list_layers(path) == ["roads", "roads_walk", "boundaries", "places", "police"]
    boundaries = read_layer(path, layer="boundaries")
    assert len(boundaries) == 11 and boundaries.crs == "EPSG:4326"
    with pytest.raises(LayerError, match=r"'pois'.*roads, roads_walk, boundaries, places, police"):
        read_layer(path, layer="pois")


def test_fake_osm_file(tmp_path):
    path = _write(tmp_path / "city.osm.pbf", b"\x00\x00\x00\x0dnot osm data")
    with pytest.raises(LayerError, match=r"city.osm.pbf.*not"):
        read_layer(path)
