"""Web app users: names, roles, hashed passwords and signed-in sessions in a small SQLite file.

The file sits beside the workspace (``<workspace>.users.sqlite``) unless configured
elsewhere, readable by its owner only (mode 0600). Passwords are stored only as werkzeug
salted hashes; a session is stored only as the SHA-256 of its random token, so a copy of
the file lets nobody sign in. Ending a user's sessions (sign-out, a new password, disabling
the account) takes effect on the next request of every browser holding them.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
import secrets
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

from gisapp.errors import GisappError
from gisapp.store.backend import DatabaseURL, is_database_url
from layers.i18n import _

logger = logging.getLogger(__name__)

#: Roles, most powerful first: an admin manages users, a captain sees every unit, an
#: officer sees only his own unit.
ROLES: tuple[str, ...] = ("admin", "captain", "officer")

#: Shortest password accepted.
MIN_PASSWORD_LENGTH = 8

#: A session's last-seen time is written at most this often (seconds): every request
#: checks the session, and a write per request would serialise them all on the file.
SESSION_TOUCH_S = 60.0

_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS users (
        name TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL,
        unit_id TEXT,
        disabled INTEGER NOT NULL DEFAULT 0,
        language TEXT
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS sessions (
        token_hash TEXT PRIMARY KEY,
        user_name TEXT NOT NULL,
        created_at REAL NOT NULL,
        last_seen REAL NOT NULL,
        expires_at REAL NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_name)",
    "CREATE INDEX IF NOT EXISTS sessions_expiry ON sessions (expires_at)",
)


@functools.cache
def _dummy_hash() -> str:
    """A hash to compare against when the user does not exist.

    A wrong name then costs as much time as a wrong password, so names cannot be probed
    by timing. Computed on first use, not at import (it takes a noticeable fraction of a
    second, which every ``gisapp`` command would otherwise pay).
    """
    return generate_password_hash("not a password")


class UserError(GisappError):
    """A user cannot be added or changed as asked."""


@dataclass(frozen=True)
class User:
    """A web app user.

    Parameters
    ----------
    name
        Login name.
    role
        One of ``ROLES``.
    unit_id
        The officer's patrol unit (``None`` for admins and captains).
    disabled
        True when an administrator has disabled the account (it cannot sign in).
    language
        The language the user chose for the interface (``zh_CN``, ``en``); ``None`` until
        chosen (the workspace's default, then the browser's, apply).
    """

    name: str
    role: str
    unit_id: str | None = None
    disabled: bool = False
    language: str | None = None

    @property
    def sees_all_units(self) -> bool:
        return self.role in ("admin", "captain")


def users_db_path(workspace: str | Path) -> Path:
    """Return the default users file of ``workspace``: ``<workspace>.users.sqlite`` beside
    a GeoPackage; for a database workspace (``postgresql://host/city?schema=precinct_7``)
    ``city.precinct_7.users.sqlite`` in the current folder (set ``users_db`` to keep it
    elsewhere)."""
    text = str(workspace)
    if is_database_url(text):
        url = DatabaseURL(text)
        name = re.sub(r"[^\w.-]", "_", f"{url.database}.{url.schema}")
        return Path.cwd() / f"{name}.users.sqlite"
    path = Path(workspace)
    return path.with_name(path.name + ".users.sqlite")


def make_private(path: str | Path) -> None:
    """Create ``path`` readable and writable by its owner only, or tighten it to that.

    Parameters
    ----------
    path
        A file holding secrets (password hashes, sessions, sign-in failures).
    """
    path = Path(path)
    try:
        # O_CREAT with mode 0600 creates the file private from its first byte (no window
        # in which another account could open it); the umask can only remove bits.
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    except PermissionError:
        return  # another account's file: SQLite reports what it cannot do with it
    try:
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
        if mode & 0o077:
            os.fchmod(fd, 0o600)
            logger.warning("%s was readable by other accounts (mode %o): set to 0600", path, mode)
    finally:
        os.close(fd)


@contextmanager
def connect_private(path: str | Path) -> Iterator[sqlite3.Connection]:
    """Open the SQLite file ``path`` (made private first) for one short transaction.

    Parameters
    ----------
    path
        SQLite file; created with mode 0600 when missing.

    Yields
    ------
    sqlite3.Connection
        A connection committing when the block ends without an error.
    """
    make_private(path)
    # One short connection per call: Flask serves requests from several threads and
    # processes; the timeout waits for another writer instead of failing at once.
    con = sqlite3.connect(path, timeout=10.0)
    try:
        with con:
            yield con
    finally:
        con.close()


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class UserStore:
    """Users and their signed-in sessions in one SQLite file, created on first write.

    Parameters
    ----------
    path
        SQLite file.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with connect_private(self.path) as con:
            for statement in _SCHEMA:
                con.execute(statement)
            columns = {row[1] for row in con.execute("PRAGMA table_info(users)")}
            if "disabled" not in columns:  # a users file from before accounts could be disabled
                con.execute("ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0")
            if "language" not in columns:  # a users file from before the Chinese interface
                con.execute("ALTER TABLE users ADD COLUMN language TEXT")
            yield con

    def add(
        self,
        name: str,
        password: str,
        *,
        role: str,
        unit_id: str | None = None,
        replace: bool = False,
    ) -> User:
        """Add (or with ``replace`` update) a user and return it.

        Updating a user ends every session it has (its password may have changed).

        Raises
        ------
        UserError
            If the name is empty, the role unknown, an officer has no unit, the password is
            shorter than 8 characters, or the user exists and ``replace`` is false.
        """
        name = name.strip()
        if not name:
            raise UserError(_("user name is empty"))
        if role not in ROLES:
            raise UserError(
                _("role %(role)r is not one of %(roles)s", role=role, roles=", ".join(ROLES))
            )
        if role == "officer" and not unit_id:
            raise UserError(_("officer %(name)r needs a unit: pass --unit UNIT_ID", name=name))
        _check_password(password)
        unit = str(unit_id) if unit_id else None
        with self._connect() as con:
            exists = con.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone()
            if exists and not replace:
                raise UserError(_("user %(name)r exists already", name=name))
            con.execute(
                "INSERT OR REPLACE INTO users (name, password_hash, role, unit_id, disabled) "
                "VALUES (?, ?, ?, ?, 0)",
                (name, generate_password_hash(password), role, unit),
            )
            con.execute("DELETE FROM sessions WHERE user_name = ?", (name,))
        logger.info("user %s saved with role %s", name, role)
        return User(name, role, unit)

    def set_password(self, name: str, password: str) -> None:
        """Give user ``name`` a new password and end every session it has.

        Raises
        ------
        UserError
            If the user does not exist or the password is shorter than 8 characters.
        """
        _check_password(password)
        with self._connect() as con:
            changed = con.execute(
                "UPDATE users SET password_hash = ? WHERE name = ?",
                (generate_password_hash(password), name),
            ).rowcount
            if not changed:
                raise UserError(_("there is no user %(name)r", name=name))
            con.execute("DELETE FROM sessions WHERE user_name = ?", (name,))
        logger.info("user %s has a new password; its sessions ended", name)

    def set_disabled(self, name: str, disabled: bool) -> None:
        """Disable (ending every session) or enable again user ``name``.

        Raises
        ------
        UserError
            If the user does not exist.
        """
        with self._connect() as con:
            changed = con.execute(
                "UPDATE users SET disabled = ? WHERE name = ?", (int(disabled), name)
            ).rowcount
            if not changed:
                raise UserError(_("there is no user %(name)r", name=name))
            if disabled:
                con.execute("DELETE FROM sessions WHERE user_name = ?", (name,))
        logger.info("user %s %s", name, "disabled" if disabled else "enabled")

    def set_language(self, name: str, language: str | None) -> None:
        """Record the interface language user ``name`` chose (None: no choice)."""
        with self._connect() as con:
            updated = con.execute(
                "UPDATE users SET language = ? WHERE name = ?", (language, name)
            ).rowcount
        if not updated:
            raise UserError(_("there is no user %(name)r", name=name))

    def get(self, name: str) -> User | None:
        """Return user ``name`` or ``None``."""
        if not self.path.exists():
            return None
        with self._connect() as con:
            row = con.execute(
                "SELECT name, role, unit_id, disabled, language FROM users WHERE name = ?", (name,)
            ).fetchone()
        return _user(row) if row else None

    def authenticate(self, name: str, password: str) -> User | None:
        """Return the user when ``password`` matches and the account is enabled, else ``None``."""
        row = None
        if self.path.exists():
            with self._connect() as con:
                row = con.execute(
                    "SELECT name, role, unit_id, disabled, language, password_hash FROM users WHERE name = ?",
                    (name,),
                ).fetchone()
        if row is None:
            check_password_hash(_dummy_hash(), password)
            return None
        if not check_password_hash(row[5], password) or row[3]:
            return None
        return _user(row[:5])

    def all(self) -> list[User]:
        """Return every user sorted by name."""
        if not self.path.exists():
            return []
        with self._connect() as con:
            rows = con.execute(
                "SELECT name, role, unit_id, disabled, language FROM users ORDER BY name"
            ).fetchall()
        return [_user(row) for row in rows]

    def start_session(self, name: str, *, now: float, lifetime_s: float) -> str:
        """Start a session of user ``name`` and return its secret token.

        Sessions that have reached their end are removed at the same time, so the table
        holds only live ones.

        Parameters
        ----------
        name
            The user signing in.
        now
            Current time, seconds since the epoch.
        lifetime_s
            Seconds after which the session ends however active it is.

        Returns
        -------
        str
            The token the browser sends back (only its hash is stored).
        """
        token = secrets.token_urlsafe(32)
        with self._connect() as con:
            con.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))
            con.execute(
                "INSERT INTO sessions (token_hash, user_name, created_at, last_seen, expires_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (_token_hash(token), name, now, now, now + lifetime_s),
            )
        return token

    def session_user(self, token: str, *, now: float, idle_s: float) -> User | None:
        """Return the user of the live session ``token``, or ``None``.

        A session is live when it has not been ended, its lifetime has not passed, it was
        used less than ``idle_s`` seconds ago and its user exists and is enabled. A session
        found dead is removed.

        Parameters
        ----------
        token
            The session token from the browser.
        now
            Current time, seconds since the epoch.
        idle_s
            Seconds without a request after which the session ends.
        """
        if not self.path.exists():
            return None
        key = _token_hash(token)
        with self._connect() as con:
            row = con.execute(
                "SELECT u.name, u.role, u.unit_id, u.disabled, u.language, s.last_seen, s.expires_at "
                "FROM sessions s JOIN users u ON u.name = s.user_name WHERE s.token_hash = ?",
                (key,),
            ).fetchone()
            if row is None:
                return None
            if row[3] or now >= row[6] or now - row[5] >= idle_s:
                con.execute("DELETE FROM sessions WHERE token_hash = ?", (key,))
                return None
            if now - row[5] >= SESSION_TOUCH_S:
                con.execute("UPDATE sessions SET last_seen = ? WHERE token_hash = ?", (now, key))
        return _user(row[:5])

    def end_session(self, token: str) -> None:
        """End session ``token`` (signing out); an unknown token is ignored."""
        if not self.path.exists():
            return
        with self._connect() as con:
            con.execute("DELETE FROM sessions WHERE token_hash = ?", (_token_hash(token),))

    def end_sessions(self, name: str) -> int:
        """End every session of user ``name`` and return how many there were."""
        if not self.path.exists():
            return 0
        with self._connect() as con:
            return con.execute("DELETE FROM sessions WHERE user_name = ?", (name,)).rowcount


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(
            _(
                "password is shorter than %(length)s characters",
                length=MIN_PASSWORD_LENGTH,
            )
        )


def _user(row: tuple[str, str, str | None, int, str | None]) -> User:
    return User(row[0], row[1], row[2], bool(row[3]), row[4] or None)
