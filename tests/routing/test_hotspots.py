"""Hotspots: KDE, Gi*, hot streets and the PAI on hand-made incident patterns."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from routing import hotspots as hs
from routing.network import network_from_lines

CRS = "EPSG:32618"  # UTM 18N, metres
TZ = "America/New_York"


def _points(xy: list[tuple[float, float]], times: list[str] | None = None) -> gpd.GeoDataFrame:
    times = times or ["2024-03-04 10:00"] * len(xy)
    return gpd.GeoDataFrame(
        {
            "occurred_at": pd.to_datetime(times).tz_localize(TZ),
            "severity": np.ones(len(xy), dtype=int),
            "preventable": True,
            "group": "theft",
        },
        geometry=shapely.points(np.asarray(xy, dtype=float).reshape(-1, 2)),
        crs=CRS,
    )


def _square(size_m: float) -> gpd.GeoSeries:
    return gpd.GeoSeries([shapely.box(0, 0, size_m, size_m)], crs=CRS)


@pytest.fixture
def cells() -> gpd.GeoDataFrame:
    # 10 x 10 cells of 100 m over a 1 km square
    return hs.grid_cells(_square(1000), cell_size_m=100)


def test_grid_cells_cover_the_area_exactly(cells: gpd.GeoDataFrame) -> None:
    assert len(cells) == 100
    assert cells.area.sum() == pytest.approx(1e6)
    assert set(cells["row"]) == set(range(10))


def test_kde_peaks_on_the_cluster(cells: gpd.GeoDataFrame) -> None:
    rng = np.random.default_rng(7)
    cluster = rng.normal([750, 250], 30, size=(40, 2))
    noise = rng.uniform(0, 1000, size=(10, 2))
    points = _points([tuple(p) for p in np.vstack([cluster, noise])])
    density = hs.kde_density(points, cells, bandwidth_m=150)
    assert density.name == "kde"
    peak = cells.loc[density.idxmax()]
    assert (peak["col"], peak["row"]) == (7, 2)
    # the kernel integrates to the number of points (all well inside the grid)
    assert density.sum() * 0.01 == pytest.approx(50, rel=0.1)


def test_kde_survives_points_all_at_one_place(cells: gpd.GeoDataFrame) -> None:
    points = _points([(550.0, 550.0)] * 25)
    assert hs.bandwidth_rule_m(points) == 0.0
    density = hs.kde_density(points, cells)
    assert np.isfinite(density).all()
    assert density.attrs["bandwidth_m"] == 100  # floored at one cell
    peak = cells.loc[density.idxmax()]
    assert (peak["col"], peak["row"]) == (5, 5)


def test_no_incidents_is_a_clear_error(cells: gpd.GeoDataFrame) -> None:
    empty = _points([])
    with pytest.raises(hs.HotspotError, match="holds no incidents"):
        hs.kde_density(empty, cells)


def test_gi_star_finds_the_hot_block_and_equals_esda(cells: gpd.GeoDataFrame) -> None:
    libpysal = pytest.importorskip("libpysal")
    esda = pytest.importorskip("esda")
    rng = np.random.default_rng(3)
    counts = pd.Series(rng.poisson(1.0, len(cells)).astype(float), index=cells.index)
    hot = (cells["row"].between(6, 8)) & (cells["col"].between(1, 3))
    counts[hot] += 8
    gi = hs.gi_star(counts, cells)
    assert gi.loc[hot, "gi_star_z"].min() > gi.loc[~hot, "gi_star_z"].max() - 1.0
    assert cells.loc[gi["gi_star_z"].idxmax(), ["row", "col"]].tolist() == [7, 2]

    # Reference: queen contiguity on the 10 x 10 lattice, built by libpysal itself.
    order = np.lexsort((cells["col"], cells["row"]))  # lat2W numbers cells row by row
    w = libpysal.weights.lat2W(10, 10, rook=False)
    y = counts.to_numpy()[order]
    reference = esda.G_Local(y, w, transform="B", permutations=0, star=True).Zs
    np.testing.assert_allclose(gi["gi_star_z"].to_numpy()[order], reference, rtol=1e-10)


def test_gi_star_rejects_values_without_contrast(cells: gpd.GeoDataFrame) -> None:
    flat = pd.Series(2.0, index=cells.index)
    with pytest.raises(hs.HotspotError, match="no contrast"):
        hs.gi_star(flat, cells)


def test_pai_equals_a_hand_computation(cells: gpd.GeoDataFrame) -> None:
    hotspots = cells[(cells["row"] == 0) & (cells["col"] < 5)]  # 5 of 100 cells
    test = _points(
        [(50, 50), (150, 50), (450, 50), (950, 950), (550, 550), (50, 950), (2000, 2000)]
    )
    result = hs.pai(hotspots, test, cells)
    # 3 hits of the 6 test points in the area (the last is outside); area share 5 / 100
    assert (result.hits, result.n_test) == (3, 6)
    assert result.area_share == pytest.approx(0.05)
    assert result.pai == pytest.approx((3 / 6) / 0.05)


def test_top_cells_and_evaluation_on_a_stable_hotspot(cells: gpd.GeoDataFrame) -> None:
    rng = np.random.default_rng(11)
    xy, times = [], []
    for week, day in enumerate(["2024-03-04", "2024-03-11", "2024-03-18", "2024-03-25"]):
        for p in rng.normal([250, 750], 25, size=(20, 2)):
            xy.append(tuple(p))
            times.append(f"{day} {10 + week}:00")
        for p in rng.uniform(0, 1000, size=(5, 2)):
            xy.append(tuple(p))
            times.append(f"{day} 23:30")
    points = _points(xy, times)
    train, test = ("2024-03-04", "2024-03-18"), ("2024-03-18", "2024-04-01")
    for method in ("kde", "gistar", "counts"):
        result = hs.evaluate_hotspots(
            points,
            method=method,
            train=train,
            test=test,
            area_share=0.05,
            study_area=cells,
            cell_size_m=100,
        )
        assert result.score.n_test == 50
        assert result.score.area_share == pytest.approx(0.05)
        # the cluster holds 40 of 50 test points; a chance map would score PAI 1
        assert result.score.pai > 10, method
    with pytest.raises(hs.HotspotError, match="no incidents in the test period"):
        hs.evaluate_hotspots(
            points, method="kde", train=train, test=("2025-01-01", "2025-02-01"), study_area=cells
        )


def test_select_incidents_night_shift_crosses_midnight() -> None:
    points = _points(
        [(0, 0)] * 5,
        [
            "2024-03-08 23:00",  # Friday night
            "2024-03-09 02:00",  # Saturday 02:00 belongs to Friday's shift
            "2024-03-09 07:00",  # after the shift
            "2024-03-09 22:30",  # Saturday night
            "2024-03-09 12:00",
        ],
    )
    night = hs.select_incidents(points, window=("22:00", "06:00"))
    assert list(night.index) == [0, 1, 3]
    friday = hs.select_incidents(points, window=("22:00", "06:00"), weekdays=["fri"])
    assert list(friday.index) == [0, 1]


def _ladder_network() -> gpd.GeoDataFrame:
    # four parallel 1 km streets, 200 m apart, and one cross street
    lines = [shapely.LineString([(0, y), (1000, y)]) for y in (0, 200, 400, 600)]
    lines.append(shapely.LineString([(500, -50), (500, 650)]))
    return gpd.GeoDataFrame({"name": ["A", "B", "C", "D", "X"]}, geometry=lines, crs=CRS)


def test_hot_streets_and_the_80_20_view() -> None:
    network = network_from_lines(_ladder_network())
    # 30 incidents along the west half of street B, 2 elsewhere
    xy = [(20.0 + 15 * i, 205.0) for i in range(30)] + [(800.0, 590.0), (900.0, 10.0)]
    incidents = _points(xy)
    scores = hs.street_scores(network, incidents)
    assert scores["incidents"].sum() == 32
    hot = hs.hot_streets(scores, length_share=0.1)
    assert hot.iloc[0]["name"] == "B"
    assert hot.iloc[0]["incidents"] == 30
    concentration = hs.length_concentration(scores, length_shares=(0.05, 0.10))
    total_m = network.segment_length_m.sum()
    segment_m = float(hot.iloc[0]["length_m"])
    # the hot segment is 500 of total_m metres; 5% of the length lies inside it
    assert segment_m == pytest.approx(500)
    assert concentration[0.05] == pytest.approx((30 / 32) * (0.05 * total_m / segment_m))
    result = hs.street_pai(hot, network, incidents)
    assert result.hit_rate == pytest.approx(30 / 32)
    assert result.area_share == pytest.approx(hot["length_m"].sum() / total_m)
