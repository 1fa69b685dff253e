"""Coverage and blind zones (盲区) of a workspace's stations, duty points and cameras.

The application side of :mod:`routing.coverage`: read the layers of a workspace, build the
network and the risk, run the library, and turn its answers into KPIs.

* :func:`compute_coverage` → :class:`CoverageResult`: the 1-3-5 minute reach bands (through
  :func:`gisapp.services.reach.reach_bands`, as ``gisapp reach``), the blind zones of
  streets, grids, key places and prevention zones, and the KPIs of ``kpis.json``.

The files are written by :mod:`gisapp.outputs.coverage`, the map drawn by
:mod:`gisapp.render.coverage`; a plan's coverage hour by hour is
:mod:`gisapp.services.hourly`, duty-point placement :mod:`gisapp.services.placement`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisapp.services.blind_streets import (
    StreetBlindZones,
    shift_incident_counts,
    street_blind_zones,
)
from gisapp.services.coverage_inputs import (
    SCHOOL_ZONE_KIND,
    key_place_required_minutes,
    minutes_or_none,
    points_layer,
    read_posts,
    response_sources,
    risk_incidents,
    school_zones,
    segment_residents,
    street_risk,
    workspace_risk,
)
from gisapp.services.hourly import (
    HourlyCoverage,
)
from gisapp.services.network import workspace_network
from gisapp.services.reach import check_minutes, reach_bands
from gisapp.store.geopackage import Workspace
from layers.i18n import _, format_number, ngettext
from layers.schema import STORAGE_CRS
from routing.coverage import (
    DEFAULT_CAMERA_RANGE_M,
    blind_pieces,
    camera_coverage,
    camera_sectors,
    coverage_segments,
    locate_places,
    place_times,
)
from routing.errors import RoutingError
from routing.network import StreetNetwork
from routing.reach import NodeReach, reach_nodes
from routing.snap import nearest_nodes

logger = logging.getLogger(__name__)

__all__ = [
    "SCHOOL_ZONE_KIND",
    "CoverageOptions",
    "CoverageResult",
    "compute_coverage",
    "coverage_kpis",
    "key_place_required_minutes",
    "read_posts",
    "school_zones",
    "workspace_risk",
]

#: A grid is a blind zone when at least this share of its street length is outside its circle.
GRID_BLIND_SHARE = 0.5
#: Half-size of the drawn area of a point key place in the blind-zone file.
_PLACE_MARK_M = 50.0
_BLIND_COLUMNS = [
    "id",
    "kind",
    "name",
    "street",
    "grid",
    "incidents",
    "risk",
    "required_minutes",
    "reached_minutes",
    "length_m",
    "area_m2",
    "geometry",
]


@dataclass(frozen=True)
class CoverageOptions:
    """What a coverage study asks.

    Attributes
    ----------
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
    add_school_zones
        Add 200 m surroundings zones for schools and kindergartens that lack one.
    buffer_m
        Half-width of reach and blind-zone polygons around the streets.
    camera_range_m
        Range of cameras whose layer gives none.
    risk_window
        Shift window of the risk (``("22:00", "06:00")``), or None for every hour.
    keep_pileups
        Weigh the incidents at pile-ups (a reporting desk's) in the risk too.
    """

    minutes: tuple[float, ...] = (1.0, 3.0, 5.0)
    street_minutes: float = 3.0
    key_place_minutes: Mapping[str, float] | None = None
    mode: str = "car"
    extra_posts: gpd.GeoDataFrame | None = field(default=None, compare=False)
    add_school_zones: bool = False
    buffer_m: float = 25.0
    camera_range_m: float = DEFAULT_CAMERA_RANGE_M
    risk_window: tuple[str, str] | None = None
    keep_pileups: bool = False


@dataclass(frozen=True)
class CoverageResult:
    """What :func:`compute_coverage` found; frames are in EPSG:4326 unless said otherwise.

    Attributes
    ----------
    network
        The street network of the responders' mode.
    bands
        One reach polygon per minute band (``minutes``, ``reached_km``, ``area_km2``...).
    blind_zones
        Blind zones, riskiest first: ``rank`` (1 = riskiest), ``id``, ``kind`` (street,
        grid, key_place, prevention_zone), ``name`` (what a captain reads, e.g. "Whalley
        Ave between Fitch St and Blake St, grid nh-g080, 12 incidents in the shift"),
        ``street`` and ``grid`` (where known), ``incidents`` (of the shift, on its
        streets), ``risk`` (their severity-weighted sum, the ranking key),
        ``required_minutes``, ``reached_minutes`` (None: never reached), plus sizes. Street
        blind zones are cut per street stretch and grid.
    segments
        Per segment (network CRS) reach times, risk and blind length.
    key_places
        Key places with ``required_minutes``, ``reached_minutes`` and ``in_time``.
    prevention_zones
        The prevention zones measured (with the added school zones).
    sources
        The stations and posts the reach starts from.
    cameras
        The camera sectors (network CRS).
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
    kpis: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Places:
    """Key places with their reach, and where they lie on the network."""

    frame: gpd.GeoDataFrame
    located: pd.DataFrame | None
    reached_s: np.ndarray


def compute_coverage(
    ws: Workspace, options: CoverageOptions | None = None, **changes: Any
) -> CoverageResult:
    """Reach bands, blind zones and KPIs of a workspace's stations and posts.

    Parameters
    ----------
    ws
        The workspace.
    options
        What to measure; the defaults when None.
    **changes
        Fields of :class:`CoverageOptions` to change, e.g. ``minutes=(1, 3)``.

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
    opts = dataclasses.replace(options or CoverageOptions(), **changes)
    check_minutes(opts.minutes)
    if not opts.street_minutes > 0:
        raise RoutingError(
            _(
                "the street minutes should be > 0 (streets reached later are blind zones), "
                "got %(minutes)s",
                minutes=repr(opts.street_minutes),
            )
        )
    network = workspace_network(ws, opts.mode)
    sources = response_sources(ws, opts.extra_posts)
    source_nodes = np.asarray(nearest_nodes(network, sources.set_index("id").geometry))
    incidents = risk_incidents(ws, keep_pileups=opts.keep_pileups)
    risk_series = street_risk(network, incidents, timezone=ws.timezone, window=opts.risk_window)
    risk = risk_series.to_numpy()
    reach = reach_nodes(network, source_nodes)

    cameras_layer = points_layer(ws, "cameras")
    sectors = camera_sectors(cameras_layer, crs=network.crs, default_range_m=opts.camera_range_m)
    seen_m = camera_coverage(network, sectors).to_numpy()
    segments = coverage_segments(
        network, reach, required_s=opts.street_minutes * 60.0, weights=risk
    )
    segments["camera_length_m"] = seen_m

    residents = segment_residents(ws, network)
    places = _key_place_reach(ws, network, reach, opts.key_place_minutes)
    zones, added = _prevention_zones(ws, places.frame, opts)
    zone_rows = _zone_reach(network, reach, zones, risk, opts.street_minutes)
    bands = reach_bands(
        network,
        source_nodes,
        minutes=opts.minutes,
        buffer_m=opts.buffer_m,
        risk=risk,
        place_s=places.reached_s if len(places.frame) else None,
        residents=None if residents is None else residents[0],
    )
    counts = shift_incident_counts(
        network, incidents, timezone=ws.timezone, window=opts.risk_window
    )
    grids = ws.layer("grids", required=False)
    grids = grids if isinstance(grids, gpd.GeoDataFrame) and len(grids) else None
    streets = street_blind_zones(
        network,
        segments,
        blind_pieces(network, segments, cameras=sectors),
        grids=grids,
        incidents=counts,
        street_minutes=opts.street_minutes,
        buffer_m=opts.buffer_m,
    )
    blind = _blind_table(
        network,
        grids,
        _BlindInputs(streets, segments, places, zones, zone_rows, counts),
        opts.street_minutes,
    )
    kpis: dict[str, Any] = {
        "workspace": ws.name,
        "timezone": ws.timezone,
        "mode": opts.mode,
        "network_km": round(network.length_km, 3),
        "sources": {
            kind: int((sources["source"] == kind).sum())
            for kind in ("stations", "duty_points", "posts")
        },
        "risk": _risk_kpis(risk_series, opts.risk_window),
        "bands": bands.kpis,
        "residents_measure": None if residents is None else residents[1],
        "street_minutes": opts.street_minutes,
        "blind": _blind_kpis(blind, float(risk.sum()), streets.zones),
        "key_places": _key_place_kpis(places.frame),
        "prevention_zones": {
            "count": len(zones),
            "in_time": int(zone_rows["in_time"].sum()) if len(zone_rows) else 0,
            "added_school_zones": 0 if added is None else len(added),
        },
        "cameras": _camera_kpis(network, risk, seen_m, len(cameras_layer)),
    }
    return CoverageResult(
        network=network,
        bands=bands.bands,
        blind_zones=blind,
        segments=segments,
        key_places=places.frame,
        prevention_zones=zones,
        sources=sources,
        cameras=sectors,
        kpis=kpis,
    )


def coverage_kpis(result: CoverageResult, hourly: HourlyCoverage | None = None) -> dict[str, Any]:
    """The figures of ``kpis.json``: the result's, and ``hourly`` (a plan's coverage by
    hour, one entry per hour and band; None without a plan)."""
    return {**result.kpis, "hourly": None if hourly is None else hourly.kpis()}


def _key_place_reach(
    ws: Workspace,
    network: StreetNetwork,
    reach: NodeReach,
    key_place_minutes: Mapping[str, float] | None,
) -> _Places:
    places = points_layer(ws, "key_places")
    places = places.to_crs(STORAGE_CRS) if len(places) else places
    required_min = key_place_required_minutes(places, minutes_by_kind=key_place_minutes)
    located = None
    place_s = np.empty(0)
    if len(places):
        located = locate_places(network, places)
        place_s = place_times(network, reach, located)
    frame = places.assign(
        required_minutes=required_min.to_numpy(),
        reached_minutes=[minutes_or_none(s) for s in place_s],
        in_time=place_s <= required_min.to_numpy() * 60.0,
    )
    return _Places(frame=frame, located=located, reached_s=place_s)


def _prevention_zones(
    ws: Workspace, places: gpd.GeoDataFrame, opts: CoverageOptions
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame | None]:
    """The workspace's prevention zones, plus the school zones added (None: not asked)."""
    zones = ws.layer("prevention_zones", required=False)
    if not isinstance(zones, gpd.GeoDataFrame):
        zones = gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=STORAGE_CRS), crs=STORAGE_CRS)
    if not opts.add_school_zones:
        return zones, None
    added = school_zones(places, zones, minutes_by_kind=opts.key_place_minutes)
    if len(added):
        zones = gpd.GeoDataFrame(
            pd.concat([zones.to_crs(STORAGE_CRS), added], ignore_index=True), crs=STORAGE_CRS
        )
    return zones, added


