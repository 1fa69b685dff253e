"""Shift patrol plans from a workspace: units, shift, networks, routes, KPIs and outputs.

:func:`plan_shift` reads the units on duty, their stations and grids, builds one street
network per travel mode, the hourly risk of every street from the incidents, picks the
shift's hotspots and solves the patrol model of ``routing.patrol``. The result, a
:class:`ShiftPlan`, is written by :func:`write_plan` (``routes.geojson``, ``stops.csv``,
``<unit_id>.gpx``, ``kpis.json``, ``hotspots.geojson``) and saved into the workspace by
:func:`save_plan`. Times are ISO 8601 in the workspace's time zone; lon/lat WGS84.

A workspace keeps several saved plans side by side. Every plan has a stable id,
``<date>-<shift>-s<seed>`` (:func:`make_plan_id`, e.g. ``2014-09-18-night-s3``); the layers
``plan_routes``, ``plan_stops`` and ``plan_hotspots`` carry a ``plan_id`` column, and the
table ``plan_index`` holds one row per plan (id, when it was saved, shift, start, seed, key
KPIs and the full KPIs as JSON). Saving a plan replaces the rows of the same id and keeps
the others; the metadata key ``plan_kpis`` holds the KPIs of the plan saved last.
:func:`list_plans` lists them, newest first, and :func:`load_plan` reads one back.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from gisapp.errors import SettingsError, WorkspaceError
from gisapp.settings import Settings, Shift, parse_shift
from gisapp.store.geopackage import Workspace
from layers.schema import STORAGE_CRS, UNIT_MODES, parse_id_list
from routing.errors import InfeasiblePlanError, NetworkError, RoutingError
from routing.network import StreetNetwork, network_from_lines
from routing.patrol import (
    Break,
    Hotspots,
    PatrolModel,
    PatrolOptions,
    PatrolPlan,
    PatrolUnit,
    UnitRoute,
    hour_band_risk,
    select_hotspots,
    shift_hours,
)
from routing.risk import segment_risk_by_hour
from routing.snap import nearest_nodes

logger = logging.getLogger(__name__)

#: Streets this close to a unit's grids count as inside them (boundary streets).
GRID_EDGE_TOLERANCE_M = 30.0
#: Hotspots added for a unit whose grids hold none of the shift's top hotspots.
MIN_HOTSPOTS_PER_UNIT = 3
#: How much the legs between stops prefer risky streets by default (0: fastest paths).
STREET_RISK_WEIGHT = 0.6


@dataclass(frozen=True)
class ShiftPlan:
    """A patrol plan for one shift, ready to write, save and show.

    Parameters
    ----------
    plan
        The solved routes (``routing.patrol.PatrolPlan``), times in seconds from ``start``.
    model
        The patrol model it was solved on (networks, hotspots, units).
    shift, start, timezone, seed
        The shift window, its start as a local timestamp, the time zone and the seed.
    routes
        One row per unit (WGS84 lines): ``unit_id``, ``mode``, ``distance_m``,
        ``duration_s``, ``hotspot_stops``, ``dosage``.
    stops
        The timetable: ``unit_id``, ``seq``, ``kind`` (station/hotspot/waypoint/break),
        ``name``, ``lon``, ``lat``, ``arrive``, ``depart``, ``dwell_min``, ``street``,
        ``hotspot_id``, ``grid_id``.
    hotspots
        The shift's hotspots (WGS84 points) with ``shift_risk`` and ``visits``.
    kpis
        The plan's key figures (see :func:`plan_kpis`).
    """

    plan: PatrolPlan
    model: PatrolModel
    shift: Shift
    start: pd.Timestamp
    timezone: str
    seed: int
    routes: gpd.GeoDataFrame
    stops: pd.DataFrame
    hotspots: gpd.GeoDataFrame
    kpis: dict[str, Any]

    @property
    def plan_id(self) -> str:
        """The plan's stable id (see :func:`make_plan_id`)."""
        return make_plan_id(self.shift, self.start, self.seed)


def make_plan_id(shift: Shift, start: dt.date | pd.Timestamp, seed: int) -> str:
    """Return the stable id of a plan: ``<date>-<shift>-s<seed>``.

    The shift part is the shift's name when it has one made of safe characters
    (``night``), else its window (``2200-0600``). Ids use only ``A-Z a-z 0-9 _ -``, so
    they are safe in URLs and file names.

    Parameters
    ----------
    shift
        The shift planned.
    start
        The day (or local start time) the shift starts.
    seed
        The plan's seed.

    Returns
    -------
    str
        E.g. ``2014-09-18-night-s3`` or ``2014-09-18-2200-0600-s0``.
    """
    window = f"{shift.start:%H%M}-{shift.end:%H%M}"
    name = "" if shift.name in ("", shift.label()) else shift.name
    slug = _UNSAFE_ID_CHARS.sub("_", name).strip("_-")[:32]
    return f"{start:%Y-%m-%d}-{slug or window}-s{int(seed)}"


_UNSAFE_ID_CHARS = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass
class _UnitRow:
    unit_id: str
    mode: str
    station_id: str
    grid_ids: list[str]
    breaks: str = ""


_BREAK = re.compile(
    r"^\s*(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*/\s*(\d+(?:\.\d+)?)\s*(@station)?\s*$"
)


