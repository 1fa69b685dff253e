"""Pile-ups: many incidents on one point are found, named and kept out of what is weighed."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from layers.errors import LayerError
from layers.validate import validate_layers
from layers.validate.pileups import PileupRule, drop_pileups, find_pileups

CRS = "EPSG:32650"
STATION_XY = (500_400.0, 3_380_600.0)


def _incidents(xy: np.ndarray, address: list[str] | None = None) -> gpd.GeoDataFrame:
    n = len(xy)
    frame = gpd.GeoDataFrame(
        {
            "id": [f"i{i}" for i in range(n)],
            "occurred_at": pd.date_range("2024-03-01", periods=n, freq="37min", tz="UTC"),
            "category": ["盗窃"] * n,
        },
        geometry=shapely.points(xy),
        crs=CRS,
    )
    if address is not None:
        frame["address"] = address
    return frame


def _background(rng: np.random.Generator, n: int = 300) -> np.ndarray:
    return rng.uniform([500_000, 3_380_000], [501_000, 3_381_000], size=(n, 2))


def _stations() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"id": ["S1", "S2"], "name": ["东湖派出所", "南湖派出所"], "kind": ["station"] * 2},
        geometry=shapely.points([STATION_XY, (500_900.0, 3_380_100.0)]),
        crs=CRS,
    )


def _with_desk_pileup(rng: np.random.Generator, count: int = 40) -> gpd.GeoDataFrame:
    # Reports taken at the desk, geocoded 10 m from the station, scattered by 1 m.
    desk = np.add(STATION_XY, (10.0, 0.0)) + rng.normal(0, 0.3, size=(count, 2))
    xy = np.vstack([_background(rng), desk])
    address = [f"{i} 路" for i in range(300)] + ["中山路1号"] * count
    return _incidents(xy, address)


def test_a_desk_pileup_on_a_station_is_found_and_named() -> None:
    rng = np.random.default_rng(11)
    incidents = _with_desk_pileup(rng)
    found = find_pileups(incidents, stations=_stations())
    assert len(found.places) == 1
    place = found.places.iloc[0]
    assert place["count"] == 40 and place["local_median"] == 1
    assert place["address"] == "中山路1号"
    assert place["station"] == "东湖派出所"
    assert place["station_distance_m"] == pytest.approx(10, abs=1)
    assert found.incidents == 40
    assert found.at_pileup.index.equals(incidents.index)
    assert found.at_pileup.iloc[300:].all() and not found.at_pileup.iloc[:300].any()
    assert found.places.crs.to_epsg() == 4326


def test_drop_pileups_returns_the_incidents_to_weigh() -> None:
    incidents = _with_desk_pileup(np.random.default_rng(12))
    kept, found = drop_pileups(incidents, stations=_stations())
    assert len(kept) == 300 and found.incidents == 40
    assert not kept["address"].eq("中山路1号").any()
    everything, _ = drop_pileups(incidents, keep=True)
    assert len(everything) == 340


def test_a_busy_place_among_busy_neighbours_is_no_pileup() -> None:
    # 25 incidents on one point, but the points around it hold 5 each: 5x, not 10x.
    rng = np.random.default_rng(13)
    points = rng.uniform([500_000, 3_380_000], [500_600, 3_380_600], size=(40, 2))
    xy = np.vstack(
        [np.repeat(points, 5, axis=0), np.repeat([[500_300.0, 3_380_300.0]], 25, axis=0)]
    )
    assert len(find_pileups(_incidents(xy)).places) == 0
    # The same 25 on a quiet street are one.
    quiet = np.vstack([points, np.repeat([[500_300.0, 3_380_300.0]], 25, axis=0)])
    assert find_pileups(_incidents(quiet)).places["count"].tolist() == [25]


def test_few_incidents_on_one_point_are_no_pileup() -> None:
    rng = np.random.default_rng(14)
    xy = np.vstack([_background(rng), np.repeat([STATION_XY], 19, axis=0)])
    assert find_pileups(_incidents(xy)).incidents == 0
    assert find_pileups(_incidents(xy), rule=PileupRule(min_count=15)).incidents == 19


def test_bad_rules_are_refused() -> None:
    with pytest.raises(LayerError, match="at least 2 incidents"):
        PileupRule(min_count=1)
    with pytest.raises(LayerError, match="should not be negative"):
        PileupRule(tolerance_m=-1)


def test_validation_warns_of_the_pileup_with_its_place_and_count() -> None:
    incidents = _with_desk_pileup(np.random.default_rng(15))
    report = validate_layers(
        {"incidents": incidents.to_crs(4326), "stations": _stations().to_crs(4326)},
        timezone="Asia/Shanghai",
    )
    pileups = [p for p in report.problems if p.code == "incident_pileup"]
    assert len(pileups) == 1 and pileups[0].severity == "warning"
    message = pileups[0].message
    assert message.startswith("40 incidents sit on one point at 中山路1号 (lon ")
    assert "from station '东湖派出所'" in message
    assert "keep_pileups" in pileups[0].fix


def test_validate_reports_the_union_ave_pileup_of_new_haven() -> None:
    from gisapp.cli import cli

    result = CliRunner().invoke(cli, ["validate", "sample:new_haven"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "sit on one point" in line]
    assert any(
        "153 incidents sit on one point at 1 UNION AVE (lon -72.924369, lat 41.300579)" in line
        for line in lines
    ), result.output
