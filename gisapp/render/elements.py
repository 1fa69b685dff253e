"""Leaflet controls and overlays for folium maps, as branca ``MacroElement`` classes.

Each element renders its own small script (and style) into the page: attribution text, a
legend box, permanent labels and a layer slider. Text reaching them is escaped by the
caller or here, and set as text where Leaflet allows it.
"""

from __future__ import annotations

import html
import re
from typing import Any

import folium
import geopandas as gpd
from branca.element import Element, Figure, MacroElement
from folium.map import Layer
from folium.utilities import JsCode
from jinja2 import Template

from gisapp.render.features import rounded_mapping

__all__ = [
    "FONT_STACK",
    "LEAFLET_FONT_STACK",
    "PANES",
    "Attribution",
    "CityCells",
    "CityLines",
    "Labels",
    "Legend",
    "Panes",
    "ScaleBar",
    "Slider",
    "StopMarkers",
    "StreetLabels",
    "hatch_fill",
    "pane_options",
]

#: The fonts of the text a map draws itself (legend, labels, street names): Latin letters
#: as before, Chinese in a CJK font wherever one is installed (the print server's Noto Sans
#: CJK SC or WenQuanYi Micro Hei, a reader's Microsoft YaHei or PingFang SC).
FONT_STACK = (
    '"DejaVu Sans", Helvetica, Arial, "Noto Sans CJK SC", "WenQuanYi Micro Hei", '
    '"Microsoft YaHei", "PingFang SC", sans-serif'
)
#: Leaflet's own fonts (tooltips, popups, layer control, attribution) with the CJK ones.
LEAFLET_FONT_STACK = (
    '"Helvetica Neue", Arial, Helvetica, "Noto Sans CJK SC", "WenQuanYi Micro Hei", '
    '"Microsoft YaHei", "PingFang SC", sans-serif'
)

#: The fixed drawing order of every map: Leaflet panes and their z-index, bottom to top.
#: Leaflet's own panes sit at 400 (overlays), 600 (markers), 650 (tooltips) and 700
#: (popups); stops and stations go above the marker pane so nothing covers a station.
PANES: dict[str, int] = {
    "gisapp-base": 250,
    "gisapp-grids": 410,
    "gisapp-zones": 420,
    "gisapp-routes": 430,
    "gisapp-labels": 440,
    "gisapp-points": 450,
    "gisapp-stops": 610,
    "gisapp-stations": 620,
}