def parse_breaks(text: str, *, shift: Shift, unit_id: str) -> tuple[Break, ...]:
    """Read a unit's ``breaks`` field: ``"02:00-03:00/30"`` (the break starts between 02:00
    and 03:00 and lasts 30 minutes), ``@station`` to take it at the station, several
    separated by ``;``. Clock times are in the shift's day, past midnight when the shift
    crosses it.

    Raises
    ------
    InfeasiblePlanError
        Naming the unit, if a break is not written that way.
    """
    breaks = []
    shift_start_min = shift.start.hour * 60 + shift.start.minute
    for part in filter(None, (p.strip() for p in text.split(";"))):
        match = _BREAK.match(part)
        if match is None:
            raise InfeasiblePlanError(
                f"unit {unit_id!r} has break {part!r}; write it as 'HH:MM-HH:MM/minutes', "
                "e.g. '02:00-03:00/30' (add '@station' to take it at the station)"
            )
        clock = [tuple(map(int, t.split(":"))) for t in match.group(1, 2)]
        if any(h > 23 or m > 59 for h, m in clock):
            raise InfeasiblePlanError(
                f"unit {unit_id!r} has break {part!r} with a clock time past 23:59"
            )
        earliest, latest = ((h * 60 + m - shift_start_min) % (24 * 60) for h, m in clock)
        breaks.append(
            Break(
                earliest_start_s=earliest * 60.0,
                latest_start_s=latest * 60.0,
                duration_s=float(match.group(3)) * 60.0,
                at_station=match.group(4) is not None,
            )
        )
    return tuple(breaks)


def _units_on_duty(ws: Workspace, shift: Shift, unit_ids: Sequence[str] | None) -> list[_UnitRow]:
    table = ws.layer("units")
    if len(table) == 0:
        raise InfeasiblePlanError(
            f"workspace {ws.path.name!r} has no units; import a 'units' table "
            "(id, mode, station_id, grid_ids) first"
        )
    table = table.assign(id=table["id"].astype(str))
    if unit_ids:
        unknown = sorted(set(unit_ids) - set(table["id"]))
        if unknown:
            raise InfeasiblePlanError(
                f"unknown unit id(s) {', '.join(map(repr, unknown))}; the workspace has "
                f"{', '.join(table['id'])}"
            )
        table = table[table["id"].isin(list(unit_ids))]
    else:
        shift_col = table["shift"] if "shift" in table.columns else pd.Series("", index=table.index)
        text = shift_col.fillna("").astype(str).str.strip()
        on_duty = text.isin(["", shift.label(), shift.name])
        if (~on_duty).any():
            logger.info(
                "units not on the %s shift left out: %s",
                shift.label(),
                ", ".join(table.loc[~on_duty, "id"]),
            )
        table = table[on_duty.to_numpy()]
        if len(table) == 0:
            raise InfeasiblePlanError(
                f"no unit of {ws.path.name!r} works the {shift.label()} shift; name units "
                "with --units or set their 'shift' field"
            )
    rows = []
    for record in table.to_dict("records"):
        unit_id = str(record["id"])
        mode = str(record.get("mode") or "").strip().lower()
        if mode not in UNIT_MODES:
            raise InfeasiblePlanError(
                f"unit {unit_id!r} has mode {record.get('mode')!r}; set it to one of "
                f"{', '.join(UNIT_MODES)}"
            )
        station = record.get("station_id")
        if (
            station is None
            or (isinstance(station, float) and math.isnan(station))
            or not str(station).strip()
        ):
            raise InfeasiblePlanError(
                f"unit {unit_id!r} has no station; set its 'station_id' to a station of the "
                "'stations' layer"
            )
        breaks = record.get("breaks")
        rows.append(
            _UnitRow(
                unit_id,
                mode,
                str(station).strip(),
                parse_id_list(record.get("grid_ids")),
                "" if breaks is None or pd.isna(breaks) else str(breaks),
            )
        )
    return rows


def _metric_crs(roads: gpd.GeoDataFrame) -> Any:
    return roads.estimate_utm_crs() if roads.crs.is_geographic else roads.crs


def _allowed_area(
    unit: _UnitRow, grids: gpd.GeoDataFrame, grid_ids: set[str]
) -> shapely.Geometry | None:
    """The unit's grids (metric CRS), widened to take in boundary streets; None: anywhere."""
    if not unit.grid_ids:
        return None
    unknown = [g for g in unit.grid_ids if g not in grid_ids]
    if unknown:
        raise InfeasiblePlanError(
            f"unit {unit.unit_id!r} names unknown grid id(s) {', '.join(map(repr, unknown[:10]))}"
            f"{' ...' if len(unknown) > 10 else ''}; fix its 'grid_ids' to ids of the 'grids' layer"
        )
    chosen = grids[grids["id"].isin(unit.grid_ids)]
    return shapely.union_all(chosen.geometry.buffer(GRID_EDGE_TOLERANCE_M).to_numpy())


def _merge_hotspots(parts: Sequence[Hotspots], *, merge_distance_m: float) -> Hotspots:
    """Join hotspot sets, dropping any hotspot within ``merge_distance_m`` of an earlier one."""
    keep_x: list[float] = []
    keep_y: list[float] = []
    risk: list[NDArray[np.float64]] = []
    names: list[Any] = []
    segments: list[NDArray[np.int64]] = []
    for part in parts:
        for i in range(len(part)):
            if (
                keep_x
                and np.hypot(np.asarray(keep_x) - part.x[i], np.asarray(keep_y) - part.y[i]).min()
                <= merge_distance_m
            ):
                continue
            keep_x.append(float(part.x[i]))
            keep_y.append(float(part.y[i]))
            risk.append(part.risk_by_hour[i])
            names.append(part.name[i])
            segments.append(part.segments[i] if part.segments else np.empty(0, dtype=np.int64))
    return Hotspots(
        x=np.asarray(keep_x),
        y=np.asarray(keep_y),
        crs=parts[0].crs,
        risk_by_hour=np.asarray(risk).reshape(-1, 24),
        name=np.asarray(names, dtype=object),
        segments=tuple(segments),
    )


