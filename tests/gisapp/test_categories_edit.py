"""The workspace's category table seen per category and edited through the service.

A small workspace with Chinese categories (盗窃, 抢劫, 诈骗 from the bundled China table,
其他 and 未登记 unknown) is listed with its counts, edited, and the edits change what
``load_incidents`` weighs. Every test of a workspace runs on both stores (a GeoPackage file
and a PostGIS schema, ``tests/conftest.py``).
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from gisapp.services.analytics import load_incidents
from gisapp.services.categories import (
    CategoryEditError,
    category_rows,
    copy_bundled_categories,
    current_category_table,
    save_category_table,
)
from gisapp.store import Workspace, open_workspace
from gisapp.views.categories import (
    BUNDLED_TABLES,
    PAGE_SIZE,
    category_csv,
    category_page,
    edits_from_form,
)
from layers.categories import BUNDLED_CATEGORY_TABLES, category_table_from_frame

TZ = "Asia/Shanghai"
#: Incidents per category of the small workspace.
COUNTS = {"盗窃": 6, "抢劫": 4, "诈骗": 3, "其他": 2, "未登记": 1}


def chinese_workspace(location: str, counts: dict[str, int] | None = None) -> Workspace:
    """A workspace at ``location`` whose incidents have ``counts`` of each category
    (default COUNTS)."""
    categories = [c for c, n in (counts or COUNTS).items() for _ in range(n)]
    incidents = gpd.GeoDataFrame(
        {
            "id": [f"J{i:04d}" for i in range(len(categories))],
            "occurred_at": pd.date_range(
                "2024-03-01 22:00", periods=len(categories), freq="D"
            ).tz_localize(TZ),
            "category": categories,
        },
        geometry=shapely.points([(114.3 + i * 1e-3, 30.5) for i in range(len(categories))]),
        crs=4326,
    )
    return Workspace.create(location, {"incidents": incidents}, meta={"timezone": TZ})


@pytest.fixture
def ws(location: str) -> Workspace:
    return chinese_workspace(location)


def _weights(ws: Workspace) -> pd.DataFrame:
    incidents, _ = load_incidents(open_workspace(str(ws.location)))
    return incidents.groupby("category")[["group", "severity", "preventable"]].first()


def test_rows_give_counts_sources_and_unknowns_first(ws: Workspace) -> None:
    rows = category_rows(ws)
    assert rows["category"].tolist() == ["其他", "未登记", "盗窃", "抢劫", "诈骗"]
    assert rows["incidents"].tolist() == [2, 1, 6, 4, 3]
    assert rows["source"].tolist() == ["unknown", "unknown", "bundled", "bundled", "bundled"]
    assert set(rows.loc[rows["source"] == "bundled", "standard"]) == {"china"}
    fraud = rows.set_index("category").loc["诈骗"]
    assert [fraud["group"], fraud["severity"], fraud["preventable"]] == ["fraud", 2, False]
    # Before any save, the table to save holds the known categories with today's values.
    assert sorted(current_category_table(ws)["category"]) == sorted(["盗窃", "抢劫", "诈骗"])


def test_an_edit_is_saved_and_weighs_the_incidents(ws: Workspace) -> None:
    before = ws.version
    saved = save_category_table(
        ws, [{"category": "诈骗", "group": "fraud", "severity": 4, "preventable": "是"}]
    )
    assert ws.version != before
    assert saved.set_index("category").loc["诈骗", "severity"] == 4
    weights = _weights(ws)
    assert list(weights.loc["诈骗"]) == ["fraud", 4, True]
    # The other known categories keep the values they had from the bundled table.
    assert list(weights.loc["抢劫"]) == ["robbery", 5, True]
    assert list(weights.loc["其他"]) == ["other", 1, False]
    rows = category_rows(open_workspace(str(ws.location))).set_index("category")
    assert rows.loc["诈骗", "source"] == "workspace"
    assert rows.loc["其他", "source"] == "unknown"
    stored = category_table_from_frame(ws.layer("categories"), source="stored")
    assert len(stored) == 3
    assert ws.layer_notes["categories"] == "edited in gisapp"


def test_an_unknown_category_joins_the_table(ws: Workspace) -> None:
    save_category_table(ws, [{"category": "其他", "group": "disorder", "severity": "3",
                              "preventable": "true", "label": "Other street crime"}])  # fmt: skip
    weights = _weights(ws)
    assert list(weights.loc["其他"]) == ["disorder", 3, True]
    _, problems = load_incidents(open_workspace(str(ws.location)))
    unknown = [p.message for p in problems if p.code == "unknown_category"]
    assert len(unknown) == 1 and "'未登记' (1)" in unknown[0] and "其他" not in unknown[0]


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        ({"category": "诈骗", "severity": "9", "preventable": "no"}, "not a whole number from 1 to 5"),
        ({"category": "诈骗", "severity": "0", "preventable": "no"}, "not a whole number from 1 to 5"),
        ({"category": "  ", "severity": "2", "preventable": "no"}, "a row has an empty category"),
        ({"category": "诈骗", "severity": "2", "preventable": "maybe"}, "preventable must be yes or no"),
    ],
)  # fmt: skip
def test_a_bad_edit_saves_nothing(ws: Workspace, edit: dict[str, str], words: str) -> None:
    before = ws.version
    with pytest.raises(CategoryEditError, match=words):
        save_category_table(ws, [edit])
    assert open_workspace(str(ws.location)).version == before
    assert not open_workspace(str(ws.location)).has_layer("categories")


def test_every_problem_is_reported_at_once(ws: Workspace) -> None:
    edits = [{"category": "", "severity": "1"}, {"category": "抢劫", "severity": "six"},
             {"category": "抢劫 ", "severity": "2"}]  # fmt: skip
    with pytest.raises(CategoryEditError) as caught:
        save_category_table(ws, edits)
    assert len(caught.value.problems) == 3
    assert any("given twice" in p for p in caught.value.problems)


def test_starting_from_a_bundled_table_keeps_other_rows(ws: Workspace) -> None:
    save_category_table(ws, [{"category": "未登记", "severity": 2, "preventable": "yes"}])
    save_category_table(ws, [{"category": "盗窃", "severity": 5, "preventable": "yes"}])
    table, copied = copy_bundled_categories(ws, "china")
    assert copied == 3  # 盗窃, 抢劫, 诈骗; the China table has no 其他 or 未登记
    weights = _weights(ws)
    assert weights.loc["盗窃", "severity"] == 2  # back to the China table's value
    assert list(weights.loc["未登记"]) == ["未登记", 2, True]  # kept
    assert len(table) == 4
    with pytest.raises(CategoryEditError, match="choose"):
        copy_bundled_categories(ws, "mars")


def test_a_us_table_on_chinese_categories_copies_nothing(ws: Workspace) -> None:
    _, copied = copy_bundled_categories(ws, "us")
    assert copied == 0
    assert ws.layer_notes["categories"] == "started from the bundled us table"


def test_table_rows_without_incidents_are_listed(ws: Workspace) -> None:
    save_category_table(ws, [{"category": "电信诈骗", "group": "fraud", "severity": 3,
                              "preventable": "no"}])  # fmt: skip
    rows = category_rows(open_workspace(str(ws.location))).set_index("category")
    assert rows.loc["电信诈骗", "incidents"] == 0
    assert rows.loc["电信诈骗", "source"] == "workspace"


def test_the_form_sends_only_changed_rows(ws: Workspace) -> None:
    rows = category_rows(ws)
    form = {"rows": str(len(rows))}
    for i, row in enumerate(rows.to_dict("records")):
        form.update({f"category-{i}": row["category"], f"label-{i}": row["label"],
                     f"group-{i}": row["group"], f"severity-{i}": str(row["severity"])})  # fmt: skip
        if row["preventable"]:
            form[f"preventable-{i}"] = "yes"
    assert edits_from_form(rows, form) == []
    fraud = rows["category"].tolist().index("诈骗")
    form[f"severity-{fraud}"] = "4"
    form[f"preventable-{fraud}"] = "yes"
    form.update({"category-new": "电信诈骗", "severity-new": "1"})
    edits = edits_from_form(rows, form)
    assert [(e["category"], e["severity"], e["preventable"]) for e in edits] == [
        ("诈骗", "4", "true"),
        ("电信诈骗", "1", "false"),
    ]


def test_pages_and_csv(location: str) -> None:
    counts = {f"类别{i:03d}": 1 for i in range(PAGE_SIZE + 5)} | {"盗窃": 3}
    ws = chinese_workspace(location, counts)
    first = category_page(ws, page=1)
    assert (first.pages, first.total, first.unknown) == (2, PAGE_SIZE + 6, PAGE_SIZE + 5)
    assert all(r["unknown"] for r in first.rows) and len(first.rows) == PAGE_SIZE
    last = category_page(ws, page=99)
    assert last.page == 2 and last.rows[-1]["category"] == "盗窃"
    text = category_csv(ws)
    assert text.startswith("\ufeffcategory,group,label,severity,preventable\n")
    assert "盗窃,theft,Theft (盗窃),2,True" in text


def test_the_page_names_every_bundled_table() -> None:
    assert set(BUNDLED_TABLES) == set(BUNDLED_CATEGORY_TABLES)


def test_values_the_incidents_carry_are_the_source(location: str) -> None:
    ws = chinese_workspace(location, {"盗窃": 2, "其他": 1})
    incidents = ws.layer("incidents")
    incidents["group"] = ["theft", "theft", "disorder"]
    incidents["severity"] = [3, 3, 2]
    incidents["preventable"] = [True, True, False]
    ws.save({"incidents": incidents})
    rows = category_rows(open_workspace(str(ws.location))).set_index("category")
    assert rows["source"].tolist() == ["incidents", "incidents"]
    assert list(rows.loc["其他", ["group", "severity", "preventable"]]) == ["disorder", 2, False]
    assert list(_weights(ws).loc["其他"]) == ["disorder", 2, False]
