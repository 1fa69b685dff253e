"""Per-app resources: settings, the open workspace, the user store and the page cache.

The workspace follows its file: every request compares the file's version stamp with the
one it was opened at and reopens it when they differ, so a layer added by ``gisapp import``
or a plan saved by ``gisapp plan`` is served without a restart. Cached page data keys on
the workspace's ``(location, version)``, so a save makes every page compute afresh.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import TypeVar

from flask import abort, current_app

from gisapp.settings import Settings
from gisapp.store import absolute_location, open_workspace
from gisapp.store.geopackage import Workspace
from gisapp.store.users import UserStore
from gisapp.views.cache import VersionedCache
from layers.i18n import _, current_language

T = TypeVar("T")

_lock = threading.Lock()
_CACHE_KEY = "gisapp_cache"
_WORKSPACE_KEY = "gisapp_workspace"
#: Results kept per app: page data, map pages, GeoJSON answers.
CACHE_SIZE = 128


def get_settings() -> Settings:
    """Return the app's settings (shifts, response minutes, upload limit...)."""
    settings = current_app.config.get("SETTINGS")
    return settings if isinstance(settings, Settings) else Settings()


def get_workspace() -> Workspace:
    """Return the app's workspace, reopened whenever its file has changed.

    Raises
    ------
    werkzeug.exceptions.ServiceUnavailable
        If the app has no workspace configured.
    """
    path = current_app.config.get("WORKSPACE")
    if not path:
        abort(503, description=_("No workspace is configured; start the app with a workspace."))
    with _lock:
        opened: tuple[Workspace, str] | None = current_app.extensions.get(_WORKSPACE_KEY)
        if opened is not None and opened[0].version == opened[1]:
            return opened[0]
        # Read the stamp before opening: a save in between makes the next request reopen.
        ws = open_workspace(absolute_location(str(path)))
        version = ws.version
        current_app.extensions[_WORKSPACE_KEY] = (ws, version)
    return ws


def reset_workspace() -> None:
    """Forget the open workspace and every cached result (after the file changed)."""
    with _lock:
        current_app.extensions.pop(_WORKSPACE_KEY, None)
        cache = current_app.extensions.get(_CACHE_KEY)
    if isinstance(cache, VersionedCache):
        cache.clear()


def page_cache() -> VersionedCache:
    """The app's cache of page data (bounded, least recently used entries go first)."""
    with _lock:
        cache = current_app.extensions.get(_CACHE_KEY)
        if not isinstance(cache, VersionedCache):
            cache = VersionedCache(max_entries=CACHE_SIZE)
            current_app.extensions[_CACHE_KEY] = cache
    return cache


def cached(key: Hashable, compute: Callable[[], T]) -> T:
    """Return the cached result for ``key``, computing and keeping it on a miss.

    The cache is per app, bounded and emptied by :func:`reset_workspace`. Two requests
    that miss on the same key at once compute it once: the second waits for the first.
    Put the workspace version in ``key`` (or use :func:`page_cached`).
    """
    return page_cache().get(key, compute)


def page_cached(page: str, params: tuple[Hashable, ...], compute: Callable[[], T]) -> T:
    """Return ``compute()`` for ``page`` with ``params`` in the workspace's current version
    and the reader's language.

    Parameters
    ----------
    page
        What is cached (a page, a map, an answer).
    params
        Everything else the value depends on: unit, choices, asset location.
    compute
        Computes the value on a miss.
    """
    ws = get_workspace()
    return cached((ws.location, ws.version, current_language(), page, *params), compute)


def get_user_store() -> UserStore:
    """Return the app's user store."""
    path = current_app.config.get("USERS_DB")
    if not path:
        abort(503, description=_("No users file is configured."))
    return UserStore(path)
