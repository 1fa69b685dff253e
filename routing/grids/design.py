"""Grid design end to end: blocks, their workload, the design, its officers and the comparison.

:func:`design_grids` runs the named steps in order:

1. :func:`_grid_count` — how many grids to design (by default as many as now);
2. :func:`_weighted_blocks` — street blocks cut by the communities, each with the same
   workload index as a grid (:mod:`routing.grids.blocks`, :mod:`routing.grids.workload`);
3. :class:`~routing.grids.zoning.GridDesign` — region growing and boundary moves;
4. :func:`_measure_design` — the designed grids measured like the current ones, with the
   design's own columns (target, parts, contiguity);
5. :func:`_assign_officers` — officers of the current grids handed to the designed ones
   (:mod:`routing.grids.assignment`);
6. :func:`_with_response_times` — travel times from the stations (when given);
7. :func:`_design_kpis` — :func:`~routing.grids.compare.compare_layouts` plus the design
   and assignment summaries.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import pandas as pd

from layers.i18n import _, format_number
from routing.errors import GridError
from routing.grids._checks import require_columns
from routing.grids.assignment import (
    ASSIGNMENT_METHODS,
    AssignmentMethod,
    assign_designed_grids,
    assignment_kpis,
    responsibility_changes,
)
from routing.grids.blocks import blocks_from_lines
from routing.grids.compare import compare_layouts
from routing.grids.workload import (
    RESPONSIBILITY_COLUMNS,
    GridWorkload,
    grid_workload,
    response_times,
)
from routing.grids.zoning import GridDesign
from routing.network import StreetNetwork, network_from_lines

__all__ = ["DesignResult", "design_grids"]

#: How the design is described in its KPIs.
DESIGN_METHOD = "seeded region growing + AZP-style boundary moves (routing.grids)"


@dataclass(frozen=True)
class DesignResult:
    """A designed grid layout and its comparison with the current one.

    Parameters
    ----------
    current, designed
        Both layouts, measured the same way; the designed grids carry the officer, team,
        phone and unit given by ``assignment``.
    design
        The solved :class:`~routing.grids.zoning.GridDesign`.
    kpis
        :func:`~routing.grids.compare.compare_layouts` of the two, plus ``design`` and
        ``assignment``.
    assignment
        :func:`~routing.grids.assignment.assign_designed_grids` (empty with no current
        grids).
    changes
        :func:`~routing.grids.assignment.responsibility_changes` per officer, unit and team
        (empty with no current grids).
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
    the same workload index as a grid (incidents, road km, residents, area), and
    :class:`~routing.grids.zoning.GridDesign` groups them into contiguous, compact grids
    of equal workload within every community. Each designed grid then inherits the
    officer, team, phone and unit of the current grids it overlaps
    (:func:`~routing.grids.assignment.assign_designed_grids`), so the comparison covers
    the units' workload too.

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
    shifts
        Shift name -> ``(start, end)`` clock times for per-shift incident counts.
    weights
        Workload index mix (see :data:`~routing.grids.workload.WORKLOAD_WEIGHTS`).
    seed
        Seed of the design's random choices: the same seed gives the same layout.
    assign
        How designed grids get their officers: ``"balanced"`` keeps each officer's
        number of grids where possible, ``"overlap"`` follows the largest overlap alone
        (see :func:`~routing.grids.assignment.assign_designed_grids`).

    Returns
    -------
    DesignResult

    Raises
    ------
    GridError
        If neither ``grids`` nor ``n_grids`` is given, ``assign`` is unknown, or a layer
        cannot be used (no blocks, no workload data, fewer grids than communities).
    """
    n_grids = _grid_count(communities, grids, n_grids=n_grids, assign=assign)
    blocks, used_weights = _weighted_blocks(
        communities=communities, roads=roads, incidents=incidents, weights=weights
    )
    design = GridDesign.from_blocks(
        blocks,
        workload_column="workload",
        parent_column="community_id",
        n_grids=n_grids,
        tolerance=tolerance,
        seed=seed,
    ).solve()
    layers: dict[str, Any] = {"incidents": incidents, "roads": roads, "communities": communities}
    designed = _measure_design(design, shifts=shifts, weights=used_weights, **layers)
    current = (
        grid_workload(grids, shifts=shifts, weights=used_weights, **layers)
        if grids is not None and not grids.empty
        else None
    )
    designed, assignment, changes = _assign_officers(designed, current, method=assign)
    if stations is not None and len(stations):
        designed, current = _with_response_times(designed, current, roads, stations)
    kpis = _design_kpis(
        current,
        designed,
        design,
        n_requested=n_grids,
        n_blocks=len(blocks),
        tolerance=tolerance,
        communities=communities,
        seed=seed,
    )
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


def _grid_count(
    communities: gpd.GeoDataFrame,
    grids: gpd.GeoDataFrame | None,
    *,
    n_grids: int | None,
    assign: str,
) -> int:
    """The number of grids to design: as asked, else as many as now (one per community).

    Raises
    ------
    GridError
        If the communities lack ``id``, the assignment method is unknown, or there is
        neither a count nor a current layout to count.
    """
    require_columns(communities, _("the communities layer"), ("id",))
    if assign not in ASSIGNMENT_METHODS:
        raise GridError(
            _(
                "the assignment method %(method)r is not known; use one of %(methods)s",
                method=assign,
                methods=", ".join(ASSIGNMENT_METHODS),
            )
        )
    if n_grids is not None:
        return n_grids
    if grids is None or grids.empty:
        raise GridError(
            _(
                "there are no current grids to count the new ones from; give the number of "
                "grids to design (e.g. --n-grids 40)"
            )
        )
    return max(len(grids), len(communities))


def _weighted_blocks(
    *,
    communities: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame,
    incidents: gpd.GeoDataFrame | None,
    weights: Mapping[str, float] | None,
) -> tuple[gpd.GeoDataFrame, dict[str, float]]:
    """Street blocks cut by the communities, each with its workload index.

    Returns
    -------
    tuple of (geopandas.GeoDataFrame, dict)
        Blocks with ``id``, ``community_id`` and ``workload``; and the weights of the
        workload index actually used (components with no data dropped), which the
        layouts are then measured with.
    """
    blocks = blocks_from_lines(roads, boundaries=communities, boundary_id_column="id")
    blocks = blocks.rename(columns={"parent_id": "community_id"})
    blocks["id"] = blocks["block_id"].astype(str)
    blocks["community_id"] = blocks["community_id"].astype(str)
    block_load = grid_workload(
        blocks, incidents=incidents, roads=roads, communities=communities, weights=weights
    )
    blocks["workload"] = block_load.table["workload"].to_numpy()
    return blocks, block_load.weights


def _measure_design(
    design: GridDesign,
    *,
    incidents: gpd.GeoDataFrame | None,
    roads: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    shifts: Mapping[str, tuple[str, str]] | None,
    weights: Mapping[str, float],
) -> GridWorkload:
    """The designed grids (ids ``D001``...) measured like a layout, with the design's columns.

    Adds ``target_workload``, ``community_deviation`` (workload / target - 1),
    ``n_blocks``, ``n_parts``, ``indivisible_block`` and ``contiguous``.
    """
    layout = design.grids(parent_column="community_id")
    layout["id"] = [f"D{i + 1:03d}" for i in range(len(layout))]
    designed = grid_workload(
        layout[["id", "community_id", "geometry"]].copy(),
        incidents=incidents,
        roads=roads,
        communities=communities,
        shifts=shifts,
        weights=weights,
    )
    extra = layout[["target_workload", "n_blocks", "n_parts", "indivisible_block"]].reset_index(
        drop=True
    )
    table = designed.table.copy()
    table["target_workload"] = extra["target_workload"].to_numpy()
    table["community_deviation"] = table["workload"] / table["target_workload"] - 1
    table["n_blocks"] = extra["n_blocks"].to_numpy()
    table["n_parts"] = extra["n_parts"].to_numpy()
    table["indivisible_block"] = extra["indivisible_block"].to_numpy()
    table["contiguous"] = design.is_contiguous().to_numpy()
    return dataclasses.replace(designed, table=table)


def _assign_officers(
    designed: GridWorkload, current: GridWorkload | None, *, method: AssignmentMethod
) -> tuple[GridWorkload, pd.DataFrame, pd.DataFrame]:
    """Hand the designed grids to the current officers; the changes per officer, unit, team.

    Returns
    -------
    tuple of (GridWorkload, pandas.DataFrame, pandas.DataFrame)
        The designed layout with its responsibility columns filled, the assignment table
        and the change table; with no current layout, ``designed`` unchanged and two
        empty tables.
    """
    if current is None:
        return designed, pd.DataFrame(), pd.DataFrame()
    assignment = assign_designed_grids(designed.table, current.table, method=method)
    table = designed.table.copy()
    for column in RESPONSIBILITY_COLUMNS:
        table[column] = assignment[column].to_numpy()
    designed = dataclasses.replace(designed, table=table)
    changes = responsibility_changes(current.table, designed.table)
    return designed, assignment, changes


def _with_response_times(
    designed: GridWorkload,
    current: GridWorkload | None,
    roads: gpd.GeoDataFrame,
    stations: gpd.GeoDataFrame,
) -> tuple[GridWorkload, GridWorkload | None]:
    """Both layouts with ``response_mean_s`` and ``response_p90_s``, over one car network."""
    network = network_from_lines(roads, mode="car")
    designed = _with_response(designed, roads, stations, network)
    if current is not None:
        current = _with_response(current, roads, stations, network)
    return designed, current


def _with_response(
    layout: GridWorkload,
    roads: gpd.GeoDataFrame,
    stations: gpd.GeoDataFrame,
    network: StreetNetwork,
) -> GridWorkload:
    """``layout`` with the response times from ``stations`` over ``network``."""
    times = response_times(layout.table, roads, stations, network=network)
    table = layout.table.copy()
    table["response_mean_s"] = times["response_mean_s"].to_numpy()
    table["response_p90_s"] = times["response_p90_s"].to_numpy()
    return dataclasses.replace(layout, table=table)


def _design_kpis(
    current: GridWorkload | None,
    designed: GridWorkload,
    design: GridDesign,
    *,
    n_requested: int,
    n_blocks: int,
    tolerance: float,
    communities: gpd.GeoDataFrame,
    seed: int,
) -> dict[str, Any]:
    """:func:`~routing.grids.compare.compare_layouts` of both layouts plus ``design``,
    whose ``note`` says why the grids made differ from the grids asked for, if they do."""
    kpis = compare_layouts(current, designed, tolerance=tolerance, communities=communities)
    made = sum(zone.n_grids for zone in design.zones)
    kpis["design"] = {
        "method": DESIGN_METHOD,
        "seed": seed,
        "blocks": n_blocks,
        "grids_requested": n_requested,
        "grids": made,
        "note": _count_note(n_requested, made, n_blocks, design),
        "improving_moves": design.moves_,
        "tolerance": tolerance,
    }
    return kpis


def _count_note(requested: int, made: int, n_blocks: int, design: GridDesign) -> str | None:
    """Why a design has more or fewer grids than asked for (None when it has as many)."""
    if made < requested:
        return _(
            "%(made)s grids made of the %(requested)s asked for: a grid is at least one street "
            "block and the communities hold %(blocks)s blocks; ask for fewer grids or give "
            "finer streets",
            made=format_number(made),
            requested=format_number(requested),
            blocks=format_number(n_blocks),
        )
    if made > requested:
        pieces = len(design.zones)
        return _(
            "%(made)s grids made, %(extra)s more than asked for: the communities fall into "
            "%(pieces)s pieces unconnected by streets, and every piece needs a grid",
            made=format_number(made),
            extra=format_number(made - requested),
            pieces=format_number(pieces),
        )
    return None
