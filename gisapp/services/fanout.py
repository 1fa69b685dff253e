"""A whole city planned as independent area jobs, gathered into one city report.

:func:`plan_city` splits the units on duty by area -- sub-district or community -- and
submits one ``plan`` job per area (:mod:`gisapp.services.job_kinds`) with that area's
units, through a :class:`~gisapp.services.jobs.JobQueue`: on ``gisapp worker`` processes
over Redis the areas run in parallel, in this process one after another. It waits for
all of them (a bounded wait), and returns a :class:`CityPlanReport`: per area the saved
plan's id, its units, key figures, status or error and seconds; the city's totals.

How a unit finds its area: its grids are those its ``grid_ids`` name (as the planner
bounds it), or, for a unit that names none, those whose ``unit_id`` names it; a grid
belongs to its community (``community_id``) and a community to its sub-district
(``subdistrict_id``). A unit whose grids lie in several areas goes to
the area holding most of them (a tie: the area listed first), and the report says so. A
unit with no grid in any area is not planned and is listed with the reason; an area
without units on the shift is listed as skipped.

Every area's plan is saved in the workspace under its own id: the shift's plan id with
the area's tag (``2024-04-24-night-s0-a-area-01``), so the areas of one shift sit side
by side.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from gisapp.errors import BusyError, GisappError
from layers.i18n import _, _l, format_number

if TYPE_CHECKING:
    from gisapp.services.jobs import Job, JobQueue
    from gisapp.settings import Settings, Shift
    from gisapp.store import Workspace

logger = logging.getLogger(__name__)

#: How areas may be cut.
AreaLevel = Literal["subdistrict", "community"]
AREA_LEVELS: tuple[str, ...] = ("subdistrict", "community")
#: The rule by which a unit spanning areas is placed, as the report states it.
PLACEMENT_RULE = _l(
    "a unit whose grids lie in several areas is planned with the area holding most of its "
    "grids (a tie: the area listed first)"
)
#: How long :func:`plan_city` waits for all areas by default.
DEFAULT_TIMEOUT_S = 4 * 3600.0
_POLL_S = 0.2
_UNSAFE_ID_CHARS = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Area:
    """One area of the city: its id, name and the units planned with it."""

    area_id: str
    name: str
    unit_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class UnitPlacement:
    """Where a unit spanning several areas was planned, and why."""

    unit_id: str
    area_id: str
    grids_by_area: Mapping[str, int]


@dataclass(frozen=True)
class AreaSplit:
    """The city cut into areas: each area's units, spanning units, units left out."""

    by: str
    areas: tuple[Area, ...]
    spanning: tuple[UnitPlacement, ...] = ()
    unplaced: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class AreaPlan:
    """One area's outcome.

    Parameters
    ----------
    area_id, name
        The area.
    status
        ``done``, ``failed`` or ``skipped``.
    unit_ids
        The units planned with it.
    plan_id
        The saved plan's id (``done`` only).
    kpis
        The plan's key figures (``done`` only).
    error
        Why it failed or was skipped.
    seconds
        How long its job ran (not counting its wait in the queue).
    """

    area_id: str
    name: str
    status: str
    unit_ids: tuple[str, ...] = ()
    plan_id: str | None = None
    kpis: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
    seconds: float | None = None

    @property
    def dosage(self) -> float:
        """Hotspot risk dosed: the plan's risk-weighted dosage."""
        return float(self.kpis.get("objective") or 0.0)

    @property
    def distance_km(self) -> float:
        """Kilometres driven or walked by the area's units."""
        units = self.kpis.get("units") or {}
        return sum(float(u.get("distance_m") or 0.0) for u in units.values()) / 1000.0

    @property
    def hotspot_stops(self) -> int:
        """Stops at hotspots over the area's units."""
        return int(self.kpis.get("hotspot_stops") or 0)

    def row(self) -> dict[str, Any]:
        """The area as one row of ``city_report.csv``."""
        done = self.status == "done"
        return {
            "area_id": self.area_id,
            "area": self.name,
            "status": self.status,
            "units": ",".join(self.unit_ids),
            "plan_id": self.plan_id or "",
            "hotspot_risk_dosed": round(self.dosage, 6) if done else None,
            "hotspot_risk_share": self.kpis.get("hotspot_risk_share") if done else None,
            "distance_km": round(self.distance_km, 3) if done else None,
            "hotspot_stops": self.hotspot_stops if done else None,
            "seconds": self.seconds,
            "error": self.error or "",
        }


