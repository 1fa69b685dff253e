"""Reach on street segments: the time from the nearest source, the share reached, the
streets left unreached."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import shapely
import shapely.ops
from numpy.typing import ArrayLike, NDArray

from routing.errors import RoutingError
from routing.network import StreetNetwork
from routing.reach import NodeReach, segment_reach


def per_segment(values: float | ArrayLike, n: int, argument: str) -> NDArray[np.float64]:
    """One value >= 0 per segment (a scalar is repeated), checked; ``argument`` names it."""
    array = np.asarray(values, dtype=float)
    array = np.full(n, float(array)) if array.ndim == 0 else array.reshape(-1)
    if len(array) != n:
        raise RoutingError(
            f"'{argument}' should hold one value per segment ({n:,}), got {len(array):,}"
        )
    if np.isnan(array).any() or (array < 0).any():
        raise RoutingError(f"'{argument}' should hold numbers >= 0 with no NaN")
    return array


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
    required = per_segment(required_s, n, "required_s")
    weight = np.zeros(n) if weights is None else per_segment(weights, n, "weights")
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
