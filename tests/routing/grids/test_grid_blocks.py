"""Tests of routing.grids.blocks: street blocks and their adjacency."""

from __future__ import annotations

import math
from collections.abc import Callable

import geopandas as gpd
import numpy as np
import pytest
import shapely

from routing.grids import GridError, block_adjacency, blocks_from_lines

CRS = "EPSG:32618"


def test_blocks_are_the_faces_of_the_streets(streets: gpd.GeoDataFrame) -> None:
    blocks = blocks_from_lines(streets)
    assert len(blocks) == 36
    assert np.allclose(blocks["area_m2"], 10_000.0)
    assert blocks["block_id"].tolist() == list(range(36))


def test_blocks_nest_in_boundaries_that_do_not_follow_streets(
    make_halves: Callable[..., gpd.GeoDataFrame], streets: gpd.GeoDataFrame
) -> None:
    communities = make_halves(split_x=250.0)
    blocks = blocks_from_lines(streets, boundaries=communities)
    # The boundary at x=250 cuts the third column of blocks in two.
    assert len(blocks) == 42
    for community_id, community in communities.set_index("id").geometry.items():
        mine = blocks[blocks["parent_id"] == community_id]
        assert math.isclose(mine.area.sum(), community.area, rel_tol=1e-9)
        assert mine.geometry.within(community.buffer(0.01)).all()


def test_blocks_from_lines_rejects_points() -> None:
    points = gpd.GeoDataFrame(geometry=[shapely.Point(0, 0)], crs=CRS)
    with pytest.raises(GridError, match="'lines' should hold"):
        blocks_from_lines(points)


def test_adjacency_needs_a_shared_edge_not_a_corner() -> None:
    squares = gpd.GeoSeries(
        [shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1), shapely.box(2, 1, 3, 2)], crs=CRS
    )
    assert block_adjacency(squares, min_shared_m=0.5) == [{1}, {0}, set()]