@dataclass(frozen=True)
class CityPlanReport:
    """The city's plan: one outcome per area, spanning and left-out units, totals."""

    workspace: str
    by: str
    shift: str
    date: str
    seed: int
    areas: tuple[AreaPlan, ...]
    spanning: tuple[UnitPlacement, ...] = ()
    unplaced: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    wall_s: float = 0.0

    def area(self, area_id: str) -> AreaPlan:
        """The outcome of area ``area_id``."""
        for area in self.areas:
            if area.area_id == area_id:
                return area
        raise KeyError(area_id)

    @property
    def totals(self) -> dict[str, Any]:
        """The city's figures over the areas planned."""
        done = [a for a in self.areas if a.status == "done"]
        return {
            "areas": len(self.areas),
            "areas_planned": len(done),
            "areas_failed": sum(a.status == "failed" for a in self.areas),
            "areas_skipped": sum(a.status == "skipped" for a in self.areas),
            "units_planned": sum(len(a.unit_ids) for a in done),
            "hotspot_risk_dosed": round(sum(a.dosage for a in done), 6),
            "distance_km": round(sum(a.distance_km for a in done), 3),
            "hotspot_stops": sum(a.hotspot_stops for a in done),
            "job_seconds": round(sum(a.seconds or 0.0 for a in done), 3),
            "wall_seconds": round(self.wall_s, 3),
        }

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-able data (``city_report.json``)."""
        return {
            "workspace": self.workspace,
            "by": self.by,
            "shift": self.shift,
            "date": self.date,
            "seed": self.seed,
            "placement_rule": str(PLACEMENT_RULE),
            "totals": self.totals,
            "areas": [{**a.row(), "units": list(a.unit_ids)} for a in self.areas],
            "spanning_units": [
                {"unit_id": p.unit_id, "area_id": p.area_id, "grids_by_area": dict(p.grids_by_area)}
                for p in self.spanning
            ],
            "units_not_planned": dict(self.unplaced),
            "notes": list(self.notes),
        }

    def table(self) -> pd.DataFrame:
        """One row per area (``city_report.csv``)."""
        table = pd.DataFrame([a.row() for a in self.areas], columns=list(_CSV_COLUMNS))
        return table.astype({"hotspot_stops": "Int64"})


_CSV_COLUMNS = tuple(AreaPlan("", "", "").row())


def split_units(ws: Workspace, *, by: str, shift: Shift) -> AreaSplit:
    """Cut the units on duty in ``shift`` into areas of level ``by``.

    Raises
    ------
    GisappError
        If ``by`` is not a known level, or the workspace lacks the layers that tie its
        grids to areas of that level.
    """
    if by not in AREA_LEVELS:
        raise GisappError(
            _(
                "areas are cut by %(levels)s, got %(by)s",
                levels=" or ".join(AREA_LEVELS),
                by=repr(by),
            )
        )
    areas, area_of_grid, notes = _areas_and_grids(ws, by)
    order = {a.area_id: i for i, a in enumerate(areas)}
    members: dict[str, list[str]] = {a.area_id: [] for a in areas}
    spanning: list[UnitPlacement] = []
    unplaced: dict[str, str] = {}
    for unit_id, grid_ids in _unit_grids(ws, shift).items():
        counts: dict[str, int] = {}
        for grid_id in grid_ids:
            area_id = area_of_grid.get(grid_id)
            if area_id is not None:
                counts[area_id] = counts.get(area_id, 0) + 1
        if not counts:
            unplaced[unit_id] = (
                _("it has no grids (set its grid_ids, or the grids' unit_id)")
                if not grid_ids
                else _outside_text(by)
            )
            continue
        chosen = min(counts, key=lambda a: (-counts[a], order[a]))
        members[chosen].append(unit_id)
        if len(counts) > 1:
            ranked = dict(sorted(counts.items(), key=lambda kv: (-kv[1], order[kv[0]])))
            spanning.append(UnitPlacement(unit_id, chosen, ranked))
    return AreaSplit(
        by=by,
        areas=tuple(Area(a.area_id, a.name, tuple(members[a.area_id])) for a in areas),
        spanning=tuple(spanning),
        unplaced=unplaced,
        notes=tuple(notes),
    )


def _outside_text(by: str) -> str:
    """Why a unit whose grids lie in no area of level ``by`` is not planned."""
    if by == "subdistrict":
        return _("none of its grids lies in a sub-district")
    return _("none of its grids lies in a community")


def _stray_text(by: str, stray: Sequence[str]) -> str:
    """The note on grids that lie in no known area of level ``by``."""
    count = format_number(len(stray))
    grids = ", ".join(stray[:10]) + (" ..." if len(stray) > 10 else "")
    if by == "subdistrict":
        return _(
            "%(count)s grid(s) lie in no known sub-district and count for no area: %(grids)s",
            count=count,
            grids=grids,
        )
    return _(
        "%(count)s grid(s) lie in no known community and count for no area: %(grids)s",
        count=count,
        grids=grids,
    )


def _skipped_text(by: str, shift: Shift) -> str:
    """Why an area of level ``by`` has no plan: no unit of the shift is mostly in it."""
    if by == "subdistrict":
        return _(
            "no unit on the %(shift)s shift has most of its grids in this sub-district",
            shift=shift.label(),
        )
    return _(
        "no unit on the %(shift)s shift has most of its grids in this community",
        shift=shift.label(),
    )


def _ids(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame[column].fillna("").astype(str).str.strip()


def _areas_and_grids(ws: Workspace, by: str) -> tuple[list[Area], dict[str, str], list[str]]:
    """The areas in layer order, the area of every grid, and notes on what was assumed."""
    grids = ws.layer("grids", required=False)
    if len(grids) == 0 or "community_id" not in grids.columns:
        raise GisappError(
            _(
                "workspace %(workspace)s has no grids tied to communities; import a 'grids' "
                "layer with community_id to plan the city area by area",
                workspace=repr(ws.label),
            )
        )
    community_of = dict(zip(_ids(grids, "id"), _ids(grids, "community_id"), strict=True))
    communities = ws.layer("communities", required=False)
    notes: list[str] = []
    if by == "community":
        if len(communities):
            areas = _named_areas(communities)
        else:
            areas = [Area(c, c) for c in sorted(set(community_of.values())) if c]
            notes.append(
                _("the workspace has no communities layer: the areas are the grids' community ids")
            )
        area_of_grid = community_of
    else:
        if len(communities) == 0 or "subdistrict_id" not in communities.columns:
            raise GisappError(
                _(
                    "workspace %(workspace)s has no communities layer tying grids to "
                    "sub-districts; import one (id, name, subdistrict_id) or plan by community",
                    workspace=repr(ws.label),
                )
            )
        subdistrict_of = dict(
            zip(_ids(communities, "id"), _ids(communities, "subdistrict_id"), strict=True)
        )
        subdistricts = ws.layer("subdistricts", required=False)
        if len(subdistricts):
            areas = _named_areas(subdistricts)
        else:
            areas = [Area(s, s) for s in sorted(set(subdistrict_of.values())) if s]
            notes.append(
                _(
                    "the workspace has no subdistricts layer: the areas are the communities' "
                    "sub-district ids"
                )
            )
        area_of_grid = {g: subdistrict_of.get(c, "") for g, c in community_of.items()}
    known = {a.area_id for a in areas}
    stray = sorted(g for g, a in area_of_grid.items() if a not in known)
    if stray:
        notes.append(_stray_text(by, stray))
    return areas, {g: a for g, a in area_of_grid.items() if a in known}, notes


def _named_areas(layer: pd.DataFrame) -> list[Area]:
    names = _ids(layer, "name") if "name" in layer.columns else _ids(layer, "id")
    pairs = dict(zip(_ids(layer, "id"), names, strict=True))
    return [Area(i, n or i) for i, n in pairs.items() if i]


def _unit_grids(ws: Workspace, shift: Shift) -> dict[str, list[str]]:
    """The grids of every unit on duty in ``shift`` (as :func:`plan_shift` picks them)."""
    from layers.schema import parse_id_list

    units = ws.layer("units", required=False)
    if len(units) == 0:
        raise GisappError(
            _(
                "workspace %(workspace)s has no units; import a 'units' table "
                "(id, mode, station_id, grid_ids) first",
                workspace=repr(ws.label),
            )
        )
    shift_text = _ids(units, "shift") if "shift" in units.columns else pd.Series("", units.index)
    on_duty = units[shift_text.isin(["", shift.label(), shift.name]).to_numpy()]
    grids = ws.layer("grids", required=False)
    by_grid: dict[str, list[str]] = {}
    if "unit_id" in grids.columns:
        for grid_id, unit_id in zip(_ids(grids, "id"), _ids(grids, "unit_id"), strict=True):
            by_grid.setdefault(unit_id, []).append(grid_id)
    result: dict[str, list[str]] = {}
    for record in on_duty.to_dict("records"):
        unit_id = str(record["id"]).strip()
        # the planner bounds a unit by its grid_ids; the grids' unit_id speaks for a unit
        # that names none
        named = parse_id_list(record.get("grid_ids"))
        result[unit_id] = named or by_grid.get(unit_id, [])
    return result


def area_tag(area_id: str) -> str:
    """The tag an area's plan id carries: ``a-`` and the id's safe characters (with a
    short digest when the id had others, so that ids such as Chinese names stay apart)."""
    slug = _UNSAFE_ID_CHARS.sub("_", area_id).strip("_-")[:24]
    if slug != area_id:
        slug = f"{slug}_{hashlib.sha1(area_id.encode()).hexdigest()[:6]}".strip("_")
    return f"a-{slug}"


def plan_city(
    ws_location: str,
    *,
    by: str = "subdistrict",
    shift: Shift,
    date: dt.date | None = None,
    seed: int = 0,
    settings: Settings,
    jobs: JobQueue,
    progress: Callable[[float], None] | None = None,
    search_budget: int | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> CityPlanReport:
    """Plan every area of the city as its own ``plan`` job and gather the outcomes.

    Parameters
    ----------
    ws_location
        The workspace (as ``gisapp.store.open_workspace`` takes it); every area's plan is
        saved in it.
    by
        ``subdistrict`` or ``community``.
    shift, date, seed
        The shift, the day it starts (default: today in the workspace's time zone) and
        the seed, the same for every area.
    settings
        The settings every area's job is planned with (sent with the jobs).
    jobs
        Where the jobs run: workers over Redis in parallel, or this process in turn.
    progress
        Called with the share of the city done (0 to 1).
    search_budget
        Solver search per area (default: the settings' ``plan_effort``).
    timeout_s
        Most seconds to wait for all areas; those still running then are reported failed.

    Returns
    -------
    CityPlanReport
        Every area (planned, failed with its message, or skipped with the reason).

    Raises
    ------
    GisappError
        If the workspace cannot be cut into areas of level ``by``.
    BusyError
        If the queue refuses the first job.
    """
    from gisapp.services.job_kinds import settings_args
    from gisapp.store import open_workspace

    began = time.monotonic()
    if ws_location.startswith("sample:"):
        raise GisappError(
            _(
                "the areas' plans are saved in the workspace and a sample is read-only; copy "
                "it to a file or a database first (gisapp copy %(sample)s city.gpkg, or "
                "gisapp copy %(sample)s postgresql://HOST/DB?schema=city) and plan that",
                sample=ws_location,
            )
        )
    ws = open_workspace(ws_location)
    split = split_units(ws, by=by, shift=shift)
    day = date or pd.Timestamp.now(tz=ws.timezone).date()
    base_args: dict[str, Any] = {
        "shift": shift.label(),
        "shift_name": shift.name if shift.name != shift.label() else "",
        "date": day.isoformat(),
        "seed": int(seed),
        "settings": settings_args(settings),
        **({"search_budget": int(search_budget)} if search_budget is not None else {}),
    }
    to_plan = [a for a in split.areas if a.unit_ids]
    outcomes = _run_areas(jobs, ws_location, to_plan, base_args, progress, timeout_s, ws.label)
    areas = tuple(
        outcomes[a.area_id]
        if a.unit_ids
        else AreaPlan(
            a.area_id,
            a.name,
            "skipped",
            error=_skipped_text(by, shift),
        )
        for a in split.areas
    )
    if progress is not None:
        progress(1.0)
    return CityPlanReport(
        workspace=ws.label,
        by=by,
        shift=shift.label() if shift.name in ("", shift.label()) else shift.name,
        date=day.isoformat(),
        seed=int(seed),
        areas=areas,
        spanning=split.spanning,
        unplaced=split.unplaced,
        notes=split.notes,
        wall_s=time.monotonic() - began,
    )


def _run_areas(
    jobs: JobQueue,
    ws_location: str,
    areas: Sequence[Area],
    base_args: Mapping[str, Any],
    progress: Callable[[float], None] | None,
    timeout_s: float,
    label: str,
) -> dict[str, AreaPlan]:
    """Submit one job per area (waiting when the queue is full), then gather them all."""
    deadline = time.monotonic() + timeout_s
    waiting: list[Area] = list(areas)
    running: dict[str, tuple[Area, Job]] = {}
    outcomes: dict[str, AreaPlan] = {}
    while waiting or running:
        while waiting:
            area = waiting[0]
            args = {
                **base_args,
                "unit_ids": list(area.unit_ids),
                "plan_tag": area_tag(area.area_id),
            }
            try:
                job = jobs.submit(
                    "plan",
                    ws_location,
                    args,
                    label=f"{label}: {area.name}",
                    meta={"area_id": area.area_id},
                )
            except BusyError:
                if not running:
                    raise
                break  # the queue is full: gather some first
            running[area.area_id] = (area, job)
            waiting.pop(0)
        time.sleep(_POLL_S)
        shares = _gather(jobs, running, outcomes)
        if progress is not None and areas:
            progress(min((len(outcomes) + shares) / len(areas), 0.99))
        if time.monotonic() >= deadline:
            break
    for area in [*waiting, *(a for a, _job in running.values())]:
        outcomes[area.area_id] = AreaPlan(
            area.area_id,
            area.name,
            "failed",
            area.unit_ids,
            error=_(
                "the area's plan did not finish within %(minutes)s minutes; it may still be "
                "running on a worker: look for its plan later or plan the area alone",
                minutes=format_number(timeout_s / 60.0),
            ),
        )
    return outcomes


def _gather(
    jobs: JobQueue, running: dict[str, tuple[Area, Job]], outcomes: dict[str, AreaPlan]
) -> float:
    """Move the ended jobs of ``running`` into ``outcomes``; the progress of the others."""
    shares = 0.0
    for area_id, (area, job) in list(running.items()):
        now = jobs.status(job.job_id)
        if now is None:
            outcome = AreaPlan(
                area.area_id,
                area.name,
                "failed",
                area.unit_ids,
                error=_(
                    "the queue forgot the area's job before it was gathered; plan the area again"
                ),
            )
        elif not now.ended:
            shares += now.progress
            continue
        elif now.status == "failed":
            outcome = AreaPlan(area.area_id, area.name, "failed", area.unit_ids, error=now.error)
        else:
            result = dict(now.result or {})
            outcome = AreaPlan(
                area.area_id,
                area.name,
                "done",
                area.unit_ids,
                plan_id=str(result.get("plan_id") or ""),
                kpis=dict(result.get("kpis") or {}),
                seconds=_seconds(result.get("seconds")),
            )
            logger.info("area %s planned: %s", area.area_id, outcome.plan_id)
        outcomes[area_id] = outcome
        del running[area_id]
    return shares


def _seconds(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)


def write_city_report(report: CityPlanReport, out: str | Path) -> list[Path]:
    """Write ``city_report.json`` (strict JSON) and ``city_report.csv`` (UTF-8 with a BOM)
    into the folder ``out``; the paths written."""
    from gisapp.outputs.files import write_csv
    from gisapp.outputs.kpis import write_kpis

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    return [
        write_kpis(report.to_dict(), folder / "city_report.json"),
        write_csv(report.table(), folder / "city_report.csv"),
    ]


__all__ = [
    "AREA_LEVELS",
    "PLACEMENT_RULE",
    "Area",
    "AreaPlan",
    "AreaSplit",
    "CityPlanReport",
    "UnitPlacement",
    "area_tag",
    "plan_city",
    "split_units",
    "write_city_report",
]
