from __future__ import annotations

import io

import pytest

from gisapp.cli import _common
from gisapp.cli._common import share_progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_shows_on_a_terminal_only(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = _Terminal()
    monkeypatch.setattr(_common.sys, "stderr", terminal)
    with share_progress("planning") as report:
        assert report is not None
        for share in (0.1, 0.5, 0.4, 1.0):  # a share never goes back
            report(share)
    assert "planning" in terminal.getvalue() and "100%" in terminal.getvalue()

    piped = io.StringIO()
    monkeypatch.setattr(_common.sys, "stderr", piped)
    with share_progress("planning") as report:
        assert report is None
    assert piped.getvalue() == ""
