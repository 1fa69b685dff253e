"""Grid hotspots: cells, counts, kernel density (KDE), Getis-Ord Gi* and the top cells."""

from __future__ import annotations

import logging
import math
import warnings
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from layers.i18n import _, format_number
from routing.hotspots.inputs import (
    DEFAULT_CELL_SIZE_M,
    HotspotError,
    check_share,
    point_xy,
    require_points,
    to_metric,
)

logger = logging.getLogger(__name__)


def grid_cells(
    study_area: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    cell_size_m: float = DEFAULT_CELL_SIZE_M,
) -> gpd.GeoDataFrame:
    """Square cells covering a study area, in a metric CRS.

    A cell belongs to the grid when its centre lies inside the study area, so the grid's
    area is a whole number of cells and area shares are exact.

    Parameters
    ----------
    study_area
        Polygons in any CRS (geographic CRSs are projected to their local UTM zone).
    cell_size_m
        Side of a cell in metres.

    Returns
    -------
    geopandas.GeoDataFrame
        One square per cell, indexed ``cell`` from 0, with ``row`` and ``col`` (cell
        numbers from the CRS origin, so grids of the same size line up).

    Raises
    ------
    HotspotError
        If ``cell_size_m`` is not positive, the area is empty, or no cell centre lies in it.
    """
    if not cell_size_m > 0:
        raise HotspotError(
            _("'cell_size_m' should be > 0 metres, got %(value)r", value=cell_size_m)
        )
    if not isinstance(study_area, gpd.GeoDataFrame | gpd.GeoSeries) or study_area.crs is None:
        raise HotspotError(
            "'study_area' should be a GeoDataFrame of polygons with a CRS, "
            f"got {type(study_area).__name__}"
        )
    area = to_metric(gpd.GeoDataFrame(geometry=study_area.geometry))
    shape = shapely.union_all(area.geometry.to_numpy())
    if shape.is_empty or shape.area == 0:
        raise HotspotError(_("'study_area' has no area; pass the polygons of the area to map"))
    minx, miny, maxx, maxy = shape.bounds
    cols = np.arange(math.floor(minx / cell_size_m), math.ceil(maxx / cell_size_m))
    rows = np.arange(math.floor(miny / cell_size_m), math.ceil(maxy / cell_size_m))
    col, row = (a.ravel() for a in np.meshgrid(cols, rows))
    centres = shapely.points((col + 0.5) * cell_size_m, (row + 0.5) * cell_size_m)
    shapely.prepare(shape)
    inside = shapely.contains(shape, centres)
    if not inside.any():
        raise HotspotError(
            _(
                "no %(size)s m cell has its centre inside 'study_area'; use a smaller "
                "'cell_size_m'",
                size=format_number(cell_size_m),
            )
        )
    col, row = col[inside], row[inside]
    x0, y0 = col * cell_size_m, row * cell_size_m
    cells = gpd.GeoDataFrame(
        {"row": row.astype(np.int64), "col": col.astype(np.int64)},
        geometry=shapely.box(x0, y0, x0 + cell_size_m, y0 + cell_size_m),
        crs=area.crs,
    )
    cells.index.name = "cell"
    logger.debug("grid of %s cells of %s m", f"{len(cells):,}", f"{cell_size_m:,.0f}")
    return cells


def cell_size_m(cells: gpd.GeoDataFrame) -> float:
    """Side of the grid cells (metres), from the first cell's bounds."""
    _require_cells(cells)
    bounds = cells.geometry.iloc[0].bounds
    return float(bounds[2] - bounds[0])


def _require_cells(cells: gpd.GeoDataFrame) -> None:
    if not isinstance(cells, gpd.GeoDataFrame) or not {"row", "col"} <= set(cells.columns):
        raise HotspotError("'cells' should be the GeoDataFrame returned by grid_cells()")
    if len(cells) == 0:
        raise HotspotError("'cells' is empty; build it with grid_cells() over the study area")


