"""Data behind the categories page: the rows of one page, the form's edits, the CSV.

The rows come from :func:`gisapp.services.categories.category_rows` and edits are saved
by :func:`gisapp.services.categories.save_category_table`, the functions any other door
calls too; this module only pages the rows, reads the form and writes the download.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from gisapp.outputs.files import csv_text
from gisapp.services.categories import (
    SOURCES,
    category_rows,
    current_category_table,
    save_category_table,
)
from gisapp.store.geopackage import Workspace
from layers.categories import CATEGORY_GROUPS
from layers.i18n import LazyString, _, _l

__all__ = [
    "BUNDLED_TABLES",
    "PAGE_SIZE",
    "SEVERITIES",
    "CategoryPage",
    "category_csv",
    "category_page",
    "edits_from_form",
    "save_category_form",
]

#: Rows shown per page.
PAGE_SIZE = 50
#: Severity choices: 1 = minor ... 5 = most serious.
SEVERITIES: tuple[int, ...] = (1, 2, 3, 4, 5)
#: The bundled tables a captain may start from, with their names on the page.
BUNDLED_TABLES: Mapping[str, str | LazyString] = {
    "china": _l("China"),
    "us": _l("United States (NIBRS-like)"),
    "uk": _l("United Kingdom (police.uk)"),
    "new_haven": _l("New Haven feed"),
}

#: Text of the preventable checkbox when ticked.
_TICKED = "yes"
#: The values a row had when the page was shown, sent back as ``was-<value>-<row>``.
_WAS = ("label", "group", "severity", "preventable")


@dataclass(frozen=True)
class CategoryPage:
    """What the categories page shows.

    Attributes
    ----------
    rows
        The rows of this page: ``category``, ``label``, ``group``, ``severity``,
        ``preventable``, ``incidents``, ``source``, ``standard``, ``source_text`` and
        ``unknown``; with posted values in place after a refused save.
    page, pages
        This page's number (from 1) and how many pages there are.
    total, unknown, incidents_unknown
        Categories in all, unknown categories, and incidents of unknown categories.
    groups
        The group choices: the standard groups, then the other groups in use.
    own_table
        Whether the workspace has its own categories table.
    """

    rows: list[dict[str, object]]
    page: int
    pages: int
    total: int
    unknown: int
    incidents_unknown: int
    groups: list[str]
    own_table: bool
    severities: tuple[int, ...] = SEVERITIES
    bundled: Mapping[str, str | LazyString] = field(default_factory=lambda: dict(BUNDLED_TABLES))


def _source_text(source: str, standard: str) -> str:
    if source == "bundled" and standard:
        return _("bundled standard table: %(table)s", table=BUNDLED_TABLES.get(standard, standard))
    return str(SOURCES.get(source, source))


def category_page(
    ws: Workspace,
    rows: pd.DataFrame | None = None,
    *,
    page: int = 1,
    posted: Mapping[str, str] | None = None,
) -> CategoryPage:
    """One page of the workspace's categories, unknown categories first.

    Parameters
    ----------
    ws
        An open workspace.
    rows
        :func:`gisapp.services.categories.category_rows` of ``ws`` when already at hand
        (e.g. cached); computed when None.
    page
        The page wanted (from 1); out-of-range numbers give the nearest page.
    posted
        A refused form: its values are shown again in place of the stored ones.

    Returns
    -------
    CategoryPage
        The page's data.
    """
    table = category_rows(ws) if rows is None else rows
    pages = max(1, math.ceil(len(table) / PAGE_SIZE))
    page = min(max(1, page), pages)
    shown = table.iloc[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    records: list[dict[str, object]] = []
    for found in shown.to_dict("records"):
        record = {str(k): v for k, v in found.items()}
        record["unknown"] = record["source"] == "unknown"
        record["source_text"] = _source_text(str(record["source"]), str(record["standard"]))
        record["was"] = {
            "label": str(record["label"]),
            "group": str(record["group"]),
            "severity": str(record["severity"]),
            "preventable": _TICKED if record["preventable"] else "",
        }
        records.append(record)
    if posted is not None:
        _with_posted(records, posted)
    used = sorted({str(g) for g in table["group"]} - set(CATEGORY_GROUPS))
    unknown = table["source"] == "unknown"
    return CategoryPage(
        rows=records,
        page=page,
        pages=pages,
        total=len(table),
        unknown=int(unknown.sum()),
        incidents_unknown=int(table.loc[unknown, "incidents"].sum()),
        groups=[*CATEGORY_GROUPS, *used],
        own_table=bool((table["source"] == "workspace").any()),
    )


def _with_posted(records: list[dict[str, object]], posted: Mapping[str, str]) -> None:
    """Put a refused form's values back into the rows it was sent for."""
    by_category = {str(r["category"]): r for r in records}
    for index in range(_row_count(posted)):
        record = by_category.get(posted.get(f"category-{index}", ""))
        if record is None:
            continue
        record["label"] = posted.get(f"label-{index}", "")
        record["group"] = posted.get(f"group-{index}", "")
        record["severity"] = posted.get(f"severity-{index}", "")
        record["preventable"] = posted.get(f"preventable-{index}") == _TICKED
        if f"was-severity-{index}" in posted:
            record["was"] = {k: posted.get(f"was-{k}-{index}", "") for k in _WAS}


