"""Saved plans in a workspace: save, list and load :class:`gisapp.plans.Plan` records.

A workspace keeps any number of plans: their rows in the layers ``plan_routes``,
``plan_stops`` and ``plan_hotspots`` (each with a ``plan_id`` column) and one row each in
the table ``plan_index`` with the key KPIs.

Saving a plan adds its rows to those tables, or replaces the rows of the plan with the same
id, in one transaction of the workspace (see :mod:`gisapp.store.geopackage`): plans saved
at the same time by other processes are kept, and a reader never sees half a plan.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisapp.errors import SettingsError, WorkspaceError
from gisapp.plans import (
    STOP_COLUMNS,
    STOP_EXTRA_COLUMNS,
    Plan,
    iso_text,
    json_ready,
    make_plan_id,
    plan_from_frames,
)
from gisapp.settings import parse_shift
from gisapp.store.backend import shown_location
from gisapp.store.geopackage import Workspace
from layers.i18n import _, format_number
from layers.schema import STORAGE_CRS

logger = logging.getLogger(__name__)


#: The workspace layers holding saved plans, each with a ``plan_id`` column.
PLAN_LAYERS: tuple[str, ...] = ("plan_routes", "plan_stops", "plan_hotspots")
#: The workspace table listing saved plans.
PLAN_INDEX = "plan_index"
#: The KPIs copied into the plan index, for listing and comparing plans.
_KPI_COLUMNS: tuple[str, ...] = (
    "units_used",
    "objective",
    "risk_covered_share",
    "hotspot_risk_share",
    "hotspot_dosage_minutes",
    "hotspot_stops",
    "balance_ratio",
    "street_km_covered",
)
#: Columns of :func:`list_plans` (besides them the table keeps the full KPIs as JSON).
PLAN_INDEX_COLUMNS: tuple[str, ...] = (
    "plan_id",
    "created",
    "shift",
    "shift_name",
    "start",
    "seed",
    "units",
    *_KPI_COLUMNS,
)


def save_plan(plan: Plan, workspace: Workspace, *, created: pd.Timestamp | None = None) -> str:
    """Save a plan into the workspace beside the plans already there, in one transaction.

    The rows of ``plan_routes``, ``plan_stops`` and ``plan_hotspots`` and the
    ``plan_index`` row of a plan with the same id are replaced; other plans are kept, also
    those other processes save at the same time. The metadata key ``plan_kpis`` takes this
    plan's KPIs.

    Parameters
    ----------
    plan
        The plan to save.
    workspace
        The open workspace (it is updated in place).
    created
        The time of saving recorded in the index; now by default.

    Returns
    -------
    str
        The plan's id.

    Raises
    ------
    WorkspaceError
        If the workspace cannot be written, or another save holds it for too long.
    """
    plan_id = plan.plan_id
    saved_at = pd.Timestamp.now(tz="UTC") if created is None else pd.Timestamp(created)
    saved_at = saved_at.tz_localize("UTC") if saved_at.tzinfo is None else saved_at
    layers: dict[str, Any] = _plan_rows(plan)
    layers[PLAN_INDEX] = pd.DataFrame([_index_row(plan, saved_at)])
    meta = {"plan_kpis": json_ready(plan.kpis)}
    with workspace.write_lock():
        if workspace.has_layer("plan_routes") and not workspace.has_layer(PLAN_INDEX):
            # A workspace from before plans had ids: rewrite its plan tables whole once.
            workspace.save(_with_legacy_rows(workspace, layers, plan_id), meta=meta)
        else:
            keyed = {name: ("plan_id", [plan_id]) for name in layers}
            workspace.save(layers, meta=meta, keyed=keyed)
    logger.info("saved plan %s into %s", plan_id, workspace.label)
    return plan_id


def delete_plan(workspace: Workspace, plan_id: str) -> None:
    """Remove a saved plan from the workspace, in one transaction.

    Its rows of ``plan_routes``, ``plan_stops``, ``plan_hotspots`` and ``plan_index`` go
    together, as :func:`save_plan` replaces them; other plans are kept, also those other
    processes save at the same time.

    Raises
    ------
    WorkspaceError
        If the workspace has no plan ``plan_id`` (the message lists its plans), or it
        cannot be written.
    """
    load_plan(workspace, plan_id)  # the clear message for an unknown plan
    with workspace.write_lock():
        if not workspace.has_layer(PLAN_INDEX):
            # A workspace from before plans had ids holds that one plan only.
            workspace.save({}, drop=[n for n in PLAN_LAYERS if workspace.has_layer(n)])
        else:
            empty: dict[str, Any] = {PLAN_INDEX: workspace.layer(PLAN_INDEX).iloc[0:0]}
            for name in PLAN_LAYERS:
                if workspace.has_layer(name):
                    empty[name] = workspace.spatial_layer(name).iloc[0:0]
            keyed = {name: ("plan_id", [plan_id]) for name in empty}
            workspace.save(empty, keyed=keyed)
    logger.info("deleted plan %s from %s", plan_id, workspace.label)


def _plan_rows(plan: Plan) -> dict[str, gpd.GeoDataFrame]:
    """The plan's rows of each plan layer, ``plan_id`` first."""
    stops = plan.stops[[*STOP_COLUMNS, *STOP_EXTRA_COLUMNS]].copy()
    for column in ("arrive", "depart"):
        stops[column] = stops[column].map(iso_text)
    stops_gdf = gpd.GeoDataFrame(
        stops, geometry=shapely.points(stops["lon"], stops["lat"]), crs=STORAGE_CRS
    )
    fresh = {
        "plan_routes": plan.routes,
        "plan_stops": stops_gdf,
        "plan_hotspots": plan.hotspots,
    }
    rows = {}
    for name, frame in fresh.items():
        new_rows = frame.assign(plan_id=plan.plan_id)
        new_rows = new_rows[["plan_id", *[c for c in new_rows.columns if c != "plan_id"]]]
        rows[name] = gpd.GeoDataFrame(new_rows, geometry="geometry", crs=STORAGE_CRS)
    return rows


