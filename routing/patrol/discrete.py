"""The discretised problem: time bands, visit copies, break places and spacing groups."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from routing.patrol.inputs import HOUR_S, Hotspots
from routing.patrol.legs import UnitData


@dataclass(frozen=True)
class VisitCopy:
    """One visit of hotspot ``hotspot`` arriving in ``[lo_s, hi_s]`` (clock hour ``hour``,
    -1 for the baseline's whole-shift stop), earning ``prize``; a copy made for a captain's
    lock is for the unit ``locked_for`` only."""

    hotspot: int
    lo_s: int
    hi_s: int
    hour: int
    prize: float
    locked_for: str = ""


@dataclass(frozen=True)
class BreakNode:
    """One place where break ``index`` of unit ``unit`` may be taken (the arrival is its
    start, in ``[lo_s, hi_s]``); ``hotspot`` is -1 at the station."""

    unit: int
    index: int
    hotspot: int
    lo_s: int
    hi_s: int
    duration_s: int


def bands(shift_start_s: int, horizon_s: int, band_s: int) -> list[tuple[int, int, int]]:
    """``(lo_s, hi_s, clock_hour)`` of every band of the shift: arrivals in [lo, hi]."""
    found = []
    lo = 0
    while lo < horizon_s:
        clock = shift_start_s + lo
        next_boundary = (clock // band_s + 1) * band_s - shift_start_s
        hi = min(next_boundary, horizon_s) - 1
        found.append((lo, hi, (clock // HOUR_S) % 24))
        lo = next_boundary
    return found


def visit_copies(
    hotspots: Hotspots, shift_bands: Sequence[tuple[int, int, int]]
) -> list[VisitCopy]:
    """One copy per hotspot and band in which the hotspot's risk is positive."""
    return [
        VisitCopy(h, lo, hi, hour, float(hotspots.risk_by_hour[h, hour]))
        for h in range(len(hotspots))
        for lo, hi, hour in shift_bands
        if hotspots.risk_by_hour[h, hour] > 0
    ]


def open_copies_by_hotspot(copies: Sequence[VisitCopy]) -> dict[int, list[VisitCopy]]:
    """The copies open to every unit (not a lock's), per hotspot, by the start of their
    window."""
    by_hotspot: dict[int, list[VisitCopy]] = {}
    for c in copies:
        if not c.locked_for:
            by_hotspot.setdefault(c.hotspot, []).append(c)
    for listed in by_hotspot.values():
        listed.sort(key=lambda c: c.lo_s)
    return by_hotspot


def first_copy(copies: Sequence[VisitCopy], earliest_s: int, slack_s: int) -> VisitCopy | None:
    """The first of ``copies`` (ordered by window) a unit can arrive in, arriving no earlier
    than ``earliest_s`` and waiting at most ``slack_s`` for its window to open."""
    return next(
        (c for c in copies if c.hi_s >= earliest_s and c.lo_s <= earliest_s + slack_s), None
    )


def break_nodes(unit_data: Sequence[UnitData]) -> list[BreakNode]:
    """Every place where every break may be taken: the station and, unless the break is at
    the station, each hotspot place of the unit's grids reachable there and back (one per
    network node)."""
    nodes = []
    for v, d in enumerate(unit_data):
        station = int(d.place_node[0])
        places = [-1]
        seen = {station}
        for h in np.flatnonzero(d.allowed & (d.time_s[0, 1:] >= 0) & (d.time_s[1:, 0] >= 0)):
            node = int(d.place_node[h + 1])
            if node not in seen:
                seen.add(node)
                places.append(int(h))
        for k, b in enumerate(d.unit.breaks):
            # whole seconds; a window narrower than a second keeps its first one
            lo = math.ceil(b.earliest_start_s)
            hi = max(math.floor(b.latest_start_s), lo)
            duration = math.ceil(b.duration_s)
            for at in places[:1] if b.at_station else places:
                nodes.append(BreakNode(v, k, at, lo, hi, duration))
    return nodes


def spacing_groups(nodes: Sequence[VisitCopy], revisit_spacing_s: float) -> list[list[int]]:
    """Groups of copies of one hotspot of which at most one may be visited.

    Two copies conflict when their bands lie closer than the revisit spacing (the later
    band opens less than the spacing after the earlier one closes). A copy and the later
    copies it conflicts with form a group in which every pair conflicts; the groups cover
    every conflicting pair.

    Parameters
    ----------
    nodes
        The visit copies.
    revisit_spacing_s
        The spacing of :class:`~routing.patrol.PatrolOptions`.

    Returns
    -------
    list of list of int
        Positions in ``nodes``, one list per group.
    """
    by_hotspot: dict[int, list[int]] = {}
    for k, c in enumerate(nodes):
        by_hotspot.setdefault(c.hotspot, []).append(k)
    groups: list[list[int]] = []
    for ks in by_hotspot.values():
        ks.sort(key=lambda k: nodes[k].lo_s)
        previous: set[int] = set()
        for pos, a in enumerate(ks):
            group = [
                a,
                *(b for b in ks[pos + 1 :] if nodes[b].lo_s - nodes[a].hi_s < revisit_spacing_s),
            ]
            if len(group) > 1 and not set(group) <= previous:
                groups.append(group)
            previous = set(group)
    return groups