class Panes(MacroElement):
    """Creates the drawing-order panes, their renderers and the hatching patterns of a map.

    Every pane lets clicks through where it draws nothing (``pointer-events: none``), and
    every pane but the base draws with SVG, whose shapes take clicks themselves: a canvas in
    a higher pane would swallow the clicks meant for the layers below it. The base map
    (thousands of street lines, never clicked) keeps the faster canvas, except on a map
    whose ``vectorBase`` option is set (a printed one: see
    :func:`gisapp.render.printing.set_print_options`).
    ``window.gisappRenderer(pane)`` returns a pane's renderer (one per pane and page).
    """

    _template = Template(
        """{% macro header(this, kwargs) %}
        <style>
          .leaflet-container { font-family: {{ this.font }}; }
        </style>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        (function () {
          var map = {{ this._parent.get_name() }};
          var panes = {{ this.panes|tojson }};
          Object.keys(panes).forEach(function (name) {
            var pane = map.createPane(name);
            pane.style.zIndex = String(panes[name]);
            pane.style.pointerEvents = 'none';
          });
          var renderers = {};
          window.gisappRenderer = function (name) {
            if (!renderers[name]) {
              renderers[name] = name === 'gisapp-base' && !map.options.vectorBase
                ? L.canvas({pane: name}) : L.svg({pane: name});
            }
            return renderers[name];
          };
          var patterns = {{ this.hatches|tojson }};
          if (patterns.length) {
            var defs = patterns.map(function (p) {
              return '<pattern id="' + p.id + '" patternUnits="userSpaceOnUse" width="8"'
                + ' height="8" patternTransform="rotate(' + p.angle + ')"><line x1="0" y1="0"'
                + ' x2="0" y2="8" stroke="' + p.color + '" stroke-width="2.5"/></pattern>';
            }).join('');
            document.body.insertAdjacentHTML('afterbegin',
              '<svg aria-hidden="true" width="0" height="0" style="position:absolute">'
              + '<defs>' + defs + '</defs></svg>');
          }
        })();
        {% endmacro %}"""
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "Panes"
        self.font = LEAFLET_FONT_STACK
        self.panes = dict(PANES)
        self.hatches: list[dict[str, object]] = []

    def hatch(self, color: str, angle_deg: float = 45.0) -> str:
        """Register a hatching of ``color`` (``#rrggbb``) and return its SVG fill value."""
        key = f"gisapp-hatch-{color.lstrip('#').lower()}-{round(angle_deg) % 180}"
        if not any(h["id"] == key for h in self.hatches):
            self.hatches.append({"id": key, "color": color, "angle": round(angle_deg) % 180})
        return f"url(#{key})"


class ScaleBar(MacroElement):
    """A metric scale bar in the bottom-left corner (metres and kilometres only)."""

    _template = Template(
        """{% macro script(this, kwargs) %}
        L.control.scale({imperial: false}).addTo({{ this._parent.get_name() }});
        {% endmacro %}"""
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "ScaleBar"


class Attribution(MacroElement):
    """Adds escaped plain text to the map's attribution control."""

    _template = Template(
        """{% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.attributionControl.addAttribution({{ this.text|tojson }});
        {% endmacro %}"""
    )

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "Attribution"
        self.text = html.escape(text)


class Legend(MacroElement):
    """A Leaflet control holding pre-escaped legend HTML."""

    _template = Template(
        """{% macro header(this, kwargs) %}
        <style>
          .gisapp-legend { background: #fff; padding: 6px 8px; border-radius: 4px;
            box-shadow: 0 1px 4px rgba(0,0,0,.3); font: 12px/1.5 {{ this.font }}; }
          .gisapp-legend i { display: inline-block; width: 12px; height: 12px;
            margin-right: 6px; vertical-align: middle; opacity: .8; }
        </style>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        (function () {
          var legend = L.control({position: {{ this.position|tojson }}});
          legend.onAdd = function () {
            var div = L.DomUtil.create('div', 'gisapp-legend');
            div.innerHTML = {{ this.body|tojson }};
            return div;
          };
          legend.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}"""
    )

    def __init__(self, body: str, position: str) -> None:
        super().__init__()
        self._name = "Legend"
        self.font = FONT_STACK
        self.body = body
        self.position = position


class Labels(MacroElement):
    """Permanent text labels (pre-escaped) at points, as light DOM div icons."""

    _template = Template(
        """{% macro header(this, kwargs) %}
        <style>
          .gisapp-label { font: bold 11px {{ this.font }}; color: #222; white-space: nowrap;
            text-shadow: 0 0 3px #fff, 0 0 3px #fff; pointer-events: none; }
          .gisapp-labels-hidden .gisapp-label { display: none; }
        </style>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.geoJson({{ this.data|tojson }}, {
          interactive: false, pane: 'gisapp-labels',
          pointToLayer: function (feature, latlng) {
            return L.marker(latlng, {interactive: false, keyboard: false, pane: 'gisapp-labels',
              icon: L.divIcon({
              className: 'gisapp-label', html: feature.properties._label,
              iconSize: null, iconAnchor: [0, 0]})});
          }
        });
        // Below min_zoom the labels would pile on each other: hide them until zoomed in.
        {{ this.get_name() }}.on("add", function () {
          var map = this._map;
          function toggle() {
            map.getContainer().classList.toggle(
              "gisapp-labels-hidden", map.getZoom() < {{ this.min_zoom }});
          }
          map.on("zoomend", toggle);
          toggle();
        });
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}"""
    )

    def __init__(self, labels: gpd.GeoDataFrame, *, min_zoom: float = 0) -> None:
        super().__init__()
        self._name = "Labels"
        self.font = FONT_STACK
        self.min_zoom = float(min_zoom)
        self.data = {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"_label": html.escape(label)},
                    "geometry": rounded_mapping(geom),
                }
                for label, geom in zip(labels["_label"], labels.geometry, strict=True)
            ],
        }


