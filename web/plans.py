"""Shift plans (班次巡逻方案): the plan form, saved plans side by side, one plan's map,
figures, timetables and downloads.

Captains and admins generate plans and see every unit; an officer sees his own unit's
route, stops and downloads only (another unit's: 403; the form: 403).
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pandas as pd
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from werkzeug.wrappers import Response

from gisapp.errors import USER_ERRORS, ExportError, GisappError, SettingsError, WorkspaceError
from gisapp.plans import Plan
from gisapp.services.job_kinds import settings_args
from gisapp.services.jobs import JobQueue, job_queue
from gisapp.services.overrides import PlanOverrides
from gisapp.settings import Shift, parse_shift
from gisapp.store.plans import delete_plan, load_plan
from gisapp.views.plans import (
    PLAN_DOWNLOADS,
    PRINTED_FORMATS,
    briefing_plan,
    chromium_available,
    plan_comparison,
    plan_download,
    plan_map_html,
    plan_rows,
    plan_view,
    unit_choices,
)
from layers.i18n import _
from web.auth import allowed_unit, current_user, login_required, roles_required
from web.context import cached, get_settings, get_workspace, reset_workspace
from web.nav import CAPTAINS

bp = Blueprint("plans", __name__, url_prefix="/plans")

_CUSTOM = "custom"
#: Seconds between two looks of the progress page at a running plan.
_POLL_S = 2


def _jobs() -> JobQueue:
    """The app's job queue: Redis when the ``job_queue`` setting names one, else this
    process's runner (one plan searched at a time)."""
    jobs = current_app.extensions.get("gisapp_jobs")
    if jobs is None:
        jobs = current_app.extensions.setdefault("gisapp_jobs", job_queue(get_settings()))
    return jobs


def _officer_unit() -> str | None:
    """The officer's unit, or ``None`` for users who see every unit."""
    user = current_user()
    if user is None or user.sees_all_units:
        return None
    return user.unit_id or ""


def _saved(plan_id: str | None) -> Plan:
    ws = get_workspace()
    key = ("plan", ws.location, ws.version, plan_id)
    try:
        return cached(key, lambda: load_plan(ws, plan_id))
    except WorkspaceError as exc:
        abort(404, description=str(exc))


def _plan_for_request(plan_id: str) -> tuple[Plan, str | None]:
    """The plan cut to the unit the user may see (``?unit=``); 403 for another unit."""
    unit = allowed_unit(request.args.get("unit"))
    if unit is None and _officer_unit() is not None:
        abort(403, description=_("Your account has no unit; ask an admin to set it."))
    saved = _saved(plan_id)
    if unit is not None and unit not in saved.unit_ids:
        abort(
            404,
            description=_(
                "Plan %(plan)s has no unit %(unit)s; its units are %(units)s.",
                plan=plan_id,
                unit=unit,
                units=", ".join(saved.unit_ids),
            ),
        )
    return briefing_plan(saved, unit_id=unit), unit


@bp.get("/")
@login_required
def index() -> str:
    """Saved plans, newest first, with their key figures side by side."""
    officer_unit = _officer_unit()
    return render_template(
        "plans/index.html",
        plans=plan_rows(get_workspace(), unit_id=officer_unit),
        officer_unit=officer_unit,
    )


@bp.get("/compare")
@roles_required(*CAPTAINS)
def compare() -> tuple[str, int]:
    """Two saved plans side by side: their maps, moving together, and their key figures
    with the difference (``?a=`` and ``?b=``; by default the two newest plans)."""
    rows = plan_rows(get_workspace())
    ids = [row["plan_id"] for row in rows]
    second = request.args.get("b") or (ids[0] if ids else "")
    first = request.args.get("a") or next((i for i in ids if i != second), "")
    unknown = [plan_id for plan_id in (first, second) if plan_id and plan_id not in ids]
    error = None
    if len(ids) < 2:
        error = _("Two saved plans are needed to compare; make another on the New plan page.")
    elif unknown:
        error = _(
            "No saved plan %(plan)r; choose two plans from the lists and press Compare.",
            plan=unknown[0],
        )
    figures = []
    if error is None:
        figures = plan_comparison(_saved(first), _saved(second))
    return render_template(
        "plans/compare.html",
        plans=rows,
        first=first if first in ids else "",
        second=second if second in ids else "",
        figures=figures,
        error=error,
    ), (404 if unknown else 200)


@bp.get("/latest")
@login_required
def latest() -> Response:
    """The newest plan (for an officer: the newest with his unit)."""
    rows = plan_rows(get_workspace(), unit_id=_officer_unit())
    if not rows:
        return redirect(url_for("plans.index"))
    return redirect(url_for("plans.view", plan_id=rows[0]["plan_id"]))


