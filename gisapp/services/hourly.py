"""Coverage of a shift plan hour by hour: stations and posts fixed, the units where they are.

:func:`plan_coverage_by_hour` is the one computation behind ``gisapp coverage --plan`` and
the web coverage page: the units move along their route lines (:mod:`routing.tracks`)
between the timed stops of the timetable, and the risk is that of the plan's shift hours.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisapp.errors import WorkspaceError
from gisapp.services.coverage_inputs import (
    key_place_required_minutes,
    points_layer,
    response_sources,
    workspace_risk,
)
from gisapp.services.network import workspace_network
from gisapp.services.reach import check_minutes
from gisapp.settings import Shift, parse_shift
from gisapp.store.geopackage import Workspace
from layers.i18n import _
from layers.schema import STORAGE_CRS
from routing.coverage import coverage_by_hour, locate_places, reach_by_hour
from routing.network import StreetNetwork
from routing.reach import reached_chain_lines, street_chains
from routing.snap import nearest_nodes
from routing.tracks import UnitTrack, epoch_seconds, sample_tracks, unit_tracks

logger = logging.getLogger(__name__)

#: Minutes of the per-hour street reach drawn on the hourly map (the street 3-minute circle).
HOURLY_REACH_MINUTES = 3.0
#: Douglas-Peucker tolerance of the per-hour reach and paths on the map, metres.
HOURLY_SIMPLIFY_M = 4.0


class ShiftPlan(Protocol):
    """What the hourly coverage reads of a plan (:class:`gisapp.plans.Plan` has it)."""

    @property
    def plan_id(self) -> str: ...

    @property
    def routes(self) -> gpd.GeoDataFrame: ...

    @property
    def stops(self) -> pd.DataFrame: ...

    @property
    def timezone(self) -> str: ...

    @property
    def shift(self) -> str: ...

    @property
    def start(self) -> pd.Timestamp | None: ...


@dataclass(frozen=True)
class HourlyOptions:
    """What the coverage by hour asks.

    Attributes
    ----------
    minutes
        Bands of the table (1, 3, 5).
    mode
        Travel mode of the responders.
    reach_minutes
        Budget of the per-hour street reach drawn on the map.
    key_place_minutes
        Required minutes per key-place kind (settings ``key_place_minutes``).
    step_s
        Sampling interval of the units' positions.
    simplify_m
        Tolerance of the per-hour reach lines and paths, metres.
    keep_pileups
        Weigh the incidents at pile-ups (a reporting desk's) in the risk too.
    """

    minutes: tuple[float, ...] = (1.0, 3.0, 5.0)
    mode: str = "car"
    reach_minutes: float = HOURLY_REACH_MINUTES
    key_place_minutes: Mapping[str, float] | None = field(default=None, compare=False)
    step_s: float = 60.0
    simplify_m: float = HOURLY_SIMPLIFY_M
    keep_pileups: bool = False


@dataclass(frozen=True)
class HourlyCoverage:
    """Coverage by hour of a plan; frames are in EPSG:4326.

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
        None where not defined)."""
        rows = []
        for _hour, group in self.table.groupby("hour", sort=True):
            group = group.sort_values("minutes")
            rows.append(
                {
                    "hour": f"{group['hour'].iloc[0]:%H:%M}",
                    "units": int(group["units"].max()),
                    "bands": [
                        {
                            "minutes": float(r["minutes"]),
                            "risk_share": _share(r["risk_share"], None),
                            "street_share": _share(r["street_share"], None),
                            "key_places_share": _share(r["key_places_share"], None),
                        }
                        for r in group.to_dict("records")
                    ],
                }
            )
        return rows

    def kpis(self) -> list[dict[str, Any]]:
        """The table as the ``hourly`` list of ``kpis.json``: one entry per hour and band,
        ``hour`` as ISO 8601, shares to 4 decimals (None where not defined)."""
        return [
            {
                "hour": pd.Timestamp(row["hour"]).isoformat(),
                "minutes": float(row["minutes"]),
                "units": int(row["units"]),
                "risk_share": _share(row["risk_share"], 4),
                "street_share": _share(row["street_share"], 4),
                "key_places_share": _share(row["key_places_share"], 4),
            }
            for row in self.table.to_dict("records")
        ]


def _share(value: Any, digits: int | None) -> float | None:
    if value is None or pd.isna(value):
        return None
    return float(value) if digits is None else round(float(value), digits)


# -- the shift and the units' tracks -----------------------------------------------------------


def _plan_shift(plan: ShiftPlan) -> Shift:
    if not plan.shift:
        raise WorkspaceError(
            _(
                "plan %(plan)s names no shift window (like 22:00-06:00); make it again "
                "with 'gisapp plan' or on the Plans page",
                plan=repr(plan.plan_id),
            )
        )
    return parse_shift(plan.shift)


def shift_window(plan: ShiftPlan) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Start and end of the plan's shift (aware, in the plan's time zone).

    The start is the plan's own; a plan that does not give it starts at the shift's clock
    time on the day of its first timed stop (the day before when that stop is earlier).
    """
    shift = _plan_shift(plan)
    start = plan.start
    if start is None or pd.isna(start):
        times = pd.Series(epoch_seconds(plan.stops["depart"])).dropna()
        if not len(times):
            times = pd.Series(epoch_seconds(plan.stops["arrive"])).dropna()
        if not len(times):
            raise WorkspaceError(
                _("plan %(plan)s has no stop times; make it again", plan=repr(plan.plan_id))
            )
        first = pd.Timestamp(float(times.min()), unit="s", tz="UTC").tz_convert(plan.timezone)
        start = first.normalize() + pd.Timedelta(hours=shift.start.hour, minutes=shift.start.minute)
        if start > first:
            start -= pd.Timedelta(days=1)
    start = pd.Timestamp(start)
    start = start.tz_localize(plan.timezone) if start.tzinfo is None else start
    return start, start + pd.Timedelta(hours=shift.duration_h)


