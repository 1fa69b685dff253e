"""The kinds of long job, described by data so that any process can run them.

A job is a kind (``plan``, ``coverage``, ``placement``, ``grid_design``, ``export``) and
JSON-able arguments; :data:`JOB_KINDS` maps each kind to the function that runs it,
``function(workspace, args, progress) -> summary``. The summary is JSON-able and small
(a saved plan's id and key figures, the files written): big results are saved in the
workspace (a plan, a layer of proposed posts or designed grids) or in a folder the
arguments name, never carried in the job.

The same arguments give the same result from the in-process runner and from a worker on
another machine: the settings that shape a result travel in the arguments
(:func:`settings_args`), not read from the worker's own settings file.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gisapp.errors import GisappError
from gisapp.settings import Settings, parse_shift
from layers.i18n import _

if TYPE_CHECKING:
    from gisapp.store import Workspace

#: A progress callback: the share of the job done, 0 to 1.
Progress = Callable[[float], None]
#: A job kind's function: the open workspace, the job's arguments, its progress callback.
JobKindFunction = Callable[["Workspace", Mapping[str, Any], Progress], dict[str, Any]]

#: Settings never sent with a job (secrets, the web's own files, the queue itself).
_PRIVATE_SETTINGS = frozenset({"secret_key", "users_db", "job_queue"})
#: Characters a plan id may not hold (as :func:`gisapp.plans.make_plan_id`).
_UNSAFE_ID_CHARS = re.compile(r"[^A-Za-z0-9_-]+")


def settings_args(settings: Settings) -> dict[str, Any]:
    """The settings that shape a job's result, as JSON-able data for its arguments."""
    return {
        f.name: _plain(getattr(settings, f.name))
        for f in dataclasses.fields(Settings)
        if f.name not in _PRIVATE_SETTINGS
    }