def _index_row(plan: Plan, saved_at: pd.Timestamp) -> dict[str, Any]:
    return {
        "plan_id": plan.plan_id,
        "created": saved_at.tz_convert("UTC").isoformat(),
        "shift": plan.shift,
        "shift_name": plan.shift_name,
        "start": iso_text(plan.start),
        "seed": int(plan.seed),
        "units": ",".join(str(u) for u in plan.routes["unit_id"]),
        **{key: json_ready(plan.kpis.get(key)) for key in _KPI_COLUMNS},
        "kpis": json.dumps(json_ready(plan.kpis), ensure_ascii=False, allow_nan=False),
    }


def _with_legacy_rows(workspace: Workspace, layers: dict[str, Any], plan_id: str) -> dict[str, Any]:
    """Whole plan tables: the stored plan (given its legacy id) and the new one."""
    merged: dict[str, Any] = {}
    for name in PLAN_LAYERS:
        new_rows = layers[name]
        old = _stored_plan_rows(workspace, name)
        parts = [new_rows] if old is None else [old[old["plan_id"] != plan_id], new_rows]
        parts = [part for part in parts if len(part)] or [new_rows]
        merged[name] = gpd.GeoDataFrame(
            pd.concat(parts, ignore_index=True), geometry="geometry", crs=STORAGE_CRS
        )
    index = _index_table(workspace)
    kept = index[index["plan_id"] != plan_id]
    new_index = layers[PLAN_INDEX]
    parts = [kept, new_index] if len(kept) else [new_index]
    merged[PLAN_INDEX] = pd.concat(parts, ignore_index=True)
    return merged


def list_plans(workspace: Workspace) -> pd.DataFrame:
    """The plans saved in the workspace, newest first.

    Returns
    -------
    pandas.DataFrame
        One row per plan with the columns of :data:`PLAN_INDEX_COLUMNS`: ``created`` as a
        UTC timestamp, ``start`` as ISO 8601 text, ``units`` as comma-separated ids and the
        key KPIs. Empty (with those columns) when no plan is saved.
    """
    index = _index_table(workspace)
    for column in PLAN_INDEX_COLUMNS:
        if column not in index.columns:
            index[column] = pd.Series(dtype=object)
    index = index.assign(
        created=pd.to_datetime(index["created"], utc=True, errors="coerce", format="ISO8601")
    )
    # Newest first; of two saved in the same instant, the one written later.
    index = index.assign(_row=np.arange(len(index)))
    index = index.sort_values(["created", "_row"], ascending=False, na_position="last")
    return index[list(PLAN_INDEX_COLUMNS)].reset_index(drop=True)


