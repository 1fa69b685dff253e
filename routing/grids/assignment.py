"""Who answers for a designed layout: officers matched to designed grids, and what changes.

* :func:`assign_designed_grids` hands every designed grid to the officer, team, phone and
  unit of the current grid(s) it overlaps, in named steps: the overlaps are measured
  and ranked (:func:`_ranked_overlaps`), each designed grid takes its largest overlap
  (:func:`_largest_overlaps`), then with ``method="balanced"`` the officers are matched to
  designed grids, one per current grid of theirs (:func:`_match_officers`,
  ``scipy.optimize.linear_sum_assignment``), and the table is put together
  (:func:`_assignment_table`).
* :func:`responsibility_changes` lists grids and workload per officer, unit and team in
  the current and designed layouts.
* :func:`assignment_kpis` sums up how grids were handed out and who changes.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from layers.i18n import _
from routing.errors import GridError
from routing.grids._checks import require_columns
from routing.grids.measure import metric_crs, overlap_areas
from routing.grids.workload import RESPONSIBILITY_COLUMNS

logger = logging.getLogger(__name__)

__all__ = [
    "ASSIGNMENT_METHODS",
    "CHANGE_LEVELS",
    "OVERLAP_TIE_M2",
    "AssignmentMethod",
    "assign_designed_grids",
    "assignment_kpis",
    "responsibility_changes",
]

AssignmentMethod = Literal["balanced", "overlap"]

#: How designed grids get their officers: ``balanced`` keeps each officer's number of
#: grids where the counts allow, ``overlap`` follows the largest overlap alone.
ASSIGNMENT_METHODS: tuple[AssignmentMethod, ...] = ("balanced", "overlap")

#: Overlaps that differ by less than this (square metres) are ties.
OVERLAP_TIE_M2 = 0.1

#: Levels of the responsibility change table, and the column each one groups by.
CHANGE_LEVELS: dict[str, str] = {"officer": "officer", "unit": "unit_id", "team": "team"}


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
    GridError
        If ``method`` is unknown or a layer lacks ``id`` or ``community_id``.
    """
    if method not in ASSIGNMENT_METHODS:
        raise GridError(
            _(
                "the assignment method=%(method)r is not known; use one of %(methods)s",
                method=method,
                methods=", ".join(ASSIGNMENT_METHODS),
            )
        )
    require_columns(designed, _("the designed grids"), ("id", "community_id"))
    require_columns(current, _("the current grids"), ("id", "community_id"))
    designed = designed.reset_index(drop=True)
    current = current.reset_index(drop=True)
    responsibility = _responsibility_of(current)
    holders = _holder_keys(responsibility)
    pairs, ranked = _ranked_overlaps(designed, current, holders)
    source, rule = _largest_overlaps(ranked, len(designed))
    holder_overlap = pairs.groupby(["polygon", "holder"])["overlap_m2"].sum()
    if method == "balanced":
        _match_officers(
            designed["community_id"].astype(str).to_numpy(),
            current["community_id"].astype(str).to_numpy(),
            holders,
            holder_overlap,
            _best_of_holder(ranked),
            source=source,
            rule=rule,
        )
    table = _assignment_table(
        designed,
        current["id"].astype(str).to_numpy(),
        responsibility,
        holders,
        pairs,
        holder_overlap,
        source=source,
        rule=rule,
    )
    unassigned = int((source < 0).sum())
    if unassigned:
        logger.info(
            "%s of %s designed grids lie in communities with no current grid: nobody answers "
            "for them yet",
            f"{unassigned:,}",
            f"{len(designed):,}",
        )
    return table


def _responsibility_of(current: pd.DataFrame) -> pd.DataFrame:
    """The responsibility columns of the current grids (missing ones blank)."""
    return pd.DataFrame(
        {
            c: current[c] if c in current.columns else pd.Series(pd.NA, index=current.index)
            for c in RESPONSIBILITY_COLUMNS
        }
    )


def _ranked_overlaps(
    designed: gpd.GeoDataFrame, current: gpd.GeoDataFrame, holders: NDArray[np.object_]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every (designed, current) pair of a community, and the same pairs best first.

    Returns
    -------
    tuple of (pandas.DataFrame, pandas.DataFrame)
        The pairs of :func:`~routing.grids.measure.overlap_areas` with ``tie`` (overlap
        in units of :data:`OVERLAP_TIE_M2`), ``workload``, ``current_id`` and ``holder``
        of the current grid; and those pairs ranked per designed grid: largest overlap,
        then nearest, heavier current grid, smaller current id.
    """
    workload = (
        pd.to_numeric(current["workload"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
        if "workload" in current.columns
        else np.zeros(len(current))
    )
    current_ids = current["id"].astype(str).to_numpy()
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
    return pairs, ranked


def _largest_overlaps(
    ranked: pd.DataFrame, n_designed: int
) -> tuple[NDArray[np.int64], NDArray[np.object_]]:
    """The current grid each designed grid inherits from by the overlap rule, and the rule.

    Returns
    -------
    tuple of (numpy.ndarray, numpy.ndarray)
        Position of the source current grid (``-1`` when its community has none) and the
        rule: ``largest_overlap``, ``nearest`` (no overlap) or ``unassigned``.
    """
    best = ranked.drop_duplicates("polygon")
    source = np.full(n_designed, -1, dtype=np.int64)
    rule = np.full(n_designed, "unassigned", dtype=object)
    positions = best["polygon"].to_numpy()
    source[positions] = best["other"].to_numpy()
    rule[positions] = np.where(best["tie"].to_numpy() > 0, "largest_overlap", "nearest")
    return source, rule


def _best_of_holder(ranked: pd.DataFrame) -> pd.Series:
    """Per (designed grid, officer): the officer's current grid it overlaps most."""
    best = ranked.drop_duplicates(["polygon", "holder"])
    return best.set_index(["polygon", "holder"])["other"]


def _assignment_table(
    designed: gpd.GeoDataFrame,
    current_ids: NDArray[np.object_],
    responsibility: pd.DataFrame,
    holders: NDArray[np.object_],
    pairs: pd.DataFrame,
    holder_overlap: pd.Series,
    *,
    source: NDArray[np.int64],
    rule: NDArray[np.object_],
) -> pd.DataFrame:
    """The assignment table of :func:`assign_designed_grids`, one row per designed grid."""
    area_m2 = designed.geometry.to_crs(metric_crs(designed)).area.to_numpy(dtype=float)
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