def plan_shift(
    workspace: Workspace,
    *,
    shift: Shift,
    date: dt.date | None = None,
    unit_ids: Sequence[str] | None = None,
    seed: int = 0,
    settings: Settings | None = None,
    n_hotspots: int = 40,
    time_limit_s: float = 30.0,
    merge_distance_m: float = 150.0,
    street_risk_weight: float = STREET_RISK_WEIGHT,
) -> ShiftPlan:
    """Plan the patrol routes of one shift.

    Parameters
    ----------
    workspace
        An open workspace with ``units``, ``stations``, ``roads`` and ``incidents`` (and
        ``grids`` when units name grids).
    shift
        The shift window (may cross midnight); its length is every unit's time budget.
    date
        The day the shift starts (local); today by default.
    unit_ids
        Units to plan; by default the units whose ``shift`` is empty or this shift.
    seed
        Varies the routes with the same guarantees.
    settings
        Dwell and revisit spacing (``dwell_min_minutes``, ``dwell_max_minutes``,
        ``revisit_spacing_minutes``); defaults when ``None``.
    n_hotspots
        Hotspots chosen over all units' grids (a unit whose grids hold none gets its own
        few besides).
    time_limit_s
        Solver search time.
    merge_distance_m
        Risky streets this close together form one hotspot.
    street_risk_weight
        How much the legs between stops prefer streets with risk in the shift (0..1; 0:
        fastest paths); see ``PatrolOptions.street_risk_weight``.

    Returns
    -------
    ShiftPlan

    Raises
    ------
    InfeasiblePlanError
        Naming the unit: unknown unit or grid ids, no station, a station off the network,
        grids unreachable, a budget too short to reach any hotspot.
    """
    settings = settings or Settings()
    options = PatrolOptions(
        dwell_min_s=settings.dwell_min_minutes * 60.0,
        dwell_max_s=settings.dwell_max_minutes * 60.0,
        revisit_spacing_s=settings.revisit_spacing_minutes * 60.0,
        street_risk_weight=street_risk_weight,
    )
    tz = workspace.timezone
    day = date or pd.Timestamp.now(tz=tz).date()
    start = pd.Timestamp(dt.datetime.combine(day, shift.start)).tz_localize(tz)
    shift_start_s = shift.start.hour * 3600 + shift.start.minute * 60
    budget_s = shift.duration_h * 3600.0

    units = _units_on_duty(workspace, shift, unit_ids)
    stations = workspace.layer("stations")
    station_ids = set(stations["id"].astype(str))
    for unit in units:
        if unit.station_id not in station_ids:
            raise InfeasiblePlanError(
                f"unit {unit.unit_id!r} names station {unit.station_id!r}, which is not in the "
                "'stations' layer; fix its 'station_id' or import the station"
            )
    roads = workspace.layer("roads")
    assert isinstance(roads, gpd.GeoDataFrame)
    crs = _metric_crs(roads)
    modes = sorted({u.mode for u in units}, key=UNIT_MODES.index)
    networks: dict[str, StreetNetwork] = {
        mode: network_from_lines(roads, mode=mode, crs=crs) for mode in modes
    }
    ref_mode = "car" if "car" in networks else modes[0]
    ref = networks[ref_mode]

    grids = (
        workspace.layer("grids", required=any(u.grid_ids for u in units))
        if any(u.grid_ids for u in units)
        else None
    )
    grid_ids: set[str] = set()
    metric_grids = None
    if grids is not None:
        assert isinstance(grids, gpd.GeoDataFrame)
        metric_grids = grids.to_crs(crs)
        grid_ids = set(metric_grids["id"].astype(str))
    areas = [
        _allowed_area(u, metric_grids, grid_ids) if metric_grids is not None else None
        for u in units
    ]

    incidents = workspace.layer("incidents")
    assert isinstance(incidents, gpd.GeoDataFrame)
    risk = {
        mode: hour_band_risk(segment_risk_by_hour(net, incidents, timezone=tz))
        for mode, net in networks.items()
    }
    hours = shift_hours(shift_start_s, budget_s)
    mid = shapely.line_interpolate_point(ref.segment_geometry, 0.5, normalized=True)
    if any(a is None for a in areas):
        segment_mask = None
    else:
        union = shapely.union_all([a for a in areas if a is not None])
        segment_mask = shapely.contains_xy(
            union, shapely.get_coordinates(mid)[:, 0], shapely.get_coordinates(mid)[:, 1]
        )
    parts = [
        select_hotspots(
            ref,
            risk[ref_mode],
            hours=hours,
            n_hotspots=n_hotspots,
            segment_mask=segment_mask,
            merge_distance_m=merge_distance_m,
        )
    ]
    mid_xy = shapely.get_coordinates(mid)
    for area in areas:
        if area is None:
            continue
        if len(parts[0]) and shapely.contains_xy(area, parts[0].x, parts[0].y).any():
            continue
        own = shapely.contains_xy(area, mid_xy[:, 0], mid_xy[:, 1])
        if own.any():
            parts.append(
                select_hotspots(
                    ref,
                    risk[ref_mode],
                    hours=hours,
                    n_hotspots=MIN_HOTSPOTS_PER_UNIT,
                    segment_mask=own,
                    merge_distance_m=merge_distance_m,
                )
            )
    hotspots = (
        _merge_hotspots([p for p in parts if len(p)], merge_distance_m=merge_distance_m)
        if any(len(p) for p in parts)
        else parts[0]
    )

    station_points = stations.assign(id=stations["id"].astype(str)).set_index("id").geometry
    patrol_units = []
    for unit, area in zip(units, areas, strict=True):
        net = networks[unit.mode]
        point = station_points.loc[[unit.station_id]]
        try:
            node = int(np.asarray(nearest_nodes(net, point))[0])
        except NetworkError as exc:
            raise InfeasiblePlanError(
                f"unit {unit.unit_id!r}: its station {unit.station_id!r} is off the "
                f"{unit.mode} network ({exc}); move the station onto a street"
            ) from None
        allowed = (
            None
            if area is None
            else np.asarray(shapely.contains_xy(area, net.node_x, net.node_y), dtype=bool)
        )
        breaks = parse_breaks(unit.breaks, shift=shift, unit_id=unit.unit_id)
        try:
            patrol_units.append(
                PatrolUnit(unit.unit_id, unit.mode, node, budget_s, allowed, breaks=breaks)
            )
        except RoutingError as exc:
            raise InfeasiblePlanError(str(exc)) from None

    hour_cols = sorted(set(hours))
    model = PatrolModel.build(
        networks,
        hotspots,
        patrol_units,
        shift_start_s=shift_start_s,
        options=options,
        street_risk={mode: r[:, hour_cols].sum(axis=1) for mode, r in risk.items()},
    )
    plan = model.solve(time_limit_s=time_limit_s, seed=seed)
    logger.info(
        "plan for %s: dosage %.3f, %s hotspot stops, balance %.2f",
        shift.label(),
        plan.objective,
        f"{sum(len(r.hotspot_stops) for r in plan.routes):,}",
        plan.balance_ratio,
    )
    stations_named = stations.assign(id=stations["id"].astype(str)).set_index("id")
    unit_station = {u.unit_id: u.station_id for u in units}
    hotspot_gdf = _hotspot_frame(model, plan, metric_grids, hours)
    stops = _stops_frame(model, plan, start, unit_station, stations_named, hotspot_gdf)
    routes = _routes_frame(model, plan)
    kpis = plan_kpis(
        model,
        plan,
        risk=risk,
        hours=hours,
        metric_grids=metric_grids,
        areas=areas,
    )
    kpis.update(
        {
            "plan_id": make_plan_id(shift, start, seed),
            "shift": shift.label(),
            "shift_name": shift.name,
            "start": start.isoformat(),
            "timezone": tz,
            "seed": seed,
            "time_limit_s": time_limit_s,
            "street_risk_weight": street_risk_weight,
        }
    )
    return ShiftPlan(
        plan=plan,
        model=model,
        shift=shift,
        start=start,
        timezone=tz,
        seed=seed,
        routes=routes,
        stops=stops,
        hotspots=hotspot_gdf,
        kpis=kpis,
    )


