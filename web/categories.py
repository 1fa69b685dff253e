"""Incident categories (captains and admins): see and edit the group, severity and
preventable flag (可防性) that weigh every category's incidents, start from a bundled
table, download the table as CSV."""

from __future__ import annotations

import pandas as pd
from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from gisapp.services.categories import (
    CategoryEditError,
    category_rows,
    copy_bundled_categories,
)
from gisapp.views.categories import (
    BUNDLED_TABLES,
    category_csv,
    category_page,
    save_category_form,
)
from layers.i18n import _, ngettext
from web.auth import roles_required
from web.context import get_workspace, page_cached
from web.nav import CAPTAINS

bp = Blueprint("categories", __name__, url_prefix="/categories")


def _rows() -> pd.DataFrame:
    """The workspace's categories, cached per workspace version (a save recomputes)."""
    ws = get_workspace()
    return page_cached("categories", (), lambda: category_rows(ws))


def _page_number(text: str | None) -> int:
    return int(text) if text and text.isdigit() else 1


@bp.get("/")
@roles_required(*CAPTAINS)
def index() -> str:
    """The categories of the workspace, unknown ones first, with the edit form."""
    view = category_page(get_workspace(), _rows(), page=_page_number(request.args.get("page")))
    return render_template("categories/index.html", view=view, errors=[])


@bp.post("/")
@roles_required(*CAPTAINS)
def save() -> Response | tuple[str, int]:
    """Save the edited rows of one page into the workspace's categories table."""
    ws = get_workspace()
    rows = _rows()
    page = _page_number(request.form.get("page"))
    try:
        changed = save_category_form(ws, rows, request.form)
    except CategoryEditError as exc:
        view = category_page(ws, rows, page=page, posted=request.form)
        return render_template("categories/index.html", view=view, errors=exc.problems), 400
    if changed:
        flash(
            ngettext(
                "Saved: %(num)s category changed.", "Saved: %(num)s categories changed.", changed
            )
        )
    else:
        flash(_("Nothing to save: no value was changed."))
    return redirect(url_for("categories.index", page=page))


@bp.post("/bundled")
@roles_required(*CAPTAINS)
def start_from_bundled() -> Response | tuple[str, int]:
    """Copy a bundled table's rows for the categories of the incidents."""
    ws = get_workspace()
    name = request.form.get("table", "")
    try:
        _, copied = copy_bundled_categories(ws, name)
    except CategoryEditError as exc:
        view = category_page(ws, _rows())
        return render_template("categories/index.html", view=view, errors=exc.problems), 400
    flash(
        ngettext(
            "%(num)s category of the incidents copied from the %(table)s table.",
            "%(num)s categories of the incidents copied from the %(table)s table.",
            copied,
            table=BUNDLED_TABLES.get(name, name),
        )
    )
    return redirect(url_for("categories.index"))


@bp.get("/categories.csv")
@roles_required(*CAPTAINS)
def download() -> Response:
    """The workspace's categories table as CSV (UTF-8 with a BOM, for Excel)."""
    text = page_cached("categories.csv", (), lambda: category_csv(get_workspace()))
    response = Response(text.encode("utf-8"), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="categories.csv"'
    return response
