"""Splitting a patrol model into independent parts: units that share no hotspot are planned
apart.

Two units whose grids hold no hotspot in common never compete for a stop, and their
routes do not interact (the revisit spacing is per hotspot). So the units fall into
*clusters*, the connected groups of the relation "may stop at a common hotspot", and each
cluster is an independent problem with only its own hotspots and visit copies. A city of
40 units with their own grids is 40 small problems rather than one model with 40 vehicles
over every copy of every hotspot, whose matrices alone grow with the square of the city.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from routing.patrol.discrete import BreakNode, VisitCopy
from routing.patrol.inputs import Hotspots
from routing.patrol.legs import UnitData
from routing.patrol.overrides import Overrides
from routing.patrol.timetable import StopSequence

if TYPE_CHECKING:
    from routing.patrol.model import PatrolModel


def unit_clusters(unit_data: list[UnitData]) -> list[list[int]]:
    """Groups of units (positions in ``unit_data``) linked by a hotspot they may share.

    Returns
    -------
    list of list of int
        Every unit in exactly one group; groups ordered by their first unit, units in
        order inside a group.
    """
    parent = list(range(len(unit_data)))

    def root(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    first_unit: dict[int, int] = {}
    for v, d in enumerate(unit_data):
        for h in np.flatnonzero(d.allowed).tolist():
            if h in first_unit:
                a, b = root(first_unit[h]), root(v)
                parent[max(a, b)] = min(a, b)
            else:
                first_unit[h] = v
    groups: dict[int, list[int]] = {}
    for v in range(len(unit_data)):
        groups.setdefault(root(v), []).append(v)
    return sorted(groups.values(), key=lambda g: g[0])


#: Two units whose grids share at most this share of the smaller one's hotspots (boundary
#: streets) are searched apart, each shared hotspot going to the unit nearest to it.
SHARED_SHARE_APART = 0.25


def search_areas(
    unit_data: list[UnitData], keep: Mapping[str, Sequence[int]] | None = None
) -> list[UnitData]:
    """The units' hotspots as the search sees them: a hotspot that two units share only on
    the edge of their grids (see :data:`SHARED_SHARE_APART`) goes to the one whose station
    reaches it first (then the first unit), so that neighbouring units with their own grids
    are searched apart. Units patrolling the same area keep sharing it, and a unit keeps
    the hotspots of ``keep`` (per unit id: a captain's locks and orders). The fill pass
    still offers every unit all of its hotspots."""
    kept = {unit_id: set(hs) for unit_id, hs in (keep or {}).items()}
    allowed = [d.allowed.copy() for d in unit_data]
    counts = [int(a.sum()) for a in allowed]
    for v, w in itertools.combinations(range(len(unit_data)), 2):
        shared = allowed[v] & allowed[w]
        n_shared = int(shared.sum())
        if not n_shared or n_shared > SHARED_SHARE_APART * min(counts[v], counts[w]):
            continue
        for h in np.flatnonzero(shared).tolist():
            tv, tw = int(unit_data[v].time_s[0, h + 1]), int(unit_data[w].time_s[0, h + 1])
            loser = w if tv >= 0 and (tw < 0 or tv <= tw) else v
            if h not in kept.get(unit_data[loser].unit.unit_id, ()):
                allowed[loser][h] = False
    return [
        d if np.array_equal(a, d.allowed) else UnitData(d.unit, d.place_node, d.time_s, d.inside, a)
        for d, a in zip(unit_data, allowed, strict=True)
    ]


def cluster_hotspots(unit_data: list[UnitData], units: list[int]) -> NDArray[np.int64]:
    """The hotspots any unit of ``units`` may stop at, in increasing order."""
    allowed = np.zeros(len(unit_data[units[0]].allowed), dtype=bool)
    for v in units:
        allowed |= unit_data[v].allowed
    return np.flatnonzero(allowed).astype(np.int64)


def sub_model(
    model: PatrolModel, units: list[int], unit_data: list[UnitData] | None = None
) -> tuple[PatrolModel, NDArray[np.int64]]:
    """The model of ``units`` alone, with only their hotspots and visit copies (of
    ``unit_data``, by default the model's).

    Returns
    -------
    tuple
        The sub-model and, for each of its hotspots, the hotspot's index in ``model``.
    """
    from routing.patrol.model import PatrolModel

    all_data = model.unit_data if unit_data is None else unit_data
    idx = cluster_hotspots(all_data, units)
    position = np.full(len(model.hotspots), -1, dtype=np.int64)
    position[idx] = np.arange(len(idx))
    hs = model.hotspots
    hotspots = Hotspots(
        x=hs.x[idx],
        y=hs.y[idx],
        crs=hs.crs,
        risk_by_hour=hs.risk_by_hour[idx],
        name=hs.name[idx],
        segments=tuple(hs.segments[i] for i in idx) if hs.segments else (),
    )
    places = np.concatenate([[0], idx + 1])
    sliced: dict[int, tuple[NDArray[np.int64], NDArray[np.bool_]]] = {}
    data = []
    for v in units:
        d = all_data[v]
        # alike units keep sharing one matrix: the search groups vehicles by it
        key = id(d.time_s)
        if key not in sliced:
            sliced[key] = (d.time_s[np.ix_(places, places)], d.inside[np.ix_(places, places)])
        time_s, inside = sliced[key]
        data.append(UnitData(d.unit, d.place_node[places], time_s, inside, d.allowed[idx]))
    unit_ids = {model.units[v].unit_id for v in units}
    copies = [
        replace(c, hotspot=int(position[c.hotspot]))
        for c in model.copies
        if position[c.hotspot] >= 0 and (not c.locked_for or c.locked_for in unit_ids)
    ]
    locks = tuple(
        replace(lock, hotspot=int(position[lock.hotspot]))
        for lock in model.overrides.locks
        if lock.unit_id in unit_ids
    )
    sub = PatrolModel(
        model.networks,
        hotspots,
        [model.units[v] for v in units],
        data,
        copies,
        model.shift_start_s,
        model.options,
        model.leg_graphs,
        Overrides(locks=locks),
    )
    return sub, idx


def lift_sequences(
    sequences: list[StopSequence], units: list[int], hotspots: NDArray[np.int64]
) -> list[StopSequence]:
    """Sub-model timetables renumbered into the whole model's units and hotspots."""

    def place(h: int) -> int:
        return -1 if h < 0 else int(hotspots[h])

    lifted = []
    for s in sequences:
        items: list[VisitCopy | BreakNode] = [
            replace(it, hotspot=place(it.hotspot), unit=units[it.unit])
            if isinstance(it, BreakNode)
            else replace(it, hotspot=place(it.hotspot))
            for it in s.items
        ]
        lifted.append(
            replace(s, unit=units[s.unit], places=[place(h) for h in s.places], items=items)
        )
    return lifted
