"""Offline folium maps: local assets only, escaping, simplification, aggregation."""

from __future__ import annotations

import re

import folium
import geopandas as gpd
import numpy as np
import pytest
import shapely

from gisapp.render import maps

HOSTILE = "<script>alert(1)</script>"


@pytest.fixture
def roads() -> gpd.GeoDataFrame:
    # a 20 x 20 street lattice, 100 m apart, in UTM 18N (New Haven), many vertices per line
    xs = np.linspace(0, 2000, 201)
    lines = [
        shapely.LineString(np.c_[xs + 670_000, np.full_like(xs, 4_575_000 + k * 100)])
        for k in range(20)
    ]
    lines += [
        shapely.LineString(np.c_[np.full_like(xs, 670_000 + k * 100), xs + 4_575_000])
        for k in range(20)
    ]
    return gpd.GeoDataFrame(
        {"highway": ["primary"] * 5 + ["residential"] * 35}, geometry=lines, crs=32618
    )


@pytest.fixture
def incidents() -> gpd.GeoDataFrame:
    rng = np.random.default_rng(7)
    xy = rng.uniform([670_000, 4_575_000], [672_000, 4_577_000], size=(40, 2))
    gdf = gpd.GeoDataFrame(
        {"id": [f"i{i}" for i in range(40)], "description": ["theft"] * 39 + [HOSTILE]},
        geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]),
        crs=32618,
    )
    return gdf.to_crs(4326)


def _bounds(gdf: gpd.GeoDataFrame) -> np.ndarray:
    return gdf.to_crs(4326).total_bounds


def test_base_map_loads_only_local_assets(roads: gpd.GeoDataFrame) -> None:
    m = maps.base_map(_bounds(roads), roads=roads, attribution="© OpenStreetMap contributors")
    page = maps.render_html(m)
    sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', page)
    assert sources == ["/static/vendor/leaflet/leaflet.js", "/static/vendor/leaflet/leaflet.css"]
    assert "jquery" not in page.lower() and "bootstrap" not in page.lower()
    assert "preferCanvas" in page and "tileLayer" not in page
    assert "OpenStreetMap contributors" in page
    assert "L.control.layers" in page


def test_base_roads_are_simplified_and_merged(roads: gpd.GeoDataFrame) -> None:
    m = maps.base_map(_bounds(roads), roads=roads, simplify_m=5)
    page = maps.render_html(m)
    # straight lines keep their two end points only: 40 lines x 201 vertices become ~80
    coords = re.findall(r"\[-72\.\d+, ?41\.\d+\]", page)
    assert 80 <= len(coords) <= 120
    assert page.count('"type": "Feature"') == 2  # one per road class (major, minor)


def test_user_text_is_escaped_everywhere(incidents: gpd.GeoDataFrame) -> None:
    m = maps.base_map(_bounds(incidents), attribution=HOSTILE)
    maps.add_points(
        m,
        incidents,
        name=HOSTILE,
        tooltip_fields={"description": HOSTILE},
        popup_fields={"description": "Description"},
    )
    maps.add_legend(m, HOSTILE, {HOSTILE: "red;background:url(x)"})
    page = maps.render_html(m)
    assert HOSTILE not in page
    assert "url(x)" not in page
    decoded = page.replace("\\u003c", "<").replace("\\u003e", ">").replace("\\u0026", "&")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in decoded


def test_points_cluster_then_aggregate(incidents: gpd.GeoDataFrame) -> None:
    m = maps.base_map(_bounds(incidents))
    maps.add_points(m, incidents, name="few")
    assert "markerClusterGroup" not in maps.render_html(m)

    m = maps.base_map(_bounds(incidents), assets_url="/assets")
    maps.add_points(m, incidents, name="clustered", cluster_above=10)
    page = maps.render_html(m)
    assert "markerClusterGroup" in page
    assert "/assets/leaflet.markercluster/leaflet.markercluster.js" in page

    cells = maps.aggregate_points(incidents, cell_m=1000)
    assert cells["count"].sum() == 40 and len(cells) <= 9
    m = maps.base_map(_bounds(incidents))
    maps.add_points(m, incidents, name="aggregated", aggregate_above=10, cell_m=1000)
    page = maps.render_html(m)
    assert page.count('"type": "Feature"') == len(cells)


