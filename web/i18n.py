"""The interface language of each request, and the switch in the navigation bar.

The language is, in this order: the signed-in user's choice (kept in the users file), the
choice made on this browser before signing in (kept in the session), the workspace's
default (``language`` in the settings), then the browser's ``Accept-Language``, then
English. Flask-Babel chooses it for each request; this module sets it in
:mod:`layers.i18n`, through which both the templates and the messages made in Python
(flashes, errors, labels) are translated, from the same catalogs.
"""

from __future__ import annotations

from flask import Blueprint, Flask, g, redirect, request, session, url_for
from flask_babel import Babel
from werkzeug.wrappers import Response as BaseResponse

from layers import i18n
from web.auth import safe_next

bp = Blueprint("language", __name__)

_SESSION_KEY = "language"


def select_language() -> str:
    """The language of this request (see the module's description)."""
    user = g.get("user")
    if user is not None and user.language:
        return i18n.normalize_language(user.language) or i18n.DEFAULT_LANGUAGE
    chosen = i18n.normalize_language(session.get(_SESSION_KEY))
    if chosen:
        return chosen
    default = i18n.normalize_language(_workspace_default())
    browser = request.accept_languages.best_match(["zh_CN", "zh", "en"])
    if user is None:  # the sign-in page follows the browser first
        return i18n.normalize_language(browser) or default or i18n.DEFAULT_LANGUAGE
    return default or i18n.normalize_language(browser) or i18n.DEFAULT_LANGUAGE


def _workspace_default() -> str | None:
    from web.context import get_settings

    return get_settings().language


def _set_request_language() -> None:
    from flask_babel import get_locale

    locale = get_locale()
    language = i18n.normalize_language(str(locale)) if locale else None
    g.language = language or i18n.DEFAULT_LANGUAGE
    g.language_token = i18n.set_language(g.language)


def _reset_request_language(_exc: BaseException | None) -> None:
    token = g.pop("language_token", None)
    if token is not None:
        i18n.reset_language(token)


@bp.post("/language")
def switch() -> BaseResponse:
    """Speak the language picked in the navigation bar from now on (for a signed-in user,
    on every browser: the choice is stored with the user)."""
    language = i18n.normalize_language(request.form.get("language"))
    if language is not None:
        session[_SESSION_KEY] = language
        user = g.get("user")
        if user is not None:
            from web.context import get_user_store

            get_user_store().set_language(user.name, language)
    return redirect(safe_next(request.form.get("next")) or url_for("maps.overview"))


def init_app(app: Flask) -> None:
    """Install Flask-Babel over the product's catalogs and the language of each request.

    Call after the blueprints are registered: the user is loaded before the language is
    chosen.
    """
    Babel(
        app,
        locale_selector=select_language,
        default_translation_directories=str(i18n.LOCALE_DIR),
        default_domain="messages",
    )
    # The templates translate through layers.i18n, as the Python code does: one lookup for
    # both (Flask-Babel's own would look for Babel's name of the locale, zh_Hans_CN, which
    # the catalogs are not filed under). New-style: values are escaped and filled in.
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda message: i18n.translations(i18n.current_language()).ugettext(message),
        lambda singular, plural, n: i18n.translations(i18n.current_language()).ungettext(
            singular, plural, n
        ),
        newstyle=True,
    )
    app.before_request(_set_request_language)
    app.teardown_request(_reset_request_language)
    app.register_blueprint(bp)
    app.jinja_env.globals.update(
        LANGUAGES=i18n.LANGUAGES,
        current_language=i18n.current_language,
        html_lang=lambda: "zh-CN" if i18n.is_chinese() else "en",
    )
    app.jinja_env.filters.update(
        number=i18n.format_number,
        date=i18n.format_date,
        datetime=i18n.format_datetime,
        minutes=i18n.format_minutes,
        km=i18n.format_km,
    )


__all__ = ["bp", "init_app", "select_language"]