class Slider(MacroElement):
    """A range input in a Leaflet control that shows one layer group at a time."""

    _template = Template(
        """{% macro header(this, kwargs) %}
        <style>
          .gisapp-slider { background: #fff; padding: 6px 8px; border-radius: 4px;
            box-shadow: 0 1px 4px rgba(0,0,0,.3); font: 12px/1.5 {{ this.font }}; }
          .gisapp-slider input { width: 220px; display: block; }
        </style>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        (function () {
          var map = {{ this._parent.get_name() }};
          var groups = [{% for name in this.group_names %}{{ name }}{{ "," if not loop.last }}{% endfor %}];
          var labels = {{ this.labels|tojson }};
          var shown = 0;
          var control = L.control({position: {{ this.position|tojson }}});
          var input = null;
          var output = null;
          function show(i) {
            i = Math.max(0, Math.min(groups.length - 1, Number(i) || 0));
            groups.forEach(function (group, k) {
              if (k === i) {
                if (!map.hasLayer(group)) { map.addLayer(group); }
              } else if (map.hasLayer(group)) {
                map.removeLayer(group);
              }
            });
            shown = i;
            if (input && Number(input.value) !== i) { input.value = String(i); }
            if (output) { output.textContent = labels[i]; }
          }
          control.onAdd = function () {
            var div = L.DomUtil.create('div', 'gisapp-slider');
            var title = L.DomUtil.create('div', 'gisapp-slider-title', div);
            title.textContent = {{ this.title|tojson }};
            input = L.DomUtil.create('input', '', div);
            input.type = 'range';
            input.min = '0';
            input.max = String(groups.length - 1);
            input.step = '1';
            input.value = '0';
            input.setAttribute('aria-label', {{ this.title|tojson }});
            output = L.DomUtil.create('output', 'gisapp-slider-label', div);
            output.textContent = labels[0];
            input.addEventListener('input', function () { show(input.value); });
            L.DomEvent.disableClickPropagation(div);
            L.DomEvent.disableScrollPropagation(div);
            return div;
          };
          control.addTo(map);
          show(0);
          window.gisappSlider = {groups: groups, show: show, current: function () { return shown; }};
        })();
        {% endmacro %}"""
    )

    def __init__(
        self, group_names: list[str], labels: list[str], title: str, position: str
    ) -> None:
        super().__init__()
        self._name = "Slider"
        self.font = FONT_STACK
        # shown with textContent, so user text stays text; tojson keeps it a JS string
        self.group_names = group_names
        self.labels = labels
        self.title = title
        self.position = position


