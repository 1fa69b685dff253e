"""Web app users: names, roles and hashed passwords in a small SQLite file.

The file sits beside the workspace (``<workspace>.users.sqlite``) unless configured
elsewhere. Passwords are stored only as werkzeug salted hashes.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

from gisapp.errors import GisappError

logger = logging.getLogger(__name__)

#: Roles, most powerful first: an admin manages users, a captain sees every unit, an
#: officer sees only his own unit.
ROLES: tuple[str, ...] = ("admin", "captain", "officer")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    unit_id TEXT
)
"""

# A hash to compare against when the user does not exist, so a wrong name costs as much
# time as a wrong password and names cannot be probed by timing.
_DUMMY_HASH = generate_password_hash("not a password")


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
    """

    name: str
    role: str
    unit_id: str | None = None

    @property
    def sees_all_units(self) -> bool:
        return self.role in ("admin", "captain")


def users_db_path(workspace: str | Path) -> Path:
    """Return the default users file of ``workspace``: ``<workspace>.users.sqlite``."""
    workspace = Path(workspace)
    return workspace.with_name(workspace.name + ".users.sqlite")


class UserStore:
    """Users in one SQLite file, created on first write.

    Parameters
    ----------
    path
        SQLite file.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # One short connection per call: Flask serves requests from several threads.
        con = sqlite3.connect(self.path)
        try:
            con.execute(_SCHEMA)
            with con:
                yield con
        finally:
            con.close()

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

        Raises
        ------
        UserError
            If the name is empty, the role unknown, an officer has no unit, the password is
            shorter than 8 characters, or the user exists and ``replace`` is false.
        """
        name = name.strip()
        if not name:
            raise UserError("user name is empty")
        if role not in ROLES:
            raise UserError(f"role {role!r} is not one of {', '.join(ROLES)}")
        if role == "officer" and not unit_id:
            raise UserError(f"officer {name!r} needs a unit: pass --unit UNIT_ID")
        if len(password) < 8:
            raise UserError("password is shorter than 8 characters")
        unit = str(unit_id) if unit_id else None
        with self._connect() as con:
            exists = con.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone()
            if exists and not replace:
                raise UserError(f"user {name!r} exists already")
            con.execute(
                "INSERT OR REPLACE INTO users (name, password_hash, role, unit_id) "
                "VALUES (?, ?, ?, ?)",
                (name, generate_password_hash(password), role, unit),
            )
        logger.info("user %s saved with role %s", name, role)
        return User(name, role, unit)

    def get(self, name: str) -> User | None:
        """Return user ``name`` or ``None``."""
        if not self.path.exists():
            return None
        with self._connect() as con:
            row = con.execute(
                "SELECT name, role, unit_id FROM users WHERE name = ?", (name,)
            ).fetchone()
        return User(*row) if row else None

    def authenticate(self, name: str, password: str) -> User | None:
        """Return the user when ``password`` matches, else ``None``."""
        row = None
        if self.path.exists():
            with self._connect() as con:
                row = con.execute(
                    "SELECT name, role, unit_id, password_hash FROM users WHERE name = ?",
                    (name,),
                ).fetchone()
        if row is None:
            check_password_hash(_DUMMY_HASH, password)
            return None
        return User(row[0], row[1], row[2]) if check_password_hash(row[3], password) else None

    def all(self) -> list[User]:
        """Return every user sorted by name."""
        if not self.path.exists():
            return []
        with self._connect() as con:
            rows = con.execute("SELECT name, role, unit_id FROM users ORDER BY name").fetchall()
        return [User(*row) for row in rows]
