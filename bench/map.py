"""Map pages in Chromium: ours (``gisapp.render.layer_maps.layers_map``) against plain folium.

Both sides draw the same layers and are measured in the same run, on the same machine:

- ``new_haven``: the bundled New Haven sample workspace (1,537 TIGER street lines, its
  grids, 3,293 real incidents). Ours is the app's overview map
  (:func:`gisapp.views.maps.overview_map`).
- ``wuhan``: the whole-city Wuhan street network (92,667 OSM segments) with 240,000
  **generated** incidents (seeded: street segments drawn with probability proportional to
  their length, a uniform position along each). Ours is
  :func:`gisapp.render.layer_maps.layers_map`, the function behind the overview page.

Two folium pages of the same layers are measured beside ours:

- the *naive* anchor (``anchor_*``, the one ``ratio`` is against): what a plain folium
  script gives, ``folium.GeoJson`` of the whole GeoDataFrames (every property) and a
  ``MarkerCluster`` of one ``Marker`` per incident;
- the *competent* anchor (``competent_*``): what a folium user who knows the library
  writes for a big layer, geometry-only GeoJSON with coordinates rounded to 5 decimals
  (about a metre), ``prefer_canvas``, and a ``FastMarkerCluster`` (markers made in the
  browser from one array of coordinates).

Both have ``tiles=None``. folium's default assets point at public CDNs, which an offline
intranet cannot reach (the page would stay blank), so they are replaced by the same local
Leaflet and markercluster files that ours uses; folium's other defaults (jQuery,
Bootstrap, awesome-markers, Font Awesome) are dropped because these layers do not use them.

Figures per instance:

- ``build_s`` / ``anchor_build_s`` / ``competent_build_s``: Python time from the layers in memory to the HTML text;
- ``tti_s`` / ``anchor_tti_s``: time to interactive in headless Chromium, from navigation
  start (page served from 127.0.0.1, cold cache) until the Leaflet map has drawn its
  vector layers and, when it has one, its marker clusters, at rest (no zoom or pan
  animation under way: the view the reader gets), plus two animation frames;
- ``ours_s`` / ``anchor_s``: build plus time to interactive (a page asked for until it
  can be used); ``ratio`` = ``anchor_s / ours_s`` (above 1: ours is faster);
- ``zoom_s`` / ``anchor_zoom_s``: one zoom step in on the loaded map, from the call until
  Leaflet's ``zoomend`` and two animation frames after it (the canvas and the clusters
  redrawn); a step the map did not take (it ends at another zoom) counts as not measured;
- ``html_bytes`` / ``anchor_html_bytes`` / ``competent_html_bytes``, and ``html_ratio`` /
  ``competent_html_ratio``: an anchor's HTML size over ours (above 1: ours is smaller);
- ``competent_tti_s`` / ``competent_zoom_s``: as above, for the competent anchor.

Ours and the competent anchor are loaded in turn ``repeats`` times (5), each in a fresh
context, and the median time to interactive and zoom step are reported (``loads``); the
naive anchor is loaded :data:`NAIVE_LOADS` times, once on the city.

Every browser wait has a timeout (``timeout_s``), so a run cannot hang: a page that does
not become interactive in time is reported with ``*_tti_s`` = ``null``, ``*_timed_out`` =
true, and the ratio computed with the timeout as a lower bound of its time
(``ratio_is_lower_bound``).

Usage: ``python bench/map.py`` (or ``python bench/run.py map``) prints one JSON object per
instance. Requires ``/usr/bin/chromium`` and the Python ``playwright`` package.
"""

from __future__ import annotations

import functools
import http.server
import json
import logging
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import folium  # noqa: E402
import geopandas as gpd  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import shapely  # noqa: E402
from folium.plugins import FastMarkerCluster, MarkerCluster  # noqa: E402

from gisapp.render import maps as gmaps  # noqa: E402
from gisapp.render.browser import CHROMIUM_ARGS, CHROMIUM_PATH  # noqa: E402
from gisapp.render.layer_maps import layers_map  # noqa: E402
from gisapp.render.maps import OSM_ATTRIBUTION  # noqa: E402
from gisapp.samples import get_path  # noqa: E402
from gisapp.store.geopackage import Workspace  # noqa: E402
from gisapp.views.maps import overview_map  # noqa: E402

