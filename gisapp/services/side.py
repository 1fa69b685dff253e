"""Two independent computations side by side, the second in a forked process.

A command that needs two results which share nothing (a city's coverage from its
stations, and a plan's coverage hour by hour with its map) takes as long as the longer of
the two on a machine with two cores, instead of their sum.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

from layers.i18n import current_language, use_language

__all__ = ["side_by_side"]

Here = TypeVar("Here")
There = TypeVar("There")


def side_by_side(here: Callable[[], Here], there: Callable[[], There]) -> tuple[Here, There]:
    """``here()`` in this process while ``there()`` runs in a second, forked one.

    ``there`` is sent to the second process, so it is a module-level function or a
    ``functools.partial`` of one, with arguments and a result that pickle (a workspace
    goes by its location); it runs in the reader's language. With one core, or where a
    process cannot be forked, one runs after the other. Either way the answers are those
    of the two calls, and an error of either reaches the caller as it is.
    """
    if (os.cpu_count() or 1) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return here(), there()
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork")) as pool:
        future = pool.submit(_in_language, current_language(), there)
        first = here()
        return first, future.result()


def _in_language(language: str, call: Callable[[], There]) -> There:
    with use_language(language):
        return call()
