"""Shift patrol plans from a workspace: units, shift, networks, routes, KPIs and outputs.

:func:`plan_shift` reads the units on duty, their stations and grids, builds one street
network per travel mode, the hourly risk of every street from the incidents, picks the
shift's hotspots and solves the patrol model of ``routing.patrol``. The result, a
:class:`ShiftPlan`, holds the solved model and the plan record
(:class:`gisapp.plans.Plan`) that :func:`gisapp.store.plans.save_plan` saves and
:func:`gisapp.outputs.plan.write_plan` writes. Times are in the workspace's time zone;
lon/lat WGS84.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from scipy.sparse.csgraph import dijkstra

from gisapp.plans import Plan, make_plan_id, plan_from_frames
from gisapp.services.analytics import load_incidents
from gisapp.services.network import workspace_network
from gisapp.services.overrides import PlanOverrides
from gisapp.settings import PLAN_TIME_LIMIT_S, STREET_RISK_WEIGHT, Settings, Shift
from gisapp.store.geopackage import Workspace
from layers.i18n import _
from layers.schema import STORAGE_CRS, UNIT_MODES, parse_id_list
from routing.errors import InfeasiblePlanError, NetworkError, RoutingError
from routing.network import StreetNetwork
from routing.patrol import (
    Break,
    PatrolModel,
    PatrolOptions,
    PatrolPlan,
    PatrolUnit,
    UnitRoute,
    hour_band_risk,
    select_hotspots_by_area,
    shift_hours,
)
from routing.patrol.legs import stop_names
from routing.risk import segment_risk_by_hour
from routing.snap import nearest_nodes

logger = logging.getLogger(__name__)

#: Streets this close to a unit's grids count as inside them (boundary streets).
GRID_EDGE_TOLERANCE_M = 30.0
#: How far (seconds of travel from its station) a unit without grids patrols, by mode: a
#: foot or e-bike patrol works around its station, not across the city. Cars: anywhere.
PATROL_REACH_S = {"foot": 1800.0, "ebike": 1800.0}
#: Hotspots added for a unit whose grids hold none of the shift's top hotspots.
MIN_HOTSPOTS_PER_UNIT = 3
#: Travel between two stops assumed when sizing the hotspot set (seconds).
_TYPICAL_LEG_S = 300.0
#: Hotspots offered per stop the units can make, so the solver has a choice.
_HOTSPOT_CHOICE = 1.5


def hotspot_count(n_units: int, budget_s: float, options: PatrolOptions) -> int:
    """Hotspots to offer ``n_units`` units over a shift of ``budget_s``: enough for every
    unit to stop all shift long with the revisit spacing kept, and a choice among them.

    A unit makes about ``budget / (dwell + a typical leg)`` stops; a hotspot takes about
    ``budget / spacing`` of them (at least one). So 4 cars over 8 hours with 10-minute
    stops and a 2-hour spacing get 48 hotspots, 40 cars 480.
    """
    stops = n_units * budget_s / (options.dwell_min_s + _TYPICAL_LEG_S)
    per_hotspot = max(budget_s / options.revisit_spacing_s, 1.0)
    return max(math.ceil(_HOTSPOT_CHOICE * stops / per_hotspot), 1)


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
    overrides
        The captain's overrides it was made under, if any.
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
    overrides: PlanOverrides | None = None

    @property
    def plan_id(self) -> str:
        """The plan's stable id (see :func:`gisapp.plans.make_plan_id`)."""
        return _plan_id(self.shift, self.start, self.seed, self.overrides)

    @cached_property
    def record(self) -> Plan:
        """The plan record that is saved, written, drawn and shown."""
        return plan_from_frames(
            self.routes,
            self.stops,
            kpis=self.kpis,
            plan_id=self.plan_id,
            timezone=self.timezone,
            hotspots=self.hotspots,
            shift=self.shift.label(),
            shift_name=self.shift.name,
            start=self.start,
            seed=self.seed,
        )


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
                _(
                    "unit %(unit)s has break %(part)s; write it as 'HH:MM-HH:MM/minutes', "
                    "e.g. '02:00-03:00/30' (add '@station' to take it at the station)",
                    unit=repr(unit_id),
                    part=repr(part),
                )
            )
        clock = [tuple(map(int, t.split(":"))) for t in match.group(1, 2)]
        if any(h > 23 or m > 59 for h, m in clock):
            raise InfeasiblePlanError(
                _(
                    "unit %(unit)s has break %(part)s with a clock time past 23:59",
                    unit=repr(unit_id),
                    part=repr(part),
                )
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
            _(
                "workspace %(workspace)s has no units; import a 'units' table "
                "(id, mode, station_id, grid_ids) first",
                workspace=repr(ws.label),
            )
        )
    table = table.assign(id=table["id"].astype(str))
    if unit_ids:
        unknown = sorted(set(unit_ids) - set(table["id"]))
        if unknown:
            raise InfeasiblePlanError(
                _(
                    "unknown unit id(s) %(unknown)s; the workspace has %(units)s",
                    unknown=", ".join(map(repr, unknown)),
                    units=", ".join(table["id"]),
                )
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
                _(
                    "no unit of %(workspace)s works the %(shift)s shift; name units "
                    "with --units or set their 'shift' field",
                    workspace=repr(ws.label),
                    shift=shift.label(),
                )
            )
    rows = []
    for record in table.to_dict("records"):
        unit_id = str(record["id"])
        mode = str(record.get("mode") or "").strip().lower()
        if mode not in UNIT_MODES:
            raise InfeasiblePlanError(
                _(
                    "unit %(unit)s has mode %(mode)s; set it to one of %(modes)s",
                    unit=repr(unit_id),
                    mode=repr(record.get("mode")),
                    modes=", ".join(UNIT_MODES),
                )
            )
        station = record.get("station_id")
        if (
            station is None
            or (isinstance(station, float) and math.isnan(station))
            or not str(station).strip()
        ):
            raise InfeasiblePlanError(
                _(
                    "unit %(unit)s has no station; set its 'station_id' to a station of the "
                    "'stations' layer",
                    unit=repr(unit_id),
                )
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


def _allowed_area(
    unit: _UnitRow, grids: gpd.GeoDataFrame, grid_ids: set[str]
) -> shapely.Geometry | None:
    """The unit's grids (metric CRS), widened to take in boundary streets; None: anywhere."""
    if not unit.grid_ids:
        return None
    unknown = [g for g in unit.grid_ids if g not in grid_ids]
    if unknown:
        raise InfeasiblePlanError(
            _(
                "unit %(unit)s names unknown grid id(s) %(grids)s; fix its 'grid_ids' to ids "
                "of the 'grids' layer",
                unit=repr(unit.unit_id),
                grids=", ".join(map(repr, unknown[:10])) + (" ..." if len(unknown) > 10 else ""),
            )
        )
    chosen = grids[grids["id"].isin(unit.grid_ids)]
    return shapely.union_all(chosen.geometry.buffer(GRID_EDGE_TOLERANCE_M).to_numpy())


def _patrol_units(
    units: Sequence[_UnitRow],
    areas: Sequence[Any],
    networks: dict[str, StreetNetwork],
    stations: gpd.GeoDataFrame,
    *,
    shift: Shift,
    budget_s: float,
) -> list[PatrolUnit]:
    """The patrol model's units: station node on the unit's network, allowed nodes, breaks."""
    station_points = stations.assign(id=stations["id"].astype(str)).set_index("id").geometry
    patrol_units = []
    for unit, area in zip(units, areas, strict=True):
        net = networks[unit.mode]
        point = station_points.loc[[unit.station_id]]
        try:
            node = int(np.asarray(nearest_nodes(net, point))[0])
        except NetworkError as exc:
            raise InfeasiblePlanError(
                _(
                    "unit %(unit)s: its station %(station)s is off the "
                    "%(mode)s network (%(error)s); move the station onto a street",
                    unit=repr(unit.unit_id),
                    station=repr(unit.station_id),
                    mode=unit.mode,
                    error=exc,
                )
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
    return patrol_units


def _duty(
    workspace: Workspace, shift: Shift, unit_ids: Sequence[str] | None
) -> tuple[list[_UnitRow], Any, dict[str, StreetNetwork], gpd.GeoDataFrame | None, list[Any]]:
    """Units on duty, stations, one street network per mode, grids and each unit's area."""
    units = _units_on_duty(workspace, shift, unit_ids)
    stations = workspace.layer("stations")
    station_ids = set(stations["id"].astype(str))
    for unit in units:
        if unit.station_id not in station_ids:
            raise InfeasiblePlanError(
                _(
                    "unit %(unit)s names station %(station)s, which is not in the "
                    "'stations' layer; fix its 'station_id' or import the station",
                    unit=repr(unit.unit_id),
                    station=repr(unit.station_id),
                )
            )
    modes = sorted({u.mode for u in units}, key=UNIT_MODES.index)
    networks: dict[str, StreetNetwork] = {
        mode: workspace_network(workspace, mode) for mode in modes
    }
    crs = networks[modes[0]].crs

    # the grids bound the units that name some, and label every stop when the workspace has them
    grids = (
        workspace.layer("grids")
        if any(u.grid_ids for u in units) or workspace.has_layer("grids")
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
    areas = [
        _reach_area(u, networks[u.mode], stations) if area is None else area
        for u, area in zip(units, areas, strict=True)
    ]
    return units, stations, networks, metric_grids, areas


def _reach_area(
    unit: _UnitRow, net: StreetNetwork, stations: gpd.GeoDataFrame
) -> shapely.Geometry | None:
    """Where a unit without grids patrols: the streets its mode reaches from its station
    within :data:`PATROL_REACH_S` (``None``, anywhere, for a car)."""
    reach_s = PATROL_REACH_S.get(unit.mode)
    if reach_s is None:
        return None
    point = stations.assign(id=stations["id"].astype(str)).set_index("id").geometry
    try:
        node = int(np.asarray(nearest_nodes(net, point.loc[[unit.station_id]]))[0])
    except NetworkError:
        return None  # the station is off the network: the planner says so, naming the unit
    reached = np.isfinite(dijkstra(net.travel_time_csr, indices=node, limit=reach_s))
    segments = np.unique(
        np.concatenate(
            [
                net.edge_segment[reached[net.edge_u] & reached[net.edge_v]],
                np.empty(0, dtype=np.int64),
            ]
        )
    )
    if not len(segments):
        return None
    return shapely.union_all(shapely.buffer(net.segment_geometry[segments], GRID_EDGE_TOLERANCE_M))


def _patrol_options(settings: Settings, street_risk_weight: float) -> PatrolOptions:
    """Dwell, revisit spacing and leg weighting from the settings."""
    return PatrolOptions(
        dwell_min_s=settings.dwell_min_minutes * 60.0,
        dwell_max_s=settings.dwell_max_minutes * 60.0,
        revisit_spacing_s=settings.revisit_spacing_minutes * 60.0,
        street_risk_weight=street_risk_weight,
    )


def _risk_by_mode(
    workspace: Workspace, networks: dict[str, StreetNetwork], *, keep_pileups: bool
) -> dict[str, NDArray[np.float64]]:
    """Each network's risk per segment and hour band, from the workspace's incidents to
    weigh (a reporting desk's pile-up left out unless ``keep_pileups``)."""
    incidents, _ = load_incidents(workspace, keep_pileups=keep_pileups)
    return {
        mode: hour_band_risk(segment_risk_by_hour(net, incidents, timezone=workspace.timezone))
        for mode, net in networks.items()
    }


def plan_shift(
    workspace: Workspace,
    *,
    shift: Shift,
    date: dt.date | None = None,
    unit_ids: Sequence[str] | None = None,
    seed: int = 0,
    settings: Settings | None = None,
    n_hotspots: int | None = None,
    time_limit_s: float = PLAN_TIME_LIMIT_S,
    search_budget: int | None = None,
    merge_distance_m: float = 150.0,
    street_risk_weight: float = STREET_RISK_WEIGHT,
    progress: Callable[[float], None] | None = None,
    overrides: PlanOverrides | None = None,
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
        Dwell and revisit spacing; defaults when ``None``.
    n_hotspots
        Hotspots over all units' grids (a unit whose grids hold none gets a few besides);
        by default as many as the units can use over the shift (:func:`hotspot_count`).
    time_limit_s
        Ceiling on the solver's search time.
    search_budget
        Solver search, in branches: equal workspace, options, seed and budget give equal
        plans whatever the machine's load. ``None``: the settings' ``plan_effort``.
    merge_distance_m
        Risky streets this close together form one hotspot.
    street_risk_weight
        How much legs prefer streets with risk in the shift (0..1; 0: fastest paths).
    progress
        Called with the share of the search done (0 to 1) as it goes.
    overrides
        The captain's locks, forbidden hotspots, closed streets and fixed orders; saved
        with the plan, whose id then ends in their tag.

    Raises
    ------
    InfeasiblePlanError
        Naming the unit: unknown unit or grid ids, no station, a station off the network,
        grids unreachable, a budget too short to reach any hotspot.
    """
    settings = settings or Settings()
    options = _patrol_options(settings, street_risk_weight)
    if search_budget is None:
        search_budget = settings.plan_effort
    tz = workspace.timezone
    day = date or pd.Timestamp.now(tz=tz).date()
    start = pd.Timestamp(dt.datetime.combine(day, shift.start)).tz_localize(tz)
    shift_start_s = shift.start.hour * 3600 + shift.start.minute * 60
    budget_s = shift.duration_h * 3600.0

    units, stations, networks, metric_grids, areas = _duty(workspace, shift, unit_ids)
    if n_hotspots is None:
        n_hotspots = hotspot_count(len(units), budget_s, options)
    ref_mode = "car" if "car" in networks else next(iter(networks))
    ref = networks[ref_mode]

    risk = _risk_by_mode(workspace, networks, keep_pileups=settings.keep_pileups)
    hours = shift_hours(shift_start_s, budget_s)
    hotspots = select_hotspots_by_area(
        ref,
        risk[ref_mode],
        hours=hours,
        areas=areas,
        n_hotspots=n_hotspots,
        min_per_area=MIN_HOTSPOTS_PER_UNIT,
        merge_distance_m=merge_distance_m,
    )
    patrol_units = _patrol_units(units, areas, networks, stations, shift=shift, budget_s=budget_s)

    street_risk = {mode: r[:, sorted(set(hours))].sum(axis=1) for mode, r in risk.items()}
    model = PatrolModel.build(
        networks,
        hotspots,
        patrol_units,
        shift_start_s=shift_start_s,
        options=options,
        street_risk=street_risk,
        overrides=overrides.for_model(hotspots, networks, shift_start_s=shift_start_s)
        if overrides
        else None,
    )
    plan = model.solve(
        time_limit_s=time_limit_s, seed=seed, search_budget=search_budget, progress=progress
    )
    logger.info(
        "plan for %s: dosage %.3f, balance %.2f", shift.label(), plan.objective, plan.balance_ratio
    )
    return _shift_plan(
        model,
        plan,
        units=units,
        stations=stations,
        metric_grids=metric_grids,
        areas=areas,
        risk=risk,
        hours=hours,
        shift=shift,
        start=start,
        timezone=tz,
        seed=seed,
        overrides=overrides or None,
        key_places=workspace.spatial_layer("key_places")
        if workspace.has_layer("key_places")
        else None,
        extra_kpis={
            "search_budget": search_budget,
            "time_limit_s": time_limit_s,
            "street_risk_weight": street_risk_weight,
        },
    )


def _shift_plan(
    model: PatrolModel,
    plan: PatrolPlan,
    *,
    units: Sequence[_UnitRow],
    stations: Any,
    metric_grids: gpd.GeoDataFrame | None,
    areas: Sequence[Any],
    risk: dict[str, NDArray[np.float64]],
    hours: list[int],
    shift: Shift,
    start: pd.Timestamp,
    timezone: str,
    seed: int,
    overrides: PlanOverrides | None,
    extra_kpis: dict[str, Any],
    key_places: gpd.GeoDataFrame | None = None,
) -> ShiftPlan:
    """The solved plan as tables (routes, stops, hotspots) and KPIs."""
    stations_named = stations.assign(id=stations["id"].astype(str)).set_index("id")
    unit_station = {u.unit_id: u.station_id for u in units}
    hotspot_gdf = _hotspot_frame(model, plan, metric_grids, hours, key_places)
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
            "plan_id": _plan_id(shift, start, seed, overrides),
            "shift": shift.label(),
            "shift_name": shift.name,
            "start": start.isoformat(),
            "timezone": timezone,
            "seed": seed,
            **({"overrides": overrides.to_dict()} if overrides else {}),
            **extra_kpis,
        }
    )
    return ShiftPlan(
        plan=plan,
        model=model,
        shift=shift,
        start=start,
        timezone=timezone,
        seed=seed,
        routes=routes,
        stops=stops,
        hotspots=hotspot_gdf,
        kpis=kpis,
        overrides=overrides,
    )


def _plan_id(shift: Shift, start: pd.Timestamp, seed: int, overrides: PlanOverrides | None) -> str:
    return make_plan_id(shift, start, seed, variant=overrides.variant() if overrides else "")


# -- frames ---------------------------------------------------------------------------------


def _to_lonlat(x: NDArray[np.float64], y: NDArray[np.float64], crs: Any) -> NDArray[np.float64]:
    points = gpd.GeoSeries(shapely.points(x, y), crs=crs).to_crs(STORAGE_CRS)
    return shapely.get_coordinates(points.to_numpy())


def _hotspot_frame(
    model: PatrolModel,
    plan: PatrolPlan,
    metric_grids: gpd.GeoDataFrame | None,
    hours: Sequence[int],
    key_places: gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    hs = model.hotspots
    places = key_places.to_crs(hs.crs) if key_places is not None and len(key_places) else None
    # one name per stop, made here for the map, timetable, GPX and web alike
    names = stop_names(
        model.networks["car"] if "car" in model.networks else next(iter(model.networks.values())),
        hs.x,
        hs.y,
        streets=hs.name,
        places=None if places is None else places.geometry.to_numpy(),
        place_names=None if places is None else places["name"].to_numpy(),
    )
    visits = np.zeros(len(hs), dtype=int)
    for route in plan.routes:
        for stop in route.hotspot_stops:
            visits[stop.hotspot] += 1
    gdf = gpd.GeoDataFrame(
        {
            "id": [f"hs-{i + 1:03d}" for i in range(len(hs))],
            "name": names,
            "shift_risk": hs.risk_by_hour[:, sorted(set(hours))].sum(axis=1),
            "visits": visits,
        },
        geometry=shapely.points(hs.x, hs.y),
        crs=hs.crs,
    )
    gdf["grid_id"] = _grid_of(gdf, metric_grids)
    gdf = gdf.to_crs(STORAGE_CRS)
    unnamed = gdf["name"] == ""
    if unnamed.any():
        gdf.loc[unnamed, "name"] = [
            _("unnamed street, grid %(grid)s", grid=grid)
            if grid
            else _(
                "unnamed street at %(lat)s, %(lon)s",
                lat=format(pt.y, ".5f"),
                lon=format(pt.x, ".5f"),
            )
            for grid, pt in zip(gdf.loc[unnamed, "grid_id"], gdf.geometry[unnamed], strict=True)
        ]
    return gdf


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
                        _("Break (%(minutes)s min) at %(where)s", minutes=minutes, where=where),
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
                        street or str(model.hotspots.name[stop.hotspot]),
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
                        onto = _("onto %(street)s", street=name)
                        entries.append(("waypoint", onto, node, at, at, name, "", ""))
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
            # one indexed query per route (a union of long routes is slow to intersect)
            tree = shapely.STRtree(metric_grids.geometry.to_numpy())
            _, hit = tree.query(lines, predicate="intersects")
            grids_visited = sorted(set(metric_grids["id"].astype(str).to_numpy()[hit]))
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
        "balance_goal": model.options.balance_ratio_goal,
        "notes": list(plan.notes),
        "units_used": sum(bool(r.hotspot_stops) for r in plan.routes),
        "units": units,
        "streets_covered": len(streets),
        "street_km_covered": round(covered_km, 2),
        "grids_visited": len(grids_visited),
        "grid_ids_visited": grids_visited,
        "solve_time_s": round(plan.solve_time_s, 2),
    }


__all__ = [
    "ShiftPlan",
    "hotspot_count",
    "plan_kpis",
    "plan_shift",
]
