"""Coverage maps: the 1-3-5 minute reach bands and blind zones, and a plan's coverage hour
by hour with an hour slider. Offline HTML (Leaflet served locally or inlined)."""

from __future__ import annotations

from typing import Protocol

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from gisapp.outputs.words import key_place_kind_name, source_name
from gisapp.render import maps
from gisapp.render.area_maps import add_blind_zones
from gisapp.render.colors import BLIND_COLOR, STATION_COLOR, UnitStyle, unit_styles
from layers.i18n import _, format_number

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
        minutes = _g(band)
        legend[_("%(minutes)s min reach", minutes=minutes)] = color
        maps.add_polygons(
            m,
            bands[bands["minutes"] == band].assign(id=f"reach-{band:g}"),
            name=_("%(minutes)s min reach", minutes=minutes),
            color=color,
            fill_opacity=0.25,
            weight=0.5,
            tooltip_fields={"minutes": _("Minutes"), "reached_km": _("Street km")},
            pane="gisapp-zones",
        )


def _add_key_places(m: folium.Map, places: gpd.GeoDataFrame) -> None:
    if not len(places):
        return
    shown = places.assign(status=np.where(places["in_time"], "in time", "late"))
    if "kind" in shown.columns:  # the tooltip reads the kind in words
        shown = shown.assign(kind=shown["kind"].map(key_place_kind_name))
    names = {"in time": _("Key places in time"), "late": _("Key places late")}
    for status, color in (("in time", _IN_TIME_COLOR), ("late", BLIND_COLOR)):
        part = shown[shown["status"] == status]
        if len(part):
            maps.add_points(
                m,
                part.assign(geometry=part.geometry.representative_point()),
                name=names[status],
                color=color,
                radius=6,
                tooltip_fields={
                    "name": _("Name"),
                    "kind": _("Kind"),
                    "required_minutes": _("Required min"),
                    "reached_minutes": _("Reached min"),
                },
            )


def coverage_map(
    result: CoverageLayers,
    *,
    roads: gpd.GeoDataFrame | maps.RoadsBase,
    attribution: str | None = None,
    assets_url: str = "/static/vendor",
) -> str:
    """An offline HTML map of the reach bands, blind zones, sources and key places.

    Parameters
    ----------
    result
        A coverage result (bands, blind zones, key places, sources).
    roads
        The roads of the vector base map, or the streets :func:`maps.roads_base` prepared
        (a command drawing both coverage maps prepares them once).
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
        _sources_shown(result.sources),
        name=_("Stations and posts"),
        color=STATION_COLOR,
        radius=7,
        tooltip_fields={"id": _("Id"), "source": _("Starting point")},
        pane="gisapp-stations",
    )
    legend[_("stations and posts")] = STATION_COLOR
    maps.add_legend(m, _("Coverage"), legend, hatched=hatched)
    return maps.render_html(m, inline_assets=True)


def _sources_shown(sources: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``sources`` with their ``source`` (``stations``, ``duty_points``...) in words."""
    if "source" not in sources.columns:
        return sources
    return sources.assign(source=sources["source"].map(source_name))


def _g(minutes: float) -> str:
    """Minutes as few digits as they need (5, 1.5)."""
    return f"{minutes:g}"


def _clock(hour: pd.Timestamp) -> str:
    return f"{hour:%H:%M}"


def _percent(share: float) -> str:
    return _("%(percent)s%%", percent=format_number(100 * float(share)))


def _hour_label(result: HourlyLayers, hour: pd.Timestamp) -> str:
    by_hour = result.table[result.table["minutes"] == result.reach_minutes].set_index("hour")
    share = by_hour["street_share"].get(hour) if hour in by_hour.index else None
    risk = by_hour["risk_share"].get(hour) if hour in by_hour.index else None
    parts = [f"{hour:%H:%M}-{hour + pd.Timedelta(hours=1):%H:%M}"]
    if share is not None and not pd.isna(share):
        parts.append(_("street %(share)s", share=_percent(share)))
    if risk is not None and not pd.isna(risk):
        parts.append(_("risk %(share)s", share=_percent(risk)))
    return _(
        "%(hour_and_shares)s within %(minutes)s min",
        hour_and_shares=" · ".join(parts),
        minutes=_g(result.reach_minutes),
    )