class StreetLabels(MacroElement):
    """Street names along the base map, each shown from its own zoom level up.

    The names come placed (see :func:`gisapp.render.maps.street_labels`): a name's
    ``min_zoom`` is the first zoom at which it fits without touching the names already
    shown, so no two names overlap at any zoom, and the main streets appear first.
    """

    _template = Template(
        """{% macro header(this, kwargs) %}
        <style>
          .gisapp-street { font: italic 11px/1 {{ this.font }}; color: #4a4a4a; white-space: nowrap;
            text-shadow: 0 0 2px #fff, 0 0 2px #fff, 0 0 3px #fff; pointer-events: none; }
          .gisapp-street span { display: inline-block; transform: translate(-50%, -50%); }
        </style>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        (function () {
          var map = {{ this._parent.get_name() }};
          var byZoom = {};
          {{ this.data|tojson }}.forEach(function (s) {
            var group = byZoom[s.z] || (byZoom[s.z] = L.layerGroup());
            L.marker([s.lat, s.lon], {interactive: false, keyboard: false, pane: 'gisapp-labels',
              icon: L.divIcon({className: 'gisapp-street', html: '<span>' + s.label + '</span>',
                iconSize: null, iconAnchor: [0, 0]})}).addTo(group);
          });
          function toggle() {
            var zoom = map.getZoom();
            Object.keys(byZoom).forEach(function (z) {
              var on = zoom >= Number(z);
              if (on && !map.hasLayer(byZoom[z])) { map.addLayer(byZoom[z]); }
              if (!on && map.hasLayer(byZoom[z])) { map.removeLayer(byZoom[z]); }
            });
          }
          map.on('zoomend', toggle);
          map.whenReady(toggle);
          window.gisappStreetLabels = byZoom;
        })();
        {% endmacro %}"""
    )

    def __init__(self, labels: list[dict[str, object]]) -> None:
        super().__init__()
        self._name = "StreetLabels"
        self.font = FONT_STACK
        # label text is escaped by the caller (Leaflet inserts it as HTML)
        self.data = labels


def pane_options(pane: str) -> dict[str, Any]:
    """Leaflet options that draw a layer in ``pane`` (one of :data:`PANES`) with its renderer.

    Raises
    ------
    ValueError
        If ``pane`` is not one of :data:`PANES`.
    """
    if pane not in PANES:
        raise ValueError(f"'pane' should be one of {sorted(PANES)}, got {pane!r}")
    return {"pane": pane, "renderer": JsCode(f"window.gisappRenderer({pane!r})")}


def hatch_fill(m: folium.Map | folium.FeatureGroup, color: str, angle_deg: float = 45.0) -> str:
    """The SVG fill value of a diagonal hatching of ``color`` on the map holding ``m``.

    Hatched areas are drawn in an SVG pane (every pane above the base is), where a fill
    may be a pattern; the patterns are written into the page by the map's panes element.

    Raises
    ------
    ValueError
        If ``m`` was not made by :func:`gisapp.render.maps.base_map`, or ``color`` is not
        ``#rrggbb``.
    """
    if not re.fullmatch(r"#[0-9A-Fa-f]{6}", color):
        raise ValueError(f"'color' should be #rrggbb, got {color!r}")
    root: Any = m
    while not isinstance(root, folium.Map) and getattr(root, "_parent", None) is not None:
        root = root._parent
    panes = [c for c in getattr(root, "_children", {}).values() if isinstance(c, Panes)]
    if not panes:
        raise ValueError("hatching needs a map made by base_map()")
    return str(panes[0].hatch(color, angle_deg))


