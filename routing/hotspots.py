"""Incident hotspots: kernel density and Getis-Ord Gi* on a metric grid, hot streets, PAI.

Three ways to say where incidents concentrate, each scored the same way:

- :func:`kde_density` — a planar quartic (biweight) kernel density on square cells, the
  kernel of most crime-mapping tools. The default bandwidth is the spatial rule of thumb of
  :func:`bandwidth_rule_m`.
- :func:`gi_star` — Getis-Ord Gi* z-scores of incident counts per cell (esda), with binary
  distance-band weights; the default band of 1.5 cells is queen contiguity on the grid.
- :func:`street_scores` / :func:`hot_streets` — street segments ranked by snapped,
  severity-weighted incidents per kilometre (``routing.risk.weighted_incidents``);
  :func:`length_concentration` gives the share of incidents on the top 5% / 10% of street
  length (the 80-20 view).

:func:`pai` scores a hotspot map with the Predictive Accuracy Index (Chainey, Tompson &
Uhlig 2008): hit rate (share of later incidents inside the hotspots) divided by area share
(share of the study area the hotspots cover). On streets the area share is the share of
street length. :func:`evaluate_hotspots` builds a map on a training period and scores it on
a later test period.

Every distance, area and bandwidth is in metres in a projected CRS; geographic inputs are
projected to their local UTM zone first.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from routing.errors import RoutingError
from routing.network import StreetNetwork
from routing.risk import shift_mask, weighted_incidents
from routing.snap import MAX_SNAP_DISTANCE_M, snap_points

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_CELL_SIZE_M",
    "METHODS",
    "HotspotError",
    "HotspotEvaluation",
    "PAIResult",
    "bandwidth_rule_m",
    "evaluate_hotspots",
    "gi_star",
    "grid_cells",
    "hot_streets",
    "incident_counts",
    "kde_density",
    "length_concentration",
    "pai",
    "select_incidents",
    "street_pai",
    "street_scores",
    "top_cells",
]

Method = Literal["kde", "gistar", "counts", "streets"]

#: Hotspot methods of :func:`evaluate_hotspots`. ``counts`` (last period's counts per cell)
#: is the naive baseline the others should beat.
METHODS: tuple[str, ...] = ("kde", "gistar", "counts", "streets")

#: Default side of a grid cell: about one short city block.
DEFAULT_CELL_SIZE_M = 150.0

_TIME_COLUMN = "occurred_at"


class HotspotError(RoutingError):
    """Hotspots cannot be computed as asked (no incidents, bad grid, bad parameter)."""


# -- selecting incidents ------------------------------------------------------------------


def select_incidents(
    incidents: gpd.GeoDataFrame,
    *,
    window: tuple[str, str] | None = None,
    weekdays: Iterable[int | str] | None = None,
    period: tuple[Any, Any] | None = None,
    groups: Iterable[str] | None = None,
    preventable_only: bool = False,
) -> gpd.GeoDataFrame:
    """Incidents of a time band: shift window, weekdays, period and category groups.

    Parameters
    ----------
    incidents
        Points with a tz-aware ``occurred_at`` in the local time zone (as a workspace
        returns them); ``group`` and ``preventable`` when those filters are used. Not
        modified.
    window
        Shift clock times ``("22:00", "06:00")``; a window whose end is not after its
        start crosses midnight. ``None`` keeps every hour.
    weekdays
        Days the shift *starts* on (0 = Monday ... 6 = Sunday, or names): 02:00 on a
        Saturday belongs to Friday's night shift. ``None`` keeps every day.
    period
        ``(start, end)``, half-open; naive bounds are read in the incidents' time zone.
    groups
        Category groups to keep (``"burglary"``, ``"robbery"``...); ``None`` keeps all.
    preventable_only
        Keep only preventable incidents (可防性案件).

    Returns
    -------
    geopandas.GeoDataFrame
        The matching incidents (a copy; possibly empty — callers decide whether that is
        an error).

    Raises
    ------
    HotspotError
        If a column needed by a filter is missing, or ``period`` is not ordered.
    """
    _require_columns(incidents, [_TIME_COLUMN], "incidents")
    times = incidents[_TIME_COLUMN]
    keep = np.array(times.notna(), dtype=bool)
    if window is not None or weekdays is not None:
        keep &= shift_mask(times, window=window, weekdays=weekdays)
    if period is not None:
        start, end = (_local_stamp(v, times) for v in period)
        if not start < end:
            raise HotspotError(
                f"'period' should be (start, end) with start before end, got {period!r}"
            )
        keep &= np.asarray((times >= start) & (times < end), dtype=bool)
    if groups is not None:
        _require_columns(incidents, ["group"], "incidents")
        wanted = {str(g) for g in groups}
        keep &= np.asarray(incidents["group"].astype(str).isin(wanted), dtype=bool)
    if preventable_only:
        _require_columns(incidents, ["preventable"], "incidents")
        keep &= np.asarray(incidents["preventable"].fillna(False).astype(bool), dtype=bool)
    return incidents.loc[keep].copy()


def _local_stamp(value: Any, times: pd.Series) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    zone = getattr(times.dt, "tz", None)
    if zone is None:
        return stamp.tz_localize(None) if stamp.tzinfo is not None else stamp
    return stamp.tz_localize(zone) if stamp.tzinfo is None else stamp.tz_convert(zone)


def _require_columns(frame: pd.DataFrame, columns: Iterable[str], argument: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise HotspotError(
            f"'{argument}' lacks the column(s) {', '.join(missing)} (it has "
            f"{', '.join(map(str, frame.columns))}); map them on import"
        )


def _require_points(points: gpd.GeoDataFrame | gpd.GeoSeries, argument: str) -> None:
    if not isinstance(points, gpd.GeoDataFrame | gpd.GeoSeries):
        raise HotspotError(
            f"'{argument}' should be a GeoDataFrame of points, got {type(points).__name__}"
        )
    if len(points) == 0:
        raise HotspotError(
            f"'{argument}' holds no incidents: nothing to map. Widen the shift window, "
            "the weekdays or the period, or include more category groups"
        )
    if points.crs is None:
        raise HotspotError(f"'{argument}' has no CRS; set it with .set_crs('EPSG:4326')")


def _metric(gdf: gpd.GeoDataFrame, crs: Any = None) -> gpd.GeoDataFrame:
    """``gdf`` in ``crs``, or in its local UTM zone when geographic and no ``crs`` given."""
    if crs is not None:
        return gdf.to_crs(crs)
    if gdf.crs is not None and gdf.crs.is_geographic:
        return gdf.to_crs(gdf.estimate_utm_crs())
    return gdf


def _xy(points: gpd.GeoDataFrame | gpd.GeoSeries) -> NDArray[np.float64]:
    geoms = points.geometry.to_numpy()
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not present.all():
        raise HotspotError(
            f"{int((~present).sum()):,} incident(s) have no location; drop or geocode them "
            "before mapping hotspots"
        )
    return np.asarray(shapely.get_coordinates(geoms), dtype=float)


# -- the grid ------------------------------------------------------------------------------


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
        raise HotspotError(f"'cell_size_m' should be > 0 metres, got {cell_size_m!r}")
    if not isinstance(study_area, gpd.GeoDataFrame | gpd.GeoSeries) or study_area.crs is None:
        raise HotspotError(
            "'study_area' should be a GeoDataFrame of polygons with a CRS, "
            f"got {type(study_area).__name__}"
        )
    area = _metric(gpd.GeoDataFrame(geometry=study_area.geometry))
    shape = shapely.union_all(area.geometry.to_numpy())
    if shape.is_empty or shape.area == 0:
        raise HotspotError("'study_area' has no area; pass the polygons of the area to map")
    minx, miny, maxx, maxy = shape.bounds
    cols = np.arange(math.floor(minx / cell_size_m), math.ceil(maxx / cell_size_m))
    rows = np.arange(math.floor(miny / cell_size_m), math.ceil(maxy / cell_size_m))
    col, row = (a.ravel() for a in np.meshgrid(cols, rows))
    centres = shapely.points((col + 0.5) * cell_size_m, (row + 0.5) * cell_size_m)
    shapely.prepare(shape)
    inside = shapely.contains(shape, centres)
    if not inside.any():
        raise HotspotError(
            f"no {cell_size_m:,.0f} m cell has its centre inside 'study_area'; "
            "use a smaller 'cell_size_m'"
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


def _cell_size_m(cells: gpd.GeoDataFrame) -> float:
    _require_cells(cells)
    bounds = cells.geometry.iloc[0].bounds
    return float(bounds[2] - bounds[0])


def _require_cells(cells: gpd.GeoDataFrame) -> None:
    if not isinstance(cells, gpd.GeoDataFrame) or not {"row", "col"} <= set(cells.columns):
        raise HotspotError("'cells' should be the GeoDataFrame returned by grid_cells()")
    if len(cells) == 0:
        raise HotspotError("'cells' is empty; build it with grid_cells() over the study area")


def _cell_position(cells: gpd.GeoDataFrame, points: gpd.GeoDataFrame) -> NDArray[np.int64]:
    """Position in ``cells`` of the cell holding each point, -1 outside the grid."""
    size = _cell_size_m(cells)
    xy = _xy(points.to_crs(cells.crs))
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
    position = _cell_position(cells, points) if len(points) else np.zeros(0, dtype=np.int64)
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
        raise HotspotError("'weights' should be non-negative numbers; fill or fix the bad ones")
    return values


# -- kernel density -----------------------------------------------------------------------


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
    xy = _xy(_metric(gpd.GeoDataFrame(geometry=points.geometry)))
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
    _require_points(points, "points")
    size = _cell_size_m(cells)
    if bandwidth_m is not None and not bandwidth_m > 0:
        raise HotspotError(f"'bandwidth_m' should be > 0 metres or None, got {bandwidth_m!r}")
    radius_m = max(bandwidth_m if bandwidth_m is not None else bandwidth_rule_m(points), size)
    xy = _xy(points.to_crs(cells.crs))
    w = _weights(points, weights)
    centres = np.column_stack(
        [(cells["col"].to_numpy() + 0.5) * size, (cells["row"].to_numpy() + 0.5) * size]
    )
    # Pairs within the radius only: the kernel is zero beyond it.
    near = cKDTree(centres).query_ball_point(xy, r=radius_m, return_sorted=False)
    counts = np.fromiter((len(c) for c in near), dtype=np.int64, count=len(near))
    cell = np.fromiter((c for cs in near for c in cs), dtype=np.int64, count=int(counts.sum()))
    point = np.repeat(np.arange(len(xy)), counts)
    d2 = ((centres[cell] - xy[point]) ** 2).sum(axis=1)
    kernel = 3.0 / (math.pi * radius_m**2) * np.clip(1.0 - d2 / radius_m**2, 0.0, None) ** 2
    density = np.bincount(cell, weights=kernel * w[point], minlength=len(cells)) * 1e6
    result = pd.Series(density, index=cells.index, name="kde")
    result.attrs["bandwidth_m"] = radius_m
    return result


# -- Getis-Ord Gi* ------------------------------------------------------------------------


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
        raise HotspotError("Gi* needs esda and libpysal: pip install esda libpysal") from None
    size = _cell_size_m(cells)
    if not values.index.equals(cells.index):
        raise HotspotError("'values' should be indexed like 'cells' (one value per cell)")
    band_m = 1.5 * size if distance_band_m is None else distance_band_m
    if not band_m > 0:
        raise HotspotError(f"'distance_band_m' should be > 0 metres, got {distance_band_m!r}")
    y = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    if np.isnan(y).any():
        raise HotspotError("'values' holds missing or non-numeric values; fill them with 0")
    if len(y) < 3 or np.ptp(y) == 0:
        raise HotspotError(
            f"'values' is the same ({y[0] if len(y) else 'nothing'}) in all {len(y):,} cells: "
            "Gi* has no contrast to find; check the time band or use more incidents"
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
    _check_share(area_share, "area_share")
    if not scores.index.equals(cells.index):
        raise HotspotError("'scores' should be indexed like 'cells' (one score per cell)")
    k = max(1, round(area_share * len(cells)))
    order = np.argsort(-scores.to_numpy(dtype=float), kind="stable")[:k]
    return cells.index[order]


def _check_share(share: float, argument: str) -> None:
    if not 0 < share <= 1:
        raise HotspotError(f"'{argument}' should be a share in (0, 1], e.g. 0.05; got {share!r}")


# -- hot streets --------------------------------------------------------------------------


def street_scores(
    network: StreetNetwork,
    incidents: gpd.GeoDataFrame,
    *,
    preventable_only: bool = False,
    max_snap_distance_m: float = MAX_SNAP_DISTANCE_M,
) -> gpd.GeoDataFrame:
    """Incidents per street segment: counts, severity-weighted risk and risk per km.

    Incidents are snapped to the nearest segment (``routing.snap``); those farther than
    ``max_snap_distance_m`` are left out and counted in ``attrs["unsnapped"]``. The weight
    is ``routing.risk.weighted_incidents``'s (severity, 1 when missing), over every hour: select
    the time band first with :func:`select_incidents`.

    Parameters
    ----------
    network
        The street network.
    incidents
        Incident points with ``occurred_at`` (and ``severity``, ``preventable``).
    preventable_only
        Count only preventable incidents.
    max_snap_distance_m
        Snapping limit in metres.

    Returns
    -------
    geopandas.GeoDataFrame
        The network's segments (index ``segment``, network CRS) with ``incidents``,
        ``risk`` and ``risk_per_km``.
    """
    _require_points(incidents, "incidents")
    if preventable_only:
        _require_columns(incidents, ["preventable"], "incidents")
        incidents = incidents.loc[incidents["preventable"].fillna(False).astype(bool)]
        _require_points(incidents, "incidents (preventable)")
    zone = str(getattr(incidents[_TIME_COLUMN].dt, "tz", None) or "UTC")
    # One snapping pass gives both the count and the severity-weighted risk per segment.
    weighted = weighted_incidents(
        network,
        incidents,
        timezone=zone,
        half_life_days=None,
        reference_time=None,
        preventable_only=False,
        max_snap_distance_m=max_snap_distance_m,
    )
    segments = network.segments_gdf()
    n = network.n_segments
    segments["incidents"] = np.bincount(weighted.segment, minlength=n)
    segments["risk"] = np.bincount(weighted.segment, weights=weighted.weight, minlength=n)
    segments["risk_per_km"] = segments["risk"] / np.maximum(segments["length_m"], 1.0) * 1000
    segments.attrs["unsnapped"] = len(weighted.far)
    return segments


def hot_streets(
    scores: gpd.GeoDataFrame,
    *,
    length_share: float = 0.05,
    score: str = "risk_per_km",
) -> gpd.GeoDataFrame:
    """The top street segments by ``score`` up to ``length_share`` of the street length.

    Segments are taken best first until their length reaches the share (the last one may
    pass it); ties keep segment order.

    Returns
    -------
    geopandas.GeoDataFrame
        The chosen rows of ``scores``, best first, with ``rank`` from 1 and
        ``cumulative_length_share``.
    """
    _check_share(length_share, "length_share")
    _require_columns(scores, [score, "length_m"], "scores")
    ordered = scores.iloc[np.argsort(-scores[score].to_numpy(dtype=float), kind="stable")]
    cumulative = ordered["length_m"].cumsum() / ordered["length_m"].sum()
    k = int(np.searchsorted(cumulative.to_numpy(), length_share, side="left")) + 1
    chosen = ordered.iloc[:k].copy()
    chosen["rank"] = np.arange(1, len(chosen) + 1)
    chosen["cumulative_length_share"] = cumulative.iloc[:k].to_numpy()
    return chosen


def length_concentration(
    scores: gpd.GeoDataFrame,
    *,
    length_shares: Iterable[float] = (0.05, 0.10),
    value: str = "incidents",
) -> dict[float, float]:
    """Share of ``value`` on the densest ``length_shares`` of street length (the 80-20 view).

    Segments are ranked by ``value`` per metre; the concentration curve (cumulative length
    share against cumulative value share) is read by linear interpolation, so a share
    falling inside a segment counts that segment in proportion.

    Returns
    -------
    dict
        ``{length_share: value_share}``, e.g. ``{0.05: 0.41, 0.1: 0.58}``.
    """
    _require_columns(scores, [value, "length_m"], "scores")
    length = scores["length_m"].to_numpy(dtype=float)
    amount = scores[value].to_numpy(dtype=float)
    if amount.sum() <= 0:
        raise HotspotError(f"'scores' has no {value} on any street; nothing to concentrate")
    density = np.divide(amount, length, out=np.full(len(length), np.inf), where=length > 0)
    order = np.argsort(-density, kind="stable")
    x = np.concatenate([[0.0], np.cumsum(length[order]) / length.sum()])
    y = np.concatenate([[0.0], np.cumsum(amount[order]) / amount.sum()])
    result = {}
    for share in length_shares:
        _check_share(share, "length_shares")
        result[float(share)] = float(np.interp(share, x, y))
    return result


# -- scoring ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PAIResult:
    """Predictive Accuracy Index of a hotspot map on test incidents.

    Parameters
    ----------
    hits
        Test incidents inside the hotspots (on the hot streets).
    n_test
        Test incidents inside the study area (snapped to a street).
    hit_rate
        ``hits / n_test``.
    area_share
        Share of the study area (street length) the hotspots cover.
    pai
        ``hit_rate / area_share``; 1 is no better than chance.
    """

    hits: int
    n_test: int
    hit_rate: float
    area_share: float
    pai: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _pai_result(hits: int, n_test: int, area_share: float) -> PAIResult:
    if n_test == 0:
        raise HotspotError(
            "no test incidents fall in the study area: the PAI is undefined; choose a test "
            "period or time band that has incidents"
        )
    hit_rate = hits / n_test
    return PAIResult(hits, n_test, hit_rate, area_share, hit_rate / area_share)


def pai(
    hotspots: gpd.GeoDataFrame | gpd.GeoSeries,
    test_points: gpd.GeoDataFrame | gpd.GeoSeries,
    study_area: gpd.GeoDataFrame | gpd.GeoSeries,
) -> PAIResult:
    """Predictive Accuracy Index: hit rate divided by area share.

    Parameters
    ----------
    hotspots
        Hotspot polygons (any CRS); overlaps are counted once.
    test_points
        Later incidents to score the map on; those outside ``study_area`` do not count.
        A point on a hotspot's edge is a hit.
    study_area
        The area the map covers (e.g. the grid of :func:`grid_cells`).

    Returns
    -------
    PAIResult

    Raises
    ------
    HotspotError
        If the hotspots cover none of the study area or no test point lies in it.
    """
    area_gdf = _metric(gpd.GeoDataFrame(geometry=study_area.geometry))
    area = shapely.union_all(area_gdf.geometry.to_numpy())
    hot = shapely.union_all(hotspots.geometry.to_crs(area_gdf.crs).to_numpy())
    hot_in_area = shapely.intersection(hot, area)
    if area.area <= 0 or hot_in_area.area <= 0:
        raise HotspotError("'hotspots' cover none of 'study_area': the PAI is undefined")
    points = shapely.points(_xy(test_points.to_crs(area_gdf.crs)))
    in_area = shapely.intersects(area, points)
    hits = shapely.intersects(hot_in_area, points) & in_area
    return _pai_result(int(hits.sum()), int(in_area.sum()), hot_in_area.area / area.area)


def street_pai(
    hot: gpd.GeoDataFrame,
    network: StreetNetwork,
    test_points: gpd.GeoDataFrame,
    *,
    max_snap_distance_m: float = MAX_SNAP_DISTANCE_M,
) -> PAIResult:
    """PAI of hot streets: hit rate over the share of street length they make up.

    Test incidents are snapped like the training ones; those left unsnapped do not count.

    Parameters
    ----------
    hot
        Hot segments (index = segment numbers of ``network``), e.g. :func:`hot_streets`.
    network
        The street network.
    test_points
        Later incidents.
    """
    snapped = snap_points(network, test_points, max_distance_m=max_snap_distance_m)
    segment = snapped.loc[snapped["snapped"], "segment"].to_numpy(dtype=np.int64)
    chosen = np.asarray(hot.index, dtype=np.int64)
    length_share = float(network.segment_length_m[chosen].sum() / network.segment_length_m.sum())
    hits = int(np.isin(segment, chosen).sum())
    return _pai_result(hits, len(segment), length_share)


# -- train / test evaluation --------------------------------------------------------------


@dataclass(frozen=True)
class HotspotEvaluation:
    """A hotspot map built on a training period and scored on a later test period."""

    method: str
    train: tuple[str, str]
    test: tuple[str, str]
    n_train: int
    score: PAIResult
    parameters: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "train": list(self.train),
            "test": list(self.test),
            "n_train": self.n_train,
            **self.score.to_dict(),
            "parameters": dict(self.parameters),
        }


def evaluate_hotspots(
    incidents: gpd.GeoDataFrame,
    *,
    method: Method,
    train: tuple[Any, Any],
    test: tuple[Any, Any],
    area_share: float = 0.05,
    study_area: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    network: StreetNetwork | None = None,
    cell_size_m: float = DEFAULT_CELL_SIZE_M,
    bandwidth_m: float | None = None,
    distance_band_m: float | None = None,
    max_snap_distance_m: float = MAX_SNAP_DISTANCE_M,
) -> HotspotEvaluation:
    """Build a hotspot map on ``train`` and score it with the PAI on ``test``.

    Select the time band and category groups first (:func:`select_incidents`); this
    function only splits by period.

    Parameters
    ----------
    incidents
        Incident points with a tz-aware ``occurred_at``.
    method
        ``"kde"``, ``"gistar"``, ``"counts"`` (last period's counts: the naive baseline)
        or ``"streets"``.
    train, test
        ``(start, end)`` half-open periods; naive bounds are local times.
    area_share
        Share of the study area (of street length, for ``"streets"``) flagged as hotspots.
    study_area
        Polygons of the area for the grid methods; needed unless ``method="streets"``.
    network
        Street network; needed for ``method="streets"``.
    cell_size_m, bandwidth_m, distance_band_m
        As for :func:`grid_cells`, :func:`kde_density` and :func:`gi_star`.
    max_snap_distance_m
        Snapping limit for ``"streets"``.

    Raises
    ------
    HotspotError
        If a period holds no incidents, a needed input is missing or ``method`` is unknown.
    """
    if method not in METHODS:
        raise HotspotError(f"'method' should be one of {', '.join(METHODS)}, got {method!r}")
    _check_share(area_share, "area_share")
    train_points = select_incidents(incidents, period=train)
    test_points = select_incidents(incidents, period=test)
    for name, period, points in (("train", train, train_points), ("test", test, test_points)):
        if len(points) == 0:
            raise HotspotError(
                f"no incidents in the {name} period {period[0]} to {period[1]} "
                f"(of {len(incidents):,} selected); choose '{name}' inside the data's dates"
            )
    labels = (_label(train), _label(test))
    if method == "streets":
        if network is None:
            raise HotspotError("method='streets' needs 'network'; build it from the roads layer")
        hot = hot_streets(
            street_scores(network, train_points, max_snap_distance_m=max_snap_distance_m),
            length_share=area_share,
        )
        score = street_pai(hot, network, test_points, max_snap_distance_m=max_snap_distance_m)
        parameters: dict[str, Any] = {"max_snap_distance_m": max_snap_distance_m}
        return HotspotEvaluation(method, *labels, len(train_points), score, parameters)

    if study_area is None:
        raise HotspotError(f"method={method!r} needs 'study_area' (polygons of the area)")
    cells = grid_cells(study_area, cell_size_m=cell_size_m)
    scores, parameters = grid_scores(
        train_points,
        cells,
        method=method,
        bandwidth_m=bandwidth_m,
        distance_band_m=distance_band_m,
    )
    chosen = top_cells(scores, cells, area_share=area_share)
    position = _cell_position(cells, test_points)
    in_grid = position >= 0
    hits = int(np.isin(position[in_grid], cells.index.get_indexer(chosen)).sum())
    score = _pai_result(hits, int(in_grid.sum()), len(chosen) / len(cells))
    parameters["cell_size_m"] = cell_size_m
    return HotspotEvaluation(method, *labels, len(train_points), score, parameters)


def grid_scores(
    points: gpd.GeoDataFrame,
    cells: gpd.GeoDataFrame,
    *,
    method: Method,
    bandwidth_m: float | None = None,
    distance_band_m: float | None = None,
    weights: pd.Series | None = None,
) -> tuple[pd.Series, dict[str, Any]]:
    """The score that ranks cells for a grid method, and the parameters it used.

    Returns
    -------
    tuple of (pandas.Series, dict)
        ``kde``, ``gi_star_z`` or ``incidents`` indexed like ``cells``; the bandwidth or
        distance band used.
    """
    _require_points(points, "points")
    if method == "kde":
        density = kde_density(points, cells, bandwidth_m=bandwidth_m, weights=weights)
        return density, {"bandwidth_m": density.attrs["bandwidth_m"]}
    counts = incident_counts(points, cells, weights=weights)
    if method == "counts":
        return counts, {}
    if method == "gistar":
        band_m = 1.5 * _cell_size_m(cells) if distance_band_m is None else distance_band_m
        gi = gi_star(counts, cells, distance_band_m=band_m)
        # Among equal z-scores the busier cell first.
        z = gi["gi_star_z"] + counts.rank(pct=True) * 1e-9
        return z.rename("gi_star_z"), {"distance_band_m": band_m}
    raise HotspotError(f"'method' should be kde, gistar or counts for a grid, got {method!r}")


def _label(period: tuple[Any, Any]) -> tuple[str, str]:
    start, end = (pd.Timestamp(v) for v in period)
    return start.isoformat(), end.isoformat()
