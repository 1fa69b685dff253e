"""Coverage maps: the 1-3-5 minute reach bands and blind zones, and a plan's coverage hour
by hour with an hour slider. Offline HTML (Leaflet served locally or inlined)."""

from __future__ import annotations

from typing import Protocol

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from gisapp.render import maps

__all__ = ["CoverageLayers", "HourlyLayers", "coverage_map", "hourly_coverage_map"]

_BAND_COLORS = ("#1a9850", "#91cf60", "#d9ef8b", "#fee08b", "#fc8d59")
_BLIND_COLORS = {
    "street": "#d73027",
    "grid": "#f46d43",
    "key_place": "#7b3294",
    "prevention_zone": "#c51b7d",
}
_UNIT_COLORS = ("#08519c", "#a50f15", "#006d2c", "#54278f", "#b15928", "#252525")
_SOURCE_COLOR = "#08306b"


class CoverageLayers(Protocol):
    """What the coverage map draws (a coverage result has it), EPSG:4326."""

    @property
    def bands(self) -> gpd.GeoDataFrame: ...

    @property
    def blind_zones(self) -> gpd.GeoDataFrame: ...

    @property
    def key_places(self) -> gpd.GeoDataFrame: ...

    @property
    def sources(self) -> gpd.GeoDataFrame: ...


class HourlyLayers(Protocol):
    """What the hourly map draws (an hourly coverage result has it), EPSG:4326."""

    @property
    def plan_id(self) -> str: ...

    @property
    def reach_minutes(self) -> float: ...

    @property
    def table(self) -> pd.DataFrame: ...

    @property
    def positions(self) -> gpd.GeoDataFrame: ...

    @property
    def paths(self) -> gpd.GeoDataFrame: ...

    @property
    def reach(self) -> gpd.GeoDataFrame: ...

    @property
    def sources(self) -> gpd.GeoDataFrame: ...


def _add_bands(m: folium.Map, bands: gpd.GeoDataFrame, legend: dict[str, str]) -> None:
    for i, band in enumerate(sorted(bands["minutes"], reverse=True)):
        color = _BAND_COLORS[::-1][i % len(_BAND_COLORS)] if len(bands) > 1 else _BAND_COLORS[0]
        legend[f"{band:g} min reach (快反圈)"] = color
        maps.add_polygons(
            m,
            bands[bands["minutes"] == band].assign(id=f"reach-{band:g}"),
            name=f"{band:g} min reach",
            color=color,
            fill_opacity=0.25,
            weight=0.5,
            tooltip_fields={"minutes": "Minutes", "reached_km": "Street km"},
        )


def _add_blind_zones(m: folium.Map, zones: gpd.GeoDataFrame, legend: dict[str, str]) -> None:
    for kind, color in _BLIND_COLORS.items():
        frame = zones[zones["kind"] == kind]
        if not len(frame):
            continue
        frame = frame.assign(
            reached=frame["reached_minutes"].map(
                lambda v: "never" if v is None or pd.isna(v) else f"{v:g} min"
            )
        )
        label = kind.replace("_", " ")
        maps.add_polygons(
            m,
            frame,
            name=f"Blind zones (盲区): {label}",
            color=color,
            fill_opacity=0.45,
            show=kind != "grid",
            tooltip_fields={
                "name": "Name",
                "risk": "Risk",
                "required_minutes": "Required min",
                "reached": "Reached",
            },
        )
        legend[f"blind: {label}"] = color


def _add_key_places(m: folium.Map, places: gpd.GeoDataFrame) -> None:
    if not len(places):
        return
    shown = places.assign(status=np.where(places["in_time"], "in time", "late"))
    for status, color in (("in time", "#1a9850"), ("late", "#7b3294")):
        part = shown[shown["status"] == status]
        if len(part):
            maps.add_points(
                m,
                part.assign(geometry=part.geometry.representative_point()),
                name=f"Key places {status}",
                color=color,
                radius=6,
                tooltip_fields={
                    "name": "Name",
                    "kind": "Kind",
                    "required_minutes": "Required min",
                    "reached_minutes": "Reached min",
                },
            )


def coverage_map(
    result: CoverageLayers,
    *,
    roads: gpd.GeoDataFrame,
    attribution: str | None = None,
    assets_url: str = "/static/vendor",
) -> str:
    """An offline HTML map of the reach bands, blind zones, sources and key places.

    Parameters
    ----------
    result
        A coverage result (bands, blind zones, key places, sources).
    roads
        The roads of the vector base map.
    attribution
        Data attribution shown on the map.
    assets_url
        URL prefix of the vendored Leaflet files (inlined in the page).

    Returns
    -------
    str
        A self-contained HTML document.
    """
    bounds = result.bands.total_bounds if len(result.bands) else roads.total_bounds
    bounds = (
        np.minimum(bounds, roads.total_bounds).tolist()[:2]
        + np.maximum(bounds, roads.total_bounds).tolist()[2:]
    )
    m = maps.base_map(bounds, roads=roads, attribution=attribution, assets_url=assets_url)
    legend: dict[str, str] = {}
    _add_bands(m, result.bands, legend)
    _add_blind_zones(m, result.blind_zones, legend)
    _add_key_places(m, result.key_places)
    maps.add_points(
        m,
        result.sources,
        name="Stations and posts",
        color=_SOURCE_COLOR,
        radius=7,
        tooltip_fields={"id": "Id", "source": "Source"},
    )
    legend["stations and posts"] = _SOURCE_COLOR
    maps.add_legend(m, "Coverage", legend)
    return maps.render_html(m, inline_assets=True)


