"""What the layers library tells a captain, in Chinese: refused files, validation problems,
repairs and limits read in Chinese and still name the user's own file, columns and ids;
codes and JSON keys stay as they are, and English is unchanged."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from shapely.geometry import box

from layers.errors import LayerError, Problem, ValidationError
from layers.fields import map_fields
from layers.i18n import use_language
from layers.io import read_layer
from layers.limits import MB, LimitError, ReadLimits
from layers.repair import repair_sibling_overlaps
from layers.validate import validate_layers
from layers.validate.files import check_source_file
from layers.validate.report import listed

#: UTM 50N (Tianjin), the CRS the test areas are drawn in.
UTM = "EPSG:32650"
X0, Y0 = 500_000.0, 4_330_000.0
#: Latin words allowed in a Chinese message: names of formats, systems and fields.
ALLOWED = {
    "bbox",
    "cgcs",
    "crs",
    "deflate",
    "epsg",
    "geojson",
    "geopackage",
    "gis",
    "grids",
    "communities",
    "incidents",
    "occurred",
    "shapefile",
    "utf",
    "wgs",
    "zip",
}


def _english_words(text: str, *names: str) -> list[str]:
    """Latin words of four letters or more in ``text`` that are not allowed names."""
    for name in names:
        text = text.replace(name, " ")
    words = re.findall(r"[A-Za-z]{4,}", text)
    return [w for w in words if w.lower() not in ALLOWED]


def _cell(x: float, y: float, w: float, h: float) -> shapely.Polygon:
    return box(X0 + x, Y0 + y, X0 + x + w, Y0 + y + h)


def _grids(cells: list[shapely.Polygon]) -> gpd.GeoDataFrame:
    ids = [f"网格{i + 1}" for i in range(len(cells))]
    frame = gpd.GeoDataFrame({"id": ids, "community_id": ["c1"] * len(cells)}, geometry=cells)
    return frame.set_crs(UTM).to_crs(4326)


def _community() -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(
        {"id": ["c1"], "name": ["和平社区"], "subdistrict_id": ["s1"]},
        geometry=[_cell(0, 0, 400, 200)],
    )
    return frame.set_crs(UTM).to_crs(4326)


def _overlapping_grids() -> gpd.GeoDataFrame:
    # 网格1 reaches 10 m into 网格2: 5 % of the smaller one.
    return _grids([_cell(0, 0, 210, 200), _cell(200, 0, 200, 200)])


# ---------------------------------------------------------------- validation problems


def test_overlapping_grids_are_refused_then_repaired_in_chinese() -> None:
    grids, communities = _overlapping_grids(), _community()
    with use_language("zh_CN"):
        report = validate_layers({"grids": grids, "communities": communities})
        overlap = next(p for p in report.errors if p.code == "sibling_overlap")
        repair = repair_sibling_overlaps({"grids": grids}, context={"communities": communities})
        repaired = [p for p in repair.problems if p.code == "overlap_repaired"]
        shown = str(repaired[0])
        rule = repair.to_dict()["rule"]
    assert "网格 网格1 与同级的 网格2 重叠" in overlap.message
    assert "平方米" in overlap.message and "占较小者的 5.0%" in overlap.message
    assert "导入时接受重叠修复" in overlap.fix
    assert len(repaired) == 1 and repaired[0].severity == "repaired"
    assert shown.startswith("已修复") and "grids[网格1]：" in shown and "处理办法：" in shown
    # The overlap lies nearer the centre of 网格2, the feature it reaches into.
    assert "已划给 网格2，并从 网格1 中去除" in shown
    assert rule == "每块重叠区域划给中心离它最近的那个要素"
    assert not _english_words(shown)


def test_unreadable_incident_times_are_warned_in_chinese_naming_the_columns() -> None:
    points = [shapely.Point(117.2 + i / 1000, 39.1) for i in range(4)]
    raw = pd.DataFrame(
        {
            "编号": ["a1", "a2", "a3", "a4"],
            "发案日期": ["2024年2月15日", "2024年2月30日", "2024-03-01", "昨天"],
            "发案时段": ["21:48", "21:48", "8时", "晚上"],
            "案由": ["盗窃"] * 4,
        }
    )
    frame = gpd.GeoDataFrame(raw, geometry=points, crs="EPSG:4326")
    problems: list[Problem] = []
    with use_language("zh_CN"):
        mapped = map_fields(
            frame,
            {"id": "编号", "occurred_at": "发案日期+发案时段", "category": "案由"},
            layer="incidents",
            problems=problems,
        )
        mapped.loc[0, "occurred_at"] = "上个月某天"
        report = validate_layers({"incidents": mapped}, timezone="Asia/Shanghai")
    joined = next(p for p in problems if p.code == "unreadable_date_time")
    assert "4 行中有 2 行（50.0%）" in joined.message
    assert "'发案日期' + '发案时段' 无法组成可识别的日期时间" in joined.message
    assert "第 2 行：'2024年2月30日' + '21:48'" in joined.message
    unparseable = next(p for p in report.warnings if p.code == "unparseable_time")
    assert unparseable.feature_id == "a1"
    assert "警情 a1 的发案时间（occurred_at）为 '上个月某天'" in unparseable.message
    assert "无法识别为日期时间" in unparseable.message
    undated = next(p for p in report.warnings if p.code == "undated_incidents")
    assert "4 件警情中有" in undated.message
    for problem in (joined, unparseable, undated):
        assert not _english_words(problem.message + problem.fix, "occurred_at"), problem


def test_a_layer_without_crs_in_metres_is_an_error_in_chinese() -> None:
    grids = _grids([_cell(0, 0, 200, 200)]).to_crs(UTM).set_crs(None, allow_override=True)
    with use_language("zh_CN"):
        report = validate_layers({"grids": grids})
        missing = next(p for p in report.errors if p.code == "missing_crs")
        with pytest.raises(ValidationError) as caught:
            report.raise_if_errors()
    assert missing.message.startswith("该图层没有坐标系")
    assert "crs='EPSG:4547'" in missing.fix
    text = str(caught.value)
    assert text.startswith("输入数据中有 1 个问题：")
    assert "错误" in text and "grids：该图层没有坐标系" in text


def test_the_json_report_keeps_codes_and_keys_with_chinese_messages() -> None:
    grids, communities = _overlapping_grids(), _community()
    with use_language("zh_CN"):
        chinese = validate_layers({"grids": grids, "communities": communities}).to_dict()
    english = validate_layers({"grids": grids, "communities": communities}).to_dict()
    dumped = json.loads(json.dumps(chinese, ensure_ascii=False))
    assert [p["code"] for p in dumped["problems"]] == [p["code"] for p in english["problems"]]
    assert [p["severity"] for p in dumped["problems"]] == [
        p["severity"] for p in english["problems"]
    ]
    assert set(dumped["problems"][0]) == set(english["problems"][0])
    assert dumped["counts"] == english["counts"]
    assert "重叠" in dumped["problems"][0]["message"]
    assert "overlap by" in english["problems"][0]["message"]


def test_english_is_unchanged() -> None:
    grids, communities = _overlapping_grids(), _community()
    problem = next(
        p
        for p in validate_layers({"grids": grids, "communities": communities}).errors
        if p.code == "sibling_overlap"
    )
    shown = str(problem)
    assert shown.startswith("ERROR    grids[网格1]: grid 网格1 and its sibling 网格2 overlap by")
    assert " Fix: redraw the shared boundary" in shown
    assert listed(list(range(25)), noun="rows").endswith("… and 5 more rows")


def test_long_lists_end_in_chinese() -> None:
    with use_language("zh_CN"):
        rows = listed(list(range(25)), noun="rows")
        plain = listed(list(range(25)))
    assert rows.endswith("19……另有 5 行")
    assert plain.endswith("19……另有 5 项")


# ---------------------------------------------------------------- files refused


def test_an_unknown_crs_code_is_refused_in_chinese_naming_the_file(tmp_path: Path) -> None:
    source = tmp_path / "网格图层.geojson"
    source.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "crs": {"type": "name", "properties": {"name": "EPSG:999999"}},
                "features": [],
            }
        ),
        encoding="utf-8",
    )
    with use_language("zh_CN"), pytest.raises(LayerError) as caught:
        check_source_file(source, layer="grids")
    message = str(caught.value)
    assert message.startswith(f"文件“{source}”（图层 'grids'）声明的坐标系 EPSG:999999")
    assert "不是已知的坐标系" in message and "EPSG:4490（CGCS2000）" in message
    assert not _english_words(message, str(source))


def test_gbk_columns_repeated_are_refused_in_chinese(tmp_path: Path) -> None:
    source = tmp_path / "警情.csv"
    text = "编号,案由,案由,经度,纬度\nA1,盗窃,扒窃,117.2,39.1\n"
    source.write_bytes(text.encode("gbk"))
    with use_language("zh_CN"), pytest.raises(LayerError) as caught:
        check_source_file(source, layer="incidents")
    message = str(caught.value)
    assert "有重名的列：'案由'（2 次）" in message
    assert not _english_words(message, str(source))


def test_gbk_text_read_as_utf8_is_refused_in_chinese(tmp_path: Path) -> None:
    source = tmp_path / "警情.csv"
    source.write_bytes("编号,案由,经度,纬度\nA1,盗窃,117.2,39.1\n".encode("gbk"))
    with use_language("zh_CN"):
        frame = read_layer(source)  # GBK is recognised without being told
        with pytest.raises(LayerError) as caught:
            read_layer(source, encoding="utf-8")
    assert list(frame.columns[:2]) == ["编号", "案由"]
    message = str(caught.value)
    assert message == f"“{source}”并非全部是有效的 UTF-8 文字；请指定正确的 encoding=..."


# ---------------------------------------------------------------- limits


def test_a_zip_too_large_is_refused_in_chinese_with_its_code(tmp_path: Path) -> None:
    zipped = tmp_path / "网格.zip"
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("grids.shp", bytes(3 * MB))
        archive.writestr("grids.shx", b"x" * 100)
    limits = ReadLimits(max_unpacked_bytes=2 * MB)
    with use_language("zh_CN"), pytest.raises(LimitError) as caught:
        read_layer(zipped, limits=limits)
    error = caught.value
    assert error.code == "too_large"
    assert error.summary == f"压缩包“{zipped}”解压后为 3.0 MB，超过上限 2.0 MB"
    assert str(error) == f"{error.summary}；{error.fix}"
    assert error.fix.startswith("请把数据拆分成较小的文件")
    assert not _english_words(str(error), str(zipped))


def test_a_zip_bomb_is_refused_in_chinese(tmp_path: Path) -> None:
    zipped = tmp_path / "grids.zip"
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("grids.shp", bytes(3 * MB))
        archive.writestr("grids.shx", b"")
    with use_language("zh_CN"), pytest.raises(LimitError) as caught:
        read_layer(zipped)
    assert caught.value.code == "unsafe_archive"
    assert "'grids.shp' 解压后是压缩大小的" in str(caught.value)
    assert "压缩炸弹" in str(caught.value)