# -- frames ---------------------------------------------------------------------------------


def _to_lonlat(x: NDArray[np.float64], y: NDArray[np.float64], crs: Any) -> NDArray[np.float64]:
    points = gpd.GeoSeries(shapely.points(x, y), crs=crs).to_crs(STORAGE_CRS)
    return shapely.get_coordinates(points.to_numpy())


def _hotspot_frame(
    model: PatrolModel,
    plan: PatrolPlan,
    metric_grids: gpd.GeoDataFrame | None,
    hours: Sequence[int],
) -> gpd.GeoDataFrame:
    hs = model.hotspots
    visits = np.zeros(len(hs), dtype=int)
    for route in plan.routes:
        for stop in route.hotspot_stops:
            visits[stop.hotspot] += 1
    gdf = gpd.GeoDataFrame(
        {
            "id": [f"hs-{i + 1:03d}" for i in range(len(hs))],
            "name": [str(n) for n in hs.name],
            "shift_risk": hs.risk_by_hour[:, sorted(set(hours))].sum(axis=1),
            "visits": visits,
        },
        geometry=shapely.points(hs.x, hs.y),
        crs=hs.crs,
    )
    gdf["grid_id"] = _grid_of(gdf, metric_grids)
    return gdf.to_crs(STORAGE_CRS)


def _grid_of(points: gpd.GeoDataFrame, metric_grids: gpd.GeoDataFrame | None) -> list[str | None]:
    if metric_grids is None or len(points) == 0:
        return [None] * len(points)
    # hotspots lie on streets, and streets often are grid boundaries: take the nearest grid
    joined = gpd.sjoin_nearest(
        points[["geometry"]].to_crs(metric_grids.crs),
        metric_grids[["id", "geometry"]],
        how="left",
        max_distance=GRID_EDGE_TOLERANCE_M,
    )
    first = joined[~joined.index.duplicated()]
    return [None if pd.isna(v) else str(v) for v in first["id"]]


def _iso(start: pd.Timestamp, seconds: float) -> str:
    return (start + pd.Timedelta(seconds=float(seconds))).isoformat()


def _stops_frame(
    model: PatrolModel,
    plan: PatrolPlan,
    start: pd.Timestamp,
    unit_station: dict[str, str],
    stations: gpd.GeoDataFrame,
    hotspots: gpd.GeoDataFrame,
) -> pd.DataFrame:
    """The timetable: stations, hotspot stops and, between them, one waypoint per turn
    onto another street (time = departure + travel time so far along the leg)."""
    rows: list[dict[str, Any]] = []
    xs: list[float] = []
    ys: list[float] = []
    for route in plan.routes:
        net = model.networks[route.mode]
        station_name = str(stations.loc[unit_station[route.unit_id], "name"])
        entries: list[tuple[str, str, int, float, float, Any, str, str]] = []
        for k, stop in enumerate(route.stops):
            street = _street_at(net, route, k)
            if stop.kind == "break":
                minutes = round((stop.depart_s - stop.arrive_s) / 60)
                where = (
                    station_name if stop.hotspot < 0 else str(hotspots["name"].iat[stop.hotspot])
                )
                entries.append(
                    (
                        "break",
                        f"Break ({minutes} min) at {where}",
                        stop.node,
                        stop.arrive_s,
                        stop.depart_s,
                        street,
                        "",
                        "",
                    )
                )
            elif stop.kind == "station":
                entries.append(
                    (
                        "station",
                        station_name,
                        stop.node,
                        stop.arrive_s,
                        stop.depart_s,
                        street,
                        "",
                        "",
                    )
                )
            else:
                entries.append(
                    (
                        "hotspot",
                        str(hotspots["name"].iat[stop.hotspot]),
                        stop.node,
                        stop.arrive_s,
                        stop.depart_s,
                        street,
                        str(hotspots["id"].iat[stop.hotspot]),
                        hotspots["grid_id"].iat[stop.hotspot] or "",
                    )
                )
            if k < len(route.legs):
                elapsed = 0.0
                current = street
                for edge in route.legs[k].edges:
                    name = net.segment_name[net.edge_segment[edge]]
                    if name and name != current:
                        at = stop.depart_s + math.floor(elapsed)
                        node = int(net.edge_u[edge])
                        entries.append(("waypoint", f"onto {name}", node, at, at, name, "", ""))
                        current = name
                    elapsed += float(net.edge_travel_time_s[edge])
        for seq, (kind, name, node, arrive, depart, street, hotspot_id, grid_id) in enumerate(
            entries
        ):
            xs.append(float(net.node_x[node]))
            ys.append(float(net.node_y[node]))
            rows.append(
                {
                    "unit_id": route.unit_id,
                    "seq": seq,
                    "kind": kind,
                    "name": name,
                    "arrive": _iso(start, arrive),
                    "depart": _iso(start, depart),
                    "dwell_min": round((depart - arrive) / 60.0, 2),
                    "street": street if street is not None else "",
                    "hotspot_id": hotspot_id,
                    "grid_id": grid_id,
                    "arrive_s": arrive,
                    "depart_s": depart,
                }
            )
    frame = pd.DataFrame(rows)
    lonlat = _to_lonlat(np.asarray(xs), np.asarray(ys), model.hotspots.crs)
    frame.insert(4, "lon", np.round(lonlat[:, 0], 7) if len(lonlat) else [])
    frame.insert(5, "lat", np.round(lonlat[:, 1], 7) if len(lonlat) else [])
    return frame


