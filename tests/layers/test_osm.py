"""Tests of layers.osm on a tiny hand-written OSM XML file and on the real extracts."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from layers.errors import LayerError
from layers.io import read_layer
from layers.osm import (
    OSM_ATTRIBUTION,
    parse_maxspeed_kph,
    read_osm_boundaries,
    read_osm_key_places,
    read_osm_pois,
    read_osm_roads,
    read_osm_stations,
)
from layers.schema import LAYERS

# A T junction (node 2) on a two-way street, a reversed one-way street, a footway, a parking
# aisle, a footway (66) meeting the one-way street mid-way (node 4), a square school ground
# (way 50) with a police node and an unnamed supermarket, and a chain of ways (60-65) that
# test foot access: motorway, trunk with foot=yes, cycleway, cycleway with
# foot=designated, private service way with foot=yes, footway with foot=no.
TINY_OSM = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6">
  <node id="1" lat="47.0000" lon="9.5000" version="1"/>
  <node id="2" lat="47.0000" lon="9.5010" version="1"/>
  <node id="3" lat="47.0000" lon="9.5020" version="1"/>
  <node id="4" lat="47.0010" lon="9.5010" version="1"/>
  <node id="5" lat="47.0020" lon="9.5010" version="1"/>
  <node id="6" lat="46.9990" lon="9.5000" version="1"/>
  <node id="11" lat="47.0100" lon="9.5100" version="1"/>
  <node id="12" lat="47.0100" lon="9.5110" version="1"/>
  <node id="13" lat="47.0110" lon="9.5110" version="1"/>
  <node id="14" lat="47.0110" lon="9.5100" version="1"/>
  <node id="20" lat="47.0050" lon="9.5050" version="1">
    <tag k="amenity" v="police"/><tag k="name" v="Landespolizei"/>
  </node>
  <node id="21" lat="47.0060" lon="9.5060" version="1">
    <tag k="shop" v="supermarket"/>
  </node>
  <node id="30" lat="47.0200" lon="9.5000" version="1"/>
  <node id="31" lat="47.0200" lon="9.5010" version="1"/>
  <node id="32" lat="47.0200" lon="9.5020" version="1"/>
  <node id="33" lat="47.0200" lon="9.5030" version="1"/>
  <node id="34" lat="47.0200" lon="9.5040" version="1"/>
  <node id="35" lat="47.0200" lon="9.5050" version="1"/>
  <node id="36" lat="47.0200" lon="9.5060" version="1"/>
  <node id="37" lat="47.0010" lon="9.5030" version="1"/>
  <way id="10" version="1">
    <nd ref="1"/><nd ref="2"/><nd ref="3"/>
    <tag k="highway" v="residential"/><tag k="name" v="Hauptstrasse"/>
    <tag k="maxspeed" v="30 mph"/>
  </way>
  <way id="20" version="1">
    <nd ref="5"/><nd ref="4"/><nd ref="2"/>
    <tag k="highway" v="tertiary"/><tag k="oneway" v="-1"/><tag k="maxspeed" v="CH:urban"/>
  </way>
  <way id="30" version="1">
    <nd ref="1"/><nd ref="6"/>
    <tag k="highway" v="footway"/>
  </way>
  <way id="40" version="1">
    <nd ref="6"/><nd ref="3"/>
    <tag k="highway" v="service"/><tag k="service" v="parking_aisle"/>
  </way>
  <way id="50" version="1">
    <nd ref="11"/><nd ref="12"/><nd ref="13"/><nd ref="14"/><nd ref="11"/>
    <tag k="amenity" v="school"/><tag k="name" v="Primarschule"/>
    <tag k="boundary" v="administrative"/><tag k="admin_level" v="8"/>
  </way>
  <way id="60" version="1">
    <nd ref="30"/><nd ref="31"/><tag k="highway" v="motorway"/>
  </way>
  <way id="61" version="1">
    <nd ref="31"/><nd ref="32"/><tag k="highway" v="trunk"/><tag k="foot" v="yes"/>
  </way>
  <way id="62" version="1">
    <nd ref="32"/><nd ref="33"/><tag k="highway" v="cycleway"/>
  </way>
  <way id="63" version="1">
    <nd ref="33"/><nd ref="34"/><tag k="highway" v="cycleway"/><tag k="foot" v="designated"/>
  </way>
  <way id="64" version="1">
    <nd ref="34"/><nd ref="35"/><tag k="highway" v="service"/>
    <tag k="access" v="private"/><tag k="foot" v="yes"/>
  </way>
  <way id="65" version="1">
    <nd ref="35"/><nd ref="36"/><tag k="highway" v="footway"/><tag k="foot" v="no"/>
  </way>
  <way id="66" version="1">
    <nd ref="4"/><nd ref="37"/><tag k="highway" v="footway"/><tag k="name" v="Schulweg"/>
  </way>
</osm>
"""