def _form_page(
    *, values: dict[str, Any], error: str | None = None, status: int = 200
) -> tuple[str, int]:
    settings = get_settings()
    shift = _shift_or_default(values)
    return render_template(
        "plans/new.html",
        shifts={name: settings.shift(name).label() for name in settings.shifts},
        units=unit_choices(get_workspace(), shift),
        values=values,
        ticked=set(values.get("units") or []),
        error=error,
        windows={name: settings.shift(name).label() for name in settings.shifts},
    ), status


def _shift_or_default(values: dict[str, Any]) -> Shift:
    settings = get_settings()
    try:
        return _shift_from(values)
    except USER_ERRORS:
        return settings.shift(next(iter(settings.shifts)))


def _shift_from(values: dict[str, Any]) -> Shift:
    settings = get_settings()
    choice = str(values.get("shift") or "")
    if choice == _CUSTOM:
        return parse_shift(str(values.get("window") or "").strip())
    if choice not in settings.shifts:
        raise SettingsError(
            _(
                "shift %(shift)r is not a named shift; choose one of %(shifts)s or a custom "
                "HH:MM-HH:MM window",
                shift=choice,
                shifts=", ".join(settings.shifts),
            )
        )
    return settings.shift(choice)


@bp.get("/new")
@roles_required(*CAPTAINS)
def new() -> tuple[str, int]:
    """The plan form; the units of the chosen shift (``?shift=``) come ticked."""
    settings = get_settings()
    shift_name = request.args.get("shift", "")
    if shift_name not in settings.shifts:
        shift_name = next(iter(settings.shifts))
    shift = settings.shift(shift_name)
    ws = get_workspace()
    values = {
        "shift": shift_name,
        "window": "",
        "seed": "0",
        "date": pd.Timestamp.now(tz=ws.timezone).date().isoformat(),
        "units": [u.unit_id for u in unit_choices(ws, shift) if u.on_shift],
        "ticked_for": shift_name,
    }
    return _form_page(values=values)


@bp.post("/new")
@roles_required(*CAPTAINS)
def create() -> Response | tuple[str, int]:
    """Start planning the form's shift in the background and show its progress.

    The units ticked belong to the shift they were ticked for (``ticked_for``, kept up to
    date by the form's script): when another shift was chosen without them following
    (no script), the form comes back with that shift's units ticked instead of planning
    units off duty.
    """
    values: dict[str, Any] = {
        "shift": request.form.get("shift", ""),
        "window": request.form.get("window", ""),
        "seed": request.form.get("seed", "0").strip() or "0",
        "date": request.form.get("date", "").strip(),
        "units": request.form.getlist("units"),
        "ticked_for": request.form.get("ticked_for", ""),
    }
    try:
        shift = _shift_from(values)
        seed = _int_field(_("seed"), values["seed"])
        date = _date_field(values["date"])
        ws = get_workspace()
        if values["units"] and values["ticked_for"] not in ("", values["shift"]):
            values["units"] = [u.unit_id for u in unit_choices(ws, shift) if u.on_shift]
            values["ticked_for"] = values["shift"]
            raise GisappError(
                _(
                    "the units ticked were those of another shift; the units of the %(shift)s "
                    "shift are ticked now: check them and generate again",
                    shift=shift.label(),
                )
            )
        job = _jobs().submit(
            "plan",
            ws.location,
            _plan_args(shift, date, values["units"] or None, seed),
            label=f"plan {shift.label()}",
            meta={"values": values},
        )
    except USER_ERRORS as exc:
        return _form_page(values=values, error=str(exc), status=400)
    return redirect(url_for("plans.job", job_id=job.job_id))


@bp.get("/jobs/<job_id>")
@roles_required(*CAPTAINS)
def job(job_id: str) -> Response | tuple[str, int]:
    """A plan being made: its progress (the page looks again every few seconds), then the
    plan, or the form with what went wrong."""
    found = _jobs().status(job_id)
    if found is None:
        abort(404, description=_("No such plan in progress; it may have ended an hour ago."))
    if found.status == "done":
        reset_workspace()
        return redirect(url_for("plans.view", plan_id=found.result["plan_id"]))
    if found.status == "failed":
        if "plan_id" in found.meta:
            abort(
                422, description=_("The plan could not be adjusted: %(error)s", error=found.error)
            )
        return _form_page(values=found.meta["values"], error=found.error, status=422)
    return render_template("plans/job.html", job=found, poll_s=_POLL_S), 200


def _plan_args(
    shift: Shift,
    date: dt.date | None,
    unit_ids: list[str] | None,
    seed: int,
    overrides: PlanOverrides | None = None,
) -> dict[str, Any]:
    """The arguments of a plan job (plain data any worker can run)."""
    return {
        "shift": shift.label(),
        "shift_name": shift.name if shift.name != shift.label() else "",
        "date": None if date is None else date.isoformat(),
        "unit_ids": unit_ids,
        "seed": seed,
        "overrides": overrides.to_dict() if overrides else None,
        "settings": settings_args(get_settings()),
    }


