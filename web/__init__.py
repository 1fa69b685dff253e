"""The gisapp web app: a thin Flask adapter over ``gisapp`` (pages, auth, JSON API).

Nothing is read or built at import time; ``create_app`` does it all.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, redirect, url_for
from werkzeug.wrappers import Response as BaseResponse

if TYPE_CHECKING:
    from gisapp.settings import Settings

logger = logging.getLogger(__name__)

#: Default upload limit, bytes (a workspace layer or a CSV of incidents).
DEFAULT_MAX_CONTENT_LENGTH = 64 * 1024 * 1024
#: Solver seconds of a plan generated on the Plans page (the request waits for it).
DEFAULT_PLAN_TIME_LIMIT_S = 10.0
#: Hotspots a plan generated on the Plans page patrols.
DEFAULT_PLAN_HOTSPOTS = 40


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
    with 413 before its body is read), ``SETTINGS`` (a :class:`gisapp.settings.Settings`),
    ``PLAN_TIME_LIMIT_S`` (solver seconds of a plan made on the Plans page, default 10;
    ``GISAPP_PLAN_TIME_LIMIT_S``) and ``PLAN_HOTSPOTS`` (hotspots per plan, default 40).

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
    """
    from gisapp.settings import Settings, load_settings

    app = Flask(__name__)
    app.config.from_mapping(
        WORKSPACE=None,
        USERS_DB=None,
        MAX_CONTENT_LENGTH=DEFAULT_MAX_CONTENT_LENGTH,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=False,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        ASSETS_URL="/static/vendor",
        PLAN_TIME_LIMIT_S=DEFAULT_PLAN_TIME_LIMIT_S,
        PLAN_HOTSPOTS=DEFAULT_PLAN_HOTSPOTS,
    )
    if test_config is None:
        settings = load_settings()
        app.config.update(settings_config(settings))
        app.config.from_prefixed_env("GISAPP")
    else:
        settings = test_config.get("SETTINGS") or Settings()
        app.config.from_mapping(test_config)
    if not isinstance(settings, Settings):
        raise TypeError(f"'SETTINGS' should be a Settings, got {type(settings).__name__}")
    app.config["SETTINGS"] = settings
    if not app.config.get("SECRET_KEY"):
        logger.warning("no SECRET_KEY configured: using a random key, sessions end at restart")
        app.config["SECRET_KEY"] = secrets.token_hex(32)
    if not app.config["USERS_DB"] and app.config["WORKSPACE"]:
        from gisapp.store.users import users_db_path

        app.config["USERS_DB"] = str(users_db_path(app.config["WORKSPACE"]))
    if app.config["WORKSPACE"]:
        app.config["WORKSPACE"] = str(Path(app.config["WORKSPACE"]))

    from web import (
        admin,
        api,
        auth,
        coverage,
        csrf,
        errors,
        exports,
        hotspots,
        layers,
        maps,
        nav,
        plans,
    )

    csrf.init_app(app)
    errors.init_app(app)
    nav.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(maps.bp)
    app.register_blueprint(hotspots.bp)
    app.register_blueprint(coverage.bp)
    app.register_blueprint(plans.bp)
    app.register_blueprint(exports.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(layers.bp)

    @app.after_request
    def security_headers(response: Response) -> Response:
        # Maps are folium pages with inline scripts; 'self' still stops any request to
        # another host, which an offline intranet must never make.
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self' 'unsafe-inline'; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'self'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @app.get("/favicon.ico")
    def favicon() -> Response:
        # Browsers ask for it on every page; an empty answer keeps the logs and console clean.
        return Response(status=204)

    @app.get("/")
    def index() -> BaseResponse:
        return redirect(url_for("maps.overview"))

    return app


def settings_config(settings: Settings) -> dict[str, Any]:
    """Flask config keys from the gisapp settings (only those the settings define)."""
    config: dict[str, Any] = {
        "MAX_CONTENT_LENGTH": int(settings.upload_max_mb * 1024 * 1024),
        "SESSION_COOKIE_SECURE": settings.session_cookie_secure,
    }
    if settings.secret_key:
        config["SECRET_KEY"] = settings.secret_key
    if settings.users_db:
        config["USERS_DB"] = settings.users_db
    return config
