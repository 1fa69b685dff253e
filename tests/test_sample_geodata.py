"""The bundled sample workspaces hold what sample_geodata/SOURCES.md says they hold."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest

SAMPLES = Path(__file__).resolve().parents[1] / "sample_geodata"
NEW_HAVEN = SAMPLES / "new_haven.gpkg"
LIECHTENSTEIN = SAMPLES / "liechtenstein.gpkg"


def read(path: Path, layer: str) -> gpd.GeoDataFrame:
    return gpd.read_file(path, layer=layer)


def meta(path: Path) -> dict[str, str]:
    table = pyogrio.read_dataframe(path, layer="gisapp_meta")
    return dict(zip(table["key"], table["value"], strict=True))


def assert_clean_nesting(path: Path) -> None:
    subdistricts = read(path, "subdistricts")
    communities = read(path, "communities")
    grids = read(path, "grids")
    for layer in (subdistricts, communities, grids):
        assert layer.crs == "EPSG:4326"
        assert layer.is_valid.all()
        assert layer["id"].is_unique
    assert communities["subdistrict_id"].isin(subdistricts["id"]).all()
    assert grids["community_id"].isin(communities["id"]).all()
    crs = subdistricts.estimate_utm_crs()
    parents = communities.to_crs(crs).set_index("id").geometry
    children = grids.to_crs(crs)
    outside = gpd.GeoSeries(
        children.geometry.values.difference(parents.loc[children["community_id"]].values)
    ).area.to_numpy()
    assert (outside / children.area.to_numpy()).max() < 1e-4
    parents = subdistricts.to_crs(crs).set_index("id").geometry
    children = communities.to_crs(crs)
    outside = gpd.GeoSeries(
        children.geometry.values.difference(parents.loc[children["subdistrict_id"]].values)
    ).area.to_numpy()
    assert (outside / children.area.to_numpy()).max() < 1e-4


def test_new_haven_sample() -> None:
    info = meta(NEW_HAVEN)
    assert info["timezone"] == "America/New_York"
    notes = json.loads(info["layer_notes"])
    assert notes["incidents"].startswith("real")
    assert notes["grids"].startswith("derived")

    incidents = read(NEW_HAVEN, "incidents")
    assert len(incidents) == 3293
    assert incidents["id"].is_unique
    local = incidents["occurred_at"].dt.tz_convert("America/New_York")
    assert local.min() == pd.Timestamp("2014-09-01 00:42", tz="America/New_York")
    assert local.max() == pd.Timestamp("2014-09-30 22:44", tz="America/New_York")
    assert incidents["category"].nunique() == 147
    assert int(incidents["preventable"].sum()) == 745
    assert incidents["group"].value_counts()[["burglary", "robbery"]].tolist() == [83, 37]

    assert len(read(NEW_HAVEN, "roads")) == 5011
    assert len(read(NEW_HAVEN, "subdistricts")) == 6
    communities = read(NEW_HAVEN, "communities")
    assert len(communities) == 30
    assert (communities["households"] > 0).all()
    grids = read(NEW_HAVEN, "grids")
    assert 100 <= len(grids) <= 300
    # Contiguous by construction: every polygon is one part.
    assert (grids.geometry.geom_type == "Polygon").all()
    assert_clean_nesting(NEW_HAVEN)

    stations = read(NEW_HAVEN, "stations")
    hq = stations.geometry.iloc[0]
    assert (round(hq.x, 4), round(hq.y, 4)) == (-72.9259, 41.2989)
    units = pyogrio.read_dataframe(NEW_HAVEN, layer="units")
    assert units["mode"].value_counts().to_dict() == {"car": 4, "ebike": 3, "foot": 2}
    assert set(grids["unit_id"]) <= set(units["id"])
    assert set(",".join(units["grid_ids"]).split(",")) == set(grids["id"])
    assert "key_places" not in {name for name, _ in pyogrio.list_layers(NEW_HAVEN)}


def test_liechtenstein_sample() -> None:
    info = meta(LIECHTENSTEIN)
    assert info["timezone"] == "Europe/Vaduz"
    assert "OpenStreetMap contributors" in info["attribution"]
    assert json.loads(info["layer_notes"])["incidents"].startswith("generated")

    subdistricts = read(LIECHTENSTEIN, "subdistricts")
    assert len(subdistricts) == 11
    assert "Vaduz" in set(subdistricts["name"])
    assert_clean_nesting(LIECHTENSTEIN)

    incidents = read(LIECHTENSTEIN, "incidents")
    assert len(incidents) == 2000
    assert incidents["is_generated"].all()
    local = incidents["occurred_at"].dt.tz_convert("Europe/Vaduz")
    assert local.min() >= pd.Timestamp("2013-07-06", tz="Europe/Vaduz")
    assert local.max() < pd.Timestamp("2013-08-03", tz="Europe/Vaduz")
    # Generated near buildings, so inside the country.
    country = subdistricts.to_crs(subdistricts.estimate_utm_crs()).union_all().buffer(50)
    assert incidents.to_crs(subdistricts.estimate_utm_crs()).within(country).mean() > 0.99

    key_places = read(LIECHTENSTEIN, "key_places")
    assert key_places["kind"].value_counts().to_dict() == {
        "school": 16,
        "kindergarten": 6,
        "hospital": 1,
    }
    assert len(read(LIECHTENSTEIN, "stations")) == 1
    assert len(read(LIECHTENSTEIN, "prevention_zones")) == 22
    roads = read(LIECHTENSTEIN, "roads")
    assert len(roads) == 2728
    assert int(roads["oneway"].sum()) == 91


@pytest.mark.parametrize("path", [NEW_HAVEN, LIECHTENSTEIN])
def test_samples_are_small(path: Path) -> None:
    assert path.stat().st_size < 5_000_000
