"""Leaflet controls and overlays for folium maps, as branca ``MacroElement`` classes.

Each element renders its own small script (and style) into the page: attribution text, a
legend box, permanent labels and a layer slider. Text reaching them is escaped by the
caller or here, and set as text where Leaflet allows it.
"""

from __future__ import annotations

import html

import geopandas as gpd
from branca.element import MacroElement
from jinja2 import Template

from gisapp.render.features import rounded_mapping

__all__ = ["Attribution", "Labels", "Legend", "Slider"]


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
            box-shadow: 0 1px 4px rgba(0,0,0,.3); font: 12px/1.5 sans-serif; }
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
        self.body = body
        self.position = position


class Labels(MacroElement):
    """Permanent text labels (pre-escaped) at points, as light DOM div icons."""

    _template = Template(
        """{% macro header(this, kwargs) %}
        <style>
          .gisapp-label { font: bold 11px sans-serif; color: #222; white-space: nowrap;
            text-shadow: 0 0 3px #fff, 0 0 3px #fff; pointer-events: none; }
          .gisapp-labels-hidden .gisapp-label { display: none; }
        </style>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.geoJson({{ this.data|tojson }}, {
          interactive: false,
          pointToLayer: function (feature, latlng) {
            return L.marker(latlng, {interactive: false, keyboard: false, icon: L.divIcon({
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
            box-shadow: 0 1px 4px rgba(0,0,0,.3); font: 12px/1.5 sans-serif; }
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
        # shown with textContent, so user text stays text; tojson keeps it a JS string
        self.group_names = group_names
        self.labels = labels
        self.title = title
        self.position = position
