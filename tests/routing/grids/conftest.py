"""Fixtures of the grid tests: a 600 m x 600 m town on a 100 m street lattice.

Two communities (west and east halves), four current grids with their officers, and 200
seeded incidents (some outside every grid, one on the edge of two grids), all in UTM 18N.
"""

from __future__ import annotations

from collections.abc import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from routing.grids import blocks_from_lines

#: A projected CRS in metres for the hand-made layers (UTM 18N).
CRS = "EPSG:32618"
SPACING_M = 100.0


def street_lattice(n_lines: int = 7) -> gpd.GeoDataFrame:
    """Streets on a square lattice, 100 m apart, overshooting by 20 m like real data."""
    end = (n_lines - 1) * SPACING_M
    lines = [
        shapely.LineString([(i * SPACING_M, -20), (i * SPACING_M, end + 20)])
        for i in range(n_lines)
    ]
    lines += [
        shapely.LineString([(-20, i * SPACING_M), (end + 20, i * SPACING_M)])
        for i in range(n_lines)
    ]
    return gpd.GeoDataFrame({"name": [f"s{i}" for i in range(len(lines))]}, geometry=lines, crs=CRS)


def two_halves(split_x: float = 300.0, size: float = 600.0) -> gpd.GeoDataFrame:
    """Two polygons ``west`` and ``east`` split at ``split_x``."""
    return gpd.GeoDataFrame(
        {"id": ["west", "east"]},
        geometry=[shapely.box(0, 0, split_x, size), shapely.box(split_x, 0, size, size)],
        crs=CRS,
    )


@pytest.fixture
def streets() -> gpd.GeoDataFrame:
    """The 7 x 7 street lattice (36 blocks of 100 m x 100 m)."""
    return street_lattice()


@pytest.fixture
def make_halves() -> Callable[..., gpd.GeoDataFrame]:
    """The :func:`two_halves` factory, for a split elsewhere than the middle."""
    return two_halves


@pytest.fixture
def halves() -> gpd.GeoDataFrame:
    """West and east halves of the lattice, split at x = 300 m."""
    return two_halves()


@pytest.fixture
def lattice_blocks() -> gpd.GeoDataFrame:
    """The lattice's blocks nested in the halves, with seeded workloads in [0.5, 1.5)."""
    blocks = blocks_from_lines(street_lattice(), boundaries=two_halves())
    rng = np.random.default_rng(7)
    blocks["workload"] = rng.uniform(0.5, 1.5, len(blocks))
    return blocks


@pytest.fixture
def communities() -> gpd.GeoDataFrame:
    """The two halves as communities, with households, population and property status."""
    return gpd.GeoDataFrame(
        {
            "id": ["west", "east"],
            "name": ["West", "East"],
            "subdistrict_id": ["s1", "s1"],
            "households": [1200, 2400],
            "population": [3000, 6000],
            "property_managed": ["semi", "none"],
        },
        geometry=[shapely.box(0, 0, 300, 600), shapely.box(300, 0, 600, 600)],
        crs=CRS,
    )


@pytest.fixture
def current_grids() -> gpd.GeoDataFrame:
    """Four current grids, two per community; e2 has no unit."""
    return gpd.GeoDataFrame(
        {
            "id": ["w1", "w2", "e1", "e2"],
            "community_id": ["west", "west", "east", "east"],
            "officer": ["Li", "Wang", "Zhao", "Zhao"],
            "unit_id": ["car-1", "car-1", "car-2", None],
        },
        geometry=[
            shapely.box(0, 0, 300, 300),
            shapely.box(0, 300, 300, 600),
            shapely.box(300, 0, 600, 100),
            shapely.box(300, 100, 600, 600),
        ],
        crs=CRS,
    )


@pytest.fixture
def incidents() -> gpd.GeoDataFrame:
    """200 seeded incidents over a week; some outside every grid, one on a grid edge."""
    n = 200
    rng = np.random.default_rng(5)
    x = rng.uniform(-50, 650, n)  # some fall outside every grid
    y = rng.uniform(0, 600, n)
    x[0], y[0] = 300.0, 50.0  # on the edge of w1 and e1
    times = pd.Timestamp("2024-03-04 00:00", tz="Asia/Shanghai") + pd.to_timedelta(
        rng.integers(0, 7 * 24 * 60, n), unit="min"
    )
    return gpd.GeoDataFrame(
        {
            "id": [str(i) for i in range(n)],
            "occurred_at": times,
            "category": "theft",
            "severity": rng.integers(1, 4, n),
        },
        geometry=gpd.points_from_xy(x, y),
        crs=CRS,
    )
