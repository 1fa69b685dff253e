"""Incident analytics: warning levels, area trends, the bulletin and the CLI.

The hotspots of a shift are tested in ``test_hotspots_service.py``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gisapp.cli import main
from gisapp.services import analytics, bulletin
from gisapp.settings import parse_shift
from gisapp.store import Workspace

CRS = "EPSG:32618"
TZ = "America/New_York"


def _incidents(rows: Sequence[tuple[float, float, str, str]]) -> gpd.GeoDataFrame:
    """Rows of (x, y, local time, category)."""
    xy = np.asarray([(r[0], r[1]) for r in rows], dtype=float).reshape(-1, 2)
    return gpd.GeoDataFrame(
        {
            "id": [str(i) for i in range(len(rows))],
            "occurred_at": pd.to_datetime([r[2] for r in rows]).tz_localize(TZ),
            "category": [r[3] for r in rows],
        },
        geometry=shapely.points(xy),
        crs=CRS,
    )


def _communities() -> gpd.GeoDataFrame:
    boxes = [shapely.box(0, 0, 500, 1000), shapely.box(500, 0, 1000, 1000)]
    return gpd.GeoDataFrame(
        {"id": ["W", "E"], "name": ["West", "East"], "subdistrict_id": ["S", "S"]},
        geometry=boxes,
        crs=CRS,
    )


def test_warning_levels_follow_the_documented_rule() -> None:
    current = pd.Series([0, 2, 5, 8, 10, 5], index=list("abcdef"))
    previous = pd.Series([0, 2, 5, 8, 10, 1], index=list("abcdef"))
    # mean 5: ratios 0, 0.4, 1, 1.6, 2, 1; f rose from 1 to 5 (+4, +400%): one step up
    levels = analytics.warning_levels(current, previous)
    assert levels.to_dict() == {
        "a": "blue",
        "b": "blue",
        "c": "yellow",
        "d": "orange",
        "e": "red",
        "f": "orange",
    }
    strict = analytics.WarningRule(red_ratio=3.0, orange_ratio=2.5, yellow_ratio=2.0)
    assert analytics.warning_levels(current, rule=strict)["e"] == "yellow"
    with pytest.raises(analytics.AnalyticsError, match="yellow_ratio"):
        analytics.WarningRule(yellow_ratio=2.0, orange_ratio=1.0)


def test_area_trend_counts_the_night_shift_against_the_previous_week() -> None:
    rows = [
        (100, 100, "2024-03-12 23:00", "theft"),  # this week, night, West
        (120, 100, "2024-03-13 02:00", "theft"),  # this week, night (after midnight), West
        (600, 100, "2024-03-13 12:00", "theft"),  # this week, day, East: not in the shift
        (110, 100, "2024-03-05 23:30", "theft"),  # previous week, night, West
        (700, 100, "2024-03-06 01:00", "theft"),  # previous week, night, East
    ]
    incidents = _incidents(rows)
    late = parse_shift("22:00-06:00", name="late")
    trend = analytics.area_trend(
        incidents, _communities(), period=("2024-03-11", "2024-03-18"), shift=late
    )
    by_id = trend.set_index("id")
    assert by_id.loc["W", ["incidents", "previous", "change"]].tolist() == [2, 1, 1]
    assert by_id.loc["E", ["incidents", "previous", "change"]].tolist() == [0, 1, -1]
    assert by_id.loc["W", "change_pct"] == pytest.approx(100.0)
    assert by_id.loc["E", "warning_level"] == "blue"


def test_counts_by_shift() -> None:
    rows = [
        (100, 100, "2024-03-12 23:00", "theft"),
        (600, 100, "2024-03-13 03:00", "theft"),
        (600, 100, "2024-03-13 10:00", "theft"),
    ]
    shifts = {"day": parse_shift("08:00-16:00"), "late": parse_shift("22:00-06:00")}
    table = analytics.counts_by_shift(_incidents(rows), _communities(), shifts)
    assert table.loc["W"].to_dict() == {"day": 0, "late": 1, "all": 1}
    assert table.loc["E"].to_dict() == {"day": 1, "late": 1, "all": 2}


@pytest.fixture
def workspace(location: str) -> Workspace:
    """Four weeks of incidents over two communities, on every store."""
    rng = np.random.default_rng(5)
    rows = []
    days = pd.date_range("2024-03-01", "2024-03-28", freq="D")
    for day in days:
        # a burglary cluster in West every night, scattered thefts by day
        for p in rng.normal([250, 700], 20, size=(3, 2)):
            rows.append((p[0], p[1], f"{day:%Y-%m-%d} 23:15", "burglary-aptforcible"))
        for p in rng.uniform(0, 1000, size=(2, 2)):
            rows.append((p[0], p[1], f"{day:%Y-%m-%d} 11:00", "theft-of-auto"))
    rows.append((900, 900, "2024-03-20 12:00", "made-up-category"))
    incidents = _incidents(rows)
    roads = gpd.GeoDataFrame(
        {"name": ["A", "B", "X"]},
        geometry=[
            shapely.LineString([(0, 700), (1000, 700)]),
            shapely.LineString([(0, 200), (1000, 200)]),
            shapely.LineString([(500, 0), (500, 1000)]),
        ],
        crs=CRS,
    )
    return Workspace.create(
        location,
        {"incidents": incidents, "communities": _communities(), "roads": roads},
        meta={"timezone": TZ},
    )


def test_unknown_categories_are_reported_and_kept(workspace: Workspace) -> None:
    incidents, problems = analytics.load_incidents(workspace)
    assert len(incidents) == 28 * 5 + 1
    assert [p.code for p in problems] == ["unknown_category"]
    made_up = incidents[incidents["category"] == "made-up-category"]
    assert made_up["group"].tolist() == ["other"]


def test_bulletin_with_a_single_month_compares_its_halves(workspace: Workspace) -> None:
    incidents, problems = analytics.load_incidents(workspace)
    communities = workspace.layer("communities")
    result = bulletin.monthly_bulletin(incidents, communities, month="2024-03", problems=problems)
    assert "second half" in result.comparison
    table = result.table.set_index("id")
    assert table["incidents"].sum() == len(incidents)
    assert table.loc["W", "n_burglary"] == 28 * 3
    assert table.loc["W", "warning_level"] in {"orange", "red"}
    assert table.loc["W", "top_hotspots"].startswith("#1 ")
    assert any(p.code == "unknown_category" for p in result.problems)
    with pytest.raises(analytics.AnalyticsError, match="no incidents in month '2023-01'"):
        bulletin.monthly_bulletin(incidents, communities, month="2023-01")


def test_cli_hotspots_and_bulletin(workspace: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code = main(
        [
            "hotspots",
            workspace.location,
            "--shift",
            "late",
            "--method",
            "gistar",
            "--cell-size-m",
            "100",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    kpis = json.loads((out / "kpis.json").read_text())
    assert kpis["shifts"]["late"]["pai"] > 1
    assert (out / "hotspots_late_gistar.geojson").exists()
    assert main(["bulletin", workspace.location, "--month", "2024-03", "--out", str(out)]) == 0
    assert (out / "bulletin_2024-03.csv").exists()
    assert (out / "bulletin_2024-03.html").read_text().startswith("<!DOCTYPE html>")
    assert main(["bulletin", workspace.location, "--month", "1999-01", "--out", str(out)]) == 1