logger = logging.getLogger("bench.map")

DATA = ROOT.parent / "shared" / "data"
WUHAN = DATA / "wuhan_streets.parquet"
#: Seed of the generated Wuhan incidents.
SEED = 20_240_601
N_GENERATED = 240_000
ASSETS_URL = "/static/vendor"

_LOCAL_ASSETS = {
    "leaflet": f"{ASSETS_URL}/leaflet/leaflet.js",
    "leaflet_css": f"{ASSETS_URL}/leaflet/leaflet.css",
    "markerclusterjs": f"{ASSETS_URL}/leaflet.markercluster/leaflet.markercluster.js",
    "markerclustercss": f"{ASSETS_URL}/leaflet.markercluster/MarkerCluster.css",
    "markerclusterdefaultcss": f"{ASSETS_URL}/leaflet.markercluster/MarkerCluster.Default.css",
}

#: True once the first Leaflet map is at rest (a map fitted with animation zooms for a
#: quarter of a second after its load, and ignores zooming meanwhile), has drawn a vector
#: layer (a Leaflet path with projected parts, or a city canvas layer of
#: ``gisapp.render.elements`` that has drawn its data) and, if it has a marker cluster
#: group, a cluster or marker icon.
_DRAWN_JS = """() => {
  if (!window.L || document.readyState !== 'complete') return false;
  const map = Object.values(window).find(v => v instanceof L.Map);
  if (!map || map._animatingZoom || (map._panAnim && map._panAnim._inProgress)) return false;
  let paths = 0, clusters = 0;
  map.eachLayer(l => {
    if ((l._parts && l._parts.length) || l.gisappDrawn) paths += 1;
    if (L.MarkerClusterGroup && l instanceof L.MarkerClusterGroup) clusters += 1;
  });
  const icons = document.querySelectorAll('.marker-cluster, .leaflet-marker-icon').length;
  return paths > 0 && (clusters === 0 || icons > 0);
}"""
_TWO_FRAMES_JS = (
    "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))"
)

#: Loads of the naive anchor per instance (one on the city, where a load takes minutes).
NAIVE_LOADS = 2

#: One zoom step in on the interactive map, until it has drawn again (two frames after
#: Leaflet's ``zoomend``, whose handlers redraw the canvas and the clusters); seconds, or
#: null when the page holds no Leaflet map. Throws when the map ends at another zoom.
_ZOOM_STEP_JS = """async () => {
  const map = Object.values(window).find(v => v instanceof L.Map);
  if (!map) { return null; }
  const target = map.getZoom() + 1, t0 = performance.now();
  await new Promise(resolve => {
    map.once('zoomend', resolve);
    map.setZoom(target, {animate: false});
  });
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const seconds = (performance.now() - t0) / 1000;
  if (map.getZoom() !== target) {
    throw new Error('the zoom step ended at zoom ' + map.getZoom() + ', not ' + target);
  }
  return seconds;
}"""


# -- inputs -----------------------------------------------------------------------------------


def generated_incidents(roads: gpd.GeoDataFrame, n: int, *, seed: int = SEED) -> gpd.GeoDataFrame:
    """``n`` generated incident points on ``roads`` (labelled ``generated``).

    Segments are drawn with probability proportional to their length, and each point lies
    at a uniform position along its segment. Seeded, so every run draws the same points.
    """
    rng = np.random.default_rng(seed)
    lengths = roads.geometry.length.to_numpy()
    picks = rng.choice(len(roads), size=n, p=lengths / lengths.sum())
    points = shapely.line_interpolate_point(
        roads.geometry.to_numpy()[picks], rng.random(n), normalized=True
    )
    categories = np.array(["theft", "burglary", "robbery", "fraud", "assault"])
    frame = gpd.GeoDataFrame(
        {
            "id": [f"GEN{i:06d}" for i in range(n)],
            "category": categories[rng.integers(0, len(categories), n)],
            "source": "generated",
        },
        geometry=points,
        crs=roads.crs,
    )
    return frame.to_crs(4326)


