"""Page data cached per workspace version: a bounded, thread-safe LRU that computes once.

Pages ask for the same data again and again (every captain opens the same map), and the
data only changes when the workspace is saved. So results are kept under keys that start
with the workspace's ``(location, version)``: a save changes the version, later requests
miss and recompute, and the stale entries age out of the LRU.

Two requests that miss on the same key at once do not both compute: the second waits for
the first and takes its result (a burst of clients on a cold page costs one computation).

Page data and maps hold text in the reader's language (labels, legends), so every key
also carries the language in force: a Chinese page never comes out of an English entry.
"""

from __future__ import annotations

import logging
import sys
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from gisapp.store import Workspace
from layers.i18n import current_language

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Entries kept by default (a page's data, a map's HTML: each a few hundred kB at most).
DEFAULT_MAX_ENTRIES = 128
#: Text and bytes kept by default, in bytes; large GeoJSON answers push older ones out.
DEFAULT_MAX_BYTES = 256 * 1024 * 1024


def _size_of(value: Any) -> int:
    """Approximate memory of a cached value: exact for text and bytes, nominal otherwise."""
    if isinstance(value, str | bytes):
        return len(value)
    if isinstance(value, tuple):
        return sum(_size_of(item) for item in value)
    return sys.getsizeof(value)


class VersionedCache:
    """A bounded least-recently-used cache whose misses are computed once.

    Parameters
    ----------
    max_entries
        Most entries kept.
    max_bytes
        Most bytes of text and bytes values kept (other values count their shallow size).

    Raises
    ------
    ValueError
        If a bound is below 1.
    """

    def __init__(
        self, max_entries: int = DEFAULT_MAX_ENTRIES, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        if max_entries < 1 or max_bytes < 1:
            raise ValueError(
                f"cache bounds should be at least 1, got {max_entries} entries, {max_bytes} bytes"
            )
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._pending: dict[Hashable, threading.Lock] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """Return the value kept for ``key``, computing and keeping it on a miss.

        An exception raised by ``compute`` reaches the caller and nothing is kept.
        """
        found, value = self._lookup(key)
        if found:
            return value
        with self._lock:
            pending = self._pending.setdefault(key, threading.Lock())
        with pending:
            # Another request may have computed it while this one waited.
            found, value = self._lookup(key, count=False)
            if found:
                return value
            try:
                result = compute()
                self.put(key, result)
            finally:
                with self._lock:
                    if self._pending.get(key) is pending:
                        del self._pending[key]
        return result

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def _lookup(self, key: Hashable, *, count: bool = True) -> tuple[bool, Any]:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                if count:
                    self.misses += 1
                return False, None
            self._entries.move_to_end(key)
            if count:
                self.hits += 1
            return True, entry[0]

    def put(self, key: Hashable, value: Any) -> None:
        """Keep ``value`` under ``key`` (unless it alone is above the byte bound)."""
        size = _size_of(value)
        if size > self.max_bytes:
            logger.info(
                "not caching a %s-byte value: above the cache's %s bytes", size, self.max_bytes
            )
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._entries[key] = (value, size)
            self._bytes += size
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._bytes -= dropped


#: The process-wide cache of page data computed in :mod:`gisapp.views`.
PAGE_CACHE = VersionedCache(max_entries=64)

#: Objects handed out from the cache to several requests (e.g. a hotspot map).
_shared: weakref.WeakSet[Any] = weakref.WeakSet()
_shared_lock = threading.Lock()


def mark_shared(obj: T) -> T:
    """Mark ``obj`` as served to several requests from the cache; return it."""
    with _shared_lock:
        _shared.add(obj)
    return obj


def is_shared(obj: object) -> bool:
    """Whether ``obj`` came from the cache (what is derived from it is worth keeping)."""
    with _shared_lock:
        return obj in _shared


def workspace_cached(ws: Workspace, key: tuple[Hashable, ...], compute: Callable[[], T]) -> T:
    """Return ``compute()`` for ``key`` in the workspace's current version, computed once.

    Parameters
    ----------
    ws
        The workspace the value is derived from.
    key
        What the value is (page name and parameters), hashable; the language in force is
        added to it.
    compute
        Computes the value on a miss.
    """
    return PAGE_CACHE.get((ws.location, ws.version, current_language(), *key), compute)


def derived_cached(source: object, key: tuple[Hashable, ...], compute: Callable[[], T]) -> T:
    """Return ``compute()`` for a value derived from the object ``source``, computed once.

    ``source`` (a cached service result, a map) need not be hashable: the entry keys on
    its identity and serves only that very object, so a new object that reuses a freed
    object's id gets a fresh value. Put the workspace's location and version in ``key``
    when the value also depends on the workspace; the language in force is added to it.
    """
    ref = weakref.ref(source)
    full_key = ("derived", id(source), current_language(), *key)
    holder = PAGE_CACHE.get(full_key, lambda: (ref, compute()))
    if holder[0]() is source:
        return holder[1]
    value = compute()
    PAGE_CACHE.put(full_key, (ref, value))
    return value
