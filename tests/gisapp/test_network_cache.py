"""The street network of a workspace is built once per workspace version and reused.

Both stores keep it in memory by the workspace's version (``tests/conftest.py`` runs the
tests on a GeoPackage copy and a PostGIS copy of the Liechtenstein sample) and on disk: a
GeoPackage in a folder beside its file, a database workspace in the machine's cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from gisapp.services.network import (
    clear_network_cache,
    network_cache_dir,
    stored_network_path,
    workspace_network,
)
from gisapp.store import Workspace
from tests.conftest import sample_copy


def test_network_is_reused_until_the_workspace_changes(backend: str, tmp_path: Path) -> None:
    with sample_copy(backend, tmp_path, "liechtenstein") as location:
        clear_network_cache()
        ws = Workspace.open(location)
        first = workspace_network(ws, "car")
        assert workspace_network(Workspace.open(location), "car") is first
        assert workspace_network(ws, "foot") is not first

        before = ws.version
        ws.save({}, meta={"note": "edited"})
        assert ws.version != before
        again = workspace_network(ws, "car")
        assert again is not first
        assert again.n_segments == first.n_segments


def test_the_network_is_stored_beside_a_file_and_in_the_cache_for_a_database(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GISAPP_CACHE_DIR", str(tmp_path / "machine-cache"))
    with sample_copy(backend, tmp_path, "liechtenstein") as location:
        clear_network_cache()
        ws = Workspace.open(location)
        built = workspace_network(ws, "car")
        path = stored_network_path(ws, "car")
        folder = network_cache_dir(ws)
        if backend == "postgis":
            # a database has no folder beside it: the machine's cache holds its networks
            assert folder is not None and folder.parent == tmp_path / "machine-cache" / "networks"
            assert ":" not in folder.name and "@" not in str(folder)  # no host or password
        else:
            assert folder == tmp_path / "liechtenstein.gpkg.cache"
        assert path is not None and path.is_file()
        clear_network_cache()
        assert workspace_network(Workspace.open(location), "car").n_segments == built.n_segments