def _int_field(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise GisappError(
            _(
                "%(field)s %(value)r is not a whole number; enter e.g. 0, 1, 2",
                field=name,
                value=text,
            )
        ) from None


def _date_field(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise GisappError(_("date %(value)r is not a date like 2024-05-01", value=text)) from None


@bp.get("/<plan_id>")
@login_required
def view(plan_id: str) -> str:
    """One plan: the map in a frame, figures, units, timetables and downloads."""
    plan, unit = _plan_for_request(plan_id)
    officer = _officer_unit() is not None
    page = plan_view(plan, whole_plan=unit is None)
    saved_overrides = PlanOverrides.from_dict(plan.kpis.get("overrides") or {})
    hotspot_stops = plan.stops[plan.stops["kind"] == "hotspot"].sort_values(["unit_id", "seq"])
    stop_orders = {
        str(unit): [(str(r.hotspot_id), str(r.name)) for r in rows.itertuples()]
        for unit, rows in hotspot_stops.groupby("unit_id", sort=False)
    }
    return render_template(
        "plans/view.html",
        overrides=saved_overrides.to_dict(),
        stop_orders=stop_orders,
        view=page,
        plan=plan,
        unit=unit,
        officer=officer,
        downloads=[f for f in PLAN_DOWNLOADS if f != "gpx"],
        can_print=chromium_available(),
        all_units=[] if officer else list(_saved(plan_id).unit_ids),
    )


@bp.post("/<plan_id>/adjust")
@roles_required(*CAPTAINS)
def adjust(plan_id: str) -> Response | tuple[str, int]:
    """Plan the same shift, units, date and seed again under the captain's overrides (locks,
    forbidden hotspots, closed streets, orders), in the background; the new plan is saved
    beside this one with the overrides."""
    saved = _saved(plan_id)
    lines = {
        key: [line.strip() for line in request.form.get(key, "").splitlines() if line.strip()]
        for key in ("locks", "forbidden", "closed_streets", "orders")
    }
    try:
        overrides = PlanOverrides.from_specs(**lines)
        if not overrides:
            raise GisappError(_("no change was given; fill in at least one of the fields"))
        if saved.start is None:
            raise GisappError(
                _("plan %(plan)s does not record its shift start; plan it anew", plan=plan_id)
            )
        shift = parse_shift(saved.shift, name=saved.shift_name or None)
        job = _jobs().submit(
            "plan",
            get_workspace().location,
            _plan_args(shift, saved.start.date(), list(saved.unit_ids), saved.seed, overrides),
            label=f"adjust {plan_id}",
            meta={
                "values": {"shift": saved.shift_name or _CUSTOM, "window": saved.shift},
                "plan_id": plan_id,
            },
        )
    except USER_ERRORS as exc:
        abort(422, description=str(exc))
    return redirect(url_for("plans.job", job_id=job.job_id))


@bp.get("/<plan_id>/delete")
@roles_required(*CAPTAINS)
def confirm_delete(plan_id: str) -> str:
    """Ask before a saved plan is deleted."""
    plan = _saved(plan_id)
    return render_template("plans/delete.html", plan=plan)


@bp.post("/<plan_id>/delete")
@roles_required(*CAPTAINS)
def delete(plan_id: str) -> Response:
    """Delete a saved plan (its routes, stops, hotspots and index row together)."""
    _saved(plan_id)  # 404 naming the saved plans for an unknown one
    try:
        delete_plan(get_workspace(), plan_id)
    except WorkspaceError as exc:
        abort(
            503,
            description=_(
                "The plan could not be deleted: %(error)s. Try again shortly.", error=exc
            ),
        )
    reset_workspace()
    flash(_("Plan %(plan)s was deleted.", plan=plan_id))
    return redirect(url_for("plans.index"))


@bp.get("/<plan_id>/map.html")
@login_required
def map_page(plan_id: str) -> str:
    """The plan's map (routes per unit, numbered stops), Leaflet from the local files."""
    plan, _ = _plan_for_request(plan_id)
    return plan_map_html(plan, ws=get_workspace(), assets_url=current_app.config["ASSETS_URL"])


@bp.get("/<plan_id>/download/<fmt>")
@login_required
def download(plan_id: str, fmt: str) -> Response:
    """A plan file: PDF/PNG briefing, offline HTML, GeoJSON, GeoPackage, CSV, GPX per unit."""
    if fmt not in PLAN_DOWNLOADS:
        abort(
            404,
            description=_(
                "No download %(format)r; choose one of %(formats)s.",
                format=fmt,
                formats=", ".join(PLAN_DOWNLOADS),
            ),
        )
    plan, unit = _plan_for_request(plan_id)
    if fmt == "gpx" and unit is None:
        abort(400, description=_("A GPX file is per unit: add ?unit=<unit id>."))
    try:
        file = plan_download(plan, fmt, ws=get_workspace(), unit_id=unit)
    except ExportError as exc:
        if fmt in PRINTED_FORMATS:
            abort(503, description=str(exc))
        raise
    return send_file(
        io.BytesIO(file.data),
        mimetype=file.mimetype,
        as_attachment=True,
        download_name=file.file_name,
    )
