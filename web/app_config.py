"""Configuration of the web app: defaults, the gisapp settings, ``GISAPP_*`` overrides.

``load_config`` is called by ``create_app`` only, never at import time.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from flask import Flask

if TYPE_CHECKING:
    from gisapp.settings import Settings

logger = logging.getLogger(__name__)

#: Default upload limit, bytes (a workspace layer or a CSV of incidents).
DEFAULT_MAX_CONTENT_LENGTH = 64 * 1024 * 1024


def default_config() -> dict[str, Any]:
    """The Flask config keys every app starts from."""
    return {
        "WORKSPACE": None,
        "USERS_DB": None,
        "MAX_CONTENT_LENGTH": DEFAULT_MAX_CONTENT_LENGTH,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": False,
        # A session ends 12 hours after sign-in, or after 2 hours without a request.
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=12),
        "SESSION_IDLE_TIMEOUT": timedelta(hours=2),
        "LOGIN_THROTTLE_DB": None,
        # Seconds since the epoch; sessions and sign-in locks read the time only here.
        "CLOCK": time.time,
        "ASSETS_URL": "/static/vendor",
    }


def load_config(app: Flask, test_config: Mapping[str, Any] | None) -> None:
    """Fill ``app.config`` as ``create_app`` documents it.

    Parameters
    ----------
    app
        The app being created.
    test_config
        Configuration used instead of the settings file and the environment, or ``None``.

    Raises
    ------
    SettingsError
        If the settings file or a ``GISAPP_*`` variable is invalid.
    TypeError
        If ``test_config["SETTINGS"]`` is not a :class:`gisapp.settings.Settings`.
    """
    from gisapp.settings import Settings, load_settings

    app.config.from_mapping(default_config())
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
    if not app.config["LOGIN_THROTTLE_DB"] and app.config["USERS_DB"]:
        from web.throttle import throttle_db_path

        app.config["LOGIN_THROTTLE_DB"] = str(throttle_db_path(app.config["USERS_DB"]))
    if app.config["WORKSPACE"]:
        from gisapp.store import absolute_location

        app.config["WORKSPACE"] = absolute_location(str(app.config["WORKSPACE"]))


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
