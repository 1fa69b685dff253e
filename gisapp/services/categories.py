"""The workspace's incident categories: what weighs each category now, and saving edits.

Every figure that weighs incidents reads a category's ``group``, ``severity`` and
``preventable`` flag (可防性) from one lookup, :func:`gisapp.services.analytics.load_incidents`:
the workspace's ``categories`` table when it has one, else the values the incidents carry
when every incident has them, else the bundled standard tables. Categories missing from
the lookup get the defaults of :data:`layers.categories.UNKNOWN_CATEGORY`.

- :func:`category_rows` is that lookup seen per category: one row per category of the
  incidents (with its number of incidents) and of the workspace's table, and where its
  values come from.
- :func:`save_category_table` writes the workspace's ``categories`` table: the rows that
  weigh the incidents now, with the edits given, in one save.
- :func:`copy_bundled_categories` starts the table from a bundled one (``us``, ``china``,
  ``uk``, ``new_haven``) for the categories the incidents have.
- :func:`current_category_table` is the table as it would be saved (for a download).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

import pandas as pd

from gisapp.errors import GisappError
from gisapp.services.analytics import workspace_categories
from gisapp.store.geopackage import Workspace
from layers.categories import (
    BUNDLED_CATEGORY_TABLES,
    CATEGORY_COLUMNS,
    UNKNOWN_CATEGORY,
    bundled_category_table,
    category_table_from_frame,
)
from layers.errors import LayerError
from layers.i18n import LazyString, _, _l

logger = logging.getLogger(__name__)

__all__ = [
    "ROW_COLUMNS",
    "SOURCES",
    "CategoryEditError",
    "category_rows",
    "copy_bundled_categories",
    "current_category_table",
    "save_category_table",
]

#: Where a category's values come from, as :func:`category_rows` names it.
SOURCES: Mapping[str, LazyString] = {
    "workspace": _l("the workspace's categories table"),
    "bundled": _l("a bundled standard table"),
    "incidents": _l("the incidents' own fields"),
    "unknown": _l("unknown: default values"),
}

#: Columns of :func:`category_rows`.
ROW_COLUMNS = (*CATEGORY_COLUMNS, "incidents", "source", "standard")

_FIELDS = ("group", "severity", "preventable")
_TRUE = frozenset({"true", "1", "yes", "y", "t", "on", "是"})
_FALSE = frozenset({"false", "0", "no", "n", "f", "off", "否", ""})
_NOTE = "edited in gisapp"


class CategoryEditError(GisappError):
    """Category edits that cannot be saved; ``problems`` lists each in the user's words."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class _Row:
    """The values that weigh one category and where they come from."""

    category: str
    group: str
    label: str
    severity: int
    preventable: bool
    source: str
    standard: str = ""


def _key(category: object) -> str:
    """How categories are matched: surrounding spaces and case ignored."""
    return str(category).strip().lower()


def _incident_counts(ws: Workspace) -> tuple[pd.DataFrame, dict[str, tuple[str, int]]]:
    """The incidents (empty without any) and, per category key, its spelling and count.

    The spelling is the most frequent one of the category in the incidents.
    """
    if not ws.has_layer("incidents"):
        return pd.DataFrame(), {}
    incidents = pd.DataFrame(ws.layer("incidents")).drop(columns="geometry", errors="ignore")
    if "category" not in incidents.columns:
        return incidents, {}
    names = incidents["category"].map(lambda v: "" if pd.isna(v) else str(v).strip())
    names = names.loc[names != ""]
    counts: dict[str, tuple[str, int]] = {}
    for name, count in names.value_counts().items():
        key = _key(name)
        spelling, total = counts.get(key, (str(name), 0))
        counts[key] = (spelling, total + int(count))
    return incidents, counts


def _table_rows(table: pd.DataFrame, source: str, standard: str = "") -> dict[str, _Row]:
    """Rows of a checked category table by category key (the first of a key wins)."""
    rows: dict[str, _Row] = {}
    for category, group, label, severity, preventable in table[list(CATEGORY_COLUMNS)].itertuples(
        index=False
    ):
        rows.setdefault(
            _key(category),
            _Row(str(category), str(group), str(label), int(severity), bool(preventable),
                 source, standard),
        )  # fmt: skip
    return rows


def _bundled_rows() -> dict[str, _Row]:
    """The bundled standard tables in one, as ``standard_category_table`` merges them."""
    rows: dict[str, _Row] = {}
    for name in BUNDLED_CATEGORY_TABLES:
        for key, row in _table_rows(bundled_category_table(name), "bundled", name).items():
            rows.setdefault(key, row)
    return rows