def _hour_label(result: HourlyLayers, hour: pd.Timestamp) -> str:
    by_hour = result.table[result.table["minutes"] == result.reach_minutes].set_index("hour")
    share = by_hour["street_share"].get(hour) if hour in by_hour.index else None
    risk = by_hour["risk_share"].get(hour) if hour in by_hour.index else None
    parts = [f"{hour:%H:%M}-{hour + pd.Timedelta(hours=1):%H:%M}"]
    if share is not None and not pd.isna(share):
        parts.append(f"street {share:.0%}")
    if risk is not None and not pd.isna(risk):
        parts.append(f"risk {risk:.0%}")
    return " · ".join(parts) + f" within {result.reach_minutes:g} min"


def _hour_group(
    m: folium.Map,
    result: HourlyLayers,
    hour: pd.Timestamp,
    unit_colors: dict[str, str],
    *,
    show: bool,
) -> folium.FeatureGroup:
    """One hour's layers: the street the units reach, their paths, their positions."""
    group = folium.FeatureGroup(name=f"{hour:%H:%M}", show=show, control=False)
    group.add_to(m)
    reach = result.reach[result.reach["hour"] == hour]
    maps.add_lines(
        group,
        reach.assign(id=f"reach-{hour:%H%M}", label=f"{hour:%H:%M}"),
        name=f"Reach {hour:%H:%M}",
        color=_BAND_COLORS[1],
        weight=4,
        tooltip_fields={"label": "Hour from", "reached_km": "Street km reached"},
    )
    paths = result.paths[result.paths["hour"] == hour]
    if len(paths):
        maps.add_lines(
            group,
            paths.assign(id=[f"path-{u}" for u in paths["unit_id"]]),
            name=f"Paths {hour:%H:%M}",
            color_by="unit_id",
            colors=unit_colors,
            weight=2.5,
            tooltip_fields={"unit_id": "Unit"},
        )
    points = result.positions[result.positions["hour"] == hour]
    for unit, part in points.groupby("unit_id", sort=True):
        maps.add_points(
            group,
            part.assign(id=f"unit-{unit}"),
            name=f"{unit} {hour:%H:%M}",
            color=unit_colors.get(str(unit), _UNIT_COLORS[0]),
            radius=8,
            tooltip_fields={"unit_id": "Unit", "time": "At"},
        )
    return group


def hourly_coverage_map(
    result: HourlyLayers,
    *,
    roads: gpd.GeoDataFrame,
    attribution: str | None = None,
    assets_url: str = "/static/vendor",
    inline_assets: bool = False,
) -> str:
    """An offline HTML map of a plan's coverage with an hour slider.

    One layer group per hour holds the street the units reach within
    ``result.reach_minutes`` during that hour, their paths and their positions at the
    hour's start; the slider (a range input in the map) shows one hour at a time, the first
    at load. Stations and posts are always shown.

    Parameters
    ----------
    result
        A plan's coverage by hour.
    roads
        The roads of the vector base map.
    attribution
        Data attribution shown on the map.
    assets_url
        URL prefix of the vendored Leaflet files.
    inline_assets
        Embed the Leaflet files (a self-contained file).

    Returns
    -------
    str
        The HTML document.
    """
    frames = [f for f in (result.reach, result.paths, result.sources) if len(f)]
    extent = gpd.GeoSeries(pd.concat([f.geometry for f in frames])) if frames else roads.geometry
    bounds = [float(v) for v in extent.total_bounds]
    m = maps.base_map(bounds, roads=roads, attribution=attribution, assets_url=assets_url)
    units = sorted(set(result.positions["unit_id"]) | set(result.paths["unit_id"]))
    unit_colors = {u: _UNIT_COLORS[i % len(_UNIT_COLORS)] for i, u in enumerate(units)}
    groups, labels = [], []
    for i, hour in enumerate(result.reach["hour"]):
        groups.append(_hour_group(m, result, hour, unit_colors, show=i == 0))
        labels.append(_hour_label(result, hour))
    maps.add_points(
        m,
        result.sources,
        name="Stations and posts",
        color=_SOURCE_COLOR,
        radius=6,
        tooltip_fields={"id": "Id", "source": "Source"},
    )
    if groups:
        maps.add_layer_slider(m, groups, labels, title=f"Plan {result.plan_id}: hour")
    legend = {f"street reached in {result.reach_minutes:g} min by units": _BAND_COLORS[1]}
    legend.update({f"unit {u}": c for u, c in unit_colors.items()})
    legend["stations and posts"] = _SOURCE_COLOR
    maps.add_legend(m, "Coverage by hour", legend)
    return maps.render_html(m, inline_assets=inline_assets)
