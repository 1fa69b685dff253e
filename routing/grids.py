"""Grid (网格) design: street blocks, their adjacency, and balanced contiguous regions.

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

The same module holds the allocation helpers used to measure workload on any polygons:
:func:`assign_points` (each point to exactly one polygon) and
:func:`line_length_in_polygons` (street length per polygon, shared edges split evenly).
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import NDArray

from routing.errors import RoutingError

logger = logging.getLogger(__name__)

__all__ = [
    "GridDesign",
    "GridDesignError",
    "assign_points",
    "block_adjacency",
    "blocks_from_lines",
    "line_length_in_polygons",
    "metric_crs",
    "overlap_areas",
    "polsby_popper",
]

#: Precision (metres) of the noded streets and boundaries that make the blocks.
_GRID_SIZE_M = 0.01
#: Tolerance (metres) for a street piece or point to count as lying on a polygon.
_ON_POLYGON_M = 0.01


class GridDesignError(RoutingError):
    """A grid layout cannot be designed as asked (no blocks, bad workload, bad counts)."""


def metric_crs(frame: gpd.GeoDataFrame | gpd.GeoSeries) -> Any:
    """The CRS to measure ``frame`` in: its own when projected, else its UTM zone.

    The zone is taken from the centre of the bounds; this is what
    ``GeoSeries.estimate_utm_crs`` returns outside the Norway/Svalbard exceptions, without
    its CRS-database query (slow when called once per layer and per step).

    Raises
    ------
    GridDesignError
        If ``frame`` has no CRS or no geometry to place.
    """
    if frame.crs is None:
        raise GridDesignError(
            "the layer has no CRS; set one (e.g. frame.set_crs('EPSG:4326')) before designing grids"
        )
    if frame.crs.is_projected:
        return frame.crs
    bounds = frame.total_bounds
    if not np.all(np.isfinite(bounds)):
        raise GridDesignError("the layer has no geometry to measure; give it features first")
    lon, lat = (bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2
    if not frame.crs.equals("EPSG:4326"):
        lon, lat = pyproj.Transformer.from_crs(frame.crs, "EPSG:4326", always_xy=True).transform(
            lon, lat
        )
    zone = min(int((lon + 180) // 6) + 1, 60)
    return pyproj.CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def _check_frame(frame: Any, name: str, kinds: tuple[str, ...]) -> None:
    if not isinstance(frame, gpd.GeoDataFrame | gpd.GeoSeries):
        raise GridDesignError(f"{name!r} should be a GeoDataFrame, got {type(frame).__name__}")
    if frame.crs is None:
        raise GridDesignError(f"{name!r} has no CRS; set one with .set_crs(...) first")
    types = set(frame.geom_type.dropna().unique())
    if not types <= set(kinds):
        raise GridDesignError(
            f"{name!r} should hold {' or '.join(kinds)} geometries, got {', '.join(sorted(types))}"
        )


def blocks_from_lines(
    lines: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    boundaries: gpd.GeoDataFrame | None = None,
    boundary_id_column: str = "id",
    min_area_m2: float = 200.0,
    crs: Any = None,
) -> gpd.GeoDataFrame:
    """Street blocks: the faces of the noded street lines, optionally cut by boundaries.

    With ``boundaries`` (e.g. communities) their outlines are noded with the streets, so
    every block lies inside exactly one boundary polygon and the blocks cover the
    polygons completely (land between the outermost street and the boundary included).

    Parameters
    ----------
    lines
        Street centre lines in any CRS; need not be noded (TIGER lines are not).
    boundaries
        Polygons the blocks must nest in. Blocks outside all of them are dropped.
    boundary_id_column
        Column of ``boundaries`` copied to the blocks as ``parent_id``.
    min_area_m2
        Faces smaller than this (slivers where a boundary runs along a street) are merged
        into the neighbour of the same parent with which they share the longest edge.
    crs
        Metric CRS to work in; by default the UTM zone of ``lines``.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per block in the metric CRS: ``block_id`` (0..n-1), ``parent_id`` (only
        with ``boundaries``), ``area_m2``, ``geometry``.

    Raises
    ------
    GridDesignError
        If the inputs are not line / polygon layers with a CRS, or no block is formed.
    """
    _check_frame(lines, "lines", ("LineString", "MultiLineString"))
    work_crs = crs if crs is not None else metric_crs(lines)
    parts = list(shapely.get_parts(lines.to_crs(work_crs).geometry.dropna().to_numpy()))
    parents: gpd.GeoDataFrame | None = None
    if boundaries is not None:
        _check_frame(boundaries, "boundaries", ("Polygon", "MultiPolygon"))
        if boundary_id_column not in boundaries.columns:
            raise GridDesignError(
                f"boundaries have no column {boundary_id_column!r}; pass "
                f"boundary_id_column= one of {', '.join(map(str, boundaries.columns))}"
            )
        parents = boundaries[[boundary_id_column, "geometry"]].to_crs(work_crs)
        parts += list(shapely.get_parts(shapely.boundary(parents.geometry.to_numpy())))
    # Snap-rounded union (to the centimetre) nodes robustly: community outlines traced
    # from the streets run within float noise of them, where plain noding fails.
    noded = shapely.union_all(np.asarray(parts, dtype=object), grid_size=_GRID_SIZE_M)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    if len(faces) == 0:
        raise GridDesignError(
            f"the {len(lines):,} street lines enclose no block; pass a street layer that "
            "forms closed blocks (or community boundaries to close them)"
        )
    blocks = gpd.GeoDataFrame(geometry=gpd.GeoSeries(faces, crs=work_crs))
    if parents is not None:
        points = blocks.geometry.representative_point()
        hit = parents.sindex.query(points.to_numpy(), predicate="within")
        parent_of = np.full(len(blocks), -1)
        parent_of[hit[0]] = hit[1]
        outside = int((parent_of < 0).sum())
        if outside:
            logger.debug("%s faces outside every boundary dropped", f"{outside:,}")
        keep = parent_of >= 0
        blocks = blocks[keep].reset_index(drop=True)
        blocks["parent_id"] = parents[boundary_id_column].to_numpy()[parent_of[keep]]
        if blocks.empty:
            raise GridDesignError(
                "no street block lies inside the boundaries; check that both layers cover "
                "the same area"
            )
    blocks = _merge_slivers(blocks, min_area_m2=min_area_m2)
    blocks["area_m2"] = blocks.geometry.area
    blocks.insert(0, "block_id", np.arange(len(blocks)))
    logger.info("%s street blocks formed", f"{len(blocks):,}")
    return blocks


def _merge_slivers(blocks: gpd.GeoDataFrame, *, min_area_m2: float) -> gpd.GeoDataFrame:
    """Merge faces below ``min_area_m2`` into their longest-shared-edge neighbour."""
    area = blocks.geometry.area.to_numpy()
    small = np.flatnonzero(area < min_area_m2)
    if len(small) == 0:
        return blocks.reset_index(drop=True)
    geoms = blocks.geometry.to_numpy()
    parent = blocks["parent_id"].to_numpy() if "parent_id" in blocks else None
    target = np.arange(len(blocks))
    for i in small:
        near = blocks.sindex.query(geoms[i], predicate="intersects")
        near = near[(near != i) & (area[near] >= min_area_m2)]
        if parent is not None:
            near = near[parent[near] == parent[i]]
        if len(near) == 0:
            target[i] = -1
            continue
        shared = shapely.length(
            shapely.intersection(geoms[i].boundary, shapely.boundary(geoms[near]))
        )
        target[i] = near[int(np.argmax(shared))] if shared.max() > 0 else -1
    keep = target >= 0
    merged = gpd.GeoDataFrame(
        {"_target": target[keep]}, geometry=blocks.geometry[keep].to_numpy(), crs=blocks.crs
    )
    if parent is not None:
        merged["parent_id"] = parent[keep]
        out = merged.dissolve(by="_target", aggfunc="first", sort=True)
    else:
        out = merged.dissolve(by="_target", sort=True)
    logger.debug("%s sliver faces merged or dropped", f"{len(small):,}")
    return out.reset_index(drop=True)


def polsby_popper(geometries: gpd.GeoDataFrame | gpd.GeoSeries) -> pd.Series:
    """Polsby-Popper compactness ``4 pi A / P**2`` (1 for a disc, towards 0 when ragged).

    Measured in the metric CRS of the geometries (their UTM zone when geographic).

    Returns
    -------
    pandas.Series
        Named ``polsby_popper``, indexed like ``geometries``.
    """
    series = geometries.geometry if isinstance(geometries, gpd.GeoDataFrame) else geometries
    measured = series.to_crs(metric_crs(series))
    perimeter_m = measured.length.to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(
            perimeter_m > 0, 4 * math.pi * measured.area.to_numpy() / perimeter_m**2, np.nan
        )
    return pd.Series(value, index=geometries.index, name="polsby_popper")


def block_adjacency(
    blocks: gpd.GeoDataFrame | gpd.GeoSeries, *, min_shared_m: float = 1.0
) -> list[set[int]]:
    """Rook adjacency of polygons: neighbours share an edge of at least ``min_shared_m``.

    Touching at a corner does not make two blocks neighbours (a grid joined only at a
    street crossing is not contiguous for a patrol).

    Returns
    -------
    list of set of int
        ``neighbours[i]`` holds the positions of the polygons adjacent to polygon ``i``.
    """
    series = blocks.geometry if isinstance(blocks, gpd.GeoDataFrame) else blocks
    measured = series.to_crs(metric_crs(series)).to_numpy()
    left, right = gpd.GeoSeries(measured).sindex.query(measured, predicate="intersects")
    pair = left < right
    left, right = left[pair], right[pair]
    shared_m = shapely.length(
        shapely.intersection(shapely.boundary(measured[left]), shapely.boundary(measured[right]))
    )
    neighbours: list[set[int]] = [set() for _ in range(len(measured))]
    for i, j in zip(left[shared_m >= min_shared_m], right[shared_m >= min_shared_m], strict=True):
        neighbours[int(i)].add(int(j))
        neighbours[int(j)].add(int(i))
    return neighbours


def _near_polygons(
    points: NDArray[np.object_], polygons: gpd.GeoSeries
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Pairs (point, polygon) with the point inside or within ``_ON_POLYGON_M`` of it.

    Point-in-polygon first (fast); the distance test only for points near an edge or
    in no polygon, where floating point decides between neighbours.
    """
    tree = polygons.sindex
    hit_pt, hit_poly = tree.query(points, predicate="intersects")
    edges = shapely.boundary(polygons.to_numpy())
    near_edge = shapely.dwithin(points[hit_pt], edges[hit_poly], _ON_POLYGON_M)
    redo = np.ones(len(points), dtype=bool)
    redo[hit_pt] = False
    redo[hit_pt[near_edge]] = True
    keep = ~redo[hit_pt]
    redo_idx = np.flatnonzero(redo)
    near_pt, near_poly = tree.query(points[redo_idx], predicate="dwithin", distance=_ON_POLYGON_M)
    return (
        np.concatenate([hit_pt[keep], redo_idx[near_pt]]).astype(np.int64),
        np.concatenate([hit_poly[keep], near_poly]).astype(np.int64),
    )


