from __future__ import annotations

import io
import time

from gisapp.cli import _common
from gisapp.cli._common import timed_progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_shows_on_a_terminal_only(monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr(_common.sys, "stderr", terminal)
    with timed_progress("planning", 3):
        time.sleep(1.2)
    assert "planning" in terminal.getvalue()

    piped = io.StringIO()
    monkeypatch.setattr(_common.sys, "stderr", piped)
    with timed_progress("planning", 3):
        pass
    assert piped.getvalue() == ""
