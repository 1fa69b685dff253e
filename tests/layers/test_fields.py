"""Tests of layers.fields: field mapping from the user's columns to ours."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, box

from layers.errors import LayerError
from layers.fields import map_fields, parse_field_mapping, suggest_mapping


@pytest.fixture
def grids() -> gpd.GeoDataFrame:
    # Column names as a GBK shapefile leaves them: cut to 10 bytes.
    return gpd.GeoDataFrame(
        {
            "网格编号": ["WG01", "WG02"],
            "所属社区编": ["SQ01", "SQ02"],
            "网格负责民": ["张伟", "李娜"],
            "备注": ["", "新建"],
        },
        geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)],
        crs="EPSG:4326",
    )


def test_parse_field_mapping():
    assert parse_field_mapping("occurred_at=发案时间,category=案件类别") == {
        "occurred_at": "发案时间",
        "category": "案件类别",
    }
    assert parse_field_mapping(" id = 编号 ，name=名称;\n") == {"id": "编号", "name": "名称"}
    assert parse_field_mapping("") == {}


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("occurred_at", "our_field=their_column"),
        ("=发案时间", "our_field=their_column"),
        ("id=a,id=b", "twice"),
    ],
)
def test_parse_field_mapping_errors(text, match):
    with pytest.raises(LayerError, match=match):
        parse_field_mapping(text)


def test_parse_field_mapping_checks_keys_against_layer():
    with pytest.raises(LayerError, match=r"'when'.*occurred_at"):
        parse_field_mapping("when=发案时间", layer="incidents")


def test_suggest_mapping_chinese_incident_columns():
    columns = ["警情编号", "发案时间", "案件类别", "发案地址", "简要案情", "经度"]
    assert suggest_mapping(columns, "incidents") == {
        "id": "警情编号",
        "occurred_at": "发案时间",
        "category": "案件类别",
        "description": "简要案情",
        "address": "发案地址",
    }


def test_suggest_mapping_reads_truncated_and_english_names(grids):
    assert suggest_mapping(grids.columns, "grids") == {
        "id": "网格编号",
        "community_id": "所属社区编",
        "officer": "网格负责民",
    }
    english = suggest_mapping(["ID", "Name", "Community", "Households"], "communities")
    assert english == {"id": "ID", "name": "Name", "households": "Households"}


def test_suggest_mapping_prefers_exact_names():
    # "类别" would be a synonym of category, but a column named category wins.
    assert suggest_mapping(["类别", "category", "编号"], "incidents") == {
        "id": "编号",
        "category": "category",
    }


def test_map_fields_with_full_names_finds_truncated_columns(grids):
    mapping = {"id": "网格编号", "community_id": "所属社区编号", "officer": "网格负责民警"}
    out = map_fields(grids, mapping, layer="grids")
    assert list(out.columns) == ["id", "community_id", "officer", "备注", "geometry"]
    assert out["officer"].tolist() == ["张伟", "李娜"]
    assert isinstance(out, gpd.GeoDataFrame) and out.crs == grids.crs
    assert "网格编号" in grids.columns  # input untouched


def test_map_fields_names_missing_required_fields(grids):
    with pytest.raises(LayerError) as info:
        map_fields(grids, {"id": "网格编号"}, layer="grids")
    message = str(info.value)
    assert "community_id" in message and "所属社区编" in message
    assert "community_id=所属社区编" in message  # a suggested fix


def test_map_fields_unknown_column_and_unknown_field(grids):
    with pytest.raises(LayerError, match=r"officer=民警姓名.*网格编号"):
        map_fields(grids, {"officer": "民警姓名"}, layer="grids")
    with pytest.raises(LayerError, match="'colour'"):
        map_fields(grids, {"colour": "备注"}, layer="grids")
    with pytest.raises(LayerError, match="unknown layer"):
        map_fields(grids, {}, layer="grid")


def test_map_fields_ids_become_strings():
    units = pd.DataFrame({"编号": [1.0, 2.0], "mode": ["car", "foot"], "派出所编号": [7, 8]})
    out = map_fields(units, {"id": "编号", "station_id": "派出所编号"}, layer="units")
    assert type(out) is pd.DataFrame
    assert out["id"].tolist() == ["1", "2"] and out["station_id"].tolist() == ["7", "8"]


def test_map_fields_keeps_fields_already_named_ours():
    gdf = gpd.GeoDataFrame(
        {"id": ["c1"], "kind": ["school"], "名称": ["一小"]}, geometry=[Point(0, 0)]
    )
    out = map_fields(gdf, {"name": "名称"}, layer="key_places")
    assert out[["id", "name", "kind"]].iloc[0].tolist() == ["c1", "一小", "school"]
