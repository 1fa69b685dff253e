"""Errors of the gisapp application layer.

Library errors (``layers.LayerError``, ``routing.RoutingError``) pass through unchanged;
the CLI and the web app translate all of them into exit codes and HTTP statuses.
"""

from __future__ import annotations

from layers.errors import LayerError, ValidationError
from routing.errors import RoutingError


class GisappError(Exception):
    """Base class of application errors that a user can act on."""


class WorkspaceError(GisappError):
    """The workspace file is missing, damaged, locked or lacks a needed layer."""


class SettingsError(GisappError):
    """The settings file or a ``GISAPP_*`` variable is invalid."""


class ExportError(GisappError):
    """An output cannot be made: bad plan data, a bad format, paper or file name, no browser."""


class BusyError(GisappError):
    """The server is busy with the same kind of work (e.g. printing); try again shortly."""

    def __init__(self, message: str, *, retry_after_s: int = 60) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


#: Errors that are the user's to fix: the CLI exits 1 and the web app answers 4xx.
USER_ERRORS: tuple[type[Exception], ...] = (GisappError, LayerError, RoutingError)

__all__ = [
    "USER_ERRORS",
    "BusyError",
    "ExportError",
    "GisappError",
    "LayerError",
    "RoutingError",
    "SettingsError",
    "ValidationError",
    "WorkspaceError",
]