def _street_at(net: StreetNetwork, route: UnitRoute, k: int) -> str | None:
    """The street a stop lies on: the first street of the next leg, else of the last one."""
    if k < len(route.legs) and route.legs[k].edges:
        return net.segment_name[net.edge_segment[route.legs[k].edges[0]]]
    if k > 0 and route.legs[k - 1].edges:
        return net.segment_name[net.edge_segment[route.legs[k - 1].edges[-1]]]
    return None


def _route_line(net: StreetNetwork, edges: Sequence[int]) -> shapely.LineString:
    if not edges:
        return shapely.LineString()
    idx = np.asarray(edges, dtype=np.int64)
    parts = net.segment_geometry[net.edge_segment[idx]]
    parts = np.where(net.edge_forward[idx], parts, shapely.reverse(parts))
    coords = np.concatenate([shapely.get_coordinates(p) for p in parts])
    keep = np.ones(len(coords), dtype=bool)
    keep[1:] = np.any(coords[1:] != coords[:-1], axis=1)
    coords = coords[keep]
    return shapely.LineString(coords) if len(coords) > 1 else shapely.LineString()


def _routes_frame(model: PatrolModel, plan: PatrolPlan) -> gpd.GeoDataFrame:
    frames = []
    for route, credit in zip(plan.routes, _credit_by_unit(plan), strict=True):
        net = model.networks[route.mode]
        line = _route_line(net, route.edges)
        frame = gpd.GeoDataFrame(
            {
                "unit_id": [route.unit_id],
                "mode": [route.mode],
                "distance_m": [round(route.length_m, 1)],
                "duration_s": [route.duration_s],
                "travel_s": [route.travel_time_s],
                "hotspot_stops": [len(route.hotspot_stops)],
                "dwell_s": [float(sum(s.dwell_s for s in route.hotspot_stops))],
                "dosage": [credit],
            },
            geometry=[line],
            crs=net.crs,
        ).to_crs(STORAGE_CRS)
        frames.append(frame)
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=STORAGE_CRS)


def _credit_by_unit(plan: PatrolPlan) -> list[float]:
    """Each unit's share of the plan's dosage (stops scored in plan order)."""
    credit = plan.score.credit
    out = []
    pos = 0
    for route in plan.routes:
        n = len(route.hotspot_stops)
        out.append(float(credit[pos : pos + n].sum()))
        pos += n
    return out


# -- KPIs -----------------------------------------------------------------------------------


def plan_kpis(
    model: PatrolModel,
    plan: PatrolPlan,
    *,
    risk: dict[str, NDArray[np.float64]],
    hours: Sequence[int],
    metric_grids: gpd.GeoDataFrame | None = None,
    areas: Sequence[Any] | None = None,
) -> dict[str, Any]:
    """Key figures of a plan.

    ``risk_covered_share``: share of the shift's street risk (inside the units' grids)
    on streets some route drives along; ``hotspot_risk_share``: the plan's dosage over
    the dosage of visiting every hotspot in every band it may be visited in (the
    discretised upper bound, spacing ignored); ``hotspot_dosage_minutes``: minutes of
    stops at hotspots; ``balance_ratio``: busiest over least busy unit's route duration;
    per unit distance, duration, stops and dosage; streets and grids covered.
    """
    hour_cols = sorted(set(hours))
    units: dict[str, Any] = {}
    covered_risk = 0.0
    total_risk = 0.0
    streets: set[str] = set()
    covered_km = 0.0
    for mode, net in model.networks.items():
        shift_risk = risk[mode][:, hour_cols].sum(axis=1)
        used = np.zeros(net.n_segments, dtype=bool)
        for route in plan.routes:
            if route.mode == mode and route.edges:
                used[net.edge_segment[np.asarray(route.edges)]] = True
        scope = np.ones(net.n_segments, dtype=bool)
        if areas is not None and all(a is not None for a in areas):
            mids = shapely.get_coordinates(
                shapely.line_interpolate_point(net.segment_geometry, 0.5, normalized=True)
            )
            union = shapely.union_all(list(areas))
            scope = shapely.contains_xy(union, mids[:, 0], mids[:, 1]) | used
        covered_risk += float(shift_risk[used].sum())
        total_risk += float(shift_risk[scope].sum())
        streets.update(str(n) for n in net.segment_name[used] if n)
        covered_km += float(net.segment_length_m[used].sum()) / 1000.0
    for route, credit in zip(plan.routes, _credit_by_unit(plan), strict=True):
        units[route.unit_id] = {
            "mode": route.mode,
            "distance_m": round(route.length_m, 1),
            "duration_s": route.duration_s,
            "travel_s": route.travel_time_s,
            "hotspot_stops": len(route.hotspot_stops),
            "dwell_min": round(sum(s.dwell_s for s in route.hotspot_stops) / 60.0, 1),
            "dosage": round(credit, 4),
        }
    upper = sum(c.prize for c in model.copies)
    grids_visited: list[str] = []
    if metric_grids is not None:
        lines = []
        for route in plan.routes:
            line = _route_line(model.networks[route.mode], route.edges)
            if not line.is_empty:
                lines.append(line)
        if lines:
            hit = metric_grids.geometry.intersects(shapely.union_all(lines))
            grids_visited = sorted(metric_grids.loc[hit.to_numpy(), "id"].astype(str))
    dwell_min = sum(s.dwell_s for r in plan.routes for s in r.hotspot_stops) / 60.0
    return {
        "objective": round(plan.objective, 6),
        "objective_name": "risk-weighted dosage (hourly hotspot risk per stop, spaced revisits)",
        "risk_covered_share": round(covered_risk / total_risk, 4) if total_risk else 0.0,
        "hotspot_risk_share": round(plan.objective / upper, 4) if upper else 0.0,
        "hotspot_dosage_minutes": round(dwell_min, 1),
        "hotspots": len(model.hotspots),
        "hotspots_visited": len({s.hotspot for r in plan.routes for s in r.hotspot_stops}),
        "hotspot_stops": sum(len(r.hotspot_stops) for r in plan.routes),
        "repeat_stops_inside_spacing": plan.score.repeat_stops,
        "balance_ratio": round(plan.balance_ratio, 4),
        "balance_measure": "route duration, station to station (busiest / least busy)",
        "units_used": sum(bool(r.hotspot_stops) for r in plan.routes),
        "units": units,
        "streets_covered": len(streets),
        "street_km_covered": round(covered_km, 2),
        "grids_visited": len(grids_visited),
        "grid_ids_visited": grids_visited,
        "solve_time_s": round(plan.solve_time_s, 2),
    }


