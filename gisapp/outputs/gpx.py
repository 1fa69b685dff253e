"""GPX 1.1 of one unit's route: the one GPX writer, for the plan folder, exports and the web.

Waypoints are the unit's stops as the timetable lists them — station ``S``, hotspot stops
numbered 1, 2, 3… as on the map, breaks — never the turns between them; the track is the
route line. Waypoint names (number and stop name) and types are the same in every
language; the descriptions, the track's and the file's names read in the reader's language.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import Any

import pandas as pd
import shapely

from gisapp.outputs.stops import numbered_stops
from gisapp.plans import Plan, clock_text, is_missing, text
from layers.i18n import _, is_chinese

GPX_NS = "http://www.topografix.com/GPX/1/1"


def gpx_bytes(
    plan: Plan, unit_id: str, *, creator: str = "gisapp", coordinates: str | None = None
) -> bytes:
    """One unit's route as GPX 1.1: its stops as waypoints and its route as a track.

    Parameters
    ----------
    plan
        The plan.
    unit_id
        The unit.
    creator
        Value of the ``creator`` attribute.
    coordinates
        The offset system the plan's coordinates were converted to (``GCJ-02``), named in
        the description; None for WGS84, which GPX assumes.

    Returns
    -------
    bytes
        UTF-8 GPX 1.1 document (valid against the GPX 1.1 schema).

    Raises
    ------
    ExportError
        If the plan has no unit ``unit_id``.
    """
    unit = plan.check_unit(unit_id)
    route = plan.routes[plan.routes["unit_id"] == unit].iloc[0]
    ET.register_namespace("", GPX_NS)
    root = ET.Element(_tag("gpx"), {"version": "1.1", "creator": creator})
    meta = ET.SubElement(root, _tag("metadata"))
    ET.SubElement(meta, _tag("name")).text = _(
        "%(title)s — unit %(unit)s", title=plan.title, unit=unit
    )
    ET.SubElement(meta, _tag("desc")).text = " · ".join(
        t
        for t in (
            plan.shift_label,
            plan.date,
            _("plan %(plan)s", plan=plan.plan_id),
            _("coordinates %(system)s", system=coordinates) if coordinates else "",
        )
        if t
    )
    stop_rows: Iterable[Any] = numbered_stops(plan, unit).itertuples(index=False)
    for row in stop_rows:
        wpt = ET.SubElement(root, _tag("wpt"), {"lat": _coord(row.lat), "lon": _coord(row.lon)})
        when = row.arrive if not pd.isna(row.arrive) else row.depart
        if not pd.isna(when):
            ET.SubElement(wpt, _tag("time")).text = _gpx_time(when)
        ET.SubElement(wpt, _tag("name")).text = row.label
        ET.SubElement(wpt, _tag("desc")).text = _stop_description(row)
        ET.SubElement(wpt, _tag("type")).text = row.kind or "stop"
    trk = ET.SubElement(root, _tag("trk"))
    ET.SubElement(trk, _tag("name")).text = _("Unit %(unit)s", unit=unit)
    if text(route.get("mode")):
        ET.SubElement(trk, _tag("type")).text = text(route.get("mode"))
    for part in _line_parts(route.geometry):
        seg = ET.SubElement(trk, _tag("trkseg"))
        for lon, lat in shapely.get_coordinates(part):
            ET.SubElement(seg, _tag("trkpt"), {"lat": _coord(lat), "lon": _coord(lon)})
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _stop_description(row: Any) -> str:
    """A waypoint's description in the reader's words: arrive, dwell, depart, street."""
    parts = []
    if not pd.isna(row.arrive):
        parts.append(_("arrive %(time)s", time=clock_text(row.arrive)))
    if not is_missing(row.dwell_min) and row.dwell_min:
        dwell = f"{float(row.dwell_min):g}"
        parts.append(_("dwell %(minutes)s min", minutes=dwell))
    if not pd.isna(row.depart):
        parts.append(_("depart %(time)s", time=clock_text(row.depart)))
    if row.street:
        parts.append(row.street)
    return ("，" if is_chinese() else ", ").join(parts)


def _line_parts(geom: Any) -> list[Any]:
    if geom is None or shapely.is_empty(geom):
        return []
    return [p for p in shapely.get_parts(geom) if p.geom_type == "LineString" and not p.is_empty]


def _tag(name: str) -> str:
    return f"{{{GPX_NS}}}{name}"


def _gpx_time(value: pd.Timestamp) -> str:
    return pd.Timestamp(value).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def _coord(value: float) -> str:
    return f"{float(value):.7f}"
