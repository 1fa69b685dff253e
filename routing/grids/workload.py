"""Workload of a grid layout: incidents per grid and shift, road km, area, households.

* :func:`incidents_by_grid` counts incidents into grids (each exactly once, the ones
  outside all grids returned apart), all day and per shift (``routing.risk.shift_mask``).
* :func:`grid_workload` gives every grid its officer, team, unit and contact and its
  workload: incidents (weighted by severity), road km, area, households and population,
  combined by :func:`workload_index` into one index (per cent of the area's total); the
  residents in it are the population where the communities record it, else households.
* :func:`unit_workload` sums the workload over the grids of each unit.
* :func:`response_times` measures the travel time from the nearest station to each grid.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from layers.i18n import _
from routing.errors import GridError
from routing.grids._checks import require_columns
from routing.grids.balance import imbalance
from routing.grids.measure import assign_points, line_length_in_polygons, metric_crs, polsby_popper
from routing.network import StreetNetwork, network_from_lines
from routing.reach import reach_nodes
from routing.risk import shift_mask

logger = logging.getLogger(__name__)

__all__ = [
    "RESPONSIBILITY_COLUMNS",
    "WORKLOAD_WEIGHTS",
    "GridWorkload",
    "grid_workload",
    "incidents_by_grid",
    "response_times",
    "unit_workload",
    "workload_index",
]

#: Who answers for a grid: read from the grids layer or an assignment table.
RESPONSIBILITY_COLUMNS = ("officer", "team", "phone", "unit_id")

#: Default mix of the workload index. Incidents carry half: police work follows the
#: incidents (警力跟着警情走); street km and residents stand for the patrol and visiting
#: work that exists with no incident; area for the distance covered.
WORKLOAD_WEIGHTS: dict[str, float] = {
    "incident_weight": 0.5,
    "road_km": 0.2,
    "residents": 0.2,
    "area_km2": 0.1,
}


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
            raise GridError(
                _(
                    "incidents have no 'occurred_at' column; shift counts need incident times "
                    "(map the time column to 'occurred_at' on import)"
                )
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
    """Weight of each incident: ``column`` where a positive number, else 1."""
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
    shifts
        Names of the shifts counted (``incidents_<shift>`` columns).
    """

    table: gpd.GeoDataFrame
    outside: gpd.GeoDataFrame
    weights: dict[str, float]
    incidents_total: int
    shifts: tuple[str, ...] = field(default_factory=tuple)

    def kpis(self, *, tolerance: float = 0.15) -> dict[str, Any]:
        """Imbalance of the workload index and of each component, across grids and units.

        Parameters
        ----------
        tolerance
            Accepted deviation from the mean (0.15 is ±15%).

        Returns
        -------
        dict
            Counts of grids and incidents, the weights used, :func:`imbalance` of the
            workload index, incident weight (all day and per shift), road km and
            residents, the Polsby-Popper mean and minimum and, when grids have units,
            the imbalance across ``units``.
        """
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
            "residents": imbalance(table["residents"], tolerance=tolerance),
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
    GridError
        If ``grids`` lacks ``id``/``community_id`` or ``weights`` names an unknown part.
    """
    require_columns(grids, _("the grids layer"), ("id", "community_id"))
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
    table["residents"] = residents(table)
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


def _apply_assignments(table: gpd.GeoDataFrame, assignments: pd.DataFrame) -> gpd.GeoDataFrame:
    """``table`` with the responsibility columns given by ``assignments`` (by ``grid_id``)."""
    require_columns(assignments, _("the assignment table"), ("grid_id",))
    keyed = assignments.assign(grid_id=assignments["grid_id"].astype(str)).drop_duplicates(
        "grid_id", keep="last"
    )
    unknown = sorted(set(keyed["grid_id"]) - set(table["id"]))
    if unknown:
        raise GridError(
            _(
                "assignments name grid(s) %(grids)s that are not in the grids layer; correct "
                "their grid_id",
                grids=", ".join(map(repr, unknown[:5])),
            )
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
    """A community's ``column`` total shared among its grids by street length (else area)."""
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


def residents(table: pd.DataFrame) -> pd.Series:
    """Residents per grid for the workload: the population when the communities record it
    (a total above 0), else the households, a proxy of the same work (visits, disputes).

    Parameters
    ----------
    table
        Grids with ``households`` and ``population`` (shares of their communities').

    Returns
    -------
    pandas.Series
        Named ``residents``; ``attrs["measure"]`` says which column it is.
    """
    measure = "population" if float(table["population"].sum()) > 0 else "households"
    series = table[measure].astype(float).rename("residents")
    series.attrs["measure"] = measure
    return series


def _mix(table: pd.DataFrame, weights: Mapping[str, float] | None) -> dict[str, float]:
    """The weights of the workload index, checked, without components that have no data,
    normalised to sum to 1."""
    mix = dict(WORKLOAD_WEIGHTS if weights is None else weights)
    unknown = sorted(set(mix) - set(WORKLOAD_WEIGHTS))
    if unknown:
        raise GridError(
            _(
                "workload weights name %(unknown)s; use %(known)s",
                unknown=", ".join(unknown),
                known=", ".join(WORKLOAD_WEIGHTS),
            )
        )
    if any(w < 0 for w in mix.values()):
        raise GridError(_("workload weights should be >= 0, got %(weights)s", weights=mix))
    # A component with no data (no households recorded) would count as perfectly even.
    used = {k: float(w) for k, w in mix.items() if w > 0 and float(table[k].sum()) > 0}
    total = sum(used.values())
    if total == 0:
        raise GridError(
            _(
                "no workload component has data: add incidents, roads or the communities' "
                "population or households"
            )
        )
    return {k: w / total for k, w in used.items()}


def workload_index(table: pd.DataFrame, weights: Mapping[str, float]) -> pd.Series:
    """Workload index: the weighted mix of each component's share of the total, in per cent.

    Additive, so a grid made of blocks carries the sum of its blocks' workloads.

    Parameters
    ----------
    table
        One row per grid with a column per component named in ``weights``.
    weights
        Weight per component (see :data:`WORKLOAD_WEIGHTS`).

    Returns
    -------
    pandas.Series
        Named ``workload``, indexed like ``table``; sums to 100 over the table.
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

    Parameters
    ----------
    table
        Grids with ``unit_id``, ``workload``, ``incidents`` and ``road_km``.

    Returns
    -------
    pandas.DataFrame
        ``unit_id``, ``grids``, ``workload``, ``incidents`` and ``road_km``, one row per
        unit.
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


def response_times(
    grids: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame,
    stations: gpd.GeoDataFrame,
    *,
    mode: str = "car",
    network: StreetNetwork | None = None,
) -> pd.DataFrame:
    """Travel time from the nearest station to the street nodes of each grid.

    Parameters
    ----------
    grids
        Grid polygons (any CRS).
    roads
        Street lines to build the network from when ``network`` is None.
    stations
        Station points.
    mode
        Travel mode of the network built from ``roads``.
    network
        A network already built (saves a rebuild when several layouts are measured).

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
