"""The shift plan record: what a plan is, wherever it comes from and wherever it goes.

One type, :class:`Plan`, is made by the plan service, saved and loaded by the store, read
from a plan folder by :mod:`gisapp.outputs.plan`, written by the outputs, drawn by the
renderers and shown by the web views. :func:`plan_from_frames` is the one place that checks
and normalises plan tables (unit ids as text, times as aware timestamps).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gisapp.errors import ExportError
from gisapp.settings import Shift
from layers.i18n import _

#: Columns of the stable ``stops.csv`` (other tools read them: add, never rename).
STOP_COLUMNS: tuple[str, ...] = (
    "unit_id",
    "seq",
    "kind",
    "name",
    "lon",
    "lat",
    "arrive",
    "depart",
    "dwell_min",
    "street",
)
#: Columns written after the stable ones: the hotspot and grid of a stop.
STOP_EXTRA_COLUMNS: tuple[str, ...] = ("hotspot_id", "grid_id")

#: KPI keys that describe the plan as a whole and say nothing about other units.
_PLAN_META_KEYS = ("plan_id", "shift", "shift_name", "start", "date", "timezone", "seed", "title")
_UNSAFE_ID_CHARS = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Plan:
    """A patrol plan for one shift.

    Parameters
    ----------
    plan_id
        The plan's stable id (see :func:`make_plan_id`).
    routes
        One line per unit in EPSG:4326: ``unit_id`` (text), ``mode``, ``distance_m``,
        ``duration_s`` and more.
    stops
        The timetable, the ``stops.csv`` columns (and ``hotspot_id``, ``grid_id``):
        ``unit_id`` as text, ``arrive``/``depart`` as aware timestamps in ``timezone``
        (``NaT`` where a stop has none, e.g. the station's arrival).
    kpis
        The plan's key figures, as in ``kpis.json``.
    timezone
        IANA time zone of the times.
    hotspots
        The shift's hotspots (EPSG:4326), when known.
    shift, shift_name
        The shift window (``22:00-06:00``) and its name (``night``), as text.
    start
        The shift's start, local time, when known.
    seed
        The plan's seed.
    created
        When it was saved (UTC), when known.
    title, date
        Header text of a briefing.
    """

    plan_id: str
    routes: gpd.GeoDataFrame
    stops: pd.DataFrame
    kpis: Mapping[str, Any] = field(default_factory=dict)
    timezone: str = "UTC"
    hotspots: gpd.GeoDataFrame | None = None
    shift: str = ""
    shift_name: str = ""
    start: pd.Timestamp | None = None
    seed: int = 0
    created: pd.Timestamp | None = None
    title: str = "Patrol plan"
    date: str = ""

    @property
    def shift_label(self) -> str:
        """The shift as people read it (see :func:`shift_label`)."""
        return shift_label(self.shift_name, self.shift)

    @property
    def unit_ids(self) -> list[str]:
        """Unit ids in route order."""
        return [str(u) for u in self.routes["unit_id"]]

    def unit_stops(self, unit_id: str) -> pd.DataFrame:
        """Stops of ``unit_id`` in timetable order."""
        rows = self.stops[self.stops["unit_id"] == unit_id]
        return rows.sort_values("seq", kind="stable")

    def check_unit(self, unit_id: Any) -> str:
        """``unit_id`` as text when the plan has that unit.

        Raises
        ------
        ExportError
            If the plan has no such unit (the message lists its units).
        """
        unit = str(unit_id)
        if unit not in self.unit_ids:
            raise ExportError(
                _(
                    "unit %(unit)s is not in plan %(plan)s; its units are %(units)s",
                    unit=repr(unit),
                    plan=repr(self.plan_id),
                    units=", ".join(self.unit_ids),
                )
            )
        return unit

    def for_unit(self, unit_id: str) -> Plan:
        """The part of the plan one unit may see: its route, its stops and its own figures.

        Raises
        ------
        ExportError
            If the plan has no unit ``unit_id``.
        """
        unit = self.check_unit(unit_id)
        units = self.kpis.get("units")
        kpis: dict[str, Any] = {k: self.kpis[k] for k in _PLAN_META_KEYS if k in self.kpis}
        if isinstance(units, Mapping) and unit in units:
            kpis["units"] = {unit: units[unit]}
        hotspots = self.hotspots
        return dataclasses.replace(
            self,
            routes=self.routes[self.routes["unit_id"] == unit].reset_index(drop=True),
            stops=self.stops[self.stops["unit_id"] == unit].reset_index(drop=True),
            kpis=kpis,
            hotspots=hotspots,
        )


def shift_label(name: Any, window: Any) -> str:
    """A shift as people read it: ``night (22:00-06:00)``, or the window alone."""
    name_text, window_text = text(name), text(window)
    if name_text and name_text != window_text:
        return f"{name_text} ({window_text})"
    return window_text


def make_plan_id(
    shift: Shift, start: dt.date | pd.Timestamp, seed: int, *, variant: str = ""
) -> str:
    """Return the stable id of a plan: ``<date>-<shift>-s<seed>`` (and ``-<variant>`` for a
    plan made under a captain's overrides).

    The shift part is the shift's name when it has one made of safe characters
    (``night``), else its window (``2200-0600``). Ids use only ``A-Z a-z 0-9 _ -``, so
    they are safe in URLs and file names.

    Returns
    -------
    str
        E.g. ``2014-09-18-night-s3``, ``2014-09-18-2200-0600-s0`` or
        ``2014-09-18-night-s3-o1a2b3c``.
    """
    window = f"{shift.start:%H%M}-{shift.end:%H%M}"
    name = "" if shift.name in ("", shift.label()) else shift.name
    slug = _UNSAFE_ID_CHARS.sub("_", name).strip("_-")[:32]
    tag = "-" + _UNSAFE_ID_CHARS.sub("_", variant)[:16] if variant else ""
    return f"{start:%Y-%m-%d}-{slug or window}-s{int(seed)}{tag}"


def plan_from_frames(
    routes: gpd.GeoDataFrame,
    stops: pd.DataFrame,
    *,
    kpis: Mapping[str, Any] | None = None,
    plan_id: str = "plan",
    timezone: str | None = None,
    **details: Any,
) -> Plan:
    """Check plan tables and return a :class:`Plan`; the inputs are not changed.

    Parameters
    ----------
    routes
        One line per unit with the ``routes.geojson`` fields, any CRS.
    stops
        Rows with the ``stops.csv`` fields; ``arrive``/``depart`` as ISO 8601 text or
        timestamps (text without an offset is local time in ``timezone``).
    kpis
        Plan KPIs; ``title``, ``shift``, ``date``, ``timezone`` are used when present.
    plan_id
        Plan identifier.
    timezone
        Time zone of the times; by default the KPIs' ``timezone``, else UTC.
    **details
        Other :class:`Plan` fields (``hotspots``, ``shift``, ``shift_name``, ``start``,
        ``seed``, ``created``, ``title``, ``date``); by default from the KPIs and the times.

    Raises
    ------
    ExportError
        Listing every problem found: missing columns, missing CRS, units with stops but
        no route, unreadable times.
    """
    kpis = dict(kpis or {})
    tz = timezone or str(kpis.get("timezone") or "UTC")
    out_routes = _checked_routes(routes, stops)
    out_stops, problems = _checked_stops(stops, tz)
    orphans = sorted(set(out_stops["unit_id"]) - set(out_routes["unit_id"]))
    if orphans:
        problems.append(_("the stops name units %(units)s that have no route", units=orphans[:10]))
    dupes = out_routes["unit_id"][out_routes["unit_id"].duplicated()].unique().tolist()
    if dupes:
        problems.append(
            _(
                "the routes have more than one line for unit(s) %(units)s; give one each",
                units=dupes,
            )
        )
    if problems:
        raise ExportError("; ".join(problems))
    out_stops = out_stops.sort_values(["unit_id", "seq"], kind="stable", ignore_index=True)
    out_stops["seq"] = out_stops["seq"].astype(int)
    times = pd.concat([out_stops["depart"], out_stops["arrive"]]).dropna()
    first, last = (times.min(), times.max()) if len(times) else (None, None)
    values: dict[str, Any] = {
        "shift": _shift_text(kpis.get("shift"), first, last),
        "shift_name": text(kpis.get("shift_name")),
        "seed": int(kpis.get("seed") or 0),
        "date": str(kpis.get("date") or _date_text(first)),
        "title": str(kpis.get("title") or _("Patrol plan %(plan)s", plan=plan_id)),
    }
    start = pd.Timestamp(str(kpis["start"])) if kpis.get("start") else None
    if start is not None and not pd.isna(start):
        values["start"] = start.tz_convert(tz) if start.tzinfo is not None else start
    values.update({k: v for k, v in details.items() if v is not None})
    return Plan(
        plan_id=str(plan_id), routes=out_routes, stops=out_stops, kpis=kpis, timezone=tz, **values
    )


def _checked_routes(routes: gpd.GeoDataFrame, stops: pd.DataFrame) -> gpd.GeoDataFrame:
    if not isinstance(routes, gpd.GeoDataFrame):
        raise ExportError(
            _(
                "the routes should be a GeoDataFrame, got %(type)s",
                type=type(routes).__name__,
            )
        )
    problems = []
    if routes.crs is None:
        problems.append(_("the routes have no CRS; set it (plan files are EPSG:4326)"))
    if "unit_id" not in routes.columns:
        problems.append(_("the routes lack a unit_id column; each route needs its unit"))
    missing = [c for c in ("unit_id", "seq", "kind", "lon", "lat") if c not in stops.columns]
    if missing:
        problems.append(
            _(
                "the stops lack column(s) %(missing)s; stops need %(columns)s",
                missing=missing,
                columns=", ".join(STOP_COLUMNS),
            )
        )
    if problems:
        raise ExportError("; ".join(problems))
    out = routes.to_crs(4326) if routes.crs.to_epsg() != 4326 else routes.copy()
    out["unit_id"] = out["unit_id"].astype(str)
    for column, default in (("mode", ""), ("distance_m", np.nan), ("duration_s", np.nan)):
        if column not in out.columns:
            out[column] = default
    return out


def _checked_stops(stops: pd.DataFrame, tz: str) -> tuple[pd.DataFrame, list[str]]:
    problems: list[str] = []
    out = pd.DataFrame(stops).copy()
    out["unit_id"] = out["unit_id"].astype(str)
    for column in (*STOP_COLUMNS, *STOP_EXTRA_COLUMNS):
        if column not in out.columns:
            out[column] = np.nan if column == "dwell_min" else ""
    for column in ("name", "street", "kind", *STOP_EXTRA_COLUMNS):
        out[column] = out[column].map(text)
    out["seq"] = pd.to_numeric(out["seq"], errors="coerce")
    for column in ("lon", "lat", "dwell_min"):
        out[column] = pd.to_numeric(out[column], errors="coerce")
    bad_xy = out[["lon", "lat"]].isna().any(axis=1) | out["seq"].isna()
    if bad_xy.any():
        rows = out.index[bad_xy][:10].tolist()
        problems.append(_("stop rows %(rows)s lack a number in seq, lon or lat", rows=rows))
    for column in ("arrive", "depart"):
        try:
            out[column] = aware_times(out[column], tz)
        except (ValueError, TypeError) as exc:
            problems.append(
                _(
                    "the stops' %(column)s times are not ISO 8601 (%(error)s); "
                    "write times like 2014-09-18T01:10:00-04:00",
                    column=column,
                    error=exc,
                )
            )
    return out, problems


def aware_times(values: pd.Series, timezone: str) -> pd.Series:
    """ISO 8601 text or timestamps to aware timestamps in ``timezone`` (naive = local)."""
    present = values.map(lambda v: not is_missing(v) and str(v).strip() != "")
    out = pd.Series(pd.NaT, index=values.index, dtype=f"datetime64[ns, {timezone}]")
    if not present.any():
        return out
    stamps = [pd.Timestamp(v) for v in values[present]]
    aware = [
        (t.tz_localize(timezone) if t.tzinfo is None else t).tz_convert(timezone) for t in stamps
    ]
    out[present] = pd.Series(aware, index=values.index[present]).astype(out.dtype)
    return out


def iso_text(value: Any) -> str:
    """A timestamp as ISO 8601 text ('' when missing)."""
    return "" if is_missing(value) else pd.Timestamp(value).isoformat()


def clock_text(value: Any) -> str:
    """A timestamp as ``HH:MM`` ('' when missing)."""
    return "" if is_missing(value) else pd.Timestamp(value).strftime("%H:%M")


def text(value: Any) -> str:
    """A cell as text ('' when missing)."""
    return "" if is_missing(value) else str(value)


def is_missing(value: Any) -> bool:
    """Whether a cell holds nothing (None, NaN, NaT)."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _date_text(value: Any) -> str:
    return "" if is_missing(value) else pd.Timestamp(value).strftime("%Y-%m-%d")


def _shift_text(kpi_shift: Any, start: Any, end: Any) -> str:
    if isinstance(kpi_shift, str) and kpi_shift.strip():
        return kpi_shift.strip()
    if isinstance(kpi_shift, Mapping):
        name = text(kpi_shift.get("name"))
        window = "–".join(text(kpi_shift.get(k)) for k in ("start", "end") if kpi_shift.get(k))
        label = " ".join(t for t in (name, window) if t)
        if label:
            return f"Shift {label}"
    if start is None:
        return ""
    return f"Shift {clock_text(start)}–{clock_text(end)}"


def json_ready(value: Any) -> Any:
    """``value`` (KPIs, a record's figures) made of plain JSON types: non-finite numbers become None, numpy and pandas
    scalars plain numbers, timestamps ISO 8601 text, tuples and sets lists."""
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset | np.ndarray):
        return [json_ready(v) for v in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp | dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return value
