"""The cartographic style of every map: unit colours apart from warnings, a fixed drawing
order with stations on top, hatched blind zones, street names, and blind zones ranked by risk
and named after their street and grid."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely import LineString, Point, box
from shapely.affinity import translate

from gisapp.render import colors, maps
from gisapp.render.area_maps import add_blind_zones, blind_zones_page, ranked_blind_zones
from gisapp.render.browser import CHROMIUM_ARGS, CHROMIUM_PATH
from gisapp.render.street_labels import street_labels
from gisapp.services.analytics import WARNING_COLORS
from gisapp.services.coverage import compute_coverage
from gisapp.store.geopackage import Workspace

METRIC = "EPSG:32618"
X0, Y0 = 672_000.0, 4_575_000.0
WARNINGS = {**WARNING_COLORS, "blind zone": colors.BLIND_COLOR}


# -- colours -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lab1", "lab2", "expected"),
    [
        # Sharma, Wu and Dalal (2005), the CIEDE2000 test data, pairs 1, 7, 17 and 34
        ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
        ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
        ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
        ((2.0776, 0.0795, -1.135), (0.9033, -0.0636, -0.5514), 0.9082),
    ],
)
def test_ciede2000_matches_the_published_test_data(lab1, lab2, expected) -> None:
    assert colors.delta_e_2000(lab1, lab2) == pytest.approx(expected, abs=1e-4)
    assert colors.delta_e_2000(lab2, lab1) == pytest.approx(expected, abs=1e-4)


def test_every_unit_colour_is_far_from_every_warning_colour() -> None:
    styles = colors.unit_styles(f"car-{i:03d}" for i in range(150))
    distances = {
        (unit, level): colors.delta_e_2000(style.color, warning)
        for unit, style in styles.items()
        for level, warning in WARNINGS.items()
    }
    closest = min(distances, key=distances.__getitem__)
    assert distances[closest] >= colors.MIN_WARNING_DISTANCE >= 20, closest
    # the clash this rules out: on the old printed briefing, blind zones showed as
    # (233, 72, 73) and car-4 as (222, 82, 83), under 20 apart
    assert colors.delta_e_2000("#e94849", "#de5253") < colors.MIN_WARNING_DISTANCE


def test_consecutive_unit_colours_differ_and_styles_do_not_repeat() -> None:
    palette = colors.PALETTE
    for a, b in zip(palette, palette[1:] + palette[:1], strict=True):
        assert colors.delta_e_2000(a, b) >= colors.MIN_CONSECUTIVE_DISTANCE, (a, b)
    assert min(colors.delta_e_2000(a, b) for a, b in itertools.combinations(palette, 2)) >= 14
    styles = list(colors.unit_styles(f"u{i:03d}" for i in range(120)).values())
    assert len({(s.color, s.dash) for s in styles}) == 120
    assert styles[10].color == styles[0].color and styles[10].dash != styles[0].dash
    assert styles[40].color != styles[0].color  # past the dashes, the lightness moves


def test_lab_round_trip() -> None:
    for color in (*colors.PALETTE, "#000000", "#ffffff"):
        assert colors.lab_to_hex(colors.hex_to_lab(color)) == color
    with pytest.raises(ValueError, match="'color'"):
        colors.hex_to_lab("red")


# -- drawing order, hatching, street names -----------------------------------------------------


def metric(geoms: list, **columns: list) -> gpd.GeoDataFrame:
    moved = [translate(g, xoff=X0, yoff=Y0) for g in geoms]
    return gpd.GeoDataFrame(dict(columns), geometry=moved, crs=METRIC).to_crs("EPSG:4326")


def _pane_of(page: str, layer_name: str) -> str:
    """The pane of the GeoJSON layer drawn right after the feature group ``layer_name``."""
    control = re.search(r"overlays\s*:\s*\{(.*?)\}", page, flags=re.S)
    assert control is not None
    var = re.search(re.escape(json.dumps(layer_name)) + r"\s*:\s*(feature_group_\w+)", control[1])
    assert var is not None, layer_name
    added = re.search(r"(geo_json_\w+)\.addTo\(" + var[1] + r"\)", page)
    assert added is not None
    options = re.search(r"var " + added[1] + r" = L\.geoJson\(null, \{(.*?)\}\);", page, re.S)
    assert options is not None
    pane = re.search(r'"pane": "([\w-]+)"', options[1])
    assert pane is not None
    return pane[1]


def _demo_map() -> str:
    roads = metric(
        [LineString([(0, 0), (1000, 0)]), LineString([(500, -300), (500, 300)])],
        name=["Whalley Ave", "Fitch St"],
        highway=["primary", "residential"],
    )
    m = maps.base_map(roads.total_bounds, roads=roads)
    maps.add_polygons(m, metric([box(0, -200, 600, 200)], id=["g1"]), name="Grids")
    add_blind_zones(m, metric([box(100, -100, 400, 100)], id=["b1"], kind=["street"]), by_kind=True)
    maps.add_lines(m, metric([LineString([(0, 0), (600, 0)])], id=["car-1"]), name="Routes")
    maps.add_points(m, metric([Point(300, 0)], id=["s1"]), name="Stops", pane="gisapp-stops")
    maps.add_points(m, metric([Point(300, 0)], id=["HQ"]), name="Stations", pane="gisapp-stations")
    return maps.render_html(m, inline_assets=True)


def test_drawing_order_puts_stations_above_stops_above_routes_above_zones() -> None:
    page = _demo_map()
    panes = json.loads(re.search(r"var panes = (\{.*?\});", page, flags=re.S)[1])
    order = ["base", "grids", "zones", "routes", "stops", "stations"]
    z = [panes[f"gisapp-{name}"] for name in order]
    assert z == sorted(z) and len(set(z)) == len(z)
    assert panes["gisapp-stations"] > 600  # above Leaflet's marker pane (divIcon stops)
    assert _pane_of(page, "Grids") == "gisapp-grids"
    assert _pane_of(page, "Blind zones (盲区): street") == "gisapp-zones"
    assert _pane_of(page, "Routes") == "gisapp-routes"
    assert _pane_of(page, "Stops") == "gisapp-stops"
    assert _pane_of(page, "Stations") == "gisapp-stations"
    # blind zones are hatched (an SVG pattern), never a flat fill of warning red
    assert '"fillColor": "url(#gisapp-hatch-d7191c-45)"' in page


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM_PATH.exists(), reason=f"{CHROMIUM_PATH} is not installed")
def test_station_under_a_stop_is_the_one_clicked(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    file = tmp_path / "map.html"
    file.write_text(_demo_map(), encoding="utf-8")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM_PATH), args=list(CHROMIUM_ARGS))
        try:
            page = browser.new_page(viewport={"width": 800, "height": 600})
            page.goto(file.as_uri())
            page.wait_for_function("() => window.gisappStreetLabels !== undefined")
            # the pane of the topmost element at the station, once the map has settled
            hit = page.wait_for_function(
                """() => {
                  const map = Object.values(window).find(v => v instanceof L.Map);
                  if (!map || map._animatingZoom) return null;
                  let station = null;
                  map.eachLayer(l => { if (l.feature && l.feature.id === 'HQ') station = l; });
                  if (!station || !station._path) return null;
                  const p = map.latLngToContainerPoint(station.getLatLng());
                  const box = map.getContainer().getBoundingClientRect();
                  const el = document.elementFromPoint(box.left + p.x, box.top + p.y);
                  const pane = el && el.closest('.leaflet-pane');
                  return pane && pane.className.includes('gisapp-st') ? pane.className : null;
                }""",
                timeout=10_000,
            ).json_value()
        finally:
            browser.close()
    assert "leaflet-gisapp-stations-pane" in hit


def test_street_names_do_not_overlap_and_main_streets_come_first() -> None:
    xs = np.arange(0, 3000, 100)
    lines = [LineString([(0, y), (3000, y)]) for y in range(0, 3000, 150)]
    lines += [LineString([(x, 0), (x, 3000)]) for x in xs[::3]]
    names = [f"Avenue number {i}" for i in range(20)] + [f"St {i}" for i in range(10)]
    roads = metric(lines, name=names)
    major = np.array([i == 7 for i in range(len(names))])
    labels = street_labels(roads, major=major)
    assert labels[0]["label"] == "Avenue number 7" and labels[0]["z"] == min(
        lab["z"] for lab in labels
    )
    # at every zoom, the boxes of the names shown do not overlap
    for zoom in sorted({lab["z"] for lab in labels}):
        px_m = 156_543.03392 * np.cos(np.radians(41.3)) / 2**zoom
        shown = [lab for lab in labels if lab["z"] <= zoom]
        pts = gpd.GeoSeries(
            gpd.points_from_xy([s["lon"] for s in shown], [s["lat"] for s in shown]), crs=4326
        ).to_crs(METRIC)
        boxes = [
            box(p.x - w, p.y - 8 * px_m, p.x + w, p.y + 8 * px_m)
            for p, s in zip(pts, shown, strict=True)
            for w in [(len(s["label"]) * 6.3 / 2) * px_m]
        ]
        tree = shapely.STRtree(boxes)
        pairs = tree.query(boxes, predicate="intersects")
        assert (pairs[0] == pairs[1]).all(), zoom
    escaped = street_labels(metric([LineString([(0, 0), (800, 0)])], name=["<b>x</b>"]))
    assert escaped[0]["label"] == "&lt;b&gt;x&lt;/b&gt;"


# -- blind zones a captain can act on ----------------------------------------------------------


def _named_workspace(path: Path) -> Workspace:
    """Whalley Ave (1 km east of the station, 100 m pieces) with Fitch St at 200 m, Elm St
    at 600 m and Blake St at 1,000 m going north; 12 thefts on Whalley Ave past 300 m, 3 on
    Blake St and 2 next to the station. Cars do 100 m in 12 s."""
    lines = [LineString([(x, 0), (x + 100, 0)]) for x in range(0, 1000, 100)]
    names = ["Whalley Ave"] * 10
    for x, name in ((200, "Fitch St"), (600, "Elm St"), (1000, "Blake St")):
        lines.append(LineString([(x, 0), (x, 100)]))
        names.append(name)
    spots = [Point(x, 2) for x in np.linspace(310, 990, 12)]
    spots += [Point(1002, y) for y in (30, 50, 70)] + [Point(50, 2), Point(60, 2)]
    n = len(spots)
    layers = {
        "roads": metric(lines, name=names, highway=["residential"] * len(lines)),
        "stations": metric([Point(0, 0)], id=["HQ"], name=["Headquarters"], kind=["station"]),
        "incidents": metric(
            spots,
            id=[f"i{i}" for i in range(n)],
            occurred_at=pd.date_range("2026-05-01 22:00", periods=n, freq="7min", tz="UTC"),
            category=["theft"] * n,
            severity=[1] * n,
            preventable=[True] * n,
        ),
        "grids": metric([box(-50, -50, 1050, 150)], id=["nh-g080"], community_id=["c1"]),
    }
    return Workspace.create(path, layers)


def test_blind_zones_are_ranked_by_risk_and_named_by_street_and_grid(tmp_path: Path) -> None:
    ws = _named_workspace(tmp_path / "named.gpkg")
    blind = compute_coverage(ws, street_minutes=0.5).blind_zones
    assert blind["rank"].tolist() == list(range(1, len(blind) + 1))
    assert blind["risk"].is_monotonic_decreasing
    streets = blind[blind["kind"] == "street"].set_index("street")
    whalley = streets.loc["Whalley Ave"]
    assert whalley["name"] == (
        "Whalley Ave between Fitch St and Blake St, grid nh-g080, 12 incidents in the shift"
    )
    assert whalley["incidents"] == 12 and whalley["grid"] == "nh-g080"
    assert streets.loc["Blake St", "name"] == (
        "Blake St near Whalley Ave, grid nh-g080, 3 incidents in the shift"
    )
    assert streets.loc["Elm St", "incidents"] == 0
    # the riskiest street comes before the quieter ones, whatever their kind
    ranks = streets["rank"]
    assert ranks["Whalley Ave"] < ranks["Blake St"] < ranks["Elm St"]
    # the near pieces of the street (reached in 30 s) are no blind zone
    near = gpd.GeoSeries([Point(X0 + 100, Y0)], crs=METRIC).to_crs(4326).iloc[0]
    assert not blind[blind["kind"] == "street"].geometry.contains(near).any()


def test_blind_zones_split_by_grid(tmp_path: Path) -> None:
    ws = _named_workspace(tmp_path / "split.gpkg")
    grids = metric(
        [box(-50, -50, 650, 150), box(650, -50, 1050, 150)],
        id=["nh-g080", "nh-g081"],
        community_id=["c1", "c1"],
    )
    ws.save({"grids": grids})
    blind = compute_coverage(ws, street_minutes=0.5).blind_zones
    whalley = blind[(blind["kind"] == "street") & (blind["street"] == "Whalley Ave")]
    assert sorted(whalley["grid"]) == ["nh-g080", "nh-g081"]
    assert whalley["incidents"].sum() == 12
    for _, row in whalley.iterrows():
        assert f"grid {row['grid']}" in row["name"]


def test_blind_zone_page_lists_the_riskiest_first(tmp_path: Path) -> None:
    ws = _named_workspace(tmp_path / "page.gpkg")
    blind = compute_coverage(ws, street_minutes=0.5).blind_zones
    shuffled = blind.sample(frac=1.0, random_state=4).drop(columns="rank")
    assert ranked_blind_zones(shuffled)["risk"].is_monotonic_decreasing
    page = blind_zones_page(ws, blind.iloc[::-1])
    table = page[page.index("riskiest first") :]
    first = table.index("Whalley Ave between Fitch St and Blake St")
    assert first < table.index("Blake St near Whalley Ave") < table.index("Elm St")


def test_bad_pane_and_hatching_are_named() -> None:
    m = maps.base_map((0, 0, 1, 1))
    with pytest.raises(ValueError, match="'pane' should be one of"):
        maps.add_lines(m, metric([LineString([(0, 0), (10, 0)])]), name="x", pane="top")
    with pytest.raises(ValueError, match="'color' should be #rrggbb"):
        maps.hatch_fill(m, "red")
    assert maps.hatch_fill(m, "#D7191C", 225) == "url(#gisapp-hatch-d7191c-45)"
