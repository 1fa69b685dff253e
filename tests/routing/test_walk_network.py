"""The walking network: foot units walk footways, paths and steps, cars keep their streets.

Hand-made layers check how the ``car`` and ``foot`` columns pick the lines of each mode;
the real Liechtenstein and Helsinki extracts, imported into a workspace, check that the
foot network is the larger one, carries no motorway, and that the car network is the
one a drive-only import gives.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from routing.errors import NetworkError
from routing.network import network_from_lines

# A residential street (0-100) open to all, a primary road beyond it closed to walkers,
# a footway up from its start, and a residential street closed to cars (a pedestrian zone
# whose class alone would let cars in).
COORDS = [
    [(0, 0), (100, 0)],
    [(100, 0), (200, 0)],
    [(0, 0), (0, 100)],
    [(100, 0), (100, 100)],
]
HIGHWAY = ["residential", "primary", "footway", "residential"]


def test_access_columns_pick_the_lines_of_each_mode(make_lines) -> None:
    roads = make_lines(
        COORDS, highway=HIGHWAY, car=[True, True, False, False], foot=[True, False, True, True]
    )
    car = network_from_lines(roads, mode="car")
    assert sorted(car.segment_source.tolist()) == [0, 1]
    assert car.length_km == pytest.approx(0.2)
    assert car.report.excluded_lines == {"footway": 1, "residential": 1}
    ebike = network_from_lines(roads, mode="ebike")
    assert sorted(ebike.segment_source.tolist()) == [0, 1]
    foot = network_from_lines(roads, mode="foot")
    assert sorted(foot.segment_source.tolist()) == [0, 2, 3]
    assert foot.length_km == pytest.approx(0.3)
    assert "primary" not in set(foot.segment_highway)


def test_yes_no_text_and_blanks_leave_the_class_to_decide(make_lines) -> None:
    roads = make_lines(
        COORDS, highway=HIGHWAY, car=["yes", "Yes", None, "no"], foot=[1, 0, 1, None]
    )
    car = network_from_lines(roads, mode="car")
    # the footway's blank car value: its class already keeps cars off it
    assert sorted(car.segment_source.tolist()) == [0, 1]
    foot = network_from_lines(roads, mode="foot")
    # a blank foot value: a residential street is walkable by its class
    assert sorted(foot.segment_source.tolist()) == [0, 2, 3]


def test_without_access_columns_the_classes_decide(make_lines) -> None:
    roads = make_lines(COORDS, highway=HIGHWAY)
    assert sorted(network_from_lines(roads, mode="car").segment_source.tolist()) == [0, 1, 3]
    assert sorted(network_from_lines(roads, mode="foot").segment_source.tolist()) == [0, 1, 2, 3]


def test_access_values_that_are_not_yes_or_no_are_named(make_lines) -> None:
    roads = make_lines(COORDS, highway=HIGHWAY, foot=["yes", "sidewalk", "yes", "yes"])
    with pytest.raises(NetworkError, match=r"'foot' column should say yes or no.*'sidewalk'"):
        network_from_lines(roads, mode="foot")
    # cars do not read the foot column
    assert network_from_lines(roads, mode="car").n_segments == 3


@pytest.mark.parametrize(
    ("name", "timezone"),
    [("liechtenstein-2013-08-03.osm.pbf", "Europe/Vaduz"), ("helsinki.osm.pbf", "Europe/Helsinki")],
)
def test_imported_extract_walks_more_streets_than_it_drives(
    name: str, timezone: str, tmp_path: Path, shared_data
) -> None:
    from gisapp.services.ingest import Source, import_into
    from gisapp.services.network import workspace_network
    from gisapp.store.geopackage import Workspace
    from layers.osm import read_osm_roads

    pbf = shared_data(name)
    ws_path = tmp_path / "city.gpkg"
    assert import_into(ws_path, [Source(pbf)], timezone=timezone).ok
    ws = Workspace.open(ws_path)
    car = workspace_network(ws, "car")
    foot = workspace_network(ws, "foot")

    assert foot.length_km > 2 * car.length_km
    walked = set(foot.segment_highway)
    assert {"footway", "steps"} <= walked
    assert not walked & {"motorway", "motorway_link"}
    assert not set(car.segment_highway) & {"footway", "path", "steps", "track"}

    # the car network is the one a drive-only import of the extract gives, edge for edge
    drive_only = network_from_lines(read_osm_roads(pbf, mode="drive"), mode="car")
    assert car.n_edges == drive_only.n_edges
    np.testing.assert_array_equal(car.edge_u, drive_only.edge_u)
    np.testing.assert_array_equal(car.edge_v, drive_only.edge_v)
    np.testing.assert_allclose(car.edge_travel_time_s, drive_only.edge_travel_time_s)
    np.testing.assert_allclose(car.node_x, drive_only.node_x)


@pytest.mark.slow
def test_foot_reach_runs_along_the_walkways(tmp_path: Path, shared_data) -> None:
    from gisapp.services.ingest import Source, import_into
    from gisapp.services.network import workspace_network
    from gisapp.services.reach import ReachOptions, compute_reach
    from gisapp.store.geopackage import Workspace

    pbf = shared_data("liechtenstein-2013-08-03.osm.pbf")
    ws_path = tmp_path / "li.gpkg"
    sources = [Source(pbf), Source.parse(f"stations={pbf}")]
    assert import_into(ws_path, sources, timezone="Europe/Vaduz").ok
    ws = Workspace.open(ws_path)
    on_foot = compute_reach(ws, ReachOptions(mode="foot", minutes=(5.0,)))
    by_car = compute_reach(ws, ReachOptions(mode="car", minutes=(5.0,)))
    assert on_foot.network_km == pytest.approx(workspace_network(ws, "foot").length_km)
    assert on_foot.network_km > 2 * by_car.network_km