def assign_points(
    points: gpd.GeoDataFrame | gpd.GeoSeries, polygons: gpd.GeoDataFrame | gpd.GeoSeries
) -> pd.Series:
    """The polygon of each point, each point counted exactly once.

    A point on the edge shared by two polygons goes to the one whose centroid is nearest
    (incidents geocoded to street centre lines often sit exactly on a grid boundary).

    Returns
    -------
    pandas.Series
        Position (0..n-1) of the polygon holding each point, ``-1`` outside all polygons;
        indexed like ``points``, named ``polygon``.
    """
    pts = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
    polys = polygons.geometry if isinstance(polygons, gpd.GeoDataFrame) else polygons
    work_crs = metric_crs(polys)
    pts_m = pts.to_crs(work_crs).to_numpy()
    polys_m = polys.to_crs(work_crs)
    result = np.full(len(pts_m), -1, dtype=np.int64)
    valid = ~(shapely.is_missing(pts_m) | shapely.is_empty(pts_m))
    idx = np.flatnonzero(valid)
    hit_pt, hit_poly = _near_polygons(pts_m[idx], polys_m)
    if len(hit_pt):
        centroids = shapely.centroid(polys_m.to_numpy())
        distance_m = shapely.distance(pts_m[idx[hit_pt]], centroids[hit_poly])
        order = np.lexsort((hit_poly, distance_m, hit_pt))
        first = order[np.r_[True, hit_pt[order][1:] != hit_pt[order][:-1]]]
        result[idx[hit_pt[first]]] = hit_poly[first]
    return pd.Series(result, index=points.index, name="polygon")


