"""Per-app resources: the open workspace and the user store, created on first use."""

from __future__ import annotations

import threading

from flask import abort, current_app

from gisapp.pagedata import open_workspace
from gisapp.users import UserStore
from gisapp.workspace import Workspace

_lock = threading.Lock()


def get_workspace() -> Workspace:
    """Return the app's workspace, opened once per app."""
    path = current_app.config.get("WORKSPACE")
    if not path:
        abort(503, description="No workspace is configured; start the app with a workspace.")
    with _lock:
        ws = current_app.extensions.get("gisapp_workspace")
        if ws is None:
            ws = open_workspace(path)
            current_app.extensions["gisapp_workspace"] = ws
    return ws


def get_user_store() -> UserStore:
    """Return the app's user store."""
    path = current_app.config.get("USERS_DB")
    if not path:
        abort(503, description="No users file is configured.")
    return UserStore(path)
