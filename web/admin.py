"""User administration (admins only)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from gisapp.store.users import ROLES, UserError
from web.auth import roles_required
from web.context import get_user_store

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/users", methods=("GET", "POST"))
@roles_required("admin")
def users() -> Response | str:
    """List users and add one."""
    store = get_user_store()
    if request.method == "POST":
        try:
            user = store.add(
                request.form.get("username", ""),
                request.form.get("password", ""),
                role=request.form.get("role", ""),
                unit_id=request.form.get("unit_id") or None,
            )
        except UserError as exc:
            flash(str(exc))
        else:
            flash(f"User {user.name} added.")
            return redirect(url_for("admin.users"))
    return render_template("admin/users.html", users=store.all(), roles=ROLES)
