"""Per-app resources: settings, the open workspace, the user store and small caches."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from flask import abort, current_app

from gisapp.settings import Settings
from gisapp.store import open_workspace
from gisapp.store.geopackage import Workspace
from gisapp.store.users import UserStore

T = TypeVar("T")

_lock = threading.Lock()
_CACHE_KEY = "gisapp_cache"
#: Results kept per app (hotspot maps are about a second each to compute).
CACHE_SIZE = 16


def get_settings() -> Settings:
    """Return the app's settings (shifts, response minutes, upload limit...)."""
    settings = current_app.config.get("SETTINGS")
    return settings if isinstance(settings, Settings) else Settings()


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


def reset_workspace() -> None:
    """Forget the open workspace and every cached result (after the file changed)."""
    with _lock:
        current_app.extensions.pop("gisapp_workspace", None)
        current_app.extensions.pop(_CACHE_KEY, None)


def cached(key: Hashable, compute: Callable[[], T]) -> T:
    """Return the cached result for ``key``, computing and keeping it on a miss.

    The cache is per app, bounded (least recently used results go first) and emptied by
    :func:`reset_workspace`. Two requests may compute the same key at once; both results
    are equal, so the second simply replaces the first.
    """
    with _lock:
        cache: OrderedDict[Hashable, Any] = current_app.extensions.setdefault(
            _CACHE_KEY, OrderedDict()
        )
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
    value = compute()
    with _lock:
        cache = current_app.extensions.setdefault(_CACHE_KEY, OrderedDict())
        cache[key] = value
        while len(cache) > CACHE_SIZE:
            cache.popitem(last=False)
    return value


def get_user_store() -> UserStore:
    """Return the app's user store."""
    path = current_app.config.get("USERS_DB")
    if not path:
        abort(503, description="No users file is configured.")
    return UserStore(path)
