"""Headless Chromium as gisapp drives it: printing briefings, browser tests, map benchmarks.

Chromium comes from the system (Debian's ``chromium`` package); it is never downloaded.
"""

from __future__ import annotations

from pathlib import Path

#: Where Chromium is looked for when no path is given.
CHROMIUM_PATH = Path("/usr/bin/chromium")

#: Chromium flags: no sandbox in containers, and no background calls to any server
#: (without them Chromium keeps trying to reach the internet).
CHROMIUM_ARGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
