"""Fixtures shared by every test package.

Real data (``shared/data`` beside the repository: New Haven, Liechtenstein, Helsinki,
Wuhan) is found through :func:`shared_data` alone; a test that needs a file skips cleanly
when the folder is absent.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
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


@pytest.fixture(autouse=True)
def english_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests read English unless they ask for another language: a machine whose own locale
    is Chinese (LANG=zh_CN.UTF-8) or a GISAPP_LANG left set must not change what they see."""
    from layers.i18n import normalize_language

    for name in ("GISAPP_LANG", "GISAPP_LANGUAGE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        if normalize_language(os.environ.get(name)) == "zh_CN":
            monkeypatch.setenv(name, "C.UTF-8")


# -- servers: Redis for the job queue (PostGIS: tests/store/conftest.py) ---------------------


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The test Redis server's address, emptied before and after the test."""
    url = os.environ.get("GISAPP_TEST_REDIS_URL", "")
    if not url:
        if os.environ.get("GISAPP_REQUIRE_SERVERS") == "1":
            pytest.fail("GISAPP_TEST_REDIS_URL is not set (start one with .ci/redis.sh)")
        pytest.skip("no Redis server: set GISAPP_TEST_REDIS_URL (start one with .ci/redis.sh)")
    from redis import Redis

    connection = Redis.from_url(url)
    connection.flushdb()
    yield url
    connection.flushdb()
    connection.close()
