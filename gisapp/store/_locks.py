"""Locks around a workspace file: one gate per process, one write lock across processes.

Two SQLite libraries live in one process: Python's ``sqlite3`` and the copy inside GDAL
that pyogrio uses. SQLite locks a database with POSIX advisory locks, and POSIX drops every
lock a process holds on a file as soon as *any* descriptor of that file is closed in that
process. So while one library holds a lock on the workspace, the other must not open and
close the file. :func:`file_gate` enforces that inside a process: GDAL reads share the
gate, anything else (Python ``sqlite3``, reading raw bytes) takes it alone.

Across processes, SQLite's own locks keep every single transaction whole. A save that
first reads what is stored (to merge rows into it) must also keep other savers out between
its read and its write: :func:`write_lock` holds an exclusive ``flock`` on the workspace
file itself for that time. ``flock`` locks are separate from the POSIX locks SQLite takes
(on local disks), and no lock file is left beside the workspace.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class _Gate:
    """A shared/exclusive lock that lets a waiting exclusive holder in before new sharers."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._sharers = 0
        self._exclusive = False
        self._waiting_exclusive = 0

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._cond:
            while self._exclusive or self._waiting_exclusive:
                self._cond.wait()
            self._sharers += 1
        try:
            yield
        finally:
            with self._cond:
                self._sharers -= 1
                self._cond.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            self._waiting_exclusive += 1
            try:
                while self._exclusive or self._sharers:
                    self._cond.wait()
            finally:
                self._waiting_exclusive -= 1
            self._exclusive = True
        try:
            yield
        finally:
            with self._cond:
                self._exclusive = False
                self._cond.notify_all()


_gates: dict[str, _Gate] = {}
_gates_lock = threading.Lock()
_held = threading.local()


def _key(path: Path) -> str:
    return os.path.realpath(path)


def file_gate(path: Path) -> _Gate:
    """The in-process gate of the workspace file at ``path``."""
    key = _key(path)
    with _gates_lock:
        gate = _gates.get(key)
        if gate is None:
            gate = _gates[key] = _Gate()
        return gate


def _held_paths() -> set[str]:
    held: set[str] | None = getattr(_held, "paths", None)
    if held is None:
        held = _held.paths = set()
    return held


@contextmanager
def write_lock(path: Path, *, timeout_s: float) -> Iterator[bool]:
    """Hold the cross-process write lock of the workspace at ``path``.

    Re-entrant within a thread. Yields whether the lock was taken (``False`` when
    ``timeout_s`` passed while another writer held it).
    """
    key = _key(path)
    held = _held_paths()
    if key in held:
        yield True
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        taken = _flock(fd, timeout_s)
        if taken:
            held.add(key)
        try:
            yield taken
        finally:
            held.discard(key)
    finally:
        # Closing a descriptor drops the process's SQLite locks on the file: close it only
        # while no connection of this process can hold one.
        with file_gate(path).exclusive():
            os.close(fd)


def _flock(fd: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    delay_s = 0.005
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(delay_s)
            delay_s = min(delay_s * 2, 0.1)