def _hour_group(
    m: folium.Map,
    result: HourlyLayers,
    hour: pd.Timestamp,
    styles: dict[str, UnitStyle],
    *,
    show: bool,
) -> folium.FeatureGroup:
    """One hour's layers: the street the units reach, their paths, their positions."""
    clock = _clock(hour)
    group = folium.FeatureGroup(name=clock, show=show, control=False)
    group.add_to(m)
    reach = result.reach[result.reach["hour"] == hour]
    maps.add_lines(
        group,
        reach.assign(id=f"reach-{hour:%H%M}", label=clock),
        name=_("Reach %(hour)s", hour=clock),
        color=_BAND_COLORS[1],
        weight=4,
        tooltip_fields={"label": _("Hour from"), "reached_km": _("Street km reached")},
        pane="gisapp-zones",
    )
    paths = result.paths[result.paths["hour"] == hour]
    if len(paths):
        maps.add_lines(
            group,
            paths.assign(id=[f"path-{u}" for u in paths["unit_id"]]),
            name=_("Paths %(hour)s", hour=clock),
            color_by="unit_id",
            colors={u: s.color for u, s in styles.items()},
            dashes={u: s.dash for u, s in styles.items()},
            weight=2.5,
            tooltip_fields={"unit_id": _("Unit")},
        )
    points = result.positions[result.positions["hour"] == hour]
    for unit, part in points.groupby("unit_id", sort=True):
        maps.add_points(
            group,
            part.assign(id=f"unit-{unit}"),
            name=f"{unit} {hour:%H:%M}",
            color=styles[str(unit)].color if str(unit) in styles else STATION_COLOR,
            radius=8,
            tooltip_fields={"unit_id": _("Unit"), "time": _("At")},
            pane="gisapp-stops",
        )
    return group


def hourly_coverage_map(
    result: HourlyLayers,
    *,
    roads: gpd.GeoDataFrame | maps.RoadsBase,
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
        The roads of the vector base map, or the streets :func:`maps.roads_base` prepared
        (a command drawing both coverage maps prepares them once).
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
    extent = (
        gpd.GeoSeries(pd.concat([f.geometry for f in frames])).total_bounds
        if frames
        else roads.total_bounds
    )
    bounds = [float(v) for v in extent]
    m = maps.base_map(bounds, roads=roads, attribution=attribution, assets_url=assets_url)
    units = sorted(set(result.positions["unit_id"]) | set(result.paths["unit_id"]))
    styles = unit_styles(str(u) for u in units)
    groups, labels = [], []
    for i, hour in enumerate(result.reach["hour"]):
        groups.append(_hour_group(m, result, hour, styles, show=i == 0))
        labels.append(_hour_label(result, hour))
    maps.add_points(
        m,
        _sources_shown(result.sources),
        name=_("Stations and posts"),
        color=STATION_COLOR,
        radius=6,
        tooltip_fields={"id": _("Id"), "source": _("Starting point")},
        pane="gisapp-stations",
    )
    if groups:
        maps.add_layer_slider(
            m, groups, labels, title=_("Plan %(plan)s: hour", plan=result.plan_id)
        )
    legend = {
        _(
            "street reached in %(minutes)s min by units", minutes=_g(result.reach_minutes)
        ): _BAND_COLORS[1]
    }
    legend.update({_("unit %(unit)s", unit=u): s.color for u, s in styles.items()})
    legend[_("stations and posts")] = STATION_COLOR
    maps.add_legend(m, _("Coverage by hour"), legend)
    return maps.render_html(m, inline_assets=inline_assets)
