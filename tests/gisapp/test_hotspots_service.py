"""The hotspot service: options in, an immutable result out, one set of refusals."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gisapp.errors import GisappError, WorkspaceError
from gisapp.services import analytics
from gisapp.services.hotspots import (
    HotspotOptions,
    category_groups,
    category_options,
    default_split,
    hotspots_by_shift,
    hotspots_from_incidents,
    shift_hotspots,
)
from gisapp.settings import parse_shift
from gisapp.store import Workspace

CRS = "EPSG:32618"
TZ = "America/New_York"
LATE = parse_shift("22:00-06:00", name="late")


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


@pytest.fixture
def workspace(location: str) -> Workspace:
    """Four weeks of a nightly burglary cluster at (250, 700) and daytime thefts anywhere,
    on every store."""
    rng = np.random.default_rng(5)
    rows = []
    for day in pd.date_range("2024-03-01", "2024-03-28", freq="D"):
        for p in rng.normal([250, 700], 20, size=(3, 2)):
            rows.append((p[0], p[1], f"{day:%Y-%m-%d} 23:15", "burglary-aptforcible"))
        for p in rng.uniform(0, 1000, size=(2, 2)):
            rows.append((p[0], p[1], f"{day:%Y-%m-%d} 11:00", "theft-of-auto"))
    rows.append((900, 900, "2024-03-20 12:00", "made-up-category"))
    communities = gpd.GeoDataFrame(
        {"id": ["W", "E"], "name": ["West", "East"], "subdistrict_id": ["S", "S"]},
        geometry=[shapely.box(0, 0, 500, 1000), shapely.box(500, 0, 1000, 1000)],
        crs=CRS,
    )
    return Workspace.create(
        location,
        {"incidents": _incidents(rows), "communities": communities},
        meta={"timezone": TZ},
    )


# -- moved from test_analytics: the pipeline over incidents -------------------------------------


def test_shift_hotspots_find_the_night_cluster(workspace: Workspace) -> None:
    incidents, _ = analytics.load_incidents(workspace)
    area = analytics.study_area(workspace)
    layer, kpis = hotspots_from_incidents(
        incidents, shift=LATE, method="kde", area=area, cell_size_m=100
    )
    assert kpis["incidents"] == 28 * 3
    assert layer.crs.to_epsg() == 4326
    top = layer.iloc[0].geometry.centroid
    cluster = gpd.GeoSeries(shapely.points([[250, 700]]), crs=CRS).to_crs(4326).iloc[0]
    assert top.distance(cluster) < 0.002  # about 150 m
    assert kpis["pai"] > 10


def test_shift_without_incidents_is_a_clear_error(workspace: Workspace) -> None:
    incidents, _ = analytics.load_incidents(workspace)
    early = parse_shift("04:00-05:00", name="early")
    with pytest.raises(analytics.AnalyticsError, match="no incidents in shift 'early'"):
        hotspots_from_incidents(
            incidents, shift=early, method="kde", area=analytics.study_area(workspace)
        )


def test_the_old_name_in_analytics_is_the_same_function() -> None:
    assert analytics.shift_hotspots is hotspots_from_incidents
    assert analytics.default_split is default_split


# -- the service -------------------------------------------------------------------------------


def test_service_result_carries_layer_pai_table_kpis_and_problems(workspace: Workspace) -> None:
    result = shift_hotspots(workspace, HotspotOptions(shift=LATE, method="kde", cell_size_m=100))
    assert dataclasses.is_dataclass(result)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.layer = result.layer  # type: ignore[misc]
    assert result.layer.crs.to_epsg() == 4326
    assert result.layer["rank"].tolist() == list(range(1, len(result.layer) + 1))
    assert result.layer["cell"].is_unique
    assert result.kpis["incidents"] == 28 * 3 and result.kpis["pai"] > 10
    assert len(result.pai) == 1
    row = result.pai.iloc[0]
    assert row["pai"] == pytest.approx(result.kpis["evaluation"]["pai"])
    assert row["train_start"].startswith("2024-03-01") and row["test_end"].startswith("2024-03-29")
    assert [p.code for p in result.problems] == ["unknown_category"]


def test_the_service_equals_the_pipeline_over_incidents(workspace: Workspace) -> None:
    incidents, _ = analytics.load_incidents(workspace)
    layer, kpis = hotspots_from_incidents(
        incidents, shift=LATE, method="counts", area=analytics.study_area(workspace)
    )
    result = shift_hotspots(workspace, HotspotOptions(shift=LATE, method="counts"))
    assert result.layer["cell"].tolist() == layer["cell"].tolist()
    assert result.layer["score"].tolist() == layer["score"].tolist()
    assert result.kpis["pai"] == kpis["pai"]


def test_categories_period_and_weekdays_select_incidents(workspace: Workspace) -> None:
    assert category_groups(workspace) == ["burglary", "other", "vehicle_theft"]
    assert category_options(["all"]) == ((), False)
    assert category_options(["preventable", "burglary"]) == (("burglary",), True)
    everything = HotspotOptions(shift=parse_shift("00:00-24:00", name="all day"), method="counts")
    assert shift_hotspots(workspace, everything).kpis["incidents"] == 28 * 5 + 1
    burglary = dataclasses.replace(everything, groups=("burglary",))
    assert shift_hotspots(workspace, burglary).kpis["incidents"] == 28 * 3
    preventable = dataclasses.replace(everything, preventable_only=True)
    assert shift_hotspots(workspace, preventable).kpis["incidents"] == 28 * 5
    week = shift_hotspots(
        workspace, dataclasses.replace(everything, period=("2024-03-01", "2024-03-08"))
    )
    assert week.kpis["incidents"] == 7 * 5
    windows = week.kpis["evaluation"]["windows"]
    assert (
        windows
        == "the incidents span only 7 days (fewer than 28): trained on the first 4, tested on the last 3"
    )
    assert week.pai.loc[0, "test_start"].startswith("2024-03-05")
    one_day = shift_hotspots(
        workspace, dataclasses.replace(everything, period=("2024-03-01", "2024-03-02"))
    )
    assert "all fall on 2024-03-01" in one_day.kpis["evaluation_error"]
    assert one_day.pai.empty
    weekends = shift_hotspots(workspace, dataclasses.replace(everything, weekdays=("sat", "6")))
    assert weekends.kpis["incidents"] == 8 * 5  # four Saturdays and four Sundays


def _daily_burglaries(days: pd.DatetimeIndex, location: str) -> Workspace:
    """Two burglaries a night in a 300 m square over ``days``, seeded."""
    rng = np.random.default_rng(11)
    rows = [
        (p[0], p[1], f"{day:%Y-%m-%d} 23:15", "burglary-aptforcible")
        for day in days
        for p in rng.uniform([100, 550], [400, 850], size=(2, 2))
    ]
    area = gpd.GeoDataFrame({"id": ["A"]}, geometry=[shapely.box(0, 0, 1000, 1000)], crs=CRS)
    return Workspace.create(
        location,
        {"incidents": _incidents(rows), "grids": area},
        meta={"timezone": TZ},
    )


def test_two_weeks_of_data_get_hotspots_and_a_stated_shorter_test_window(location: str) -> None:
    ws = _daily_burglaries(pd.date_range("2024-03-01", "2024-03-14", freq="D"), location)
    result = shift_hotspots(ws, HotspotOptions(shift=LATE, method="counts"))
    assert not result.layer.empty
    evaluation = result.kpis["evaluation"]
    assert evaluation["windows"] == (
        "the incidents span only 14 days (fewer than 28): trained on the first 7, tested on "
        "the last 7"
    )
    assert evaluation["train"][0].startswith("2024-03-01")
    assert evaluation["test"][0].startswith("2024-03-08")
    assert evaluation["test"][1].startswith("2024-03-15")
    assert result.pai.loc[0, "n_test"] == 7 * 2


def test_eight_years_of_data_are_scored_on_the_most_recent_weeks(location: str) -> None:
    days = pd.date_range("2016-01-01", "2023-12-31", freq="7D").append(
        pd.date_range("2023-11-01", "2023-12-31", freq="D")
    )
    ws = _daily_burglaries(days, location)
    result = shift_hotspots(ws, HotspotOptions(shift=LATE, method="counts"))
    evaluation = result.kpis["evaluation"]
    assert evaluation["windows"] == (
        "tested on the most recent 14 days, trained on the 14 days before"
    )
    assert evaluation["test"][0].startswith("2023-12-18")
    assert evaluation["test"][1].startswith("2024-01-01")
    assert evaluation["train"][0].startswith("2023-12-04")
    # a chosen period is scored on its own most recent weeks
    older = shift_hotspots(
        ws, HotspotOptions(shift=LATE, method="counts", period=("2016-01-01", "2017-01-01"))
    )
    assert older.kpis["evaluation"]["test"][0].startswith("2016-12-")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"method": "magic"}, "hotspot method 'magic' is unknown; choose one of kde"),
        ({"area_share": 0.0}, "share of the area flagged hot"),
        ({"cell_size_m": -5.0}, "cell size should be above 0 m"),
        ({"period": ("2024-03-10", "2024-03-01")}, "date range should start before it ends"),
        ({"period": ("soon", "later")}, "dates should look like 2014-09-01"),
        ({"weekdays": ("someday",)}, "weekday 'someday' is unknown"),
        ({"groups": ("nonsense",)}, "category group 'nonsense' is not in the incidents"),
        ({"shift": parse_shift("04:00-05:00", name="early")}, "no incidents in shift 'early'"),
        ({"method": "streets"}, "needs a roads layer in {workspace!r}"),
    ],
)
def test_refusals_name_what_to_change(
    workspace: Workspace, change: dict[str, object], message: str
) -> None:
    options = dataclasses.replace(HotspotOptions(shift=LATE), **change)  # type: ignore[arg-type]
    message = message.format(workspace=workspace.label)
    with pytest.raises(GisappError, match=re.escape(message)) as caught:
        shift_hotspots(workspace, options)
    text = str(caught.value)
    for internal in ("area_share", "cell_size_m", "bandwidth_m", "train_days", "'period'", "="):
        assert internal not in text, text


def test_a_workspace_without_incidents_is_named_by_its_label(location: str) -> None:
    areas = gpd.GeoDataFrame({"id": ["A"]}, geometry=[shapely.box(0, 0, 10, 10)], crs=CRS)
    ws = Workspace.create(location, {"grids": areas})
    with pytest.raises(
        WorkspaceError, match=re.escape(f"workspace {ws.label!r} has no incidents layer")
    ):
        shift_hotspots(ws, HotspotOptions(shift=LATE))


def test_several_shifts_read_the_workspace_once(workspace: Workspace) -> None:
    day = parse_shift("08:00-16:00", name="day")
    both = hotspots_by_shift(
        workspace,
        [HotspotOptions(shift=LATE, method="counts"), HotspotOptions(shift=day, method="counts")],
    )
    assert [r.options.shift.name for r in both] == ["late", "day"]
    alone = shift_hotspots(workspace, HotspotOptions(shift=day, method="counts"))
    assert both[1].layer["cell"].tolist() == alone.layer["cell"].tolist()


def test_cli_date_range_and_category_choice(workspace: Workspace, tmp_path: Path) -> None:
    from gisapp.cli import main

    out = tmp_path / "out"
    args = ["hotspots", workspace.location, "--shift", "late", "--method", "counts"]
    week = ["--from", "2024-03-01", "--to", "2024-03-08", "--group", "preventable"]
    assert main([*args, *week, "--out", str(out)]) == 0
    kpis = json.loads((out / "kpis.json").read_text(encoding="utf-8"))["shifts"]["late"]
    assert kpis["incidents"] == 7 * 3
    assert kpis["period"] == ["2024-03-01", "2024-03-08"] and kpis["preventable_only"]
    assert kpis["file"] == "hotspots_late_counts.geojson"
    assert main([*args, "--from", "2024-03-01", "--out", str(out)]) == 2
