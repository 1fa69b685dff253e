"""Areas and the monthly bulletin counted in the store: the same figures as in Python.

``gisapp areas`` and the bulletin ask the store for one row per area and period
(:meth:`Workspace.count_incidents`); these tests hold them to what the incidents read into
geopandas give (:func:`load_incidents` with :func:`area_trend`, :func:`counts_by_shift`
and :func:`monthly_bulletin`), on both stores, with pile-ups, implausible dates, incidents
without a time and unknown categories in the data.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from gisapp.services.analytics import (
    area_report,
    area_trend,
    counts_by_shift,
    load_incidents,
)
from gisapp.services.bulletin import community_bulletin, monthly_bulletin
from gisapp.settings import parse_shift
from gisapp.store import Workspace
from gisapp.store.backend import CountQuery, CountSlice
from layers.categories import standard_category_table
from tests.conftest import sample_copy

PERIOD = ("2014-09-08", "2014-09-22")
SHIFTS = {"day": parse_shift("08:00-16:00"), "night": parse_shift("22:00-06:00")}


def _add_odd_incidents(ws: Workspace) -> None:
    """A placeholder date, a time in the future, no time, a category of its own."""
    incidents = ws.spatial_layer("incidents")
    odd = incidents.iloc[:4].copy()
    odd["id"] = ["odd-1", "odd-2", "odd-3", "odd-4"]
    zone = incidents["occurred_at"].dt.tz
    odd["occurred_at"] = pd.DatetimeIndex(
        ["1900-01-01 00:00", "2090-05-01 12:00", pd.NaT, "2014-09-10 23:30"]
    ).tz_localize(zone)
    odd["category"] = ["theft", "theft", "theft", "not-a-category"]
    ws.save({"incidents": pd.concat([incidents, odd], ignore_index=True)})


def _problems(problems: object) -> list[dict[str, object]]:
    return [p.to_dict() for p in problems]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("level", "shift", "preventable_only", "keep_pileups"),
    [
        ("grids", None, False, False),
        ("grids", "22:00-06:00", True, False),
        ("communities", "08:00-16:00", False, True),
        ("subdistricts", None, True, True),
    ],
)
def test_area_report_counted_in_the_store_matches_python(
    sample_location: str,
    level: str,
    shift: str | None,
    preventable_only: bool,
    keep_pileups: bool,
) -> None:
    ws = Workspace.open(sample_location)
    _add_odd_incidents(ws)
    window = None if shift is None else parse_shift(shift)
    report = area_report(
        ws,
        level=level,
        period=PERIOD,
        shifts=SHIFTS,
        shift=window,
        preventable_only=preventable_only,
        keep_pileups=keep_pileups,
    )
    incidents, problems = load_incidents(ws, keep_pileups=keep_pileups)
    polygons = ws.spatial_layer(level)
    table = area_trend(
        incidents, polygons, period=PERIOD, shift=window, preventable_only=preventable_only
    )
    by_shift = counts_by_shift(
        incidents, polygons, SHIFTS, period=PERIOD, preventable_only=preventable_only
    )
    pd.testing.assert_frame_equal(
        pd.DataFrame(report.table.drop(columns="geometry")),
        pd.DataFrame(table.drop(columns="geometry")),
    )
    assert report.table.attrs["outside"] == table.attrs["outside"]
    pd.testing.assert_frame_equal(report.by_shift, by_shift)
    assert _problems(report.problems) == _problems(problems)
    assert {p.code for p in report.problems} >= {"missing_time", "implausible_time"}
    assert report.kpis["incidents"] > 0


@pytest.mark.parametrize(
    ("month", "keep_pileups", "with_table"),
    [("2014-09", False, False), ("2014-09", True, False), ("2014-09", False, True)],
)
def test_bulletin_counted_in_the_store_matches_python(
    sample_location: str, tmp_path: Path, month: str, keep_pileups: bool, with_table: bool
) -> None:
    ws = Workspace.open(sample_location)
    _add_odd_incidents(ws)
    table = None
    if with_table:
        # A category table: groups and preventable come from the categories, and the
        # category the table lacks is reported.
        table = tmp_path / "categories.csv"
        standard_category_table().to_csv(table, index=False)
    ours = community_bulletin(ws, month=month, keep_pileups=keep_pileups, category_table=table)
    incidents, problems = load_incidents(ws, keep_pileups=keep_pileups, category_table=table)
    if with_table:
        assert "unknown_category" in {p.code for p in problems}
    expected = monthly_bulletin(
        incidents, ws.spatial_layer("communities"), month=month, problems=problems
    )
    assert ours.comparison == expected.comparison
    pd.testing.assert_frame_equal(
        pd.DataFrame(ours.table.drop(columns="geometry")),
        pd.DataFrame(expected.table.drop(columns="geometry")),
    )
    pd.testing.assert_frame_equal(
        pd.DataFrame(ours.hotspots.drop(columns="geometry")),
        pd.DataFrame(expected.hotspots.drop(columns="geometry")),
    )
    assert _problems(ours.problems) == _problems(expected.problems)
    assert {"pileup_kept" if keep_pileups else "pileup_left_out", "implausible_time"} <= {
        p.code for p in ours.problems
    }


def test_both_stores_give_the_same_areas_and_bulletin(tmp_path: Path) -> None:
    answers = []
    for backend in ("gpkg", "postgis"):
        (tmp_path / backend).mkdir()
        with sample_copy(backend, tmp_path / backend) as location:
            ws = Workspace.open(location)
            report = area_report(
                ws, level="grids", period=PERIOD, shifts=SHIFTS, shift=SHIFTS["night"]
            )
            bulletin = community_bulletin(ws, month="2014-09")
            answers.append((report, bulletin))
    (gpkg_report, gpkg_bulletin), (pg_report, pg_bulletin) = answers
    pd.testing.assert_frame_equal(
        pd.DataFrame(pg_report.table.drop(columns="geometry")),
        pd.DataFrame(gpkg_report.table.drop(columns="geometry")),
    )
    pd.testing.assert_frame_equal(pg_report.by_shift, gpkg_report.by_shift)
    assert pg_report.kpis == gpkg_report.kpis
    pd.testing.assert_frame_equal(
        pd.DataFrame(pg_bulletin.table.drop(columns="geometry")),
        pd.DataFrame(gpkg_bulletin.table.drop(columns="geometry")),
    )
    assert pg_bulletin.kpis == gpkg_bulletin.kpis


def test_counts_by_slice_field_and_cell(location: str) -> None:
    cells = [shapely.box(0, 0, 0.01, 0.01), shapely.box(0.01, 0, 0.02, 0.01)]
    areas = gpd.GeoDataFrame({"id": ["a", "b"]}, geometry=cells, crs="EPSG:4326")
    times = pd.to_datetime(
        ["2024-03-01 23:00", "2024-03-02 10:00", "2024-03-09 23:30", "2024-03-09 01:00"]
    ).tz_localize("UTC")
    incidents = gpd.GeoDataFrame(
        {"id": ["1", "2", "3", "4"], "occurred_at": times, "category": ["x", "y", "x", None]},
        geometry=shapely.points([0.005, 0.015, 0.005, 0.05], [0.005] * 4),
        crs="EPSG:4326",
    )
    ws = Workspace.create(location, {"grids": areas, "incidents": incidents})
    week = pd.Timedelta(days=7)
    first = pd.Timestamp("2024-03-01", tz="UTC")
    query = CountQuery(
        "grids",
        None,
        None,
        None,
        "UTC",
        slices=(
            CountSlice(first, first + week),
            CountSlice(first + week, first + 2 * week, (22 * 60, 6 * 60)),
        ),
        by=("category",),
    )
    counts = ws.count_incidents(query)
    area = [None if pd.isna(v) else v for v in counts["area_id"]]
    rows = list(zip(area, counts["slice"], counts["category"], counts["incidents"], strict=True))
    # The fourth incident lies in no area and has no category.
    assert rows == [("a", 0, "x", 1), ("b", 0, "y", 1), ("a", 1, "x", 1), (None, 1, None, 1)]
    assert counts.attrs["area_ids"] == ["a", "b"]
    by_cell = ws.count_incidents(
        CountQuery("grids", None, None, None, "UTC", exclude_rows=(1, 3), cell=(32631, 500.0))
    )
    # Rows 2 and 4 (stored row numbers start at 1): one in b, one in no area; x of
    # 0.015 degrees east of the equator is 1.67 km into zone 31N's false easting.
    assert by_cell["incidents"].tolist() == [1, 1]
    assert by_cell["area_id"].tolist()[0] == "b"
    assert by_cell["row"].tolist() == [1, 1]