def cell_position(cells: gpd.GeoDataFrame, points: gpd.GeoDataFrame) -> NDArray[np.int64]:
    """Position in ``cells`` of the cell holding each point, -1 outside the grid."""
    size = cell_size_m(cells)
    xy = point_xy(points.to_crs(cells.crs))
    col = np.floor(xy[:, 0] / size).astype(np.int64)
    row = np.floor(xy[:, 1] / size).astype(np.int64)
    lookup = pd.Series(
        np.arange(len(cells)),
        index=pd.MultiIndex.from_arrays([cells["row"].to_numpy(), cells["col"].to_numpy()]),
    )
    position = lookup.reindex(pd.MultiIndex.from_arrays([row, col]))
    return np.asarray(position.fillna(-1).to_numpy(), dtype=np.int64)


def incident_counts(
    points: gpd.GeoDataFrame,
    cells: gpd.GeoDataFrame,
    *,
    weights: pd.Series | None = None,
) -> pd.Series:
    """Incidents (or the sum of their weights) in each cell.

    Parameters
    ----------
    points
        Incident points in any CRS; points outside the grid are not counted (logged).
    cells
        Grid from :func:`grid_cells`.
    weights
        Weight of each point (e.g. ``severity``), indexed like ``points``; 1 when None.

    Returns
    -------
    pandas.Series
        ``incidents`` indexed like ``cells``.
    """
    _require_cells(cells)
    position = cell_position(cells, points) if len(points) else np.zeros(0, dtype=np.int64)
    inside = position >= 0
    if (~inside).any():
        logger.info(
            "%s of %s incidents lie outside the grid", f"{(~inside).sum():,}", f"{len(points):,}"
        )
    w = _weights(points, weights)
    counts = np.bincount(position[inside], weights=w[inside], minlength=len(cells))
    return pd.Series(counts, index=cells.index, name="incidents")


def _weights(points: gpd.GeoDataFrame, weights: pd.Series | None) -> NDArray[np.float64]:
    if weights is None:
        return np.ones(len(points))
    if not weights.index.equals(points.index):
        raise HotspotError("'weights' should be indexed like 'points' (e.g. points['severity'])")
    values = pd.to_numeric(weights, errors="coerce").to_numpy(dtype=float)
    if np.isnan(values).any() or (values < 0).any():
        raise HotspotError(_("'weights' should be non-negative numbers; fill or fix the bad ones"))
    return values


def bandwidth_rule_m(points: gpd.GeoDataFrame | gpd.GeoSeries) -> float:
    """Rule-of-thumb kernel radius for incident points, in metres.

    The spatial variant of Silverman's rule used by common GIS kernel density tools:
    ``0.9 * min(SD, sqrt(1 / ln 2) * Dm) * n ** -0.2``, with ``SD`` the standard distance
    of the points from their mean centre and ``Dm`` the median of those distances (which
    keeps a few far points from widening the kernel).

    Returns
    -------
    float
        The radius; 0.0 when every point is at one place (the caller floors it).
    """
    xy = point_xy(to_metric(gpd.GeoDataFrame(geometry=points.geometry)))
    n = len(xy)
    if n < 2:
        return 0.0
    distance = np.hypot(*(xy - xy.mean(axis=0)).T)
    standard_distance = float(np.sqrt((distance**2).sum() / n))
    median_distance = float(np.median(distance))
    return 0.9 * min(standard_distance, math.sqrt(1 / math.log(2)) * median_distance) * n**-0.2