def plan_tracks(
    plan: ShiftPlan, crs: Any, window: tuple[pd.Timestamp, pd.Timestamp]
) -> list[UnitTrack]:
    """Every unit's track along its route line (``crs``), on duty the whole ``window``."""
    stops = plan.stops
    points = gpd.GeoSeries.from_xy(stops["lon"], stops["lat"], crs=STORAGE_CRS).to_crs(crs)
    metric = pd.DataFrame(
        {
            "unit_id": stops["unit_id"].astype(str).to_numpy(),
            "seq": stops["seq"].to_numpy() if "seq" in stops else np.arange(len(stops)),
            "x": points.x.to_numpy(),
            "y": points.y.to_numpy(),
            "arrive": stops["arrive"].to_numpy(),
            "depart": stops["depart"].to_numpy(),
        }
    )
    routes = plan.routes.to_crs(crs)
    lines = dict(zip(routes["unit_id"].astype(str), routes.geometry, strict=True))
    return unit_tracks(metric, lines, window=window)


# -- per hour -------------------------------------------------------------------------------


def _hourly_reach(
    network: StreetNetwork, samples: pd.DataFrame, options: HourlyOptions
) -> gpd.GeoDataFrame:
    reached = reach_by_hour(network, samples, minutes=options.reach_minutes, step_s=options.step_s)
    total_m = float(network.segment_length_m.sum())
    # the streets simplified once; each hour simplifies only its frontier pieces again
    chains = street_chains(network)
    chains = dataclasses.replace(
        chains, geometry=shapely.simplify(chains.geometry, options.simplify_m)
    )
    rows = []
    for hour in sorted(reached):
        lines = reached_chain_lines(network, reached[hour], chains)
        geometry = _simplified_lines(lines, options.simplify_m)
        km = float(reached[hour]["reached_length_m"].sum()) / 1000.0
        rows.append(
            {
                "hour": hour,
                "reached_km": round(km, 3),
                "street_share": round(km * 1000.0 / total_m, 4) if total_m > 0 else None,
                "geometry": geometry,
            }
        )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=network.crs)


def _simplified_lines(lines: Any, simplify_m: float) -> shapely.Geometry:
    """Reached street lines (whole streets from junction to junction, and the pieces at
    the frontier) simplified line by line (one simplification of the whole city's
    collection took seconds per hour)."""
    if not len(lines):
        return shapely.MultiLineString()
    parts = shapely.get_parts(shapely.simplify(np.asarray(lines, dtype=object), simplify_m))
    return cast(shapely.Geometry, shapely.multilinestrings(parts))