# -- outputs --------------------------------------------------------------------------------

#: Columns of the stable ``stops.csv`` (other tools read them: add, never rename).
STOP_COLUMNS: tuple[str, ...] = (
    "unit_id",
    "seq",
    "kind",
    "name",
    "lon",
    "lat",
    "arrive",
    "depart",
    "dwell_min",
    "street",
)
_STOP_COLUMNS = [*STOP_COLUMNS, "hotspot_id", "grid_id"]


def gpx_document(plan: ShiftPlan, unit_id: str) -> bytes:
    """GPX 1.1 of one unit: its stops as waypoints (with times) and its route as a track."""
    ns = "http://www.topografix.com/GPX/1/1"
    ET.register_namespace("", ns)
    root = ET.Element(f"{{{ns}}}gpx", {"version": "1.1", "creator": "gisapp"})
    meta = ET.SubElement(root, f"{{{ns}}}metadata")
    ET.SubElement(meta, f"{{{ns}}}name").text = f"{unit_id} {plan.shift.label()}"
    ET.SubElement(meta, f"{{{ns}}}time").text = plan.start.tz_convert("UTC").isoformat()
    stops = plan.stops[(plan.stops["unit_id"] == unit_id) & (plan.stops["kind"] != "waypoint")]
    for row in stops.itertuples():
        wpt = ET.SubElement(
            root, f"{{{ns}}}wpt", {"lat": f"{row.lat:.7f}", "lon": f"{row.lon:.7f}"}
        )
        ET.SubElement(wpt, f"{{{ns}}}time").text = (
            pd.Timestamp(str(row.arrive)).tz_convert("UTC").isoformat()
        )
        ET.SubElement(wpt, f"{{{ns}}}name").text = f"{row.seq}. {row.name}"
        ET.SubElement(
            wpt, f"{{{ns}}}desc"
        ).text = f"{row.kind}: arrive {row.arrive}, depart {row.depart}, dwell {row.dwell_min} min"
        ET.SubElement(wpt, f"{{{ns}}}type").text = str(row.kind)
    trk = ET.SubElement(root, f"{{{ns}}}trk")
    ET.SubElement(trk, f"{{{ns}}}name").text = unit_id
    seg = ET.SubElement(trk, f"{{{ns}}}trkseg")
    line = plan.routes.loc[plan.routes["unit_id"] == unit_id].geometry.iloc[0]
    for lon, lat in shapely.get_coordinates(line):
        ET.SubElement(seg, f"{{{ns}}}trkpt", {"lat": f"{lat:.7f}", "lon": f"{lon:.7f}"})
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _safe_name(unit_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in unit_id)


