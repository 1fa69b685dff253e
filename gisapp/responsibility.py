"""Grid (网格) responsibility: who answers for each grid, its workload, and how fair it is.

* :func:`grid_workload` gives every grid its officer, team, unit and contact, and its
  workload: incidents per shift (weighted by severity), road km, area, households and
  population, combined into one workload index (per cent of the area's total).
* :func:`imbalance` measures how unequal a workload is (max/mean, Gini, coefficient of
  variation, share within a tolerance), across grids and, with :func:`unit_workload`,
  across units.
* :func:`staffing_table` applies the community staffing rule (:func:`officers_required`)
  next to the current staffing.
* :func:`design_grids` redesigns the grids from street blocks (``routing.grids``),
  :func:`assign_designed_grids` hands every designed grid to the officer, team, phone and
  unit of the current grid(s) it overlaps, :func:`responsibility_changes` lists what that
  changes per officer, unit and team, and :func:`compare_layouts` reports the new layout
  against the current one.

Incidents are counted into grids here (each incident exactly once, the ones outside all
grids returned apart); the shift windows follow ``routing.risk.shift_mask``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from gisapp.errors import GisappError
from routing.grids import (
    GridDesign,
    assign_points,
    blocks_from_lines,
    line_length_in_polygons,
    metric_crs,
    overlap_areas,
    polsby_popper,
)
from routing.network import StreetNetwork, network_from_lines
from routing.reach import reach_nodes
from routing.risk import shift_mask

logger = logging.getLogger(__name__)

__all__ = [
    "ASSIGNMENT_METHODS",
    "RESPONSIBILITY_COLUMNS",
    "WORKLOAD_WEIGHTS",
    "AssignmentMethod",
    "DesignResult",
    "GridWorkload",
    "ResponsibilityError",
    "assign_designed_grids",
    "assignment_kpis",
    "compare_layouts",
    "design_grids",
    "grid_workload",
    "imbalance",
    "incidents_by_grid",
    "officers_required",
    "property_status",
    "response_times",
    "responsibility_changes",
    "staffing_table",
    "unit_workload",
]

PropertyStatus = Literal["full", "semi", "none"]
AssignmentMethod = Literal["balanced", "overlap"]

#: How designed grids get their officers: ``balanced`` keeps each officer's number of
#: grids where the counts allow, ``overlap`` follows the largest overlap alone.
ASSIGNMENT_METHODS: tuple[AssignmentMethod, ...] = ("balanced", "overlap")

#: Overlaps that differ by less than this (square metres) are ties.
OVERLAP_TIE_M2 = 0.1

#: Levels of the responsibility change table, and the column each one groups by.
CHANGE_LEVELS: dict[str, str] = {"officer": "officer", "unit": "unit_id", "team": "team"}

#: Who answers for a grid: read from the grids layer or an assignment table.
RESPONSIBILITY_COLUMNS = ("officer", "team", "phone", "unit_id")

#: Default mix of the workload index. Incidents carry half: police work follows the
#: incidents (警力跟着警情走); street km and households stand for the patrol and visiting
#: work that exists with no incident; area for the distance covered.
WORKLOAD_WEIGHTS: dict[str, float] = {
    "incident_weight": 0.5,
    "road_km": 0.2,
    "households": 0.2,
    "area_km2": 0.1,
}

#: Households thresholds of the staffing rule (DESIGN.md section 1).
HOUSEHOLDS_ONE_MORE = 1500
HOUSEHOLDS_TWO_MORE = 2000
BASE_OFFICERS: dict[str, int] = {"semi": 3, "none": 5, "full": 0}

_FULL = frozenset(
    {
        "full",
        "fully",
        "fully managed",
        "managed",
        "yes",
        "true",
        "1",
        "全",
        "全物业",
        "全封闭",
        "物业",
        "物业管理",
        "有物业",
    }
)
_SEMI = frozenset(
    {
        "semi",
        "semi-managed",
        "semi managed",
        "partial",
        "partly",
        "half",
        "半",
        "半物业",
        "半封闭",
        "部分物业",
    }
)
_NONE = frozenset(
    {"none", "no", "not managed", "unmanaged", "false", "0", "无", "无物业", "开放式", "未管理"}
)


class ResponsibilityError(GisappError):
    """Grid responsibility or design cannot be computed as asked."""


# -- staffing -------------------------------------------------------------------------


def property_status(value: Any) -> PropertyStatus | None:
    """Read a community's property management into ``"full"``, ``"semi"`` or ``"none"``.

    Understands English and Chinese words (全物业, 半物业, 无物业...) and booleans
    (``True`` is fully managed). Returns ``None`` when the value is missing.

    Raises
    ------
    ResponsibilityError
        If the value is present but not understood.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, bool | np.bool_):
        return "full" if value else "none"
    text = str(value).strip().lower().replace("_", " ")
    if text in ("", "nan", "none specified"):
        return None
    if text in _FULL:
        return "full"
    if text in _SEMI:
        return "semi"
    if text in _NONE:
        return "none"
    raise ResponsibilityError(
        f"property_managed={value!r} is not understood; use 'full' (全物业), "
        "'semi' (半物业) or 'none' (无物业)"
    )