class StopMarkers(MacroElement):
    """Numbered stop labels coloured by unit and square station labels, placed so that no
    two labels overlap and each stays inside the map.

    ``stops`` are dicts with ``lat``, ``lon``, ``label`` and ``tip`` (both pre-escaped),
    ``color`` (a CSS colour) and ``station``. Each label sits on its stop; a label that
    would touch a label already placed, a map control or the map's edge moves to the
    nearest free spot around its stop (stations first, then in the given order) and keeps
    a leader line and a dot at the stop. The placement is redone at every zoom and resize,
    in screen pixels, so it holds on the web map and on paper alike.
    """

    _template = Template(
        """{% macro header(this, kwargs) %}
        <style>
          .gisapp-mark { background: none; border: none; }
          .gisapp-mark .gisapp-tag { position: absolute; display: block; min-width: 16px;
            height: 16px; padding: 0 2px; box-sizing: border-box; white-space: nowrap;
            text-align: center; z-index: 1; }
          .gisapp-stop .gisapp-tag { border-radius: 8px; border: 1.5px solid #fff;
            color: #fff; font: bold 9px/13px sans-serif; box-shadow: 0 0 2px rgba(0,0,0,.6); }
          .gisapp-station .gisapp-tag { width: 16px; background: #111; color: #fff;
            border: 1.5px solid #fff; font: bold 10px/13px sans-serif; }
          .gisapp-mark svg { position: absolute; left: 0; top: 0; width: 1px; height: 1px;
            overflow: visible; }
          .gisapp-mark line { stroke-width: 1.2; }
        </style>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        (function () {
          var map = {{ this._parent.get_name() }};
          var group = L.featureGroup().addTo(map);
          var marks = [];
          {{ this.stops|tojson }}.forEach(function (s) {
            var color = s.station ? '#111' : s.color;
            var style = s.station ? '' : ' style="background:' + s.color + '"';
            var html = '<svg><line x1="0" y1="0" x2="0" y2="0" stroke="' + color + '"/>'
              + '<circle r="2.2" fill="' + color + '" stroke="#fff" stroke-width="0.8"/></svg>'
              + '<span class="gisapp-tag"' + style + '>' + s.label + '</span>';
            var icon = L.divIcon({className: 'gisapp-mark ' + (s.station ? 'gisapp-station' : 'gisapp-stop'),
              html: html, iconSize: [0, 0], iconAnchor: [0, 0]});
            var pane = s.station ? 'gisapp-stations' : 'gisapp-stops';
            var marker = L.marker([s.lat, s.lon], {icon: icon, keyboard: false,
              pane: map.getPane(pane) ? pane : 'markerPane'}).bindTooltip(s.tip).addTo(group);
            marks.push(marker);
          });
          // Places tried around a stop: on it, then rings of 12 directions further out.
          var tries = [[0, 0]];
          [18, 26, 36, 48, 62, 80, 100].forEach(function (r) {
            for (var k = 0; k < 12; k++) {
              var a = Math.PI / 2 - k * Math.PI / 6;
              tries.push([Math.round(r * Math.cos(a)), -Math.round(r * Math.sin(a))]);
            }
          });
          function overlap(a, b) {
            var w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
            var h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
            return w > 0 && h > 0 ? w * h : 0;
          }
          function layout() {
            var size = map.getSize();
            if (!size.x || !size.y) { return; }
            var frame = map.getContainer().getBoundingClientRect();
            var taken = [];
            map.getContainer().querySelectorAll('.leaflet-control').forEach(function (c) {
              var r = c.getBoundingClientRect();
              if (r.width && r.height) {
                taken.push([r.left - frame.left, r.top - frame.top, r.right - frame.left, r.bottom - frame.top]);
              }
            });
            marks.forEach(function (marker) {
              var el = marker.getElement();
              if (!el) { return; }
              var tag = el.querySelector('.gisapp-tag'), line = el.querySelector('line');
              var w = tag.offsetWidth, h = tag.offsetHeight, gap = 1.5;
              var p = map.latLngToContainerPoint(marker.getLatLng());
              var best = tries[0], cost = Infinity;
              for (var i = 0; i < tries.length; i++) {
                var cx = p.x + tries[i][0], cy = p.y + tries[i][1];
                var box = [cx - w / 2 - gap, cy - h / 2 - gap, cx + w / 2 + gap, cy + h / 2 + gap];
                var c = 0;
                if (box[0] < 0 || box[1] < 0 || box[2] > size.x || box[3] > size.y) { c += 1e6; }
                taken.forEach(function (t) { c += overlap(box, t); });
                if (c < cost) { cost = c; best = tries[i]; }
                if (c === 0) { break; }
              }
              var x = p.x + best[0], y = p.y + best[1];
              taken.push([x - w / 2 - gap, y - h / 2 - gap, x + w / 2 + gap, y + h / 2 + gap]);
              tag.style.left = (best[0] - w / 2) + 'px';
              tag.style.top = (best[1] - h / 2) + 'px';
              line.setAttribute('x2', best[0]);
              line.setAttribute('y2', best[1]);
            });
          }
          map.on('zoomend moveend resize', layout);
          map.whenReady(layout);
        })();
        {% endmacro %}"""
    )

    def __init__(self, stops: list[dict[str, Any]]) -> None:
        super().__init__()
        self._name = "StopMarkers"
        self.stops = stops


