"""What coverage, hourly coverage and placement read from a workspace.

Stations, duty points and extra posts (the sources of the reach), the street risk from the
incidents, key places with their required minutes and the 200 m surroundings of schools.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisapp.errors import WorkspaceError
from gisapp.services.analytics import load_incidents
from gisapp.settings import DEFAULT_KEY_PLACE_MINUTES
from gisapp.store.geopackage import Workspace
from layers.crs import metric_crs
from layers.i18n import _
from layers.schema import STORAGE_CRS
from routing.network import StreetNetwork
from routing.risk import segment_risk

logger = logging.getLogger(__name__)

#: Radius of the surroundings of a school or kindergarten (校园周边200米).
SCHOOL_ZONE_RADIUS_M = 200.0
#: Key-place kinds that get a surroundings zone.
SCHOOL_KINDS = ("school", "kindergarten")
#: Kind of the prevention zones drawn around schools.
SCHOOL_ZONE_KIND = "school_surroundings"
#: Point layers the reach starts from, in the order they are counted.
SOURCE_LAYERS = ("stations", "duty_points")


def empty_points() -> gpd.GeoDataFrame:
    """An empty point layer in EPSG:4326."""
    return gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=STORAGE_CRS), crs=STORAGE_CRS)


def points_layer(ws: Workspace, name: str) -> gpd.GeoDataFrame:
    """A point layer of ``ws`` without empty geometries, with an ``id`` (empty when absent)."""
    frame = ws.layer(name, required=False)
    if not isinstance(frame, gpd.GeoDataFrame):
        return empty_points()
    frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty].copy()
    if "id" not in frame.columns:
        frame["id"] = [f"{name}-{i + 1}" for i in range(len(frame))]
    return frame


def minutes_or_none(seconds: float) -> float | None:
    """Seconds as minutes (2 decimals), None when never reached."""
    return round(seconds / 60.0, 2) if math.isfinite(seconds) else None


def read_posts(path: str | Path, ws: Workspace | None = None) -> gpd.GeoDataFrame:
    """Read extra duty points from a file (e.g. ``duty_points.geojson``) or a workspace layer.

    Raises
    ------
    WorkspaceError
        If the file or layer is missing, or holds no points.
    """
    text = str(path)
    if ws is not None and not Path(text).exists() and ws.has_layer(text):
        posts = points_layer(ws, text)
    elif Path(text).is_file():
        posts = gpd.read_file(text)
        if posts.crs is None:
            posts = posts.set_crs(STORAGE_CRS)
    else:
        raise WorkspaceError(
            _(
                "posts %(posts)s is neither a file nor a layer of the workspace; give the "
                "duty_points.geojson written by 'gisapp place' or a layer name",
                posts=repr(text),
            )
        )
    posts = posts[posts.geometry.notna() & ~posts.geometry.is_empty]
    if len(posts) == 0 or (posts.geom_type != "Point").any():
        raise WorkspaceError(
            _("posts %(posts)s should hold one or more points; it holds none", posts=repr(text))
        )
    posts = posts.copy()
    if "id" not in posts.columns:
        posts["id"] = [f"post-{i + 1}" for i in range(len(posts))]
    posts["id"] = posts["id"].astype(str)
    return posts


def response_sources(
    ws: Workspace,
    extra_posts: gpd.GeoDataFrame | None = None,
    *,
    layers: Sequence[str] = SOURCE_LAYERS,
) -> gpd.GeoDataFrame:
    """The points the reach starts from: ``layers`` of ``ws`` plus ``extra_posts``.

    Returns
    -------
    GeoDataFrame
        ``id``, ``source`` (the layer, or ``posts``), EPSG:4326; one row per place.

    Raises
    ------
    WorkspaceError
        If there is no point at all.
    """
    parts = []
    for layer in layers:
        frame = points_layer(ws, layer)
        if len(frame):
            parts.append(
                gpd.GeoDataFrame(
                    {"id": frame["id"].astype(str).to_numpy(), "source": layer},
                    geometry=frame.geometry.to_crs(STORAGE_CRS).to_numpy(),
                    crs=STORAGE_CRS,
                )
            )
    if extra_posts is not None and len(extra_posts):
        parts.append(
            gpd.GeoDataFrame(
                {"id": extra_posts["id"].astype(str).to_numpy(), "source": "posts"},
                geometry=extra_posts.geometry.to_crs(STORAGE_CRS).to_numpy(),
                crs=STORAGE_CRS,
            )
        )
    if not parts:
        if tuple(layers) == SOURCE_LAYERS:
            raise WorkspaceError(
                _(
                    "workspace %(workspace)s has no stations or duty points to measure "
                    "coverage from; import a 'stations' layer or pass posts with --with-posts",
                    workspace=repr(ws.label),
                )
            )
        raise WorkspaceError(
            _(
                "layer %(layer)s of workspace %(workspace)s has no points to start "
                "from; import it or pick another layer with --from",
                layer=repr(", ".join(layers)),
                workspace=repr(ws.label),
            )
        )
    sources = pd.concat(parts, ignore_index=True)
    # a proposed post file repeats the fixed stations (to 6 decimals, about 0.1 m): one
    # source per place is enough
    rounded = shapely.transform(sources.geometry.to_numpy(), lambda xy: np.round(xy, 6))
    key = pd.Series(shapely.to_wkb(rounded), index=sources.index)
    return gpd.GeoDataFrame(sources[~key.duplicated()].reset_index(drop=True), crs=STORAGE_CRS)


def key_place_required_minutes(
    key_places: pd.DataFrame,
    *,
    minutes_by_kind: Mapping[str, float] | None = None,
    default_minutes: float = 5.0,
) -> pd.Series:
    """Required response minutes of every key place.

    The layer's own ``required_minutes`` wins; else the kind's minutes from the settings
    (``key_place_minutes``: schools and hospitals 3, police 1, malls 5...); else
    ``default_minutes``.
    """
    by_kind = dict(DEFAULT_KEY_PLACE_MINUTES if minutes_by_kind is None else minutes_by_kind)
    kinds = key_places["kind"].astype(str).str.lower() if "kind" in key_places else None
    from_kind = (
        kinds.map(lambda k: by_kind.get(k, default_minutes))
        if kinds is not None
        else pd.Series(default_minutes, index=key_places.index)
    )
    own = (
        pd.to_numeric(key_places["required_minutes"], errors="coerce")
        if "required_minutes" in key_places
        else pd.Series(np.nan, index=key_places.index)
    )
    return own.fillna(from_kind).astype(float).rename("required_minutes")


def _school_zone_frame(columns: Sequence[str]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {c: [] for c in columns}, geometry=gpd.GeoSeries([], crs=STORAGE_CRS), crs=STORAGE_CRS
    )


def _has_zone(centres: gpd.GeoSeries, zones: gpd.GeoDataFrame | None) -> np.ndarray:
    has_zone = np.zeros(len(centres), dtype=bool)
    if zones is not None and len(zones):
        tree = shapely.STRtree(zones.to_crs(centres.crs).geometry.to_numpy())
        inside, _ = tree.query(centres.to_numpy(), predicate="within")
        has_zone[inside] = True
    return has_zone


def school_zones(
    key_places: gpd.GeoDataFrame,
    zones: gpd.GeoDataFrame | None,
    *,
    radius_m: float = SCHOOL_ZONE_RADIUS_M,
    kinds: Sequence[str] = SCHOOL_KINDS,
    minutes_by_kind: Mapping[str, float] | None = None,
) -> gpd.GeoDataFrame:
    """Prevention zones of ``radius_m`` around schools and kindergartens that have none.

    A place has a zone when an existing prevention zone contains it.

    Returns
    -------
    GeoDataFrame
        Only the new zones (EPSG:4326): ``id`` (``z-<place id>``), ``name``, ``kind``
        (``school_surroundings``), ``required_minutes`` (the place's), ``priority`` (1).

    Raises
    ------
    WorkspaceError
        If ``radius_m`` is not positive.
    """
    if not radius_m > 0:
        raise WorkspaceError(
            _(
                "the school zone radius should be > 0 metres, got %(radius)s",
                radius=repr(radius_m),
            )
        )
    columns = ["id", "name", "kind", "required_minutes", "priority"]
    if len(key_places) == 0 or "kind" not in key_places.columns:
        return _school_zone_frame(columns)
    wanted = key_places[key_places["kind"].astype(str).str.lower().isin([k.lower() for k in kinds])]
    if len(wanted) == 0:
        return _school_zone_frame(columns)
    local_crs = metric_crs(wanted)
    centres = wanted.to_crs(local_crs).geometry.representative_point()
    has_zone = _has_zone(centres, zones)
    lacking = wanted[~has_zone]
    if len(lacking) == 0:
        return _school_zone_frame(columns)
    required = key_place_required_minutes(lacking, minutes_by_kind=minutes_by_kind)
    names = lacking["name"].astype(str) if "name" in lacking else lacking["id"].astype(str)
    new = gpd.GeoDataFrame(
        {
            "id": [f"z-{i}" for i in lacking["id"].astype(str)],
            "name": [
                _("%(radius)s m around %(name)s", radius=format(radius_m, "g"), name=n)
                for n in names
            ],
            "kind": SCHOOL_ZONE_KIND,
            "required_minutes": required.to_numpy(),
            "priority": 1,
        },
        geometry=centres[~has_zone].buffer(radius_m).to_numpy(),
        crs=local_crs,
    )
    logger.info("added %d school surroundings zones of %g m", len(new), radius_m)
    return new.to_crs(STORAGE_CRS)


def risk_incidents(ws: Workspace, *, keep_pileups: bool = False) -> gpd.GeoDataFrame | None:
    """The incidents that weigh street risk: the same as hotspots and plans
    (:func:`gisapp.services.analytics.load_incidents`, pile-ups left out unless
    ``keep_pileups``); None when the workspace has none."""
    if not ws.has_layer("incidents"):
        return None
    incidents, _ = load_incidents(ws, keep_pileups=keep_pileups)
    return incidents if len(incidents) else None


def street_risk(
    network: StreetNetwork,
    incidents: gpd.GeoDataFrame | None,
    *,
    timezone: str,
    window: tuple[str, str] | None = None,
    preventable_only: bool = True,
) -> pd.Series:
    """Risk per street segment from ``incidents`` (:func:`risk_incidents`); zeros, with
    ``attrs["incidents"] == 0``, when there are none."""
    if incidents is None or len(incidents) == 0:
        logger.info("workspace has no incidents: every street has zero risk")
        series = pd.Series(np.zeros(network.n_segments), name="risk")
        series.attrs["incidents"] = 0
        return series
    return segment_risk(
        network,
        incidents,
        window=window,
        timezone=timezone,
        preventable_only=preventable_only,
    )


def workspace_risk(
    ws: Workspace,
    network: StreetNetwork,
    *,
    window: tuple[str, str] | None = None,
    preventable_only: bool = True,
    keep_pileups: bool = False,
) -> pd.Series:
    """Risk per street segment from the workspace's incidents (:func:`street_risk` of
    :func:`risk_incidents`)."""
    return street_risk(
        network,
        risk_incidents(ws, keep_pileups=keep_pileups),
        timezone=ws.timezone,
        window=window,
        preventable_only=preventable_only,
    )


def segment_residents(ws: Workspace, network: StreetNetwork) -> tuple[np.ndarray, str] | None:
    """Residents along every street segment: each community's population (else its
    households, where no community records a population) shared among the streets in
    it by length, the way dwellings line streets.

    Returns
    -------
    tuple of (numpy.ndarray, str) or None
        Residents per segment of ``network`` and the measure (``population`` or
        ``households``); None when the communities record neither.
    """
    communities = ws.layer("communities", required=False)
    if not isinstance(communities, gpd.GeoDataFrame) or not len(communities):
        return None
    for measure in ("population", "households"):
        if measure in communities.columns:
            totals = pd.to_numeric(communities[measure], errors="coerce").fillna(0.0)
            if float(totals.sum()) > 0:
                break
    else:
        return None
    areas = communities.assign(_total=totals.to_numpy()).to_crs(network.crs)
    middles = shapely.line_interpolate_point(
        network.segment_geometry.astype(object), 0.5, normalized=True
    )
    segment, area = areas.sindex.query(middles, predicate="within")
    _, first = np.unique(segment, return_index=True)  # a segment on a shared edge: one community
    segment, area = segment[first], area[first]
    length = network.segment_length_m[segment]
    in_area = np.bincount(area, weights=length, minlength=len(areas))
    residents = np.zeros(network.n_segments)
    with np.errstate(divide="ignore", invalid="ignore"):
        residents[segment] = areas["_total"].to_numpy()[area] * length / in_area[area]
    return np.nan_to_num(residents), measure