def kde_density(
    points: gpd.GeoDataFrame,
    cells: gpd.GeoDataFrame,
    *,
    bandwidth_m: float | None = None,
    weights: pd.Series | None = None,
) -> pd.Series:
    """Quartic kernel density of incidents at every cell centre, per square kilometre.

    ``K(d) = 3 / (pi h^2) * (1 - d^2 / h^2)^2`` for ``d < h``: each incident spreads its
    weight over a disc of radius ``h`` and integrates to its weight, so the surface sums
    (times the cell area) to about the number of incidents.

    Parameters
    ----------
    points
        Incident points in any CRS.
    cells
        Grid from :func:`grid_cells`.
    bandwidth_m
        Kernel radius ``h`` in metres; default :func:`bandwidth_rule_m`. Never below one
        cell side, so that points all at one place (a zero-spread, degenerate sample) still
        give a finite bump instead of a spike between cell centres.
    weights
        Weight of each point (e.g. ``severity``), indexed like ``points``; 1 when None.

    Returns
    -------
    pandas.Series
        ``kde`` (weighted incidents per km²) indexed like ``cells``; ``attrs["bandwidth_m"]``
        holds the radius used.

    Raises
    ------
    HotspotError
        If there are no points or ``bandwidth_m`` is not positive.
    """
    require_points(points, "points")
    size = cell_size_m(cells)
    if bandwidth_m is not None and not bandwidth_m > 0:
        raise HotspotError(
            _("'bandwidth_m' should be > 0 metres or None, got %(value)r", value=bandwidth_m)
        )
    radius_m = max(bandwidth_m if bandwidth_m is not None else bandwidth_rule_m(points), size)
    xy = point_xy(points.to_crs(cells.crs))
    w = _weights(points, weights)
    density = (
        _quartic_sums(xy, w, cells["col"].to_numpy(), cells["row"].to_numpy(), size, radius_m) * 1e6
    )
    result = pd.Series(density, index=cells.index, name="kde")
    result.attrs["bandwidth_m"] = radius_m
    return result


def _quartic_sums(
    xy: NDArray[np.float64],
    w: NDArray[np.float64],
    col: NDArray[np.integer[Any]],
    row: NDArray[np.integer[Any]],
    size: float,
    radius_m: float,
) -> NDArray[np.float64]:
    """Sum over the points of the quartic kernel at every cell centre (per square metre).

    The cells a point reaches lie at fixed column and row offsets from its own cell, so
    the sum runs offset by offset over all points at once: points of one cell are summed
    together, then added to the cell at that offset. No pair list (tens of millions of
    point-cell pairs on a city) is built.
    """
    n_cells = len(col)
    if not n_cells or not len(xy):
        return np.zeros(n_cells)
    c0, r0 = int(col.min()), int(row.min())
    width, height = int(col.max()) - c0 + 1, int(row.max()) - r0 + 1
    point_col = np.floor(xy[:, 0] / size).astype(np.int64)
    point_row = np.floor(xy[:, 1] / size).astype(np.int64)
    order = np.lexsort((point_col, point_row))
    x, y, weight = xy[order, 0], xy[order, 1], w[order]
    point_col, point_row = point_col[order], point_row[order]
    # the points' cells, each once, and where its points start in the sorted order
    first = np.flatnonzero(
        np.r_[True, (point_col[1:] != point_col[:-1]) | (point_row[1:] != point_row[:-1])]
    )
    own_col, own_row = point_col[first], point_row[first]
    surface = np.zeros((height, width))
    scale = 3.0 / (math.pi * radius_m**2)
    reach = math.ceil(radius_m / size) + 1
    for dr in range(-reach, reach + 1):
        for dc in range(-reach, reach + 1):
            # the nearest a point of a cell can be to the centre at this offset
            gap_x = max(abs(dc) - 1, 0) * size
            gap_y = max(abs(dr) - 1, 0) * size
            if gap_x * gap_x + gap_y * gap_y > radius_m * radius_m:
                continue
            target_col = own_col + dc - c0
            target_row = own_row + dr - r0
            d2 = ((point_col + dc + 0.5) * size - x) ** 2 + ((point_row + dr + 0.5) * size - y) ** 2
            kernel = scale * np.clip(1.0 - d2 / radius_m**2, 0.0, None) ** 2 * weight
            sums = np.add.reduceat(kernel, first)
            inside = (target_col >= 0) & (target_col < width) & (target_row >= 0)
            inside &= (target_row < height) & (sums > 0)
            # each (cell, offset) target once: a plain fancy add is exact
            surface[target_row[inside], target_col[inside]] += sums[inside]
    return surface[row - r0, col - c0]


