"""Incidents per area counted by the store: the same on every store as in Python."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gisapp.errors import WorkspaceError
from gisapp.store import Workspace
from routing.grids.workload import incidents_by_grid
from routing.risk import shift_mask

TZ = "America/New_York"
#: Column and row edges (degrees) of a 3 x 2 grid of unequal cells, so a point on a
#: shared edge has one nearest centroid.
XS = (-73.000, -72.990, -72.970, -72.955)
YS = (41.300, 41.308, 41.320)


def _grids() -> gpd.GeoDataFrame:
    cells = [shapely.box(x0, y0, x1, y1) for y0, y1 in pairwise(YS) for x0, x1 in pairwise(XS)]
    return gpd.GeoDataFrame(
        {"id": [f"g{i}" for i in range(len(cells))]}, geometry=cells, crs="EPSG:4326"
    )


def _incidents(n: int = 600, seed: int = 7) -> gpd.GeoDataFrame:
    """Seeded points over the grid and beyond it, some on shared edges and corners."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(XS[0] - 0.005, XS[-1] + 0.005, n)
    y = rng.uniform(YS[0] - 0.004, YS[-1] + 0.004, n)
    on_edge = rng.random(n) < 0.25
    x[on_edge] = rng.choice(XS[1:-1], on_edge.sum())
    on_row_edge = rng.random(n) < 0.1
    y[on_row_edge] = YS[1]
    # Times over March 2024, with the change to summer time on the 10th.
    start = pd.Timestamp("2024-03-01", tz="UTC")
    minutes = rng.integers(0, 31 * 24 * 60, n)
    times = pd.Series(start + pd.to_timedelta(minutes, unit="min")).dt.tz_convert(TZ)
    return gpd.GeoDataFrame(
        {
            "id": [f"i{i}" for i in range(n)],
            "occurred_at": times,
            "category": rng.choice(["theft", "burglary", "robbery"], n),
        },
        geometry=shapely.points(x, y),
        crs="EPSG:4326",
    )


def _dst_incidents() -> gpd.GeoDataFrame:
    """Either side of the missing hour of 2024-03-10 in New York, inside g0."""
    utc = pd.to_datetime(
        ["2024-03-10 06:30", "2024-03-10 06:59", "2024-03-10 07:30", "2024-03-10 08:30"]
    ).tz_localize("UTC")
    return gpd.GeoDataFrame(
        {
            "id": ["d1", "d2", "d3", "d4"],
            "occurred_at": utc.tz_convert(TZ),
            "category": ["theft"] * 4,
        },
        geometry=[shapely.Point(-72.995, 41.304)] * 4,
        crs="EPSG:4326",
    )


def _workspace(location: str, incidents: gpd.GeoDataFrame) -> Workspace:
    return Workspace.create(
        location, {"incidents": incidents, "grids": _grids()}, meta={"timezone": TZ}
    )


def _expected(
    incidents: gpd.GeoDataFrame,
    *,
    period: tuple[str, str] | None = None,
    window: tuple[str, str] | None = None,
) -> tuple[list[int], int]:
    """Counts per grid by :func:`incidents_by_grid`, and the incidents in no grid."""
    chosen = incidents
    if period is not None:
        start, end = (pd.Timestamp(v).tz_localize(TZ) for v in period)
        times = chosen["occurred_at"]
        chosen = chosen[(times >= start) & (times < end)]
    if window is None:
        counts, outside = incidents_by_grid(_grids(), chosen)
        return counts["incidents"].astype(int).tolist(), len(outside)
    counts, outside = incidents_by_grid(_grids(), chosen, shifts={"shift": window})
    in_shift = int(shift_mask(outside["occurred_at"], window=window).sum()) if len(outside) else 0
    return counts["incidents_shift"].astype(int).tolist(), in_shift


@pytest.mark.parametrize(
    ("period", "window"),
    [
        (None, None),
        (None, ("22:00", "06:00")),
        (("2024-03-08", "2024-03-15"), ("22:00", "06:00")),
        (("2024-03-10", "2024-03-11"), ("01:00", "04:00")),
        (("2024-03-01 12:00", "2024-03-20"), None),
    ],
)
def test_counts_match_incidents_by_grid(
    location: str, period: tuple[str, str] | None, window: tuple[str, str] | None
) -> None:
    incidents = _incidents()
    ws = _workspace(location, incidents)
    counts = ws.incident_counts("grids", period=period, window=window)
    expected, outside = _expected(incidents, period=period, window=window)
    assert counts["area_id"].tolist() == _grids()["id"].tolist()
    assert counts["incidents"].tolist() == expected
    assert counts.attrs["outside"] == outside
    assert outside > 0 or period is not None