def _instances() -> Iterator[tuple[str, dict[str, Any]]]:
    ws = Workspace.open(get_path("new_haven"))
    yield (
        "new_haven overview: 1,537 streets, grids, 3,293 real incidents",
        {
            "ours": lambda: overview_map(ws, assets_url=ASSETS_URL),
            "roads": ws.layer("roads"),
            "grids": ws.layer("grids"),
            "incidents": ws.layer("incidents"),
        },
    )
    roads = gpd.read_parquet(WUHAN)
    incidents = generated_incidents(roads, N_GENERATED)
    roads = roads.to_crs(4326)
    yield (
        f"wuhan city: {len(roads):,} street segments, {N_GENERATED:,} generated incidents "
        f"(seed {SEED})",
        {
            "ours": lambda: layers_map(
                roads=roads,
                incidents=incidents,
                attribution=OSM_ATTRIBUTION,
                incidents_name="Incidents (generated)",
                assets_url=ASSETS_URL,
            ),
            "roads": roads,
            "grids": None,
            "incidents": incidents,
        },
    )


# -- the two sides ----------------------------------------------------------------------------


def _local(element: Any) -> None:
    """Point a folium element's CDN asset lists at the local files; drop the others."""
    element.default_js = [
        (n, _LOCAL_ASSETS[n]) for n, _ in element.default_js if n in _LOCAL_ASSETS
    ]
    element.default_css = [
        (n, _LOCAL_ASSETS[n]) for n, _ in element.default_css if n in _LOCAL_ASSETS
    ]


def plain_folium_html(
    roads: gpd.GeoDataFrame, grids: gpd.GeoDataFrame | None, incidents: gpd.GeoDataFrame
) -> str:
    """The anchor: a plain folium map of the same layers, with local assets."""
    minx, miny, maxx, maxy = roads.to_crs(4326).total_bounds
    m = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], tiles=None, zoom_start=12)
    m.options["max_zoom"] = 19  # MarkerCluster needs one; a tile layer would set it
    _local(m)
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    folium.GeoJson(_plain(roads), name="Streets").add_to(m)
    if grids is not None and len(grids):
        folium.GeoJson(_plain(grids), name="Grids").add_to(m)
    points = incidents.to_crs(4326)
    cluster = MarkerCluster(
        locations=list(zip(points.geometry.y, points.geometry.x, strict=True)), name="Incidents"
    )
    _local(cluster)
    cluster.add_to(m)
    folium.LayerControl().add_to(m)
    return m.get_root().render()


def competent_folium_html(
    roads: gpd.GeoDataFrame, grids: gpd.GeoDataFrame | None, incidents: gpd.GeoDataFrame
) -> str:
    """The competent anchor: geometry-only rounded GeoJSON, canvas, a FastMarkerCluster."""
    minx, miny, maxx, maxy = roads.to_crs(4326).total_bounds
    m = folium.Map(
        location=[(miny + maxy) / 2, (minx + maxx) / 2],
        tiles=None,
        zoom_start=12,
        prefer_canvas=True,
    )
    m.options["max_zoom"] = 19
    _local(m)
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    folium.GeoJson(_geometry_only(roads), name="Streets").add_to(m)
    if grids is not None and len(grids):
        folium.GeoJson(_geometry_only(grids), name="Grids").add_to(m)
    points = incidents.to_crs(4326)
    latlons = np.round(np.column_stack([points.geometry.y, points.geometry.x]), 5)
    # folium's default callback draws awesome-markers icons, whose assets are not served
    # offline: plain Leaflet markers instead
    cluster = FastMarkerCluster(
        latlons.tolist(),
        name="Incidents",
        callback="function (row) { return L.marker(new L.LatLng(row[0], row[1])); }",
    )
    _local(cluster)
    cluster.add_to(m)
    folium.LayerControl().add_to(m)
    return m.get_root().render()


def _geometry_only(frame: gpd.GeoDataFrame) -> str:
    geoms = frame.to_crs(4326).geometry.to_numpy()
    rounded = shapely.transform(geoms, lambda xy: np.round(xy, 5))
    return gpd.GeoDataFrame(geometry=rounded, crs=4326).to_json(drop_id=True)


