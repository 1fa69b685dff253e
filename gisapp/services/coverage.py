"""Coverage, blind zones (盲区) and duty-point placement for a workspace.

The application side of :mod:`routing.coverage` and :mod:`routing.placement`: read the
layers of a workspace, build the network and the risk, run the library, and turn its
answers into KPIs, the stable output files (DESIGN §5) and an offline map.

* :func:`compute_coverage` → :class:`CoverageResult`; :func:`write_coverage` writes
  ``reach_<m>min.geojson``, ``blind_zones.geojson``, ``kpis.json`` and
  ``coverage_map.html``.
* :func:`propose_posts` → :class:`PlacementResult`; :func:`write_placement` writes
  ``duty_points.geojson`` and ``kpis.json``.
* :func:`school_zones` draws the 200 m surroundings (校园周边200米) of schools and
  kindergartens that lack a prevention zone.
* :func:`read_plan_positions` reads a plan's ``stops.csv`` as timed unit positions for the
  coverage by hour of a shift.
* :func:`plan_hourly_coverage` → :class:`HourlyCoverage`: a saved plan's coverage by hour
  (units along their routes, stations fixed); :func:`hourly_coverage_map` draws it with an
  hour slider.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.ops

from gisapp.errors import WorkspaceError
from gisapp.render import maps
from gisapp.services.network import workspace_network
from gisapp.settings import DEFAULT_KEY_PLACE_MINUTES
from gisapp.store.geopackage import Workspace
from gisapp.views.pages import attribution_for
from layers.schema import STORAGE_CRS
from routing.coverage import (
    DEFAULT_CAMERA_RANGE_M,
    PLACEMENT_MODELS,
    blind_zone_polygons,
    camera_coverage,
    camera_sectors,
    candidate_sites,
    coverage_by_hour,
    coverage_segments,
    locate_places,
    node_weights,
    place_times,
    placement_input,
    reach_by_hour,
)
from routing.errors import RoutingError
from routing.network import StreetNetwork
from routing.reach import isochrones, reach_nodes, reached_lines
from routing.risk import segment_risk
from routing.snap import nearest_nodes

logger = logging.getLogger(__name__)

#: Radius of the surroundings of a school or kindergarten (校园周边200米).
SCHOOL_ZONE_RADIUS_M = 200.0
#: Key-place kinds that get a surroundings zone.
SCHOOL_KINDS = ("school", "kindergarten")
#: Kind of the prevention zones drawn around schools.
SCHOOL_ZONE_KIND = "school_surroundings"
#: Layer ``--save`` writes proposed posts to; the user's ``duty_points`` is never touched.
PROPOSED_LAYER = "proposed_duty_points"
#: A grid is a blind zone when at least this share of its street length is outside its circle.
GRID_BLIND_SHARE = 0.5
#: Half-size of the drawn area of a point key place in the blind-zone file.
_PLACE_MARK_M = 50.0
#: Decimals of lon/lat in the GeoJSON outputs: 6 is about 0.1 m, finer only costs bytes.
_GEOJSON_DECIMALS = 6
_BAND_COLORS = ("#1a9850", "#91cf60", "#d9ef8b", "#fee08b", "#fc8d59")
_BLIND_COLORS = {
    "street": "#d73027",
    "grid": "#f46d43",
    "key_place": "#7b3294",
    "prevention_zone": "#c51b7d",
}


# -- inputs ---------------------------------------------------------------------------------


def _points(ws: Workspace, name: str) -> gpd.GeoDataFrame:
    frame = ws.layer(name, required=False)
    if not isinstance(frame, gpd.GeoDataFrame):
        return gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=STORAGE_CRS), crs=STORAGE_CRS)
    frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty].copy()
    if "id" not in frame.columns:
        frame["id"] = [f"{name}-{i + 1}" for i in range(len(frame))]
    return frame


def read_posts(path: str | Path, ws: Workspace | None = None) -> gpd.GeoDataFrame:
    """Read extra duty points from a file (e.g. ``duty_points.geojson``) or a workspace layer.

    Raises
    ------
    WorkspaceError
        If the file or layer is missing, or holds no points.
    """
    text = str(path)
    if ws is not None and not Path(text).exists() and ws.has_layer(text):
        posts = _points(ws, text)
    elif Path(text).is_file():
        posts = gpd.read_file(text)
        if posts.crs is None:
            posts = posts.set_crs(STORAGE_CRS)
    else:
        raise WorkspaceError(
            f"posts {text!r} is neither a file nor a layer of the workspace; give the "
            "duty_points.geojson written by 'gisapp place' or a layer name"
        )
    posts = posts[posts.geometry.notna() & ~posts.geometry.is_empty]
    if len(posts) == 0 or (posts.geom_type != "Point").any():
        raise WorkspaceError(f"posts {text!r} should hold one or more points; it holds none")
    posts = posts.copy()
    if "id" not in posts.columns:
        posts["id"] = [f"post-{i + 1}" for i in range(len(posts))]
    posts["id"] = posts["id"].astype(str)
    return posts


def key_place_required_minutes(
    key_places: pd.DataFrame,
    *,
    minutes_by_kind: Mapping[str, float] | None = None,
    default_minutes: float = 5.0,
) -> pd.Series:
    """Required response minutes of every key place.

    The layer's own ``required_minutes`` wins; else the kind's minutes from the settings
    (``key_place_minutes``: schools and hospitals 3, police 1, malls 5...); else
    ``default_minutes``.
    """
    by_kind = dict(DEFAULT_KEY_PLACE_MINUTES if minutes_by_kind is None else minutes_by_kind)
    kinds = key_places["kind"].astype(str).str.lower() if "kind" in key_places else None
    from_kind = (
        kinds.map(lambda k: by_kind.get(k, default_minutes))
        if kinds is not None
        else pd.Series(default_minutes, index=key_places.index)
    )
    own = (
        pd.to_numeric(key_places["required_minutes"], errors="coerce")
        if "required_minutes" in key_places
        else pd.Series(np.nan, index=key_places.index)
    )
    return own.fillna(from_kind).astype(float).rename("required_minutes")


def school_zones(
    key_places: gpd.GeoDataFrame,
    zones: gpd.GeoDataFrame | None,
    *,
    radius_m: float = SCHOOL_ZONE_RADIUS_M,
    kinds: Sequence[str] = SCHOOL_KINDS,
    minutes_by_kind: Mapping[str, float] | None = None,
) -> gpd.GeoDataFrame:
    """Prevention zones of ``radius_m`` around schools and kindergartens that have none.

    A place has a zone when an existing prevention zone contains it.

    Returns
    -------
    GeoDataFrame
        Only the new zones (EPSG:4326): ``id`` (``z-<place id>``), ``name``, ``kind``
        (``school_surroundings``), ``required_minutes`` (the place's), ``priority`` (1).

    Raises
    ------
    WorkspaceError
        If ``radius_m`` is not positive.
    """
    if not radius_m > 0:
        raise WorkspaceError(f"'radius_m' should be > 0 metres, got {radius_m!r}")
    columns = ["id", "name", "kind", "required_minutes", "priority"]
    empty = gpd.GeoDataFrame(
        {c: [] for c in columns}, geometry=gpd.GeoSeries([], crs=STORAGE_CRS), crs=STORAGE_CRS
    )
    if len(key_places) == 0 or "kind" not in key_places.columns:
        return empty
    wanted = key_places[key_places["kind"].astype(str).str.lower().isin([k.lower() for k in kinds])]
    if len(wanted) == 0:
        return empty
    metric_crs = wanted.estimate_utm_crs()
    centres = wanted.to_crs(metric_crs).geometry.representative_point()
    if zones is not None and len(zones):
        existing = zones.to_crs(metric_crs).geometry.to_numpy()
        tree = shapely.STRtree(existing)
        inside, _ = tree.query(centres.to_numpy(), predicate="within")
        has_zone = np.zeros(len(wanted), dtype=bool)
        has_zone[inside] = True
    else:
        has_zone = np.zeros(len(wanted), dtype=bool)
    lacking = wanted[~has_zone]
    if len(lacking) == 0:
        return empty
    required = key_place_required_minutes(lacking, minutes_by_kind=minutes_by_kind)
    names = lacking["name"].astype(str) if "name" in lacking else lacking["id"].astype(str)
    new = gpd.GeoDataFrame(
        {
            "id": [f"z-{i}" for i in lacking["id"].astype(str)],
            "name": [f"{radius_m:g} m around {n}" for n in names],
            "kind": SCHOOL_ZONE_KIND,
            "required_minutes": required.to_numpy(),
            "priority": 1,
        },
        geometry=centres[~has_zone].buffer(radius_m).to_numpy(),
        crs=metric_crs,
    )
    logger.info("added %d school surroundings zones of %g m", len(new), radius_m)
    return new.to_crs(STORAGE_CRS)


def workspace_risk(
    ws: Workspace,
    network: StreetNetwork,
    *,
    window: tuple[str, str] | None = None,
    preventable_only: bool = True,
) -> pd.Series:
    """Risk per street segment from the workspace's incidents (zeros when it has none)."""
    incidents = ws.layer("incidents", required=False)
    if not isinstance(incidents, gpd.GeoDataFrame) or len(incidents) == 0:
        logger.info("workspace has no incidents: every street has zero risk")
        series = pd.Series(np.zeros(network.n_segments), name="risk")
        series.attrs["incidents"] = 0
        return series
    return segment_risk(
        network,
        incidents,
        window=window,
        timezone=ws.timezone,
        preventable_only=preventable_only,
    )


def read_plan_positions(path: str | Path, *, timezone: str = "UTC") -> pd.DataFrame:
    """Timed positions of the units of a plan, from its ``stops.csv``.

    Every stop gives two positions, on arrival and on departure (the unit stays put while
    it dwells); between stops :func:`routing.coverage.sample_positions` moves it evenly.

    Parameters
    ----------
    path
        ``stops.csv`` or the plan output folder holding it.
    timezone
        Time zone of times written without an offset.

    Returns
    -------
    DataFrame
        ``unit_id``, ``time``, ``x`` (lon), ``y`` (lat), EPSG:4326.

    Raises
    ------
    WorkspaceError
        If the file is missing or lacks the stable columns.
    """
    file = Path(path)
    if file.is_dir():
        file = file / "stops.csv"
    if not file.is_file():
        raise WorkspaceError(
            f"plan {str(path)!r} has no stops.csv; give the --out folder of 'gisapp plan' or "
            "its stops.csv"
        )
    stops = pd.read_csv(file)
    needed = ["unit_id", "lon", "lat", "arrive", "depart"]
    missing = [c for c in needed if c not in stops.columns]
    if missing:
        raise WorkspaceError(
            f"{file} lacks column(s) {', '.join(missing)}; a plan's stops.csv has unit_id, "
            "seq, kind, name, lon, lat, arrive, depart, dwell_min, street"
        )
    if "seq" in stops.columns:
        stops = stops.sort_values(["unit_id", "seq"], kind="stable")
    rows = []
    for column in ("arrive", "depart"):
        times = pd.to_datetime(stops[column], errors="coerce", format="ISO8601", utc=False)
        part = pd.DataFrame(
            {
                "unit_id": stops["unit_id"].astype(str),
                "time": times,
                "x": stops["lon"],
                "y": stops["lat"],
            }
        )
        rows.append(part[part["time"].notna()])
    positions = pd.concat(rows, ignore_index=True)
    if len(positions) == 0:
        raise WorkspaceError(f"{file} has no arrive or depart times; re-run 'gisapp plan'")
    times = (
        pd.to_datetime(positions["time"], utc=True)
        if positions["time"].dtype == object
        else positions["time"]
    )
    if getattr(times.dt, "tz", None) is None:
        times = times.dt.tz_localize(timezone)
    positions["time"] = times.dt.tz_convert(timezone)
    return positions.sort_values(["unit_id", "time"], ignore_index=True)


# -- coverage ------------------------------------------------------------------------------


@dataclass
class CoverageResult:
    """What :func:`compute_coverage` found; frames are in EPSG:4326 unless said otherwise.

    Attributes
    ----------
    bands
        One reach polygon per minute band (``minutes``, ``reached_km``, ``area_km2``...).
    blind_zones
        Ranked blind zones: ``id``, ``kind`` (street, grid, key_place, prevention_zone),
        ``name``, ``risk``, ``required_minutes``, ``reached_minutes`` (None: never reached),
        ``rank`` (by risk within the kind), plus sizes.
    segments
        Per segment (network CRS) reach times, risk and blind length.
    key_places
        Key places with ``required_minutes``, ``reached_minutes`` and ``in_time``.
    sources
        The stations and posts the reach starts from.
    hourly
        Coverage per hour of the plan's shift, or None.
    kpis
        The figures of ``kpis.json``.
    """

    network: StreetNetwork
    bands: gpd.GeoDataFrame
    blind_zones: gpd.GeoDataFrame
    segments: pd.DataFrame
    key_places: gpd.GeoDataFrame
    prevention_zones: gpd.GeoDataFrame
    sources: gpd.GeoDataFrame
    cameras: gpd.GeoSeries
    hourly: pd.DataFrame | None
    kpis: dict[str, Any] = field(default_factory=dict)


def _sources(ws: Workspace, extra_posts: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    parts = []
    for layer in ("stations", "duty_points"):
        frame = _points(ws, layer)
        if len(frame):
            parts.append(
                gpd.GeoDataFrame(
                    {"id": frame["id"].astype(str).to_numpy(), "source": layer},
                    geometry=frame.geometry.to_crs(STORAGE_CRS).to_numpy(),
                    crs=STORAGE_CRS,
                )
            )
    if extra_posts is not None and len(extra_posts):
        parts.append(
            gpd.GeoDataFrame(
                {"id": extra_posts["id"].astype(str).to_numpy(), "source": "posts"},
                geometry=extra_posts.geometry.to_crs(STORAGE_CRS).to_numpy(),
                crs=STORAGE_CRS,
            )
        )
    if not parts:
        raise WorkspaceError(
            f"workspace {ws.path.name!r} has no stations or duty points to measure coverage "
            "from; import a 'stations' layer or pass posts with --with-posts"
        )
    sources = pd.concat(parts, ignore_index=True)
    # a proposed post file repeats the fixed stations: one source per place is enough
    key = sources.geometry.to_wkb()
    return gpd.GeoDataFrame(sources[~key.duplicated()].reset_index(drop=True), crs=STORAGE_CRS)


def _minutes_or_none(seconds: float) -> float | None:
    return round(seconds / 60.0, 2) if math.isfinite(seconds) else None


def compute_coverage(
    ws: Workspace,
    *,
    minutes: Sequence[float] = (1, 3, 5),
    street_minutes: float = 3.0,
    key_place_minutes: Mapping[str, float] | None = None,
    mode: str = "car",
    extra_posts: gpd.GeoDataFrame | None = None,
    plan_positions: pd.DataFrame | None = None,
    add_school_zones: bool = False,
    buffer_m: float = 25.0,
    camera_range_m: float = DEFAULT_CAMERA_RANGE_M,
    risk_window: tuple[str, str] | None = None,
) -> CoverageResult:
    """Reach bands, blind zones and KPIs of a workspace's stations and posts.

    Parameters
    ----------
    ws
        The workspace.
    minutes
        Rapid-response bands (快反圈), e.g. 1, 3, 5.
    street_minutes
        Every street should be reached within this; later pieces are street blind zones.
    key_place_minutes
        Required minutes per key-place kind (settings ``key_place_minutes``); the layer's
        ``required_minutes`` wins.
    mode
        Travel mode of the responders.
    extra_posts
        Proposed or temporary duty points added to the stations and duty points.
    plan_positions
        Timed unit positions of a shift plan (:func:`read_plan_positions`): adds the
        coverage by hour.
    add_school_zones
        Add 200 m surroundings zones for schools and kindergartens that lack one.
    buffer_m
        Half-width of reach and blind-zone polygons around the streets.
    camera_range_m
        Range of cameras whose layer gives none.
    risk_window
        Shift window of the risk (``("22:00", "06:00")``), or None for every hour.

    Returns
    -------
    CoverageResult

    Raises
    ------
    WorkspaceError
        If the workspace lacks roads, or has no station, duty point or given post.
    RoutingError
        If a band, a layer or a point cannot be used on the network.
    """
    bands_min = sorted({float(m) for m in minutes})
    if not bands_min or bands_min[0] <= 0:
        raise RoutingError(f"'minutes' should be positive numbers, got {list(minutes)!r}")
    if not street_minutes > 0:
        raise RoutingError(f"'street_minutes' should be > 0, got {street_minutes!r}")
    network = workspace_network(ws, mode)
    sources = _sources(ws, extra_posts)
    source_nodes = np.asarray(nearest_nodes(network, sources.set_index("id").geometry))
    risk_series = workspace_risk(ws, network, window=risk_window)
    risk = risk_series.to_numpy()
    total_risk = float(risk.sum())
    reach = reach_nodes(network, source_nodes)

    cameras_layer = _points(ws, "cameras")
    sectors = camera_sectors(cameras_layer, crs=network.crs, default_range_m=camera_range_m)
    seen_m = camera_coverage(network, sectors).to_numpy()

    street_required_s = street_minutes * 60.0
    segments = coverage_segments(network, reach, required_s=street_required_s, weights=risk)
    segments["camera_length_m"] = seen_m

    # key places
    places = _points(ws, "key_places")
    places = places.to_crs(STORAGE_CRS) if len(places) else places
    required_min = key_place_required_minutes(places, minutes_by_kind=key_place_minutes)
    if len(places):
        located = locate_places(network, places)
        place_s = place_times(network, reach, located)
    else:
        located = None
        place_s = np.empty(0)
    places = places.assign(
        required_minutes=required_min.to_numpy(),
        reached_minutes=[_minutes_or_none(s) for s in place_s],
        in_time=place_s <= required_min.to_numpy() * 60.0,
    )

    # prevention zones
    zones = ws.layer("prevention_zones", required=False)
    zones = (
        zones
        if isinstance(zones, gpd.GeoDataFrame)
        else gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=STORAGE_CRS), crs=STORAGE_CRS)
    )
    added = (
        school_zones(places, zones, minutes_by_kind=key_place_minutes) if add_school_zones else None
    )
    if added is not None and len(added):
        zones = pd.concat([zones.to_crs(STORAGE_CRS), added], ignore_index=True)
        zones = gpd.GeoDataFrame(zones, crs=STORAGE_CRS)
    zone_rows = _zone_reach(network, reach, zones, risk, street_minutes)

    # reach bands
    band_frame = isochrones(network, source_nodes, minutes=bands_min, buffer_m=buffer_m)
    band_kpis = []
    for band in bands_min:
        seg = coverage_segments(network, reach, required_s=band * 60.0, weights=risk)
        band_kpis.append(
            {
                "minutes": band,
                "file": f"reach_{band:g}min.geojson",
                "reached_km": round(float(seg["reached_length_m"].sum()) / 1000, 3),
                "street_share": round(
                    float(seg["reached_length_m"].sum()) / (network.length_km * 1000), 4
                ),
                "risk_share": round(float(seg["covered_weight"].sum()) / total_risk, 4)
                if total_risk > 0
                else None,
                "key_places_share": round(float(np.mean(place_s <= band * 60.0)), 4)
                if len(place_s)
                else None,
                "area_km2": round(
                    float(band_frame.loc[band_frame["minutes"] == band, "area_km2"].iloc[0]), 4
                ),
            }
        )

    # blind zones
    street_zones = blind_zone_polygons(network, segments, buffer_m=buffer_m, cameras=sectors)
    blind = _blind_table(
        network, ws, street_zones, segments, places, located, zones, zone_rows, street_minutes
    )

    hourly = None
    if plan_positions is not None:
        hourly = _hourly(network, plan_positions, bands_min, risk, located, places, source_nodes)

    blind_streets = blind[blind["kind"] == "street"]
    kpis: dict[str, Any] = {
        "workspace": ws.name,
        "timezone": ws.timezone,
        "mode": mode,
        "network_km": round(network.length_km, 3),
        "sources": {
            kind: int((sources["source"] == kind).sum())
            for kind in ("stations", "duty_points", "posts")
        },
        "risk": {
            "incidents": int(risk_series.attrs.get("incidents", 0)),
            "total": round(total_risk, 3),
            "window": None if risk_window is None else "-".join(risk_window),
        },
        "bands": band_kpis,
        "street_minutes": street_minutes,
        "blind": {
            "street_zones": len(blind_streets),
            "street_length_km": round(float(blind_streets["length_m"].sum()) / 1000, 3),
            "street_area_km2": round(float(blind_streets["area_m2"].sum()) / 1e6, 4),
            "street_risk": round(float(blind_streets["risk"].sum()), 3),
            "street_risk_share": round(float(blind_streets["risk"].sum()) / total_risk, 4)
            if total_risk > 0
            else None,
            "grids": int((blind["kind"] == "grid").sum()),
            "key_places": int((blind["kind"] == "key_place").sum()),
            "prevention_zones": int((blind["kind"] == "prevention_zone").sum()),
        },
        "key_places": _key_place_kpis(places),
        "prevention_zones": {
            "count": len(zones),
            "in_time": int(zone_rows["in_time"].sum()) if len(zone_rows) else 0,
            "added_school_zones": 0 if added is None else len(added),
        },
        "cameras": {
            "count": len(cameras_layer),
            "street_km_seen": round(float(seen_m.sum()) / 1000, 3),
            "risk_share_seen": round(
                float(
                    (
                        risk
                        * np.divide(
                            seen_m,
                            network.segment_length_m,
                            out=np.zeros_like(seen_m),
                            where=network.segment_length_m > 0,
                        )
                    ).sum()
                )
                / total_risk,
                4,
            )
            if total_risk > 0 and len(cameras_layer)
            else None,
        },
        "hourly": None if hourly is None else _hourly_kpis(hourly),
    }
    if total_risk <= 0:
        kpis["risk"]["note"] = (
            "no incident risk on the streets (no incidents, or none preventable in the "
            "window): risk shares are not given"
        )
    return CoverageResult(
        network=network,
        bands=band_frame.to_crs(STORAGE_CRS),
        blind_zones=blind,
        segments=segments,
        key_places=places,
        prevention_zones=zones,
        sources=sources,
        cameras=sectors,
        hourly=hourly,
        kpis=kpis,
    )


