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


def cluster_hotspots(model: PatrolModel, units: list[int]) -> NDArray[np.int64]:
    """The hotspots any unit of ``units`` may stop at, in increasing order."""
    allowed = np.zeros(len(model.hotspots), dtype=bool)
    for v in units:
        allowed |= model.unit_data[v].allowed
    return np.flatnonzero(allowed).astype(np.int64)


def sub_model(model: PatrolModel, units: list[int]) -> tuple[PatrolModel, NDArray[np.int64]]:
    """The model of ``units`` alone, with only their hotspots and visit copies.

    Returns
    -------
    tuple
        The sub-model and, for each of its hotspots, the hotspot's index in ``model``.
    """
    from routing.patrol.model import PatrolModel

    idx = cluster_hotspots(model, units)
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
        d = model.unit_data[v]
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
