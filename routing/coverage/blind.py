"""Blind zones (盲区): the area that no source reaches in time and no camera sees."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from layers.i18n import _
from routing.coverage.segments import _unreached_pieces
from routing.errors import RoutingError
from routing.network import StreetNetwork


def blind_zone_polygons(
    network: StreetNetwork,
    segments: pd.DataFrame,
    *,
    buffer_m: float = 25.0,
    cameras: gpd.GeoSeries | None = None,
) -> gpd.GeoDataFrame:
    """Street blind zones: unreached street pieces, less what cameras see, buffered.

    Connected pieces form one zone; a zone is the union of the buffered pieces, so blocks
    and parks that no street crosses stay out (no convex hulls).

    Parameters
    ----------
    network
        The street network.
    segments
        The result of :func:`coverage_segments`.
    buffer_m
        Half-width of a zone around its streets.
    cameras
        Camera sectors (:func:`camera_sectors`); the street they see is not blind.

    Returns
    -------
    GeoDataFrame
        One row per zone, largest risk first, in the network CRS: ``zone``, ``length_m``
        (blind street), ``area_m2``, ``risk`` (weight of the blind pieces),
        ``segments`` (how many segments it touches), ``reached_s`` (the time by which its
        streets are fully reached, ``inf`` when never) and the polygon.

    Raises
    ------
    RoutingError
        If ``buffer_m`` is not positive.
    """
    if not buffer_m > 0:
        raise RoutingError(_("'buffer_m' should be > 0, got %(value)r", value=buffer_m))
    pieces, owner = _unreached_pieces(network, segments)
    if cameras is not None and len(pieces):
        shapes = cameras.to_numpy()
        shapes = shapes[~shapely.is_empty(shapes)]
        if len(shapes):
            seen = shapely.union_all(shapes)
            pieces = shapely.difference(pieces, seen)
    keep: NDArray[np.bool_] = (
        ~shapely.is_empty(pieces) & (shapely.length(pieces) > 1e-6)
        if len(pieces)
        else np.zeros(0, dtype=bool)
    )
    pieces, owner = pieces[keep], owner[keep]
    columns = ["zone", "length_m", "area_m2", "risk", "segments", "reached_s"]
    if len(pieces) == 0:
        return gpd.GeoDataFrame(
            {c: [] for c in columns}, geometry=gpd.GeoSeries([], crs=network.crs), crs=network.crs
        )
    piece_length = shapely.length(pieces)
    length_m = network.segment_length_m[owner]
    weight = segments["weight"].to_numpy()[owner] * np.divide(
        piece_length, length_m, out=np.zeros(len(owner)), where=length_m > 0
    )
    # Pieces that continue one another are joined into longer lines before buffering:
    # far fewer, barely overlapping buffers to union (the union is the cost here).
    merged = shapely.get_parts(
        shapely.line_merge(shapely.multilinestrings(shapely.get_parts(pieces)))
    )
    union = shapely.union_all(shapely.buffer(merged, buffer_m))
    zones = np.array(shapely.get_parts(union), dtype=object)
    # a piece's midpoint lies inside exactly the zone its buffer joined; the zones are the
    # ones tested (prepared once each), a point tested against a city-wide zone unprepared
    # costs the zone's every vertex
    mid = shapely.line_interpolate_point(pieces, 0.5, normalized=True)
    zone_idx, piece_idx = shapely.STRtree(mid).query(zones, predicate="contains")
    zone_of = np.full(len(pieces), -1, dtype=np.int64)
    zone_of[piece_idx] = zone_idx
    zone_of[zone_of < 0] = 0  # numerically on a border: any touching zone is right
    n = len(zones)
    full_s = segments["full_s"].to_numpy()[owner]
    reached_s = np.full(n, -np.inf)
    np.maximum.at(reached_s, zone_of, full_s)
    # the zone of every (zone, segment) pair once: how many segments each zone touches
    zone_segments = np.unique(np.column_stack([zone_of, owner]), axis=0)[:, 0]
    frame = gpd.GeoDataFrame(
        {
            "length_m": np.bincount(zone_of, weights=piece_length, minlength=n),
            "area_m2": shapely.area(zones),
            "risk": np.bincount(zone_of, weights=weight, minlength=n),
            "segments": np.bincount(zone_segments, minlength=n),
            "reached_s": reached_s,
        },
        geometry=zones,
        crs=network.crs,
    )
    frame = frame.sort_values(["risk", "length_m"], ascending=False, ignore_index=True)
    frame.insert(0, "zone", np.arange(1, n + 1))
    return frame
