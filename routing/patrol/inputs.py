"""What a patrol plan is asked for: planning options, hotspots, breaks and units.

Also the two small formatters (:func:`clock_text`, :func:`break_text`) that every message
about a shift time or a break uses.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pyproj
from numpy.typing import NDArray

from layers.i18n import _
from routing.errors import RoutingError, join_clauses

#: Seconds in an hour.
HOUR_S = 3600


@dataclass(frozen=True)
class PatrolOptions:
    """Planning options.

    Parameters
    ----------
    dwell_min_s, dwell_max_s
        Length of a hotspot stop (default 10-15 minutes). A stop shorter than
        ``dwell_min_s`` earns nothing.
    revisit_spacing_s
        A repeat stop earns full credit only this long after the previous stop at the same
        hotspot (default 2 hours).
    repeat_credit
        Share of the risk a repeat inside the spacing earns (the plans never make one; the
        score still values such stops in plans from elsewhere).
    balance_share
        Every route is asked (softly) to last at least this share of its unit's budget.
    balance_ratio_goal
        The busiest route's duration over the least busy one's that a plan should stay
        within.
    balance_dosage_share
        Among the solver's candidate plans, a balanced one is preferred to the best one
        when its dosage is at least this share of the best.
    band_s
        Width of the time bands the shift is cut into (at clock multiples of it): every
        stop arrives inside a band, and two stops at one hotspot lie in bands at least the
        revisit spacing apart. Narrower bands track the spacing more closely; wider ones
        leave the solver more room per stop. Must divide an hour.
    street_risk_weight
        How much the legs between stops prefer risky streets (0..1). A leg follows the
        cheapest path for the cost ``travel_time_s * max(1 - w * r, 0.5)`` per street, with
        ``r`` the street's risk over the shift scaled to 0..1 (by the 95th percentile of
        the positive risks, clipped); its true travel time is what the timetable uses.
        0 gives the fastest paths. Needs the ``street_risk`` of :meth:`PatrolModel.build`.
    """

    dwell_min_s: float = 600.0
    dwell_max_s: float = 900.0
    revisit_spacing_s: float = 7200.0
    repeat_credit: float = 0.1
    balance_share: float = 0.9
    balance_ratio_goal: float = 1.2
    balance_dosage_share: float = 0.95
    band_s: int = 1800
    street_risk_weight: float = 0.0

    def __post_init__(self) -> None:
        if not 0 < self.dwell_min_s <= self.dwell_max_s:
            raise RoutingError(
                _(
                    "dwell should satisfy 0 < dwell_min_s <= dwell_max_s, got %(low)r and "
                    "%(high)r; e.g. 600 and 900 (10-15 min)",
                    low=self.dwell_min_s,
                    high=self.dwell_max_s,
                )
            )
        if not self.revisit_spacing_s > 0:
            raise RoutingError(
                _(
                    "'revisit_spacing_s' should be > 0, got %(value)r; e.g. 7200",
                    value=self.revisit_spacing_s,
                )
            )
        if not 0 <= self.repeat_credit <= 1:
            raise RoutingError(
                _(
                    "'%(option)s' should be 0..1, got %(value)r",
                    option="repeat_credit",
                    value=self.repeat_credit,
                )
            )
        if self.band_s <= 0 or HOUR_S % self.band_s:
            raise RoutingError(
                _(
                    "'band_s' should divide an hour (e.g. 900, 1800, 3600), got %(value)r",
                    value=self.band_s,
                )
            )
        if not 0 <= self.balance_share <= 1:
            raise RoutingError(
                _(
                    "'%(option)s' should be 0..1, got %(value)r",
                    option="balance_share",
                    value=self.balance_share,
                )
            )
        if not 0 < self.balance_dosage_share <= 1:
            raise RoutingError(
                _(
                    "'balance_dosage_share' should be in (0, 1], got %(value)r",
                    value=self.balance_dosage_share,
                )
            )
        if not 0 <= self.street_risk_weight <= 1:
            raise RoutingError(
                _(
                    "'street_risk_weight' should be 0..1, got %(value)r; e.g. 0 for the fastest legs",
                    value=self.street_risk_weight,
                )
            )
        if not self.balance_ratio_goal >= 1:
            raise RoutingError(
                _(
                    "'balance_ratio_goal' should be >= 1, got %(value)r; e.g. 1.2",
                    value=self.balance_ratio_goal,
                )
            )


@dataclass(frozen=True, eq=False)
class Hotspots:
    """Candidate stops with their hourly risk.

    Parameters
    ----------
    x, y
        Locations in ``crs`` (metres; the networks' CRS).
    crs
        CRS of ``x`` and ``y``.
    risk_by_hour
        Shape ``(n, 24)``: risk of every hotspot in every local clock hour.
    name
        A label per hotspot (e.g. its street).
    segments
        Street segments merged into each hotspot (of the network it was chosen on).
    """

    x: NDArray[np.float64]
    y: NDArray[np.float64]
    crs: pyproj.CRS
    risk_by_hour: NDArray[np.float64]
    name: NDArray[np.object_]
    segments: tuple[NDArray[np.int64], ...] = ()

    def __post_init__(self) -> None:
        n = len(self.x)
        if len(self.y) != n or self.risk_by_hour.shape != (n, 24) or len(self.name) != n:
            raise RoutingError(
                f"'hotspots' arrays disagree: {n} x, {len(self.y)} y, {len(self.name)} names "
                f"and risk_by_hour of shape {self.risk_by_hour.shape} (expected ({n}, 24))"
            )
        if (self.risk_by_hour < 0).any() or not np.isfinite(self.risk_by_hour).all():
            raise RoutingError("'hotspots' risk_by_hour should be finite and >= 0")

    def __len__(self) -> int:
        return len(self.x)


@dataclass(frozen=True)
class Break:
    """A meal or rest break of a unit, in seconds from the shift start.

    Parameters
    ----------
    earliest_start_s, latest_start_s
        Window in which the break starts.
    duration_s
        Length of the break (whole seconds are planned: it is rounded up).
    at_station
        Taken at the unit's station (the unit returns there for it); otherwise at the
        station or at any hotspot of the unit's grids, wherever suits the route. A route
        back at the station before ``earliest_start_s`` has no stop for the break.
    """

    earliest_start_s: float
    latest_start_s: float
    duration_s: float
    at_station: bool = False


@dataclass(frozen=True, eq=False)
class PatrolUnit:
    """One patrol unit for one shift.

    Parameters
    ----------
    unit_id
        The unit's id, used in every message.
    mode
        ``"car"``, ``"ebike"`` or ``"foot"``: the network it travels on.
    station_node
        Node of its station in the network of its mode.
    budget_s
        Time from leaving the station to being back, at most.
    allowed_nodes
        Boolean mask over the nodes of its network: the area of its grids. ``None`` allows
        every node.
    breaks
        Its breaks (any order; kept sorted by earliest start). Each must lie inside the
        budget and no two may overlap, whenever they start in their windows.

    Raises
    ------
    RoutingError
        Naming the unit and every bad break: a duration that is not positive, a window
        that is empty or does not fit in the budget, breaks that may overlap.
    """

    unit_id: str
    mode: str
    station_node: int
    budget_s: float
    allowed_nodes: NDArray[np.bool_] | None = None
    breaks: tuple[Break, ...] = ()

    def __post_init__(self) -> None:
        breaks = tuple(self.breaks)
        problems = []
        for k, b in enumerate(breaks, start=1):
            if not isinstance(b, Break):
                problems.append(f"break {k} should be a Break, got {type(b).__name__}")
                continue
            times = (b.earliest_start_s, b.latest_start_s, b.duration_s)
            if not all(math.isfinite(t) for t in times):
                problems.append(
                    _(
                        "break %(k)s has a time that is not a finite number: %(times)s",
                        k=k,
                        times=times,
                    )
                )
                continue
            if not b.duration_s > 0:
                problems.append(
                    _(
                        "break %(k)s lasts %(seconds)s s; give it a positive duration (e.g. 1800)",
                        k=k,
                        seconds=format(b.duration_s, "g"),
                    )
                )
            if not 0 <= b.earliest_start_s <= b.latest_start_s:
                problems.append(
                    _(
                        "break %(k)s should start in a window 0 <= earliest <= latest, got "
                        "%(earliest)s-%(latest)s after the shift start",
                        k=k,
                        earliest=clock_text(b.earliest_start_s),
                        latest=clock_text(b.latest_start_s),
                    )
                )
            elif b.latest_start_s + max(b.duration_s, 0.0) > self.budget_s:
                problems.append(
                    _(
                        "break %(k)s (starting by %(latest)s, %(minutes)s min) may end after the "
                        "budget of %(budget)s; move its window earlier or shorten it",
                        k=k,
                        latest=clock_text(b.latest_start_s),
                        minutes=format(b.duration_s / 60, "g"),
                        budget=clock_text(self.budget_s),
                    )
                )
        if problems:
            raise RoutingError(unit_problems(self.unit_id, problems))
        ordered = sorted(enumerate(breaks, start=1), key=lambda kb: kb[1].earliest_start_s)
        for (i, a), (j, b) in itertools.pairwise(ordered):
            if b.earliest_start_s < a.latest_start_s + a.duration_s:
                problems.append(
                    _(
                        "break %(i)s (%(first)s) and break %(j)s (%(second)s) may overlap; let "
                        "break %(j)s start no earlier than %(earliest)s",
                        i=i,
                        first=break_text(a),
                        j=j,
                        second=break_text(b),
                        earliest=clock_text(a.latest_start_s + a.duration_s),
                    )
                )
        if problems:
            raise RoutingError(unit_problems(self.unit_id, problems))
        object.__setattr__(self, "breaks", tuple(b for _, b in ordered))


def clock_text(seconds: float) -> str:
    """``h:mm`` (rounded to the minute) of a time from the shift start."""
    minutes = round(abs(seconds) / 60.0)
    return f"{'-' if seconds < 0 else ''}{minutes // 60}:{minutes % 60:02d}"


def break_text(brk: Break) -> str:
    """A break for messages: ``30 min starting 4:00-4:30 into the shift``."""
    params = {
        "minutes": f"{brk.duration_s / 60:g}",
        "earliest": clock_text(brk.earliest_start_s),
        "latest": clock_text(brk.latest_start_s),
    }
    if brk.at_station:
        return _(
            "%(minutes)s min at the station starting %(earliest)s-%(latest)s into the shift",
            **params,
        )
    return _("%(minutes)s min starting %(earliest)s-%(latest)s into the shift", **params)


def unit_problems(unit_id: str, problems: list[str]) -> str:
    """A message naming a unit and listing its problems: ``unit 'A': x; y``."""
    return _("unit %(unit)r: %(problems)s", unit=unit_id, problems=join_clauses(problems))
