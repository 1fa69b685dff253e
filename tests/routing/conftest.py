"""Fixtures of the routing tests: tiny hand-made street layers and the real New Haven streets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import pytest
from shapely import LineString

from routing.network import StreetNetwork, network_from_lines

#: A projected CRS in metres for the hand-made layers (UTM 18N).
METRIC_CRS = "EPSG:32618"


def lines_gdf(coords: list[list[tuple[float, float]]], **columns: list[object]) -> gpd.GeoDataFrame:
    """A line layer in :data:`METRIC_CRS` from coordinate lists and optional columns."""
    return gpd.GeoDataFrame(dict(columns), geometry=[LineString(c) for c in coords], crs=METRIC_CRS)


LinesFactory = Callable[..., gpd.GeoDataFrame]


@pytest.fixture
def make_lines() -> LinesFactory:
    """The :func:`lines_gdf` factory, for tests that draw their own streets."""
    return lines_gdf


@pytest.fixture(scope="session")
def new_haven_streets(shared_data: Callable[[str], Path]) -> gpd.GeoDataFrame:
    return gpd.read_file(shared_data("new_haven.gpkg"), layer="streets")


@pytest.fixture(scope="session")
def new_haven_network(new_haven_streets: gpd.GeoDataFrame) -> StreetNetwork:
    return network_from_lines(new_haven_streets, mode="car")


@pytest.fixture
def square() -> gpd.GeoDataFrame:
    """A 100 m square block, 0-1-2-3 anticlockwise; the south side 0->1 is one-way east.

    All residential (30 km/h): a 100 m side takes 12 s.
    """
    return lines_gdf(
        [
            [(0, 0), (100, 0)],
            [(100, 0), (100, 100)],
            [(100, 100), (0, 100)],
            [(0, 100), (0, 0)],
        ],
        oneway=[True, False, False, False],
        name=["South St", "East St", "North St", "West St"],
    )
