"""Coverage through a shift: units' positions sampled in time, shares reached per clock hour."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.sparse.csgraph import dijkstra

from layers.i18n import _, format_number
from routing.coverage.places import place_times
from routing.coverage.segments import per_segment
from routing.errors import RoutingError
from routing.network import StreetNetwork
from routing.reach import NodeReach, SegmentEnds, Sources, as_nodes, reach_nodes

logger = logging.getLogger(__name__)


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
        raise RoutingError(_("'step_s' should be > 0 seconds, got %(value)r", value=step_s))
    missing = [c for c in ("unit_id", "time", "x", "y") if c not in positions.columns]
    if missing:
        raise RoutingError(
            _(
                "'positions' lacks column(s) %(missing)s; give unit_id, time, x, y (one row per "
                "timed position of a unit)",
                missing=", ".join(missing),
            )
        )
    if len(positions) == 0:
        raise RoutingError(_("'positions' is empty: give at least one timed position of a unit"))
    times = pd.to_datetime(positions["time"], errors="coerce")
    if times.isna().any():
        raise RoutingError(
            _(
                "'positions' has %(n)s time(s) that are not timestamps; write them in ISO 8601, "
                "e.g. 2026-05-01T22:15:00+08:00",
                n=format_number(int(times.isna().sum())),
            )
        )
    if times.dt.tz is None:
        raise RoutingError(_("'positions' times have no time zone; give ISO 8601 with an offset"))
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
        raise RoutingError(_("'positions' has rows with no x or y; give every position"))
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
        raise RoutingError(
            _("'minutes' should be positive numbers, got %(value)r", value=list(minutes))
        )
    weight = (
        None
        if segment_weights is None
        else per_segment(segment_weights, network.n_segments, "segment_weights")
    )
    fixed = np.empty(0, np.int64) if fixed_sources is None else as_nodes(network, fixed_sources)
    place_required = _place_required(places, place_required_s)
    samples = sample_positions(positions, step_s=step_s)
    _dist, node = network.node_tree.query(samples[["x", "y"]].to_numpy())
    samples["node"] = np.asarray(node, dtype=np.int64)
    horizon_s = max(
        bands[-1] * 60.0,
        float(np.max(place_required))
        if place_required is not None and len(place_required)
        else 0.0,
    )
    ends = SegmentEnds(network)
    shares = _InstantShares(network, ends, np.array(bands) * 60.0, weight, places, place_required)
    # the fixed posts reach the same nodes at every instant: one search, kept
    fixed_s = _node_times(network, fixed, horizon_s)
    cache: dict[tuple[int, ...], tuple[list[float], list[float], float]] = {}
    records = []
    # one search per position; an instant takes the nearest of its units (many small
    # searches cost less than one search from all units per instant)
    reach = _NodeRows(network, horizon_s)
    for _hour, hour_rows in samples.groupby(samples["time"].dt.floor("h"), sort=True):
        reach.search(hour_rows["node"].to_numpy())
        for instant, rows in hour_rows.groupby("time", sort=True):
            key = tuple(np.unique(rows["node"].to_numpy()).tolist())
            if key not in cache:
                cache[key] = shares(reach.nearest(np.array(key, dtype=np.int64), fixed_s))
            risk_shares, street_shares, place_share = cache[key]
            for band, r, s in zip(bands, risk_shares, street_shares, strict=True):
                records.append((instant, band, len(rows), r, s, place_share))
    out = _hourly_means(records)
    logger.info(
        "coverage by hour: %s instants, %s distinct source sets, %s hours",
        f"{samples['time'].nunique():,}",
        f"{len(cache):,}",
        f"{out['hour'].nunique():,}",
    )
    return out


def _node_times(
    network: StreetNetwork, nodes: NDArray[np.int64], cutoff_s: float
) -> NDArray[np.float64]:
    """Seconds from the nearest of ``nodes`` to every node within ``cutoff_s`` (else inf)."""
    if not len(nodes):
        return np.full(network.n_nodes, np.inf)
    return reach_nodes(network, nodes, cutoff_s=cutoff_s).time_s


class _NodeRows:
    """Seconds from source nodes to the nodes each reaches within a cutoff, stored
    sparsely: each node is searched once over the whole shift (a unit dwelling across the
    end of an hour, or coming back to a stop, is not searched again)."""

    #: Sources per search batch (bounds the dense rows held at once).
    BATCH = 64

    def __init__(self, network: StreetNetwork, cutoff_s: float) -> None:
        self._graph = network.travel_time_csr
        self._cutoff_s = cutoff_s
        self._rows: dict[int, tuple[NDArray[np.int32], NDArray[np.float64]]] = {}

    def search(self, nodes: NDArray[np.int64]) -> None:
        """Search from every node of ``nodes`` not searched yet."""
        missing = np.array(sorted(set(nodes.tolist()) - self._rows.keys()), dtype=np.int64)
        for start in range(0, len(missing), self.BATCH):
            batch = missing[start : start + self.BATCH]
            dense = np.atleast_2d(
                dijkstra(self._graph, directed=True, indices=batch, limit=self._cutoff_s)
            )
            row, column = np.nonzero(np.isfinite(dense))
            seconds: NDArray[np.float64] = dense[row, column]
            reached: NDArray[np.int32] = column.astype(np.int32)
            ends = np.searchsorted(row, np.arange(len(batch) + 1))
            for i, node in enumerate(batch.tolist()):
                self._rows[node] = (reached[ends[i] : ends[i + 1]], seconds[ends[i] : ends[i + 1]])

    def nearest(
        self, sources: NDArray[np.int64], base_s: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Seconds from the nearest of ``sources`` (nodes searched already) or the
        ``base_s`` times, whichever is less, to every node."""
        time_s = base_s.copy()
        for node in sources.tolist():
            columns, seconds = self._rows[node]  # once each in a row
            time_s[columns] = np.minimum(time_s[columns], seconds)
        return time_s


