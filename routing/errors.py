"""Errors of the ``routing`` library."""

from __future__ import annotations


class RoutingError(ValueError):
    """Base class of every error raised by ``routing``."""


class NetworkError(RoutingError):
    """A street network cannot be built or used as asked (empty, wrong geometry, no path)."""


class InfeasiblePlanError(RoutingError):
    """A plan or placement request has no feasible answer (names the unit or input)."""


class GridError(RoutingError):
    """Grids cannot be measured, designed or assigned as asked (names the layer and the fix)."""
