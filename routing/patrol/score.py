"""The dosage objective: the one score every plan gets, ours, the baseline and the optimum."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from routing.errors import RoutingError
from routing.patrol.inputs import HOUR_S, PatrolOptions


@dataclass(frozen=True)
class DosageScore:
    """A plan's dosage: the total and the credit of every stop (in the order given)."""

    total: float
    credit: NDArray[np.float64]
    full_stops: int
    repeat_stops: int


def dosage_score(
    hotspot: NDArray[np.int64] | Sequence[int],
    arrive_s: NDArray[np.float64] | Sequence[float],
    dwell_s: NDArray[np.float64] | Sequence[float],
    risk_by_hour: NDArray[np.float64],
    *,
    shift_start_s: int,
    options: PatrolOptions | None = None,
    kind: Sequence[str] | None = None,
) -> DosageScore:
    """Risk-weighted dosage of a set of hotspot stops: the one objective every plan gets.

    A stop of at least ``dwell_min_s`` starting in local clock hour ``h`` earns the
    hotspot's risk of hour ``h``; a stop starting less than ``revisit_spacing_s`` after the
    previous stop at the same hotspot (by any unit) earns ``repeat_credit`` of it; a
    shorter stop earns nothing.

    Parameters
    ----------
    hotspot, arrive_s, dwell_s
        One entry per stop: the hotspot index, the arrival (seconds after the shift start)
        and the stop length.
    risk_by_hour
        Shape ``(n_hotspots, 24)``.
    shift_start_s
        Local clock time of the shift start, seconds after midnight.
    options
        Dwell and spacing rules.
    kind
        The :attr:`Stop.kind` of every stop, to score a whole timetable: only ``"hotspot"``
        stops count; breaks and stations earn nothing and are not visits (a break taken at
        a hotspot carries that hotspot's index). Without it every stop is a hotspot stop.
    """
    opts = options or PatrolOptions()
    idx = np.asarray(hotspot, dtype=np.int64)
    arrive = np.asarray(arrive_s, dtype=float)
    dwell = np.asarray(dwell_s, dtype=float)
    credit = np.zeros(len(idx))
    # a second's tolerance: timetables are in whole seconds
    long_enough = dwell >= opts.dwell_min_s - 1e-6
    if kind is not None:
        is_visit = np.asarray(kind, dtype=object) == "hotspot"
        if len(is_visit) != len(idx):
            raise RoutingError(
                f"'kind' should have one entry per stop ({len(idx):,}), got {len(is_visit):,}"
            )
        long_enough &= is_visit
        idx = np.where(is_visit, idx, 0)
    hour = ((shift_start_s + np.floor(arrive + 1e-9)) // HOUR_S).astype(np.int64) % 24
    base = np.asarray(risk_by_hour, dtype=float)[idx, hour] if len(idx) else credit
    repeats = 0
    for h in np.unique(idx):
        at = np.flatnonzero((idx == h) & long_enough)
        at = at[np.argsort(arrive[at], kind="stable")]
        previous = -np.inf
        for stop in at:
            if arrive[stop] - previous >= opts.revisit_spacing_s - 1e-6:
                credit[stop] = base[stop]
            else:
                credit[stop] = opts.repeat_credit * base[stop]
                repeats += 1
            previous = arrive[stop]
    return DosageScore(
        total=float(credit.sum()),
        credit=credit,
        full_stops=int(long_enough.sum()) - repeats,
        repeat_stops=repeats,
    )
