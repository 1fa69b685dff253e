"""Wall-clock timing for benchmarks: ours and its anchors interleaved, median reported.

The machines are shared and noisy: a burst of load from another job hits whichever side
runs at that moment. Running the sides alternately (A B C A B C ...) spreads such bursts
over all of them, and the median of the repeats ignores the odd outlier; the minimum is
reported beside it.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Timing:
    """Repeated wall-clock times of one side of a comparison.

    Parameters
    ----------
    times_s
        Seconds of every call, in the order they ran.
    result
        What the last call returned.
    """

    times_s: tuple[float, ...]
    result: Any

    @property
    def median_s(self) -> float:
        return statistics.median(self.times_s)

    @property
    def min_s(self) -> float:
        return min(self.times_s)


def interleaved(
    sides: Mapping[str, Callable[[], Any]],
    *,
    repeats: int,
    setup: Mapping[str, Callable[[], None]] | None = None,
) -> dict[str, Timing]:
    """Time every side ``repeats`` times, taking turns: one call of each side per round.

    Parameters
    ----------
    sides
        Name -> function to time; called with no argument, in the mapping's order.
    repeats
        Calls of each side (rounds).
    setup
        Name -> function run, untimed, before each call of that side (e.g. to drop a cached
        spatial index so that every call starts cold).

    Returns
    -------
    dict
        Name -> :class:`Timing` of that side.
    """
    if repeats < 1:
        raise ValueError(f"'repeats' should be >= 1, got {repeats!r}")
    setup = setup or {}
    times: dict[str, list[float]] = {name: [] for name in sides}
    results: dict[str, Any] = {}
    for _round in range(repeats):
        for name, func in sides.items():
            prepare = setup.get(name)
            if prepare is not None:
                prepare()
            start = time.perf_counter()
            results[name] = func()
            times[name].append(time.perf_counter() - start)
    return {name: Timing(tuple(times[name]), results[name]) for name in sides}


def best_of(
    repeats: int, func: Callable[[], Any], *, setup: Callable[[], None] | None = None
) -> tuple[float, Any]:
    """Best wall-clock seconds of ``repeats`` calls of one function, and the last result.

    For a figure with nothing to compare against in the same run (e.g. a build time);
    comparisons use :func:`interleaved`.
    """
    timing = interleaved(
        {"func": func}, repeats=repeats, setup=None if setup is None else {"func": setup}
    )["func"]
    return timing.min_s, timing.result
