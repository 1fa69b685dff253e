"""Checks of a workspace's ``categories`` table: one row per category, severity 1-5,
preventable true/false (the same rules as every category table)."""

from __future__ import annotations

import pandas as pd

from layers.categories import category_table_from_frame
from layers.errors import LayerError
from layers.i18n import _
from layers.validate.report import ProblemCollector


def check_categories(frame: pd.DataFrame, found: ProblemCollector) -> None:
    """Report a category table that cannot weigh incidents (``bad_category_table``)."""
    try:
        category_table_from_frame(frame, source=_("the categories table"))
    except LayerError as exc:
        found.add(
            "categories",
            None,
            "bad_category_table",
            str(exc),
            _(
                "correct the categories file (category, label, severity 1-5, preventable "
                "true/false) and import it again"
            ),
        )