def _key_place_kpis(places: gpd.GeoDataFrame) -> dict[str, Any]:
    if len(places) == 0:
        return {
            "count": 0,
            "in_time": 0,
            "share_in_time": None,
            "note": "the workspace has no key places: import a 'key_places' layer (schools, "
            "hospitals...) to measure their required response minutes",
        }
    kinds = (
        places["kind"].astype(str) if "kind" in places else pd.Series("place", index=places.index)
    )
    by_kind = {
        str(kind): {
            "count": len(group),
            "in_time": int(group["in_time"].sum()),
            "required_minutes": sorted({float(m) for m in group["required_minutes"]}),
        }
        for kind, group in places.groupby(kinds)
    }
    return {
        "count": len(places),
        "in_time": int(places["in_time"].sum()),
        "share_in_time": round(float(places["in_time"].mean()), 4),
        "by_kind": by_kind,
    }


def _zone_reach(
    network: StreetNetwork,
    reach: Any,
    zones: gpd.GeoDataFrame,
    risk: np.ndarray,
    default_minutes: float,
) -> pd.DataFrame:
    """Per prevention zone: the time to reach it (its first node), its risk, in time or not."""
    if len(zones) == 0:
        return pd.DataFrame(columns=["required_minutes", "reached_s", "risk", "in_time"])
    metric = zones.to_crs(network.crs).geometry.to_numpy()
    required = (
        (
            pd.to_numeric(zones["required_minutes"], errors="coerce")
            if "required_minutes" in zones
            else pd.Series(np.nan, index=zones.index)
        )
        .fillna(default_minutes)
        .to_numpy(dtype=float)
    )
    midpoints = shapely.line_interpolate_point(network.segment_geometry, 0.5, normalized=True)
    reached_s = np.full(len(zones), np.inf)
    zone_risk = np.zeros(len(zones))
    for i, polygon in enumerate(metric):
        inside = shapely.contains_xy(polygon, network.node_x, network.node_y)
        if inside.any():
            reached_s[i] = float(reach.time_s[inside].min())
        else:
            _, node = network.node_tree.query(
                shapely.get_coordinates(polygon.representative_point())[0]
            )
            reached_s[i] = float(reach.time_s[int(node)])
        zone_risk[i] = float(risk[shapely.contains(polygon, midpoints)].sum())
    return pd.DataFrame(
        {
            "required_minutes": required,
            "reached_s": reached_s,
            "risk": zone_risk,
            "in_time": reached_s <= required * 60.0,
        },
        index=zones.index,
    )