@pytest.fixture
def tiny_osm(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.osm"
    path.write_text(TINY_OSM, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("50", 50.0),
        ("30 mph", 48.28032),
        ("CH:urban", 50.0),
        ("CH:motorway", 120.0),
        ("50;70", 60.0),
        ("20 km/h", 20.0),
        ("walk", 5.0),
        ("none", math.nan),
        ("signals", math.nan),
        (None, math.nan),
    ],
)
def test_parse_maxspeed_kph(value: str | None, expected: float) -> None:
    result = parse_maxspeed_kph(value)
    if math.isnan(expected):
        assert math.isnan(result)
    else:
        assert result == pytest.approx(expected)


def test_drive_roads_are_split_at_junctions_and_reversed_when_oneway_minus_one(
    tiny_osm: Path,
) -> None:
    roads = read_osm_roads(tiny_osm)
    assert roads.crs == "EPSG:4326"
    assert list(roads.columns) == [
        "osm_id",
        "name",
        "highway",
        "oneway",
        "maxspeed_kph",
        "car",
        "foot",
        "geometry",
    ]
    # way 10 splits at node 2 (the junction); footways, the parking aisle, the cycleways and
    # the private service way are not drivable; the footway at node 4 does not split way 20
    assert roads["osm_id"].tolist() == [10, 10, 20, 60, 61]
    assert roads["oneway"].tolist() == [False, False, True, False, False]
    assert roads["maxspeed_kph"].round(2).tolist()[:3] == [48.28, 48.28, 50.0]
    assert roads["car"].all()
    assert roads["foot"].tolist() == [True, True, True, False, True]
    # oneway=-1: the stored geometry runs against the drawing order, from node 2 to node 5
    assert list(roads.geometry.iloc[2].coords) == [(9.501, 47.0), (9.501, 47.001), (9.501, 47.002)]
    assert roads.attrs["attribution"] == OSM_ATTRIBUTION


def test_walk_roads_follow_foot_access_and_ignore_oneway(tiny_osm: Path) -> None:
    roads = read_osm_roads(tiny_osm, mode="walk")
    assert sorted(roads["osm_id"].unique()) == [10, 20, 30, 40, 61, 63, 64, 66]
    assert sorted(roads["highway"].unique()) == [
        "cycleway",
        "footway",
        "residential",
        "service",
        "tertiary",
        "trunk",
    ]
    assert "motorway" not in set(roads["highway"])
    assert roads["foot"].all()
    assert roads.loc[roads["osm_id"].isin([40, 63, 64, 66]), "car"].sum() == 0
    assert not roads["oneway"].any()
    # the footway meeting way 20 at node 4 splits it there
    assert roads["osm_id"].tolist().count(20) == 2


def test_all_roads_keep_the_drive_segments_and_add_the_walkways(tiny_osm: Path) -> None:
    drive = read_osm_roads(tiny_osm, mode="drive")
    every = read_osm_roads(tiny_osm, mode="all")
    driven = every[every["car"]].reset_index(drop=True)
    assert driven.geometry.geom_equals_exact(drive.geometry, 0.0).all()
    assert driven.drop(columns="geometry").equals(drive.drop(columns="geometry"))
    walked = set(every.loc[every["foot"], "osm_id"])
    assert walked == set(read_osm_roads(tiny_osm, mode="walk")["osm_id"])
    assert set(every["osm_id"]) == walked | set(drive["osm_id"])


def test_key_places_and_stations_from_tags(tiny_osm: Path) -> None:
    places = read_osm_key_places(tiny_osm)
    assert places[["id", "name", "kind", "osm_tag"]].values.tolist() == [
        ["n20", "Landespolizei", "police", "amenity=police"],
        ["n21", "mall n21", "mall", "shop=supermarket"],
        ["w50", "Primarschule", "school", "amenity=school"],
    ]
    assert (places.geom_type == "Point").all()
    assert places.attrs["attribution"] == OSM_ATTRIBUTION
    stations = read_osm_stations(tiny_osm)
    assert stations[["id", "name", "kind"]].values.tolist() == [["n20", "Landespolizei", "police"]]
    # the schema's required fields are all there
    for layer, frame in (("key_places", places), ("stations", stations)):
        assert set(LAYERS[layer].required) <= set(frame.columns)


def test_pois_read_nodes_and_areas_as_points(tiny_osm: Path) -> None:
    pois = read_osm_pois(tiny_osm, {"amenity": ["school", "police"]})
    assert pois[["osm_type", "osm_id", "value", "name"]].values.tolist() == [
        ["node", 20, "police", "Landespolizei"],
        ["way", 50, "school", "Primarschule"],
    ]
    school = pois.geometry.iloc[1]
    assert 9.510 < school.x < 9.511 and 47.010 < school.y < 47.011
    assert len(read_osm_pois(tiny_osm, {"amenity": []})) == 2
    assert read_osm_pois(tiny_osm, {"shop": ["bakery"]}).empty


def test_boundaries_from_a_named_closed_way(tiny_osm: Path) -> None:
    boundaries = read_osm_boundaries(tiny_osm)
    assert boundaries[["osm_type", "osm_id", "name", "ref"]].values.tolist() == [
        ["way", 50, "Primarschule", "w50"]
    ]
    assert boundaries.geometry.iloc[0].is_valid
    assert read_osm_boundaries(tiny_osm, admin_level=6).empty


