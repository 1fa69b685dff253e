"""Street networks, travel times, reach, risk, patrol routes, placement and coverage.

``routing`` is a library: it takes and returns GeoDataFrames, graphs and arrays and knows
nothing of the application around it.
"""

from __future__ import annotations

from routing.errors import InfeasiblePlanError, NetworkError, RoutingError

__all__ = ["InfeasiblePlanError", "NetworkError", "RoutingError"]
