"""The grid jobs (responsibility report, workload, staffing, design) over :mod:`routing.grids`.

The CLI and the web reach the grid algorithms through this module (``__all__`` lists the
names of :mod:`routing.grids` it passes on); :func:`workload_incidents` gives them the
incidents that weigh.
``ResponsibilityError`` is :class:`routing.errors.GridError`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import geopandas as gpd
import numpy as np
from scipy.spatial import cKDTree

from gisapp.errors import GisappError
from gisapp.services.analytics import load_incidents
from gisapp.store.geopackage import Workspace
from layers.crs import metric_crs
from layers.errors import Problem
from layers.i18n import _
from layers.validate.pileups import find_pileups
from routing.errors import GridError as ResponsibilityError
from routing.grids import (
    ASSIGNMENT_METHODS,
    RESPONSIBILITY_COLUMNS,
    WORKLOAD_WEIGHTS,
    AssignmentMethod,
    DesignResult,
    GridWorkload,
    assign_designed_grids,
    assignment_kpis,
    compare_layouts,
    design_grids,
    grid_workload,
    imbalance,
    incidents_by_grid,
    officers_required,
    property_status,
    response_times,
    responsibility_changes,
    staffing_table,
    unit_workload,
)

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


def workload_incidents(
    ws: Workspace, *, keep_pileups: bool = False
) -> tuple[gpd.GeoDataFrame | None, list[Problem]]:
    """The incidents that weigh in grid workload, or None when the workspace has none.

    The same incidents as hotspots and risk (:func:`gisapp.services.analytics.load_incidents`):
    severities from the one category lookup, incidents at pile-ups left out unless
    ``keep_pileups``.

    Returns
    -------
    tuple of (geopandas.GeoDataFrame or None, list of Problem)
        The incidents and what was reported on the way (unknown categories, pile-ups).
    """
    if not ws.has_layer("incidents"):
        return None, []
    return load_incidents(ws, keep_pileups=keep_pileups)


#: Columns of designed grids kept when they are saved as a workspace layer.
DESIGN_COLUMNS = (
    "id",
    "community_id",
    "officer",
    "team",
    "phone",
    "unit_id",
    "workload",
    "target_workload",
    "road_km",
    "households",
    "incidents",
    "polsby_popper",
    "geometry",
)


def design_workspace_grids(
    ws: Workspace,
    *,
    incidents: gpd.GeoDataFrame | None,
    shifts: Mapping[str, tuple[str, str]],
    n_grids: int | None = None,
    tolerance: float = 0.15,
    seed: int = 0,
    assign: AssignmentMethod = "balanced",
    save_as: str | None = None,
    note: str = "derived: grids designed from street blocks",
) -> DesignResult:
    """Balanced grids designed from the workspace's communities and roads, compared with
    its current grids and given their officers (:func:`routing.grids.design_grids`).

    ``incidents`` are those that weigh (:func:`workload_incidents`). With ``save_as`` the
    designed grids (:data:`DESIGN_COLUMNS`) are saved as that layer, noted ``note``.

    Raises
    ------
    GisappError
        If ``save_as`` is ``grids``: a design never replaces the current grids.
    """
    if save_as == "grids":
        raise GisappError(_("the designed grids would overwrite your grids; choose another name"))
    current = ws.layer("grids", required=False)
    stations = ws.layer("stations", required=False)
    design = design_grids(
        communities=ws.layer("communities"),
        roads=ws.layer("roads"),
        incidents=incidents,
        grids=current if len(current) else None,
        stations=stations if len(stations) else None,
        n_grids=n_grids,
        tolerance=tolerance,
        shifts=dict(shifts),
        seed=seed,
        assign=assign,
    )
    if save_as is not None:
        table = design.designed.table
        notes = ws.layer_notes
        notes[save_as] = note
        keep = [c for c in DESIGN_COLUMNS if c in table.columns]
        ws.save({save_as: table[keep]}, meta={"layer_notes": notes})
    return design


#: Incidents this close to a grid's centroid count as placed at the centroid.
CENTROID_DISTANCE_M = 5.0


def with_geocoding_quality(
    ws: Workspace, workload: GridWorkload, *, centroid_distance_m: float = CENTROID_DISTANCE_M
) -> GridWorkload:
    """``workload`` with the geocoding quality of every grid's incidents.

    An incident is suspect when it sits at a pile-up (many incidents on one point, e.g. a
    reporting desk: :mod:`layers.validate.pileups`) or within ``centroid_distance_m`` of
    a grid's centroid (a feed that places what it cannot geocode at the grid's centre).
    Every incident of the workspace counts here, pile-ups included, whatever the workload
    counted.

    Returns
    -------
    GridWorkload
        A copy whose table adds ``geocoded_incidents`` (incidents in the grid),
        ``at_pileups``, ``at_centroid`` and ``geocoding_suspect_share`` (suspect share of
        the grid's incidents; NaN without incidents).
    """
    table = workload.table.copy()
    columns = ("geocoded_incidents", "at_pileups", "at_centroid")
    for column in columns:
        table[column] = 0
    table["geocoding_suspect_share"] = np.nan
    if not ws.has_layer("incidents") or not len(table):
        return dataclasses.replace(workload, table=table)
    incidents, _ = load_incidents(ws, keep_pileups=True)
    if not len(incidents):
        return dataclasses.replace(workload, table=table)
    stations = ws.layer("stations") if ws.has_layer("stations") else None
    pileup = find_pileups(
        incidents, stations=stations if isinstance(stations, gpd.GeoDataFrame) else None
    ).at_pileup.to_numpy()
    crs = metric_crs(table)
    grids = table.reset_index(drop=True).to_crs(crs)
    points = incidents.geometry.to_crs(crs)
    centres = grids.geometry.centroid
    gap, _ = cKDTree(np.column_stack([centres.x, centres.y])).query(
        np.column_stack([points.x, points.y])
    )
    at_centre = gap <= centroid_distance_m
    joined = gpd.sjoin(
        gpd.GeoDataFrame(geometry=points.to_numpy(), crs=crs),
        grids[["geometry"]],
        how="inner",
        predicate="intersects",
    )
    # A point on a shared border counts once, in the first grid, as the workload does.
    joined = joined[~joined.index.duplicated(keep="first")]
    position = joined.index.to_numpy()
    grid_row = joined["index_right"].to_numpy()
    n = len(table)
    total = np.bincount(grid_row, minlength=n)
    table["geocoded_incidents"] = total
    table["at_pileups"] = np.bincount(grid_row, weights=pileup[position], minlength=n).astype(int)
    table["at_centroid"] = np.bincount(
        grid_row, weights=at_centre[position] & ~pileup[position], minlength=n
    ).astype(int)
    suspect = table["at_pileups"] + table["at_centroid"]
    table["geocoding_suspect_share"] = np.where(total > 0, suspect / np.maximum(total, 1), np.nan)
    return dataclasses.replace(workload, table=table)