def officers_required(households: float | None, property_managed: Any) -> int:
    """Full-time community security officers a community needs (DESIGN.md section 1).

    Up to 1,500 households: 3 officers if semi-property-managed, 5 if not managed; above
    1,500 households one more; above 2,000 two more (two in all). A fully
    property-managed community gets none from the police: the property company is
    responsible.

    Raises
    ------
    ResponsibilityError
        If ``households`` is missing or negative or ``property_managed`` is not understood.
    """
    status = property_status(property_managed)
    if status is None:
        raise ResponsibilityError(
            "property_managed is missing; set it to 'full', 'semi' or 'none' for the community"
        )
    if status == "full":
        return 0
    try:
        count = float(households)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        count = math.nan
    if not count >= 0:
        raise ResponsibilityError(
            f"households={households!r} should be a number >= 0; fill the communities' "
            "'households' column"
        )
    extra = 2 if count > HOUSEHOLDS_TWO_MORE else 1 if count > HOUSEHOLDS_ONE_MORE else 0
    return BASE_OFFICERS[status] + extra


def staffing_table(communities: pd.DataFrame, grids: pd.DataFrame | None = None) -> pd.DataFrame:
    """Required officers per community, beside the current ones when known.

    Parameters
    ----------
    communities
        ``id``, ``name`` and, for the rule, ``households`` and ``property_managed``.
    grids
        Grids with ``community_id`` and ``officer``: the current staffing of a community
        is the number of distinct officers named on its grids.

    Returns
    -------
    pandas.DataFrame
        ``community_id``, ``name``, ``households``, ``property_managed`` (full, semi,
        none), ``officers_required``, ``officers_current``, ``difference`` (current minus
        required) and ``note``. Counts are missing (``<NA>``) when unknown.
    """
    rows = []
    current = _current_officers(grids)
    for record in communities.to_dict("records"):
        community_id = str(record.get("id"))
        households = record.get("households")
        note = ""
        required: int | None = None
        try:
            status = property_status(record.get("property_managed"))
        except ResponsibilityError as exc:
            status, note = None, str(exc)
        if status == "full":
            required = 0
            note = "fully property-managed: the property company is responsible, no police officers"
        elif status is None and not note:
            note = "property management unknown: set property_managed to full, semi or none"
        else:
            try:
                required = officers_required(households, status) if status else None
            except ResponsibilityError as exc:
                note = str(exc)
        have = current.get(community_id)
        rows.append(
            {
                "community_id": community_id,
                "name": record.get("name"),
                "households": households,
                "property_managed": status,
                "officers_required": required,
                "officers_current": have,
                "difference": None if have is None or required is None else have - required,
                "note": note,
            }
        )
    table = pd.DataFrame(rows)
    for column in ("officers_required", "officers_current", "difference"):
        table[column] = table[column].astype("Int64")
    return table


def _current_officers(grids: pd.DataFrame | None) -> dict[str, int]:
    if grids is None or "officer" not in grids or "community_id" not in grids:
        return {}
    named = grids[["community_id", "officer"]].copy()
    named["officer"] = named["officer"].astype("string").str.strip()
    named = named[named["officer"].notna() & (named["officer"] != "")]
    counts = named.groupby(named["community_id"].astype(str))["officer"].nunique()
    return {str(k): int(v) for k, v in counts.items()}


# -- imbalance ------------------------------------------------------------------------


def imbalance(
    values: Sequence[float] | pd.Series | np.ndarray, *, tolerance: float = 0.15
) -> dict[str, float]:
    """How unequal a workload is across grids (or units).

    Returns
    -------
    dict
        ``n``, ``mean``, ``max_mean`` (largest / mean), ``min_mean``, ``max_min``
        (largest / smallest, ``inf`` when one is zero), ``gini`` (0 equal, towards 1 when
        one carries all), ``cv`` (population standard deviation / mean) and
        ``within_tolerance_share`` (share within ±``tolerance`` of the mean).
    """
    array = np.asarray(values, dtype=float)
    array = array[np.isfinite(array)]
    n = len(array)
    if n == 0 or array.sum() <= 0:
        return {
            "n": float(n),
            "mean": 0.0,
            "max_mean": math.nan,
            "min_mean": math.nan,
            "max_min": math.nan,
            "gini": math.nan,
            "cv": math.nan,
            "within_tolerance_share": math.nan,
        }
    mean = float(array.mean())
    ordered = np.sort(array)
    rank = np.arange(1, n + 1)
    gini = float(((2 * rank - n - 1) * ordered).sum() / (n * ordered.sum()))
    return {
        "n": float(n),
        "mean": mean,
        "max_mean": float(ordered[-1] / mean),
        "min_mean": float(ordered[0] / mean),
        "max_min": float(ordered[-1] / ordered[0]) if ordered[0] > 0 else math.inf,
        "gini": gini,
        "cv": float(array.std() / mean),
        "within_tolerance_share": float((np.abs(array / mean - 1) <= tolerance + 1e-12).mean()),
    }


# -- workload -------------------------------------------------------------------------


def incidents_by_grid(
    grids: gpd.GeoDataFrame,
    incidents: gpd.GeoDataFrame,
    *,
    shifts: Mapping[str, tuple[str, str]] | None = None,
    severity_column: str = "severity",
) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """Incidents per grid, all day and per shift, each incident counted exactly once.

    An incident on the edge of two grids goes to the grid whose centroid is nearest.

    Parameters
    ----------
    grids
        Grid polygons (any CRS).
    incidents
        Points with ``occurred_at`` (tz-aware, in the workspace's zone) for the shift
        counts and optionally ``severity_column`` (weight; 1 when missing).
    shifts
        Shift name -> ``(start, end)`` clock times (``("22:00", "06:00")`` crosses midnight).

    Returns
    -------
    tuple of (pandas.DataFrame, geopandas.GeoDataFrame)
        Per grid (indexed like ``grids``): ``incidents``, ``incident_weight`` and, per
        shift, ``incidents_<shift>`` and ``incident_weight_<shift>``; and the incidents
        outside every grid.
    """
    position = assign_points(incidents, grids).to_numpy()
    weight = _severity(incidents, severity_column)
    inside = position >= 0
    n = len(grids)
    out = pd.DataFrame(index=grids.index)
    out["incidents"] = np.bincount(position[inside], minlength=n)
    out["incident_weight"] = np.bincount(position[inside], weights=weight[inside], minlength=n)
    if shifts:
        if "occurred_at" not in incidents.columns:
            raise ResponsibilityError(
                "incidents have no 'occurred_at' column; shift counts need incident times "
                "(map the time column to 'occurred_at' on import)"
            )
        times = pd.to_datetime(incidents["occurred_at"])
        known = times.notna().to_numpy()
        for name, window in shifts.items():
            in_shift = shift_mask(times, window=window) & known & inside
            out[f"incidents_{name}"] = np.bincount(position[in_shift], minlength=n)
            out[f"incident_weight_{name}"] = np.bincount(
                position[in_shift], weights=weight[in_shift], minlength=n
            )
    outside = incidents[~inside].copy()
    if len(outside):
        logger.info(
            "%s of %s incidents lie outside every grid", f"{len(outside):,}", f"{len(incidents):,}"
        )
    return out, outside