def _plain(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    # GeoJSON cannot hold datetimes; a folium user converts them to text the same way.
    out = frame.to_crs(4326)
    for column in out.columns:
        if column != out.geometry.name and not pd.api.types.is_numeric_dtype(out[column]):
            out[column] = out[column].astype(str)
    return out


def ours_html(build: Callable[[], folium.Map]) -> str:
    return gmaps.render_html(build())


# -- measuring --------------------------------------------------------------------------------


@contextmanager
def _serve(folder: Path) -> Iterator[str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def time_to_interactive(browser: Any, url: str, *, timeout_s: float) -> dict[str, Any]:
    """Seconds from navigation start until the map is drawn, in a fresh (cold) context."""
    from playwright.sync_api import Error as PlaywrightError

    outside: list[str] = []
    errors: list[str] = []
    context = browser.new_context()
    try:

        def only_local(route: Any) -> None:
            if urlsplit(route.request.url).hostname == "127.0.0.1":
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        context.route("**/*", only_local)
        page = context.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        start = time.perf_counter()
        deadline = start + timeout_s
        try:
            page.goto(url, wait_until="commit", timeout=timeout_s * 1000)
            remaining = max(deadline - time.perf_counter(), 0.001)
            page.wait_for_function(_DRAWN_JS, timeout=remaining * 1000, polling=50)
            page.evaluate(_TWO_FRAMES_JS)
            tti: float | None = time.perf_counter() - start
        except PlaywrightError as exc:  # a timeout (or a crashed page) ends the wait
            logger.warning("%s not interactive within %.0f s: %s", url, timeout_s, exc)
            tti = None
        zoom: float | None = None
        if tti is not None:
            try:
                zoom = page.evaluate(_ZOOM_STEP_JS)
            except PlaywrightError as exc:
                logger.warning("%s: zoom step not measured: %s", url, exc)
    finally:
        context.close()
    return {
        "tti_s": tti,
        "zoom_s": zoom,
        "outside_requests": len(outside),
        "console_errors": errors[:5],
    }


def _median(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The median time to interactive and zoom step of the loads that finished (the
    first load's figures, timed out, when none did)."""
    done = [r for r in results if r["tti_s"] is not None]
    if not done:
        return results[0]
    zooms = [r["zoom_s"] for r in done if r["zoom_s"] is not None]
    return {
        **done[0],
        "tti_s": statistics.median(r["tti_s"] for r in done),
        "zoom_s": statistics.median(zooms) if zooms else None,
        "outside_requests": max(r["outside_requests"] for r in results),
        "loads": len(results),
    }


def run(
    *, timeout_s: float = 180.0, repeats: int = 5, only: str | None = None
) -> list[dict[str, Any]]:
    """Measure every instance (or those whose name starts with ``only``); a line each."""
    from playwright.sync_api import sync_playwright

    lines: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-map-") as tmp:
        folder = Path(tmp)
        (folder / "static").mkdir()
        (folder / "static" / "vendor").symlink_to(gmaps.VENDOR_DIR, target_is_directory=True)
        with _serve(folder) as base, sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=str(CHROMIUM_PATH), args=list(CHROMIUM_ARGS)
            )
            try:
                for index, (instance, parts) in enumerate(_instances()):
                    if only is not None and not instance.startswith(only):
                        continue
                    start = time.perf_counter()
                    ours = ours_html(parts["ours"])
                    build_s = time.perf_counter() - start
                    start = time.perf_counter()
                    anchor = plain_folium_html(parts["roads"], parts["grids"], parts["incidents"])
                    anchor_build_s = time.perf_counter() - start
                    start = time.perf_counter()
                    competent = competent_folium_html(
                        parts["roads"], parts["grids"], parts["incidents"]
                    )
                    competent_build_s = time.perf_counter() - start
                    (folder / f"ours{index}.html").write_text(ours, encoding="utf-8")
                    (folder / f"anchor{index}.html").write_text(anchor, encoding="utf-8")
                    (folder / f"competent{index}.html").write_text(competent, encoding="utf-8")
                    # ours and the competent anchor are loaded in turn, the naive anchor
                    # (minutes per load on the city) fewer times
                    loads: dict[str, list[dict[str, Any]]] = {"ours": [], "competent": []}
                    for _ in range(repeats):
                        for name in loads:
                            loads[name].append(
                                time_to_interactive(
                                    browser, f"{base}/{name}{index}.html", timeout_s=timeout_s
                                )
                            )
                    n = NAIVE_LOADS if len(parts["incidents"]) < 20_000 else 1
                    ours_load, competent_load = _median(loads["ours"]), _median(loads["competent"])
                    anchor_load = _median(
                        [
                            time_to_interactive(
                                browser, f"{base}/anchor{index}.html", timeout_s=timeout_s
                            )
                            for _ in range(n)
                        ]
                    )
                    line = _line(
                        instance,
                        build_s,
                        anchor_build_s,
                        ours_load,
                        anchor_load,
                        len(ours.encode()),
                        len(anchor.encode()),
                        timeout_s,
                    )
                    line.update(
                        _competent(competent_build_s, competent_load, len(competent.encode()), line)
                    )
                    lines.append(line)
            finally:
                browser.close()
    return lines


def _line(
    instance: str,
    build_s: float,
    anchor_build_s: float,
    ours_load: dict[str, Any],
    anchor_load: dict[str, Any],
    html_bytes: int,
    anchor_html_bytes: int,
    timeout_s: float,
) -> dict[str, Any]:
    ours_tti, anchor_tti = ours_load["tti_s"], anchor_load["tti_s"]
    ours_s = build_s + (ours_tti if ours_tti is not None else timeout_s)
    anchor_s = anchor_build_s + (anchor_tti if anchor_tti is not None else timeout_s)
    line: dict[str, Any] = {
        "bench": "map",
        "instance": instance,
        "ours_s": round(ours_s, 3),
        "anchor": "naive folium (GeoJson with every property + MarkerCluster of Markers, "
        "local assets instead of CDN)",
        "anchor_s": round(anchor_s, 3),
        "ratio": round(anchor_s / ours_s, 2),
        "ratio_is_lower_bound": anchor_tti is None and ours_tti is not None,
        "build_s": round(build_s, 3),
        "anchor_build_s": round(anchor_build_s, 3),
        "tti_s": None if ours_tti is None else round(ours_tti, 3),
        "anchor_tti_s": None if anchor_tti is None else round(anchor_tti, 3),
        "tti_ratio": None
        if ours_tti is None or anchor_tti is None
        else round(anchor_tti / ours_tti, 2),
        "zoom_s": _rounded(ours_load["zoom_s"]),
        "anchor_zoom_s": _rounded(anchor_load["zoom_s"]),
        "timed_out": ours_tti is None,
        "anchor_timed_out": anchor_tti is None,
        "timeout_s": timeout_s,
        "html_bytes": html_bytes,
        "anchor_html_bytes": anchor_html_bytes,
        "html_ratio": round(anchor_html_bytes / html_bytes, 1),
        "outside_requests": ours_load["outside_requests"],
        "anchor_outside_requests": anchor_load["outside_requests"],
        "console_errors": ours_load["console_errors"],
        "anchor_console_errors": anchor_load["console_errors"],
    }
    return line


def _competent(
    build_s: float, load: dict[str, Any], html_bytes: int, ours: dict[str, Any]
) -> dict[str, Any]:
    tti = load["tti_s"]
    return {
        "competent_anchor": "competent folium (geometry-only GeoJSON rounded to 5 decimals, "
        "prefer_canvas, FastMarkerCluster, local assets)",
        "competent_build_s": round(build_s, 3),
        "competent_tti_s": _rounded(tti),
        "competent_zoom_s": _rounded(load["zoom_s"]),
        "competent_timed_out": tti is None,
        "competent_html_bytes": html_bytes,
        "competent_html_ratio": round(html_bytes / ours["html_bytes"], 1),
        "competent_outside_requests": load["outside_requests"],
        "competent_console_errors": load["console_errors"],
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    for result in run():
        print(json.dumps(result), flush=True)