# -- KPIs ------------------------------------------------------------------------------------


def _share(part: float, total: float) -> float | None:
    return round(part / total, 4) if total > 0 else None


def _risk_kpis(risk: pd.Series, window: tuple[str, str] | None) -> dict[str, Any]:
    total = float(risk.sum())
    kpis: dict[str, Any] = {
        "incidents": int(risk.attrs.get("incidents", 0)),
        "total": round(total, 3),
        "window": None if window is None else "-".join(window),
    }
    if total <= 0:
        kpis["note"] = _(
            "no incident risk on the streets (no incidents, or none preventable in the "
            "window): risk shares are not given"
        )
    return kpis


def _blind_kpis(
    blind: gpd.GeoDataFrame, total_risk: float, street_zones: gpd.GeoDataFrame
) -> dict[str, Any]:
    """Blind-zone figures; street length, area and risk are those of the uncut zones (the
    unreached street less what cameras see), which the per-stretch zones only divide."""
    streets = blind[blind["kind"] == "street"]
    return {
        "street_zones": len(streets),
        "street_length_km": round(float(street_zones["length_m"].sum()) / 1000, 3),
        "street_area_km2": round(float(street_zones["area_m2"].sum()) / 1e6, 4),
        "street_risk": round(float(street_zones["risk"].sum()), 3),
        "street_risk_share": _share(float(street_zones["risk"].sum()), total_risk),
        "grids": int((blind["kind"] == "grid").sum()),
        "key_places": int((blind["kind"] == "key_place").sum()),
        "prevention_zones": int((blind["kind"] == "prevention_zone").sum()),
    }