def _blind_table(
    network: StreetNetwork,
    ws: Workspace,
    street_zones: gpd.GeoDataFrame,
    segments: pd.DataFrame,
    places: gpd.GeoDataFrame,
    located: pd.DataFrame | None,
    zones: gpd.GeoDataFrame,
    zone_rows: pd.DataFrame,
    street_minutes: float,
) -> gpd.GeoDataFrame:
    crs = network.crs
    parts: list[pd.DataFrame] = []
    if len(street_zones):
        parts.append(
            pd.DataFrame(
                {
                    "id": [f"street-{z}" for z in street_zones["zone"]],
                    "kind": "street",
                    "name": [f"Blind streets {z}" for z in street_zones["zone"]],
                    "risk": street_zones["risk"].to_numpy(),
                    "required_minutes": street_minutes,
                    "reached_minutes": [_minutes_or_none(s) for s in street_zones["reached_s"]],
                    "length_m": street_zones["length_m"].to_numpy(),
                    "area_m2": street_zones["area_m2"].to_numpy(),
                    "geometry": street_zones.geometry.to_numpy(),
                }
            )
        )
    grids = ws.layer("grids", required=False)
    if isinstance(grids, gpd.GeoDataFrame) and len(grids):
        metric = grids.to_crs(crs)
        midpoints = shapely.line_interpolate_point(network.segment_geometry, 0.5, normalized=True)
        seg_idx, grid_idx = shapely.STRtree(metric.geometry.to_numpy()).query(
            midpoints, predicate="within"
        )
        n = len(grids)
        length = np.bincount(grid_idx, weights=network.segment_length_m[seg_idx], minlength=n)
        blind_m = np.bincount(
            grid_idx, weights=segments["blind_length_m"].to_numpy()[seg_idx], minlength=n
        )
        blind_risk = np.bincount(
            grid_idx,
            weights=(segments["weight"] - segments["covered_weight"]).to_numpy()[seg_idx],
            minlength=n,
        )
        full = np.full(n, -np.inf)
        np.maximum.at(full, grid_idx, segments["full_s"].to_numpy()[seg_idx])
        share = np.divide(blind_m, length, out=np.zeros(n), where=length > 0)
        chosen = np.flatnonzero(share >= GRID_BLIND_SHARE)
        parts.append(
            pd.DataFrame(
                {
                    "id": [f"grid-{grids['id'].iat[i]}" for i in chosen],
                    "kind": "grid",
                    "name": [str(grids["id"].iat[i]) for i in chosen],
                    "risk": blind_risk[chosen],
                    "required_minutes": street_minutes,
                    "reached_minutes": [_minutes_or_none(full[i]) for i in chosen],
                    "length_m": blind_m[chosen],
                    "area_m2": metric.geometry.area.to_numpy()[chosen],
                    "geometry": metric.geometry.to_numpy()[chosen],
                }
            )
        )
    if len(places):
        late = np.flatnonzero(~places["in_time"].to_numpy())
        metric = places.to_crs(crs).geometry.to_numpy()
        marks = np.where(
            shapely.get_type_id(metric) == 0, shapely.buffer(metric, _PLACE_MARK_M), metric
        )
        seg_risk = segments["weight"].to_numpy()
        place_risk = (
            np.where(
                located["snapped"].to_numpy(),
                seg_risk[np.maximum(located["segment"].to_numpy(), 0)],
                0.0,
            )
            if located is not None
            else np.zeros(len(places))
        )
        parts.append(
            pd.DataFrame(
                {
                    "id": [f"key_place-{places['id'].iat[i]}" for i in late],
                    "kind": "key_place",
                    "name": [str(places["name"].iat[i]) if "name" in places else "" for i in late],
                    "risk": place_risk[late],
                    "required_minutes": places["required_minutes"].to_numpy()[late],
                    "reached_minutes": places["reached_minutes"].to_numpy()[late],
                    "length_m": 0.0,
                    "area_m2": shapely.area(marks[late]),
                    "geometry": marks[late],
                }
            )
        )
    if len(zone_rows):
        late = np.flatnonzero(~zone_rows["in_time"].to_numpy())
        if len(late):
            all_zones = zones.to_crs(crs)
            parts.append(
                pd.DataFrame(
                    {
                        "id": [f"prevention_zone-{all_zones['id'].iat[i]}" for i in late],
                        "kind": "prevention_zone",
                        "name": [str(all_zones["name"].iat[i]) for i in late],
                        "risk": zone_rows["risk"].to_numpy()[late],
                        "required_minutes": zone_rows["required_minutes"].to_numpy()[late],
                        "reached_minutes": [
                            _minutes_or_none(s) for s in zone_rows["reached_s"].to_numpy()[late]
                        ],
                        "length_m": 0.0,
                        "area_m2": all_zones.geometry.area.to_numpy()[late],
                        "geometry": all_zones.geometry.to_numpy()[late],
                    }
                )
            )
    columns = [
        "id",
        "kind",
        "name",
        "risk",
        "required_minutes",
        "reached_minutes",
        "length_m",
        "area_m2",
        "geometry",
    ]
    if not parts:
        frame = gpd.GeoDataFrame(
            {c: [] for c in columns[:-1]}, geometry=gpd.GeoSeries([], crs=crs), crs=crs
        )
    else:
        frame = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs=crs)
    frame = frame.sort_values(
        ["kind", "risk"], ascending=[True, False], kind="stable", ignore_index=True
    )
    frame["rank"] = frame.groupby("kind").cumcount() + 1
    frame["risk"] = frame["risk"].astype(float).round(4)
    return frame.to_crs(STORAGE_CRS)


