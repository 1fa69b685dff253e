"""Scoring hotspots against later incidents: PAI, hit rate, and the evaluation of methods."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.i18n import _, format_number
from routing.hotspots.grid import (
    cell_position,
    cell_size_m,
    gi_star,
    grid_cells,
    incident_counts,
    kde_density,
    top_cells,
)
from routing.hotspots.inputs import (
    DEFAULT_CELL_SIZE_M,
    METHODS,
    HotspotError,
    Method,
    check_share,
    point_xy,
    require_points,
    select_incidents,
    to_metric,
)
from routing.hotspots.streets import hot_streets, street_scores
from routing.network import StreetNetwork
from routing.snap import MAX_SNAP_DISTANCE_M, snap_points


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
            _(
                "no test incidents fall in the study area: the PAI is undefined; choose a test "
                "period or time band that has incidents"
            )
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
    area_gdf = to_metric(gpd.GeoDataFrame(geometry=study_area.geometry))
    area = shapely.union_all(area_gdf.geometry.to_numpy())
    hot = shapely.union_all(hotspots.geometry.to_crs(area_gdf.crs).to_numpy())
    hot_in_area = shapely.intersection(hot, area)
    if area.area <= 0 or hot_in_area.area <= 0:
        raise HotspotError(_("'hotspots' cover none of 'study_area': the PAI is undefined"))
    points = shapely.points(point_xy(test_points.to_crs(area_gdf.crs)))
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
        raise HotspotError(
            _(
                "'method' should be one of %(methods)s, got %(value)r",
                methods=", ".join(METHODS),
                value=method,
            )
        )
    check_share(area_share, "area_share")
    train_points = select_incidents(incidents, period=train)
    test_points = select_incidents(incidents, period=test)
    for name, period, points in (("train", train, train_points), ("test", test, test_points)):
        if len(points) == 0:
            params = {"start": period[0], "end": period[1], "n": format_number(len(incidents))}
            if name == "train":
                raise HotspotError(
                    _(
                        "no incidents in the train period %(start)s to %(end)s (of %(n)s "
                        "selected); choose 'train' inside the data's dates",
                        **params,
                    )
                )
            raise HotspotError(
                _(
                    "no incidents in the test period %(start)s to %(end)s (of %(n)s selected); "
                    "choose 'test' inside the data's dates",
                    **params,
                )
            )
    labels = (_label(train), _label(test))
    if method == "streets":
        if network is None:
            raise HotspotError(_("method='streets' needs 'network'; build it from the roads layer"))
        hot = hot_streets(
            street_scores(network, train_points, max_snap_distance_m=max_snap_distance_m),
            length_share=area_share,
        )
        score = street_pai(hot, network, test_points, max_snap_distance_m=max_snap_distance_m)
        parameters: dict[str, Any] = {"max_snap_distance_m": max_snap_distance_m}
        return HotspotEvaluation(method, *labels, len(train_points), score, parameters)

    if study_area is None:
        raise HotspotError(
            _("method=%(method)r needs 'study_area' (polygons of the area)", method=method)
        )
    cells = grid_cells(study_area, cell_size_m=cell_size_m)
    scores, parameters = grid_scores(
        train_points,
        cells,
        method=method,
        bandwidth_m=bandwidth_m,
        distance_band_m=distance_band_m,
    )
    chosen = top_cells(scores, cells, area_share=area_share)
    position = cell_position(cells, test_points)
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
    require_points(points, "points")
    if method == "kde":
        density = kde_density(points, cells, bandwidth_m=bandwidth_m, weights=weights)
        return density, {"bandwidth_m": density.attrs["bandwidth_m"]}
    counts = incident_counts(points, cells, weights=weights)
    if method == "counts":
        return counts, {}
    if method == "gistar":
        band_m = 1.5 * cell_size_m(cells) if distance_band_m is None else distance_band_m
        gi = gi_star(counts, cells, distance_band_m=band_m)
        # Among equal z-scores the busier cell first.
        z = gi["gi_star_z"] + counts.rank(pct=True) * 1e-9
        return z.rename("gi_star_z"), {"distance_band_m": band_m}
    raise HotspotError(
        _("'method' should be kde, gistar or counts for a grid, got %(value)r", value=method)
    )


def _label(period: tuple[Any, Any]) -> tuple[str, str]:
    start, end = (pd.Timestamp(v) for v in period)
    return start.isoformat(), end.isoformat()
