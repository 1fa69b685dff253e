"""Key places on the streets: where they lie, and the travel time to them."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from routing.errors import RoutingError
from routing.network import StreetNetwork
from routing.reach import NodeReach
from routing.snap import MAX_SNAP_DISTANCE_M, snap_points


def locate_places(
    network: StreetNetwork,
    places: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    max_distance_m: float = MAX_SNAP_DISTANCE_M,
) -> pd.DataFrame:
    """Where places (points or polygons) lie on the streets: segment and position along it.

    Polygons are located by their representative point.

    Returns
    -------
    DataFrame
        Indexed like ``places``: ``snapped``, ``segment``, ``position`` (0..1),
        ``distance_m``.
    """
    geometry = places.geometry if isinstance(places, gpd.GeoDataFrame) else places
    if not isinstance(geometry, gpd.GeoSeries):
        raise RoutingError(f"'places' should be a GeoDataFrame, got {type(places).__name__}")
    points = geometry.copy()
    not_point = points.notna() & (points.geom_type != "Point")
    if not_point.any():
        points[not_point] = points[not_point].representative_point()
    snapped = snap_points(network, points, max_distance_m=max_distance_m)
    return pd.DataFrame(
        {
            "snapped": snapped["snapped"].to_numpy(),
            "segment": snapped["segment"].to_numpy(),
            "position": snapped["position"].to_numpy(),
            "distance_m": snapped["distance_m"].to_numpy(),
        },
        index=geometry.index,
    )


def place_times(
    network: StreetNetwork, reach: NodeReach, located: pd.DataFrame
) -> NDArray[np.float64]:
    """Travel time from the nearest source to each located place, exact along its segment.

    A place part-way along a segment is reached from the segment's start through its
    forward edge or from its end through its backward edge (one-way streets from one end
    only). Places not snapped get ``inf``.
    """
    n = network.n_segments
    t_start = np.full(n, np.inf)
    t_end = np.full(n, np.inf)
    cross_fwd = np.full(n, np.inf)
    cross_bwd = np.full(n, np.inf)
    fwd = network.edge_forward
    start_time = reach.time_s[network.edge_u]
    t_start[network.edge_segment[fwd]] = start_time[fwd]
    cross_fwd[network.edge_segment[fwd]] = network.edge_travel_time_s[fwd]
    t_end[network.edge_segment[~fwd]] = start_time[~fwd]
    cross_bwd[network.edge_segment[~fwd]] = network.edge_travel_time_s[~fwd]
    ok = located["snapped"].to_numpy(dtype=bool)
    seg = located["segment"].to_numpy()[ok]
    pos = located["position"].to_numpy(dtype=float)[ok]
    times = np.full(len(located), np.inf)
    with np.errstate(invalid="ignore"):
        via_start = t_start[seg] + pos * cross_fwd[seg]
        via_end = t_end[seg] + (1.0 - pos) * cross_bwd[seg]
    times[ok] = np.fmin(np.nan_to_num(via_start, nan=np.inf), np.nan_to_num(via_end, nan=np.inf))
    return times