def _hourly(
    network: StreetNetwork,
    positions: pd.DataFrame,
    bands: Sequence[float],
    risk: np.ndarray,
    located: pd.DataFrame | None,
    places: gpd.GeoDataFrame,
    fixed_nodes: np.ndarray,
) -> pd.DataFrame:
    points = gpd.GeoSeries.from_xy(positions["x"], positions["y"], crs=STORAGE_CRS).to_crs(
        network.crs
    )
    metric = positions.assign(x=points.x.to_numpy(), y=points.y.to_numpy())
    return coverage_by_hour(
        network,
        metric,
        minutes=bands,
        segment_weights=risk,
        places=located,
        place_required_s=None if located is None else places["required_minutes"].to_numpy() * 60.0,
        fixed_sources=fixed_nodes,
    )


def _hourly_kpis(hourly: pd.DataFrame) -> list[dict[str, Any]]:
    def share(value: Any) -> float | None:
        return None if pd.isna(value) else round(float(value), 4)

    return [
        {
            "hour": pd.Timestamp(row["hour"]).isoformat(),
            "minutes": float(row["minutes"]),
            "units": int(row["units"]),
            "risk_share": share(row["risk_share"]),
            "street_share": share(row["street_share"]),
            "key_places_share": share(row["key_places_share"]),
        }
        for row in hourly.to_dict("records")
    ]