def line_length_in_polygons(
    lines: gpd.GeoDataFrame | gpd.GeoSeries,
    polygons: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    piece_m: float = 20.0,
) -> pd.Series:
    """Street length per polygon; a street on the edge of two polygons counts half in each.

    Lines are cut into pieces of at most ``piece_m`` and each piece goes to the polygons
    that hold its midpoint, split evenly among them, so the total length inside the
    polygons is kept (to within one piece per boundary crossing).

    Returns
    -------
    pandas.Series
        ``length_m`` per polygon, indexed like ``polygons``.
    """
    polys = polygons.geometry if isinstance(polygons, gpd.GeoDataFrame) else polygons
    series = lines.geometry if isinstance(lines, gpd.GeoDataFrame) else lines
    work_crs = metric_crs(polys)
    dense = shapely.segmentize(series.to_crs(work_crs).dropna().to_numpy(), piece_m)
    coords, part = shapely.get_coordinates(shapely.get_parts(dense), return_index=True)
    same = part[1:] == part[:-1]
    start, end = coords[:-1][same], coords[1:][same]
    piece_length_m = np.hypot(*(end - start).T)
    mids = shapely.points((start + end) / 2)
    polys_m = polys.to_crs(work_crs)
    hit_piece, hit_poly = _near_polygons(mids, polys_m)
    shares = np.bincount(hit_piece, minlength=len(mids))
    length_m = np.bincount(
        hit_poly, weights=piece_length_m[hit_piece] / shares[hit_piece], minlength=len(polys_m)
    )
    return pd.Series(length_m, index=polygons.index, name="length_m")


