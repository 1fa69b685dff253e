"""Storage of a workspace: layers, saved plans, users, metadata and a version stamp.

Nothing outside this package touches a workspace's file.
"""

from __future__ import annotations

from gisapp.store.geopackage import Workspace

__all__ = ["Workspace"]