def write_coverage(result: CoverageResult, out: Path, *, ws: Workspace) -> list[Path]:
    """Write the coverage outputs to ``out``: bands, blind zones, KPIs and the map.

    Returns
    -------
    list of Path
        The files written.
    """
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for band in result.kpis["bands"]:
        frame = result.bands[result.bands["minutes"] == band["minutes"]]
        path = out / band["file"]
        frame.to_file(path, driver="GeoJSON", COORDINATE_PRECISION=_GEOJSON_DECIMALS)
        written.append(path)
    path = out / "blind_zones.geojson"
    result.blind_zones.to_file(path, driver="GeoJSON", COORDINATE_PRECISION=_GEOJSON_DECIMALS)
    written.append(path)
    if result.hourly is not None:
        path = out / "coverage_by_hour.csv"
        result.hourly.assign(hour=result.hourly["hour"].map(lambda t: t.isoformat())).to_csv(
            path, index=False
        )
        written.append(path)
    path = out / "kpis.json"
    path.write_text(
        json.dumps(result.kpis, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8"
    )
    written.append(path)
    path = out / "coverage_map.html"
    path.write_text(coverage_map(result, ws=ws), encoding="utf-8")
    written.append(path)
    return written


def coverage_map(result: CoverageResult, *, ws: Workspace) -> str:
    """An offline HTML map of the reach bands, blind zones, sources and key places."""
    roads = ws.layer("roads")
    bounds = result.bands.total_bounds if len(result.bands) else roads.total_bounds
    bounds = (
        np.minimum(bounds, roads.total_bounds).tolist()[:2]
        + np.maximum(bounds, roads.total_bounds).tolist()[2:]
    )
    m = maps.base_map(bounds, roads=roads, attribution=attribution_for(ws))
    colors = {}
    for i, band in enumerate(sorted(result.bands["minutes"], reverse=True)):
        color = (
            _BAND_COLORS[::-1][i % len(_BAND_COLORS)] if len(result.bands) > 1 else _BAND_COLORS[0]
        )
        colors[f"{band:g} min reach (快反圈)"] = color
        frame = result.bands[result.bands["minutes"] == band].assign(id=f"reach-{band:g}")
        maps.add_polygons(
            m,
            frame,
            name=f"{band:g} min reach",
            color=color,
            fill_opacity=0.25,
            weight=0.5,
            tooltip_fields={"minutes": "Minutes", "reached_km": "Street km"},
        )
    for kind, color in _BLIND_COLORS.items():
        frame = result.blind_zones[result.blind_zones["kind"] == kind]
        if len(frame):
            frame = frame.assign(
                reached=frame["reached_minutes"].map(
                    lambda v: "never" if v is None or pd.isna(v) else f"{v:g} min"
                )
            )
            maps.add_polygons(
                m,
                frame,
                name=f"Blind zones (盲区): {kind.replace('_', ' ')}",
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
            colors[f"blind: {kind.replace('_', ' ')}"] = color
    if len(result.key_places):
        shown = result.key_places.assign(
            status=np.where(result.key_places["in_time"], "in time", "late")
        )
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
    maps.add_points(
        m,
        result.sources,
        name="Stations and posts",
        color="#08306b",
        radius=7,
        tooltip_fields={"id": "Id", "source": "Source"},
    )
    colors["stations and posts"] = "#08306b"
    maps.add_legend(m, "Coverage", colors)
    return maps.render_html(m, inline_assets=True)


# -- coverage by hour of a saved plan ---------------------------------------------------------

#: Minutes of the per-hour street reach drawn on the hourly map (the street 3-minute circle).
HOURLY_REACH_MINUTES = 3.0
#: Douglas-Peucker tolerance of the per-hour reach and paths on the map, metres.
HOURLY_SIMPLIFY_M = 4.0
#: A plan stop lies on a vertex of its unit's route line: nearer than this it is that vertex.
_ON_ROUTE_M = 1.0
_UNIT_COLORS = ("#08519c", "#a50f15", "#006d2c", "#54278f", "#b15928", "#252525")


@dataclass
class HourlyCoverage:
    """Coverage by hour of a saved plan: stations and posts fixed, the units where they are.

    Frames are in EPSG:4326.

    Attributes
    ----------
    plan_id, shift, mode
        The plan, its shift window and the responders' travel mode.
    minutes
        The bands of the table.
    reach_minutes
        The budget of the per-hour street reach (``reach``).
    table
        One row per hour and band (:func:`routing.coverage.coverage_by_hour`): ``hour``,
        ``minutes``, ``samples``, ``units``, ``risk_share``, ``street_share``,
        ``key_places_share`` (key places within their own required minutes).
    positions
        Each unit's position at the first sample instant of every hour: ``hour``,
        ``unit_id``, ``time`` (local ``HH:MM``).
    paths
        Each unit's path along its route during every hour: ``hour``, ``unit_id``.
    reach
        Per hour, the street the units reach within ``reach_minutes`` from where they are
        during the hour (simplified lines): ``hour``, ``reached_km``, ``street_share``.
    sources
        The stations and posts, reaching the same streets every hour.
    """

    plan_id: str
    shift: str
    mode: str
    minutes: tuple[float, ...]
    reach_minutes: float
    table: pd.DataFrame
    positions: gpd.GeoDataFrame
    paths: gpd.GeoDataFrame
    reach: gpd.GeoDataFrame
    sources: gpd.GeoDataFrame

    @property
    def hours(self) -> list[pd.Timestamp]:
        """The clock hours of the shift the plan's units are out, in order."""
        return sorted(pd.Timestamp(h) for h in self.table["hour"].unique())

    def rows(self) -> list[dict[str, Any]]:
        """The table as one row per hour: ``hour`` (``HH:MM``), ``units`` and ``bands``
        (per band: ``minutes``, ``risk_share``, ``street_share``, ``key_places_share``,
        ``None`` where not defined)."""

        def share(value: Any) -> float | None:
            return None if pd.isna(value) else float(value)

        rows = []
        for _, group in self.table.groupby("hour", sort=True):
            group = group.sort_values("minutes")
            rows.append(
                {
                    "hour": f"{group['hour'].iloc[0]:%H:%M}",
                    "units": int(group["units"].max()),
                    "bands": [
                        {
                            "minutes": float(r["minutes"]),
                            "risk_share": share(r["risk_share"]),
                            "street_share": share(r["street_share"]),
                            "key_places_share": share(r["key_places_share"]),
                        }
                        for r in group.to_dict("records")
                    ],
                }
            )
        return rows


@dataclass(frozen=True)
class _Track:
    """A unit's route line (metric) and the distance along it at its timed stops."""

    unit_id: str
    line: shapely.LineString
    times_s: np.ndarray
    distance_m: np.ndarray

    def at(self, times_s: np.ndarray) -> np.ndarray:
        """Distance along the route at ``times_s`` (even speed between timed stops)."""
        return np.interp(times_s, self.times_s, self.distance_m)


def _unit_tracks(
    stops: pd.DataFrame,
    routes: gpd.GeoDataFrame,
    crs: Any,
    *,
    window_s: tuple[float, float],
) -> list[_Track]:
    """Timed distances along every unit's route line, from the plan's timetable.

    Stops and turn waypoints are network nodes, hence vertices of the route line: each is
    matched to the first vertex at or after the previous stop's, so a route that passes a
    place twice is followed in order. A unit is on duty the whole shift (``window_s``,
    epoch seconds): before its first departure and after its return it waits where its
    route starts and ends.
    """
    lines = routes.to_crs(crs).set_index(routes["unit_id"].astype(str)).geometry
    points = gpd.GeoSeries.from_xy(stops["lon"], stops["lat"], crs=STORAGE_CRS).to_crs(crs)
    xy = np.column_stack([points.x.to_numpy(), points.y.to_numpy()])
    tracks = []
    for unit, rows in stops.groupby(stops["unit_id"].astype(str), sort=True):
        order = rows.sort_values("seq", kind="stable").index
        positions = stops.index.get_indexer(order)
        arrive = pd.to_datetime(stops.loc[order, "arrive"], utc=True, format="ISO8601")
        depart = pd.to_datetime(stops.loc[order, "depart"], utc=True, format="ISO8601")
        line = lines.get(unit)
        if line is None or line.is_empty or line.length <= 0:
            # a unit that never leaves: its station all shift
            line = shapely.LineString([xy[positions[0]], xy[positions[0]]])
        coords = shapely.get_coordinates(line)
        along = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(coords, axis=0).T))])
        distance = np.empty(len(positions))
        first = 0
        for k, i in enumerate(positions):
            gap = np.hypot(*(coords[first:] - xy[i]).T)
            near = np.flatnonzero(gap <= _ON_ROUTE_M)
            j = first + int(near[0] if len(near) else np.argmin(gap))
            distance[k] = along[j]
            first = j
        epoch = pd.Timestamp(0, tz="UTC")
        times = np.column_stack(
            [(arrive - epoch).dt.total_seconds(), (depart - epoch).dt.total_seconds()]
        ).reshape(-1)
        distances = np.repeat(distance, 2)
        if window_s[0] < times[0]:
            times = np.concatenate([[window_s[0]], times])
            distances = np.concatenate([[distances[0]], distances])
        if times[-1] < window_s[1]:
            times = np.concatenate([times, [window_s[1]]])
            distances = np.concatenate([distances, [distances[-1]]])
        tracks.append(
            _Track(
                unit_id=str(unit),
                line=line,
                times_s=np.maximum.accumulate(times),
                distance_m=distances,
            )
        )
    return tracks


