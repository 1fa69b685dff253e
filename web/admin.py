"""User administration (admins only): add users, set a password or the interface language,
disable or enable one.

A new password or a disabled account ends every session of that user at once; a new
password or enabling an account also lifts a sign-in lock on it.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from gisapp.store.users import ROLES, UserError
from layers.i18n import LANGUAGES, _, normalize_language
from web.auth import current_user, get_throttle, roles_required
from web.context import get_user_store

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _language_field() -> str | None:
    """The language chosen in a form (None: no choice); 400 for a language not offered."""
    text = request.form.get("language", "").strip()
    if not text:
        return None
    language = normalize_language(text)
    if language is None:
        choices = ", ".join(LANGUAGES)
        abort(
            400,
            description=_(
                "Language %(language)r is not offered; choose one of %(choices)s.",
                language=text,
                choices=choices,
            ),
        )
    return language


@bp.route("/users", methods=("GET", "POST"))
@roles_required("admin")
def users() -> Response | str:
    """List users and add one."""
    store = get_user_store()
    if request.method == "POST":
        language = _language_field()
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
            if language is not None:
                store.set_language(user.name, language)
            flash(_("User %(name)s added.", name=user.name))
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
        flash(_("%(name)s: %(problem)s.", name=name, problem=exc))
    else:
        get_throttle().clear_account(name)
        flash(_("%(name)s has a new password and has been signed out everywhere.", name=name))
    return redirect(url_for("admin.users"))


@bp.post("/users/<name>/language")
@roles_required("admin")
def set_language(name: str) -> Response:
    """Set the interface language of a user (none: the browser's or the workspace's)."""
    _existing(name)
    language = _language_field()
    get_user_store().set_language(name, language)
    if language is None:
        flash(_("%(name)s has no language of their own any more.", name=name))
    else:
        flash(
            _(
                "%(name)s now sees the interface in %(language)s.",
                name=name,
                language=LANGUAGES[language],
            )
        )
    return redirect(url_for("admin.users"))


@bp.post("/users/<name>/disabled")
@roles_required("admin")
def set_disabled(name: str) -> Response:
    """Disable (signing the user out everywhere) or enable an account."""
    _existing(name)
    disable = request.form.get("disabled") == "1"
    me = current_user()
    if disable and me is not None and me.name == name:
        flash(_("You cannot disable your own account; ask another administrator."))
        return redirect(url_for("admin.users"))
    get_user_store().set_disabled(name, disable)
    if disable:
        flash(_("%(name)s is disabled and has been signed out everywhere.", name=name))
    else:
        get_throttle().clear_account(name)
        flash(_("%(name)s can sign in again.", name=name))
    return redirect(url_for("admin.users"))


def _existing(name: str) -> None:
    if get_user_store().get(name) is None:
        abort(404, description=_("There is no user %(name)r.", name=name))