#: The canvas layers of whole-city maps (written once into a page that has ``CityLines`` or
#: ``CityCells``). Their data come pre-projected to Web Mercator metres, quantised to whole
#: metres and written as zigzag varints in base64, so a zoom step never re-projects
#: anything: it scales the stored coordinates and draws what the view holds on one canvas.
#: The layers extend Leaflet's canvas renderer (its sizing, panning and zoom animation) and
#: draw their own data where it draws its paths.
_CITY_CANVAS_JS = """
(function () {
  if (window.gisappCity) { return; }
  var WORLD_M = 2 * Math.PI * 6378137;  // Web Mercator metres across the world
  var POW = [];
  for (var p = 0; p < 6; p++) { POW.push(Math.pow(2, 7 * p)); }
  function varints(b64) {
    var s = atob(b64), out = new Float64Array(s.length), n = 0, v = 0, shift = 0;
    for (var i = 0; i < s.length; i++) {
      var c = s.charCodeAt(i);
      v += (c & 127) * POW[shift];
      if (c & 128) { shift += 1; continue; }
      out[n++] = v % 2 ? -(v + 1) / 2 : v / 2;
      v = 0;
      shift = 0;
    }
    return out.subarray(0, n);
  }
  function lines(b64) {
    // per line: its vertex count, then (dx, dy) from the previous vertex of the stream
    var v = varints(b64), xs = new Int32Array(v.length >> 1), ys = new Int32Array(v.length >> 1);
    var starts = [0], boxes = [], k = 0, m = 0, x = 0, y = 0;
    while (k < v.length) {
      var n = v[k++], x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      for (var i = 0; i < n; i++) {
        x += v[k++]; y += v[k++];
        xs[m] = x; ys[m] = y; m++;
        if (x < x0) { x0 = x; } if (x > x1) { x1 = x; }
        if (y < y0) { y0 = y; } if (y > y1) { y1 = y; }
      }
      starts.push(m);
      boxes.push(x0, y0, x1, y1);
    }
    return {xs: xs, ys: ys, starts: Int32Array.from(starts), boxes: Float64Array.from(boxes)};
  }
  var CityCanvas = L.Canvas.extend({
    options: {padding: 0.1},
    // L.Canvas calls _draw after every move and zoom (its own paths: this layer has none).
    _draw: function () {
      var map = this._map;
      if (!map || !this._bounds) { return; }
      var world = 256 * Math.pow(2, map.getZoom()), origin = map.getPixelOrigin();
      var scale = world / WORLD_M, b = this._bounds, d = this.options.data;
      // layer pixel = stored metres * scale + (ax, ay), y downwards
      var t = {
        scale: scale,
        ax: (d.origin[0] + WORLD_M / 2) * scale - origin.x,
        ay: (WORLD_M / 2 - d.origin[1]) * scale - origin.y
      };
      // the view (with the canvas padding) in stored metres
      t.x0 = (b.min.x - t.ax) / scale; t.x1 = (b.max.x - t.ax) / scale;
      t.y0 = (t.ay - b.max.y) / scale; t.y1 = (t.ay - b.min.y) / scale;
      this._ctx.save();
      this._paint(this._ctx, t);
      this._ctx.restore();
      this.gisappDrawn = true;
    }
  });
  var Lines = CityCanvas.extend({
    initialize: function (options) {
      L.Canvas.prototype.initialize.call(this, options);
      this._classes = options.data.classes.map(function (c) {
        return {style: c.style, lines: lines(c.lines)};
      });
    },
    _paint: function (ctx, t) {
      // Stroked 500 lines at a time: one path of the whole city makes the browser
      // rasterise it several times slower (and so would minor lines wider than 1 px).
      ctx.lineCap = 'round';
      ctx.lineJoin = 'round';
      this._classes.forEach(function (c) {
        var xs = c.lines.xs, ys = c.lines.ys, starts = c.lines.starts, boxes = c.lines.boxes;
        var drawn = 0;
        ctx.globalAlpha = c.style.opacity;
        ctx.strokeStyle = c.style.color;
        ctx.lineWidth = c.style.weight;
        ctx.beginPath();
        for (var k = 0; k + 1 < starts.length; k++) {
          if (boxes[4 * k] > t.x1 || boxes[4 * k + 2] < t.x0
              || boxes[4 * k + 1] > t.y1 || boxes[4 * k + 3] < t.y0) { continue; }
          if (++drawn % 500 === 0) { ctx.stroke(); ctx.beginPath(); }
          var s = starts[k], e = starts[k + 1] - 1;
          var px = xs[s] * t.scale + t.ax, py = t.ay - ys[s] * t.scale;
          ctx.moveTo(px, py);
          for (var i = s + 1; i <= e; i++) {
            var x = xs[i] * t.scale + t.ax, y = t.ay - ys[i] * t.scale;
            // vertices less than a pixel apart draw nothing more (Leaflet's smoothFactor)
            if (i < e && Math.abs(x - px) + Math.abs(y - py) < 1) { continue; }
            ctx.lineTo(x, y);
            px = x; py = y;
          }
        }
        ctx.stroke();
      });
    }
  });
  var Cells = CityCanvas.extend({
    initialize: function (options) {
      L.Canvas.prototype.initialize.call(this, options);
      // per cell: (di, dj, count), di from the previous cell of its row, dj between rows
      var v = varints(options.data.cells), n = v.length / 3;
      var is = new Int32Array(n), js = new Int32Array(n), counts = new Int32Array(n);
      var index = new Map(), i = 0, j = 0, top = 1;
      for (var k = 0; k < n; k++) {
        var dj = v[3 * k + 1];
        j += dj;
        i = dj ? v[3 * k] : i + v[3 * k];
        is[k] = i; js[k] = j; counts[k] = v[3 * k + 2];
        index.set(j * 4194304 + i, k);
        if (counts[k] > top) { top = counts[k]; }
      }
      this._cells = {is: is, js: js, counts: counts, index: index, top: top};
    },
    onAdd: function (map) {
      L.Canvas.prototype.onAdd.call(this, map);
      map.on('mousemove', this._hover, this);
    },
    onRemove: function (map) {
      map.off('mousemove', this._hover, this);
      if (this._tip) { map.closeTooltip(this._tip); }
      L.Canvas.prototype.onRemove.call(this, map);
    },
    count: function (latlng) {
      var d = this.options.data, p = L.CRS.EPSG3857.project(latlng);
      var i = Math.floor((p.x - d.origin[0]) / d.cell), j = Math.floor((p.y - d.origin[1]) / d.cell);
      var k = this._cells.index.get(j * 4194304 + i);
      return k === undefined ? 0 : this._cells.counts[k];
    },
    _hover: function (e) {
      var n = this.count(e.latlng), tip = this.options.data.tip;
      if (!n) {
        if (this._tip) { this._map.closeTooltip(this._tip); }
        return;
      }
      this._tip = this._tip || L.tooltip({sticky: true, direction: 'right', offset: [12, 0]});
      this._tip.setLatLng(e.latlng).setContent(tip[0] + n + tip[1]);
      if (!this._map.hasLayer(this._tip)) { this._map.openTooltip(this._tip); }
    },
    _paint: function (ctx, t) {
      var c = this._cells, size = this.options.data.cell, w = size * t.scale;
      var style = this.options.data.style;
      ctx.fillStyle = style.color;
      for (var k = 0; k < c.counts.length; k++) {
        var x = c.is[k] * size, y = c.js[k] * size;
        if (x > t.x1 || x + size < t.x0 || y > t.y1 || y + size < t.y0) { continue; }
        ctx.globalAlpha = style.min_opacity + style.opacity_range * c.counts[k] / c.top;
        ctx.fillRect(x * t.scale + t.ax, t.ay - (y + size) * t.scale, w, w);
      }
    }
  });
  window.gisappCity = {
    lines: function (options) { return new Lines(options); },
    cells: function (options) { return new Cells(options); }
  };
})();
"""


