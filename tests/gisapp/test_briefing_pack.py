"""The briefing pack officers follow: one stop numbering on the map, timetable and GPX,
readable stop names, and each unit's call sign, officer and phone.

The plan is made from a copy of the New Haven sample on both stores (a GeoPackage file and a
PostGIS schema, ``tests/conftest.py``)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from gisapp.outputs.gpx import GPX_NS, gpx_bytes
from gisapp.outputs.stops import numbered_stops
from gisapp.plans import Plan
from gisapp.render.briefing import (
    _stop_marks,
    briefing_page,
    contact_line,
    timetable_rows,
    unit_colors,
    unit_contacts,
)
from gisapp.services.network import workspace_network
from gisapp.services.plan import plan_shift
from gisapp.settings import parse_shift
from gisapp.store import Workspace
from routing.patrol.legs import stop_names

NIGHT = parse_shift("22:00-06:00")


@pytest.fixture(scope="module")
def ws(module_sample_location: str) -> Workspace:
    """The New Haven sample, once per store; the tests only read it."""
    return Workspace.open(module_sample_location)


@pytest.fixture(scope="module")
def plan(ws: Workspace) -> Plan:
    """The sample's night plan, two cars, kept small so it is quick."""
    import datetime as dt

    shift_plan = plan_shift(
        ws,
        shift=NIGHT,
        date=dt.date(2014, 9, 18),
        unit_ids=["car-1", "car-2"],
        seed=3,
        n_hotspots=15,
        search_budget=3_000,
    )
    return shift_plan.record


def test_gpx_waypoints_timetable_and_map_share_one_numbering(plan: Plan) -> None:
    colors = unit_colors(plan)
    for unit in plan.unit_ids:
        rows = timetable_rows(plan, unit)
        expected = [f"{r[0]} {r[2]}".strip() for r in rows]
        root = ET.fromstring(gpx_bytes(plan, unit))
        names = [w.findtext(f"{{{GPX_NS}}}name") for w in root.iter(f"{{{GPX_NS}}}wpt")]
        assert names == expected
        hotspot_numbers = [r[0] for r in rows if r[1] == "hotspot"]
        assert hotspot_numbers == [str(k) for k in range(1, len(hotspot_numbers) + 1)]
        assert [r[0] for r in rows if r[1] == "station"] == ["S"] * sum(
            r[1] == "station" for r in rows
        )
        # the unit's own map labels the same numbers at the same places
        marks = _stop_marks(plan.for_unit(unit), {unit: colors[unit]})
        labelled = [n for m in marks if not m["station"] for n in m["label"].split(",")]
        assert sorted(labelled, key=int) == hotspot_numbers
        assert any(m["station"] and m["label"] == "S" for m in marks)
        table = numbered_stops(plan, unit)
        for mark in (m for m in marks if not m["station"]):
            first = mark["label"].split(",")[0]
            row = table[table["number"] == first].iloc[0]
            assert (round(row["lon"], 5), round(row["lat"], 5)) == (
                round(mark["lon"], 5),
                round(mark["lat"], 5),
            )


def test_hotspot_stops_are_named_street_and_cross_street(plan: Plan) -> None:
    hot = plan.stops[plan.stops["kind"] == "hotspot"]
    assert len(hot)
    crossing = hot["name"].str.contains(" & ", regex=False)
    # nearly every stop lies near an intersection of the sample's streets
    assert crossing.mean() > 0.8
    for name in hot["name"][crossing]:
        main, cross = name.split(" & ", 1)
        assert main and cross and main != cross
    # the same stop, the same name everywhere: stops.csv, timetable and GPX
    for unit in plan.unit_ids:
        rows = timetable_rows(plan, unit)
        names = list(numbered_stops(plan, unit)["name"])
        assert [r[2] for r in rows] == names


