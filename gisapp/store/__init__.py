"""Storage of a workspace: layers, saved plans, users, metadata and a version stamp.

Nothing outside this package touches a workspace's store. A workspace is a GeoPackage file
(the default, :mod:`gisapp.store.geopackage`) or a schema of a PostGIS database
(:mod:`gisapp.store.postgis`), behind one :class:`Workspace` (:mod:`gisapp.store.workspace`).
Every save is one transaction of the store, serialised across processes, so concurrent
saves keep each other's work and a crash leaves the previous content.
"""

from __future__ import annotations

from pathlib import Path

from gisapp.store.backend import is_database_url
from gisapp.store.workspace import Workspace

__all__ = ["Workspace", "absolute_location", "is_database_url", "open_workspace"]


def absolute_location(location: str) -> str:
    """``location`` with a file path made absolute (so a later change of directory cannot
    lose it); database URLs and bundled samples (``sample:NAME``) as they are."""
    if location.startswith("sample:") or is_database_url(location):
        return location
    return str(Path(location).resolve())


def open_workspace(location: str) -> Workspace:
    """Open the workspace at ``location``.

    ``location`` is a GeoPackage path, ``sample:NAME`` for a bundled sample, or a PostGIS
    URL ``postgresql://USER@HOST:PORT/DATABASE?schema=SCHEMA`` (schema ``public`` when not
    given).

    Raises
    ------
    WorkspaceError
        If there is no workspace there, or it cannot be read.
    """
    if location.startswith("sample:"):
        from gisapp.samples import get_path

        return Workspace.open(get_path(location.removeprefix("sample:")))
    return Workspace.open(location)