def settings_from_args(args: Mapping[str, Any]) -> Settings:
    """The settings sent with a job (:func:`settings_args`); the defaults for those absent.

    Raises
    ------
    GisappError
        If the job names a setting this version does not know.
    """
    data = dict(args.get("settings") or {})
    known = {f.name for f in dataclasses.fields(Settings)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise GisappError(
            _(
                "the job names unknown setting(s) %(settings)s; run the same gisapp "
                "version on the web server and the workers",
                settings=", ".join(unknown),
            )
        )
    if "response_minutes" in data:
        data["response_minutes"] = tuple(float(m) for m in data["response_minutes"])
    return dataclasses.replace(Settings(), **data)


def plan_job(ws: Workspace, args: Mapping[str, Any], progress: Progress) -> dict[str, Any]:
    """Plan a shift and save it in the workspace (one transaction at the end).

    Arguments: ``shift`` (window ``"22:00-06:00"``), ``shift_name``, ``date`` (ISO),
    ``unit_ids`` (None: the shift's units), ``seed``, ``settings``, and optionally
    ``overrides`` (:meth:`PlanOverrides.to_dict`), ``n_hotspots``, ``search_budget``,
    ``plan_tag`` (added to the plan id, so that plans of several areas of one shift are
    saved side by side).

    Returns
    -------
    dict
        ``plan_id``, the plan's ``kpis`` and the ``seconds`` the job ran.
    """
    from gisapp.services.overrides import PlanOverrides
    from gisapp.services.plan import plan_shift
    from gisapp.store.plans import save_plan

    began = time.monotonic()
    shift = parse_shift(_text(args, "shift"), name=args.get("shift_name") or None)
    overrides = PlanOverrides.from_dict(args["overrides"]) if args.get("overrides") else None
    planned = plan_shift(
        ws,
        shift=shift,
        date=_date(args.get("date")),
        unit_ids=list(args["unit_ids"]) if args.get("unit_ids") else None,
        seed=int(args.get("seed") or 0),
        settings=settings_from_args(args),
        n_hotspots=_optional_int(args.get("n_hotspots")),
        search_budget=_optional_int(args.get("search_budget")),
        progress=progress,
        overrides=overrides,
    )
    record = planned.record
    tag = _UNSAFE_ID_CHARS.sub("_", str(args.get("plan_tag") or "")).strip("_-")[:40]
    if tag:
        plan_id = f"{record.plan_id}-{tag}"
        kpis = {**record.kpis, "plan_id": plan_id}
        record = dataclasses.replace(record, plan_id=plan_id, kpis=kpis)
    plan_id = save_plan(record, ws)
    seconds = round(time.monotonic() - began, 3)
    return {"plan_id": plan_id, "kpis": _plain(record.kpis), "seconds": seconds}


def coverage_job(ws: Workspace, args: Mapping[str, Any], progress: Progress) -> dict[str, Any]:
    """Reach bands, blind zones and KPIs of the workspace's posts, written to ``out``.

    Arguments: ``out`` (a folder), and optionally ``minutes``, ``street_minutes``,
    ``mode``, ``risk_window`` (``["22:00", "06:00"]``), ``settings``.

    Returns
    -------
    dict
        The coverage ``kpis`` and the ``files`` written.
    """
    from gisapp.outputs.coverage import write_coverage_files
    from gisapp.services.coverage import compute_coverage, coverage_kpis

    settings = settings_from_args(args)
    changes: dict[str, Any] = {
        "minutes": tuple(float(m) for m in args.get("minutes") or settings.response_minutes),
        "key_place_minutes": dict(settings.key_place_minutes),
        "keep_pileups": settings.keep_pileups,
    }
    if args.get("street_minutes") is not None:
        changes["street_minutes"] = float(args["street_minutes"])
    if args.get("mode"):
        changes["mode"] = str(args["mode"])
    if args.get("risk_window"):
        start, end = args["risk_window"]
        changes["risk_window"] = (str(start), str(end))
    progress(0.05)
    result = compute_coverage(ws, **changes)
    progress(0.9)
    kpis = coverage_kpis(result)
    out = _out_dir(args)
    written = write_coverage_files(
        bands=result.bands, blind_zones=result.blind_zones, kpis=kpis, out=out
    )
    return {"kpis": _plain(kpis), "files": [str(path) for path in written]}


def placement_job(ws: Workspace, args: Mapping[str, Any], progress: Progress) -> dict[str, Any]:
    """Propose new duty points and save them as the workspace's proposal layer.

    Arguments: optionally ``model``, ``posts``, ``minutes``, ``demand``, ``mode``,
    ``seed``, ``layer`` (default the proposal layer), ``settings``.

    Returns
    -------
    dict
        The placement ``kpis`` and the ``layer`` saved.
    """
    from gisapp.services.placement import PROPOSED_LAYER, propose_posts, save_proposed

    settings = settings_from_args(args)
    changes: dict[str, Any] = {
        "key_place_minutes": dict(settings.key_place_minutes),
        "keep_pileups": settings.keep_pileups,
    }
    for name, kind in (("model", str), ("demand", str), ("mode", str)):
        if args.get(name):
            changes[name] = kind(args[name])
    for name, number in (("posts", int), ("seed", int), ("minutes", float)):
        if args.get(name) is not None:
            changes[name] = number(args[name])
    progress(0.05)
    result = propose_posts(ws, **changes)
    layer = str(args.get("layer") or PROPOSED_LAYER)
    save_proposed(ws, result, layer=layer)
    return {"kpis": _plain(result.kpis), "layer": layer}


def grid_design_job(ws: Workspace, args: Mapping[str, Any], progress: Progress) -> dict[str, Any]:
    """Design responsibility grids of balanced workload; save them as a workspace layer.

    Arguments: ``n_grids``, ``layer`` (a new layer's name, never ``grids``), and
    optionally ``tolerance``, ``seed``, ``shifts`` (named shifts), ``settings``.

    Returns
    -------
    dict
        The design's ``kpis`` and the ``layer`` saved.
    """
    from gisapp.services.grids import design_workspace_grids, workload_incidents

    settings = settings_from_args(args)
    layer = _text(args, "layer")
    shifts: dict[str, tuple[str, str]] = {}
    for name in args.get("shifts") or settings.shifts:
        start, _, end = settings.shift(str(name)).label().partition("-")
        shifts[str(name)] = (start, end)
    incidents, _ = workload_incidents(ws, keep_pileups=settings.keep_pileups)
    progress(0.05)
    design = design_workspace_grids(
        ws,
        incidents=incidents,
        shifts=shifts,
        n_grids=_optional_int(args.get("n_grids")),
        tolerance=float(args.get("tolerance") or 0.15),
        seed=int(args.get("seed") or 0),
        save_as=layer,
        note="derived: grids designed from street blocks by a grid design job",
    )
    return {"kpis": _plain(design.kpis), "layer": layer}


def export_job(ws: Workspace, args: Mapping[str, Any], progress: Progress) -> dict[str, Any]:
    """Write a saved plan's folder (routes, stops, KPIs, one GPX per unit) to ``out``.

    Arguments: ``out`` (a folder) and ``plan_id`` (default the latest saved plan).

    Returns
    -------
    dict
        The ``plan_id`` and the ``files`` written.
    """
    from gisapp.outputs.plan import write_plan
    from gisapp.store.plans import load_plan

    plan = load_plan(ws, args.get("plan_id") or None)
    progress(0.5)
    written = write_plan(plan, _out_dir(args))
    return {"plan_id": plan.plan_id, "files": [str(path) for path in written]}


#: Every kind of job, by name.
JOB_KINDS: dict[str, JobKindFunction] = {
    "plan": plan_job,
    "coverage": coverage_job,
    "placement": placement_job,
    "grid_design": grid_design_job,
    "export": export_job,
}


def job_kind(kind: str) -> JobKindFunction:
    """The function of job kind ``kind``.

    Raises
    ------
    GisappError
        If there is no such kind.
    """
    try:
        return JOB_KINDS[kind]
    except KeyError:
        raise GisappError(
            _(
                "there is no kind of job %(kind)s; the kinds are %(kinds)s",
                kind=repr(kind),
                kinds=", ".join(JOB_KINDS),
            )
        ) from None


def check_job_args(kind: str, args: Mapping[str, Any]) -> dict[str, Any]:
    """The job's arguments as plain JSON data, checked before the job is queued.

    Raises
    ------
    GisappError
        If ``kind`` is unknown or the arguments are not plain data (text, numbers, lists,
        mappings), which could not be sent to a worker.
    """
    job_kind(kind)
    try:
        plain: dict[str, Any] = json.loads(json.dumps(dict(args), allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise GisappError(
            _(
                "the %(kind)s job's options cannot be sent to a worker (%(error)s); give text, "
                "numbers, lists and tables of them only",
                kind=kind,
                error=exc,
            )
        ) from None
    return plain


def _plain(value: Any) -> Any:
    """``value`` as strict JSON data: NumPy numbers as Python's, NaN and infinity as None."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, str | bool) or value is None:
        return value
    if hasattr(value, "item") and callable(value.item):  # NumPy scalars
        return _plain(value.item())
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dt.date | dt.time | dt.datetime):
        return value.isoformat()
    return str(value)


def _text(args: Mapping[str, Any], name: str) -> str:
    value = args.get(name)
    if value in (None, ""):
        raise GisappError(_("the job has no %(name)s; give one", name=name.replace("_", " ")))
    return str(value)


def _date(value: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise GisappError(
            _("date %(date)s should be a day like 2024-05-31", date=repr(value))
        ) from None


def _optional_int(value: Any) -> int | None:
    return None if value in (None, "") else int(value)


def _out_dir(args: Mapping[str, Any]) -> Path:
    out = Path(_text(args, "out"))
    out.mkdir(parents=True, exist_ok=True)
    return out


__all__ = [
    "JOB_KINDS",
    "JobKindFunction",
    "Progress",
    "check_job_args",
    "job_kind",
    "settings_args",
    "settings_from_args",
]