def test_a_key_place_within_50_m_names_the_stop(ws: Workspace) -> None:
    net = workspace_network(ws, "car")
    # a node on a named street, so the stop has a street name when no place is near
    node = int(net.segment_u[next(i for i, n in enumerate(net.segment_name) if n)])
    x, y = float(net.node_x[node]), float(net.node_y[node])
    near = shapely.Point(x + 30, y)
    far = shapely.Point(x + 120, y)
    got = stop_names(net, [x, x], [y, y], places=[near], place_names=["Wilbur Cross High School"])
    assert got == ["Wilbur Cross High School"] * 2
    got = stop_names(net, [x], [y], places=[far], place_names=["Far Mall"])
    assert got[0] != "Far Mall" and got[0]
    polygon = shapely.Point(x + 60, y).buffer(20)  # its edge is 40 m away
    assert stop_names(net, [x], [y], places=[polygon], place_names=["Park"]) == ["Park"]


class _Layers:
    """A workspace answering only for its units and grids tables."""

    def __init__(self, layers: dict[str, pd.DataFrame]) -> None:
        self.layers = layers

    def has_layer(self, name: str) -> bool:
        return name in self.layers

    def layer(self, name: str) -> pd.DataFrame:
        return self.layers[name]


def test_contacts_come_from_units_then_grids_and_never_read_nan(plan: Plan) -> None:
    units = pd.DataFrame(
        {
            "id": ["car-1", "car-2"],
            "mode": ["car", "car"],
            "station_id": ["hq", "hq"],
            "Call_Sign": ["Alpha 1", float("nan")],
            "phone": [None, "nan"],
        }
    )
    grids = gpd.GeoDataFrame(
        {
            "id": ["g2", "g1", "g3"],
            "community_id": ["c", "c", "c"],
            "officer": ["Officer Wang", "Officer Li", float("nan")],
            "phone": ["555-0102", "555-0101", "555-0103"],
            "unit_id": ["car-1", "car-1", "car-2"],
        },
        geometry=[shapely.Point(0, 0)] * 3,
    )
    found = unit_contacts(plan, _Layers({"units": units, "grids": grids}))  # type: ignore[arg-type]
    assert found["car-1"] == {
        "call_sign": "Alpha 1",
        "officer": "Officer Li (+1 more in its grids)",
        "phone": "555-0101",
    }
    assert found["car-2"] == {}
    line = contact_line(found["car-1"])
    assert line == "Call sign Alpha 1 · Officer Officer Li (+1 more in its grids) · Phone 555-0101"
    assert "nan" not in contact_line(found["car-2"])


def test_the_pack_has_a_page_per_unit_with_its_map(plan: Plan, ws: Workspace) -> None:
    page = briefing_page(plan, ws=ws)
    assert page.count('class="folium-map"') == 1 + len(plan.unit_ids)
    assert page.count('class="map-box unit-map"') == len(plan.unit_ids)
    assert "nan" not in page.split("<body")[1].split("<script")[0].casefold().split()
    for unit in plan.unit_ids:
        assert f"Unit {unit} — timetable" in page
    # the sample's grids name each car's officer and phone
    assert "Officer Sample Officer" in page and "Phone 555-" in page


def test_break_rows_are_shown_in_the_timetable(plan: Plan) -> None:
    unit = plan.unit_ids[0]
    stops = plan.stops.copy()
    mine = stops[(stops["unit_id"] == unit) & (stops["kind"] == "hotspot")].index[0]
    pause: dict[str, Any] = stops.loc[mine].to_dict()
    pause.update(kind="break", name="Break (30 min) at HQ", seq=stops.loc[mine, "seq"])
    rows = pd.concat([stops, pd.DataFrame([pause])], ignore_index=True)
    with_break = Plan(**{**plan.__dict__, "stops": rows})
    table = timetable_rows(with_break, unit)
    assert any(r[1] == "break" and r[0] == "" and "Break" in r[2] for r in table)
    # a break takes no number: the hotspots keep 1, 2, 3…
    numbers = [r[0] for r in table if r[1] == "hotspot"]
    assert numbers == [str(k) for k in range(1, len(numbers) + 1)]
