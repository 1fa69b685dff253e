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
from branca.element import MacroElement
from folium.utilities import JsCode
from jinja2 import Template

from gisapp.render.features import rounded_mapping

__all__ = [
    "FONT_STACK",
    "LEAFLET_FONT_STACK",
    "PANES",
    "Attribution",
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
    (thousands of street lines, never clicked) keeps the faster canvas.
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
              renderers[name] = name === 'gisapp-base'
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