def _severity(incidents: pd.DataFrame, column: str) -> np.ndarray:
    if column not in incidents.columns:
        return np.ones(len(incidents))
    values = pd.to_numeric(incidents[column], errors="coerce").to_numpy(dtype=float)
    return np.where(np.isfinite(values) & (values > 0), values, 1.0)


@dataclass(frozen=True)
class GridWorkload:
    """Responsibility and workload of every grid of one layout.

    Parameters
    ----------
    table
        One row per grid (EPSG:4326): ``id``, ``community_id``, the responsibility
        columns, incident counts and weights (all day and per shift), ``road_km``,
        ``area_km2``, ``households``, ``population``, ``workload`` (index, per cent of the
        total), ``polsby_popper`` and ``deviation`` (``workload / mean - 1``).
    outside
        Incidents outside every grid.
    weights
        Weights of the workload index actually used (components with no data dropped).
    incidents_total
        Incidents given (inside and outside the grids).
    """

    table: gpd.GeoDataFrame
    outside: gpd.GeoDataFrame
    weights: dict[str, float]
    incidents_total: int
    shifts: tuple[str, ...] = field(default_factory=tuple)

    def kpis(self, *, tolerance: float = 0.15) -> dict[str, Any]:
        """Imbalance of the workload index and of each component, across grids and units."""
        table = self.table
        result: dict[str, Any] = {
            "grids": len(table),
            "incidents_total": self.incidents_total,
            "incidents_in_grids": int(table["incidents"].sum()),
            "incidents_outside_grids": len(self.outside),
            "workload_weights": self.weights,
            "workload": imbalance(table["workload"], tolerance=tolerance),
            "incident_weight": imbalance(table["incident_weight"], tolerance=tolerance),
            "road_km": imbalance(table["road_km"], tolerance=tolerance),
            "households": imbalance(table["households"], tolerance=tolerance),
            "polsby_popper_mean": float(table["polsby_popper"].mean()),
            "polsby_popper_min": float(table["polsby_popper"].min()),
        }
        for shift in self.shifts:
            result[f"incident_weight_{shift}"] = imbalance(
                table[f"incident_weight_{shift}"], tolerance=tolerance
            )
        units = unit_workload(table)
        if len(units):
            result["units"] = imbalance(units["workload"], tolerance=tolerance)
        return result


def grid_workload(
    grids: gpd.GeoDataFrame,
    *,
    incidents: gpd.GeoDataFrame | None = None,
    roads: gpd.GeoDataFrame | None = None,
    communities: pd.DataFrame | None = None,
    assignments: pd.DataFrame | None = None,
    shifts: Mapping[str, tuple[str, str]] | None = None,
    weights: Mapping[str, float] | None = None,
) -> GridWorkload:
    """Responsibility and workload of every grid.

    Parameters
    ----------
    grids
        ``id``, ``community_id`` and optionally ``officer``, ``team``, ``phone``, ``unit_id``.
    incidents
        Incident points (``occurred_at``, ``severity``); none means zero incidents.
    roads
        Street lines; a street on the edge of two grids counts half in each.
    communities
        ``id``, ``households``, ``population``: a community's totals are shared among its
        grids by their street length (dwellings line streets; a park has area but no
        households), by area where a community has no street.
    assignments
        Table ``grid_id`` + responsibility columns; its values replace those of ``grids``.
    shifts
        Shift name -> ``(start, end)`` clock times for per-shift incident counts.
    weights
        Workload index mix, see :data:`WORKLOAD_WEIGHTS`.

    Returns
    -------
    GridWorkload

    Raises
    ------
    ResponsibilityError
        If ``grids`` lacks ``id``/``community_id`` or ``weights`` names an unknown part.
    """
    _require_columns(grids, "grids", ("id", "community_id"))
    table = grids.reset_index(drop=True).copy()
    table["id"] = table["id"].astype(str)
    table["community_id"] = table["community_id"].astype(str)
    for column in RESPONSIBILITY_COLUMNS:
        if column not in table.columns:
            table[column] = pd.NA
    if assignments is not None:
        table = _apply_assignments(table, assignments)

    if incidents is not None and len(incidents):
        counts, outside = incidents_by_grid(table, incidents, shifts=shifts)
        incidents_total = len(incidents)
    else:
        empty = incidents if incidents is not None else gpd.GeoDataFrame(geometry=[], crs=grids.crs)
        counts, outside = incidents_by_grid(table, empty, shifts=None)
        for name in shifts or {}:
            counts[f"incidents_{name}"] = 0
            counts[f"incident_weight_{name}"] = 0.0
        incidents_total = 0
    for column in counts.columns:
        table[column] = counts[column].to_numpy()

    measured = table.geometry.to_crs(metric_crs(table))
    table["area_km2"] = measured.area.to_numpy() / 1e6
    road_m = (
        line_length_in_polygons(roads, table).to_numpy()
        if roads is not None and len(roads)
        else np.zeros(len(table))
    )
    table["road_km"] = road_m / 1000
    for column in ("households", "population"):
        table[column] = _share_of_community(table, communities, column)
    mix = _mix(table, weights)
    table["workload"] = workload_index(table, mix)
    table["polsby_popper"] = polsby_popper(table).to_numpy()
    mean = table["workload"].mean()
    table["deviation"] = table["workload"] / mean - 1 if mean > 0 else 0.0
    return GridWorkload(
        table=table.to_crs("EPSG:4326"),
        outside=outside,
        weights=mix,
        incidents_total=incidents_total,
        shifts=tuple(shifts or ()),
    )


