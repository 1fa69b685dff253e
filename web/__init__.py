"""The gisapp web app: a thin Flask adapter over ``gisapp`` (pages, auth, JSON API).

Nothing is read or built at import time; ``create_app`` does it all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, redirect, url_for
from werkzeug.wrappers import Response as BaseResponse

from web import app_config, security
from web.app_config import (
    DEFAULT_MAX_CONTENT_LENGTH,
    settings_config,
)

__all__ = [
    "DEFAULT_MAX_CONTENT_LENGTH",
    "create_app",
    "settings_config",
]


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Create the web app.

    Without ``test_config`` the settings come from :func:`gisapp.settings.load_settings`
    (``gisapp.toml`` or ``$GISAPP_CONFIG``, then ``GISAPP_*`` variables): upload limit
    (``upload_max_mb``), ``secret_key``, ``session_cookie_secure``, ``users_db`` and the
    named shifts; the workspace is ``GISAPP_WORKSPACE``. Flask keys set as ``GISAPP_<KEY>``
    variables (e.g. ``GISAPP_MAX_CONTENT_LENGTH``) override those.

    With ``test_config`` only its keys and the built-in defaults apply (nothing is read
    from files or the environment); it may carry a ``SETTINGS`` object.

    Keys: ``WORKSPACE`` (path of the workspace GeoPackage), ``USERS_DB`` (users SQLite
    file, default ``<workspace>.users.sqlite``), ``SECRET_KEY`` (random per process when
    unset: sessions then end at restart), ``SESSION_COOKIE_SECURE`` (set true behind
    HTTPS), ``MAX_CONTENT_LENGTH`` (upload limit in bytes: a larger request is refused
    with 413 before its body is read), and ``SETTINGS`` (a :class:`gisapp.settings.Settings`;
    plans made on the Plans page use its plan settings, as ``gisapp plan`` does).

    Sign-in keys: ``PERMANENT_SESSION_LIFETIME`` (a session ends this long after sign-in,
    default 12 hours) and ``SESSION_IDLE_TIMEOUT`` (or this long after its last request,
    default 2 hours; seconds or a ``timedelta``); sessions are recorded in the users file,
    so signing out ends them. ``LOGIN_THROTTLE_DB`` is the file counting failed sign-ins
    (default ``<users file>.throttle.sqlite``); ``CLOCK`` returns the current time in
    seconds since the epoch (``time.time``).

    Parameters
    ----------
    test_config
        Configuration used instead of the settings file and the environment.

    Returns
    -------
    flask.Flask
        The app.

    Raises
    ------
    SettingsError
        If the settings file or a ``GISAPP_*`` variable is invalid.
    TypeError
        If ``test_config["SETTINGS"]`` is not a :class:`gisapp.settings.Settings`.
    """
    app = Flask(__name__)
    app_config.load_config(app, test_config)
    _register_blueprints(app)
    security.init_app(app)
    _register_root_routes(app)
    return app


def _register_blueprints(app: Flask) -> None:
    """Set up the request hooks and register one blueprint per feature."""
    from web import (
        admin,
        api,
        auth,
        categories,
        coverage,
        csrf,
        errors,
        exports,
        hotspots,
        i18n,
        layers,
        maps,
        nav,
        plans,
    )

    csrf.init_app(app)
    errors.init_app(app)
    nav.init_app(app)
    for blueprint in (
        auth.bp,
        maps.bp,
        hotspots.bp,
        coverage.bp,
        plans.bp,
        exports.bp,
        categories.bp,
        api.bp,
        admin.bp,
        layers.bp,
    ):
        app.register_blueprint(blueprint)
    i18n.init_app(app)  # after auth: the user's choice decides the language


def _register_root_routes(app: Flask) -> None:
    """Add the routes outside any blueprint: ``/`` and ``/favicon.ico``."""

    @app.get("/favicon.ico")
    def favicon() -> Response:
        # Browsers ask for it on every page; an empty answer keeps the logs and console clean.
        return Response(status=204)

    @app.get("/")
    def index() -> BaseResponse:
        return redirect(url_for("maps.overview"))