def test_shared_edges_count_once_in_the_nearest_centroid(location: str) -> None:
    # On the edge of g0 (0.010 wide) and g1 (0.020 wide): g0's centroid is nearer.
    # On the corner of g0, g1, g3 and g4: g0 (the smallest) again.
    points = [shapely.Point(XS[1], 41.304), shapely.Point(XS[1], YS[1])]
    incidents = gpd.GeoDataFrame(
        {
            "id": ["e1", "e2"],
            "occurred_at": pd.to_datetime(["2024-03-05 12:00"] * 2).tz_localize(TZ),
        },
        geometry=points,
        crs="EPSG:4326",
    )
    counts = _workspace(location, incidents).incident_counts("grids")
    assert counts["incidents"].tolist() == [2, 0, 0, 0, 0, 0]
    assert counts.attrs["outside"] == 0
    assert counts["incidents"].tolist() == _expected(incidents)[0]


def test_window_on_a_daylight_saving_day_uses_local_clock_times(location: str) -> None:
    ws = _workspace(location, _dst_incidents())
    # 01:30 and 01:59 EST, 03:30 and 04:30 EDT: three between 01:00 and 04:00.
    counts = ws.incident_counts("grids", window=("01:00", "04:00"))
    assert counts["incidents"].tolist() == [3, 0, 0, 0, 0, 0]
    # A night window crossing midnight holds 01:30, 01:59 and 03:30 too; 02:00-06:00 only
    # the two summer-time ones.
    assert ws.incident_counts("grids", window=("22:00", "06:00"))["incidents"].iloc[0] == 4
    assert ws.incident_counts("grids", window=("02:00", "06:00"))["incidents"].iloc[0] == 2


def test_category_filter_and_period(location: str) -> None:
    incidents = _incidents(seed=11)
    ws = _workspace(location, incidents)
    period = ("2024-03-05", "2024-03-25")
    counts = ws.incident_counts("grids", period=period, categories=["theft", "robbery"])
    chosen = incidents[incidents["category"].isin(["theft", "robbery"])]
    expected, outside = _expected(chosen, period=period)
    assert counts["incidents"].tolist() == expected
    assert counts.attrs["outside"] == outside


def test_both_stores_agree(tmp_path: Path, postgis_url: str) -> None:
    incidents = _incidents(seed=3)
    period, window = ("2024-03-02", "2024-03-30"), ("22:00", "06:00")
    gpkg = _workspace(str(tmp_path / "ws.gpkg"), incidents).incident_counts(
        "grids", period=period, window=window
    )
    pg = _workspace(postgis_url, incidents).incident_counts("grids", period=period, window=window)
    pd.testing.assert_frame_equal(gpkg, pg)
    assert gpkg.attrs == pg.attrs


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window": ("22h", "06:00")}, "should be HH:MM"),
        ({"window": ("25:00", "06:00")}, "not a time of day"),
        ({"period": ("2024-03-10", "2024-03-01")}, "start before it ends"),
        ({"period": ("soon", "2024-03-01")}, "cannot be read"),
        ({"timezone": "Mars/Olympus"}, "time zone 'Mars/Olympus' is unknown"),
    ],
)
def test_bad_requests_are_explained(tmp_path: Path, kwargs: dict[str, Any], message: str) -> None:
    ws = _workspace(str(tmp_path / "ws.gpkg"), _dst_incidents())
    with pytest.raises(WorkspaceError, match=message):
        ws.incident_counts("grids", **kwargs)


def test_missing_layers_and_ids_are_explained(location: str) -> None:
    ws = _workspace(location, _dst_incidents())
    with pytest.raises(WorkspaceError, match="no layer 'communities'"):
        ws.incident_counts("communities")
    ws.save({"communities": _grids().rename(columns={"id": "code"})})
    with pytest.raises(WorkspaceError, match="has no 'id' field"):
        ws.incident_counts("communities")