def _row_count(form: Mapping[str, str]) -> int:
    text = form.get("rows", "0")
    return min(int(text), PAGE_SIZE) if text.isdigit() else 0


def edits_from_form(rows: pd.DataFrame, form: Mapping[str, str]) -> list[dict[str, str]]:
    """The rows of a posted categories form that change something, and a new row.

    The form has ``rows`` (how many rows it holds) and per row ``i``: ``category-i``,
    ``label-i``, ``group-i``, ``severity-i`` and ``preventable-i`` (present when ticked);
    and the new row's ``category-new``, ``label-new``, ``group-new``, ``severity-new``,
    ``preventable-new``. A row whose values are those it had when the page was shown
    (``was-label-i``, ``was-group-i``, ``was-severity-i``, ``was-preventable-i``; else its
    values in ``rows``) is left out: a save changes only what the user changed, never
    undoes another user's save of other rows, and adds an unknown category to the table
    only once one of its values is set.

    Parameters
    ----------
    rows
        :func:`gisapp.services.categories.category_rows` of the workspace.
    form
        The posted form.

    Returns
    -------
    list of dict
        Edits as :func:`gisapp.services.categories.save_category_table` takes them.
    """
    current = {
        str(r["category"]).strip().lower(): {str(k): v for k, v in r.items()}
        for r in rows.to_dict("records")
    }
    edits: list[dict[str, str]] = []
    for prefix in [f"{i}" for i in range(_row_count(form))] + ["new"]:
        edit = {
            "category": form.get(f"category-{prefix}", "").strip(),
            "label": form.get(f"label-{prefix}", "").strip(),
            "group": form.get(f"group-{prefix}", "").strip(),
            "severity": form.get(f"severity-{prefix}", "").strip(),
            "preventable": "true" if form.get(f"preventable-{prefix}") == _TICKED else "false",
        }
        if prefix == "new" and not edit["category"] and not edit["label"]:
            continue
        was = current.get(edit["category"].lower())
        if f"was-severity-{prefix}" in form:
            was = {k: form.get(f"was-{k}-{prefix}", "") for k in _WAS}
            was["preventable"] = was["preventable"] == _TICKED
        if was is not None and _unchanged(edit, was):
            continue
        edits.append(edit)
    return edits


def _unchanged(edit: Mapping[str, str], was: Mapping[str, object]) -> bool:
    return (
        edit["label"] in ("", str(was["label"]))
        and edit["group"] in ("", str(was["group"]))
        and edit["severity"] == str(was["severity"])
        and (edit["preventable"] == "true") == bool(was["preventable"])
    )


def save_category_form(ws: Workspace, rows: pd.DataFrame, form: Mapping[str, str]) -> int:
    """Save the edits of a posted categories form; return how many categories changed.

    Raises
    ------
    CategoryEditError
        If an edit cannot be saved (nothing is saved then).
    """
    edits = edits_from_form(rows, form)
    if edits:
        save_category_table(ws, edits, note="edited on the Categories page")
    return len(edits)


def category_csv(ws: Workspace) -> str:
    """The workspace's categories table as CSV text for people (UTF-8 BOM first).

    The rows that weigh the incidents now (see
    :func:`gisapp.services.categories.current_category_table`): ``gisapp import
    categories=FILE.csv`` reads the file back, so it is machine-readable: the column names
    (``category``, ``group``, ``label``, ``severity``, ``preventable``) and the groups stay
    the same in every language.
    """
    return csv_text(current_category_table(ws))
