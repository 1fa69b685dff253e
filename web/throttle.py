"""Sign-in throttling: too many wrong passwords lock an account name or a client address.

After ``max_failures`` failures within ``window_s`` seconds a key (an account name, or the
address a request comes from) is locked for ``lock_s`` seconds, doubling with each further
lock up to ``max_lock_s``. Locked attempts are refused before any password is hashed, so a
flood of guesses costs the server almost nothing. The counters live in a small SQLite file
beside the users file (mode 0600), shared by every thread and process of the server, and
the table is kept to ``max_entries`` rows.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gisapp.store.users import connect_private
from layers.i18n import ngettext

__all__ = ["Lock", "LoginThrottle", "ThrottlePolicy", "throttle_db_path"]

_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS login_failures (
        key TEXT PRIMARY KEY,
        failures INTEGER NOT NULL,
        first_at REAL NOT NULL,
        last_at REAL NOT NULL,
        lockouts INTEGER NOT NULL,
        locked_until REAL NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS login_failures_last ON login_failures (last_at)",
)

#: Seconds without a failure after which a key's lock history is forgotten.
_FORGET_S = 24 * 3600.0


@dataclass(frozen=True)
class ThrottlePolicy:
    """When sign-in attempts are locked.

    Parameters
    ----------
    max_failures
        Failures of one account name within ``window_s`` that lock it.
    max_address_failures
        Failures from one client address within ``window_s`` that lock it (higher: a
        station's computers may share one address).
    window_s
        Seconds over which failures are counted.
    lock_s
        Seconds of the first lock; each further lock within a day doubles it.
    max_lock_s
        Longest lock, seconds.
    max_entries
        Most keys remembered; the least recently failed are forgotten first.
    """

    max_failures: int = 5
    max_address_failures: int = 20
    window_s: float = 15 * 60.0
    lock_s: float = 5 * 60.0
    max_lock_s: float = 60 * 60.0
    max_entries: int = 10_000


@dataclass(frozen=True)
class Lock:
    """A refused sign-in: what is locked and for how long.

    Parameters
    ----------
    kind
        ``"account"`` or ``"address"``.
    remaining_s
        Seconds until attempts are accepted again.
    """

    kind: str
    remaining_s: float

    @property
    def minutes(self) -> int:
        """Whole minutes to wait (at least 1)."""
        return max(1, math.ceil(self.remaining_s / 60.0))

    @property
    def message(self) -> str:
        """The lock in the user's words."""
        if self.kind == "account":
            return ngettext(
                "Too many failed sign-ins for this account; try again in %(num)s minute "
                "or ask an administrator.",
                "Too many failed sign-ins for this account; try again in %(num)s minutes "
                "or ask an administrator.",
                self.minutes,
            )
        return ngettext(
            "Too many failed sign-ins from this computer; try again in %(num)s minute "
            "or ask an administrator.",
            "Too many failed sign-ins from this computer; try again in %(num)s minutes "
            "or ask an administrator.",
            self.minutes,
        )


def throttle_db_path(users_db: str | Path) -> Path:
    """Return the throttle file beside ``users_db``: ``<users file>.throttle.sqlite``."""
    users_db = Path(users_db)
    return users_db.with_name(users_db.name + ".throttle.sqlite")


class LoginThrottle:
    """Failed sign-ins per account name and per client address in one SQLite file.

    Parameters
    ----------
    path
        SQLite file; created with mode 0600 on first use.
    policy
        Thresholds and lock lengths.
    """

    def __init__(self, path: str | Path, policy: ThrottlePolicy | None = None) -> None:
        self.path = Path(path)
        self.policy = policy or ThrottlePolicy()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with connect_private(self.path) as con:
            for statement in _SCHEMA:
                con.execute(statement)
            yield con

    def check(self, account: str, address: str | None, *, now: float) -> Lock | None:
        """Return the lock refusing a sign-in as ``account`` from ``address``, or ``None``.

        Parameters
        ----------
        account
            The account name typed.
        address
            The client's address (``None`` when unknown).
        now
            Current time, seconds since the epoch.
        """
        if not self.path.exists():
            return None
        keys = _keys(account, address)
        with self._connect() as con:
            rows = con.execute(
                f"SELECT key, locked_until FROM login_failures WHERE key IN "
                f"({', '.join('?' * len(keys))})",
                [key for key, _ in keys],
            ).fetchall()
        kind_of = dict(keys)
        locks = [Lock(kind_of[key], until - now) for key, until in rows if until > now]
        return max(locks, key=lambda lock: lock.remaining_s) if locks else None

    def record_failure(self, account: str, address: str | None, *, now: float) -> Lock | None:
        """Count a failed sign-in; return the lock it starts, if any.

        Parameters
        ----------
        account
            The account name typed.
        address
            The client's address (``None`` when unknown).
        now
            Current time, seconds since the epoch.
        """
        policy = self.policy
        started: Lock | None = None
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")  # read-modify-write shared by processes
            for key, kind in _keys(account, address):
                limit = policy.max_failures if kind == "account" else policy.max_address_failures
                lock_s = _count_failure(con, key, limit, policy, now)
                if lock_s and (started is None or lock_s > started.remaining_s):
                    started = Lock(kind, lock_s)
            self._prune(con, now)
        return started

    def clear_account(self, account: str) -> None:
        """Forget the failures and lock of ``account`` (a successful sign-in, an unlock)."""
        if not self.path.exists():
            return
        with self._connect() as con:
            con.execute("DELETE FROM login_failures WHERE key = ?", (_account_key(account),))

    def _prune(self, con: sqlite3.Connection, now: float) -> None:
        con.execute(
            "DELETE FROM login_failures WHERE last_at < ? AND locked_until <= ?",
            (now - _FORGET_S, now),
        )
        (count,) = con.execute("SELECT COUNT(*) FROM login_failures").fetchone()
        if count > self.policy.max_entries:
            con.execute(
                "DELETE FROM login_failures WHERE key IN (SELECT key FROM login_failures "
                "ORDER BY last_at LIMIT ?)",
                (count - self.policy.max_entries,),
            )


def _count_failure(
    con: sqlite3.Connection, key: str, limit: int, policy: ThrottlePolicy, now: float
) -> float:
    """Add one failure to ``key``; return the seconds of the lock it starts (0 for none)."""
    row = con.execute(
        "SELECT failures, first_at, last_at, lockouts, locked_until FROM login_failures "
        "WHERE key = ?",
        (key,),
    ).fetchone()
    failures, first_at, last_at, lockouts, locked_until = row or (0, now, now, 0, 0.0)
    if now - last_at >= _FORGET_S:
        lockouts = 0
    if now - first_at >= policy.window_s:
        failures, first_at = 0, now
    failures += 1
    lock_s = 0.0
    if failures >= limit:
        lock_s = min(policy.lock_s * 2.0**lockouts, policy.max_lock_s)
        lockouts += 1
        locked_until = now + lock_s
        failures, first_at = 0, now
    con.execute(
        "INSERT OR REPLACE INTO login_failures "
        "(key, failures, first_at, last_at, lockouts, locked_until) VALUES (?, ?, ?, ?, ?, ?)",
        (key, failures, first_at, now, lockouts, locked_until),
    )
    return lock_s


def _account_key(account: str) -> str:
    return "account:" + account.strip().casefold()


def _keys(account: str, address: str | None) -> list[tuple[str, str]]:
    keys = [(_account_key(account), "account")]
    if address:
        keys.append(("address:" + address, "address"))
    return keys