def _own_rows(incidents: pd.DataFrame) -> dict[str, _Row] | None:
    """Per category, the values the incidents carry; None unless every incident has them."""
    if incidents.empty or not all(
        f in incidents.columns and incidents[f].notna().all() for f in _FIELDS
    ):
        return None
    own = incidents.loc[incidents["category"].notna(), ["category", *_FIELDS]]
    own = own.assign(category=own["category"].astype(str).str.strip())
    own = own.loc[own["category"] != ""].drop_duplicates("category")
    own = own.assign(label=own["category"], preventable=own["preventable"].astype(str))
    return _table_rows(category_table_from_frame(own, source=_("the incidents")), "incidents")


def _lookup(ws: Workspace) -> tuple[dict[str, _Row], dict[str, tuple[str, int]], bool]:
    """The rows of the lookup that weighs the incidents, the incident counts, and whether
    the lookup is the workspace's own table."""
    incidents, counts = _incident_counts(ws)
    table = workspace_categories(ws)
    if table is not None:
        return _table_rows(table, "workspace"), counts, True
    own = _own_rows(incidents)
    return (_bundled_rows() if own is None else own), counts, False


def category_rows(ws: Workspace) -> pd.DataFrame:
    """Every category of the workspace with the values that weigh its incidents.

    One row per category found in the incidents and per row of the workspace's
    ``categories`` table (categories matched with case and surrounding spaces ignored).

    Parameters
    ----------
    ws
        An open workspace.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`ROW_COLUMNS`: the category as written in the incidents (else the
        table), its ``label``, ``group``, ``severity`` (1-5) and ``preventable``, its number
        of ``incidents``, the ``source`` of the values (a key of :data:`SOURCES`) and, for
        a bundled table, its name (``standard``). Unknown categories come first, then the
        others; each by number of incidents (most first), then category.

    Raises
    ------
    LayerError
        If the workspace's categories table is not a valid category table.
    """
    lookup, counts, own_table = _lookup(ws)
    rows: list[dict[str, object]] = []
    for key, (spelling, count) in counts.items():
        row = lookup.get(key)
        if row is None:
            row = _Row(spelling, str(UNKNOWN_CATEGORY["group"]), spelling,
                       int(UNKNOWN_CATEGORY["severity"]), bool(UNKNOWN_CATEGORY["preventable"]),
                       "unknown")  # fmt: skip
        rows.append({**asdict(row), "category": spelling, "incidents": count})
    if own_table:
        rows.extend(
            {**asdict(row), "incidents": 0} for key, row in lookup.items() if key not in counts
        )
    frame = pd.DataFrame(rows, columns=list(ROW_COLUMNS))
    frame = frame.astype({"severity": "int64", "preventable": bool, "incidents": "int64"})
    frame["_unknown"] = frame["source"] != "unknown"
    frame["_key"] = frame["category"].str.lower()
    frame = frame.sort_values(["_unknown", "incidents", "_key"], ascending=[True, False, True])
    return frame.drop(columns=["_unknown", "_key"]).reset_index(drop=True)


def _current_rows(ws: Workspace) -> dict[str, _Row]:
    """The rows the workspace's table would have if saved now without edits.

    The workspace's table when it has one; else the values that weigh its incidents now
    (bundled standard tables or the incidents' own fields), for the categories present.
    """
    lookup, counts, own_table = _lookup(ws)
    if own_table:
        return lookup
    return {key: lookup[key] for key in counts if key in lookup}


def current_category_table(ws: Workspace) -> pd.DataFrame:
    """The workspace's categories table as it would be saved now (columns
    :data:`layers.categories.CATEGORY_COLUMNS`), sorted by category.

    Raises
    ------
    LayerError
        If the workspace's categories table is not a valid category table.
    """
    return _frame(_current_rows(ws).values())


def _frame(rows: Iterable[_Row]) -> pd.DataFrame:
    table = pd.DataFrame(
        [{c: getattr(row, c) for c in CATEGORY_COLUMNS} for row in rows],
        columns=list(CATEGORY_COLUMNS),
    )
    table = table.astype({"severity": "int64", "preventable": bool})
    return table.sort_values("category", key=lambda c: c.str.lower()).reset_index(drop=True)


