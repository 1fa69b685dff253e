"""Coverage and blind zones (盲区) on a street network, and the network seam of placement.

Coverage answers "what can a responder reach in time, and what can a camera see?":

* :func:`coverage_segments` — per street segment, the time from the nearest source
  (station, duty point, unit position) and the share of it reached within a budget;
* :func:`camera_sectors` and :func:`camera_coverage` — the street length each camera sees
  within its range and field of view;
* :func:`locate_places` and :func:`place_times` — travel times to points along streets
  (key places), exact along the segment they lie on;
* :func:`blind_zone_polygons` — the street pieces no one reaches in time (less what cameras
  see), buffered into polygons (never convex hulls) with the risk they carry;
* :func:`coverage_by_hour` — per hour of a shift, the share of risk, street and key places
  reachable from where the patrol units are (timed positions) plus the fixed posts;
* :func:`reach_by_hour` — per hour of a shift, the street the units reach in time from
  where they are at some instant of that hour (for maps).

The placement seam (:func:`candidate_sites`, :func:`node_weights`,
:func:`placement_input`, :meth:`PlacementInput.build`) turns a network, demand and
candidate sites into the demand × candidate travel-time matrix the models of
:mod:`routing.placement` take.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
import shapely.ops
from numpy.typing import ArrayLike, NDArray
from scipy.sparse import csr_array

from routing.errors import InfeasiblePlanError, RoutingError
from routing.network import StreetNetwork
from routing.placement import LSCP, MCLP, BackupCoverage, PCenter, PlacementModel, PMedian
from routing.reach import NodeReach, Sources, as_nodes, reach_nodes, segment_reach
from routing.snap import MAX_SNAP_DISTANCE_M, snap_points

logger = logging.getLogger(__name__)

#: Range of a camera whose layer gives none (a typical street camera sees about this far).
DEFAULT_CAMERA_RANGE_M = 50.0
#: Field of view of a camera whose layer gives none or no heading: all round (a dome).
DEFAULT_CAMERA_FOV_DEG = 360.0
#: Placement models by their command-line name.
PLACEMENT_MODELS: dict[str, type[PlacementModel]] = {
    "lscp": LSCP,
    "mclp": MCLP,
    "pmedian": PMedian,
    "pcenter": PCenter,
    "backup": BackupCoverage,
}
#: Vertices of a camera sector's arc per full circle.
_ARC_VERTICES = 72


# -- reach on segments ---------------------------------------------------------------------


def coverage_segments(
    network: StreetNetwork,
    reach: NodeReach,
    *,
    required_s: float | ArrayLike,
    weights: ArrayLike | None = None,
) -> pd.DataFrame:
    """Per segment: how soon it is reached and how much of it within its required time.

    Parameters
    ----------
    network
        The street network.
    reach
        Node travel times from :func:`routing.reach.reach_nodes` (best without a cutoff, so
        that late segments get a time too).
    required_s
        The time budget, one number or one per segment.
    weights
        Risk (or any weight) per segment; taken as spread evenly along the segment, so the
        covered weight is the weight times the reached fraction.

    Returns
    -------
    DataFrame
        Indexed by segment: ``first_s``, ``full_s`` (time by which all of it is reached),
        ``required_s``, ``from_start``, ``from_end``, ``reached_fraction``,
        ``reached_length_m``, ``blind_length_m``, ``weight``, ``covered_weight``.

    Raises
    ------
    RoutingError
        If ``required_s`` or ``weights`` does not fit the network or is negative.
    """
    n = network.n_segments
    required = _per_segment(required_s, n, "required_s")
    weight = np.zeros(n) if weights is None else _per_segment(weights, n, "weights")
    # one segment_reach per distinct budget keeps the exact partial-segment arithmetic
    frame = segment_reach(network, reach, cutoff_s=float(required[0]))
    for budget in np.unique(required)[1:] if len(np.unique(required)) > 1 else []:
        rows = required == budget
        other = segment_reach(network, reach, cutoff_s=float(budget))
        frame.loc[rows] = other.loc[rows]
    frame["required_s"] = required
    frame["blind_length_m"] = network.segment_length_m - frame["reached_length_m"]
    frame["weight"] = weight
    frame["covered_weight"] = weight * frame["reached_fraction"].to_numpy()
    return frame


def _per_segment(values: float | ArrayLike, n: int, argument: str) -> NDArray[np.float64]:
    array = np.asarray(values, dtype=float)
    array = np.full(n, float(array)) if array.ndim == 0 else array.reshape(-1)
    if len(array) != n:
        raise RoutingError(
            f"'{argument}' should hold one value per segment ({n:,}), got {len(array):,}"
        )
    if np.isnan(array).any() or (array < 0).any():
        raise RoutingError(f"'{argument}' should hold numbers >= 0 with no NaN")
    return array


def unreached_lines(network: StreetNetwork, segments: pd.DataFrame) -> NDArray[np.object_]:
    """The street pieces *not* reached: the complement of ``routing.reach.reached_lines``.

    Parameters
    ----------
    network
        The street network.
    segments
        The result of :func:`routing.reach.segment_reach` or :func:`coverage_segments`.

    Returns
    -------
    ndarray
        One LineString per segment with an unreached part: the whole segment, or the
        middle piece between the two reach fronts.
    """
    return _unreached_pieces(network, segments)[0]


def _unreached_pieces(
    network: StreetNetwork, segments: pd.DataFrame
) -> tuple[NDArray[np.object_], NDArray[np.int64]]:
    from_start = segments["from_start"].to_numpy()
    from_end = segments["from_end"].to_numpy()
    length_m = network.segment_length_m
    partial = from_start + from_end < 1.0
    whole = partial & (from_start <= 0) & (from_end <= 0)
    pieces: list[Any] = list(network.segment_geometry[whole])
    owners: list[int] = list(np.flatnonzero(whole))
    # the frontier is few segments: a loop over them is cheap
    for seg in np.flatnonzero(partial & ~whole):
        start_m = from_start[seg] * length_m[seg]
        end_m = (1.0 - from_end[seg]) * length_m[seg]
        pieces.append(shapely.ops.substring(network.segment_geometry[seg], start_m, end_m))
        owners.append(int(seg))
    return np.array(pieces, dtype=object), np.array(owners, dtype=np.int64)


# -- cameras -------------------------------------------------------------------------------


def camera_sectors(
    cameras: gpd.GeoDataFrame,
    *,
    crs: Any,
    default_range_m: float = DEFAULT_CAMERA_RANGE_M,
    default_fov_deg: float = DEFAULT_CAMERA_FOV_DEG,
) -> gpd.GeoSeries:
    """The area every camera sees: a sector ``heading_deg ± fov_deg / 2`` of ``range_m``.

    Headings are compass bearings (0 = north, 90 = east, clockwise). A camera with no
    heading, or a field of view of 360 degrees or more, sees a full circle.

    Parameters
    ----------
    cameras
        Points with optional ``range_m``, ``heading_deg`` and ``fov_deg``.
    crs
        Metric CRS to draw the sectors in (the network's).
    default_range_m, default_fov_deg
        Used where a camera has no value.

    Returns
    -------
    GeoSeries
        One polygon per camera, indexed like ``cameras``, in ``crs``.

    Raises
    ------
    RoutingError
        If ``cameras`` is not a point layer with a CRS, or a range or field of view is not
        positive.
    """
    if not isinstance(cameras, gpd.GeoDataFrame):
        raise RoutingError(f"'cameras' should be a GeoDataFrame, got {type(cameras).__name__}")
    if cameras.crs is None and len(cameras):
        raise RoutingError("'cameras' has no CRS; set it with .set_crs(...) (EPSG:4326)")
    if not default_range_m > 0 or not default_fov_deg > 0:
        raise RoutingError(
            f"'default_range_m' and 'default_fov_deg' should be > 0, got "
            f"{default_range_m!r} and {default_fov_deg!r}"
        )
    target = pyproj.CRS.from_user_input(crs)
    points = cameras.geometry if len(cameras) == 0 else cameras.geometry.to_crs(target)
    kinds = points[points.notna()].geom_type
    if (kinds != "Point").any():
        raise RoutingError(
            f"'cameras' should hold Point geometries, got {sorted(set(kinds))}; one point per "
            "camera"
        )
    range_m = _column_or(cameras, "range_m", default_range_m)
    fov = _column_or(cameras, "fov_deg", default_fov_deg)
    heading = pd.to_numeric(
        cameras["heading_deg"] if "heading_deg" in cameras.columns else pd.Series(np.nan),
        errors="coerce",
    ).to_numpy(dtype=float)
    if len(heading) != len(cameras):
        heading = np.full(len(cameras), np.nan)
    bad = (range_m <= 0) | (fov <= 0)
    if bad.any():
        rows = cameras.index[bad][:5].tolist()
        raise RoutingError(
            f"'cameras' rows {rows} have a range_m or fov_deg of 0 or less; give positive "
            "values or leave them empty for the defaults"
        )
    sectors = []
    for point, r, f, h in zip(points, range_m, fov, heading, strict=True):
        if point is None or point.is_empty:
            sectors.append(shapely.Polygon())
        elif f >= 360.0 or np.isnan(h):
            sectors.append(point.buffer(r, quad_segs=_ARC_VERTICES // 4))
        else:
            steps = max(2, math.ceil(_ARC_VERTICES * f / 360.0))
            bearings = np.radians(np.linspace(h - f / 2, h + f / 2, steps + 1))
            arc = np.column_stack([point.x + r * np.sin(bearings), point.y + r * np.cos(bearings)])
            sectors.append(shapely.Polygon([(point.x, point.y), *arc.tolist()]))
    return gpd.GeoSeries(sectors, index=cameras.index, crs=target)


def _column_or(frame: pd.DataFrame, name: str, default: float) -> NDArray[np.float64]:
    if name not in frame.columns:
        return np.full(len(frame), float(default))
    values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
    return np.where(np.isnan(values), float(default), values)


def camera_coverage(network: StreetNetwork, sectors: gpd.GeoSeries) -> pd.Series:
    """Street length every segment has inside some camera's sector.

    Parameters
    ----------
    network
        The street network.
    sectors
        Sector polygons from :func:`camera_sectors`, in the network CRS.

    Returns
    -------
    Series
        ``camera_length_m`` indexed by segment.
    """
    seen = np.zeros(network.n_segments)
    shapes = sectors.to_numpy() if len(sectors) else np.empty(0, dtype=object)
    shapes = shapes[~shapely.is_empty(shapes)] if len(shapes) else shapes
    if len(shapes):
        union = shapely.union_all(shapes)
        hit = network.segment_tree.query(union, predicate="intersects")
        seen[hit] = shapely.length(shapely.intersection(network.segment_geometry[hit], union))
    return pd.Series(
        seen, index=pd.RangeIndex(network.n_segments, name="segment"), name="camera_length_m"
    )


# -- places on the network -----------------------------------------------------------------


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


# -- blind zones ---------------------------------------------------------------------------


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
        raise RoutingError(f"'buffer_m' should be > 0, got {buffer_m!r}")
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
    buffered = shapely.buffer(pieces, buffer_m)
    union = shapely.union_all(buffered)
    zones = np.array(shapely.get_parts(union), dtype=object)
    tree = shapely.STRtree(zones)
    # a piece's midpoint lies inside exactly the zone its buffer joined
    mid = shapely.line_interpolate_point(pieces, 0.5, normalized=True)
    piece_idx, zone_idx = tree.query(mid, predicate="within")
    zone_of = np.full(len(pieces), -1, dtype=np.int64)
    zone_of[piece_idx] = zone_idx
    zone_of[zone_of < 0] = 0  # numerically on a border: any touching zone is right
    n = len(zones)
    full_s = segments["full_s"].to_numpy()[owner]
    reached_s = np.full(n, -np.inf)
    np.maximum.at(reached_s, zone_of, full_s)
    frame = gpd.GeoDataFrame(
        {
            "length_m": np.bincount(zone_of, weights=piece_length, minlength=n),
            "area_m2": shapely.area(zones),
            "risk": np.bincount(zone_of, weights=weight, minlength=n),
            "segments": np.array([len(set(owner[zone_of == z])) for z in range(n)]),
            "reached_s": reached_s,
        },
        geometry=zones,
        crs=network.crs,
    )
    frame = frame.sort_values(["risk", "length_m"], ascending=False, ignore_index=True)
    frame.insert(0, "zone", np.arange(1, n + 1))
    return frame


# -- coverage over a shift -----------------------------------------------------------------


def sample_positions(
    positions: pd.DataFrame,
    *,
    step_s: float = 60.0,
) -> pd.DataFrame:
    """Each unit's position every ``step_s`` seconds, interpolated between timed positions.

    Between two timed positions a unit is taken to move in a straight line at even speed;
    during a stop (two rows at the same place) it stays put. A unit counts only between its
    first and last time.

    Parameters
    ----------
    positions
        Rows ``unit_id``, ``time`` (timezone-aware timestamps), ``x``, ``y`` (metres).
    step_s
        Sampling interval.

    Returns
    -------
    DataFrame
        ``time``, ``unit_id``, ``x``, ``y`` for every sample instant and active unit.

    Raises
    ------
    RoutingError
        If a column is missing, a time is not a timestamp or ``step_s`` is not positive.
    """
    if not step_s > 0:
        raise RoutingError(f"'step_s' should be > 0 seconds, got {step_s!r}")
    missing = [c for c in ("unit_id", "time", "x", "y") if c not in positions.columns]
    if missing:
        raise RoutingError(
            f"'positions' lacks column(s) {', '.join(missing)}; give unit_id, time, x, y "
            "(one row per timed position of a unit)"
        )
    if len(positions) == 0:
        raise RoutingError("'positions' is empty: give at least one timed position of a unit")
    times = pd.to_datetime(positions["time"], errors="coerce")
    if times.isna().any():
        raise RoutingError(
            f"'positions' has {int(times.isna().sum()):,} time(s) that are not timestamps; "
            "write them in ISO 8601, e.g. 2026-05-01T22:15:00+08:00"
        )
    if times.dt.tz is None:
        raise RoutingError("'positions' times have no time zone; give ISO 8601 with an offset")
    zone = times.dt.tz
    epoch = (times.dt.tz_convert("UTC") - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
    frame = pd.DataFrame(
        {
            "unit_id": positions["unit_id"].astype(str).to_numpy(),
            "t": epoch.to_numpy(dtype=float),
            "x": pd.to_numeric(positions["x"], errors="coerce").to_numpy(dtype=float),
            "y": pd.to_numeric(positions["y"], errors="coerce").to_numpy(dtype=float),
        }
    )
    if frame[["x", "y"]].isna().any().any():
        raise RoutingError("'positions' has rows with no x or y; give every position")
    start = math.floor(frame["t"].min() / step_s) * step_s
    count = math.floor((frame["t"].max() - start) / step_s) + 1
    grid = start + step_s * np.arange(count)
    parts = []
    for unit, rows in frame.sort_values(["unit_id", "t"], kind="stable").groupby("unit_id"):
        t = rows["t"].to_numpy()
        active = grid[(grid >= t[0]) & (grid <= t[-1])]
        if len(active) == 0:
            active = np.array([t[0]])
        parts.append(
            pd.DataFrame(
                {
                    "t": active,
                    "unit_id": unit,
                    "x": np.interp(active, t, rows["x"].to_numpy()),
                    "y": np.interp(active, t, rows["y"].to_numpy()),
                }
            )
        )
    samples = pd.concat(parts, ignore_index=True).sort_values(["t", "unit_id"], ignore_index=True)
    samples.insert(
        0, "time", pd.to_datetime(samples.pop("t"), unit="s", utc=True).dt.tz_convert(zone)
    )
    return samples


def coverage_by_hour(
    network: StreetNetwork,
    positions: pd.DataFrame,
    *,
    minutes: Sequence[float] = (1, 3, 5),
    segment_weights: ArrayLike | None = None,
    places: pd.DataFrame | None = None,
    place_required_s: ArrayLike | None = None,
    fixed_sources: Sources | None = None,
    step_s: float = 60.0,
) -> pd.DataFrame:
    """Per clock hour of a shift: the share of risk, street and key places reached in time.

    At every sample instant the sources are the units' positions then (snapped to their
    nearest nodes) plus ``fixed_sources`` (stations, duty points); an hour's figure is the
    mean over its instants, i.e. the share of the hour's time a weight is covered.

    Parameters
    ----------
    network
        The street network.
    positions
        Timed positions ``unit_id``, ``time``, ``x``, ``y`` in the network CRS (see
        :func:`sample_positions`).
    minutes
        Time bands for the risk and street shares.
    segment_weights
        Risk per segment; the risk share is NaN without it.
    places, place_required_s
        Key places from :func:`locate_places` and the seconds each must be reached within.
    fixed_sources
        Sources present all shift (node indices or points).
    step_s
        Sampling interval of the positions.

    Returns
    -------
    DataFrame
        One row per hour and band: ``hour`` (start, in the positions' time zone),
        ``minutes``, ``samples``, ``units`` (most units active at once), ``risk_share``,
        ``street_share`` and ``key_places_share`` (within their own required time, NaN
        when there are no places).

    Raises
    ------
    RoutingError
        On malformed positions, bands or weights.
    """
    bands = sorted({float(m) for m in minutes})
    if not bands or bands[0] <= 0:
        raise RoutingError(f"'minutes' should be positive numbers, got {list(minutes)!r}")
    weight = (
        None
        if segment_weights is None
        else _per_segment(segment_weights, network.n_segments, "segment_weights")
    )
    total_weight = float(weight.sum()) if weight is not None else 0.0
    fixed = np.empty(0, np.int64) if fixed_sources is None else as_nodes(network, fixed_sources)
    if places is not None and place_required_s is None:
        raise RoutingError("'place_required_s' is needed with 'places': one time per place")
    place_required = (
        None if place_required_s is None else np.asarray(place_required_s, dtype=float).reshape(-1)
    )
    if places is not None and place_required is not None and len(place_required) != len(places):
        raise RoutingError(
            f"'place_required_s' should hold one time per place ({len(places):,}), got "
            f"{len(place_required):,}"
        )
    samples = sample_positions(positions, step_s=step_s)
    _, node = network.node_tree.query(samples[["x", "y"]].to_numpy())
    samples["node"] = np.asarray(node, dtype=np.int64)
    horizon_s = max(
        bands[-1] * 60.0,
        float(np.max(place_required))
        if place_required is not None and len(place_required)
        else 0.0,
    )
    cache: dict[tuple[int, ...], tuple[list[float], list[float], float]] = {}
    records = []
    for instant, rows in samples.groupby("time", sort=True):
        key = tuple(sorted(set(rows["node"].tolist()) | set(fixed.tolist())))
        if key not in cache:
            reach = reach_nodes(network, np.array(key, dtype=np.int64), cutoff_s=horizon_s)
            risk_shares, street_shares = [], []
            for band in bands:
                seg = segment_reach(network, reach, cutoff_s=band * 60.0)
                fraction = seg["reached_fraction"].to_numpy()
                risk_shares.append(
                    float((weight * fraction).sum()) / total_weight
                    if total_weight > 0
                    else math.nan
                )
                street_shares.append(
                    float((fraction * network.segment_length_m).sum())
                    / float(network.segment_length_m.sum())
                )
            if places is not None and place_required is not None and len(places):
                place_share = float(np.mean(place_times(network, reach, places) <= place_required))
            else:
                place_share = math.nan
            cache[key] = (risk_shares, street_shares, place_share)
        risk_shares, street_shares, place_share = cache[key]
        for band, r, s in zip(bands, risk_shares, street_shares, strict=True):
            records.append((instant, band, len(rows), r, s, place_share))
    frame = pd.DataFrame(
        records,
        columns=["time", "minutes", "units", "risk_share", "street_share", "key_places_share"],
    )
    frame["hour"] = frame["time"].dt.floor("h")
    out = (
        frame.groupby(["hour", "minutes"], sort=True)
        .agg(
            samples=("time", "nunique"),
            units=("units", "max"),
            risk_share=("risk_share", "mean"),
            street_share=("street_share", "mean"),
            key_places_share=("key_places_share", "mean"),
        )
        .reset_index()
    )
    logger.info(
        "coverage by hour: %s instants, %s distinct source sets, %s hours",
        f"{samples['time'].nunique():,}",
        f"{len(cache):,}",
        f"{out['hour'].nunique():,}",
    )
    return out


def reach_by_hour(
    network: StreetNetwork,
    positions: pd.DataFrame,
    *,
    minutes: float = 3.0,
    step_s: float = 60.0,
) -> dict[pd.Timestamp, pd.DataFrame]:
    """Per clock hour, the street reached within ``minutes`` from the units' positions.

    A piece of street counts for an hour when some unit reaches it in time from where it
    is at one of the hour's sample instants (the union over the hour). Only the units are
    sources: the fixed posts reach the same streets every hour.

    Parameters
    ----------
    network
        The street network.
    positions
        Timed positions ``unit_id``, ``time``, ``x``, ``y`` in the network CRS (see
        :func:`sample_positions`).
    minutes
        Travel time budget.
    step_s
        Sampling interval of the positions.

    Returns
    -------
    dict
        Hour start (in the positions' time zone) → one row per segment, as
        :func:`routing.reach.segment_reach`: ``from_start``, ``from_end`` (the longest
        pieces reached from either end during the hour), ``reached_fraction`` and
        ``reached_length_m``.

    Raises
    ------
    RoutingError
        On malformed positions or a budget that is not positive.
    """
    if not minutes > 0:
        raise RoutingError(f"'minutes' should be > 0, got {minutes!r}")
    cutoff_s = float(minutes) * 60.0
    samples = sample_positions(positions, step_s=step_s)
    _, node = network.node_tree.query(samples[["x", "y"]].to_numpy())
    samples["node"] = np.asarray(node, dtype=np.int64)
    samples["hour"] = samples["time"].dt.floor("h")
    out: dict[pd.Timestamp, pd.DataFrame] = {}
    n_sets = 0
    for _, rows in samples.groupby("hour", sort=True):
        # units dwell at stops: many instants share one set of source nodes
        source_sets = {tuple(sorted(set(g.tolist()))) for _, g in rows.groupby("time")["node"]}
        from_start = np.zeros(network.n_segments)
        from_end = np.zeros(network.n_segments)
        for nodes in source_sets:
            reach = reach_nodes(network, np.array(nodes, dtype=np.int64), cutoff_s=cutoff_s)
            seg = segment_reach(network, reach, cutoff_s=cutoff_s)
            np.maximum(from_start, seg["from_start"].to_numpy(), out=from_start)
            np.maximum(from_end, seg["from_end"].to_numpy(), out=from_end)
        n_sets += len(source_sets)
        fraction = np.minimum(from_start + from_end, 1.0)
        frame = pd.DataFrame(
            {
                "from_start": from_start,
                "from_end": from_end,
                "reached_fraction": fraction,
                "reached_length_m": fraction * network.segment_length_m,
            }
        )
        frame.index.name = "segment"
        out[rows["hour"].iloc[0]] = frame
    logger.info(
        "reach by hour: %s hours, %s source sets, %g min", f"{len(out):,}", f"{n_sets:,}", minutes
    )
    return out


# -- the placement seam --------------------------------------------------------------------


def node_degree(network: StreetNetwork) -> NDArray[np.int64]:
    """Number of distinct neighbouring nodes of every node (direction ignored)."""
    u = np.minimum(network.segment_u, network.segment_v)
    v = np.maximum(network.segment_u, network.segment_v)
    pairs = np.unique(np.column_stack([u, v])[u != v], axis=0)
    return np.bincount(pairs.reshape(-1), minlength=network.n_nodes).astype(np.int64)


def candidate_sites(
    network: StreetNetwork,
    *,
    min_degree: int = 3,
    spacing_m: float = 150.0,
    max_candidates: int = 400,
    seed: int = 0,
) -> pd.DataFrame:
    """Intersections as candidate duty-point sites, thinned to a manageable number.

    Nodes with at least ``min_degree`` neighbours are kept; of those in one square cell of
    ``spacing_m`` only the best-connected stays (ties: the lowest node), so candidates
    spread over the whole area; above ``max_candidates`` a seeded sample is kept.

    Returns
    -------
    DataFrame
        ``node``, ``id`` (``"node:<n>"``), ``kind`` (``"intersection"``), ``fixed`` (False).

    Raises
    ------
    RoutingError
        If an argument is out of range.
    """
    if min_degree < 1 or not spacing_m >= 0 or max_candidates < 1:
        raise RoutingError(
            f"'min_degree' and 'max_candidates' should be >= 1 and 'spacing_m' >= 0, got "
            f"{min_degree!r}, {max_candidates!r} and {spacing_m!r}"
        )
    degree = node_degree(network)
    nodes = np.flatnonzero(degree >= min_degree)
    if spacing_m > 0 and len(nodes):
        cell_x = np.floor(network.node_x[nodes] / spacing_m).astype(np.int64)
        cell_y = np.floor(network.node_y[nodes] / spacing_m).astype(np.int64)
        order = np.lexsort((nodes, -degree[nodes], cell_y, cell_x))
        cells = np.column_stack([cell_x[order], cell_y[order]])
        first = np.ones(len(order), dtype=bool)
        first[1:] = np.any(cells[1:] != cells[:-1], axis=1)
        nodes = np.sort(nodes[order[first]])
    if len(nodes) > max_candidates:
        rng = np.random.default_rng(seed)
        nodes = np.sort(rng.choice(nodes, size=max_candidates, replace=False))
    logger.info("%s intersection candidates (degree >= %d)", f"{len(nodes):,}", min_degree)
    return pd.DataFrame(
        {
            "node": nodes.astype(np.int64),
            "id": [f"node:{n}" for n in nodes],
            "kind": "intersection",
            "fixed": False,
        }
    )


def node_weights(network: StreetNetwork, segment_weights: ArrayLike) -> NDArray[np.float64]:
    """Segment weights moved onto nodes: half of every segment's weight to each end."""
    weight = _per_segment(segment_weights, network.n_segments, "segment_weights")
    half = weight / 2
    at_u = np.bincount(network.segment_u, weights=half, minlength=network.n_nodes)
    at_v = np.bincount(network.segment_v, weights=half, minlength=network.n_nodes)
    return np.asarray(at_u + at_v, dtype=np.float64)


@dataclass(frozen=True)
class PlacementInput:
    """A placement instance on a network: demand, candidates and travel times between them.

    Parameters
    ----------
    travel_time_s
        Sparse demand × candidate seconds from each candidate to each demand; only pairs
        within the cutoff (and the demand's own radius) are stored.
    weights
        Demand weights.
    demand_nodes, candidate_nodes
        Network nodes of the demand and candidates.
    demand_ids, candidate_ids
        Ids for messages and answers.
    candidate_kind
        ``intersection``, ``station``, ``duty_point``, ``key_place``...
    fixed
        Candidate indices always open (stations, existing duty points).
    cutoff_s
        The cutoff of the matrix.
    """

    travel_time_s: csr_array
    weights: NDArray[np.float64]
    demand_nodes: NDArray[np.int64]
    candidate_nodes: NDArray[np.int64]
    demand_ids: tuple[Any, ...]
    candidate_ids: tuple[Any, ...]
    candidate_kind: tuple[str, ...]
    fixed: NDArray[np.int64]
    cutoff_s: float | None

    def build(
        self,
        model: str,
        *,
        p: int | None = None,
        radius_s: float | None = None,
        capacities: ArrayLike | None = None,
        require_full_coverage: bool = False,
    ) -> PlacementModel:
        """Build a placement model of :mod:`routing.placement` over this instance.

        Parameters
        ----------
        model
            ``lscp``, ``mclp``, ``pmedian``, ``pcenter`` or ``backup``.
        p
            Duty points to open, fixed ones included (not for ``lscp``).
        radius_s
            Service radius (``lscp``, ``mclp``, ``backup``; optional for the others).
        capacities
            Per-candidate capacity (``pmedian`` only).
        require_full_coverage
            ``backup`` only: every demand covered at least once.

        Raises
        ------
        RoutingError
            On an unknown model or a parameter the model does not take.
        InfeasiblePlanError
            From the model (p above the candidates, unreachable demand...).
        """
        key = model.lower()
        if key not in PLACEMENT_MODELS:
            raise RoutingError(
                f"'model' should be one of {', '.join(PLACEMENT_MODELS)}, got {model!r}"
            )
        if key != "lscp" and p is None:
            raise RoutingError(f"'p' is required for model {key!r}: the number of duty points")
        if key in ("lscp", "mclp", "backup") and radius_s is None:
            raise RoutingError(f"'radius_s' is required for model {key!r}: the service radius")
        if capacities is not None and key != "pmedian":
            raise RoutingError("'capacities' applies to the pmedian model only")
        if p is not None and p > len(self.candidate_ids):
            raise InfeasiblePlanError(
                f"'p' is {p} but there are only {len(self.candidate_ids):,} candidate sites "
                "(intersections, stations, duty points, key places); lower p or add candidates"
            )
        common: dict[str, Any] = {
            "weights": self.weights,
            "fixed": self.fixed,
            "demand_ids": self.demand_ids,
            "candidate_ids": self.candidate_ids,
        }
        matrix = self.travel_time_s
        if key == "lscp":
            return LSCP.from_cost_matrix(matrix, radius_s=float(radius_s or 0), **common)
        if key == "mclp":
            return MCLP.from_cost_matrix(
                matrix, radius_s=float(radius_s or 0), p=int(p or 0), **common
            )
        if key == "backup":
            return BackupCoverage.from_cost_matrix(
                matrix,
                radius_s=float(radius_s or 0),
                p=int(p or 0),
                require_full_coverage=require_full_coverage,
                **common,
            )
        if key == "pmedian":
            return PMedian.from_cost_matrix(
                matrix, p=int(p or 0), radius_s=radius_s, capacities=capacities, **common
            )
        return PCenter.from_cost_matrix(matrix, p=int(p or 0), radius_s=radius_s, **common)


def placement_input(
    network: StreetNetwork,
    *,
    demand_nodes: ArrayLike,
    candidates: pd.DataFrame,
    weights: ArrayLike | None = None,
    demand_ids: Sequence[Any] | None = None,
    demand_radius_s: ArrayLike | None = None,
    cutoff_s: float | None = None,
) -> PlacementInput:
    """Build the demand × candidate travel-time matrix of a placement on the network.

    Parameters
    ----------
    network
        The street network.
    demand_nodes
        Node of every demand (risk nodes from :func:`node_weights`, key places' nodes...).
    candidates
        ``node`` plus optional ``id``, ``kind`` and ``fixed`` (existing posts): e.g.
        :func:`candidate_sites` concatenated with stations and duty points. Duplicate nodes
        are kept once, a fixed one winning.
    weights
        Demand weights; 1 each by default.
    demand_ids
        Demand ids; ``"node:<n>"`` by default.
    demand_radius_s
        Per-demand largest admissible time (e.g. a school's 3 minutes beside a mall's 5):
        pairs beyond it are left out.
    cutoff_s
        Pairs slower than this are left out (keeps the matrix sparse); ``None`` keeps all.

    Returns
    -------
    PlacementInput

    Raises
    ------
    RoutingError
        If there is no demand or no candidate, or the columns do not fit.
    NetworkError
        If a node is not on the network.
    """
    nodes = as_nodes(network, np.asarray(demand_nodes), argument="demand_nodes")
    if len(nodes) == 0:
        raise RoutingError(
            "no demand to cover: 'demand_nodes' is empty (no risk on any street and no key "
            "place); import incidents or key places, or choose another demand"
        )
    if not isinstance(candidates, pd.DataFrame) or "node" not in candidates.columns:
        raise RoutingError("'candidates' should be a DataFrame with a 'node' column")
    if len(candidates) == 0:
        raise RoutingError(
            "no candidate sites: 'candidates' is empty; add intersections (candidate_sites), "
            "stations or key places"
        )
    cand = candidates.copy()
    cand["fixed"] = cand["fixed"].fillna(False).astype(bool) if "fixed" in cand else False
    if "id" not in cand:
        cand["id"] = [f"node:{n}" for n in cand["node"]]
    if "kind" not in cand:
        cand["kind"] = "site"
    # one site per node: an existing post beats an intersection at the same place
    cand = cand.sort_values("fixed", ascending=False, kind="stable").drop_duplicates("node")
    cand = cand.sort_values(["fixed", "node"], ascending=[False, True], kind="stable")
    cand_nodes = as_nodes(network, cand["node"].to_numpy(dtype=np.int64), argument="candidates")
    weight = (
        np.ones(len(nodes)) if weights is None else np.asarray(weights, dtype=float).reshape(-1)
    )
    if len(weight) != len(nodes):
        raise RoutingError(
            f"'weights' should hold one value per demand node ({len(nodes):,}), got {len(weight):,}"
        )
    ids = tuple(f"node:{n}" for n in nodes) if demand_ids is None else tuple(demand_ids)
    if len(ids) != len(nodes):
        raise RoutingError(
            f"'demand_ids' should hold one id per demand node ({len(nodes):,}), got {len(ids):,}"
        )
    from routing.reach import travel_time_matrix

    # candidates travel to the demand, so the matrix is built candidate-major and turned
    matrix = travel_time_matrix(network, cand_nodes, nodes, cutoff_s=cutoff_s, sparse=True)
    demand_by_candidate = csr_array(matrix.T).tocoo()
    rows, cols, data = demand_by_candidate.row, demand_by_candidate.col, demand_by_candidate.data
    if demand_radius_s is not None:
        radius = np.asarray(demand_radius_s, dtype=float).reshape(-1)
        if len(radius) != len(nodes):
            raise RoutingError(
                f"'demand_radius_s' should hold one value per demand node ({len(nodes):,}), "
                f"got {len(radius):,}"
            )
        keep = data <= radius[rows]
        rows, cols, data = rows[keep], cols[keep], data[keep]
    travel = csr_array((data, (rows, cols)), shape=(len(nodes), len(cand_nodes)))
    logger.info(
        "placement input: %s demand, %s candidates (%s fixed), %s reachable pairs",
        f"{len(nodes):,}",
        f"{len(cand_nodes):,}",
        f"{int(cand['fixed'].sum()):,}",
        f"{travel.nnz:,}",
    )
    return PlacementInput(
        travel_time_s=travel,
        weights=weight,
        demand_nodes=nodes,
        candidate_nodes=cand_nodes,
        demand_ids=ids,
        candidate_ids=tuple(cand["id"].astype(str)),
        candidate_kind=tuple(cand["kind"].astype(str)),
        fixed=np.flatnonzero(cand["fixed"].to_numpy()).astype(np.int64),
        cutoff_s=cutoff_s,
    )


__all__ = [
    "DEFAULT_CAMERA_FOV_DEG",
    "DEFAULT_CAMERA_RANGE_M",
    "PLACEMENT_MODELS",
    "PlacementInput",
    "blind_zone_polygons",
    "camera_coverage",
    "camera_sectors",
    "candidate_sites",
    "coverage_by_hour",
    "coverage_segments",
    "locate_places",
    "node_degree",
    "node_weights",
    "place_times",
    "placement_input",
    "sample_positions",
    "unreached_lines",
]
