"""The workspace on every store (``location``: a GeoPackage file and a PostGIS schema); the
tests about the GeoPackage file itself (a crash mid-save, damaged files) stay on it."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, box

from gisapp.errors import WorkspaceError
from gisapp.store import Workspace
from gisapp.store import geopackage as workspace_module


@pytest.fixture
def layers():
    stations = gpd.GeoDataFrame(
        {"id": ["s1"], "name": ["HQ"], "kind": ["station"]},
        geometry=[Point(-72.92, 41.30)],
        crs="EPSG:4326",
    )
    incidents = gpd.GeoDataFrame(
        {
            "id": ["1", "2"],
            "category": ["theft", "burglary"],
            # One time each side of the end of daylight saving time in New York.
            "occurred_at": pd.to_datetime(["2014-09-18 13:53", "2014-11-18 01:10"]).tz_localize(
                "America/New_York"
            ),
        },
        geometry=[Point(-72.93, 41.31), Point(-72.91, 41.30)],
        crs="EPSG:4326",
    )
    units = pd.DataFrame({"id": ["car-1"], "mode": ["car"], "station_id": ["s1"]})
    return {"stations": stations, "incidents": incidents, "units": units}


def test_create_open_round_trip(location, layers):
    ws = Workspace.create(
        location, layers, meta={"timezone": "America/New_York", "layer_notes": {"stations": "real"}}
    )
    assert ws.layer_names() == ["stations", "incidents", "units"]
    assert ws.timezone == "America/New_York"
    assert ws.layer_notes == {"stations": "real"}
    incidents = ws.layer("incidents")
    assert str(incidents["occurred_at"].dt.tz) == "America/New_York"
    assert incidents["occurred_at"].dt.strftime("%Y-%m-%d %H:%M %z").tolist() == [
        "2014-09-18 13:53 -0400",
        "2014-11-18 01:10 -0500",
    ]
    units = ws.layer("units")
    assert isinstance(units, pd.DataFrame) and not isinstance(units, gpd.GeoDataFrame)
    assert units["station_id"].tolist() == ["s1"]


def test_projected_layers_are_stored_in_4326(location, layers):
    projected = {"stations": layers["stations"].to_crs(32618)}
    ws = Workspace.create(location, projected)
    stored = ws.layer("stations")
    assert stored.crs.to_epsg() == 4326
    assert stored.geometry.iloc[0].distance(Point(-72.92, 41.30)) < 1e-9


def test_save_replaces_named_layers_and_keeps_others(location, layers):
    ws = Workspace.create(location, layers)
    more = layers["stations"].assign(id=["s2"], name=["Substation"])
    ws.save({"stations": more}, meta={"description": "updated"})
    reopened = Workspace.open(ws.location)
    assert reopened.layer("stations")["id"].tolist() == ["s2"]
    assert len(reopened.layer("incidents")) == 2
    assert reopened.meta["description"] == "updated"


def test_crash_mid_save_leaves_workspace_untouched(tmp_path, layers, monkeypatch):
    ws = Workspace.create(tmp_path / "ws.gpkg", layers)
    before = ws.path.read_bytes()

    def explode(con, image):
        raise OSError("disk full")

    monkeypatch.setattr(workspace_module, "replace_table", explode)
    with pytest.raises(OSError, match="disk full"):
        ws.save({"stations": layers["stations"]}, drop=["units"])
    assert ws.path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ws.gpkg"]  # no journal, no copy left
    assert len(Workspace.open(ws.path).layer("incidents")) == 2
    assert ws.layer_names() == ["stations", "incidents", "units"]


def test_save_sets_meta_keys_without_writing_back_stale_ones(location, layers):
    ws = Workspace.create(location, layers)
    other = Workspace.open(ws.location)
    other.save({}, meta={"description": "from elsewhere"})
    ws.save({}, meta={"plan_kpis": {"units_used": 2}})
    assert Workspace.open(ws.location).meta["description"] == "from elsewhere"
    assert ws.meta["description"] == "from elsewhere"  # the open workspace follows the file


def test_version_changes_after_every_save(location, layers):
    ws = Workspace.create(location, layers)
    seen = {ws.version}
    for i in range(5):
        ws.save({}, meta={"round": str(i)})
        seen.add(ws.version)
    assert len(seen) == 6


def test_rows_saved_by_key_replace_only_their_key(location, layers):
    ws = Workspace.create(location, layers)
    first = layers["stations"].assign(batch=["a"])
    ws.save({"stations": first}, keyed={"stations": ("batch", ["a"])})
    second = gpd.GeoDataFrame(
        {"id": ["s2", "s3"], "name": ["B", "C"], "kind": ["post", "post"], "batch": ["b", "b"]},
        geometry=[Point(-72.90, 41.31), Point(-72.89, 41.32)],
        crs="EPSG:4326",
    )
    ws.save({"stations": second}, keyed={"stations": ("batch", ["b"])})
    ws.save({"stations": second.iloc[:1]}, keyed={"stations": ("batch", ["b"])})
    stations = Workspace.open(ws.location).layer("stations")
    # The stored row without a batch stays; batch b now holds only s2.
    assert stations["id"].tolist() == ["s1", "s1", "s2"]
    assert stations["batch"].fillna("").tolist() == ["", "a", "b"]
    ws.save({"stations": first.assign(name=["HQ again"])}, keyed={"stations": ("batch", ["a"])})
    stations = Workspace.open(ws.location).layer("stations")
    assert stations["name"].tolist() == ["HQ", "B", "HQ again"]
    assert stations.total_bounds[0] == pytest.approx(-72.92)


def test_copy_and_download_are_whole_geopackages(location, tmp_path, layers):
    ws = Workspace.create(location, layers)
    copy = ws.copy_to(tmp_path / "copy.gpkg")
    assert copy.layer_names() == ws.layer_names()
    with ws.open_geopackage() as stream:
        data = stream.read()
    (tmp_path / "download.gpkg").write_bytes(data)
    assert len(Workspace.open(tmp_path / "download.gpkg").layer("incidents")) == 2
    here = {"copy.gpkg", "download.gpkg"} | ({"ws.gpkg"} if ws.backend.path else set())
    assert {p.name for p in tmp_path.iterdir()} == here


def test_dropped_layer_is_gone(location, layers):
    ws = Workspace.create(location, layers)
    ws.save({}, drop=["units"])
    assert Workspace.open(ws.location).layer_names() == ["stations", "incidents"]


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "does not exist"), (b"not a geopackage", "not a GeoPackage")],
)
def test_open_refuses_missing_or_foreign_files(tmp_path, content, message):
    path = tmp_path / "ws.gpkg"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(WorkspaceError, match=message):
        Workspace.open(path)


def test_open_refuses_truncated_geopackage(tmp_path, layers):
    ws = Workspace.create(tmp_path / "ws.gpkg", {"stations": layers["stations"]})
    data = ws.path.read_bytes()
    ws.path.write_bytes(data[: len(data) // 3])
    with pytest.raises(WorkspaceError, match="truncated or damaged"):
        Workspace.open(ws.path).layer("stations")


def test_missing_layer_message_names_the_fix(location, layers):
    ws = Workspace.create(location, {"stations": layers["stations"]})
    with pytest.raises(WorkspaceError, match=r"has no layer 'grids'.*gisapp import"):
        ws.layer("grids")
    assert list(ws.layer("grids", required=False).columns)[:2] == ["id", "community_id"]


def test_create_refuses_to_overwrite(location, layers):
    Workspace.create(location, layers)
    with pytest.raises(WorkspaceError, match=r"already exists|holds a workspace already"):
        Workspace.create(location, layers)


def test_box_polygon_layer(location):
    grids = gpd.GeoDataFrame(
        {"id": ["g1"], "community_id": ["c1"]}, geometry=[box(0, 0, 1, 1)], crs="EPSG:4326"
    )
    ws = Workspace.create(location, {"grids": grids})
    assert ws.layer("grids").geometry.iloc[0].equals(box(0, 0, 1, 1))


def test_a_layer_read_often_then_saved_with_other_columns_reads_again(location, layers):
    # A server may keep a statement read many times prepared; a layer saved again with
    # other columns must still read (not "cached plan must not change result type").
    ws = Workspace.create(location, layers)
    for _ in range(8):
        assert ws.layer("stations")["id"].tolist() == ["s1"]
    wider = layers["stations"].assign(capacity=[4], note=["东门"])
    ws.save({"stations": wider})
    again = Workspace.open(ws.location).layer("stations")
    assert again["note"].tolist() == ["东门"] and again["capacity"].tolist() == [4]
    # Rows saved by key keep the stored columns, as every store does.
    ws.save({"stations": layers["stations"]}, keyed={"stations": ("id", ["s1"])})
    stored = Workspace.open(ws.location).layer("stations")
    assert list(stored.columns) == ["id", "name", "kind", "capacity", "note", "geometry"]
    assert stored["note"].isna().all()
