"""The gisapp web app: a thin Flask adapter over ``gisapp`` (pages, auth, JSON API).

Nothing is read or built at import time; ``create_app`` does it all.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, Response, redirect, url_for
from werkzeug.wrappers import Response as BaseResponse

logger = logging.getLogger(__name__)

#: Default upload limit, bytes (a workspace layer or a CSV of incidents).
DEFAULT_MAX_CONTENT_LENGTH = 64 * 1024 * 1024


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Create the web app.

    Configuration comes from ``test_config`` when given, else from ``GISAPP_*``
    environment variables (``GISAPP_WORKSPACE``, ``GISAPP_SECRET_KEY``,
    ``GISAPP_USERS_DB``, ``GISAPP_SESSION_COOKIE_SECURE``, ``GISAPP_MAX_CONTENT_LENGTH``).

    Keys: ``WORKSPACE`` (path of the workspace GeoPackage), ``USERS_DB`` (users SQLite
    file, default ``<workspace>.users.sqlite``), ``SECRET_KEY`` (random per process when
    unset: sessions then end at restart), ``SESSION_COOKIE_SECURE`` (set true behind
    HTTPS), ``MAX_CONTENT_LENGTH`` (upload limit in bytes).

    Parameters
    ----------
    test_config
        Configuration overriding the environment.

    Returns
    -------
    flask.Flask
        The app.
    """
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
    )
    if test_config is None:
        app.config.from_prefixed_env("GISAPP")
    else:
        app.config.from_mapping(test_config)
    if not app.config.get("SECRET_KEY"):
        logger.warning("no SECRET_KEY configured: using a random key, sessions end at restart")
        app.config["SECRET_KEY"] = secrets.token_hex(32)
    if not app.config["USERS_DB"] and app.config["WORKSPACE"]:
        from gisapp.users import users_db_path

        app.config["USERS_DB"] = str(users_db_path(app.config["WORKSPACE"]))
    if app.config["WORKSPACE"]:
        app.config["WORKSPACE"] = str(Path(app.config["WORKSPACE"]))

    from web import admin, api, auth, csrf, errors, maps

    csrf.init_app(app)
    errors.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(maps.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(admin.bp)

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