class _CityCanvasLayer(Layer):
    """A layer drawn by the city canvas script, written once into the page's head."""

    def render(self, **kwargs: Any) -> Any:
        # after the Leaflet script, which the map has put in the head already
        root = self.get_root()
        if not isinstance(root, Figure):
            raise ValueError("a city layer renders on a map (its page), not on its own")
        root.header.add_child(
            Element(f"<script>{_CITY_CANVAS_JS}</script>"), name="gisapp_city_canvas"
        )
        return super().render(**kwargs)


class CityLines(_CityCanvasLayer):
    """Street lines of a whole city on one canvas in the base pane, light to zoom.

    ``classes`` are dicts with ``style`` (``color``, ``weight``, ``opacity``) and ``lines``,
    the lines' vertices in whole Web Mercator metres from ``origin`` as base64 zigzag
    varints: per line its vertex count, then each vertex as the step from the previous one.
    Build them with :func:`gisapp.render.layer_maps.add_city_roads`.
    """

    _template = Template(
        """{% macro script(this, kwargs) %}
        var {{ this.get_name() }} = window.gisappCity.lines({{ this.layer_options|tojson }});
        {% endmacro %}"""
    )

    def __init__(
        self,
        classes: list[dict[str, Any]],
        origin: tuple[int, int],
        *,
        name: str,
        pane: str = "gisapp-base",
        show: bool = True,
    ) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "CityLines"
        if pane not in PANES:
            raise ValueError(f"'pane' should be one of {sorted(PANES)}, got {pane!r}")
        self.layer_options = {
            "pane": pane,
            "data": {"origin": list(origin), "classes": classes},
        }


