"""A captain's overrides of a shift plan, in the captain's terms: hotspot ids (``hs-007``),
unit ids, street names and clock times.

:class:`PlanOverrides` is what the CLI (``--lock``, ``--forbid``, ``--close-street``,
``--order`` or ``--overrides FILE.json``) and the web plan page give to
:func:`gisapp.services.plan.plan_shift`, and what is saved with the plan (its KPIs carry
:meth:`PlanOverrides.to_dict`), so a plan made under overrides is made again the same way.
:meth:`PlanOverrides.for_model` turns them into :class:`routing.patrol.Overrides` once the
shift's hotspots and networks are known.

Hotspot ids are those of the plan's hotspots (``hs-001`` is the riskiest of the shift): the
same workspace, shift and settings select the same hotspots, so the ids of a saved plan
stay valid for planning it again.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gisapp.errors import GisappError
from layers.i18n import _
from layers.schema import parse_id_list
from routing.network import StreetNetwork
from routing.patrol import Hotspots
from routing.patrol.overrides import Lock, Overrides

_LOCK = re.compile(r"^\s*([^:@]+?)\s*:\s*([^:@]+?)\s*(?:@\s*(\d{1,2}):(\d{2}))?\s*$")
_ORDER = re.compile(r"^\s*([^:]+?)\s*:\s*(.+?)\s*$")
_HOTSPOT_ID = re.compile(r"^hs-(\d+)$")


@dataclass(frozen=True)
class StopLock:
    """Unit ``unit_id`` must stop at hotspot ``hotspot_id``, at clock time ``at`` (``HH:MM``,
    within 15 minutes) when given."""

    unit_id: str
    hotspot_id: str
    at: str | None = None


@dataclass(frozen=True)
class PlanOverrides:
    """What the captain changed in a plan.

    Parameters
    ----------
    locks
        Stops a unit must make (moving a stop to another unit is a lock for that unit).
    forbidden
        Hotspot ids no unit may stop at (an event, a place under watch by others).
    closed_streets
        Street names no route may drive along (road works, a closed road).
    orders
        Per unit, its stops (hotspot ids) in the order the captain set; the unit's plan is
        only timed.
    """

    locks: tuple[StopLock, ...] = ()
    forbidden: tuple[str, ...] = ()
    closed_streets: tuple[str, ...] = ()
    orders: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.locks or self.forbidden or self.closed_streets or self.orders)

    # -- reading and writing -----------------------------------------------------------
    @classmethod
    def from_specs(
        cls,
        *,
        locks: Sequence[str] = (),
        forbidden: Sequence[str] = (),
        closed_streets: Sequence[str] = (),
        orders: Sequence[str] = (),
    ) -> PlanOverrides:
        """Overrides from the CLI's and the form's texts: locks ``UNIT:HOTSPOT[@HH:MM]``,
        hotspot ids, street names, orders ``UNIT:HOTSPOT,HOTSPOT,...``.

        Raises
        ------
        GisappError
            Naming every text that cannot be read, with an example.
        """
        problems = []
        parsed_locks = []
        for text in locks:
            m = _LOCK.match(text)
            if not m or (m.group(3) and not (int(m.group(3)) < 24 and int(m.group(4)) < 60)):
                problems.append(
                    _(
                        "lock %(lock)s should read UNIT:HOTSPOT or UNIT:HOTSPOT@HH:MM, e.g. "
                        "car-2:hs-007@23:30",
                        lock=repr(text),
                    )
                )
                continue
            at = f"{int(m.group(3)):02d}:{m.group(4)}" if m.group(3) else None
            parsed_locks.append(StopLock(m.group(1), m.group(2), at))
        parsed_orders: dict[str, tuple[str, ...]] = {}
        for text in orders:
            m = _ORDER.match(text)
            if not m or not parse_id_list(m.group(2)):
                problems.append(
                    _(
                        "order %(order)s should read UNIT:HOTSPOT,HOTSPOT,..., e.g. "
                        "car-1:hs-003,hs-001",
                        order=repr(text),
                    )
                )
                continue
            parsed_orders[m.group(1)] = tuple(parse_id_list(m.group(2)))
        if problems:
            raise GisappError("; ".join(problems))
        return cls(
            locks=tuple(parsed_locks),
            forbidden=tuple(h for text in forbidden for h in parse_id_list(text)),
            closed_streets=tuple(s.strip() for s in closed_streets if s.strip()),
            orders=parsed_orders,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (saved with the plan)."""
        return {
            "locks": [
                {"unit_id": lock.unit_id, "hotspot_id": lock.hotspot_id, "at": lock.at}
                for lock in self.locks
            ],
            "forbidden": list(self.forbidden),
            "closed_streets": list(self.closed_streets),
            "orders": {unit: list(ids) for unit, ids in self.orders.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PlanOverrides:
        """Overrides from :meth:`to_dict`'s data (a saved plan's, or a JSON file's).

        Raises
        ------
        GisappError
            If the data does not have that shape.
        """
        try:
            return cls(
                locks=tuple(
                    StopLock(str(x["unit_id"]), str(x["hotspot_id"]), x.get("at") or None)
                    for x in data.get("locks", ())
                ),
                forbidden=tuple(str(x) for x in data.get("forbidden", ())),
                closed_streets=tuple(str(x) for x in data.get("closed_streets", ())),
                orders={str(u): tuple(map(str, ids)) for u, ids in data.get("orders", {}).items()},
            )
        except (AttributeError, KeyError, TypeError) as exc:
            raise GisappError(
                _(
                    "the overrides should be an object with 'locks' (unit_id, hotspot_id, at), "
                    "'forbidden', 'closed_streets' and 'orders'; this one has a problem near "
                    "%(error)s",
                    error=exc,
                )
            ) from None

    def variant(self) -> str:
        """A short stable tag of these overrides for plan ids (``o`` + 6 hex digits)."""
        text = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False)
        return "o" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:6]

    # -- for the model -----------------------------------------------------------------
    def for_model(
        self,
        hotspots: Hotspots,
        networks: Mapping[str, StreetNetwork],
        *,
        shift_start_s: int,
    ) -> Overrides:
        """The overrides of the patrol model: indices, segment masks, seconds.

        A hotspot on a closed street is forbidden with it.

        Raises
        ------
        GisappError
            Naming every unknown hotspot id or street, with the known ones.
        """
        n = len(hotspots)
        unknown: list[str] = []

        def index(hotspot_id: str) -> int:
            m = _HOTSPOT_ID.match(hotspot_id.strip())
            if not m or not 1 <= int(m.group(1)) <= n:
                unknown.append(hotspot_id)
                return -1
            return int(m.group(1)) - 1

        closed = {mode: _street_mask(net, self.closed_streets) for mode, net in networks.items()}
        named = {
            s.casefold()
            for s in self.closed_streets
            if any(_street_mask(net, (s,)).any() for net in networks.values())
        }
        missing_streets = [s for s in self.closed_streets if s.casefold() not in named]
        forbidden = {index(h) for h in self.forbidden}
        forbidden |= {k for k, name in enumerate(hotspots.name) if str(name).casefold() in named}
        locks = tuple(
            Lock(lock.unit_id, index(lock.hotspot_id), _seconds_from(lock.at, shift_start_s))
            for lock in self.locks
        )
        orders = {unit: tuple(index(h) for h in ids) for unit, ids in self.orders.items()}
        problems = []
        if unknown:
            problems.append(
                _(
                    "hotspot id(s) %(ids)s are not among this shift's "
                    "%(count)s hotspots (hs-001 to %(last)s)",
                    ids=", ".join(map(repr, unknown)),
                    count=n,
                    last="hs-" + format(n, "03d"),
                )
            )
        if missing_streets:
            problems.append(
                _(
                    "no street is named %(streets)s in the roads layer",
                    streets=", ".join(map(repr, missing_streets)),
                )
            )
        if problems:
            raise GisappError(
                _(
                    "%(problems)s; check the plan's hotspot list and street names",
                    problems="; ".join(problems),
                )
            )
        return Overrides(
            locks=locks,
            forbidden=frozenset(forbidden - {-1}),
            closed_segments={mode: mask for mode, mask in closed.items() if mask.any()},
            orders=orders,
        )


def _street_mask(net: StreetNetwork, names: Sequence[str]) -> np.ndarray:
    wanted = {n.casefold() for n in names}
    if not wanted:
        return np.zeros(net.n_segments, dtype=bool)
    return np.array([str(s or "").casefold() in wanted for s in net.segment_name], dtype=bool)


def _seconds_from(at: str | None, shift_start_s: int) -> float | None:
    """Seconds from the shift start to clock time ``HH:MM`` (the next one)."""
    if at is None:
        return None
    hours, minutes = (int(x) for x in at.split(":"))
    return float((hours * 3600 + minutes * 60 - shift_start_s) % 86_400)


__all__ = ["PlanOverrides", "StopLock"]
