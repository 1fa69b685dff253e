"""Blind-zone polygons: pieces grouped into zones wherever their buffers meet."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely import LineString

from routing.coverage import blind_zone_polygons, coverage_segments
from routing.network import StreetNetwork, network_from_lines
from routing.reach import QUAD_SEGMENTS, reach_nodes

METRIC_CRS = "EPSG:32650"


def interleaved_streets() -> StreetNetwork:
    """Two parallel streets 1 km apart, three 100 m segments each, drawn in turn."""
    lines = []
    for x in range(0, 300, 100):
        lines.append(LineString([(x, 0), (x + 100, 0)]))
        lines.append(LineString([(x, 1000), (x + 100, 1000)]))
    roads = gpd.GeoDataFrame(
        {"highway": ["residential"] * len(lines)}, geometry=lines, crs=METRIC_CRS
    )
    return network_from_lines(roads, largest_component=False)


def test_zones_of_interleaved_pieces_are_the_buffers_of_their_streets() -> None:
    network = interleaved_streets()
    source = int(np.argmin(np.hypot(network.node_x, network.node_y)))  # at (0, 0)
    segments = coverage_segments(network, reach_nodes(network, [source]), required_s=0.0)
    zones = blind_zone_polygons(network, segments, buffer_m=25.0)

    assert len(zones) == 2
    assert zones["length_m"].tolist() == pytest.approx([300.0, 300.0])
    assert zones["segments"].tolist() == [3, 3]
    for y in (0, 1000):
        street = shapely.buffer(LineString([(0, y), (300, y)]), 25.0, quad_segs=QUAD_SEGMENTS)
        (match,) = [g for g in zones.geometry if g.intersects(street)]
        assert shapely.symmetric_difference(match, street).area < 1e-6 * street.area


def test_pieces_whose_buffers_meet_form_one_zone() -> None:
    lines = [LineString([(0, 0), (100, 0)]), LineString([(0, 40), (100, 40)])]
    roads = gpd.GeoDataFrame(
        {"highway": ["residential"] * len(lines)}, geometry=lines, crs=METRIC_CRS
    )
    network = network_from_lines(roads, largest_component=False)
    segments = coverage_segments(network, reach_nodes(network, [0]), required_s=0.0)
    zones = blind_zone_polygons(network, segments, buffer_m=25.0)
    assert len(zones) == 1
    assert zones["segments"].tolist() == [2]
    expected = shapely.union_all(
        shapely.buffer(np.array(lines, dtype=object), 25.0, quad_segs=QUAD_SEGMENTS)
    )
    assert zones.geometry[0].area == pytest.approx(expected.area, rel=1e-9)