class CityCells(_CityCanvasLayer):
    """Counts in square cells of a whole city, shaded by count on one canvas.

    ``cells`` are the cells in base64 zigzag varints, three numbers per cell sorted by row
    then column: the column step from the previous cell of the row (the column itself on a
    new row), the row step, the count. Cell ``(i, j)`` spans ``origin + (i, j) * cell_m``
    to ``origin + (i + 1, j + 1) * cell_m`` in Web Mercator metres. Hovering a cell shows
    ``tip[0] + count + tip[1]`` (pre-escaped HTML). Build them with
    :func:`gisapp.render.layer_maps.add_city_cells`.
    """

    _template = Template(
        """{% macro script(this, kwargs) %}
        var {{ this.get_name() }} = window.gisappCity.cells({{ this.layer_options|tojson }});
        {% endmacro %}"""
    )

    def __init__(
        self,
        cells: str,
        origin: tuple[int, int],
        cell_m: float,
        *,
        name: str,
        color: str,
        tip: tuple[str, str],
        min_opacity: float = 0.15,
        max_opacity: float = 0.85,
        pane: str = "gisapp-points",
        show: bool = True,
    ) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "CityCells"
        if pane not in PANES:
            raise ValueError(f"'pane' should be one of {sorted(PANES)}, got {pane!r}")
        self.layer_options = {
            "pane": pane,
            "data": {
                "origin": list(origin),
                "cell": cell_m,
                "cells": cells,
                "tip": list(tip),
                "style": {
                    "color": color,
                    "min_opacity": min_opacity,
                    "opacity_range": max_opacity - min_opacity,
                },
            },
        }
