"""A unit's stops as officers read them: the one numbering of the map, timetable and GPX.

The station is ``S``, hotspot stops are numbered 1, 2, 3… in timetable order, breaks carry
no number; the turns between stops (waypoint rows of ``stops.csv``) are not stops.
"""

from __future__ import annotations

import pandas as pd

from gisapp.plans import Plan, text

#: The number of the station on every map, timetable and GPX.
STATION_NUMBER = "S"


def numbered_stops(plan: Plan, unit_id: str) -> pd.DataFrame:
    """One unit's stops in timetable order with their ``number`` (text) and ``label``.

    Parameters
    ----------
    plan
        The plan.
    unit_id
        The unit.

    Returns
    -------
    pandas.DataFrame
        The unit's non-waypoint stop rows with two more columns: ``number`` (``"S"``,
        ``"1"``, ``"2"``…, ``""`` for a break) and ``label`` (number and name, as a GPX
        waypoint is named).

    Raises
    ------
    ExportError
        If the plan has no unit ``unit_id``.
    """
    stops = plan.unit_stops(plan.check_unit(unit_id))
    stops = stops[stops["kind"] != "waypoint"].copy()
    is_hotspot = (stops["kind"] == "hotspot").to_numpy()
    count = is_hotspot.cumsum()
    stops["number"] = [
        str(n) if hot else (STATION_NUMBER if kind == "station" else "")
        for n, hot, kind in zip(count, is_hotspot, stops["kind"], strict=True)
    ]
    stops["label"] = [
        stop_label(n, name) for n, name in zip(stops["number"], stops["name"], strict=True)
    ]
    return stops


def stop_label(number: str, name: object) -> str:
    """A stop's number and name as one text (``"3 Whalley Ave & Sperry St"``)."""
    return f"{number} {text(name)}".strip()
