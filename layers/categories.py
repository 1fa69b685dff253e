"""Incident categories: the one lookup of group, severity and ``preventable`` (可防性).

Every figure that weighs incidents (hotspots, patrol risk, grid workload, the bulletin)
reads a category's weight from a **category table**: one row per category as written in
the incident feed, with its ``group`` (``theft``, ``robbery``...), readable ``label``,
``severity`` (1 = minor ... 5 = most serious) and ``preventable`` flag (可防性案件: crime
that visible patrol deters, above all 两抢一盗).

- :func:`load_category_table` reads a CSV (the New Haven feed's table when no file is
  given); :func:`category_table_from_frame` checks a table already read (a workspace's
  ``categories`` layer).
- :func:`bundled_category_table` gives one of the tables shipped in ``layers/data``
  (``new_haven``, ``us``, ``china``, ``uk``) and :func:`standard_category_table` all of
  them at once, which is what a workspace without its own table uses.
- :func:`apply_categories` gives every incident the values of its category.

Categories missing from the table are never dropped and never fail: they get
:data:`UNKNOWN_CATEGORY` (group ``other``, severity 1, not counted as preventable since
that is unknown, ``category_known`` false), and one warning lists them (the first ten
and how many there are).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import pandas as pd

from layers.errors import LayerError, Problem
from layers.i18n import _, ngettext

logger = logging.getLogger(__name__)

__all__ = [
    "BUNDLED_CATEGORY_TABLES",
    "CATEGORY_COLUMNS",
    "CATEGORY_GROUPS",
    "DEFAULT_CATEGORY_TABLE",
    "UNKNOWN_CATEGORY",
    "apply_categories",
    "bundled_category_table",
    "category_table_from_frame",
    "load_category_table",
    "standard_category_table",
]

#: Columns of a category table, in order (``group`` and ``label`` may be left out).
CATEGORY_COLUMNS = ("category", "group", "label", "severity", "preventable")

#: Columns a category table must have.
REQUIRED_CATEGORY_COLUMNS = ("category", "severity", "preventable")

#: Groups used by the bundled tables; a user's table may add its own.
CATEGORY_GROUPS = (
    "burglary",
    "robbery",
    "theft",
    "vehicle_theft",
    "assault",
    "weapons",
    "drugs",
    "vandalism",
    "disorder",
    "fraud",
    "traffic",
    "alarm",
    "service",
    "other",
)

_DATA = Path(__file__).parent / "data"

#: The bundled tables by name: the New Haven feed, US-style (NIBRS-like) categories,
#: Chinese police categories (警情类别) and the police.uk street-crime categories.
BUNDLED_CATEGORY_TABLES: Mapping[str, Path] = {
    "new_haven": _DATA / "categories.csv",
    "us": _DATA / "categories_us.csv",
    "china": _DATA / "categories_cn.csv",
    "uk": _DATA / "categories_uk.csv",
}

#: The New Haven incident feed's table (147 categories).
DEFAULT_CATEGORY_TABLE = BUNDLED_CATEGORY_TABLES["new_haven"]

#: Group, severity and preventable flag of a category missing from the table.
_UNKNOWN: tuple[str, int, bool] = ("other", 1, False)

#: What an incident of a category missing from the table gets.
UNKNOWN_CATEGORY: Mapping[str, str | int | bool] = dict(
    zip(("group", "severity", "preventable"), _UNKNOWN, strict=True)
)

#: Unknown categories named in the warning; the rest are counted.
UNKNOWN_LISTED = 10

_TRUE = frozenset({"true", "1", "yes", "y", "t", "是"})
_FALSE = frozenset({"false", "0", "no", "n", "f", "否"})


def load_category_table(path: str | Path | None = None) -> pd.DataFrame:
    """Read an incident category table from a UTF-8 CSV.

    The CSV has the columns ``category`` (as written in the incident feed), ``severity``
    (1 = minor to 5 = most serious) and ``preventable`` (``true`` for crime that visible
    patrol deters, 可防性案件; ``false`` for service calls, alarms, traffic and admin),
    and optionally ``group`` (e.g. ``burglary``; the category itself when absent) and
    ``label`` (readable name; the category itself when absent).

    Parameters
    ----------
    path
        CSV file; the bundled New Haven table (:data:`DEFAULT_CATEGORY_TABLE`) when None.

    Returns
    -------
    pandas.DataFrame
        One row per category with :data:`CATEGORY_COLUMNS`; ``severity`` as int,
        ``preventable`` as bool.

    Raises
    ------
    LayerError
        If the file is missing or unreadable, lacks a column, repeats a category, or has a
        severity outside 1–5 or a ``preventable`` value that is not true/false.
    """
    source = Path(DEFAULT_CATEGORY_TABLE if path is None else path)
    try:
        table = pd.read_csv(source, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except FileNotFoundError:
        raise LayerError(
            _(
                "category table path=%(path)s does not exist; pass the CSV file of "
                "categories or None for the bundled table",
                path=repr(str(source)),
            )
        ) from None
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise LayerError(
            _(
                "category table %(path)s is not a UTF-8 CSV (%(reason)s); save it as UTF-8 "
                "CSV with the columns %(columns)s",
                path=repr(str(source)),
                reason=exc,
                columns=", ".join(CATEGORY_COLUMNS),
            )
        ) from None
    return category_table_from_frame(
        table, source=_("category table %(path)s", path=repr(str(source)))
    )


def category_table_from_frame(frame: pd.DataFrame, *, source: str) -> pd.DataFrame:
    """Check a category table already read (e.g. a workspace's ``categories`` layer).

    Parameters
    ----------
    frame
        Rows with at least :data:`REQUIRED_CATEGORY_COLUMNS`; not modified.
    source
        How the table is named in messages, e.g. ``"the workspace's categories table"``.

    Returns
    -------
    pandas.DataFrame
        As :func:`load_category_table`.

    Raises
    ------
    LayerError
        As :func:`load_category_table`.
    """
    table = pd.DataFrame(frame).drop(columns="geometry", errors="ignore").copy()
    table.columns = [str(c).strip().lower() for c in table.columns]
    missing = [c for c in REQUIRED_CATEGORY_COLUMNS if c not in table.columns]
    if missing:
        raise LayerError(
            _(
                "%(source)s lacks the column(s) %(missing)s; it needs %(required)s (and may "
                "have group, label)",
                source=source,
                missing=", ".join(missing),
                required=", ".join(REQUIRED_CATEGORY_COLUMNS),
            )
        )
    text = {
        c: table[c].map(lambda v: "" if pd.isna(v) else str(v).strip()).astype(str)
        for c in CATEGORY_COLUMNS
        if c in table.columns
    }
    table = pd.DataFrame(text)
    table = table.loc[table["category"] != ""].reset_index(drop=True)
    for optional in ("group", "label"):
        if optional not in table.columns:
            table[optional] = table["category"]
        table[optional] = table[optional].where(table[optional] != "", table["category"])
    table = table[list(CATEGORY_COLUMNS)]
    repeated = sorted(set(table.loc[table["category"].duplicated(), "category"]))
    if repeated:
        raise LayerError(
            _(
                "%(source)s lists %(categories)s more than once; keep one row per category",
                source=source,
                categories=", ".join(map(repr, repeated[:5])),
            )
        )
    severity = pd.to_numeric(table["severity"].str.removesuffix(".0"), errors="coerce")
    bad = table.loc[~severity.isin([1, 2, 3, 4, 5]), "category"]
    if len(bad):
        raise LayerError(
            _(
                "%(source)s: severity of %(categories)s is not an integer from 1 to 5; use 1 "
                "(minor) to 5 (most serious)",
                source=source,
                categories=", ".join(map(repr, bad[:5])),
            )
        )
    flag = table["preventable"].str.lower().str.removesuffix(".0")
    bad = table.loc[~flag.isin(_TRUE | _FALSE), "category"]
    if len(bad):
        raise LayerError(
            _(
                "%(source)s: preventable of %(categories)s is not true/false; write true or false",
                source=source,
                categories=", ".join(map(repr, bad[:5])),
            )
        )
    table["severity"] = severity.astype(int)
    table["preventable"] = flag.isin(_TRUE)
    return table.reset_index(drop=True)


def bundled_category_table(name: str) -> pd.DataFrame:
    """One of the tables shipped with gisapp (:data:`BUNDLED_CATEGORY_TABLES`).

    Raises
    ------
    LayerError
        If ``name`` is not a bundled table.
    """
    if name not in BUNDLED_CATEGORY_TABLES:
        raise LayerError(
            _(
                "there is no bundled category table %(name)s; choose one of %(names)s or give "
                "a CSV file",
                name=repr(name),
                names=", ".join(BUNDLED_CATEGORY_TABLES),
            )
        )
    return load_category_table(BUNDLED_CATEGORY_TABLES[name])


def standard_category_table() -> pd.DataFrame:
    """Every bundled table in one: the lookup of a workspace without its own table.

    A category written the same way (case and surrounding spaces ignored) in two tables
    takes the row of the first, in the order of :data:`BUNDLED_CATEGORY_TABLES`.
    """
    tables = [bundled_category_table(name) for name in BUNDLED_CATEGORY_TABLES]
    merged = pd.concat(tables, ignore_index=True)
    key = merged["category"].str.strip().str.lower()
    return merged.loc[~key.duplicated()].reset_index(drop=True)


def apply_categories(
    incidents: pd.DataFrame, table: pd.DataFrame, *, layer: str = "incidents"
) -> tuple[gpd.GeoDataFrame, list[Problem]]:
    """Give every incident the group, severity and ``preventable`` flag of its category.

    Categories are matched on their text with surrounding spaces and case ignored. Values
    from the table replace any ``group``, ``severity`` or ``preventable`` already present.
    Incidents whose category is not in the table are kept, never dropped: they get
    :data:`UNKNOWN_CATEGORY` and ``category_known`` False, and one warning lists the
    unknown categories (the first :data:`UNKNOWN_LISTED` by number of incidents, and how
    many there are in all).

    Parameters
    ----------
    incidents
        Incidents with a ``category`` column; not modified.
    table
        Category table as returned by :func:`load_category_table`.
    layer
        Layer name used in the problems reported.

    Returns
    -------
    tuple of (geopandas.GeoDataFrame, list of Problem)
        A copy of ``incidents`` with ``group`` (str), ``severity`` (int),
        ``preventable`` (bool) and ``category_known`` (bool); at most one
        ``"unknown_category"`` warning and one ``"missing_category"`` warning.

    Raises
    ------
    LayerError
        If ``incidents`` has no ``category`` column or ``table`` lacks a needed column.
    """
    if "category" not in incidents.columns:
        raise LayerError(
            _(
                "'incidents' has no 'category' column (columns: %(columns)s); map the "
                "incident type column to 'category'",
                columns=", ".join(map(str, incidents.columns)),
            )
        )
    needed = [c for c in ("category", "group", "severity", "preventable") if c not in table]
    if needed:
        raise LayerError(
            f"'table' lacks the column(s) {', '.join(needed)}; read it with load_category_table()"
        )
    result = incidents.copy()
    if not isinstance(result, gpd.GeoDataFrame):
        result = gpd.GeoDataFrame(result)
    rows: dict[str, tuple[str, int, bool]] = {}
    for category, group, severity, preventable in table[
        ["category", "group", "severity", "preventable"]
    ].itertuples(index=False):
        rows.setdefault(
            str(category).strip().lower(), (str(group), int(severity), bool(preventable))
        )
    # Plain Python objects: an all-unknown column has no Arrow type to fill into.
    category = [
        "" if value is None or pd.isna(value) else str(value).strip()
        for value in result["category"].to_numpy(dtype=object)
    ]
    found = [rows.get(name.lower(), _UNKNOWN) for name in category]
    known = [name.lower() in rows for name in category]
    result["group"] = pd.Series([f[0] for f in found], index=result.index, dtype=object)
    result["severity"] = pd.Series([f[1] for f in found], index=result.index, dtype="int64")
    result["preventable"] = pd.Series([f[2] for f in found], index=result.index, dtype=bool)
    result["category_known"] = pd.Series(known, index=result.index, dtype=bool)

    unknown = pd.Series(
        [name for name, ok in zip(category, known, strict=True) if not ok and name],
        dtype=object,
    )
    problems = [_unknown_warning(unknown.value_counts(), layer)] if len(unknown) else []
    blank = sum(1 for name in category if not name)
    if blank:
        problems.append(
            Problem(
                layer=layer,
                feature_id=None,
                code="missing_category",
                message=_(
                    "%(count)s incident(s) have no category; they were given group 'other', "
                    "severity 1, not preventable.",
                    count=format(blank, ","),
                ),
                fix=_("Fill the category column of these incidents."),
                severity="warning",
            )
        )
    if problems:
        logger.info("%d category problem(s) in %s", len(problems), layer)
    return result, problems


def _unknown_warning(counts: pd.Series, layer: str) -> Problem:
    """The one warning listing the categories the table lacks."""
    listed = ", ".join(
        f"{name!r} ({int(count):,})" for name, count in counts.head(UNKNOWN_LISTED).items()
    )
    more = len(counts) - UNKNOWN_LISTED
    params = {
        "num": f"{len(counts):,}",
        "incidents": f"{int(counts.sum()):,}",
        "listed": listed,
        "more": f"{more:,}",
    }
    if more > 0:
        message = ngettext(
            "%(num)s category is not in the category table (%(incidents)s incident(s)): "
            "%(listed)s and %(more)s more; they were given group 'other', severity 1, and "
            "are not counted as preventable.",
            "%(num)s categories are not in the category table (%(incidents)s incident(s)): "
            "%(listed)s and %(more)s more; they were given group 'other', severity 1, and "
            "are not counted as preventable.",
            len(counts),
            **params,
        )
    else:
        message = ngettext(
            "%(num)s category is not in the category table (%(incidents)s incident(s)): "
            "%(listed)s; they were given group 'other', severity 1, and are not counted as "
            "preventable.",
            "%(num)s categories are not in the category table (%(incidents)s incident(s)): "
            "%(listed)s; they were given group 'other', severity 1, and are not counted as "
            "preventable.",
            len(counts),
            **params,
        )
    return Problem(
        layer=layer,
        feature_id=None,
        code="unknown_category",
        message=message,
        fix=_(
            "Add rows for these categories to the category table (import categories=FILE.csv "
            "with category, label, severity, preventable) or map them to known categories."
        ),
        severity="warning",
    )
