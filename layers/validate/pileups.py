"""Incident pile-ups: many incidents recorded on one point.

A feed geocodes incidents it cannot place to a default point: the police station where the
report was taken at the desk, a city-hall address, a grid's centroid. Such a point gathers
far more incidents than any real place around it (New Haven's 1 Union Ave, police
headquarters, holds 153 of 3,293 incidents) and, weighed as crime, it becomes the top
hotspot and the most-visited patrol stop.

:func:`find_pileups` finds them: incidents within ``tolerance_m`` of each other form one
place; a place is a pile-up when it holds at least ``min_count`` incidents and at least
``min_ratio`` times the median count of the other occupied places within ``radius_m``
(at least 1). Each pile-up carries its position, count, local median, the most frequent
``address`` of its incidents (when the layer has one) and the nearest station within
``station_distance_m``. :func:`drop_pileups` returns the incidents to weigh without them;
:func:`check_pileups` reports them during validation (``incident_pileup`` warnings).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from layers.crs import metric_crs as local_metric_crs
from layers.errors import LayerError
from layers.i18n import _
from layers.validate.report import ProblemCollector

logger = logging.getLogger(__name__)

__all__ = [
    "PileupRule",
    "Pileups",
    "check_pileups",
    "describe_pileups",
    "drop_pileups",
    "find_pileups",
    "pileup_summary",
]


@dataclass(frozen=True)
class PileupRule:
    """When a point holding many incidents counts as a pile-up.

    Parameters
    ----------
    tolerance_m
        Incidents closer than this (chained) are one place.
    min_count
        Fewest incidents at a pile-up.
    min_ratio
        Fewest times the local median count (of the other occupied places within
        ``radius_m``, at least 1) a pile-up holds.
    radius_m
        Radius of the neighbourhood the local median is taken over.
    station_distance_m
        A station this close to a pile-up is named as its place.
    """

    tolerance_m: float = 5.0
    min_count: int = 20
    min_ratio: float = 10.0
    radius_m: float = 1000.0
    station_distance_m: float = 50.0

    def __post_init__(self) -> None:
        if self.tolerance_m < 0 or self.radius_m <= 0 or self.station_distance_m < 0:
            raise LayerError(
                _(
                    "pile-up distances should not be negative, got tolerance %(tolerance)s m, "
                    "radius %(radius)s m, station distance %(station)s m",
                    tolerance=self.tolerance_m,
                    radius=self.radius_m,
                    station=self.station_distance_m,
                )
            )
        if self.min_count < 2 or self.min_ratio < 1:
            raise LayerError(
                _(
                    "a pile-up needs at least 2 incidents and a ratio of at least 1, got "
                    "%(count)s incidents and ratio %(ratio)s",
                    count=self.min_count,
                    ratio=self.min_ratio,
                )
            )


@dataclass(frozen=True)
class Pileups:
    """The pile-ups found in an incident layer.

    Parameters
    ----------
    places
        One row per pile-up, most incidents first: ``lon``, ``lat``, ``count``,
        ``local_median``, ``address`` (most frequent, or empty), ``station`` (name of the
        nearest station within the rule's distance, or empty), ``station_distance_m``
        (NaN without one) and the point geometry in EPSG:4326.
    at_pileup
        Boolean, indexed like the incidents: True for incidents at a pile-up.
    """

    places: gpd.GeoDataFrame
    at_pileup: pd.Series

    @property
    def incidents(self) -> int:
        """How many incidents sit at pile-ups."""
        return int(self.at_pileup.sum())


def _metric_points(frame: gpd.GeoDataFrame, crs: CRS) -> tuple[np.ndarray, np.ndarray]:
    """Metric x/y of the usable points and a mask of which rows they are."""
    geometry = frame.geometry
    usable = (~geometry.isna() & ~geometry.is_empty).to_numpy(dtype=bool)
    points = geometry[usable].to_crs(crs).centroid
    return np.column_stack([points.x.to_numpy(), points.y.to_numpy()]), usable


def _places(xy: np.ndarray, tolerance_m: float) -> np.ndarray:
    """A place number per point: points within ``tolerance_m`` (chained) share one."""
    if tolerance_m == 0:
        _, label = np.unique(xy, axis=0, return_inverse=True)
        return np.asarray(label).ravel()
    pairs = cKDTree(xy).query_pairs(tolerance_m, output_type="ndarray")
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(xy), len(xy)))
    _, label = connected_components(graph, directed=False)
    return np.asarray(label)


def find_pileups(
    incidents: gpd.GeoDataFrame,
    *,
    stations: gpd.GeoDataFrame | None = None,
    rule: PileupRule | None = None,
) -> Pileups:
    """Find the points where incidents pile up (see the module docstring).

    Parameters
    ----------
    incidents
        Incident points with a CRS; an ``address`` column is used when present.
    stations
        Stations (points with ``name``), to name a pile-up on a station.
    rule
        Thresholds; the defaults of :class:`PileupRule` when None.

    Returns
    -------
    Pileups
        The pile-ups and which incidents sit at them.

    Raises
    ------
    LayerError
        If ``incidents`` is not a GeoDataFrame with a CRS.
    """
    rule = rule or PileupRule()
    if not isinstance(incidents, gpd.GeoDataFrame):
        raise LayerError(f"'incidents' should be a GeoDataFrame, got {type(incidents).__name__}")
    at_pileup = pd.Series(False, index=incidents.index, name="at_pileup")
    none = Pileups(_empty_places(), at_pileup)
    if len(incidents) < rule.min_count:
        return none
    crs = local_metric_crs(incidents)
    xy, usable = _metric_points(incidents, crs)
    if len(xy) < rule.min_count:
        return none
    label = _places(xy, rule.tolerance_m)
    count = np.bincount(label)
    centre = np.column_stack(
        [np.bincount(label, xy[:, 0]) / count, np.bincount(label, xy[:, 1]) / count]
    )
    heavy = np.flatnonzero(count >= rule.min_count)
    if not len(heavy):
        return none
    tree = cKDTree(centre)
    local = np.ones(len(heavy))
    for i, place in enumerate(heavy):
        near = [j for j in tree.query_ball_point(centre[place], rule.radius_m) if j != place]
        local[i] = max(1.0, float(np.median(count[near]))) if near else 1.0
    flagged = count[heavy] >= rule.min_ratio * local
    chosen, local = heavy[flagged], local[flagged]
    if not len(chosen):
        return none
    rows = np.flatnonzero(usable)
    member = np.isin(label, chosen)
    at_pileup.iloc[rows[member]] = True
    places = describe_pileups(
        incidents, rows, label, chosen, count, local, centre, crs, stations, rule
    )
    logger.info(
        "%s pile-up(s) hold %s of %s incidents",
        f"{len(places):,}",
        f"{int(at_pileup.sum()):,}",
        f"{len(incidents):,}",
    )
    return Pileups(places, at_pileup)


def _empty_places() -> gpd.GeoDataFrame:
    columns = {
        "lon": pd.Series(dtype=float),
        "lat": pd.Series(dtype=float),
        "count": pd.Series(dtype=int),
        "local_median": pd.Series(dtype=float),
        "address": pd.Series(dtype=object),
        "station": pd.Series(dtype=object),
        "station_distance_m": pd.Series(dtype=float),
    }
    return gpd.GeoDataFrame(columns, geometry=gpd.GeoSeries([], crs="EPSG:4326"))


def describe_pileups(
    incidents: gpd.GeoDataFrame,
    rows: np.ndarray,
    label: np.ndarray,
    chosen: np.ndarray,
    count: np.ndarray,
    local: np.ndarray,
    centre: np.ndarray,
    crs: CRS,
    stations: gpd.GeoDataFrame | None,
    rule: PileupRule,
) -> gpd.GeoDataFrame:
    """One row per pile-up: where, how many, its address and the station on it (a store
    that found the pile-ups itself describes them with this too)."""
    points = gpd.GeoSeries(gpd.points_from_xy(centre[chosen, 0], centre[chosen, 1]), crs=crs)
    addresses = []
    for place in chosen:
        if "address" not in incidents.columns:
            addresses.append("")
            continue
        text = incidents["address"].iloc[rows[label == place]].dropna().astype(str).str.strip()
        text = text[text != ""]
        addresses.append(str(text.value_counts().index[0]) if len(text) else "")
    station, distance = _nearest_stations(points, stations, rule.station_distance_m)
    lonlat = points.to_crs("EPSG:4326")
    places = gpd.GeoDataFrame(
        {
            "lon": lonlat.x.round(7).to_numpy(),
            "lat": lonlat.y.round(7).to_numpy(),
            "count": count[chosen].astype(int),
            "local_median": local,
            "address": addresses,
            "station": station,
            "station_distance_m": distance,
        },
        geometry=lonlat.to_numpy(),
        crs="EPSG:4326",
    )
    return places.sort_values("count", ascending=False, kind="stable").reset_index(drop=True)


def _nearest_stations(
    points: gpd.GeoSeries, stations: gpd.GeoDataFrame | None, limit_m: float
) -> tuple[list[str], np.ndarray]:
    """Name and distance of the nearest station within ``limit_m`` of every point."""
    names = [""] * len(points)
    distance = np.full(len(points), np.nan)
    if stations is None or not isinstance(stations, gpd.GeoDataFrame) or stations.crs is None:
        return names, distance
    usable = stations[~stations.geometry.isna() & ~stations.geometry.is_empty]
    if not len(usable):
        return names, distance
    where = usable.geometry.to_crs(points.crs).centroid
    tree = cKDTree(np.column_stack([where.x.to_numpy(), where.y.to_numpy()]))
    gap, nearest = tree.query(np.column_stack([points.x.to_numpy(), points.y.to_numpy()]))
    label = usable["name"] if "name" in usable.columns else usable.get("id")
    for i, (d, j) in enumerate(zip(gap, nearest, strict=True)):
        if d <= limit_m:
            names[i] = "" if label is None else str(label.iloc[int(j)])
            distance[i] = round(float(d), 1)
    return names, distance


def pileup_summary(places: gpd.GeoDataFrame, *, limit: int = 5) -> str:
    """The pile-ups in words: ``"1 UNION AVE (-72.92437, 41.30058): 153"``, most first."""
    parts = []
    for row in places.head(limit).itertuples(index=False):
        where = f"{row.lon:.5f}, {row.lat:.5f}"
        name = " ".join(str(v) for v in (row.address, row.station) if v)
        text = f"{name} ({where})" if name else f"({where})"
        if row.station:
            text = _(
                "%(place)s, %(distance)s m from station %(station)s",
                place=text,
                distance=format(row.station_distance_m, ".0f"),
                station=row.station,
            )
        parts.append(f"{text}: {int(row.count):,}")
    more = len(places) - limit
    if more > 0:
        return _("%(places)s; and %(count)s more", places="; ".join(parts), count=format(more, ","))
    return "; ".join(parts)


def drop_pileups(
    incidents: gpd.GeoDataFrame,
    *,
    stations: gpd.GeoDataFrame | None = None,
    keep: bool = False,
    rule: PileupRule | None = None,
) -> tuple[gpd.GeoDataFrame, Pileups]:
    """The incidents to weigh: without those at pile-ups unless ``keep``.

    Returns
    -------
    tuple of (geopandas.GeoDataFrame, Pileups)
        The incidents (a copy; all of them when ``keep``) and the pile-ups found.
    """
    pileups = find_pileups(incidents, stations=stations, rule=rule)
    if keep or not pileups.incidents:
        return incidents.copy(), pileups
    return incidents.loc[~pileups.at_pileup.to_numpy()].copy(), pileups


def check_pileups(
    frames: Mapping[str, pd.DataFrame],
    geo: Mapping[str, gpd.GeoDataFrame],
    found: ProblemCollector,
    *,
    rule: PileupRule | None = None,
) -> None:
    """Warn of every incident pile-up (``incident_pileup``), naming its place and count.

    ``geo`` holds the usable features of each layer (rows numbered by their position in
    the layer of ``frames``, whose ``address`` and station ``name`` are read).
    """
    if "incidents" not in geo or not len(geo["incidents"]):
        return
    incidents = _with_field(geo["incidents"], frames.get("incidents"), "address")
    stations = geo.get("stations")
    if stations is not None:
        stations = _with_field(stations, frames.get("stations"), "name")
    pileups = find_pileups(incidents, stations=stations, rule=rule)
    for row in pileups.places.itertuples(index=False):
        where = _(
            "lon %(lon)s, lat %(lat)s", lon=format(row.lon, ".6f"), lat=format(row.lat, ".6f")
        )
        if row.address:
            where = f"{row.address} ({where})"
        if row.station:
            where = _(
                "%(place)s, %(distance)s m from station %(station)s",
                place=where,
                distance=format(row.station_distance_m, ".0f"),
                station=repr(row.station),
            )
        found.add(
            "incidents",
            None,
            "incident_pileup",
            _(
                "%(count)s incidents sit on one point at %(where)s, %(ratio)s times the usual "
                "count of a point nearby; such a point is often a default location (a "
                "reporting desk, a station, a default address) rather than where they "
                "happened. They are left out of hotspots, patrol risk and workload unless "
                "keep_pileups is set.",
                count=format(int(row.count), ","),
                where=where,
                ratio=format(row.count / row.local_median, ".0f"),
            ),
            _(
                "geocode these incidents to where they happened and re-import them, or set "
                "keep_pileups = true if this place really has that many incidents"
            ),
            "warning",
        )


def _with_field(
    usable: gpd.GeoDataFrame, frame: pd.DataFrame | None, field: str
) -> gpd.GeoDataFrame:
    """``usable`` with ``field`` of the full layer copied by row position, when it has one."""
    if frame is None or field not in frame.columns:
        return usable
    position = usable.index.to_numpy()
    if len(position) and position.max() >= len(frame):
        return usable
    out = usable.copy()
    out[field] = frame[field].to_numpy(dtype=object)[position]
    return out