def _track_samples(
    tracks: Sequence[_Track], *, step_s: float, timezone: str, end_s: float
) -> pd.DataFrame:
    """Each unit's position every ``step_s`` seconds along its route (network CRS), up to
    ``end_s`` (the shift's end, excluded) or the last time of a route that ends later."""
    start = math.floor(min(t.times_s[0] for t in tracks) / step_s) * step_s
    last = max(t.times_s[-1] for t in tracks)
    count = (
        math.ceil((end_s - start) / step_s)
        if last <= end_s
        else math.floor((last - start) / step_s) + 1
    )
    grid = start + step_s * np.arange(max(count, 1))
    parts = []
    for track in tracks:
        active = grid[(grid >= track.times_s[0]) & (grid <= track.times_s[-1])]
        if len(active) == 0:
            active = track.times_s[:1]
        points = shapely.line_interpolate_point(track.line, track.at(active))
        parts.append(
            pd.DataFrame(
                {
                    "time": pd.to_datetime(active, unit="s", utc=True).tz_convert(timezone),
                    "unit_id": track.unit_id,
                    "x": shapely.get_x(points),
                    "y": shapely.get_y(points),
                }
            )
        )
    return pd.concat(parts, ignore_index=True).sort_values(["time", "unit_id"], ignore_index=True)


def plan_hourly_coverage(
    ws: Workspace,
    plan_id: str | None,
    *,
    minutes: Sequence[float] = (1, 3, 5),
    mode: str = "car",
    reach_minutes: float = HOURLY_REACH_MINUTES,
    key_place_minutes: Mapping[str, float] | None = None,
    step_s: float = 60.0,
    simplify_m: float = HOURLY_SIMPLIFY_M,
) -> HourlyCoverage:
    """Coverage by hour of a saved plan's shift, from its units' positions every minute.

    The units move along their route lines at even speed between the timed stops of the
    timetable and stay put while they dwell; the stations and duty points are sources
    all shift. Risk is the shift window's (the plan's ``shift``).

    Parameters
    ----------
    ws
        The workspace holding the plan, roads and stations.
    plan_id
        The saved plan's id; ``None`` for the plan saved last.
    minutes
        Bands of the table (1, 3, 5).
    mode
        Travel mode of the responders.
    reach_minutes
        Budget of the per-hour street reach drawn on the map.
    key_place_minutes
        Required minutes per key-place kind (settings ``key_place_minutes``).
    step_s
        Sampling interval of the positions.
    simplify_m
        Tolerance of the per-hour reach lines and paths, metres.

    Returns
    -------
    HourlyCoverage

    Raises
    ------
    WorkspaceError
        If the plan, the roads or the stations are missing.
    RoutingError
        If a band is not positive.
    """
    from gisapp.services.plan import load_plan
    from gisapp.settings import parse_shift

    bands = sorted({float(m) for m in minutes})
    if not bands or bands[0] <= 0:
        raise RoutingError(f"'minutes' should be positive numbers, got {list(minutes)!r}")
    saved = load_plan(ws, plan_id)
    if not len(saved.stops):
        raise WorkspaceError(f"plan {saved.plan_id!r} has no stops; generate it again")
    network = workspace_network(ws, mode)
    sources = _sources(ws, None)
    source_nodes = np.asarray(nearest_nodes(network, sources.set_index("id").geometry))
    shift = parse_shift(saved.shift)
    risk = workspace_risk(
        ws, network, window=(f"{shift.start:%H:%M}", f"{shift.end:%H:%M}")
    ).to_numpy()
    places = _points(ws, "key_places")
    located = locate_places(network, places) if len(places) else None
    required_s = (
        key_place_required_minutes(places, minutes_by_kind=key_place_minutes).to_numpy() * 60.0
        if located is not None
        else None
    )

    epoch = pd.Timestamp(0, tz="UTC")
    start_s = (pd.Timestamp(saved.start).tz_convert("UTC") - epoch).total_seconds()
    window_s = (start_s, start_s + shift.duration_h * 3600.0)
    tracks = _unit_tracks(saved.stops, saved.routes, network.crs, window_s=window_s)
    samples = _track_samples(tracks, step_s=step_s, timezone=saved.timezone, end_s=window_s[1])
    table = coverage_by_hour(
        network,
        samples,
        minutes=bands,
        segment_weights=risk,
        places=located,
        place_required_s=required_s,
        fixed_sources=source_nodes,
        step_s=step_s,
    )
    reached = reach_by_hour(network, samples, minutes=reach_minutes, step_s=step_s)
    hours = sorted(reached)

    total_m = float(network.segment_length_m.sum())
    reach_rows = []
    for hour in hours:
        lines = reached_lines(network, reached[hour])
        geometry = (
            shapely.simplify(shapely.line_merge(shapely.multilinestrings(list(lines))), simplify_m)
            if len(lines)
            else shapely.MultiLineString()
        )
        km = float(reached[hour]["reached_length_m"].sum()) / 1000.0
        reach_rows.append(
            {
                "hour": hour,
                "reached_km": round(km, 3),
                "street_share": round(km * 1000.0 / total_m, 4) if total_m > 0 else None,
                "geometry": geometry,
            }
        )
    reach = gpd.GeoDataFrame(reach_rows, geometry="geometry", crs=network.crs)

    samples = samples.assign(hour=samples["time"].dt.floor("h"))
    first = samples.groupby(["hour", "unit_id"], sort=True).head(1)
    positions = gpd.GeoDataFrame(
        {
            "hour": first["hour"].to_numpy(),
            "unit_id": first["unit_id"].to_numpy(),
            "time": first["time"].dt.strftime("%H:%M").to_numpy(),
        },
        geometry=gpd.points_from_xy(first["x"], first["y"]),
        crs=network.crs,
    )
    path_rows = []
    for hour in hours:
        lo = (hour.tz_convert("UTC") - epoch).total_seconds()
        hi = lo + 3600.0
        for track in tracks:
            if track.times_s[-1] < lo or track.times_s[0] > hi:
                continue
            d0, d1 = track.at(np.array([lo, hi]))
            piece = shapely.ops.substring(track.line, float(d0), float(d1))
            if isinstance(piece, shapely.LineString) and piece.length > 0:
                path_rows.append(
                    {
                        "hour": hour,
                        "unit_id": track.unit_id,
                        "geometry": shapely.simplify(piece, simplify_m),
                    }
                )
    paths = gpd.GeoDataFrame(
        path_rows or {"hour": [], "unit_id": [], "geometry": []},
        geometry="geometry",
        crs=network.crs,
    )
    logger.info(
        "plan %s: coverage for %d hour(s) of %d unit(s)", saved.plan_id, len(hours), len(tracks)
    )
    return HourlyCoverage(
        plan_id=saved.plan_id,
        shift=saved.shift,
        mode=mode,
        minutes=tuple(bands),
        reach_minutes=float(reach_minutes),
        table=table,
        positions=positions.to_crs(STORAGE_CRS),
        paths=paths.to_crs(STORAGE_CRS),
        reach=reach.to_crs(STORAGE_CRS),
        sources=sources,
    )