def write_plan(plan: ShiftPlan, out_dir: str | Path) -> list[Path]:
    """Write ``routes.geojson``, ``stops.csv``, ``<unit_id>.gpx``, ``hotspots.geojson`` and
    ``kpis.json`` into ``out_dir`` (created if needed); return the files written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    path = out / "routes.geojson"
    plan.routes.to_file(path, driver="GeoJSON")
    written.append(path)
    path = out / "stops.csv"
    plan.stops[_STOP_COLUMNS].to_csv(path, index=False)
    written.append(path)
    path = out / "hotspots.geojson"
    plan.hotspots.to_file(path, driver="GeoJSON")
    written.append(path)
    for unit_id in plan.routes["unit_id"]:
        path = out / f"{_safe_name(str(unit_id))}.gpx"
        path.write_bytes(gpx_document(plan, str(unit_id)))
        written.append(path)
    path = out / "kpis.json"
    path.write_text(json.dumps(plan.kpis, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    written.append(path)
    return written


# -- saved plans ----------------------------------------------------------------------------

#: The workspace layers holding saved plans, each with a ``plan_id`` column.
PLAN_LAYERS: tuple[str, ...] = ("plan_routes", "plan_stops", "plan_hotspots")
#: The workspace table listing saved plans.
PLAN_INDEX = "plan_index"
#: The KPIs copied into the plan index, for listing and comparing plans.
_KPI_COLUMNS: tuple[str, ...] = (
    "units_used",
    "objective",
    "risk_covered_share",
    "hotspot_risk_share",
    "hotspot_dosage_minutes",
    "hotspot_stops",
    "balance_ratio",
    "street_km_covered",
)
#: Columns of :func:`list_plans` (besides them the table keeps the full KPIs as JSON).
PLAN_INDEX_COLUMNS: tuple[str, ...] = (
    "plan_id",
    "created",
    "shift",
    "shift_name",
    "start",
    "seed",
    "units",
    *_KPI_COLUMNS,
)


@dataclass(frozen=True)
class SavedPlan:
    """A plan read back from the workspace (see :func:`load_plan`).

    Parameters
    ----------
    plan_id
        The plan's stable id.
    created
        When it was saved (UTC), ``None`` when unknown.
    shift
        The shift window, e.g. ``22:00-06:00``.
    start
        The shift's start, local time.
    seed
        The plan's seed.
    timezone
        The workspace's time zone, in which the stop times are written.
    routes
        One line per unit (EPSG:4326), the ``routes.geojson`` fields and more.
    stops
        The timetable, the ``stops.csv`` fields (times as ISO 8601 text).
    hotspots
        The shift's hotspots (EPSG:4326).
    kpis
        The plan's key figures, as in ``kpis.json``.
    """

    plan_id: str
    created: pd.Timestamp | None
    shift: str
    start: pd.Timestamp
    seed: int
    timezone: str
    routes: gpd.GeoDataFrame
    stops: pd.DataFrame
    hotspots: gpd.GeoDataFrame
    kpis: dict[str, Any]

    @property
    def unit_ids(self) -> list[str]:
        """The plan's units, in route order."""
        return [str(u) for u in self.routes["unit_id"]]


def save_plan(plan: ShiftPlan, workspace: Workspace, *, created: pd.Timestamp | None = None) -> str:
    """Save a plan into the workspace beside the plans already there, atomically.

    The rows of ``plan_routes``, ``plan_stops`` and ``plan_hotspots`` and the
    ``plan_index`` row of a plan with the same id are replaced; other plans are kept. The
    metadata key ``plan_kpis`` takes this plan's KPIs.

    Parameters
    ----------
    plan
        The plan to save.
    workspace
        The open workspace (it is updated in place).
    created
        The time of saving recorded in the index; now by default.

    Returns
    -------
    str
        The plan's id.
    """
    plan_id = plan.plan_id
    saved_at = pd.Timestamp.now(tz="UTC") if created is None else pd.Timestamp(created)
    saved_at = saved_at.tz_localize("UTC") if saved_at.tzinfo is None else saved_at
    stops = plan.stops[_STOP_COLUMNS]
    stops_gdf = gpd.GeoDataFrame(
        stops, geometry=shapely.points(stops["lon"], stops["lat"]), crs=STORAGE_CRS
    )
    fresh = {
        "plan_routes": plan.routes,
        "plan_stops": stops_gdf,
        "plan_hotspots": plan.hotspots,
    }
    layers: dict[str, Any] = {}
    for name, frame in fresh.items():
        new_rows = frame.assign(plan_id=plan_id)
        new_rows = new_rows[["plan_id", *[c for c in new_rows.columns if c != "plan_id"]]]
        old = _stored_plan_rows(workspace, name)
        parts = [new_rows] if old is None else [old[old["plan_id"] != plan_id], new_rows]
        parts = [part for part in parts if len(part)] or [new_rows]
        layers[name] = gpd.GeoDataFrame(
            pd.concat(parts, ignore_index=True), geometry="geometry", crs=STORAGE_CRS
        )
    index = _index_table(workspace)
    row = {
        "plan_id": plan_id,
        "created": saved_at.tz_convert("UTC").isoformat(),
        "shift": plan.shift.label(),
        "shift_name": plan.shift.name,
        "start": plan.start.isoformat(),
        "seed": int(plan.seed),
        "units": ",".join(str(u) for u in plan.routes["unit_id"]),
        **{key: plan.kpis.get(key) for key in _KPI_COLUMNS},
        "kpis": json.dumps(plan.kpis, ensure_ascii=False),
    }
    kept = index[index["plan_id"] != plan_id]
    parts = [kept, pd.DataFrame([row])] if len(kept) else [pd.DataFrame([row])]
    layers[PLAN_INDEX] = pd.concat(parts, ignore_index=True)
    workspace.save(layers, meta={"plan_kpis": plan.kpis})
    logger.info(
        "saved plan %s into %s (%s plan(s) kept)",
        plan_id,
        workspace.path.name,
        f"{len(layers[PLAN_INDEX]):,}",
    )
    return plan_id


def list_plans(workspace: Workspace) -> pd.DataFrame:
    """The plans saved in the workspace, newest first.

    Returns
    -------
    pandas.DataFrame
        One row per plan with the columns of :data:`PLAN_INDEX_COLUMNS`: ``created`` as a
        UTC timestamp, ``start`` as ISO 8601 text, ``units`` as comma-separated ids and the
        key KPIs. Empty (with those columns) when no plan is saved.
    """
    index = _index_table(workspace)
    for column in PLAN_INDEX_COLUMNS:
        if column not in index.columns:
            index[column] = pd.Series(dtype=object)
    index = index.assign(
        created=pd.to_datetime(index["created"], utc=True, errors="coerce", format="ISO8601")
    )
    # Newest first; of two saved in the same instant, the one written later.
    index = index.assign(_row=np.arange(len(index)))
    index = index.sort_values(["created", "_row"], ascending=False, na_position="last")
    return index[list(PLAN_INDEX_COLUMNS)].reset_index(drop=True)