class _InstantShares:
    """The shares one instant's node times reach: risk and street per band, key places.

    The arithmetic is that of :func:`routing.reach.segment_reach` for every band at once,
    without a frame per band and instant.
    """

    def __init__(
        self,
        network: StreetNetwork,
        ends: SegmentEnds,
        cutoffs_s: NDArray[np.float64],
        weight: NDArray[np.float64] | None,
        places: pd.DataFrame | None,
        place_required: NDArray[np.float64] | None,
    ) -> None:
        self._network = network
        self._ends = ends
        self._cutoffs_s = cutoffs_s
        self._weight = weight
        self._total_weight = float(weight.sum()) if weight is not None else 0.0
        self._total_length = float(network.segment_length_m.sum())
        has_places = places is not None and place_required is not None and len(places)
        self._places = places if has_places else None
        self._place_required = place_required

    def __call__(self, time_s: NDArray[np.float64]) -> tuple[list[float], list[float], float]:
        """Risk shares and street shares (one per band) and the key-place share."""
        from_start, from_end = self._ends.fractions(time_s, self._cutoffs_s)
        fraction = np.minimum(from_start + from_end, 1.0)
        length = self._network.segment_length_m
        street = (fraction * length).sum(axis=1) / self._total_length
        if self._weight is not None and self._total_weight > 0:
            risk = ((self._weight * fraction).sum(axis=1) / self._total_weight).tolist()
        else:
            risk = [math.nan] * len(self._cutoffs_s)
        place_share = math.nan
        if self._places is not None and self._place_required is not None:
            reach = NodeReach(
                time_s=time_s,
                source=np.full(len(time_s), -1, dtype=np.int64),
                sources=np.empty(0, dtype=np.int64),
                cutoff_s=float(self._cutoffs_s[-1]),
            )
            times = place_times(self._network, reach, self._places)
            place_share = float(np.mean(times <= self._place_required))
        return risk, street.tolist(), place_share


def _place_required(
    places: pd.DataFrame | None, place_required_s: ArrayLike | None
) -> NDArray[np.float64] | None:
    """The time each key place must be reached within, checked against the places."""
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
    return place_required


def _hourly_means(records: list[tuple[Any, float, int, float, float, float]]) -> pd.DataFrame:
    """Instant records averaged per clock hour and band."""
    frame = pd.DataFrame(
        records,
        columns=["time", "minutes", "units", "risk_share", "street_share", "key_places_share"],
    )
    frame["hour"] = frame["time"].dt.floor("h")
    return (
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
        raise RoutingError(_("'minutes' should be > 0, got %(value)r", value=minutes))
    cutoff_s = float(minutes) * 60.0
    samples = sample_positions(positions, step_s=step_s)
    _dist, node = network.node_tree.query(samples[["x", "y"]].to_numpy())
    samples["node"] = np.asarray(node, dtype=np.int64)
    samples["hour"] = samples["time"].dt.floor("h")
    ends = SegmentEnds(network)
    out: dict[pd.Timestamp, pd.DataFrame] = {}
    n_nodes = 0
    for _hour, rows in samples.groupby("hour", sort=True):
        # a piece is reached in some instant of the hour when it is reached from the union
        # of the hour's positions (the earliest arrival over the instants is the arrival
        # from all of them): one search per hour, not one per instant
        nodes = np.unique(rows["node"].to_numpy())
        n_nodes += len(nodes)
        time_s = _node_times(network, nodes, cutoff_s)
        from_start, from_end = ends.fractions(time_s, np.array([cutoff_s]))
        fraction = np.minimum(from_start[0] + from_end[0], 1.0)
        frame = pd.DataFrame(
            {
                "from_start": from_start[0],
                "from_end": from_end[0],
                "reached_fraction": fraction,
                "reached_length_m": fraction * network.segment_length_m,
            }
        )
        frame.index.name = "segment"
        out[rows["hour"].iloc[0]] = frame
    logger.info(
        "reach by hour: %s hours, %s source nodes, %g min", f"{len(out):,}", f"{n_nodes:,}", minutes
    )
    return out