def gi_star(
    values: pd.Series,
    cells: gpd.GeoDataFrame,
    *,
    distance_band_m: float | None = None,
) -> pd.DataFrame:
    """Getis-Ord Gi* of a value per cell (usually incident counts), with esda.

    Weights are binary over a distance band between cell centres, the cell itself
    included (the "star"): the classic Gi* of Getis & Ord. esda's default row
    standardisation is not used, since it gives every cell the same total weight and
    changes the z-scores. Inference is analytical (normal approximation): no permutations,
    so results are deterministic.

    Parameters
    ----------
    values
        Value of each cell, indexed like ``cells`` (e.g. :func:`incident_counts`).
    cells
        Grid from :func:`grid_cells`.
    distance_band_m
        Neighbours are cells whose centres are at most this far apart. Default 1.5 cell
        sides: the 8 queen neighbours on a regular grid.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``cells``: ``gi_star_z`` (z-score; positive = hot) and ``gi_star_p``
        (one-sided p-value of that z). A cell whose band reaches every cell has no contrast
        and gets z = 0.

    Raises
    ------
    HotspotError
        If ``values`` is not aligned with ``cells`` or has no variation.
    """
    try:
        from esda import G_Local
        from libpysal.weights import DistanceBand
    except ImportError:  # pragma: no cover - declared dependency
        raise HotspotError(_("Gi* needs esda and libpysal: pip install esda libpysal")) from None
    size = cell_size_m(cells)
    if not values.index.equals(cells.index):
        raise HotspotError("'values' should be indexed like 'cells' (one value per cell)")
    band_m = 1.5 * size if distance_band_m is None else distance_band_m
    if not band_m > 0:
        raise HotspotError(
            _("'distance_band_m' should be > 0 metres, got %(value)r", value=distance_band_m)
        )
    y = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    if np.isnan(y).any():
        raise HotspotError(_("'values' holds missing or non-numeric values; fill them with 0"))
    if len(y) < 3 or np.ptp(y) == 0:
        raise HotspotError(
            _(
                "'values' is the same (%(value)s) in all %(n)s cells: Gi* has no contrast to "
                "find; check the time band or use more incidents",
                value=y[0] if len(y) else _("nothing"),
                n=format_number(len(y)),
            )
        )
    centres = np.column_stack(
        [(cells["col"].to_numpy() + 0.5) * size, (cells["row"].to_numpy() + 0.5) * size]
    )
    weights = DistanceBand(centres, threshold=band_m, binary=True, silence_warnings=True)
    # A cell whose band holds every cell has zero expected variance: esda divides by it.
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        # Islands of cells (a study area in parts) are expected; their Gi* is their own.
        warnings.filterwarnings("ignore", message="The weights matrix is not fully connected")
        local = G_Local(y, weights, transform="B", permutations=0, star=True)
    z = np.nan_to_num(np.asarray(local.Zs, dtype=float), nan=0.0, posinf=0.0, neginf=0.0)
    p = np.asarray(local.p_norm, dtype=float)
    return pd.DataFrame(
        {"gi_star_z": z, "gi_star_p": np.where(np.isnan(p), 0.5, p)}, index=cells.index
    )


def top_cells(scores: pd.Series, cells: gpd.GeoDataFrame, *, area_share: float) -> pd.Index:
    """The highest-scoring cells covering ``area_share`` of the grid.

    ``round(area_share * n)`` cells (at least one), best first; ties keep grid order, so
    the choice is deterministic.

    Returns
    -------
    pandas.Index
        Labels of the chosen cells, best first.
    """
    check_share(area_share, "area_share")
    if not scores.index.equals(cells.index):
        raise HotspotError("'scores' should be indexed like 'cells' (one score per cell)")
    k = max(1, round(area_share * len(cells)))
    order = np.argsort(-scores.to_numpy(dtype=float), kind="stable")[:k]
    return cells.index[order]