def _hourly_positions(samples: pd.DataFrame, crs: Any) -> gpd.GeoDataFrame:
    hours = samples.assign(hour=samples["time"].dt.floor("h"))
    first = hours.groupby(["hour", "unit_id"], sort=True).head(1)
    return gpd.GeoDataFrame(
        {
            "hour": first["hour"].to_numpy(),
            "unit_id": first["unit_id"].to_numpy(),
            "time": first["time"].dt.strftime("%H:%M").to_numpy(),
        },
        geometry=gpd.points_from_xy(first["x"], first["y"]),
        crs=crs,
    )


def _hourly_paths(
    tracks: list[UnitTrack], hours: list[pd.Timestamp], simplify_m: float, crs: Any
) -> gpd.GeoDataFrame:
    rows = []
    starts = epoch_seconds(pd.Series(hours)) if hours else np.empty(0)
    for hour, lo in zip(hours, starts, strict=True):
        for track in tracks:
            piece = track.path_between(float(lo), float(lo) + 3600.0)
            if piece is not None:
                rows.append(
                    {
                        "hour": hour,
                        "unit_id": track.unit_id,
                        "geometry": shapely.simplify(piece, simplify_m),
                    }
                )
    return gpd.GeoDataFrame(
        rows or {"hour": [], "unit_id": [], "geometry": []}, geometry="geometry", crs=crs
    )


def plan_coverage_by_hour(
    ws: Workspace, plan: ShiftPlan, options: HourlyOptions | None = None
) -> HourlyCoverage:
    """Coverage by hour of a plan's shift, from its units' positions every minute.

    The units move along their route lines at even speed between the timed stops of the
    timetable and stay put while they dwell; before their first departure and after their
    return they wait at their station. The stations and duty points are sources all shift.
    Risk is that of the plan's shift hours.

    Parameters
    ----------
    ws
        The workspace of the plan (roads, stations, incidents, key places).
    plan
        The plan (:class:`gisapp.plans.Plan`: a saved plan or a plan folder).
    options
        Bands, mode and sampling; the defaults when None.

    Returns
    -------
    HourlyCoverage

    Raises
    ------
    WorkspaceError
        If the plan has no stops or no shift, or the roads or stations are missing.
    RoutingError
        If a band is not positive.
    """
    opts = options or HourlyOptions()
    bands = check_minutes(opts.minutes)
    if not len(plan.stops):
        raise WorkspaceError(
            _("plan %(plan)s has no stops; make it again", plan=repr(plan.plan_id))
        )
    network = workspace_network(ws, opts.mode)
    sources = response_sources(ws)
    source_nodes = np.asarray(nearest_nodes(network, sources.set_index("id").geometry))
    shift = _plan_shift(plan)
    risk = workspace_risk(
        ws,
        network,
        window=(f"{shift.start:%H:%M}", f"{shift.end:%H:%M}"),
        keep_pileups=opts.keep_pileups,
    ).to_numpy()
    places = points_layer(ws, "key_places")
    located = locate_places(network, places) if len(places) else None
    required_s = (
        key_place_required_minutes(places, minutes_by_kind=opts.key_place_minutes).to_numpy() * 60.0
        if located is not None
        else None
    )
    window = shift_window(plan)
    tracks = plan_tracks(plan, network.crs, window)
    samples = sample_tracks(tracks, step_s=opts.step_s, end=window[1], timezone=plan.timezone)
    table = coverage_by_hour(
        network,
        samples,
        minutes=bands,
        segment_weights=risk,
        places=located,
        place_required_s=required_s,
        fixed_sources=source_nodes,
        step_s=opts.step_s,
    )
    reach = _hourly_reach(network, samples, opts)
    hours = list(reach["hour"])
    logger.info(
        "plan %s: coverage for %d hour(s) of %d unit(s)", plan.plan_id, len(hours), len(tracks)
    )
    return HourlyCoverage(
        plan_id=plan.plan_id,
        shift=plan.shift,
        mode=opts.mode,
        minutes=tuple(bands),
        reach_minutes=float(opts.reach_minutes),
        table=table,
        positions=_hourly_positions(samples, network.crs).to_crs(STORAGE_CRS),
        paths=_hourly_paths(tracks, hours, opts.simplify_m, network.crs).to_crs(STORAGE_CRS),
        reach=reach.to_crs(STORAGE_CRS),
        sources=sources,
    )
