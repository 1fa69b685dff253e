"""User administration (admins only): add users, set a password, disable or enable one.

A new password or a disabled account ends every session of that user at once; a new
password or enabling an account also lifts a sign-in lock on it.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from gisapp.store.users import ROLES, UserError
from web.auth import current_user, get_throttle, roles_required
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


@bp.post("/users/<name>/password")
@roles_required("admin")
def set_password(name: str) -> Response:
    """Give a user a new password: its sessions end and a sign-in lock is lifted."""
    _existing(name)
    try:
        get_user_store().set_password(name, request.form.get("password", ""))
    except UserError as exc:
        flash(f"{name}: {exc}.")
    else:
        get_throttle().clear_account(name)
        flash(f"{name} has a new password and has been signed out everywhere.")
    return redirect(url_for("admin.users"))


@bp.post("/users/<name>/disabled")
@roles_required("admin")
def set_disabled(name: str) -> Response:
    """Disable (signing the user out everywhere) or enable an account."""
    _existing(name)
    disable = request.form.get("disabled") == "1"
    me = current_user()
    if disable and me is not None and me.name == name:
        flash("You cannot disable your own account; ask another administrator.")
        return redirect(url_for("admin.users"))
    get_user_store().set_disabled(name, disable)
    if disable:
        flash(f"{name} is disabled and has been signed out everywhere.")
    else:
        get_throttle().clear_account(name)
        flash(f"{name} can sign in again.")
    return redirect(url_for("admin.users"))


def _existing(name: str) -> None:
    if get_user_store().get(name) is None:
        abort(404, description=f"There is no user {name!r}.")