def load_plan(workspace: Workspace, plan_id: str | None = None) -> Plan:
    """Read a saved plan back from the workspace.

    Parameters
    ----------
    workspace
        The open workspace.
    plan_id
        The plan's id; ``None`` for the plan saved last.

    Returns
    -------
    Plan

    Raises
    ------
    WorkspaceError
        If the workspace has no saved plan, or none with ``plan_id`` (the message lists
        the ids it has).
    """
    plans = list_plans(workspace)
    if not len(plans):
        raise WorkspaceError(
            _(
                "workspace %(workspace)r has no saved plans; make one with "
                "'gisapp plan %(location)s --shift night --out DIR' or on the Plans page",
                workspace=workspace.label,
                location=shown_location(workspace.location),
            )
        )
    ids = [str(p) for p in plans["plan_id"]]
    if plan_id is None:
        chosen = ids[0]
    elif str(plan_id) in ids:
        chosen = str(plan_id)
    else:
        if len(ids) > 20:
            message = _(
                "workspace %(workspace)r has no plan %(plan)r; its plans are %(plans)s and "
                "%(more)s more (newest first)",
                workspace=workspace.label,
                plan=plan_id,
                plans=", ".join(ids[:20]),
                more=format_number(len(ids) - 20),
            )
        else:
            message = _(
                "workspace %(workspace)r has no plan %(plan)r; its plans are %(plans)s "
                "(newest first)",
                workspace=workspace.label,
                plan=plan_id,
                plans=", ".join(ids),
            )
        raise WorkspaceError(message)
    index = _index_table(workspace)
    record = index[index["plan_id"] == chosen].iloc[-1]
    try:
        kpis = json.loads(str(record.get("kpis") or "{}"))
    except json.JSONDecodeError:
        kpis = {}
    frames = {}
    for name in PLAN_LAYERS:
        rows = _stored_plan_rows(workspace, name)
        if rows is None:
            raise WorkspaceError(
                _(
                    "workspace %(workspace)r lists plan %(plan)r but has no layer "
                    "%(layer)r; save the plan again with 'gisapp plan'",
                    workspace=workspace.label,
                    plan=chosen,
                    layer=name,
                )
            )
        mine = rows[rows["plan_id"] == chosen].drop(columns="plan_id").reset_index(drop=True)
        frames[name] = mine
    stops = pd.DataFrame(frames["plan_stops"].drop(columns="geometry"))
    stops["seq"] = stops["seq"].astype("int64")
    for column in ("street", "name", "hotspot_id", "grid_id"):
        if column in stops.columns:
            stops[column] = stops[column].fillna("").astype(str)
    stops = stops.sort_values(["unit_id", "seq"], kind="stable", ignore_index=True)
    timezone = str(kpis.get("timezone") or workspace.timezone)
    start = _stored_start(record.get("start") or kpis.get("start"))
    return plan_from_frames(
        frames["plan_routes"],
        stops,
        kpis=kpis if isinstance(kpis, dict) else {},
        plan_id=chosen,
        timezone=timezone,
        hotspots=frames["plan_hotspots"],
        created=_utc_time(record.get("created")),
        shift=str(record.get("shift") or kpis.get("shift") or ""),
        shift_name=str(record.get("shift_name") or kpis.get("shift_name") or ""),
        start=start.tz_convert(timezone) if start is not None and start.tzinfo else start,
        seed=int(record.get("seed") or 0),
    )


def _stored_start(value: Any) -> pd.Timestamp | None:
    """The shift start as stored (ISO 8601 text); None for a plan saved without one."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or not str(value):
        return None
    try:
        stamp = pd.Timestamp(str(value))
    except ValueError:
        return None
    return None if pd.isna(stamp) else stamp


def _utc_time(value: Any) -> pd.Timestamp | None:
    stamp = pd.to_datetime(str(value), utc=True, errors="coerce", format="ISO8601")
    return None if pd.isna(stamp) else pd.Timestamp(stamp)


def _legacy_plan(workspace: Workspace) -> tuple[str, dict[str, Any]]:
    """Id and KPIs of a plan saved before plans had ids (one plan, no ``plan_id``)."""
    try:
        kpis = json.loads(workspace.meta.get("plan_kpis") or "{}")
    except json.JSONDecodeError:
        kpis = {}
    kpis = kpis if isinstance(kpis, dict) else {}
    if kpis.get("plan_id"):
        return str(kpis["plan_id"]), kpis
    try:
        shift = parse_shift(str(kpis.get("shift")))
        start = pd.Timestamp(str(kpis.get("start")))
        if pd.isna(start):
            raise ValueError(start)
        return make_plan_id(shift, start, int(kpis.get("seed") or 0)), kpis
    except (ValueError, TypeError, SettingsError):
        return "saved-plan", kpis


def _stored_plan_rows(workspace: Workspace, name: str) -> gpd.GeoDataFrame | None:
    """A plan layer's rows with their ``plan_id`` (old single-plan rows get the legacy id)."""
    if not workspace.has_layer(name):
        return None
    frame = workspace.spatial_layer(name)
    if "plan_id" not in frame.columns:
        frame.insert(0, "plan_id", _legacy_plan(workspace)[0])
    frame["plan_id"] = frame["plan_id"].astype(str)
    return frame


def _index_table(workspace: Workspace) -> pd.DataFrame:
    """The ``plan_index`` table (one row made up for an old single-plan workspace)."""
    if workspace.has_layer(PLAN_INDEX):
        table = pd.DataFrame(workspace.layer(PLAN_INDEX))
        table["plan_id"] = table["plan_id"].astype(str)
        return table
    if workspace.has_layer("plan_routes"):
        plan_id, kpis = _legacy_plan(workspace)
        saved_at = workspace.modified
        routes = workspace.layer("plan_routes")
        return pd.DataFrame(
            [
                {
                    "plan_id": plan_id,
                    "created": saved_at.isoformat(),
                    "shift": kpis.get("shift", ""),
                    "shift_name": kpis.get("shift_name", ""),
                    "start": kpis.get("start", ""),
                    "seed": int(kpis.get("seed") or 0),
                    "units": ",".join(str(u) for u in routes["unit_id"]),
                    **{key: kpis.get(key) for key in _KPI_COLUMNS},
                    "kpis": json.dumps(kpis, ensure_ascii=False),
                }
            ]
        )
    return pd.DataFrame(columns=[*PLAN_INDEX_COLUMNS, "kpis"])
