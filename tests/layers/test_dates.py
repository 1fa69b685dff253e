"""Implausible incident dates."""

from __future__ import annotations

import pandas as pd

from layers.validate.dates import stray_dates


def test_stray_dates_are_placeholders_and_future_dates_never_a_long_history() -> None:
    history = pd.Series(pd.date_range("2016-01-01", "2023-12-31", freq="D", tz="Asia/Shanghai"))
    assert not stray_dates(history).any()
    placeholders = pd.Series(
        pd.to_datetime(["1966-01-01", "1970-01-01"]).tz_localize("Asia/Shanghai")
    )
    future = pd.Series(pd.to_datetime(["2099-05-01"]).tz_localize("Asia/Shanghai"))
    times = pd.concat([placeholders, history, future], ignore_index=True)
    stray = stray_dates(times)
    assert list(times[stray].dt.year) == [1966, 1970, 2099]
    # a gap with many incidents on both sides is two real periods, not strays
    two_eras = pd.concat([history.iloc[:400], history.iloc[-400:]])  # 2016-17 and 2022-23
    assert not stray_dates(two_eras).any()
    assert not stray_dates(pd.Series(pd.to_datetime(["2020-01-01"]))).any()


def test_validation_warns_of_stray_dates_and_keeps_them() -> None:
    import geopandas as gpd
    import shapely

    from layers.validate import validate_layers

    times = [f"2024-03-{d:02d} 21:00" for d in range(1, 29)] * 4 + ["1995-01-01 00:00"]
    incidents = gpd.GeoDataFrame(
        {
            "id": [f"i{i}" for i in range(len(times))],
            "occurred_at": times,
            "category": ["theft"] * len(times),
        },
        geometry=[shapely.Point(114.30 + i * 1e-4, 30.59) for i in range(len(times))],
        crs=4326,
    )
    report = validate_layers({"incidents": incidents}, timezone="Asia/Shanghai")
    stray = [p for p in report.problems if p.code == "stray_time"]
    assert [p.feature_id for p in stray] == [f"i{len(times) - 1}"]
    assert stray[0].severity == "warning"
    assert "years apart" in stray[0].message
    assert len(report.layers["incidents"]) == len(times)
