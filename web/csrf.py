"""CSRF protection: a per-session token every form must send back.

A small helper instead of Flask-WTF: the app has a few plain forms and no WTForms. The
token lives in the signed session; templates put ``{{ csrf_field() }}`` in each form and
scripts send it in the ``X-CSRF-Token`` header.
"""

from __future__ import annotations

import hmac
import secrets

from flask import Flask, abort, request, session
from markupsafe import Markup, escape

from layers.i18n import _l

_SESSION_KEY = "_csrf_token"
FIELD_NAME = "csrf_token"
HEADER_NAME = "X-CSRF-Token"
_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def csrf_token() -> str:
    """Return the session's token, creating it on first use."""
    token = session.get(_SESSION_KEY)
    if not token:
        token = secrets.token_urlsafe(32)
        session[_SESSION_KEY] = token
    return str(token)


def csrf_field() -> Markup:
    """Return the hidden form input carrying the token."""
    return Markup(f'<input type="hidden" name="{FIELD_NAME}" value="{escape(csrf_token())}">')


def _check() -> None:
    if request.method not in _UNSAFE_METHODS:
        return
    expected = session.get(_SESSION_KEY)
    # Reading request.form enforces MAX_CONTENT_LENGTH (413) before the token check.
    sent = request.headers.get(HEADER_NAME) or request.form.get(FIELD_NAME)
    if not expected or not sent or not hmac.compare_digest(str(expected), str(sent)):
        abort(
            400,
            description=_l(
                "The form has expired or its security token is missing. "
                "Reload the page and try again."
            ),
        )


def init_app(app: Flask) -> None:
    """Check the token on every unsafe request and expose the helpers to templates."""
    app.before_request(_check)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["csrf_field"] = csrf_field
