"""Offline folium maps: local assets only, escaping, simplification, aggregation."""

from __future__ import annotations

import base64
import re
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pytest
import shapely

from gisapp.render import maps
from gisapp.render.browser import CHROMIUM_ARGS, CHROMIUM_PATH

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


# -- whole-city layers ------------------------------------------------------------------------


def _varints(packed: str) -> list[int]:
    """The integers of a base64 zigzag varint stream, decoded as the map's script does."""
    values, value, shift = [], 0, 0
    for byte in base64.b64decode(packed):
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            values.append((value >> 1) ^ -(value & 1))
            value, shift = 0, 0
    return values


def _city_layers(page_or_map: folium.Map, kind: type) -> list[Any]:
    return [c for c in page_or_map._children.values() if isinstance(c, kind)]


def test_varints_round_trip_both_signs_and_large_steps() -> None:
    from gisapp.render.layer_maps import _varints_base64

    values = np.array([0, 1, -1, 63, -64, 64, 300, -300, 2**20, -(2**31), 2**40], dtype=np.int64)
    assert _varints(_varints_base64(values)) == values.tolist()
    assert _varints(_varints_base64(np.array([], dtype=np.int64))) == []


def test_city_roads_keep_every_street(roads: gpd.GeoDataFrame) -> None:
    from gisapp.render.elements import CityLines
    from gisapp.render.layer_maps import add_city_roads

    m = maps.base_map(_bounds(roads))
    add_city_roads(m, roads, simplify_m=5)
    (layer,) = _city_layers(m, CityLines)
    data = layer.layer_options["data"]
    ox, oy = data["origin"]
    decoded: list[shapely.LineString] = []
    for road_class in data["classes"]:
        stream, k, x, y = _varints(road_class["lines"]), 0, 0, 0
        while k < len(stream):
            n, k = stream[k], k + 1
            xy = []
            for _ in range(n):
                x, y, k = x + stream[k], y + stream[k + 1], k + 2
                xy.append((ox + x, oy + y))
            decoded.append(shapely.LineString(xy))
    # one minor and one major class; the 40 straight streets keep their two end points each
    assert [c["style"]["weight"] for c in data["classes"]] == [1.0, 2.6]
    assert len(decoded) == 40 and all(len(line.coords) == 2 for line in decoded)
    drawn = gpd.GeoSeries(decoded, crs=3857).to_crs(roads.crs)
    assert drawn.length.sum() == pytest.approx(roads.length.sum(), rel=1e-3)
    # within 2 m of a street, and every street drawn
    assert roads.geometry.union_all().buffer(2.0).contains(drawn.union_all())
    assert drawn.union_all().buffer(2.0).contains(roads.geometry.union_all())


def test_city_cells_count_every_incident_in_its_cell(incidents: gpd.GeoDataFrame) -> None:
    from gisapp.render.elements import CityCells
    from gisapp.render.layer_maps import add_city_cells, city_cell_counts

    xy, counts, origin, cell = city_cell_counts(incidents, cell_m=500)
    assert counts.sum() == len(incidents)
    # the side is 500 m on the ground: Mercator metres stretched by 1 / cos(latitude)
    lat = np.radians(incidents.total_bounds[[1, 3]].mean())
    assert cell * np.cos(lat) == pytest.approx(500)
    merc = shapely.get_coordinates(incidents.to_crs(3857).geometry.to_numpy())
    own = np.floor((merc - origin) / cell).astype(np.int64)
    cells, expected = np.unique(own, axis=0, return_counts=True)
    assert {tuple(c): int(n) for c, n in zip(cells, expected, strict=True)} == {
        tuple(c): int(n) for c, n in zip(xy, counts, strict=True)
    }

    m = maps.base_map(_bounds(incidents))
    add_city_cells(m, incidents, name=HOSTILE, cell_m=500)
    (layer,) = _city_layers(m, CityCells)
    stream, i, j, decoded = _varints(layer.layer_options["data"]["cells"]), 0, 0, []
    for step_i, step_j, count in zip(stream[::3], stream[1::3], stream[2::3], strict=True):
        j += step_j
        i = step_i if step_j else i + step_i
        decoded.append((i, j, count))
    assert decoded == [(int(a), int(b), int(n)) for (a, b), n in zip(xy, counts, strict=True)]
    page = maps.render_html(m)
    assert HOSTILE not in page and "Count" in page


