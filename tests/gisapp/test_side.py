"""Two computations side by side: the second in another process, in the reader's language."""

from __future__ import annotations

import functools
import os

import pytest

from gisapp.errors import WorkspaceError
from gisapp.services.side import side_by_side
from layers.i18n import gettext, use_language


def _refuse(message: str) -> None:
    raise WorkspaceError(message)


def test_the_second_call_runs_in_another_process_in_the_readers_language() -> None:
    with use_language("zh"):
        here, there = side_by_side(lambda: gettext("Grids"), functools.partial(gettext, "Grids"))
    assert there == here != "Grids"  # translated on both sides
    if (os.cpu_count() or 1) >= 2:
        _, pid = side_by_side(lambda: None, os.getpid)
        assert pid != os.getpid()


def test_an_error_of_either_side_reaches_the_caller() -> None:
    with pytest.raises(WorkspaceError, match="over there"):
        side_by_side(lambda: 1, functools.partial(_refuse, "over there"))
    with pytest.raises(WorkspaceError, match="right here"):
        side_by_side(lambda: _refuse("right here"), functools.partial(int, "2"))
