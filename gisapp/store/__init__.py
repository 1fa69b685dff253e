"""Storage of a workspace: layers, saved plans, users, metadata and a version stamp.

Nothing outside this package touches a workspace's file. Every save is one SQLite
transaction inside the GeoPackage, serialised across processes, so concurrent saves keep
each other's work and a crash leaves the previous content (see
:mod:`gisapp.store.geopackage`).
"""

from __future__ import annotations

from gisapp.store.geopackage import Workspace

__all__ = ["Workspace", "open_workspace"]


def open_workspace(location: str) -> Workspace:
    """Open the workspace at ``location``: a GeoPackage path, or ``sample:NAME`` for a bundled one.

    Raises
    ------
    WorkspaceError
        If there is no workspace there, or it cannot be read.
    """
    if location.startswith("sample:"):
        from gisapp.samples import get_path

        return Workspace.open(get_path(location.removeprefix("sample:")))
    return Workspace.open(location)
