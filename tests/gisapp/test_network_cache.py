"""The street network of a workspace is built once per workspace version and reused."""

from __future__ import annotations

import shutil
from pathlib import Path

from gisapp.samples import get_path
from gisapp.services.network import clear_network_cache, workspace_network
from gisapp.store import Workspace


def test_network_is_reused_until_the_workspace_changes(tmp_path: Path) -> None:
    path = tmp_path / "ws.gpkg"
    shutil.copy(get_path("liechtenstein"), path)
    clear_network_cache()
    ws = Workspace.open(path)
    first = workspace_network(ws, "car")
    assert workspace_network(Workspace.open(path), "car") is first
    assert workspace_network(ws, "foot") is not first

    before = ws.version
    ws.save({}, meta={"note": "edited"})
    assert ws.version != before
    again = workspace_network(ws, "car")
    assert again is not first
    assert again.n_segments == first.n_segments
