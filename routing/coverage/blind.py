"""Blind zones (盲区): the area that no source reaches in time and no camera sees.

The unreached street less what cameras see is cut into pieces of segments
(:func:`blind_pieces`); pieces are buffered in groups (:func:`piece_shapes`: one group for
the whole city, or one per stretch of street a captain acts on) and the zones are the union
of those shapes (:func:`blind_zones`). :func:`blind_zone_polygons` does the three at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from layers.i18n import _
from routing.coverage.segments import _unreached_pieces
from routing.errors import RoutingError
from routing.network import StreetNetwork
from routing.reach import QUAD_SEGMENTS


@dataclass(frozen=True)
class BlindPieces:
    """The unreached street less what cameras see, as pieces of segments."""

    #: The pieces (lines in the network CRS).
    geometry: NDArray[np.object_]
    #: The segment each piece lies on.
    segment: NDArray[np.int64]
    #: The risk of each piece: its segment's weight times its share of the segment.
    weight: NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.geometry)


def blind_pieces(
    network: StreetNetwork, segments: pd.DataFrame, *, cameras: gpd.GeoSeries | None = None
) -> BlindPieces:
    """The pieces of street that no source reaches in time, less what ``cameras`` see.

    Parameters
    ----------
    network
        The street network.
    segments
        The result of :func:`coverage_segments`.
    cameras
        Camera sectors (:func:`camera_sectors`); the street they see is not blind.
    """
    pieces, owner = _unreached_pieces(network, segments)
    if cameras is not None and len(pieces):
        shapes = cameras.to_numpy()
        shapes = shapes[~shapely.is_empty(shapes)]
        if len(shapes):
            pieces = shapely.difference(pieces, shapely.union_all(shapes))
    keep: NDArray[np.bool_] = (
        ~shapely.is_empty(pieces) & (shapely.length(pieces) > 1e-6)
        if len(pieces)
        else np.zeros(0, dtype=bool)
    )
    pieces, owner = pieces[keep], owner[keep]
    length_m = network.segment_length_m[owner]
    share = np.divide(
        shapely.length(pieces), length_m, out=np.zeros(len(owner)), where=length_m > 0
    )
    weight = segments["weight"].to_numpy(dtype=float)[owner] * share
    return BlindPieces(pieces, owner, weight)


def piece_shapes(
    pieces: BlindPieces, group: NDArray[np.int64], n_groups: int, *, buffer_m: float
) -> NDArray[np.object_]:
    """One polygon per group ``0..n_groups-1`` of ``pieces`` (``group``: one per piece):
    the union of the buffers of its pieces, ``None`` for a group without a piece.

    A group's pieces that continue one another are joined into longer lines before
    buffering: far fewer, barely overlapping buffers to join (the join is the cost here).

    Raises
    ------
    RoutingError
        If ``buffer_m`` is not positive.
    """
    if not buffer_m > 0:
        raise RoutingError(_("'buffer_m' should be > 0, got %(value)r", value=buffer_m))
    out = np.full(n_groups, None, dtype=object)
    if not len(pieces):
        return out
    order = np.argsort(group, kind="stable")
    used, first = np.unique(group[order], return_index=True)
    # multilinestrings numbers its collections 0, 1, 2...: the groups used, in order
    compact = np.repeat(np.arange(len(used)), np.diff(np.append(first, len(order))))
    # a camera may cut a piece in two: its parts stay in its group
    parts, index = shapely.get_parts(pieces.geometry[order], return_index=True)
    merged = shapely.line_merge(shapely.multilinestrings(parts, indices=compact[index]))
    lines, line_group = shapely.get_parts(merged, return_index=True)
    buffered = shapely.buffer(lines, buffer_m, quad_segs=QUAD_SEGMENTS)
    bounds = np.searchsorted(line_group, np.arange(len(used) + 1))
    for k, g in enumerate(used):
        own = buffered[bounds[k] : bounds[k + 1]]
        out[g] = own[0] if len(own) == 1 else shapely.union_all(own)
    return out


def blind_zones(
    network: StreetNetwork,
    segments: pd.DataFrame,
    pieces: BlindPieces,
    shapes: NDArray[np.object_],
) -> gpd.GeoDataFrame:
    """The blind zones of ``pieces``: the union of their ``shapes`` (from
    :func:`piece_shapes`, in any grouping), one row per connected part.

    Returns
    -------
    GeoDataFrame
        One row per zone, largest risk first, in the network CRS: ``zone``, ``length_m``
        (blind street), ``area_m2``, ``risk`` (weight of the blind pieces),
        ``segments`` (how many segments it touches), ``reached_s`` (the time by which its
        streets are fully reached, ``inf`` when never) and the polygon.
    """
    columns = ["zone", "length_m", "area_m2", "risk", "segments", "reached_s"]
    drawn = shapes[[s is not None for s in shapes]] if len(shapes) else shapes
    if len(pieces) == 0 or not len(drawn):
        return gpd.GeoDataFrame(
            {c: [] for c in columns}, geometry=gpd.GeoSeries([], crs=network.crs), crs=network.crs
        )
    union = drawn[0] if len(drawn) == 1 else shapely.union_all(drawn)
    zones = np.array(shapely.get_parts(union), dtype=object)
    # a piece's midpoint lies inside exactly the zone its buffer joined; the zones are the
    # ones tested (prepared once each), a point tested against a city-wide zone unprepared
    # costs the zone's every vertex
    mid = shapely.line_interpolate_point(pieces.geometry, 0.5, normalized=True)
    zone_idx, piece_idx = shapely.STRtree(mid).query(zones, predicate="contains")
    zone_of = np.full(len(pieces), -1, dtype=np.int64)
    zone_of[piece_idx] = zone_idx
    zone_of[zone_of < 0] = 0  # numerically on a border: any touching zone is right
    n = len(zones)
    full_s = segments["full_s"].to_numpy()[pieces.segment]
    reached_s = np.full(n, -np.inf)
    np.maximum.at(reached_s, zone_of, full_s)
    # the zone of every (zone, segment) pair once: how many segments each zone touches
    zone_segments = np.unique(np.column_stack([zone_of, pieces.segment]), axis=0)[:, 0]
    frame = gpd.GeoDataFrame(
        {
            "length_m": np.bincount(zone_of, weights=shapely.length(pieces.geometry), minlength=n),
            "area_m2": shapely.area(zones),
            "risk": np.bincount(zone_of, weights=pieces.weight, minlength=n),
            "segments": np.bincount(zone_segments, minlength=n),
            "reached_s": reached_s,
        },
        geometry=zones,
        crs=network.crs,
    )
    frame = frame.sort_values(["risk", "length_m"], ascending=False, ignore_index=True)
    frame.insert(0, "zone", np.arange(1, n + 1))
    return frame


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
        As :func:`blind_zones`.

    Raises
    ------
    RoutingError
        If ``buffer_m`` is not positive.
    """
    if not buffer_m > 0:
        raise RoutingError(_("'buffer_m' should be > 0, got %(value)r", value=buffer_m))
    pieces = blind_pieces(network, segments, cameras=cameras)
    one = np.zeros(len(pieces), dtype=np.int64)
    return blind_zones(network, segments, pieces, piece_shapes(pieces, one, 1, buffer_m=buffer_m))
