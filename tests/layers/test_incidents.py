"""Tests of layers.incidents: timestamp parsing and the category table."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from geopandas.testing import assert_geodataframe_equal
from shapely.geometry import Point

from layers.errors import LayerError
from layers.incidents import (
    CATEGORY_COLUMNS,
    CATEGORY_GROUPS,
    apply_categories,
    load_category_table,
    parse_timestamps,
)


def local(parsed: pd.Series, tz: str) -> list[str]:
    """Parsed values as local wall-clock ISO strings, NaT as 'NaT'."""
    return [
        "NaT" if pd.isna(v) else v.tz_convert(tz).strftime("%Y-%m-%d %H:%M:%S%z") for v in parsed
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2014-09-18T13:53:00-04:00", "2014-09-18 17:53:00+0000"),
        ("2014-09-18T17:53:00Z", "2014-09-18 17:53:00+0000"),
        ("2014-09-18T21:53:00+08:00", "2014-09-18 13:53:00+0000"),
        ("2014-09-18T19:23:00+0530", "2014-09-18 13:53:00+0000"),
        ("2014-09-18 13:53", "2014-09-18 13:53:00+0000"),
        ("2014-09-18T13:53:07.250", "2014-09-18 13:53:07+0000"),
        ("09/18/2014 1:53 PM", "2014-09-18 13:53:00+0000"),
        ("09/18/2014 12:10 AM", "2014-09-18 00:10:00+0000"),
        ("2024年2月15日 21:48", "2024-02-15 21:48:00+0000"),
        ("2024年2月15日 21时48分", "2024-02-15 21:48:00+0000"),
        ("2024年2月15日 下午9:48", "2024-02-15 21:48:00+0000"),
        ("2024/2/15 21:48", "2024-02-15 21:48:00+0000"),
        ("Thu, Sept. 18th 2014 01:53 p.m.", "2014-09-18 13:53:00+0000"),
        ("18 September 2014 13:53", "2014-09-18 13:53:00+0000"),
        ("1410000000", "2014-09-06 10:40:00+0000"),
        ("not a date", "NaT"),
        ("2014-02-30 10:00", "NaT"),
        ("2014-09-18 25:00", "NaT"),
        ("09/18/2014 13:53 PM", "NaT"),
        ("", "NaT"),
    ],
)
def test_parse_timestamps_reads_each_format_in_utc(text: str, expected: str) -> None:
    parsed = parse_timestamps(pd.Series([text]))
    assert str(parsed.dtype) == "datetime64[us, UTC]"
    assert local(parsed, "UTC") == [expected]


def test_new_haven_dates_with_separate_times_and_12_oclock() -> None:
    dates = pd.Series(
        [
            "Thu, Sept. 18th 2014",
            "Wed, Sept. 3rd 2014",
            "Mon, Sept. 1st 2014",
            "Sat, Sept. 20th 2014",
        ]
    )
    times = pd.Series(["01:53 p.m.", "12:05 a.m.", "12:30 p.m.", None])
    parsed = parse_timestamps(dates, times=times, tz="America/New_York")
    assert local(parsed, "America/New_York") == [
        "2014-09-18 13:53:00-0400",
        "2014-09-03 00:05:00-0400",
        "2014-09-01 12:30:00-0400",
        "2014-09-20 00:00:00-0400",
    ]


def test_chinese_date_with_separate_time() -> None:
    parsed = parse_timestamps(
        pd.Series(["2024年2月15日", "2024年2月15日"]),
        times=pd.Series(["21:48", "上午9:05"]),
        tz="Asia/Shanghai",
    )
    assert local(parsed, "UTC") == ["2024-02-15 13:48:00+0000", "2024-02-15 01:05:00+0000"]


def test_dst_gap_moves_forward_and_repeated_hour_takes_first() -> None:
    parsed = parse_timestamps(
        pd.Series(["2014-03-09 01:30", "2014-03-09 02:30", "2014-11-02 01:30", "2014-11-02 02:30"]),
        tz="America/New_York",
    )
    assert local(parsed, "America/New_York") == [
        "2014-03-09 01:30:00-0500",
        "2014-03-09 03:30:00-0400",  # 02:30 does not exist that night
        "2014-11-02 01:30:00-0400",  # 01:30 happens twice: the first, daylight, one
        "2014-11-02 02:30:00-0500",
    ]


def test_offsets_ignore_the_time_zone_and_naive_values_use_it() -> None:
    parsed = parse_timestamps(
        pd.Series(["2014-09-18 13:53", "2014-09-18 13:53+02:00"]), tz="Asia/Shanghai"
    )
    assert local(parsed, "UTC") == ["2014-09-18 05:53:00+0000", "2014-09-18 11:53:00+0000"]


def test_index_name_and_input_are_kept() -> None:
    dates = pd.Series(["2014-09-18", None, "junk", "2014-09-18"], index=[7, 7, 3, 1], name="when")
    before = dates.copy()
    parsed = parse_timestamps(dates)
    assert list(parsed.index) == [7, 7, 3, 1]
    assert parsed.name == "when"
    assert parsed.isna().tolist() == [False, True, True, False]
    pd.testing.assert_series_equal(dates, before)


def test_numbers_and_datetimes() -> None:
    epoch = parse_timestamps(pd.Series([1410000000, None]))
    assert local(epoch, "UTC") == ["2014-09-06 10:40:00+0000", "NaT"]
    naive = parse_timestamps(pd.Series(pd.to_datetime(["2014-09-18 13:53"])), tz="Europe/Vaduz")
    assert local(naive, "UTC") == ["2014-09-18 11:53:00+0000"]
    aware = pd.Series(pd.to_datetime(["2014-09-18 13:53"]).tz_localize("Asia/Shanghai"))
    assert local(parse_timestamps(aware), "UTC") == ["2014-09-18 05:53:00+0000"]


def test_bad_time_zone_and_misaligned_times_raise() -> None:
    with pytest.raises(LayerError, match="tz='Mars/Olympus'"):
        parse_timestamps(pd.Series(["2014-09-18"]), tz="Mars/Olympus")
    with pytest.raises(LayerError, match="'times' is not indexed like 'dates'"):
        parse_timestamps(pd.Series(["2014-09-18"]), times=pd.Series(["10:00"], index=[5]))


def test_bundled_category_table_is_complete_and_consistent() -> None:
    table = load_category_table()
    assert list(table.columns) == list(CATEGORY_COLUMNS)
    assert len(table) == 147
    assert table["category"].is_unique
    assert set(table["group"]) <= set(CATEGORY_GROUPS)
    assert table["severity"].between(1, 5).all()
    by_group = table.groupby("group")["preventable"]
    # 两抢一盗 is preventable; service calls, alarms and traffic are not.
    for group in ("burglary", "robbery", "vehicle_theft"):
        assert by_group.get_group(group).all()
    for group in ("service", "alarm", "traffic"):
        assert not by_group.get_group(group).any()
    assert table.set_index("category").loc["robbery-street-firearm", "severity"] == 5


def test_category_table_covers_every_new_haven_category(shared_data) -> None:
    incidents = gpd.read_file(shared_data("new_haven.gpkg"), layer="incidents").rename(
        columns={"dataset": "category"}
    )
    categorised, problems = apply_categories(incidents, load_category_table())
    assert problems == []
    assert incidents["category"].nunique() == 147
    assert int(categorised["preventable"].sum()) == 745
    assert int((categorised["group"] == "burglary").sum()) == 83
    assert int((categorised["group"] == "robbery").sum()) == 37


def test_apply_categories_reports_unknown_categories_without_dropping() -> None:
    incidents = gpd.GeoDataFrame(
        {"id": ["a", "b", "c", "d", "e"], "category": ["THEFT-OF-AUTO ", "x", "x", "y", None]},
        geometry=[Point(i, i) for i in range(5)],
        crs="EPSG:32618",
    )
    before = incidents.copy()
    result, problems = apply_categories(incidents, load_category_table())
    assert len(result) == 5
    assert result["group"].tolist() == ["vehicle_theft", "other", "other", "other", "other"]
    assert result["severity"].tolist() == [3, 1, 1, 1, 1]
    assert result["preventable"].tolist() == [True, False, False, False, False]
    assert [(p.code, p.severity) for p in problems] == [
        ("unknown_category", "warning"),
        ("missing_category", "warning"),
    ]
    assert "2 categories are not in the category table (3 incident(s))" in problems[0].message
    assert "'x' (2), 'y' (1)" in problems[0].message
    assert "1 incident(s) have no category" in problems[1].message
    assert_geodataframe_equal(incidents, before)


def test_apply_categories_needs_a_category_column() -> None:
    with pytest.raises(LayerError, match="no 'category' column"):
        apply_categories(pd.DataFrame({"type": ["x"]}), load_category_table())


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("category,group,label,severity\nx,other,X,1\n", "lacks the column"),
        ("category,group,label,severity,preventable\nx,other,X,9,true\n", "severity of 'x'"),
        ("category,group,label,severity,preventable\nx,other,X,1,maybe\n", "preventable of 'x'"),
        (
            "category,group,label,severity,preventable\nx,other,X,1,true\nx,other,X,1,no\n",
            "more than once",
        ),
    ],
)
def test_bad_category_tables_are_refused(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "categories.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(LayerError, match=match):
        load_category_table(path)


def test_missing_category_table_file(tmp_path: Path) -> None:
    with pytest.raises(LayerError, match="does not exist"):
        load_category_table(tmp_path / "nope.csv")
