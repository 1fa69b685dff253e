"""Fixtures shared by every test package.

Real data (``shared/data`` beside the repository: New Haven, Liechtenstein, Helsinki,
Wuhan) is found through :func:`shared_data` alone; a test that needs a file skips cleanly
when the folder is absent.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

#: Where the real data sits: ``$GISAPP_SHARED_DATA``, else ``../shared/data`` beside the checkout.
SHARED_DATA = Path(
    os.environ.get("GISAPP_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data"
)

SharedData = Callable[[str], Path]


def shared_file(name: str) -> Path:
    """The path of one shared data file; skips the calling test when it is absent."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"shared data file {name} is not available in {SHARED_DATA}")
    return path


@pytest.fixture(scope="session")
def shared_data() -> SharedData:
    """Look up a file of the shared real data by name (``shared_data("new_haven.gpkg")``)."""
    return shared_file