def test_polygons_coloured_by_category_with_labels(roads: gpd.GeoDataFrame) -> None:
    cells = gpd.GeoDataFrame(
        {"id": ["A", "B", "C"], "team": ["t1", "t2", "t1"]},
        geometry=[shapely.box(i, 0, i + 1, 1) for i in range(3)],
        crs=4326,
    )
    m = maps.base_map(cells.total_bounds)
    maps.add_polygons(m, cells, name="Grids", color_by="team", label_field="id")
    page = maps.render_html(m)
    colours = maps.category_colors(cells["team"])
    assert colours == {"t1": maps.PALETTE[0], "t2": maps.PALETTE[1]}
    assert page.count(f'"fillColor": "{maps.PALETTE[0]}"') == 2
    assert '"id": "B"' in page and "gisapp-label" in page


def test_inline_assets_make_one_self_contained_file(roads: gpd.GeoDataFrame) -> None:
    m = maps.base_map(_bounds(roads), roads=roads)
    page = maps.render_html(m, inline_assets=True)
    assert "<script src=" not in page and 'rel="stylesheet"' not in page
    assert "Leaflet" in page  # the library's own header
    assert "url(data:image/png;base64," in page  # layer control icon from leaflet.css
    assert "images/layers.png" not in page


def test_bad_inputs_are_named() -> None:
    with pytest.raises(ValueError, match="'bounds'"):
        maps.base_map((1, 2, 3))
    with pytest.raises(TypeError, match="'gdf' should be a GeoDataFrame"):
        maps.add_points(maps.base_map((0, 0, 1, 1)), [1, 2], name="x")


def test_unit_colors_follow_sorted_ids_whatever_the_order() -> None:
    by_route = maps.unit_colors(["u3", "u1", "u2", "u1"])
    by_name = maps.unit_colors(["u1", "u2", "u3"])
    assert (
        by_route
        == by_name
        == {
            "u1": maps.PALETTE[0],
            "u2": maps.PALETTE[1],
            "u3": maps.PALETTE[2],
        }
    )
    many = maps.unit_colors(f"u{i:02d}" for i in range(12))
    assert many["u10"] == maps.PALETTE[0] and many["u11"] == maps.PALETTE[1]
    with pytest.raises(TypeError, match="'unit_ids'"):
        maps.unit_colors("u1")


def test_cluster_assets_follow_the_map_assets_url(incidents: gpd.GeoDataFrame) -> None:
    m = maps.base_map(_bounds(incidents), assets_url="/vendor/")
    maps.add_points(m, incidents, name="clustered", cluster_above=10)
    page = maps.render_html(m)
    sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', page)
    assert sources and all(s.startswith("/vendor/leaflet") for s in sources)
    assert "/vendor/leaflet.markercluster/leaflet.markercluster.js" in sources


def test_layer_slider_needs_one_label_per_group() -> None:
    m = maps.base_map((0, 0, 1, 1))
    groups = [folium.FeatureGroup(name=f"h{h}", show=h == 0, control=False) for h in range(3)]
    for group in groups:
        group.add_to(m)
    with pytest.raises(ValueError, match="'labels'"):
        maps.add_layer_slider(m, groups, ["0h"], title="Hour")
    maps.add_layer_slider(m, groups, [HOSTILE, "1h", "2h"], title="Hour")
    page = maps.render_html(m)
    assert "window.gisappSlider" in page and HOSTILE not in page


def test_incident_descriptions_show_escaped_on_the_layers_map(incidents: gpd.GeoDataFrame) -> None:
    from gisapp.render.layer_maps import layers_map

    grids = gpd.GeoDataFrame(
        {"id": ["g1"]}, geometry=[shapely.box(*incidents.total_bounds).buffer(0.001)], crs=4326
    )
    described = incidents.assign(
        category="theft", description=["电动车被盗，车棚无监控"] * 39 + [HOSTILE]
    )
    page = maps.render_html(layers_map(grids=grids, incidents=described))
    decoded = re.sub(r"\\u([0-9a-f]{4})", lambda u: chr(int(u.group(1), 16)), page)
    assert "电动车被盗，车棚无监控" in decoded
    assert HOSTILE not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in decoded
    assert "Description (简要案情)" in decoded
