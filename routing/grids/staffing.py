"""Community staffing: property management status and the officers a community needs.

* :func:`property_status` reads a community's property management (English or Chinese
  words, booleans) into ``"full"``, ``"semi"`` or ``"none"``.
* :func:`officers_required` applies the community staffing rule (DESIGN.md section 1).
* :func:`staffing_table` lists the rule's answer per community beside the current
  staffing (distinct officers named on the community's grids).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import pandas as pd

from layers.i18n import _
from routing.errors import GridError

__all__ = [
    "BASE_OFFICERS",
    "HOUSEHOLDS_ONE_MORE",
    "HOUSEHOLDS_TWO_MORE",
    "PropertyStatus",
    "officers_required",
    "property_status",
    "staffing_table",
]

PropertyStatus = Literal["full", "semi", "none"]

#: Households thresholds of the staffing rule (DESIGN.md section 1).
HOUSEHOLDS_ONE_MORE = 1500
HOUSEHOLDS_TWO_MORE = 2000
BASE_OFFICERS: dict[str, int] = {"semi": 3, "none": 5, "full": 0}

_FULL = frozenset(
    {
        "full",
        "fully",
        "fully managed",
        "managed",
        "yes",
        "true",
        "1",
        "全",
        "全物业",
        "全封闭",
        "物业",
        "物业管理",
        "有物业",
    }
)
_SEMI = frozenset(
    {
        "semi",
        "semi-managed",
        "semi managed",
        "partial",
        "partly",
        "half",
        "半",
        "半物业",
        "半封闭",
        "部分物业",
    }
)
_NONE = frozenset(
    {"none", "no", "not managed", "unmanaged", "false", "0", "无", "无物业", "开放式", "未管理"}
)


def property_status(value: Any) -> PropertyStatus | None:
    """Read a community's property management into ``"full"``, ``"semi"`` or ``"none"``.

    Understands English and Chinese words (全物业, 半物业, 无物业...) and booleans
    (``True`` is fully managed).

    Parameters
    ----------
    value
        A cell of the communities' ``property_managed`` column.

    Returns
    -------
    str or None
        ``"full"``, ``"semi"`` or ``"none"``; ``None`` when the value is missing.

    Raises
    ------
    GridError
        If the value is present but not understood.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, bool | np.bool_):
        return "full" if value else "none"
    text = str(value).strip().lower().replace("_", " ")
    if text in ("", "nan", "none specified"):
        return None
    if text in _FULL:
        return "full"
    if text in _SEMI:
        return "semi"
    if text in _NONE:
        return "none"
    raise GridError(
        _(
            "property_managed=%(value)r is not understood; use 'full' (全物业), 'semi' (半物业) "
            "or 'none' (无物业)",
            value=value,
        )
    )


def officers_required(households: float | None, property_managed: Any) -> int:
    """Full-time community security officers a community needs (DESIGN.md section 1).

    Up to 1,500 households: 3 officers if semi-property-managed, 5 if not managed; above
    1,500 households one more; above 2,000 two more (two in all). A fully
    property-managed community gets none from the police: the property company is
    responsible.

    Parameters
    ----------
    households
        Households of the community.
    property_managed
        Property management, as :func:`property_status` reads it.

    Returns
    -------
    int
        Officers the community needs.

    Raises
    ------
    GridError
        If ``households`` is missing or negative or ``property_managed`` is not understood.
    """
    status = property_status(property_managed)
    if status is None:
        raise GridError(
            _("property_managed is missing; set it to 'full', 'semi' or 'none' for the community")
        )
    if status == "full":
        return 0
    try:
        count = float(households)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        count = math.nan
    if not count >= 0:
        raise GridError(
            _(
                "households=%(value)r should be a number >= 0; fill the communities' "
                "'households' column",
                value=households,
            )
        )
    extra = 2 if count > HOUSEHOLDS_TWO_MORE else 1 if count > HOUSEHOLDS_ONE_MORE else 0
    return BASE_OFFICERS[status] + extra


def staffing_table(communities: pd.DataFrame, grids: pd.DataFrame | None = None) -> pd.DataFrame:
    """Required officers per community, beside the current ones when known.

    Parameters
    ----------
    communities
        ``id``, ``name`` and, for the rule, ``households`` and ``property_managed``.
    grids
        Grids with ``community_id`` and ``officer``: the current staffing of a community
        is the number of distinct officers named on its grids.

    Returns
    -------
    pandas.DataFrame
        ``community_id``, ``name``, ``households``, ``property_managed`` (full, semi,
        none), ``officers_required``, ``officers_current``, ``difference`` (current minus
        required) and ``note``. Counts are missing (``<NA>``) when unknown.
    """
    rows = []
    current = _current_officers(grids)
    for record in communities.to_dict("records"):
        community_id = str(record.get("id"))
        households = record.get("households")
        note = ""
        required: int | None = None
        try:
            status = property_status(record.get("property_managed"))
        except GridError as exc:
            status, note = None, str(exc)
        if status == "full":
            required = 0
            note = _(
                "fully property-managed: the property company is responsible, no police officers"
            )
        elif status is None and not note:
            note = _("property management unknown: set property_managed to full, semi or none")
        else:
            try:
                required = officers_required(households, status) if status else None
            except GridError as exc:
                note = str(exc)
        have = current.get(community_id)
        rows.append(
            {
                "community_id": community_id,
                "name": record.get("name"),
                "households": households,
                "property_managed": status,
                "officers_required": required,
                "officers_current": have,
                "difference": None if have is None or required is None else have - required,
                "note": note,
            }
        )
    table = pd.DataFrame(rows)
    for column in ("officers_required", "officers_current", "difference"):
        table[column] = table[column].astype("Int64")
    return table


def _current_officers(grids: pd.DataFrame | None) -> dict[str, int]:
    """Distinct officers named on the grids of each community (blank names left out)."""
    if grids is None or "officer" not in grids or "community_id" not in grids:
        return {}
    named = grids[["community_id", "officer"]].copy()
    named["officer"] = named["officer"].astype("string").str.strip()
    named = named[named["officer"].notna() & (named["officer"] != "")]
    counts = named.groupby(named["community_id"].astype(str))["officer"].nunique()
    return {str(k): int(v) for k, v in counts.items()}