def test_layers_map_draws_a_city_on_canvas_layers(
    roads: gpd.GeoDataFrame, incidents: gpd.GeoDataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gisapp.render import layer_maps

    small = layer_maps.layers_map(roads=roads, incidents=incidents, attribution="© OSM")
    assert "gisappCity" not in maps.render_html(small)

    monkeypatch.setattr(layer_maps, "CITY_ROADS_ABOVE", 10)
    monkeypatch.setattr(layer_maps, "CITY_POINTS_ABOVE", 10)
    m = layer_maps.layers_map(
        roads=roads,
        incidents=incidents,
        attribution="© OpenStreetMap contributors",
        incidents_name="Incidents (generated)",
    )
    page = maps.render_html(m)
    assert page.count("window.gisappCity.lines(") == 1
    assert page.count("window.gisappCity.cells(") == 1
    assert "L.geoJson" not in page and "markerClusterGroup" not in page
    # the layer control and the attribution name them as before
    assert '"Streets"' in page and '"Incidents (generated)"' in page
    assert "OpenStreetMap contributors" in page
    sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', page)
    assert all(s.startswith("/static/vendor/") for s in sources)


_CITY_STATE_JS = """(centres) => {
  const map = window[document.querySelector('.folium-map').id];
  const layers = [];
  map.eachLayer(l => { if (l.gisappDrawn) { layers.push(l); } });
  const cells = layers.find(l => typeof l.count === 'function');
  const inked = layers.map(l => {
    const c = l._container, px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < px.length; i += 4) { if (px[i]) { n += 1; } }
    return n;
  });
  return {zoom: map.getZoom(), inked: inked,
          counts: centres.map(ll => cells.count(L.latLng(ll[0], ll[1])))};
}"""


_CITY_DRAWN_JS = """() => {
  const el = document.querySelector('.folium-map'), map = el && window[el.id];
  let drawn = 0;
  if (map) { map.eachLayer(l => { if (l.gisappDrawn) { drawn += 1; } }); }
  return drawn === 2;
}"""


#: One zoom step in (without animation); the zoom the map is at then, and whether it was
#: still animating a zoom when asked (Leaflet then ignores the step).
_ZOOM_IN_JS = """() => {
  const map = window[document.querySelector('.folium-map').id];
  const animating = Boolean(map._animatingZoom);
  map.setZoom(map.getZoom() + 1, {animate: false});
  return {zoom: map.getZoom(), animating: animating};
}"""


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM_PATH.exists(), reason=f"{CHROMIUM_PATH} is not installed")
def test_city_layers_draw_and_count_in_chromium(
    roads: gpd.GeoDataFrame, incidents: gpd.GeoDataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright import sync_api

    from gisapp.render import layer_maps

    monkeypatch.setattr(layer_maps, "CITY_ROADS_ABOVE", 10)
    monkeypatch.setattr(layer_maps, "CITY_POINTS_ABOVE", 10)
    m = layer_maps.layers_map(roads=roads, incidents=incidents)
    page_html = maps.render_html(m, inline_assets=True)
    xy, counts, origin, cell = layer_maps.city_cell_counts(incidents)
    centres = gpd.GeoSeries(gpd.points_from_xy(*((xy + 0.5) * cell + origin).T), crs=3857).to_crs(
        4326
    )
    latlons = [[p.y, p.x] for p in centres]
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM_PATH), args=list(CHROMIUM_ARGS))
        try:
            page = browser.new_context(offline=True).new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.set_content(page_html, wait_until="load")
            page.wait_for_function(_CITY_DRAWN_JS)
            before = page.evaluate(_CITY_STATE_JS, latlons)
            # the map opened at rest at its fitted view: the reader's first step is taken
            step = page.evaluate(_ZOOM_IN_JS)
            after = page.evaluate(_CITY_STATE_JS, latlons)
        finally:
            browser.close()
    assert errors == []
    # every cell answers its own count where it is drawn, at any zoom
    assert before["counts"] == after["counts"] == counts.tolist()
    assert sum(before["counts"]) == len(incidents)
    assert step == {"zoom": before["zoom"] + 1, "animating": False}
    assert after["zoom"] == before["zoom"] + 1
    assert all(n > 0 for n in before["inked"] + after["inked"])
