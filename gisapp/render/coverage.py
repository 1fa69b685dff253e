"""Coverage maps: the 1-3-5 minute reach bands and blind zones, and a plan's coverage hour
by hour with an hour slider. Offline HTML (Leaflet served locally or inlined)."""

from __future__ import annotations

from typing import Protocol

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from gisapp.render import maps
from gisapp.render.area_maps import add_blind_zones
from gisapp.render.colors import BLIND_COLOR, STATION_COLOR, UnitStyle, unit_styles

__all__ = ["CoverageLayers", "HourlyLayers", "coverage_map", "hourly_coverage_map"]

#: Reach bands, fastest first: greens, never a warning colour (those mark blind zones).
_BAND_COLORS = ("#006d2c", "#31a354", "#74c476", "#a1d99b", "#c7e9c0")
_IN_TIME_COLOR = "#1b7837"


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
            pane="gisapp-zones",
        )


def _add_key_places(m: folium.Map, places: gpd.GeoDataFrame) -> None:
    if not len(places):
        return
    shown = places.assign(status=np.where(places["in_time"], "in time", "late"))
    for status, color in (("in time", _IN_TIME_COLOR), ("late", BLIND_COLOR)):
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
    hatched: dict[str, float] = {}
    _add_bands(m, result.bands, legend)
    if len(result.blind_zones):
        legend.update(add_blind_zones(m, result.blind_zones, by_kind=True, hatched=hatched))
    _add_key_places(m, result.key_places)
    maps.add_points(
        m,
        result.sources,
        name="Stations and posts",
        color=STATION_COLOR,
        radius=7,
        tooltip_fields={"id": "Id", "source": "Source"},
        pane="gisapp-stations",
    )
    legend["stations and posts"] = STATION_COLOR
    maps.add_legend(m, "Coverage", legend, hatched=hatched)
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
    styles: dict[str, UnitStyle],
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
        pane="gisapp-zones",
    )
    paths = result.paths[result.paths["hour"] == hour]
    if len(paths):
        maps.add_lines(
            group,
            paths.assign(id=[f"path-{u}" for u in paths["unit_id"]]),
            name=f"Paths {hour:%H:%M}",
            color_by="unit_id",
            colors={u: s.color for u, s in styles.items()},
            dashes={u: s.dash for u, s in styles.items()},
            weight=2.5,
            tooltip_fields={"unit_id": "Unit"},
        )
    points = result.positions[result.positions["hour"] == hour]
    for unit, part in points.groupby("unit_id", sort=True):
        maps.add_points(
            group,
            part.assign(id=f"unit-{unit}"),
            name=f"{unit} {hour:%H:%M}",
            color=styles[str(unit)].color if str(unit) in styles else STATION_COLOR,
            radius=8,
            tooltip_fields={"unit_id": "Unit", "time": "At"},
            pane="gisapp-stops",
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
    styles = unit_styles(str(u) for u in units)
    groups, labels = [], []
    for i, hour in enumerate(result.reach["hour"]):
        groups.append(_hour_group(m, result, hour, styles, show=i == 0))
        labels.append(_hour_label(result, hour))
    maps.add_points(
        m,
        result.sources,
        name="Stations and posts",
        color=STATION_COLOR,
        radius=6,
        tooltip_fields={"id": "Id", "source": "Source"},
        pane="gisapp-stations",
    )
    if groups:
        maps.add_layer_slider(m, groups, labels, title=f"Plan {result.plan_id}: hour")
    legend = {f"street reached in {result.reach_minutes:g} min by units": _BAND_COLORS[1]}
    legend.update({f"unit {u}": s.color for u, s in styles.items()})
    legend["stations and posts"] = STATION_COLOR
    maps.add_legend(m, "Coverage by hour", legend)
    return maps.render_html(m, inline_assets=inline_assets)
