from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely import Point

from routing.errors import RoutingError
from routing.network import StreetNetwork, network_from_lines
from routing.risk import segment_risk, segment_risk_by_hour, shift_mask

TZ = "Asia/Shanghai"  # UTC+8, no daylight saving


@pytest.fixture
def street(make_lines) -> StreetNetwork:
    """Three 100 m segments in a row: A (x 0-100), B (100-200), C (200-300)."""
    return network_from_lines(
        make_lines([[(0, 0), (100, 0)], [(100, 0), (200, 0)], [(200, 0), (300, 0)]])
    )


def _segment_at(net: StreetNetwork, x: float) -> int:
    return int(np.flatnonzero(shapely.dwithin(net.segment_geometry, Point(x, 0), 1e-9))[0])


def _incidents(rows: list[tuple[str, str, float, int, bool]]) -> gpd.GeoDataFrame:
    """Incidents from (id, local time in TZ, x, severity, preventable); y is 5 m off the street."""
    frame = pd.DataFrame(rows, columns=["id", "local", "x", "severity", "preventable"])
    occurred = pd.to_datetime(frame["local"]).dt.tz_localize(TZ).dt.tz_convert("UTC")
    return gpd.GeoDataFrame(
        {
            "id": frame["id"],
            "occurred_at": occurred,
            "category": "theft",
            "severity": frame["severity"],
            "preventable": frame["preventable"],
        },
        geometry=[Point(x, 5) for x in frame["x"]],
        crs="EPSG:32618",
    ).set_index("id")


@pytest.fixture
def incidents() -> gpd.GeoDataFrame:
    # 2024-03-01 is a Friday
    return _incidents(
        [
            ("fri-late", "2024-03-01 23:00", 50, 2, True),
            ("sat-early", "2024-03-02 02:00", 50, 1, True),  # Friday's night shift
            ("sat-noon", "2024-03-02 12:00", 150, 5, True),  # outside the night window
            ("sun-early", "2024-03-03 01:00", 150, 3, True),  # Saturday's night shift
            ("not-preventable", "2024-03-01 23:30", 250, 4, False),
        ]
    )


def test_night_window_crosses_midnight(street, incidents):
    risk = segment_risk(street, incidents, window=("22:00", "06:00"), timezone=TZ)
    assert risk.name == "risk" and risk.index.name == "segment"
    assert risk.tolist() == [3.0, 3.0, 0.0]
    assert risk.attrs["incidents"] == 3


def test_weekday_is_the_shift_start_day(street, incidents):
    friday = segment_risk(
        street, incidents, window=("22:00", "06:00"), weekdays=["fri"], timezone=TZ
    )
    assert friday.tolist() == [3.0, 0.0, 0.0]
    saturday = segment_risk(street, incidents, window=("22:00", "06:00"), weekdays=[5], timezone=TZ)
    assert saturday.tolist() == [0.0, 3.0, 0.0]


def test_day_window_and_whole_day(street, incidents):
    day = segment_risk(street, incidents, window=("08:00", "16:00"), timezone=TZ)
    assert day.tolist() == [0.0, 5.0, 0.0]
    everything = segment_risk(street, incidents, window=None, timezone=TZ, preventable_only=False)
    assert everything.tolist() == [3.0, 8.0, 4.0]


def test_time_zone_moves_incidents_between_shifts(street, incidents):
    # read in UTC, the Shanghai nights fall at 14:00-22:00 and Saturday noon at 04:00
    utc = segment_risk(street, incidents, window=("22:00", "06:00"), timezone="UTC")
    assert utc.tolist() == [0.0, 5.0, 0.0]


def test_recency_half_life(street):
    incidents = _incidents(
        [
            ("old", "2024-03-01 23:00", 50, 1, True),
            ("new", "2024-03-08 23:00", 150, 1, True),
            ("future", "2024-03-20 23:00", 250, 1, True),
        ]
    )
    risk = segment_risk(
        street,
        incidents,
        timezone=TZ,
        half_life_days=7,
        reference_time=pd.Timestamp("2024-03-08 23:00", tz=TZ),
    )
    assert risk.tolist() == pytest.approx([0.5, 1.0, 0.0])


def test_far_incidents_are_reported(street, incidents, caplog):
    far = _incidents([("lake", "2024-03-01 23:00", 50, 5, True)]).set_geometry(
        [Point(50, 800)], crs="EPSG:32618"
    )
    risk = segment_risk(street, pd.concat([incidents, far]), timezone=TZ, max_snap_distance_m=50)
    assert risk.attrs["far_incidents"] == ["lake"]
    assert risk.tolist() == [3.0, 3.0, 0.0]
    assert "1 of 5 points are farther than 50 m" in caplog.text


def test_smoothing_spreads_to_neighbours_and_keeps_the_total(street, incidents):
    plain = segment_risk(
        street, incidents, window=("22:00", "06:00"), weekdays=["fri"], timezone=TZ
    )
    smooth = segment_risk(
        street, incidents, window=("22:00", "06:00"), weekdays=["fri"], timezone=TZ, smoothing=0.5
    )
    a, b, c = _segment_at(street, 50), _segment_at(street, 150), _segment_at(street, 250)
    assert plain[a] == 3.0
    assert smooth[a] == pytest.approx(1.5)  # A's only neighbour is B
    assert smooth[b] == pytest.approx(1.5)
    assert smooth[c] == 0.0
    assert smooth.sum() == pytest.approx(plain.sum())


def test_risk_by_hour(street, incidents):
    by_hour = segment_risk_by_hour(street, incidents, timezone=TZ)
    assert by_hour.shape == (street.n_segments, 24)
    a, b = _segment_at(street, 50), _segment_at(street, 150)
    assert by_hour[a, 23] == 2.0 and by_hour[a, 2] == 1.0
    assert by_hour[b, 12] == 5.0 and by_hour[b, 1] == 3.0
    assert by_hour.sum() == 11.0


def test_shift_mask_equal_ends_is_the_whole_day():
    times = pd.Series(pd.date_range("2024-03-01", periods=48, freq="30min"))
    assert shift_mask(times, window=("06:00", "06:00")).all()
    assert shift_mask(times, window=("06:00", "07:00")).sum() == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"window": ("25:00", "06:00")},
            "'window' should be a clock time like '22:00', got '25:00'",
        ),
        ({"weekdays": ["Funday"]}, "'weekdays' should hold 0 \\(Monday\\) to 6"),
        ({"smoothing": 1.5}, "'smoothing' should be a share from 0 to 1, got 1.5"),
        ({"half_life_days": 0}, "'half_life_days' should be > 0, got 0"),
    ],
)
def test_bad_arguments_are_named(street, incidents, kwargs, message):
    with pytest.raises(RoutingError, match=message):
        segment_risk(street, incidents, **kwargs)


def test_bad_incidents_are_named(street, incidents):
    with pytest.raises(RoutingError, match="has no 'occurred_at' column"):
        segment_risk(street, incidents.drop(columns="occurred_at"))
    bad = incidents.assign(severity=[1, 2, 9, 1, 1])
    with pytest.raises(RoutingError, match="severity should be 1 to 5, got 9"):
        segment_risk(street, bad)