def _require_columns(frame: pd.DataFrame, name: str, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ResponsibilityError(
            f"{name!r} lacks the column(s) {', '.join(missing)} (it has "
            f"{', '.join(map(str, frame.columns))}); map them on import"
        )


def _apply_assignments(table: gpd.GeoDataFrame, assignments: pd.DataFrame) -> gpd.GeoDataFrame:
    _require_columns(assignments, "assignments", ("grid_id",))
    keyed = assignments.assign(grid_id=assignments["grid_id"].astype(str)).drop_duplicates(
        "grid_id", keep="last"
    )
    unknown = sorted(set(keyed["grid_id"]) - set(table["id"]))
    if unknown:
        raise ResponsibilityError(
            f"assignments name grid(s) {', '.join(map(repr, unknown[:5]))} that are not in the grids "
            "layer; correct their grid_id"
        )
    keyed = keyed.set_index("grid_id")
    for column in RESPONSIBILITY_COLUMNS:
        if column in keyed.columns:
            new = table["id"].map(keyed[column])
            table[column] = new.where(new.notna(), table[column])
    return table


def _share_of_community(
    table: gpd.GeoDataFrame, communities: pd.DataFrame | None, column: str
) -> np.ndarray:
    if communities is None or column not in communities.columns:
        return np.zeros(len(table))
    totals = pd.to_numeric(communities[column], errors="coerce")
    totals.index = communities["id"].astype(str)
    totals = totals[~totals.index.duplicated()]
    share_basis = table["road_km"].to_numpy(dtype=float)
    by_community = (
        pd.Series(share_basis).groupby(table["community_id"].to_numpy()).transform("sum").to_numpy()
    )
    area = table["area_km2"].to_numpy(dtype=float)
    area_total = (
        pd.Series(area).groupby(table["community_id"].to_numpy()).transform("sum").to_numpy()
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(by_community > 0, share_basis / by_community, area / area_total)
    community_total = table["community_id"].map(totals).to_numpy(dtype=float)
    return np.nan_to_num(share * community_total)


def _mix(table: pd.DataFrame, weights: Mapping[str, float] | None) -> dict[str, float]:
    mix = dict(WORKLOAD_WEIGHTS if weights is None else weights)
    unknown = sorted(set(mix) - set(WORKLOAD_WEIGHTS))
    if unknown:
        raise ResponsibilityError(
            f"workload weights name {', '.join(unknown)}; use {', '.join(WORKLOAD_WEIGHTS)}"
        )
    if any(w < 0 for w in mix.values()):
        raise ResponsibilityError(f"workload weights should be >= 0, got {mix}")
    # A component with no data (no households recorded) would count as perfectly even.
    used = {k: float(w) for k, w in mix.items() if w > 0 and float(table[k].sum()) > 0}
    total = sum(used.values())
    if total == 0:
        raise ResponsibilityError(
            "no workload component has data: add incidents, roads or community households"
        )
    return {k: w / total for k, w in used.items()}


def workload_index(table: pd.DataFrame, weights: Mapping[str, float]) -> pd.Series:
    """Workload index: the weighted mix of each component's share of the total, in per cent.

    Additive, so a grid made of blocks carries the sum of its blocks' workloads.
    """
    index = np.zeros(len(table))
    for column, weight in weights.items():
        values = table[column].to_numpy(dtype=float)
        total = values.sum()
        if total > 0:
            index += weight * values / total * 100
    return pd.Series(index, index=table.index, name="workload")


def unit_workload(table: pd.DataFrame) -> pd.DataFrame:
    """Workload per unit: the sum over the grids each unit answers for.

    Grids with no ``unit_id`` are left out.
    """
    if "unit_id" not in table.columns:
        return pd.DataFrame(columns=["unit_id", "grids", "workload", "incidents", "road_km"])
    assigned = table[table["unit_id"].notna() & (table["unit_id"].astype(str).str.strip() != "")]
    grouped = assigned.groupby(assigned["unit_id"].astype(str), sort=True)
    return (
        pd.DataFrame(
            {
                "grids": grouped.size(),
                "workload": grouped["workload"].sum(),
                "incidents": grouped["incidents"].sum(),
                "road_km": grouped["road_km"].sum(),
            }
        )
        .rename_axis("unit_id")
        .reset_index()
    )


# -- response from stations -----------------------------------------------------------


def response_times(
    grids: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame,
    stations: gpd.GeoDataFrame,
    *,
    mode: str = "car",
    network: StreetNetwork | None = None,
) -> pd.DataFrame:
    """Travel time from the nearest station to the street nodes of each grid.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``grids``: ``response_mean_s`` and ``response_p90_s`` over the
        network nodes inside the grid (missing for a grid with no reachable node).
        ``network`` (built from ``roads`` for ``mode`` when None) saves a rebuild when
        several layouts are measured.
    """
    if network is None:
        network = network_from_lines(roads, mode=mode)
    reach = reach_nodes(network, stations)
    nodes = network.nodes_gdf()
    grid_of_node = assign_points(nodes, grids).to_numpy()
    frame = pd.DataFrame({"grid": grid_of_node, "time_s": reach.time_s})
    frame = frame[(frame["grid"] >= 0) & np.isfinite(frame["time_s"])]
    grouped = frame.groupby("grid")["time_s"]
    out = pd.DataFrame(
        {"response_mean_s": grouped.mean(), "response_p90_s": grouped.quantile(0.9)}
    ).reindex(range(len(grids)))
    out.index = grids.index
    return out


# -- design ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DesignResult:
    """A designed grid layout and its comparison with the current one.

    Parameters
    ----------
    current, designed
        Both layouts, measured the same way; the designed grids carry the officer, team,
        phone and unit given by ``assignment``.
    design
        The solved :class:`routing.grids.GridDesign`.
    kpis
        :func:`compare_layouts` of the two, plus ``design`` and ``assignment``.
    assignment
        :func:`assign_designed_grids` (empty with no current grids).
    changes
        :func:`responsibility_changes` per officer, unit and team (empty with no current
        grids).
    """

    current: GridWorkload
    designed: GridWorkload
    design: GridDesign
    kpis: dict[str, Any]
    assignment: pd.DataFrame = field(default_factory=pd.DataFrame)
    changes: pd.DataFrame = field(default_factory=pd.DataFrame)


def design_grids(
    *,
    communities: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame,
    incidents: gpd.GeoDataFrame | None = None,
    grids: gpd.GeoDataFrame | None = None,
    stations: gpd.GeoDataFrame | None = None,
    n_grids: int | None = None,
    tolerance: float = 0.15,
    shifts: Mapping[str, tuple[str, str]] | None = None,
    weights: Mapping[str, float] | None = None,
    seed: int = 0,
    assign: AssignmentMethod = "balanced",
) -> DesignResult:
    """Design grids from street blocks, nested in communities, workload balanced.

    Blocks are the faces of the streets cut by the community boundaries; each block gets
    the same workload index as a grid (incidents, road km, households, area), and
    :class:`routing.grids.GridDesign` groups them into contiguous, compact grids of equal
    workload within every community. Each designed grid then inherits the officer, team,
    phone and unit of the current grids it overlaps (:func:`assign_designed_grids`), so
    the comparison covers the units' workload too.

    Parameters
    ----------
    communities, roads, incidents
        Workspace layers.
    grids
        The current grids, for the comparison and the default number of grids.
    stations
        Stations for the response time per grid (left out of the comparison when None).
    n_grids
        Grids to design in all; by default as many as the current layout has (at least
        one per community).
    tolerance
        Accepted deviation from the community's mean grid workload (0.15 is ±15%).
    seed
        Seed of the design's random choices: the same seed gives the same layout.
    assign
        How designed grids get their officers: ``"balanced"`` keeps each officer's
        number of grids where possible, ``"overlap"`` follows the largest overlap alone
        (see :func:`assign_designed_grids`).

    Returns
    -------
    DesignResult

    Raises
    ------
    ResponsibilityError
        If neither ``grids`` nor ``n_grids`` is given, or ``assign`` is unknown.
    """
    _require_columns(communities, "communities", ("id",))
    if assign not in ASSIGNMENT_METHODS:
        raise ResponsibilityError(
            f"assign={assign!r} is not known; use one of {', '.join(ASSIGNMENT_METHODS)}"
        )
    if n_grids is None:
        if grids is None or grids.empty:
            raise ResponsibilityError(
                "there are no current grids to count; pass n_grids (e.g. --n-grids 40)"
            )
        n_grids = max(len(grids), len(communities))
    blocks = blocks_from_lines(roads, boundaries=communities, boundary_id_column="id")
    blocks = blocks.rename(columns={"parent_id": "community_id"})
    blocks["id"] = blocks["block_id"].astype(str)
    blocks["community_id"] = blocks["community_id"].astype(str)
    block_load = grid_workload(
        blocks, incidents=incidents, roads=roads, communities=communities, weights=weights
    )
    blocks["workload"] = block_load.table["workload"].to_numpy()
    design = GridDesign.from_blocks(
        blocks,
        workload_column="workload",
        parent_column="community_id",
        n_grids=n_grids,
        tolerance=tolerance,
        seed=seed,
    ).solve()
    layout = design.grids(parent_column="community_id")
    layout["id"] = [f"D{i + 1:03d}" for i in range(len(layout))]
    designed_frame = layout[["id", "community_id", "geometry"]].copy()
    designed = grid_workload(
        designed_frame,
        incidents=incidents,
        roads=roads,
        communities=communities,
        shifts=shifts,
        weights=block_load.weights,
    )
    extra = layout[["target_workload", "n_blocks", "n_parts", "indivisible_block"]].reset_index(
        drop=True
    )
    designed_table = designed.table.copy()
    designed_table["target_workload"] = extra["target_workload"].to_numpy()
    designed_table["community_deviation"] = (
        designed_table["workload"] / designed_table["target_workload"] - 1
    )
    designed_table["n_blocks"] = extra["n_blocks"].to_numpy()
    designed_table["n_parts"] = extra["n_parts"].to_numpy()
    designed_table["indivisible_block"] = extra["indivisible_block"].to_numpy()
    designed_table["contiguous"] = design.is_contiguous().to_numpy()
    designed = GridWorkload(
        table=designed_table,
        outside=designed.outside,
        weights=designed.weights,
        incidents_total=designed.incidents_total,
        shifts=designed.shifts,
    )
    current = (
        grid_workload(
            grids,
            incidents=incidents,
            roads=roads,
            communities=communities,
            shifts=shifts,
            weights=block_load.weights,
        )
        if grids is not None and not grids.empty
        else None
    )
    assignment = pd.DataFrame()
    changes = pd.DataFrame()
    if current is not None:
        assignment = assign_designed_grids(designed.table, current.table, method=assign)
        designed_table = designed.table.copy()
        for column in RESPONSIBILITY_COLUMNS:
            designed_table[column] = assignment[column].to_numpy()
        designed = GridWorkload(
            table=designed_table,
            outside=designed.outside,
            weights=designed.weights,
            incidents_total=designed.incidents_total,
            shifts=designed.shifts,
        )
        changes = responsibility_changes(current.table, designed.table)
    if stations is not None and len(stations):
        network = network_from_lines(roads, mode="car")
        designed = _with_response(designed, roads, stations, network)
        if current is not None:
            current = _with_response(current, roads, stations, network)
    kpis = compare_layouts(current, designed, tolerance=tolerance, communities=communities)
    kpis["design"] = {
        "method": "seeded region growing + AZP-style boundary moves (routing.grids)",
        "seed": seed,
        "blocks": len(blocks),
        "improving_moves": design.moves_,
        "tolerance": tolerance,
    }
    if current is not None:
        kpis["assignment"] = assignment_kpis(assignment, changes, method=assign)
    return DesignResult(
        current=current or designed,
        designed=designed,
        design=design,
        kpis=kpis,
        assignment=assignment,
        changes=changes,
    )


def _with_response(
    layout: GridWorkload,
    roads: gpd.GeoDataFrame,
    stations: gpd.GeoDataFrame,
    network: StreetNetwork,
) -> GridWorkload:
    times = response_times(layout.table, roads, stations, network=network)
    table = layout.table.copy()
    table["response_mean_s"] = times["response_mean_s"].to_numpy()
    table["response_p90_s"] = times["response_p90_s"].to_numpy()
    return GridWorkload(
        table=table,
        outside=layout.outside,
        weights=layout.weights,
        incidents_total=layout.incidents_total,
        shifts=layout.shifts,
    )


def _nesting(table: gpd.GeoDataFrame, communities: gpd.GeoDataFrame) -> dict[str, Any]:
    """Share of each grid's area inside its own community (1.0 when nested)."""
    crs = metric_crs(table)
    grids_m = table.to_crs(crs)
    parents = (
        communities.assign(id=communities["id"].astype(str)).set_index("id").to_crs(crs).geometry
    )
    parent_geom = parents.reindex(grids_m["community_id"].astype(str)).to_numpy()
    inside = grids_m.geometry.intersection(
        gpd.GeoSeries(parent_geom, crs=crs, index=grids_m.index)
    ).area
    share = (inside / grids_m.area).fillna(0.0)
    return {
        "inside_community_share_min": float(share.min()),
        "grids_not_nested_1pct": int((share < 0.99).sum()),
    }


def compare_layouts(
    current: GridWorkload | None,
    designed: GridWorkload,
    *,
    tolerance: float = 0.15,
    communities: gpd.GeoDataFrame | None = None,
) -> dict[str, Any]:
    """Side-by-side KPIs of the current and the designed layouts.

    Both are measured the same way (same incidents, roads, households and weights).
    For the design also: how many grids are one polygon and contiguous, the share within
    ±``tolerance`` of their community's mean, and how well grids nest in communities.
    """
    layouts: dict[str, GridWorkload] = {"designed": designed}
    if current is not None:
        layouts = {"current": current, "designed": designed}
    result: dict[str, Any] = {}
    for name, layout in layouts.items():
        kpis = layout.kpis(tolerance=tolerance)
        if "response_mean_s" in layout.table:
            kpis["response_mean_s"] = float(layout.table["response_mean_s"].mean())
            kpis["response_worst_grid_mean_s"] = float(layout.table["response_mean_s"].max())
            kpis["response_worst_grid_p90_s"] = float(layout.table["response_p90_s"].max())
        if communities is not None:
            kpis.update(_nesting(layout.table, communities))
        result[name] = kpis
    table = designed.table
    if "community_deviation" in table:
        result["designed"]["within_community_tolerance_share"] = float(
            (table["community_deviation"].abs() <= tolerance + 1e-12).mean()
        )
        result["designed"]["indivisible_block_grids"] = int(table["indivisible_block"].sum())
        result["designed"]["single_part_grids"] = int((table["n_parts"] == 1).sum())
        result["designed"]["contiguous_grids"] = int(table["contiguous"].sum())
    return result


# -- responsibility of a designed layout ------------------------------------------------


def assign_designed_grids(
    designed: gpd.GeoDataFrame,
    current: gpd.GeoDataFrame,
    *,
    method: AssignmentMethod = "balanced",
) -> pd.DataFrame:
    """Who answers for each designed grid: the officers of the current grids it overlaps.

    The rule (``method="overlap"``): a designed grid inherits the officer, team, phone and
    unit of the current grid of its own community that it overlaps most by area.
    Overlaps equal once rounded to :data:`OVERLAP_TIE_M2` are ties, won by the current
    grid with the larger workload, then by the smaller id. A designed grid that overlaps
    none of its community's current grids takes the nearest one. Officers may end up
    with more or fewer grids than before (see :func:`responsibility_changes`).

    ``method="balanced"`` first keeps each officer's number of grids where it can: per
    community, the designed grids are matched to the current officers, each officer
    repeated once per current grid of theirs in the community, maximising the overlap
    area (``scipy.optimize.linear_sum_assignment``). Every officer answers for as many
    designed grids as before when the community has as many designed grids as current
    ones; designed grids left over follow the rule above; with fewer designed grids, the
    officers who overlap least lose one. A matched grid inherits from the officer's
    current grid it overlaps most (the rule above, among that officer's grids).

    An officer is known by name; current grids with no officer named are told apart by
    their team, phone and unit.

    Parameters
    ----------
    designed
        Designed grids: ``id``, ``community_id`` and polygons (any CRS).
    current
        Current grids: ``id``, ``community_id``, polygons, the responsibility columns
        (:data:`RESPONSIBILITY_COLUMNS`; missing ones are blank) and ``workload`` for the
        tie-break (all equal when missing).
    method
        ``"balanced"`` (the default) or ``"overlap"``.

    Returns
    -------
    pandas.DataFrame
        One row per designed grid, in its order: ``grid_id``, ``community_id``, the
        responsibility columns, ``source_grid_id`` (the current grid it inherits from),
        ``area_m2``, ``overlap_share`` (share of its area inside the source grid),
        ``officer_overlap_share`` (share inside all current grids of the same officer in
        the community) and ``rule`` (``balanced``, ``largest_overlap``, ``nearest``, or
        ``unassigned`` when its community has no current grid). It can be given back as
        ``grid_workload(assignments=...)``.

    Raises
    ------
    ResponsibilityError
        If ``method`` is unknown or a layer lacks ``id`` or ``community_id``.
    """
    if method not in ASSIGNMENT_METHODS:
        raise ResponsibilityError(
            f"method={method!r} is not known; use one of {', '.join(ASSIGNMENT_METHODS)}"
        )
    _require_columns(designed, "designed", ("id", "community_id"))
    _require_columns(current, "current", ("id", "community_id"))
    designed = designed.reset_index(drop=True)
    current = current.reset_index(drop=True)
    responsibility = pd.DataFrame(
        {
            c: current[c] if c in current.columns else pd.Series(pd.NA, index=current.index)
            for c in RESPONSIBILITY_COLUMNS
        }
    )
    holders = _holder_keys(responsibility)
    current_ids = current["id"].astype(str).to_numpy()
    workload = (
        pd.to_numeric(current["workload"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
        if "workload" in current.columns
        else np.zeros(len(current))
    )
    area_m2 = designed.geometry.to_crs(metric_crs(designed)).area.to_numpy(dtype=float)

    pairs = overlap_areas(designed, current, group_column="community_id")
    other = pairs["other"].to_numpy()
    pairs["tie"] = np.round(pairs["overlap_m2"].to_numpy() / OVERLAP_TIE_M2).astype(np.int64)
    pairs["workload"] = workload[other]
    pairs["current_id"] = current_ids[other]
    pairs["holder"] = holders[other]
    ranked = pairs.sort_values(
        ["polygon", "tie", "distance_m", "workload", "current_id"],
        ascending=[True, False, True, False, True],
        kind="stable",
    )
    best = ranked.drop_duplicates("polygon")
    n = len(designed)
    source = np.full(n, -1, dtype=np.int64)
    rule = np.full(n, "unassigned", dtype=object)
    positions = best["polygon"].to_numpy()
    source[positions] = best["other"].to_numpy()
    rule[positions] = np.where(best["tie"].to_numpy() > 0, "largest_overlap", "nearest")

    holder_overlap = pairs.groupby(["polygon", "holder"])["overlap_m2"].sum()
    if method == "balanced":
        best_of_holder = ranked.drop_duplicates(["polygon", "holder"]).set_index(
            ["polygon", "holder"]
        )["other"]
        _match_officers(
            designed["community_id"].astype(str).to_numpy(),
            current["community_id"].astype(str).to_numpy(),
            holders,
            holder_overlap,
            best_of_holder,
            source=source,
            rule=rule,
        )

    assigned = source >= 0
    table = pd.DataFrame(
        {
            "grid_id": designed["id"].astype(str).to_numpy(),
            "community_id": designed["community_id"].astype(str).to_numpy(),
        }
    )
    taken = responsibility.reindex(source).reset_index(drop=True)
    for column in RESPONSIBILITY_COLUMNS:
        table[column] = taken[column].astype(object).where(taken[column].notna(), pd.NA)
    table["source_grid_id"] = pd.Series(
        [current_ids[s] if s >= 0 else pd.NA for s in source], dtype=object
    )
    table["area_m2"] = area_m2
    overlap = pairs.set_index(["polygon", "other"])["overlap_m2"]
    own = np.array(
        [overlap.get((i, s), 0.0) if s >= 0 else 0.0 for i, s in enumerate(source)], dtype=float
    )
    officer_own = np.array(
        [holder_overlap.get((i, holders[s]), 0.0) if s >= 0 else 0.0 for i, s in enumerate(source)],
        dtype=float,
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        table["overlap_share"] = np.where(area_m2 > 0, own / area_m2, 0.0)
        table["officer_overlap_share"] = np.where(area_m2 > 0, officer_own / area_m2, 0.0)
    table["rule"] = rule
    unassigned = int((~assigned).sum())
    if unassigned:
        logger.info(
            "%s of %s designed grids lie in communities with no current grid: nobody answers "
            "for them yet",
            f"{unassigned:,}",
            f"{n:,}",
        )
    return table


def _holder_keys(responsibility: pd.DataFrame) -> np.ndarray:
    """One key per responsible officer: the name, else the team, phone and unit together."""
    text = responsibility.astype("string").apply(lambda s: s.str.strip()).fillna("")
    others = text["team"] + "|" + text["phone"] + "|" + text["unit_id"]
    keys = np.where(text["officer"] != "", "officer:" + text["officer"], "unnamed:" + others)
    return np.asarray(keys, dtype=object)


def _match_officers(
    designed_community: np.ndarray,
    current_community: np.ndarray,
    holders: np.ndarray,
    holder_overlap: pd.Series,
    best_of_holder: pd.Series,
    *,
    source: np.ndarray,
    rule: np.ndarray,
) -> None:
    """Match designed grids to officers, one per current grid of theirs, in place."""
    for community in pd.unique(designed_community):
        rows = np.flatnonzero(designed_community == community)
        slots_of = holders[current_community == community]
        if not len(slots_of):
            continue
        names, counts = np.unique(slots_of.astype(str), return_counts=True)
        overlap_m2 = np.array(
            [[holder_overlap.get((int(r), name), 0.0) for name in names] for r in rows],
            dtype=float,
        )
        slots = np.repeat(np.arange(len(names)), counts)
        matched_rows, matched_slots = linear_sum_assignment(overlap_m2[:, slots], maximize=True)
        for r, slot in zip(matched_rows, matched_slots, strict=True):
            position = int(rows[r])
            source[position] = int(best_of_holder[(position, names[slots[slot]])])
            rule[position] = "balanced"


def responsibility_changes(current: pd.DataFrame, designed: pd.DataFrame) -> pd.DataFrame:
    """Grids and workload per officer, unit and team, in the current and designed layouts.

    Parameters
    ----------
    current, designed
        Grid tables with the responsibility columns and ``workload`` (as
        :attr:`GridWorkload.table`).

    Returns
    -------
    pandas.DataFrame
        ``level`` (officer, unit, team), ``name``, ``grids_current``, ``grids_designed``,
        ``grids_change``, ``workload_current``, ``workload_designed`` and
        ``workload_change`` (workload index, per cent of each layout's total). A row with
        no ``name`` counts the grids nobody at that level answers for, so each level sums
        to the number of grids of each layout.
    """
    nobody = "\x00"
    frames = []
    for level, column in CHANGE_LEVELS.items():
        sides = []
        for label, table in (("current", current), ("designed", designed)):
            names = (
                table[column].astype("string").str.strip()
                if column in table.columns
                else pd.Series(pd.NA, index=table.index, dtype="string")
            )
            names = names.where(names != "")
            load = (
                pd.to_numeric(table["workload"], errors="coerce").fillna(0.0)
                if "workload" in table.columns
                else pd.Series(0.0, index=table.index)
            )
            grouped = pd.DataFrame(
                {"name": names.fillna(nobody).to_numpy(), "workload": load.to_numpy()}
            ).groupby("name")
            sides.append(
                pd.DataFrame(
                    {
                        f"grids_{label}": grouped.size(),
                        f"workload_{label}": grouped["workload"].sum(),
                    }
                )
            )
        joined = sides[0].join(sides[1], how="outer").fillna(0.0)
        for label in ("current", "designed"):
            joined[f"grids_{label}"] = joined[f"grids_{label}"].astype(int)
        joined["grids_change"] = joined["grids_designed"] - joined["grids_current"]
        joined["workload_change"] = joined["workload_designed"] - joined["workload_current"]
        joined = joined.rename_axis("name").reset_index()
        joined["unnamed"] = joined["name"] == nobody
        joined = joined.sort_values(["unnamed", "name"], kind="stable")
        joined["name"] = joined["name"].astype(object).where(~joined["unnamed"], pd.NA)
        joined.insert(0, "level", level)
        frames.append(joined.drop(columns="unnamed"))
    columns = [
        "level",
        "name",
        "grids_current",
        "grids_designed",
        "grids_change",
        "workload_current",
        "workload_designed",
        "workload_change",
    ]
    return pd.concat(frames, ignore_index=True)[columns]


def assignment_kpis(
    assignment: pd.DataFrame, changes: pd.DataFrame, *, method: AssignmentMethod
) -> dict[str, Any]:
    """Summary of a designed layout's assignment: how grids were handed out, who changes.

    Parameters
    ----------
    assignment
        Output of :func:`assign_designed_grids`.
    changes
        Output of :func:`responsibility_changes`.
    method
        The assignment method used.

    Returns
    -------
    dict
        ``method``, ``grids``, ``grids_assigned``, ``grids_by_rule``,
        ``area_with_same_officer_share`` (share of the designed area inside the current
        grids of the officer now answering for it) and, per level (officer, unit, team),
        how many keep their number of grids, gain, lose, or lose all.
    """
    assigned = assignment["rule"] != "unassigned"
    area = assignment["area_m2"].to_numpy(dtype=float)
    kept = (assignment["officer_overlap_share"].to_numpy(dtype=float) * area).sum()
    result: dict[str, Any] = {
        "method": method,
        "grids": len(assignment),
        "grids_assigned": int(assigned.sum()),
        "grids_by_rule": {str(k): int(v) for k, v in assignment["rule"].value_counts().items()},
        "area_with_same_officer_share": float(kept / area.sum()) if area.sum() > 0 else math.nan,
    }
    for level in CHANGE_LEVELS:
        rows = changes[(changes["level"] == level) & changes["name"].notna()]
        before = rows[rows["grids_current"] > 0]
        result[level] = {
            "current": len(before),
            "designed": int((rows["grids_designed"] > 0).sum()),
            "same_grids": int((before["grids_change"] == 0).sum()),
            "more_grids": int((rows["grids_change"] > 0).sum()),
            "fewer_grids": int((before["grids_change"] < 0).sum()),
            "no_grids_now": int((before["grids_designed"] == 0).sum()),
        }
    return result
