"""Fixtures shared by every test package.

Real data (``shared/data`` beside the repository: New Haven, Liechtenstein, Helsinki,
Wuhan) is found through :func:`shared_data` alone; a test that needs a file skips cleanly
when the folder is absent.

Workspaces on every store: :func:`location` (where a new workspace goes) and
:func:`sample_location` (a fresh copy of the bundled New Haven sample) run a test once on
a GeoPackage file and once in a fresh schema of a PostGIS server (test ids ``gpkg`` and
``postgis``). The server is found through ``GISAPP_TEST_POSTGRES_URL`` (``.ci/postgres.sh``
starts one and prints it); without it the PostGIS runs are skipped, unless
``GISAPP_REQUIRE_SERVERS=1`` asks for every server, when they fail instead.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


# -- servers: PostGIS for the workspaces -------------------------------------------------------

#: The stores every workspace test runs on (the test ids).
BACKENDS = ("gpkg", "postgis")
#: The bundled sample the ``sample_location`` fixtures copy.
SAMPLE = "new_haven"


def postgis_server_url() -> str:
    """The test PostGIS server's address; skips (or fails, when servers are required)."""
    url = os.environ.get("GISAPP_TEST_POSTGRES_URL", "")
    if url:
        return url
    message = "no PostGIS server: set GISAPP_TEST_POSTGRES_URL (see .ci/postgres.sh)"
    if os.environ.get("GISAPP_REQUIRE_SERVERS") == "1":
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def fresh_schema() -> Iterator[str]:
    """A workspace URL in a new schema of the test server; the schema is dropped after."""
    import psycopg
    from psycopg import sql

    url = postgis_server_url()
    schema = f"test_{uuid.uuid4().hex[:12]}"
    try:
        yield f"{url}{'&' if '?' in url else '?'}schema={schema}"
    finally:
        with psycopg.connect(url, autocommit=True) as con:
            con.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def postgis_url() -> Iterator[str]:
    """A workspace URL in a fresh schema of the test server; the schema is dropped after."""
    with fresh_schema() as url:
        yield url


def location_for(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A new workspace location on ``backend`` (the PostGIS schema lives for the test)."""
    if backend == "gpkg":
        return str(tmp_path / "ws.gpkg")
    return str(request.getfixturevalue("postgis_url"))


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The store a test's workspaces are on: ``gpkg`` or ``postgis`` (the test id).

    Module-scoped, so a test module's shared workspace and the fresh ones of its tests are
    on the same store, and the tests of one store run together."""
    return str(request.param)


@pytest.fixture
def location(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a new workspace goes, once per store."""
    return location_for(backend, tmp_path, request)


@contextmanager
def sample_copy(backend: str, folder: Path, name: str = SAMPLE) -> Iterator[str]:
    """A fresh copy of bundled sample ``name`` on ``backend``, as a workspace location.

    A GeoPackage copy is the sample file copied into ``folder``; a PostGIS copy is what
    ``gisapp copy sample:NAME URL`` writes into a new schema (dropped after).
    """
    from gisapp.samples import get_path

    if backend == "gpkg":
        path = folder / f"{name}.gpkg"
        shutil.copy(get_path(name), path)
        yield str(path)
        return
    from gisapp.store import open_workspace
    from gisapp.store.workspace import copy_workspace

    with fresh_schema() as url:
        copy_workspace(open_workspace(f"sample:{name}"), url)
        yield url


@pytest.fixture
def sample_location(backend: str, tmp_path: Path) -> Iterator[str]:
    """A fresh copy of the New Haven sample workspace, once per store (a GeoPackage path or
    a PostGIS URL); the test may change it freely."""
    with sample_copy(backend, tmp_path) as location:
        yield location


@pytest.fixture(scope="module")
def module_sample_location(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A copy of the New Haven sample shared by the tests of a module, once per store; the
    tests read it (or save what the others do not look at)."""
    with sample_copy(backend, tmp_path_factory.mktemp("sample")) as location:
        yield location


# -- servers: Redis for the job queue ---------------------------------------------------------


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