def _camera_kpis(
    network: StreetNetwork, risk: np.ndarray, seen_m: np.ndarray, count: int
) -> dict[str, Any]:
    seen_share = np.divide(
        seen_m,
        network.segment_length_m,
        out=np.zeros_like(seen_m),
        where=network.segment_length_m > 0,
    )
    total = float(risk.sum())
    return {
        "count": count,
        "street_km_seen": round(float(seen_m.sum()) / 1000, 3),
        "risk_share_seen": _share(float((risk * seen_share).sum()), total) if count else None,
    }


def _key_place_kpis(places: gpd.GeoDataFrame) -> dict[str, Any]:
    if len(places) == 0:
        return {
            "count": 0,
            "in_time": 0,
            "share_in_time": None,
            "note": _(
                "the workspace has no key places: import a 'key_places' layer (schools, "
                "hospitals...) to measure their required response minutes"
            ),
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


# -- blind zones ------------------------------------------------------------------------------


def _zone_reach(
    network: StreetNetwork,
    reach: NodeReach,
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


@dataclass(frozen=True)
class _BlindInputs:
    """What the blind-zone table is made of (network CRS)."""

    streets: StreetBlindZones
    segments: pd.DataFrame
    places: _Places
    zones: gpd.GeoDataFrame
    zone_rows: pd.DataFrame
    incidents: np.ndarray  # of the shift, per segment


def _grid_blind_rows(
    network: StreetNetwork,
    grids: gpd.GeoDataFrame,
    inputs: _BlindInputs,
    street_minutes: float,
) -> pd.DataFrame:
    """Grids with at least :data:`GRID_BLIND_SHARE` of their street length blind."""
    segments = inputs.segments
    metric = grids.to_crs(network.crs)
    midpoints = shapely.line_interpolate_point(network.segment_geometry, 0.5, normalized=True)
    seg_idx, grid_idx = shapely.STRtree(metric.geometry.to_numpy()).query(
        midpoints, predicate="within"
    )
    n = len(grids)

    def per_grid(values: np.ndarray) -> np.ndarray:
        return np.bincount(grid_idx, weights=values[seg_idx], minlength=n)

    length = per_grid(network.segment_length_m)
    blind_m = per_grid(segments["blind_length_m"].to_numpy())
    blind_risk = per_grid((segments["weight"] - segments["covered_weight"]).to_numpy())
    is_blind = (segments["blind_length_m"].to_numpy() > 1e-6).astype(float)
    blind_incidents = per_grid(inputs.incidents * is_blind).round().astype(int)
    full = np.full(n, -np.inf)
    np.maximum.at(full, grid_idx, segments["full_s"].to_numpy()[seg_idx])
    share = np.divide(blind_m, length, out=np.zeros(n), where=length > 0)
    chosen = np.flatnonzero(share >= GRID_BLIND_SHARE)
    ids = [str(grids["id"].iat[i]) for i in chosen]
    return pd.DataFrame(
        {
            "id": [f"grid-{g}" for g in ids],
            "kind": "grid",
            "name": [
                ngettext(
                    "grid %(grid)s: %(share)s of its streets beyond %(minutes)s min, "
                    "%(num)s incident in the shift on them",
                    "grid %(grid)s: %(share)s of its streets beyond %(minutes)s min, "
                    "%(num)s incidents in the shift on them",
                    int(blind_incidents[i]),
                    grid=g,
                    share=format(share[i], ".0%"),
                    minutes=format(street_minutes, "g"),
                    num=format_number(int(blind_incidents[i])),
                )
                for g, i in zip(ids, chosen, strict=True)
            ],
            "street": "",
            "grid": ids,
            "incidents": blind_incidents[chosen],
            "risk": blind_risk[chosen],
            "required_minutes": street_minutes,
            "reached_minutes": [minutes_or_none(full[i]) for i in chosen],
            "length_m": blind_m[chosen],
            "area_m2": metric.geometry.area.to_numpy()[chosen],
            "geometry": metric.geometry.to_numpy()[chosen],
        }
    )


def _place_text(name: str, street: str, count: int) -> str:
    """How a late key place is named: its name, its street and the shift's incidents there."""
    num = format_number(count)
    if name and street:
        return ngettext(
            "%(name)s, on %(street)s, %(num)s incident in the shift on its street",
            "%(name)s, on %(street)s, %(num)s incidents in the shift on its street",
            count,
            name=name,
            street=street,
            num=num,
        )
    if name:
        return ngettext(
            "%(name)s, %(num)s incident in the shift on its street",
            "%(name)s, %(num)s incidents in the shift on its street",
            count,
            name=name,
            num=num,
        )
    if street:
        return ngettext(
            "on %(street)s, %(num)s incident in the shift on its street",
            "on %(street)s, %(num)s incidents in the shift on its street",
            count,
            street=street,
            num=num,
        )
    return ngettext(
        "%(num)s incident in the shift on its street",
        "%(num)s incidents in the shift on its street",
        count,
        num=num,
    )


def _place_blind_rows(network: StreetNetwork, inputs: _BlindInputs) -> pd.DataFrame:
    """Key places reached later than their required minutes, drawn as small squares."""
    frame, located = inputs.places.frame, inputs.places.located
    late = np.flatnonzero(~frame["in_time"].to_numpy())
    metric = frame.to_crs(network.crs).geometry.to_numpy()
    marks = np.where(
        shapely.get_type_id(metric) == 0, shapely.buffer(metric, _PLACE_MARK_M), metric
    )
    seg_risk = inputs.segments["weight"].to_numpy()
    if located is not None:
        snapped = located["snapped"].to_numpy()
        segment = np.maximum(located["segment"].to_numpy(), 0)
        place_risk = np.where(snapped, seg_risk[segment], 0.0)
        place_incidents = np.where(snapped, inputs.incidents[segment], 0)
        streets = [
            str(network.segment_name[s] or "") if ok else ""
            for s, ok in zip(segment, snapped, strict=True)
        ]
    else:
        place_risk = np.zeros(len(frame))
        place_incidents = np.zeros(len(frame), dtype=int)
        streets = [""] * len(frame)
    names = [str(frame["name"].iat[i]) if "name" in frame else "" for i in late]
    return pd.DataFrame(
        {
            "id": [f"key_place-{frame['id'].iat[i]}" for i in late],
            "kind": "key_place",
            "name": [
                _place_text(n, streets[i], int(place_incidents[i]))
                for n, i in zip(names, late, strict=True)
            ],
            "street": [streets[i] for i in late],
            "grid": "",
            "incidents": place_incidents[late],
            "risk": place_risk[late],
            "required_minutes": frame["required_minutes"].to_numpy()[late],
            "reached_minutes": frame["reached_minutes"].to_numpy()[late],
            "length_m": 0.0,
            "area_m2": shapely.area(marks[late]),
            "geometry": marks[late],
        }
    )


def _zone_blind_rows(network: StreetNetwork, inputs: _BlindInputs) -> pd.DataFrame:
    """Prevention zones reached later than their required minutes."""
    zone_rows = inputs.zone_rows
    late = np.flatnonzero(~zone_rows["in_time"].to_numpy())
    metric = inputs.zones.to_crs(network.crs)
    midpoints = shapely.line_interpolate_point(network.segment_geometry, 0.5, normalized=True)
    counts = [
        int(inputs.incidents[shapely.contains(metric.geometry.iat[i], midpoints)].sum())
        for i in late
    ]
    return pd.DataFrame(
        {
            "id": [f"prevention_zone-{metric['id'].iat[i]}" for i in late],
            "kind": "prevention_zone",
            "name": [
                ngettext(
                    "%(name)s: %(num)s incident in the shift",
                    "%(name)s: %(num)s incidents in the shift",
                    c,
                    name=metric["name"].iat[i],
                    num=format_number(c),
                )
                for i, c in zip(late, counts, strict=True)
            ],
            "street": "",
            "grid": "",
            "incidents": counts,
            "risk": zone_rows["risk"].to_numpy()[late],
            "required_minutes": zone_rows["required_minutes"].to_numpy()[late],
            "reached_minutes": [
                minutes_or_none(s) for s in zone_rows["reached_s"].to_numpy()[late]
            ],
            "length_m": 0.0,
            "area_m2": metric.geometry.area.to_numpy()[late],
            "geometry": metric.geometry.to_numpy()[late],
        }
    )


def _blind_table(
    network: StreetNetwork,
    grids: gpd.GeoDataFrame | None,
    inputs: _BlindInputs,
    street_minutes: float,
) -> gpd.GeoDataFrame:
    """Every blind zone, riskiest first, ranked 1..n across kinds (EPSG:4326).

    Risk is the severity-weighted count of the shift's incidents on the zone's unreached
    streets; ties go to the zone with more incidents, then by kind and id, so the order is
    stable.
    """
    crs = network.crs
    parts: list[pd.DataFrame] = []
    if len(inputs.streets.rows):
        parts.append(inputs.streets.rows)
    if grids is not None:
        parts.append(_grid_blind_rows(network, grids, inputs, street_minutes))
    if len(inputs.places.frame):
        parts.append(_place_blind_rows(network, inputs))
    if len(inputs.zone_rows) and (~inputs.zone_rows["in_time"]).any():
        parts.append(_zone_blind_rows(network, inputs))
    parts = [p for p in parts if len(p)]
    if not parts:
        frame = gpd.GeoDataFrame(
            {c: [] for c in _BLIND_COLUMNS[:-1]}, geometry=gpd.GeoSeries([], crs=crs), crs=crs
        )
    else:
        frame = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs=crs)
    frame["risk"] = frame["risk"].astype(float).round(4)
    frame["incidents"] = frame["incidents"].astype(int)
    frame = frame.sort_values(
        ["risk", "incidents", "kind", "id"],
        ascending=[False, False, True, True],
        kind="stable",
        ignore_index=True,
    )
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    return frame.to_crs(STORAGE_CRS)