def overlap_areas(
    polygons: gpd.GeoDataFrame,
    others: gpd.GeoDataFrame,
    *,
    group_column: str | None = None,
) -> pd.DataFrame:
    """Area shared by every pair of polygons of two layers, and their distance.

    Measured in the metric CRS of ``polygons`` (``others`` is reprojected to it). Meant
    for matching one layout to another, e.g. designed grids to the current ones.

    Parameters
    ----------
    polygons, others
        Polygon layers (any CRS; both need one).
    group_column
        Column of both layers: only pairs with the same value are listed (e.g.
        ``community_id``, so a grid is matched within its own community). Every pair is
        listed when None, so keep the layers small or grouped.

    Returns
    -------
    pandas.DataFrame
        One row per pair: ``polygon`` and ``other`` (positions 0..n-1 in each layer),
        ``overlap_m2`` (area of the intersection, 0 when they only touch or are apart) and
        ``distance_m`` (0 when they touch or overlap), ordered by ``polygon``, ``other``.

    Raises
    ------
    GridDesignError
        If a layer is not polygons, has no CRS, or lacks ``group_column``.
    """
    _check_frame(polygons, "polygons", ("Polygon", "MultiPolygon"))
    _check_frame(others, "others", ("Polygon", "MultiPolygon"))
    if group_column is not None:
        for name, frame in (("polygons", polygons), ("others", others)):
            if group_column not in frame.columns:
                raise GridDesignError(
                    f"{name!r} has no column {group_column!r}; add it or pass group_column=None"
                )
    work_crs = metric_crs(polygons)
    left = shapely.make_valid(polygons.geometry.to_crs(work_crs).to_numpy())
    right = shapely.make_valid(others.geometry.to_crs(work_crs).to_numpy())
    left_key = (
        polygons[group_column].astype(str).to_numpy()
        if group_column is not None
        else np.zeros(len(polygons), dtype=str)
    )
    right_key = (
        others[group_column].astype(str).to_numpy()
        if group_column is not None
        else np.zeros(len(others), dtype=str)
    )
    pairs = pd.merge(
        pd.DataFrame({"polygon": np.arange(len(left)), "key": left_key}),
        pd.DataFrame({"other": np.arange(len(right)), "key": right_key}),
        on="key",
    )
    i = pairs["polygon"].to_numpy(dtype=np.int64)
    j = pairs["other"].to_numpy(dtype=np.int64)
    overlap_m2 = shapely.area(shapely.intersection(left[i], right[j])) if len(i) else np.zeros(0)
    distance_m = shapely.distance(left[i], right[j]) if len(i) else np.zeros(0)
    table = pd.DataFrame(
        {
            "polygon": i,
            "other": j,
            "overlap_m2": np.nan_to_num(np.asarray(overlap_m2, dtype=float)),
            "distance_m": np.nan_to_num(np.asarray(distance_m, dtype=float)),
        }
    )
    return table.sort_values(["polygon", "other"], ignore_index=True)


