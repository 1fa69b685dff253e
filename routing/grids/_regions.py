"""Seeded region growing and AZP-style boundary moves: the search behind ``GridDesign.solve``.

Works on one :class:`Zone` at a time (one community's connected set of blocks, to be cut
into ``n_grids`` grids): :func:`grow_regions` grows the grids from spread-out seed blocks,
always extending the lightest grid; :func:`improve_regions` then moves boundary blocks
between neighbouring grids while the objective of :mod:`routing.grids.zoning` improves and
both grids stay contiguous (:func:`is_connected`).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["Zone", "grow_regions", "improve_regions", "is_connected"]


@dataclass
class Zone:
    """One community's connected set of blocks, to be cut into ``n_grids`` grids."""

    parent: Any
    blocks: NDArray[np.int64]
    n_grids: int


def _seed_blocks(
    zone: Zone, xy: NDArray[np.float64], area: NDArray[np.float64], rng: np.random.Generator
) -> NDArray[np.int64]:
    """Spread-out seed blocks: farthest-point start, then area-weighted k-means moves."""
    members = zone.blocks
    pts = xy[members]
    chosen = [int(rng.integers(len(members)))]
    distance = np.hypot(*(pts - pts[chosen[0]]).T)
    for _ in range(1, zone.n_grids):
        chosen.append(int(np.argmax(distance)))
        distance = np.minimum(distance, np.hypot(*(pts - pts[chosen[-1]]).T))
    centres = pts[chosen]
    weights = area[members]
    for _ in range(10):
        nearest = np.argmin(((pts[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
        for k in range(zone.n_grids):
            mask = nearest == k
            if mask.any():
                centres[k] = np.average(pts[mask], axis=0, weights=weights[mask] + 1e-9)
    seeds: list[int] = []
    for centre in centres:
        order = np.argsort(np.hypot(*(pts - centre).T))
        seeds.append(int(next(i for i in order if i not in seeds)))
    return np.asarray(seeds, dtype=np.int64)


def grow_regions(
    zone: Zone,
    xy: NDArray[np.float64],
    workload: NDArray[np.float64],
    area: NDArray[np.float64],
    neighbours: list[set[int]],
    rng: np.random.Generator,
) -> NDArray[np.int64]:
    """Grow the grids of a zone from seeds, always extending the lightest grid.

    Returns local labels (0..k-1) aligned with ``zone.blocks``.
    """
    members = zone.blocks
    position = {int(b): i for i, b in enumerate(members)}
    local = np.full(len(members), -1, dtype=np.int64)
    if zone.n_grids == 1:
        return np.zeros(len(members), dtype=np.int64)
    seeds = _seed_blocks(zone, xy, area, rng)
    load = np.zeros(zone.n_grids)
    for k, s in enumerate(seeds):
        local[s] = k
        load[k] = workload[members[s]] + 1e-9 * area[members[s]]
    seed_xy = xy[members[seeds]]
    remaining = len(members) - zone.n_grids
    blocked: set[int] = set()
    while remaining:
        open_grids = [k for k in np.argsort(load, kind="stable") if int(k) not in blocked]
        if not open_grids:
            break
        k = int(open_grids[0])
        frontier = {
            position[nb]
            for i in np.flatnonzero(local == k)
            for nb in neighbours[int(members[i])]
            if local[position[nb]] < 0
        }
        if not frontier:
            blocked.add(k)
            continue
        candidates = np.fromiter(frontier, dtype=np.int64)
        pick = int(candidates[np.argmin(np.hypot(*(xy[members[candidates]] - seed_xy[k]).T))])
        local[pick] = k
        # A tiny area term keeps zero-workload blocks from all going to one grid.
        load[k] += workload[members[pick]] + 1e-9 * area[members[pick]]
        remaining -= 1
    return local


def is_connected(members: set[int], neighbours: list[set[int]]) -> bool:
    """Whether ``members`` form one connected set under the adjacency ``neighbours``."""
    if not members:
        return True
    start = next(iter(members))
    seen = {start}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nb in neighbours[node]:
            if nb in members and nb not in seen:
                seen.add(nb)
                queue.append(nb)
    return len(seen) == len(members)


def improve_regions(
    zone: Zone,
    local: NDArray[np.int64],
    xy: NDArray[np.float64],
    workload: NDArray[np.float64],
    area: NDArray[np.float64],
    neighbours: list[set[int]],
    rng: np.random.Generator,
    *,
    compactness_weight: float,
    max_passes: int,
) -> tuple[NDArray[np.int64], int, float]:
    """Move boundary blocks between neighbouring grids while the objective improves.

    Returns the labels, the number of moves and the final objective.
    """
    k = zone.n_grids
    if k == 1:
        return local, 0, 0.0
    members = zone.blocks
    position = {int(b): i for i, b in enumerate(members)}
    w = workload[members]
    a = area[members]
    x, y = xy[members, 0] - xy[members, 0].mean(), xy[members, 1] - xy[members, 1].mean()
    target = w.sum() / k if w.sum() > 0 else 1.0
    # Sufficient statistics per grid: workload, area, first and second area moments.
    load = np.bincount(local, weights=w, minlength=k)
    s_a = np.bincount(local, weights=a, minlength=k)
    s_x = np.bincount(local, weights=a * x, minlength=k)
    s_y = np.bincount(local, weights=a * y, minlength=k)
    s_r = np.bincount(local, weights=a * (x * x + y * y), minlength=k)
    grid_members = [set(np.flatnonzero(local == g).tolist()) for g in range(k)]
    local_neighbours = [{position[nb] for nb in neighbours[int(b)]} for b in members]

    def cost(g_load: float, g_a: float, g_x: float, g_y: float, g_r: float) -> float:
        balance = ((g_load - target) / target) ** 2
        if g_a <= 0:
            return balance
        inertia = g_r - (g_x * g_x + g_y * g_y) / g_a
        return balance + compactness_weight * (2 * math.pi * inertia / (g_a * g_a) - 1)

    moves = 0
    for _ in range(max_passes):
        improved = False
        for i in rng.permutation(len(members)):
            src = int(local[i])
            targets = {int(local[j]) for j in local_neighbours[i]} - {src}
            if not targets or len(grid_members[src]) == 1:
                continue
            before_src = cost(load[src], s_a[src], s_x[src], s_y[src], s_r[src])
            after_src = cost(
                load[src] - w[i],
                s_a[src] - a[i],
                s_x[src] - a[i] * x[i],
                s_y[src] - a[i] * y[i],
                s_r[src] - a[i] * (x[i] ** 2 + y[i] ** 2),
            )
            best_gain, best_dst = 1e-12, -1
            for dst in sorted(targets):
                before_dst = cost(load[dst], s_a[dst], s_x[dst], s_y[dst], s_r[dst])
                after_dst = cost(
                    load[dst] + w[i],
                    s_a[dst] + a[i],
                    s_x[dst] + a[i] * x[i],
                    s_y[dst] + a[i] * y[i],
                    s_r[dst] + a[i] * (x[i] ** 2 + y[i] ** 2),
                )
                gain = before_src + before_dst - after_src - after_dst
                if gain > best_gain:
                    best_gain, best_dst = gain, dst
            if best_dst < 0 or not is_connected(grid_members[src] - {int(i)}, local_neighbours):
                continue
            local[i] = best_dst
            grid_members[src].discard(int(i))
            grid_members[best_dst].add(int(i))
            for arr, value in (
                (load, w[i]),
                (s_a, a[i]),
                (s_x, a[i] * x[i]),
                (s_y, a[i] * y[i]),
                (s_r, a[i] * (x[i] ** 2 + y[i] ** 2)),
            ):
                arr[src] -= value
                arr[best_dst] += value
            moves += 1
            improved = True
        if not improved:
            break
    objective = sum(cost(load[g], s_a[g], s_x[g], s_y[g], s_r[g]) for g in range(k))
    return local, moves, float(objective)
