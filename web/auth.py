"""Sign-in, sign-out, password change and the role checks used by every other blueprint.

A signed-in browser holds, in its signed session cookie, only the token of a session
recorded in the users file; every request looks that session up, so signing out, a new
password or a disabled account ends it at once, even in a copied cookie. Sessions end
``PERMANENT_SESSION_LIFETIME`` after sign-in or ``SESSION_IDLE_TIMEOUT`` after the last
request. Repeated wrong passwords lock the account name and the client address
(:mod:`web.throttle`) before any password is hashed.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar, cast
from urllib.parse import unquote, urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response

from gisapp.store.users import User, UserError
from layers.i18n import _
from web.context import get_user_store
from web.throttle import Lock, LoginThrottle

bp = Blueprint("auth", __name__, url_prefix="/auth")

F = TypeVar("F", bound=Callable[..., Any])

#: Session cookie key holding the session token.
_SESSION_KEY = "sid"
#: Session cookie key of the language chosen on this browser (see :mod:`web.i18n`).
_LANGUAGE_KEY = "language"


def now() -> float:
    """Return the app's current time, seconds since the epoch (``CLOCK`` in the config)."""
    clock = cast("Callable[[], float]", current_app.config["CLOCK"])
    return float(clock())


def _seconds(value: timedelta | float | int) -> float:
    # Config keys from GISAPP_* variables arrive as numbers of seconds.
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def get_throttle() -> LoginThrottle:
    """Return the app's sign-in throttle."""
    path = current_app.config.get("LOGIN_THROTTLE_DB")
    if not path:
        abort(503, description=_("No users file is configured."))
    return LoginThrottle(path)


@bp.before_app_request
def load_logged_in_user() -> None:
    """Put the user of the session (or ``None``) in ``g.user``; end a dead session."""
    g.user = None
    token = session.get(_SESSION_KEY)
    if request.endpoint == "static" or not token:
        if session.get("user"):  # a cookie from before sessions were recorded
            session.clear()
        return
    g.user = get_user_store().session_user(
        str(token),
        now=now(),
        idle_s=_seconds(current_app.config["SESSION_IDLE_TIMEOUT"]),
    )
    if g.user is None:
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
                abort(401, description=_("Log in first."))
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
                abort(403, description=_("Your role does not allow this page."))
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
        abort(401, description=_("Log in first."))
    if user.sees_all_units:
        return requested or None
    if requested and requested != user.unit_id:
        abort(403, description=_("An officer sees only the data of his own unit."))
    return user.unit_id


def _unsafe_char(char: str) -> bool:
    # Browsers drop tabs and newlines inside URLs and trim spaces and controls around
    # them, so "/\t/evil.example" would become "//evil.example": refuse them all.
    return char.isspace() or unicodedata.category(char).startswith("C")


def safe_next(target: str | None) -> str | None:
    """Return ``target`` when it is a path of this site, else ``None``.

    Accepted: a single ``/`` followed by anything but ``/`` or ``\\`` (or nothing), with
    no control or space characters, no backslash and no scheme or host once parsed, and
    the same once percent-decoded (where an encoded space is allowed).

    Parameters
    ----------
    target
        The ``next`` address a login link carries.
    """
    if not target or len(target) > 2000:
        return None
    if any(_unsafe_char(c) for c in target):
        return None
    for text in (target, unquote(target)):
        # Decoded, an encoded space is harmless but a control character or "//" is not.
        if any(unicodedata.category(c).startswith("C") for c in text) or "\\" in text:
            return None
        if not text.startswith("/") or text.startswith("//"):
            return None
        parts = urlsplit(text)
        if parts.scheme or parts.netloc:
            return None
    return target


def start_session(user: User) -> None:
    """Sign ``user`` in on this browser: a new recorded session in a fresh cookie."""
    lifetime = _seconds(current_app.config["PERMANENT_SESSION_LIFETIME"])
    token = get_user_store().start_session(user.name, now=now(), lifetime_s=lifetime)
    language = session.get(_LANGUAGE_KEY)
    session.clear()  # a fresh session (and CSRF token) after sign-in
    if language:  # the language chosen on the sign-in page stays chosen
        session[_LANGUAGE_KEY] = language
    session[_SESSION_KEY] = token
    session.permanent = True


def _locked(lock: Lock) -> tuple[str, int, dict[str, str]]:
    flash(lock.message)
    page = render_template("auth/login.html")
    return page, 429, {"Retry-After": str(max(1, round(lock.remaining_s)))}


@bp.route("/login", methods=("GET", "POST"))
def login() -> Response | str | tuple[str, int, dict[str, str]]:
    """Show the login form and log the user in."""
    if request.method == "POST":
        name = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        throttle = get_throttle()
        lock = throttle.check(name, request.remote_addr, now=now())
        if lock is not None:  # refused before hashing: a flood of guesses costs almost nothing
            return _locked(lock)
        user = get_user_store().authenticate(name, password)
        if user is None:
            lock = throttle.record_failure(name, request.remote_addr, now=now())
            if lock is not None:
                return _locked(lock)
            flash(_("Wrong user name or password."))
            return render_template("auth/login.html")
        throttle.clear_account(name)
        target = safe_next(request.args.get("next")) or url_for("maps.overview")
        start_session(user)
        return redirect(target)
    return render_template("auth/login.html")


@bp.post("/logout")
def logout() -> Response:
    """Log out (a POST, so a link on another site cannot do it); the session ends for good."""
    token = session.get(_SESSION_KEY)
    if token:
        get_user_store().end_session(str(token))
    user = current_user()
    language = (user.language if user is not None else None) or session.get(_LANGUAGE_KEY)
    session.clear()
    if language:  # the sign-in page keeps speaking the language of who just left
        session[_LANGUAGE_KEY] = language
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=("GET", "POST"))
@login_required
def password() -> Response | str | tuple[str, int]:
    """Change one's own password; every other session of the account ends."""
    user = current_user()
    if user is None:
        abort(401, description=_("Log in first."))
    if request.method == "POST":
        current = request.form.get("current_password", "")
        new = request.form.get("new_password", "")
        store = get_user_store()
        throttle = get_throttle()
        lock = throttle.check(user.name, request.remote_addr, now=now())
        if lock is not None:
            flash(lock.message)
            return render_template("auth/password.html"), 429
        if new != request.form.get("confirm_password", ""):
            flash(_("The new password and its confirmation differ."))
        elif store.authenticate(user.name, current) is None:
            throttle.record_failure(user.name, request.remote_addr, now=now())
            flash(_("The current password is wrong."))
        else:
            try:
                store.set_password(user.name, new)
            except UserError as exc:
                flash(_("The new %(problem)s.", problem=exc))
            else:
                start_session(user)
                flash(_("Password changed; every other sign-in of this account has ended."))
                return redirect(url_for("maps.overview"))
    return render_template("auth/password.html")
