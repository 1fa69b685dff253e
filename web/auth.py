"""Login, logout and the role checks used by every other blueprint."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response

from gisapp.store.users import User
from web.context import get_user_store

bp = Blueprint("auth", __name__, url_prefix="/auth")

F = TypeVar("F", bound=Callable[..., Any])


@bp.before_app_request
def load_logged_in_user() -> None:
    """Put the session's user (or ``None``) in ``g.user``; a deleted user is logged out."""
    name = session.get("user")
    g.user = get_user_store().get(name) if name else None
    if name and g.user is None:
        session.clear()


def current_user() -> User | None:
    """Return the logged-in user."""
    return cast("User | None", g.get("user"))


def login_required(view: F) -> F:
    """Send anonymous visitors to the login page (401 for the API)."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            if request.path.startswith("/api/"):
                abort(401, description="Log in first.")
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return cast("F", wrapped)


def roles_required(*roles: str) -> Callable[[F], F]:
    """Allow only users with one of ``roles`` (403 for the others)."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None or user.role not in roles:
                abort(403, description="Your role does not allow this page.")
            return view(*args, **kwargs)

        return cast("F", wrapped)

    return decorator


def allowed_unit(requested: str | None) -> str | None:
    """Return the unit whose data the current user may see for a ``requested`` unit.

    Admins and captains see any unit (``None`` meaning all); an officer sees only his own
    and gets 403 for another.
    """
    user = current_user()
    if user is None:
        abort(401, description="Log in first.")
    if user.sees_all_units:
        return requested or None
    if requested and requested != user.unit_id:
        abort(403, description="An officer sees only the data of his own unit.")
    return user.unit_id


def _safe_next(target: str | None) -> str:
    # Only same-site paths: an absolute or scheme-relative URL would be an open redirect.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("maps.overview")


@bp.route("/login", methods=("GET", "POST"))
def login() -> Response | str:
    """Show the login form and log the user in."""
    if request.method == "POST":
        name = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        user = get_user_store().authenticate(name, password)
        if user is not None:
            target = _safe_next(request.args.get("next"))
            session.clear()  # a fresh session (and CSRF token) after login
            session["user"] = user.name
            session.permanent = True
            return redirect(target)
        flash("Wrong user name or password.")
    return render_template("auth/login.html")


@bp.post("/logout")
def logout() -> Response:
    """Log out (a POST, so a link on another site cannot do it)."""
    session.clear()
    return redirect(url_for("auth.login"))
