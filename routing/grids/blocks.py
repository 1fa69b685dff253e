"""Street blocks and their adjacency: the units a grid layout is built from.

:func:`blocks_from_lines` forms the faces of the noded street lines, cut by boundaries
(communities) so that every block lies in exactly one of them; :func:`block_adjacency`
says which blocks share an edge (rook adjacency, corners do not count).
"""

from __future__ import annotations

import logging
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from layers.i18n import _, format_number
from routing.errors import GridError
from routing.grids._checks import check_frame
from routing.grids.measure import metric_crs

logger = logging.getLogger(__name__)

__all__ = ["block_adjacency", "blocks_from_lines"]

#: Precision (metres) of the noded streets and boundaries that make the blocks.
_GRID_SIZE_M = 0.01


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
    GridError
        If the inputs are not line / polygon layers with a CRS, or no block is formed.
    """
    check_frame(lines, "lines", ("LineString", "MultiLineString"))
    work_crs = crs if crs is not None else metric_crs(lines)
    parts = list(shapely.get_parts(lines.to_crs(work_crs).geometry.dropna().to_numpy()))
    parents: gpd.GeoDataFrame | None = None
    if boundaries is not None:
        check_frame(boundaries, "boundaries", ("Polygon", "MultiPolygon"))
        if boundary_id_column not in boundaries.columns:
            raise GridError(
                _(
                    "the boundaries have no column %(column)r to name them by; choose one of "
                    "%(columns)s",
                    column=boundary_id_column,
                    columns=", ".join(map(str, boundaries.columns)),
                )
            )
        parents = boundaries[[boundary_id_column, "geometry"]].to_crs(work_crs)
        parts += list(shapely.get_parts(shapely.boundary(parents.geometry.to_numpy())))
    # Snap-rounded union (to the centimetre) nodes robustly: community outlines traced
    # from the streets run within float noise of them, where plain noding fails.
    noded = shapely.union_all(np.asarray(parts, dtype=object), grid_size=_GRID_SIZE_M)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    if len(faces) == 0:
        raise GridError(
            _(
                "the %(n)s street lines enclose no block; give a street layer that forms "
                "closed blocks (or community boundaries to close them)",
                n=format_number(len(lines)),
            )
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
            raise GridError(
                _(
                    "no street block lies inside the boundaries; check that both layers cover "
                    "the same area"
                )
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
