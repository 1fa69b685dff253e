"""Workspaces on every store: a GeoPackage file, and a fresh PostGIS schema per test.

The PostGIS server is found through ``GISAPP_TEST_POSTGRES_URL`` (``.ci/postgres.sh``
starts one and prints it). Without it the PostGIS tests are skipped, unless
``GISAPP_REQUIRE_SERVERS=1`` asks for every server, when they fail instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

BACKENDS = ("gpkg", "postgis")


def _server_url() -> str:
    url = os.environ.get("GISAPP_TEST_POSTGRES_URL", "")
    if url:
        return url
    message = "no PostGIS server: set GISAPP_TEST_POSTGRES_URL (see .ci/postgres.sh)"
    if os.environ.get("GISAPP_REQUIRE_SERVERS") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def postgis_url() -> Iterator[str]:
    """A workspace URL in a fresh schema of the test server; the schema is dropped after."""
    import psycopg
    from psycopg import sql

    url = _server_url()
    schema = f"test_{uuid.uuid4().hex[:12]}"
    yield f"{url}{'&' if '?' in url else '?'}schema={schema}"
    with psycopg.connect(url, autocommit=True) as con:
        con.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def location_for(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A new workspace location on ``backend``."""
    if backend == "gpkg":
        return str(tmp_path / "ws.gpkg")
    return str(request.getfixturevalue("postgis_url"))


@pytest.fixture(params=BACKENDS)
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a new workspace goes, once per store."""
    return location_for(str(request.param), tmp_path, request)
