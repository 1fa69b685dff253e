"""The category lookup: bundled standard tables, workspace tables, unknown categories."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point

from layers.categories import (
    BUNDLED_CATEGORY_TABLES,
    CATEGORY_COLUMNS,
    CATEGORY_GROUPS,
    apply_categories,
    bundled_category_table,
    category_table_from_frame,
    load_category_table,
    standard_category_table,
)
from layers.errors import LayerError


def _incidents(categories: Sequence[str | None], dtype: str = "object") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "id": [str(i) for i in range(len(categories))],
            "category": pd.Series(list(categories), dtype=dtype),
        },
        geometry=[Point(i, i) for i in range(len(categories))],
        crs="EPSG:32650",
    )


@pytest.mark.parametrize("name", list(BUNDLED_CATEGORY_TABLES))
def test_every_bundled_table_is_consistent(name: str) -> None:
    table = bundled_category_table(name)
    assert list(table.columns) == list(CATEGORY_COLUMNS)
    assert table["category"].str.lower().is_unique
    assert set(table["group"]) <= set(CATEGORY_GROUPS)
    assert table["severity"].between(1, 5).all()
    assert table["label"].str.len().gt(0).all()


def test_chinese_table_flags_the_preventable_two_robberies_and_theft() -> None:
    table = bundled_category_table("china").set_index("category")
    # 两抢一盗: robbery, snatching and theft (with burglary) are preventable.
    for name in ("抢劫", "抢夺", "盗窃", "入室盗窃"):
        assert table.loc[name, "preventable"], name
    assert table.loc["抢劫", "group"] == "robbery" and table.loc["抢夺", "group"] == "robbery"
    assert table.loc["入室盗窃", "group"] == "burglary"
    severity = table["severity"]
    assert severity["抢劫"] > severity["盗窃"]
    for name in ("诈骗", "交通事故", "纠纷"):
        assert not table.loc[name, "preventable"], name


def test_standard_table_holds_every_bundled_category_once() -> None:
    merged = standard_category_table()
    keys = merged["category"].str.strip().str.lower()
    assert keys.is_unique
    for name in BUNDLED_CATEGORY_TABLES:
        assert set(bundled_category_table(name)["category"].str.lower()) <= set(keys)
    # The New Haven table comes first: its rows win.
    new_haven = load_category_table().set_index("category")
    assert merged.set_index("category")["severity"]["fraud"] == new_haven["severity"]["fraud"]


def test_unknown_name_of_a_bundled_table_is_refused() -> None:
    with pytest.raises(LayerError, match="no bundled category table 'mars'; choose one of"):
        bundled_category_table("mars")


@pytest.mark.parametrize("dtype", ["object", "string", "str"])
def test_categories_all_missing_from_the_table_never_fail(dtype: str) -> None:
    # Every category unknown: the lookup column is all empty (this used to crash).
    incidents = _incidents(["盗窃", "抢劫", "诈骗"], dtype=dtype)
    result, problems = apply_categories(incidents, load_category_table())
    assert result["group"].tolist() == ["other"] * 3
    assert result["severity"].tolist() == [1, 1, 1]
    assert result["preventable"].tolist() == [False] * 3
    assert result["category_known"].tolist() == [False] * 3
    assert [p.code for p in problems] == ["unknown_category"]


def test_chinese_categories_weigh_from_the_standard_table() -> None:
    incidents = _incidents(["盗窃", " 抢劫", "诈骗", "其他", "其他", None])
    result, problems = apply_categories(incidents, standard_category_table())
    assert result["group"].tolist()[:3] == ["theft", "robbery", "fraud"]
    assert result["preventable"].tolist() == [True, True, False, False, False, False]
    assert result["category_known"].tolist() == [True, True, True, False, False, False]
    assert [p.code for p in problems] == ["unknown_category", "missing_category"]
    assert "1 category is not in the category table (2 incident(s)): '其他' (2)" in (
        problems[0].message
    )


def test_one_warning_lists_the_first_ten_unknown_categories_and_counts_the_rest() -> None:
    names = [f"kind-{i:02d}" for i in range(12) for _ in range(12 - i)]
    result, problems = apply_categories(_incidents(names), load_category_table())
    assert len(result) == len(names)
    assert [p.code for p in problems] == ["unknown_category"]
    message = problems[0].message
    assert message.startswith(f"12 categories are not in the category table ({len(names)} ")
    assert "'kind-00' (12), 'kind-01' (11)" in message and "'kind-09' (3)" in message
    assert "kind-10" not in message and "and 2 more" in message
    assert "import categories=FILE.csv" in problems[0].fix


def test_a_table_without_group_or_label_uses_the_category() -> None:
    frame = pd.DataFrame(
        {"Category": ["盗窃", "噪音"], "severity": ["2", "1.0"], "preventable": ["是", "否"]}
    )
    table = category_table_from_frame(frame, source="the workspace's categories table")
    assert table["group"].tolist() == ["盗窃", "噪音"]
    assert table["label"].tolist() == ["盗窃", "噪音"]
    assert table["severity"].tolist() == [2, 1]
    assert table["preventable"].tolist() == [True, False]


def test_a_bad_workspace_table_names_itself() -> None:
    frame = pd.DataFrame({"category": ["盗窃"], "severity": [7], "preventable": ["yes"]})
    with pytest.raises(LayerError, match="the workspace's categories table: severity of '盗窃'"):
        category_table_from_frame(frame, source="the workspace's categories table")
    with pytest.raises(LayerError, match=r"lacks the column\(s\) preventable"):
        category_table_from_frame(frame.drop(columns="preventable"), source="the table")


def test_a_csv_with_a_byte_order_mark_reads(tmp_path: Path) -> None:
    path = tmp_path / "cats.csv"
    path.write_text(
        "category,label,severity,preventable\n盗窃,Theft,2,true\n", encoding="utf-8-sig"
    )
    assert load_category_table(path)["category"].tolist() == ["盗窃"]