def hourly_coverage_map(
    result: HourlyCoverage,
    *,
    ws: Workspace,
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
        From :func:`plan_hourly_coverage`.
    ws
        The workspace (its roads are the base map).
    assets_url
        URL prefix of the vendored Leaflet files.
    inline_assets
        Embed the Leaflet files (a self-contained file).

    Returns
    -------
    str
        The HTML document.
    """
    roads = ws.layer("roads")
    frames = [f for f in (result.reach, result.paths, result.sources) if len(f)]
    extent = gpd.GeoSeries(pd.concat([f.geometry for f in frames])) if frames else roads.geometry
    bounds = [float(v) for v in extent.total_bounds]
    m = maps.base_map(bounds, roads=roads, attribution=attribution_for(ws), assets_url=assets_url)
    units = sorted(set(result.positions["unit_id"]) | set(result.paths["unit_id"]))
    unit_colors = {u: _UNIT_COLORS[i % len(_UNIT_COLORS)] for i, u in enumerate(units)}
    reach_color = _BAND_COLORS[1]
    by_hour = result.table[result.table["minutes"] == result.reach_minutes].set_index("hour")
    groups, labels = [], []
    for i, hour in enumerate(result.reach["hour"]):
        group = folium.FeatureGroup(name=f"{hour:%H:%M}", show=i == 0, control=False)
        group.add_to(m)
        reach = result.reach[result.reach["hour"] == hour]
        maps.add_lines(
            group,
            reach.assign(id=f"reach-{hour:%H%M}", label=f"{hour:%H:%M}"),
            name=f"Reach {hour:%H:%M}",
            color=reach_color,
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
        groups.append(group)
        share = by_hour["street_share"].get(hour) if hour in by_hour.index else None
        risk = by_hour["risk_share"].get(hour) if hour in by_hour.index else None
        parts = [f"{hour:%H:%M}-{hour + pd.Timedelta(hours=1):%H:%M}"]
        if share is not None and not pd.isna(share):
            parts.append(f"street {share:.0%}")
        if risk is not None and not pd.isna(risk):
            parts.append(f"risk {risk:.0%}")
        labels.append(" · ".join(parts) + f" within {result.reach_minutes:g} min")
    maps.add_points(
        m,
        result.sources,
        name="Stations and posts",
        color="#08306b",
        radius=6,
        tooltip_fields={"id": "Id", "source": "Source"},
    )
    if groups:
        maps.add_layer_slider(m, groups, labels, title=f"Plan {result.plan_id}: hour")
    legend = {f"street reached in {result.reach_minutes:g} min by units": reach_color}
    legend.update({f"unit {u}": c for u, c in unit_colors.items()})
    legend["stations and posts"] = "#08306b"
    maps.add_legend(m, "Coverage by hour", legend)
    return maps.render_html(m, inline_assets=inline_assets)


# -- placement ------------------------------------------------------------------------------


@dataclass
class PlacementResult:
    """A placement of duty points on a workspace.

    Attributes
    ----------
    duty_points
        Open points (EPSG:4326): ``id``, ``name``, ``kind`` (station, duty_point,
        intersection, key_place), ``fixed``, ``covered_weight``.
    kpis
        The figures of ``kpis.json``.
    """

    duty_points: gpd.GeoDataFrame
    kpis: dict[str, Any]


def propose_posts(
    ws: Workspace,
    *,
    model: str = "mclp",
    posts: int = 5,
    minutes: float = 3.0,
    demand: str = "risk",
    mode: str = "car",
    key_place_minutes: Mapping[str, float] | None = None,
    max_candidates: int = 400,
    candidate_spacing_m: float = 150.0,
    time_limit_s: float = 60.0,
    seed: int = 0,
    risk_window: tuple[str, str] | None = None,
) -> PlacementResult:
    """Place ``posts`` new duty points beside the existing stations and duty points.

    Parameters
    ----------
    ws
        The workspace.
    model
        ``mclp``, ``lscp``, ``pmedian``, ``pcenter`` or ``backup``.
    posts
        New duty points to add (stations and existing duty points are kept, fixed).
        Ignored by ``lscp``, which opens as few as cover everything.
    minutes
        Service radius.
    demand
        ``risk`` (street risk from incidents, on the nodes), or ``key_places`` (each key
        place within its own required minutes, capped by ``minutes`` for coverage models).
    mode
        Travel mode.
    key_place_minutes
        Required minutes per key-place kind.
    max_candidates, candidate_spacing_m, seed
        Thinning of the intersection candidates (:func:`routing.coverage.candidate_sites`).
    time_limit_s
        Solver time limit.
    risk_window
        Shift window of the risk, or None for every hour.

    Raises
    ------
    WorkspaceError
        If there is no demand of the chosen kind.
    RoutingError
        From the models: p above the candidates, demand out of reach (LSCP)...
    """
    key = model.lower()
    if key not in PLACEMENT_MODELS:
        raise RoutingError(f"'model' should be one of {', '.join(PLACEMENT_MODELS)}, got {model!r}")
    if posts < 0:
        raise RoutingError(f"'posts' should be 0 or more new duty points, got {posts!r}")
    if not minutes > 0:
        raise RoutingError(f"'minutes' should be > 0, got {minutes!r}")
    network = workspace_network(ws, mode)
    radius_s = minutes * 60.0

    fixed_parts = []
    for layer in ("stations", "duty_points"):
        frame = _points(ws, layer)
        if len(frame):
            nodes = nearest_nodes(network, frame.set_index("id").geometry)
            fixed_parts.append(
                pd.DataFrame(
                    {
                        "node": nodes,
                        "id": frame["id"].astype(str).to_numpy(),
                        "kind": layer.rstrip("s"),
                        "fixed": True,
                        "name": frame.get("name", frame["id"]).astype(str).to_numpy(),
                    }
                )
            )
    places = _points(ws, "key_places")
    extra = []
    if len(places):
        located = locate_places(network, places)
        ok = located["snapped"].to_numpy()
        seg = located["segment"].to_numpy()[ok]
        pos = located["position"].to_numpy()[ok]
        place_nodes = np.where(pos < 0.5, network.segment_u[seg], network.segment_v[seg])
        extra.append(
            pd.DataFrame(
                {
                    "node": place_nodes,
                    "id": places["id"].astype(str).to_numpy()[ok],
                    "kind": "key_place",
                    "fixed": False,
                    "name": places.get("name", places["id"]).astype(str).to_numpy()[ok],
                }
            )
        )
    sites = candidate_sites(
        network, spacing_m=candidate_spacing_m, max_candidates=max_candidates, seed=seed
    )
    sites["name"] = sites["id"]
    candidates = pd.concat([*fixed_parts, *extra, sites], ignore_index=True)

    if demand == "risk":
        risk = workspace_risk(ws, network, window=risk_window)
        weights = node_weights(network, risk.to_numpy())
        demand_nodes = np.flatnonzero(weights > 0)
        if len(demand_nodes) == 0:
            raise WorkspaceError(
                f"workspace {ws.name!r} has no incident risk on its streets to cover; import "
                "incidents or use --demand key_places"
            )
        demand_weights = weights[demand_nodes]
        demand_ids: list[str] = [f"node:{n}" for n in demand_nodes]
        demand_radius = None
    elif demand == "key_places":
        if len(places) == 0:
            raise WorkspaceError(
                f"workspace {ws.name!r} has no key places to cover; import a 'key_places' "
                "layer or use --demand risk"
            )
        located = locate_places(network, places)
        ok = located["snapped"].to_numpy()
        if not ok.any():
            raise WorkspaceError("no key place lies within 100 m of a street of the network")
        seg = located["segment"].to_numpy()[ok]
        pos = located["position"].to_numpy()[ok]
        demand_nodes = np.where(pos < 0.5, network.segment_u[seg], network.segment_v[seg])
        demand_weights = np.ones(len(demand_nodes))
        demand_ids = places["id"].astype(str).to_numpy()[ok].tolist()
        required = key_place_required_minutes(places, minutes_by_kind=key_place_minutes).to_numpy()[
            ok
        ]
        demand_radius = (
            np.minimum(required * 60.0, radius_s) if key in ("lscp", "mclp", "backup") else None
        )
    else:
        raise RoutingError(f"'demand' should be 'risk' or 'key_places', got {demand!r}")

    cutoff_s = radius_s if key in ("lscp", "mclp", "backup") else max(4 * radius_s, 900.0)
    instance = placement_input(
        network,
        demand_nodes=demand_nodes,
        candidates=candidates,
        weights=demand_weights,
        demand_ids=demand_ids,
        demand_radius_s=demand_radius,
        cutoff_s=cutoff_s,
    )
    n_fixed = len(instance.fixed)
    p = None if key == "lscp" else n_fixed + posts
    built = instance.build(
        key, p=p, radius_s=radius_s if key in ("lscp", "mclp", "backup") else None
    )
    built.solve(time_limit_s=time_limit_s)

    selected = built.selected
    assignment = built.assignment
    covered = np.bincount(
        assignment[assignment >= 0],
        weights=instance.weights[assignment >= 0],
        minlength=len(instance.candidate_ids),
    )
    names = candidates.drop_duplicates("node").set_index("id")["name"].to_dict()
    nodes = instance.candidate_nodes[selected]
    points = gpd.GeoSeries(
        shapely.points(network.node_x[nodes], network.node_y[nodes]), crs=network.crs
    ).to_crs(STORAGE_CRS)
    duty_points = gpd.GeoDataFrame(
        {
            "id": _post_ids(instance, selected),
            "name": [
                str(names.get(instance.candidate_ids[j], instance.candidate_ids[j]))
                for j in selected
            ],
            "kind": [instance.candidate_kind[j] for j in selected],
            "fixed": [bool(j in set(instance.fixed.tolist())) for j in selected],
            "covered_weight": np.round(covered[selected], 4),
            "node": nodes,
        },
        geometry=points.to_numpy(),
        crs=STORAGE_CRS,
    )
    total = float(instance.weights.sum())
    kpis = {
        "workspace": ws.name,
        "model": key,
        "demand": demand,
        "mode": mode,
        "minutes": minutes,
        "posts_asked": posts if key != "lscp" else None,
        "fixed": n_fixed,
        "opened": len(selected),
        "new_posts": int(len(selected) - n_fixed),
        "candidates": len(instance.candidate_ids),
        "demand_points": len(instance.demand_ids),
        "total_weight": round(total, 4),
        "objective": round(float(built.objective), 4),
        "greedy_objective": None
        if built.greedy_objective is None
        else round(float(built.greedy_objective), 4),
        "status": built.status.value,
        "gap": None if math.isnan(built.gap) else float(built.gap),
        "solve_time_s": round(built.solve_time_s, 3),
    }
    # every model is judged by the same yardstick: weight within the radius of an open post
    within = _weight_within(instance, selected, radius_s)
    kpis["covered_weight"] = round(within, 4)
    kpis["covered_share"] = round(within / total, 4) if total > 0 else None
    base = _weight_within(instance, instance.fixed, radius_s)
    kpis["fixed_only_covered_share"] = round(base / total, 4) if total > 0 else None
    return PlacementResult(duty_points=duty_points, kpis=kpis)


def _post_ids(instance: Any, selected: np.ndarray) -> list[str]:
    """Existing posts and key places keep their ids; new intersection posts are numbered."""
    ids, count = [], 0
    for j in selected:
        if instance.candidate_kind[j] == "intersection":
            count += 1
            ids.append(f"new-post-{count}")
        else:
            ids.append(str(instance.candidate_ids[j]))
    return ids


def _weight_within(instance: Any, open_sites: np.ndarray, radius_s: float) -> float:
    """Demand weight with one of ``open_sites`` within ``radius_s``."""
    coo = instance.travel_time_s.tocsc()[:, np.asarray(open_sites, dtype=np.int64)].tocoo()
    reached = np.zeros(coo.shape[0], dtype=bool)
    reached[coo.row[coo.data <= radius_s]] = True
    return float(instance.weights[reached].sum())


def write_placement(result: PlacementResult, out: Path) -> list[Path]:
    """Write ``duty_points.geojson`` and ``kpis.json`` to ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    points = out / "duty_points.geojson"
    result.duty_points.to_file(points, driver="GeoJSON")
    kpis = out / "kpis.json"
    kpis.write_text(
        json.dumps(result.kpis, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8"
    )
    return [points, kpis]


def save_proposed(ws: Workspace, result: PlacementResult, *, layer: str = PROPOSED_LAYER) -> None:
    """Store the proposed duty points as their own workspace layer.

    Raises
    ------
    WorkspaceError
        If ``layer`` would overwrite an input layer such as ``duty_points``.
    """
    from layers.schema import LAYERS

    if layer in LAYERS:
        raise WorkspaceError(
            f"layer {layer!r} holds the user's data and is never overwritten; save proposals "
            f"as {PROPOSED_LAYER!r} or another new name"
        )
    ws.save({layer: result.duty_points.drop(columns=["node"])})