# -- the design model ----------------------------------------------------------------


@dataclass
class _Zone:
    """One community's connected set of blocks, to be cut into ``n_grids`` grids."""

    parent: Any
    blocks: NDArray[np.int64]
    n_grids: int


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
    zones: list[_Zone]
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
        """Set up a design over ``blocks`` (see :func:`blocks_from_lines`).

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
        GridDesignError
            On a missing column, negative or non-finite workloads, or bad counts.
        """
        _check_frame(blocks, "blocks", ("Polygon", "MultiPolygon"))
        for column in (workload_column, parent_column):
            if column not in blocks.columns:
                raise GridDesignError(
                    f"blocks have no column {column!r}; available: {', '.join(map(str, blocks.columns))}"
                )
        workload = pd.to_numeric(blocks[workload_column], errors="coerce").to_numpy(dtype=float)
        if not np.all(np.isfinite(workload)) or (workload < 0).any():
            raise GridDesignError(
                f"column {workload_column!r} should hold finite workloads >= 0; fill the "
                "missing or negative values (e.g. with 0) first"
            )
        if not 0 < tolerance < 1:
            raise GridDesignError(
                f"'tolerance' should be between 0 and 1 (0.15 is ±15%), got {tolerance!r}"
            )
        if (n_grids is None) == (target_workload is None):
            raise GridDesignError("give exactly one of 'n_grids' and 'target_workload'")
        if target_workload is not None and not target_workload > 0:
            raise GridDesignError(f"'target_workload' should be > 0, got {target_workload!r}")
        if restarts < 1:
            raise GridDesignError(f"'restarts' should be >= 1, got {restarts!r}")
        if isinstance(n_grids, int) and n_grids < 1:
            raise GridDesignError(f"'n_grids' should be >= 1, got {n_grids!r}")

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
        """Grow and improve the grids of every zone; returns the model itself."""
        centroids = shapely.get_coordinates(shapely.centroid(self.blocks.geometry.to_numpy()))
        area = self.blocks.geometry.area.to_numpy()
        labels = np.full(len(self.blocks), -1, dtype=np.int64)
        self.moves_ = 0
        next_label = 0
        targets: list[float] = []
        for zone in self.zones:
            # Restarts from other seed blocks: the boundary moves only find a local optimum.
            best: tuple[float, NDArray[np.int64], int] | None = None
            for _ in range(self.restarts if zone.n_grids > 1 else 1):
                grown = _grow(zone, centroids, self.workload, area, self.neighbours, self._rng)
                candidate, n_moves, objective = _improve(
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
            _, local, moves = best
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

        Returns
        -------
        geopandas.GeoDataFrame
            ``grid``, ``parent_column``, ``n_blocks``, ``workload``, ``target_workload``,
            ``deviation`` (``workload / target - 1``), ``within_tolerance``,
            ``indivisible_block`` (holds a block heavier than the target allows),
            ``n_parts`` (1 when the grid is one polygon), ``area_m2``, ``polsby_popper``.

        Raises
        ------
        GridDesignError
            If :meth:`solve` has not run.
        """
        if self.labels_ is None or self.target_ is None:
            raise GridDesignError("the design is not solved yet; call .solve() first")
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
        """Whether each grid's blocks form one connected set under block adjacency."""
        if self.labels_ is None:
            raise GridDesignError("the design is not solved yet; call .solve() first")
        result = {}
        for label in np.unique(self.labels_):
            members = set(np.flatnonzero(self.labels_ == label).tolist())
            result[int(label)] = _connected(members, self.neighbours)
        return pd.Series(result, name="contiguous")


def _components(neighbours: list[set[int]]) -> NDArray[np.int64]:
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
            raise GridDesignError(
                f"'n_grids' has no count for parent(s) {', '.join(map(str, missing[:5]))}; "
                "give a count for every community"
            )
        counts = {p: int(n_grids[p]) for p in totals.index}
    else:
        if target_workload is None:
            assert n_grids is not None
            if n_grids < len(totals):
                raise GridDesignError(
                    f"'n_grids'={n_grids} is fewer than the {len(totals)} communities; every "
                    f"community needs at least one grid: pass n_grids >= {len(totals)}"
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
) -> list[_Zone]:
    """Split each parent's grid count among its connected pieces by workload."""
    zones: list[_Zone] = []
    for p, count in per_parent.items():
        members = np.flatnonzero(parent == p)
        pieces = np.unique(component[members])
        piece_blocks = [members[component[members] == c] for c in pieces]
        piece_load = np.array([workload[b].sum() for b in piece_blocks])
        share = (
            piece_load / piece_load.sum()
            if piece_load.sum() > 0
            else np.full(len(pieces), 1 / len(pieces))
        )
        alloc = np.maximum(1, np.floor(share * count)).astype(int)
        # Remaining grids go to the pieces whose grids carry the most workload each.
        while alloc.sum() < count:
            alloc[int(np.argmax(piece_load / alloc))] += 1
        for blocks_of_piece, k in zip(piece_blocks, alloc, strict=True):
            zones.append(
                _Zone(parent=p, blocks=blocks_of_piece, n_grids=int(min(k, len(blocks_of_piece))))
            )
    return zones


def _seed_blocks(
    zone: _Zone, xy: NDArray[np.float64], area: NDArray[np.float64], rng: np.random.Generator
) -> NDArray[np.int64]:
    """Spread-out seed blocks: farthest-point start, then area-weighted k-means moves."""
    members = zone.blocks
    pts = xy[members]
    chosen = [int(rng.integers(len(members)))]
    distance = np.hypot(*(pts - pts[chosen[0]]).T)
    for _ in range(1, zone.n_grids):
        chosen.append(int(np.argmax(distance)))
        distance = np.minimum(distance, np.hypot(*(pts - pts[chosen[-1]]).T))
    centres = pts[chosen]
    weights = area[members]
    for _ in range(10):
        nearest = np.argmin(((pts[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
        for k in range(zone.n_grids):
            mask = nearest == k
            if mask.any():
                centres[k] = np.average(pts[mask], axis=0, weights=weights[mask] + 1e-9)
    seeds: list[int] = []
    for centre in centres:
        order = np.argsort(np.hypot(*(pts - centre).T))
        seeds.append(int(next(i for i in order if i not in seeds)))
    return np.asarray(seeds, dtype=np.int64)


def _grow(
    zone: _Zone,
    xy: NDArray[np.float64],
    workload: NDArray[np.float64],
    area: NDArray[np.float64],
    neighbours: list[set[int]],
    rng: np.random.Generator,
) -> NDArray[np.int64]:
    """Grow the grids of a zone from seeds, always extending the lightest grid.

    Returns local labels (0..k-1) aligned with ``zone.blocks``.
    """
    members = zone.blocks
    position = {int(b): i for i, b in enumerate(members)}
    local = np.full(len(members), -1, dtype=np.int64)
    if zone.n_grids == 1:
        return np.zeros(len(members), dtype=np.int64)
    seeds = _seed_blocks(zone, xy, area, rng)
    load = np.zeros(zone.n_grids)
    for k, s in enumerate(seeds):
        local[s] = k
        load[k] = workload[members[s]] + 1e-9 * area[members[s]]
    seed_xy = xy[members[seeds]]
    remaining = len(members) - zone.n_grids
    blocked: set[int] = set()
    while remaining:
        open_grids = [k for k in np.argsort(load, kind="stable") if int(k) not in blocked]
        if not open_grids:
            break
        k = int(open_grids[0])
        frontier = {
            position[nb]
            for i in np.flatnonzero(local == k)
            for nb in neighbours[int(members[i])]
            if local[position[nb]] < 0
        }
        if not frontier:
            blocked.add(k)
            continue
        candidates = np.fromiter(frontier, dtype=np.int64)
        pick = int(candidates[np.argmin(np.hypot(*(xy[members[candidates]] - seed_xy[k]).T))])
        local[pick] = k
        # A tiny area term keeps zero-workload blocks from all going to one grid.
        load[k] += workload[members[pick]] + 1e-9 * area[members[pick]]
        remaining -= 1
    return local


def _connected(members: set[int], neighbours: list[set[int]]) -> bool:
    if not members:
        return True
    start = next(iter(members))
    seen = {start}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nb in neighbours[node]:
            if nb in members and nb not in seen:
                seen.add(nb)
                queue.append(nb)
    return len(seen) == len(members)


def _improve(
    zone: _Zone,
    local: NDArray[np.int64],
    xy: NDArray[np.float64],
    workload: NDArray[np.float64],
    area: NDArray[np.float64],
    neighbours: list[set[int]],
    rng: np.random.Generator,
    *,
    compactness_weight: float,
    max_passes: int,
) -> tuple[NDArray[np.int64], int, float]:
    """Move boundary blocks between neighbouring grids while the objective improves.

    Returns the labels, the number of moves and the final objective.
    """
    k = zone.n_grids
    if k == 1:
        return local, 0, 0.0
    members = zone.blocks
    position = {int(b): i for i, b in enumerate(members)}
    w = workload[members]
    a = area[members]
    x, y = xy[members, 0] - xy[members, 0].mean(), xy[members, 1] - xy[members, 1].mean()
    target = w.sum() / k if w.sum() > 0 else 1.0
    # Sufficient statistics per grid: workload, area, first and second area moments.
    load = np.bincount(local, weights=w, minlength=k)
    s_a = np.bincount(local, weights=a, minlength=k)
    s_x = np.bincount(local, weights=a * x, minlength=k)
    s_y = np.bincount(local, weights=a * y, minlength=k)
    s_r = np.bincount(local, weights=a * (x * x + y * y), minlength=k)
    grid_members = [set(np.flatnonzero(local == g).tolist()) for g in range(k)]
    local_neighbours = [{position[nb] for nb in neighbours[int(b)]} for b in members]

    def cost(g_load: float, g_a: float, g_x: float, g_y: float, g_r: float) -> float:
        balance = ((g_load - target) / target) ** 2
        if g_a <= 0:
            return balance
        inertia = g_r - (g_x * g_x + g_y * g_y) / g_a
        return balance + compactness_weight * (2 * math.pi * inertia / (g_a * g_a) - 1)

    moves = 0
    for _ in range(max_passes):
        improved = False
        for i in rng.permutation(len(members)):
            src = int(local[i])
            targets = {int(local[j]) for j in local_neighbours[i]} - {src}
            if not targets or len(grid_members[src]) == 1:
                continue
            before_src = cost(load[src], s_a[src], s_x[src], s_y[src], s_r[src])
            after_src = cost(
                load[src] - w[i],
                s_a[src] - a[i],
                s_x[src] - a[i] * x[i],
                s_y[src] - a[i] * y[i],
                s_r[src] - a[i] * (x[i] ** 2 + y[i] ** 2),
            )
            best_gain, best_dst = 1e-12, -1
            for dst in sorted(targets):
                before_dst = cost(load[dst], s_a[dst], s_x[dst], s_y[dst], s_r[dst])
                after_dst = cost(
                    load[dst] + w[i],
                    s_a[dst] + a[i],
                    s_x[dst] + a[i] * x[i],
                    s_y[dst] + a[i] * y[i],
                    s_r[dst] + a[i] * (x[i] ** 2 + y[i] ** 2),
                )
                gain = before_src + before_dst - after_src - after_dst
                if gain > best_gain:
                    best_gain, best_dst = gain, dst
            if best_dst < 0 or not _connected(grid_members[src] - {int(i)}, local_neighbours):
                continue
            local[i] = best_dst
            grid_members[src].discard(int(i))
            grid_members[best_dst].add(int(i))
            for arr, value in (
                (load, w[i]),
                (s_a, a[i]),
                (s_x, a[i] * x[i]),
                (s_y, a[i] * y[i]),
                (s_r, a[i] * (x[i] ** 2 + y[i] ** 2)),
            ):
                arr[src] -= value
                arr[best_dst] += value
            moves += 1
            improved = True
        if not improved:
            break
    objective = sum(cost(load[g], s_a[g], s_x[g], s_y[g], s_r[g]) for g in range(k))
    return local, moves, float(objective)