def load_plan(workspace: Workspace, plan_id: str | None = None) -> SavedPlan:
    """Read a saved plan back from the workspace.

    Parameters
    ----------
    workspace
        The open workspace.
    plan_id
        The plan's id; ``None`` for the plan saved last.

    Returns
    -------
    SavedPlan

    Raises
    ------
    WorkspaceError
        If the workspace has no saved plan, or none with ``plan_id`` (the message lists
        the ids it has).
    """
    plans = list_plans(workspace)
    if not len(plans):
        raise WorkspaceError(
            f"workspace {workspace.path.name!r} has no saved plans; make one with "
            f"'gisapp plan {workspace.path} --shift night --out DIR' or on the Plans page"
        )
    ids = [str(p) for p in plans["plan_id"]]
    if plan_id is None:
        chosen = ids[0]
    elif str(plan_id) in ids:
        chosen = str(plan_id)
    else:
        listed = ", ".join(ids[:20]) + (f" and {len(ids) - 20:,} more" if len(ids) > 20 else "")
        raise WorkspaceError(
            f"workspace {workspace.path.name!r} has no plan {plan_id!r}; its plans are "
            f"{listed} (newest first)"
        )
    index = _index_table(workspace)
    record = index[index["plan_id"] == chosen].iloc[-1]
    try:
        kpis = json.loads(str(record.get("kpis") or "{}"))
    except json.JSONDecodeError:
        kpis = {}
    frames = {}
    for name in PLAN_LAYERS:
        rows = _stored_plan_rows(workspace, name)
        if rows is None:
            raise WorkspaceError(
                f"workspace {workspace.path.name!r} lists plan {chosen!r} but has no layer "
                f"{name!r}; save the plan again with 'gisapp plan'"
            )
        mine = rows[rows["plan_id"] == chosen].drop(columns="plan_id").reset_index(drop=True)
        frames[name] = mine
    stops = pd.DataFrame(frames["plan_stops"].drop(columns="geometry"))
    stops["seq"] = stops["seq"].astype("int64")
    for column in ("street", "name", "hotspot_id", "grid_id"):
        if column in stops.columns:
            stops[column] = stops[column].fillna("").astype(str)
    stops = stops.sort_values(["unit_id", "seq"], kind="stable", ignore_index=True)
    timezone = str(kpis.get("timezone") or workspace.timezone)
    start = pd.Timestamp(str(record.get("start") or kpis.get("start")))
    return SavedPlan(
        plan_id=chosen,
        created=_utc_time(record.get("created")),
        shift=str(record.get("shift") or kpis.get("shift") or ""),
        start=start.tz_convert(timezone) if start.tzinfo is not None else start,
        seed=int(record.get("seed") or 0),
        timezone=timezone,
        routes=frames["plan_routes"],
        stops=stops,
        hotspots=frames["plan_hotspots"],
        kpis=dict(kpis) if isinstance(kpis, dict) else {},
    )


def _utc_time(value: Any) -> pd.Timestamp | None:
    stamp = pd.to_datetime(str(value), utc=True, errors="coerce", format="ISO8601")
    return None if pd.isna(stamp) else pd.Timestamp(stamp)


def _legacy_plan(workspace: Workspace) -> tuple[str, dict[str, Any]]:
    """Id and KPIs of a plan saved before plans had ids (one plan, no ``plan_id``)."""
    try:
        kpis = json.loads(workspace.meta.get("plan_kpis") or "{}")
    except json.JSONDecodeError:
        kpis = {}
    kpis = kpis if isinstance(kpis, dict) else {}
    if kpis.get("plan_id"):
        return str(kpis["plan_id"]), kpis
    try:
        shift = parse_shift(str(kpis.get("shift")))
        start = pd.Timestamp(str(kpis.get("start")))
        if pd.isna(start):
            raise ValueError(start)
        return make_plan_id(shift, start, int(kpis.get("seed") or 0)), kpis
    except (ValueError, TypeError, SettingsError):
        return "saved-plan", kpis


def _stored_plan_rows(workspace: Workspace, name: str) -> gpd.GeoDataFrame | None:
    """A plan layer's rows with their ``plan_id`` (old single-plan rows get the legacy id)."""
    if not workspace.has_layer(name):
        return None
    frame = workspace.spatial_layer(name)
    if "plan_id" not in frame.columns:
        frame.insert(0, "plan_id", _legacy_plan(workspace)[0])
    frame["plan_id"] = frame["plan_id"].astype(str)
    return frame


def _index_table(workspace: Workspace) -> pd.DataFrame:
    """The ``plan_index`` table (one row made up for an old single-plan workspace)."""
    if workspace.has_layer(PLAN_INDEX):
        table = pd.DataFrame(workspace.layer(PLAN_INDEX))
        table["plan_id"] = table["plan_id"].astype(str)
        return table
    if workspace.has_layer("plan_routes"):
        plan_id, kpis = _legacy_plan(workspace)
        saved_at = pd.Timestamp(workspace.path.stat().st_mtime, unit="s", tz="UTC")
        routes = workspace.layer("plan_routes")
        return pd.DataFrame(
            [
                {
                    "plan_id": plan_id,
                    "created": saved_at.isoformat(),
                    "shift": kpis.get("shift", ""),
                    "shift_name": kpis.get("shift_name", ""),
                    "start": kpis.get("start", ""),
                    "seed": int(kpis.get("seed") or 0),
                    "units": ",".join(str(u) for u in routes["unit_id"]),
                    **{key: kpis.get(key) for key in _KPI_COLUMNS},
                    "kpis": json.dumps(kpis, ensure_ascii=False),
                }
            ]
        )
    return pd.DataFrame(columns=[*PLAN_INDEX_COLUMNS, "kpis"])


__all__ = [
    "PLAN_INDEX",
    "PLAN_LAYERS",
    "SavedPlan",
    "ShiftPlan",
    "gpx_document",
    "list_plans",
    "load_plan",
    "make_plan_id",
    "plan_kpis",
    "plan_shift",
    "save_plan",
    "write_plan",
]