def test_missing_and_corrupt_files_raise_layer_error(tmp_path: Path) -> None:
    with pytest.raises(LayerError, match="does not exist"):
        read_osm_roads(tmp_path / "nope.osm.pbf")
    broken = tmp_path / "broken.osm.pbf"
    broken.write_bytes(b"\x00\x00\x00\x0dnot a pbf at all")
    with pytest.raises(LayerError, match="cannot read OSM file"):
        read_osm_roads(broken)
    with pytest.raises(LayerError, match="mode='fly' is not a road mode"):
        read_osm_roads(broken, mode="fly")  # type: ignore[arg-type]
    with pytest.raises(LayerError, match="selects nothing"):
        read_osm_pois(broken, {})


def test_liechtenstein_counts(shared_data) -> None:
    liechtenstein = shared_data("liechtenstein-2013-08-03.osm.pbf")
    drive = read_osm_roads(liechtenstein)
    assert len(drive) == 2728
    assert drive["osm_id"].nunique() == 1467
    assert int(drive["oneway"].sum()) == 91
    assert sum(len(line.coords) - 1 for line in drive.geometry) == 11729
    walk = read_osm_roads(liechtenstein, mode="walk")
    assert len(walk) == 5175
    assert sum(len(line.coords) - 1 for line in walk.geometry) == 29028
    every = read_osm_roads(liechtenstein, mode="all")
    # the same drive segments, and every walkable way once (drive ways not cut at footways)
    assert int(every["car"].sum()) == 2728
    assert int(every["foot"].sum()) == len(every) == 4633
    assert sum(len(line.coords) - 1 for line in every.geometry) == 29028

    boundaries = read_osm_boundaries(liechtenstein)
    assert len(boundaries) == 11
    assert "Vaduz" in set(boundaries["name"])
    assert boundaries.is_valid.all()
    # The 11 municipalities make up the country: about 160 km².
    area_km2 = boundaries.to_crs(boundaries.estimate_utm_crs()).area.sum() / 1e6
    assert 155 < area_km2 < 165

    pois = read_osm_pois(
        liechtenstein, {"amenity": ["school", "kindergarten", "police", "hospital"]}
    )
    assert pois["value"].value_counts().to_dict() == {
        "school": 16,
        "kindergarten": 6,
        "police": 1,
        "hospital": 1,
    }
    places = read_osm_key_places(liechtenstein)
    # 16 schools, 1 college and 4 university buildings are schools; supermarkets are malls
    assert places["kind"].value_counts().to_dict() == {
        "school": 21,
        "mall": 11,
        "kindergarten": 6,
        "bank": 3,
        "hospital": 1,
        "police": 1,
    }
    assert (places.geom_type == "Point").all()
    assert places["id"].is_unique


def test_helsinki_counts(shared_data) -> None:
    helsinki = shared_data("helsinki.osm.pbf")
    drive = read_osm_roads(helsinki)
    assert len(drive) == 949
    assert int(drive["oneway"].sum()) == 471
    assert len(read_osm_roads(helsinki, mode="walk")) == 3827
    places = read_osm_key_places(helsinki)
    assert places["kind"].value_counts().to_dict() == {
        "bank": 17,
        "mall": 11,
        "school": 9,
        "hospital": 3,
    }
    assert read_osm_stations(helsinki).empty
    assert len(read_osm_pois(helsinki, {"amenity": []})) == 1079
    # Helsinki's city boundary crosses the edge of this extract: nothing to assemble.
    assert read_osm_boundaries(helsinki).empty


def test_osm_extract_imported_as_key_places_and_stations(tmp_path: Path, shared_data) -> None:
    from gisapp.services.ingest import Source, import_into
    from gisapp.store.geopackage import Workspace

    pbf = shared_data("liechtenstein-2013-08-03.osm.pbf")
    assert read_layer(pbf, layer="places")["kind"].value_counts()["school"] == 21
    ws_path = tmp_path / "li.gpkg"
    result = import_into(
        ws_path,
        [Source.parse(f"key_places={pbf}"), Source.parse(f"stations={pbf}")],
        timezone="Europe/Vaduz",
    )
    assert result.ok, [p.message for p in result.problems]
    ws = Workspace.open(ws_path)
    places = ws.layer("key_places")
    # before, an extract given as key places came in as its admin boundaries
    assert len(places) == 43
    assert set(places.geom_type) == {"Point"}
    assert {"school", "kindergarten", "hospital"} <= set(places["kind"])
    assert "Primarschule Triesenberg" in set(places["name"])
    stations = ws.layer("stations")
    assert stations[["kind"]].values.tolist() == [["police"]]
    assert set(stations.geom_type) == {"Point"}
    assert "OpenStreetMap" in ws.layer_notes["key_places"]
    assert "OpenStreetMap" in ws.layer_notes["stations"]
