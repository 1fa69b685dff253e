"""Grids (网格, beats): street blocks, workload, staffing, balanced design and assignment.

One module per job:

* :mod:`~routing.grids.blocks` — street blocks cut by community boundaries, adjacency;
* :mod:`~routing.grids.measure` — metric CRS, compactness, points and street length per
  polygon, overlaps between two layouts;
* :mod:`~routing.grids.workload` — incidents per grid and shift, road km, area,
  households and population (residents), the workload index, unit workload, response times;
* :mod:`~routing.grids.balance` — imbalance metrics (max/mean, Gini, CV);
* :mod:`~routing.grids.staffing` — property management and the community staffing rule;
* :mod:`~routing.grids.zoning` — :class:`GridDesign`, balanced contiguous grids from
  blocks (region growing + AZP-style boundary moves, in ``_regions``);
* :mod:`~routing.grids.assignment` — officers of the current grids handed to designed
  ones, the change table and its KPIs;
* :mod:`~routing.grids.compare` — the same KPIs for the current and designed layouts;
* :mod:`~routing.grids.design` — :func:`design_grids`, all of the above end to end.

Every error is a :class:`GridError` (a ``routing.RoutingError``); ``GridDesignError`` is
its former name, kept as an alias.
"""

from __future__ import annotations

from routing.errors import GridError
from routing.grids.assignment import (
    ASSIGNMENT_METHODS,
    CHANGE_LEVELS,
    OVERLAP_TIE_M2,
    AssignmentMethod,
    assign_designed_grids,
    assignment_kpis,
    responsibility_changes,
)
from routing.grids.balance import imbalance
from routing.grids.blocks import block_adjacency, blocks_from_lines
from routing.grids.compare import compare_layouts
from routing.grids.design import DesignResult, design_grids
from routing.grids.measure import (
    assign_points,
    line_length_in_polygons,
    metric_crs,
    overlap_areas,
    polsby_popper,
)
from routing.grids.staffing import (
    BASE_OFFICERS,
    HOUSEHOLDS_ONE_MORE,
    HOUSEHOLDS_TWO_MORE,
    PropertyStatus,
    officers_required,
    property_status,
    staffing_table,
)
from routing.grids.workload import (
    RESPONSIBILITY_COLUMNS,
    WORKLOAD_WEIGHTS,
    GridWorkload,
    grid_workload,
    incidents_by_grid,
    response_times,
    unit_workload,
    workload_index,
)
from routing.grids.zoning import GridDesign

#: Former name of :class:`GridError`.
GridDesignError = GridError

__all__ = [
    "ASSIGNMENT_METHODS",
    "BASE_OFFICERS",
    "CHANGE_LEVELS",
    "HOUSEHOLDS_ONE_MORE",
    "HOUSEHOLDS_TWO_MORE",
    "OVERLAP_TIE_M2",
    "RESPONSIBILITY_COLUMNS",
    "WORKLOAD_WEIGHTS",
    "AssignmentMethod",
    "DesignResult",
    "GridDesign",
    "GridDesignError",
    "GridError",
    "GridWorkload",
    "PropertyStatus",
    "assign_designed_grids",
    "assign_points",
    "assignment_kpis",
    "block_adjacency",
    "blocks_from_lines",
    "compare_layouts",
    "design_grids",
    "grid_workload",
    "imbalance",
    "incidents_by_grid",
    "line_length_in_polygons",
    "metric_crs",
    "officers_required",
    "overlap_areas",
    "polsby_popper",
    "property_status",
    "response_times",
    "responsibility_changes",
    "staffing_table",
    "unit_workload",
    "workload_index",
]