def _edit_rows(edits: pd.DataFrame | Iterable[Mapping[str, object]]) -> list[_Row]:
    """Check every edit and return them as rows; raise once with every problem."""
    frame = edits if isinstance(edits, pd.DataFrame) else pd.DataFrame([dict(e) for e in edits])
    problems: list[str] = []
    if "category" not in frame.columns:
        raise CategoryEditError([_("every edited row needs its category")])
    rows: list[_Row] = []
    seen: set[str] = set()
    for edit in frame.to_dict("records"):
        category = _text(edit.get("category"))
        if not category:
            problems.append(
                _(
                    "a row has an empty category; type the category as written in the "
                    "incidents (e.g. 盗窃), or clear that row"
                )
            )
            continue
        if _key(category) in seen:
            problems.append(
                _(
                    "%(category)s is given twice; keep one row per category",
                    category=repr(category),
                )
            )
        seen.add(_key(category))
        severity = _severity(edit.get("severity"))
        if severity is None:
            problems.append(
                _(
                    "%(category)s: severity %(severity)s is not a whole "
                    "number from 1 to 5; choose 1 (minor) to 5 (most serious)",
                    category=repr(category),
                    severity=repr(_text(edit.get("severity"))),
                )
            )
        preventable = _text(edit.get("preventable")).lower()
        if preventable not in _TRUE | _FALSE:
            problems.append(
                _("%(category)s: preventable must be yes or no", category=repr(category))
            )
        group = _text(edit.get("group")) or category
        label = _text(edit.get("label")) or category
        rows.append(_Row(category, group, label, severity or 1, preventable in _TRUE, "workspace"))
    if problems:
        raise CategoryEditError(problems)
    return rows


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def _severity(value: object) -> int | None:
    text = _text(value).removesuffix(".0")
    return int(text) if text in {"1", "2", "3", "4", "5"} else None


def _save(ws: Workspace, rows: Iterable[_Row], note: str) -> pd.DataFrame:
    """Check and write ``rows`` as the workspace's categories table, in one save."""
    try:
        table = category_table_from_frame(_frame(rows), source=_("the categories table"))
    except LayerError as exc:
        raise CategoryEditError([str(exc)]) from None
    notes = ws.layer_notes
    notes["categories"] = note
    ws.save({"categories": table}, meta={"layer_notes": notes})
    logger.info("saved %d categor(ies) into %s", len(table), ws.label)
    return table


def save_category_table(
    ws: Workspace,
    edits: pd.DataFrame | Iterable[Mapping[str, object]],
    *,
    note: str = _NOTE,
) -> pd.DataFrame:
    """Write the workspace's ``categories`` table: the current rows with ``edits``.

    The current rows are the workspace's table when it has one, else the values that
    weigh its incidents now (bundled standard tables or the incidents' own fields) for
    the categories present, so a first save changes nothing but the edited categories.
    An edit replaces the row of its category (case and surrounding spaces ignored) or adds
    one. The table is read and written while other saves wait, in one transaction.

    Parameters
    ----------
    ws
        An open workspace.
    edits
        Rows with ``category`` and ``severity`` (1-5), ``preventable`` (true/false, yes/no,
        是/否; empty is false), optional ``group`` and ``label`` (the category when empty).
    note
        The layer note the table gets (where it came from).

    Returns
    -------
    pandas.DataFrame
        The table saved (:data:`layers.categories.CATEGORY_COLUMNS`).

    Raises
    ------
    CategoryEditError
        If an edit has no category, a severity outside 1-5, a preventable value that is
        not yes/no, or repeats a category; nothing is saved then.
    LayerError
        If the workspace's current categories table is not a valid category table.
    """
    edited = _edit_rows(edits)
    with ws.write_lock():
        rows = _current_rows(ws)
        for row in edited:
            rows[_key(row.category)] = row
        return _save(ws, rows.values(), note)


def copy_bundled_categories(ws: Workspace, name: str) -> tuple[pd.DataFrame, int]:
    """Start the workspace's table from bundled table ``name`` for the categories present.

    Every category of the incidents that the bundled table lists gets its row; the
    other rows of the current table (see :func:`save_category_table`) are kept.

    Parameters
    ----------
    ws
        An open workspace.
    name
        A bundled table: one of :data:`layers.categories.BUNDLED_CATEGORY_TABLES`.

    Returns
    -------
    tuple of (pandas.DataFrame, int)
        The table saved and how many of its rows came from the bundled table.

    Raises
    ------
    CategoryEditError
        If ``name`` is not a bundled table; nothing is saved then.
    """
    if name not in BUNDLED_CATEGORY_TABLES:
        raise CategoryEditError(
            [
                _(
                    "there is no bundled table %(name)s; choose %(tables)s",
                    name=repr(name),
                    tables=", ".join(BUNDLED_CATEGORY_TABLES),
                )
            ]
        )
    bundled = _table_rows(bundled_category_table(name), "bundled", name)
    with ws.write_lock():
        _incidents, counts = _incident_counts(ws)
        rows = _current_rows(ws)
        copied = 0
        for key in counts:
            if key in bundled:
                rows[key] = bundled[key]
                copied += 1
        return _save(ws, rows.values(), f"started from the bundled {name} table"), copied
