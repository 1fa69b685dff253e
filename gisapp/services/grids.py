"""The grid jobs (responsibility report, workload, staffing, design) over :mod:`routing.grids`.

The CLI and the web reach the grid algorithms through this module.
``ResponsibilityError`` is :class:`routing.errors.GridError`.
"""

from __future__ import annotations

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
