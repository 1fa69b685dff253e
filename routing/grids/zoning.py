"""The grid design model: street blocks grouped into balanced, contiguous, compact grids.

A grid layout is designed from *street blocks*: the faces of the noded street lines,
cut by the community boundaries so that every block lies in exactly one community.
:class:`GridDesign` groups the blocks of each community into contiguous, compact grids of
balanced workload (build with :meth:`GridDesign.from_blocks`, :meth:`~GridDesign.solve`,
then query ``labels_`` and :meth:`~GridDesign.grids`).

The method is an automatic zoning procedure in the spirit of AZP (Openshaw, 1977) with an
explicit objective, per community::

    minimise  sum_r ((W_r - T) / T) ** 2  +  compactness_weight * sum_r (J_r - 1)

where ``W_r`` is the workload of grid ``r``, ``T`` the community's workload divided by its
number of grids, and ``J_r = 2 pi I_r / A_r ** 2`` the polar moment of inertia ``I_r`` of
the grid's blocks (area-weighted, about the grid's centroid) relative to that of a disc of
the same area ``A_r`` (1 for a disc, larger for elongated shapes). The balance term
dominates; compactness breaks ties and keeps grids round. Regions are grown from seeded,
spread-out seed blocks (smallest region first), then improved by moving boundary blocks
between neighbouring grids while both stay contiguous by block adjacency; several seeded
restarts per community keep the best objective. Blocks are indivisible, so a block heavier
than a grid's share leaves its grid over target whatever the layout (reported).

The search itself (region growing, boundary moves) is in :mod:`routing.grids._regions`;
blocks come from :func:`routing.grids.blocks.blocks_from_lines`.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from layers.i18n import _
from routing.errors import GridError
from routing.grids._checks import check_frame
from routing.grids._regions import Zone, grow_regions, improve_regions, is_connected
from routing.grids.blocks import block_adjacency
from routing.grids.measure import metric_crs, polsby_popper

logger = logging.getLogger(__name__)

__all__ = ["GridDesign"]


@dataclass
class GridDesign:
    """Balanced, contiguous, compact grids from street blocks, nested in their parents.

    Build with :meth:`from_blocks`, call :meth:`solve`, then read ``labels_`` (grid of
    each block) and :meth:`grids` (the dissolved layout).
    """

    blocks: gpd.GeoDataFrame
    workload: NDArray[np.float64]
    parent: NDArray[Any]
    neighbours: list[set[int]]
    zones: list[Zone]
    tolerance: float
    compactness_weight: float
    seed: int
    restarts: int = 8
    labels_: NDArray[np.int64] | None = None
    target_: NDArray[np.float64] | None = None
    moves_: int = 0
    _rng: np.random.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = np.random.default_rng(self.seed)

    # -- build --------------------------------------------------------------------------
    @classmethod
    def from_blocks(
        cls,
        blocks: gpd.GeoDataFrame,
        *,
        workload_column: str = "workload",
        parent_column: str = "parent_id",
        n_grids: int | Mapping[Any, int] | None = None,
        target_workload: float | None = None,
        tolerance: float = 0.15,
        compactness_weight: float = 0.01,
        min_shared_m: float = 1.0,
        restarts: int = 8,
        seed: int = 0,
    ) -> GridDesign:
        """Set up a design over ``blocks`` (see :func:`~routing.grids.blocks.blocks_from_lines`).

        Parameters
        ----------
        blocks
            Street blocks in a metric CRS with a workload and a parent (community) column.
        workload_column
            Additive workload of each block (e.g. a weighted mix of incidents, road km and
            households); grids balance its sum.
        parent_column
            Grids never cross a change of this column (communities).
        n_grids
            Total number of grids (shared among parents in proportion to their workload)
            or a count per parent. Give this or ``target_workload``.
        target_workload
            Workload one grid should carry; each parent gets ``round(W / target)`` grids.
        tolerance
            Accepted relative deviation of a grid's workload from its parent's mean
            (0.15 is ±15%); reported by :meth:`grids`, the solver aims at zero.
        compactness_weight
            Weight of the compactness term of the objective (module docstring).
        min_shared_m
            Shared edge length that makes two blocks adjacent.
        restarts
            Designs tried per community (other seed blocks and move orders); the one with
            the lowest objective is kept.
        seed
            Seed of the random choices (first seed block, move order).

        Raises
        ------
        GridError
            On a missing column, negative or non-finite workloads, or bad counts.
        """
        workload = _block_workload(blocks, workload_column, parent_column)
        _check_settings(
            tolerance=tolerance,
            n_grids=n_grids,
            target_workload=target_workload,
            restarts=restarts,
        )
        frame = blocks.reset_index(drop=True)
        if not frame.crs.is_projected:
            frame = frame.to_crs(metric_crs(frame))
        parent = frame[parent_column].to_numpy()
        neighbours = block_adjacency(frame, min_shared_m=min_shared_m)
        # Adjacency never crosses a parent: grids nest in their community.
        neighbours = [{j for j in nb if parent[j] == parent[i]} for i, nb in enumerate(neighbours)]
        components = _components(neighbours)
        per_parent = _grid_counts(parent, workload, components, n_grids, target_workload)
        zones = _zones(parent, workload, components, per_parent)
        return cls(
            blocks=frame,
            workload=workload,
            parent=parent,
            neighbours=neighbours,
            zones=zones,
            tolerance=tolerance,
            compactness_weight=compactness_weight,
            seed=seed,
            restarts=restarts,
        )

    # -- solve --------------------------------------------------------------------------
    def solve(self, *, max_passes: int = 50) -> GridDesign:
        """Grow and improve the grids of every zone.

        Parameters
        ----------
        max_passes
            Passes of boundary moves at most per restart (they stop earlier when a pass
            improves nothing).

        Returns
        -------
        GridDesign
            The model itself, with ``labels_``, ``target_`` and ``moves_`` set.
        """
        centroids = shapely.get_coordinates(shapely.centroid(self.blocks.geometry.to_numpy()))
        area = self.blocks.geometry.area.to_numpy()
        labels = np.full(len(self.blocks), -1, dtype=np.int64)
        self.moves_ = 0
        next_label = 0
        targets: list[float] = []
        for zone in self.zones:
            # Restarts from other seed blocks: the boundary moves only find a local optimum.
            best: tuple[float, NDArray[np.int64], int] | None = None
            for _restart in range(self.restarts if zone.n_grids > 1 else 1):
                grown = grow_regions(
                    zone, centroids, self.workload, area, self.neighbours, self._rng
                )
                candidate, n_moves, objective = improve_regions(
                    zone,
                    grown,
                    centroids,
                    self.workload,
                    area,
                    self.neighbours,
                    self._rng,
                    compactness_weight=self.compactness_weight,
                    max_passes=max_passes,
                )
                if best is None or objective < best[0] - 1e-12:
                    best = (objective, candidate, n_moves)
            assert best is not None
            _score, local, moves = best
            self.moves_ += moves
            labels[zone.blocks] = local + next_label
            zone_target = float(self.workload[zone.blocks].sum()) / zone.n_grids
            targets.extend([zone_target] * zone.n_grids)
            next_label += zone.n_grids
        target = np.asarray(targets, dtype=float)
        self.labels_ = labels
        self.target_ = target
        logger.info(
            "%s grids designed over %s blocks (%s improving moves)",
            f"{next_label:,}",
            f"{len(labels):,}",
            f"{self.moves_:,}",
        )
        return self

    # -- query --------------------------------------------------------------------------
    def grids(self, *, parent_column: str = "community_id") -> gpd.GeoDataFrame:
        """The designed grids, dissolved from their blocks, in the blocks' metric CRS.

        Parameters
        ----------
        parent_column
            Name of the output column holding each grid's parent (community).

        Returns
        -------
        geopandas.GeoDataFrame
            ``grid``, ``parent_column``, ``n_blocks``, ``workload``, ``target_workload``,
            ``deviation`` (``workload / target - 1``), ``within_tolerance``,
            ``indivisible_block`` (holds a block heavier than the target allows),
            ``n_parts`` (1 when the grid is one polygon), ``area_m2``, ``polsby_popper``.

        Raises
        ------
        GridError
            If :meth:`solve` has not run.
        """
        if self.labels_ is None or self.target_ is None:
            raise GridError("the design is not solved yet; call .solve() first")
        frame = gpd.GeoDataFrame(
            {"grid": self.labels_, parent_column: self.parent, "workload": self.workload},
            geometry=self.blocks.geometry.to_numpy(),
            crs=self.blocks.crs,
        )
        # Blocks share exact edges, so a union is clean; make_valid guards float noise.
        out = frame.dissolve(
            by="grid", aggfunc={parent_column: "first", "workload": "sum"}, sort=True
        )
        out["n_blocks"] = np.bincount(self.labels_, minlength=len(out))
        out["geometry"] = shapely.make_valid(out.geometry.to_numpy())
        out["target_workload"] = self.target_
        with np.errstate(divide="ignore", invalid="ignore"):
            deviation = np.where(self.target_ > 0, out["workload"] / self.target_ - 1, 0.0)
        out["deviation"] = deviation
        out["within_tolerance"] = np.abs(deviation) <= self.tolerance
        # A block heavier than a whole grid's share cannot be split: such a grid is over
        # its target whatever the layout.
        heaviest = pd.Series(self.workload).groupby(self.labels_).max().to_numpy()
        out["indivisible_block"] = heaviest > (1 + self.tolerance) * self.target_
        out["n_parts"] = shapely.get_num_geometries(out.geometry.to_numpy())
        out["area_m2"] = out.geometry.area
        out["polsby_popper"] = polsby_popper(out)
        return out.reset_index()

    def is_contiguous(self) -> pd.Series:
        """Whether each grid's blocks form one connected set under block adjacency.

        Returns
        -------
        pandas.Series
            Named ``contiguous``, indexed by grid label.

        Raises
        ------
        GridError
            If :meth:`solve` has not run.
        """
        if self.labels_ is None:
            raise GridError("the design is not solved yet; call .solve() first")
        result = {}
        for label in np.unique(self.labels_):
            members = set(np.flatnonzero(self.labels_ == label).tolist())
            result[int(label)] = is_connected(members, self.neighbours)
        return pd.Series(result, name="contiguous")


def _block_workload(
    blocks: gpd.GeoDataFrame, workload_column: str, parent_column: str
) -> NDArray[np.float64]:
    """The blocks' workloads, checked finite and >= 0, after checking the layer itself.

    Raises
    ------
    GridError
        If ``blocks`` is not a polygon layer with a CRS, lacks a column or holds a missing,
        negative or infinite workload.
    """
    check_frame(blocks, "blocks", ("Polygon", "MultiPolygon"))
    for column in (workload_column, parent_column):
        if column not in blocks.columns:
            raise GridError(
                _(
                    "blocks have no column %(column)r; available: %(columns)s",
                    column=column,
                    columns=", ".join(map(str, blocks.columns)),
                )
            )
    workload = pd.to_numeric(blocks[workload_column], errors="coerce").to_numpy(dtype=float)
    if not np.all(np.isfinite(workload)) or (workload < 0).any():
        raise GridError(
            _(
                "column %(column)r should hold finite workloads >= 0; fill the missing or "
                "negative values (e.g. with 0) first",
                column=workload_column,
            )
        )
    return workload


def _check_settings(
    *,
    tolerance: float,
    n_grids: int | Mapping[Any, int] | None,
    target_workload: float | None,
    restarts: int,
) -> None:
    """Check the settings of a design (see :meth:`GridDesign.from_blocks`).

    Raises
    ------
    GridError
        Naming the setting, the value given and the range it should be in.
    """
    if not 0 < tolerance < 1:
        raise GridError(
            _(
                "'tolerance' should be between 0 and 1 (0.15 is ±15%%), got %(value)r",
                value=tolerance,
            )
        )
    if (n_grids is None) == (target_workload is None):
        raise GridError(
            _(
                "give exactly one of 'n_grids' and 'target_workload': the number of grids or "
                "the workload one grid should carry"
            )
        )
    if target_workload is not None and not target_workload > 0:
        raise GridError(
            _(
                "the workload one grid should carry must be > 0, got %(value)r",
                value=target_workload,
            )
        )
    if restarts < 1:
        raise GridError(
            _(
                "the number of designs tried per community must be >= 1, got %(value)r",
                value=restarts,
            )
        )
    if isinstance(n_grids, int) and n_grids < 1:
        raise GridError(
            _("the number of grids to design must be at least 1, got %(value)r", value=n_grids)
        )


def _components(neighbours: list[set[int]]) -> NDArray[np.int64]:
    """Connected component (0..k-1) of every block under the adjacency ``neighbours``."""
    component = np.full(len(neighbours), -1, dtype=np.int64)
    current = 0
    for start in range(len(neighbours)):
        if component[start] >= 0:
            continue
        component[start] = current
        queue = deque([start])
        while queue:
            node = queue.popleft()
            for nb in neighbours[node]:
                if component[nb] < 0:
                    component[nb] = current
                    queue.append(nb)
        current += 1
    return component


def _grid_counts(
    parent: NDArray[Any],
    workload: NDArray[np.float64],
    component: NDArray[np.int64],
    n_grids: int | Mapping[Any, int] | None,
    target_workload: float | None,
) -> dict[Any, int]:
    """Grids per parent: proportional to workload, at least one per connected piece."""
    frame = pd.DataFrame({"parent": parent, "workload": workload, "component": component})
    pieces = frame.groupby("parent", sort=True)["component"].nunique()
    totals = frame.groupby("parent", sort=True)["workload"].sum()
    if isinstance(n_grids, Mapping):
        missing = [p for p in totals.index if p not in n_grids]
        if missing:
            raise GridError(
                _(
                    "the grid counts give none for community(ies) %(communities)s; give a count "
                    "for every community",
                    communities=", ".join(map(str, missing[:5])),
                )
            )
        counts = {p: int(n_grids[p]) for p in totals.index}
    else:
        if target_workload is None:
            assert n_grids is not None
            if n_grids < len(totals):
                raise GridError(
                    _(
                        "%(n)s grid(s) are fewer than the %(communities)s communities; every "
                        "community needs at least one grid: ask for at least %(communities)s "
                        "grids",
                        n=n_grids,
                        communities=len(totals),
                    )
                )
            target_workload = float(totals.sum()) / n_grids if totals.sum() > 0 else 1.0
        counts = _apportion(totals, target_workload, n_grids if isinstance(n_grids, int) else None)
    return {p: max(counts[p], int(pieces[p])) for p in totals.index}


def _apportion(totals: pd.Series, target: float, total: int | None) -> dict[Any, int]:
    """Round ``totals / target`` per parent (at least 1), keeping the sum at ``total``.

    Seats are added to (or taken from) the parent whose grids would then deviate least
    from ``target``, one at a time: a Huntington-Hill-like rounding on the balance goal.
    """
    load: dict[Any, float] = {p: float(w) for p, w in totals.items()}
    counts = {p: max(1, round(w / target)) for p, w in load.items()}
    if total is None:
        return counts
    while sum(counts.values()) < total:
        best = min(
            counts,
            key=lambda p: (
                abs(load[p] / (counts[p] + 1) - target) - abs(load[p] / counts[p] - target)
            ),
        )
        counts[best] += 1
    while sum(counts.values()) > total:
        removable = [p for p in counts if counts[p] > 1]
        if not removable:
            break
        best = min(
            removable,
            key=lambda p: (
                abs(load[p] / (counts[p] - 1) - target) - abs(load[p] / counts[p] - target)
            ),
        )
        counts[best] -= 1
    return counts


def _zones(
    parent: NDArray[Any],
    workload: NDArray[np.float64],
    component: NDArray[np.int64],
    per_parent: dict[Any, int],
) -> list[Zone]:
    """Split each parent's grid count among its connected pieces by workload.

    A piece never gets more grids than it has blocks; the grids it cannot take go to the
    pieces with room whose grids carry the most workload each, so the total stays as
    asked while there are blocks enough.
    """
    pieces: list[tuple[Any, NDArray[np.int64], float]] = []
    counts: list[int] = []
    for p, count in per_parent.items():
        members = np.flatnonzero(parent == p)
        piece_blocks = [members[component[members] == c] for c in np.unique(component[members])]
        piece_load = np.array([workload[b].sum() for b in piece_blocks])
        share = (
            piece_load / piece_load.sum()
            if piece_load.sum() > 0
            else np.full(len(piece_blocks), 1 / len(piece_blocks))
        )
        alloc = np.maximum(1, np.floor(share * count)).astype(int)
        # Remaining grids go to the pieces whose grids carry the most workload each.
        while alloc.sum() < count:
            alloc[int(np.argmax(piece_load / alloc))] += 1
        for blocks_of_piece, k, load in zip(piece_blocks, alloc, piece_load, strict=True):
            pieces.append((p, blocks_of_piece, float(load)))
            counts.append(int(min(k, len(blocks_of_piece))))
    short = sum(per_parent.values()) - sum(counts)
    while short > 0:
        room = [i for i, (_, blocks, _) in enumerate(pieces) if counts[i] < len(blocks)]
        if not room:
            break
        best = max(room, key=lambda i: pieces[i][2] / counts[i])
        counts[best] += 1
        short -= 1
    return [
        Zone(parent=p, blocks=blocks, n_grids=k)
        for (p, blocks, _), k in zip(pieces, counts, strict=True)
    ]
