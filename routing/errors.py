"""Errors of the ``routing`` library."""

from __future__ import annotations

from collections.abc import Iterable

from layers.i18n import _


class RoutingError(ValueError):
    """Base class of every error raised by ``routing``."""


class NetworkError(RoutingError):
    """A street network cannot be built or used as asked (empty, wrong geometry, no path)."""


class InfeasiblePlanError(RoutingError):
    """A plan or placement request has no feasible answer (names the unit or input)."""


class GridError(RoutingError):
    """Grids cannot be measured, designed or assigned as asked (names the layer and the fix)."""


def join_clauses(clauses: Iterable[str]) -> str:
    """Clauses of one message joined as the language joins them (``a; b`` or ``a；b``)."""
    # Translators: the separator between the problems listed in one message.
    return _("; ").join(str(c) for c in clauses)
