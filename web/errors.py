"""Error responses: JSON under ``/api/``, a plain page elsewhere, never a traceback.

The page and the JSON ``message`` speak the reader's language; the JSON ``error`` keeps
the standard HTTP name (``Not Found``), a value programs may compare.
"""

from __future__ import annotations

import logging

from flask import Flask, g, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.wrappers import Response

from gisapp.errors import USER_ERRORS
from layers.i18n import LazyString, _l, use_language

logger = logging.getLogger(__name__)

#: The status names people read on an error page.
TITLES: dict[int, LazyString] = {
    400: _l("Bad Request"),
    401: _l("Unauthorized"),
    403: _l("Forbidden"),
    404: _l("Not Found"),
    405: _l("Method Not Allowed"),
    409: _l("Conflict"),
    413: _l("Request Entity Too Large"),
    422: _l("Unprocessable Entity"),
    429: _l("Too Many Requests"),
    500: _l("Internal Server Error"),
    503: _l("Service Unavailable"),
}

#: werkzeug's description of a status, when the code that raised it gave none of its own
#: (the English text is werkzeug's, word for word).
DEFAULT_MESSAGES: dict[int, LazyString] = {
    400: _l("The browser (or proxy) sent a request that this server could not understand."),
    401: _l(
        "The server could not verify that you are authorized to access the URL requested. "
        "You either supplied the wrong credentials (e.g. a bad password), or your browser "
        "doesn't understand how to supply the credentials required."
    ),
    403: _l(
        "You don't have the permission to access the requested resource. It is either "
        "read-protected or not readable by the server."
    ),
    404: _l(
        "The requested URL was not found on the server. If you entered the URL manually "
        "please check your spelling and try again."
    ),
    405: _l("The method is not allowed for the requested URL."),
    429: _l("This user has exceeded an allotted request count. Try again later."),
    500: _l(
        "The server encountered an internal error and was unable to complete your request. "
        "Either the server is overloaded or there is an error in the application."
    ),
    503: _l(
        "The server is temporarily unable to service your request due to maintenance "
        "downtime or capacity problems. Please try again later."
    ),
}


def _reader_language() -> str | None:
    """The request's language when an error came before it was set (a refused form token
    is checked first), else None: it is in force already."""
    if "language" in g:
        return None
    from web.i18n import select_language

    try:
        return select_language()
    except Exception:  # an error page must not fail on the way
        logger.exception("no language for the error page of %s", request.path)
        return None


def error_response(
    status: int, title: str, message: str | LazyString
) -> tuple[Response | str, int]:
    """Return a JSON body for the API and an HTML page for everything else, in the
    reader's language.

    ``title`` is the standard name of the status (kept as is in the JSON ``error``);
    the page shows it in the reader's language. ``message`` may be a lazy text.
    """
    with use_language(_reader_language()):
        return _error_response(status, title, str(message))


def _error_response(status: int, title: str, message: str) -> tuple[Response | str, int]:
    if request.path.startswith("/api/"):
        return jsonify(error=title, message=message, status=status), status
    shown = str(TITLES[status]) if status in TITLES else title
    return render_template("error.html", status=status, title=shown, message=message), status


def _http_error(exc: HTTPException) -> tuple[Response | str, int]:
    status = exc.code or 500
    message: str | LazyString = exc.description or ""
    if isinstance(exc, RequestEntityTooLarge):
        limit_mb = (request.max_content_length or 0) / (1024 * 1024)
        message = _l("The upload is larger than the limit of %(size)s MB.", size=f"{limit_mb:g}")
    elif str(message) == (type(exc).description or "") and status in DEFAULT_MESSAGES:
        # werkzeug's own wording: say it in the reader's language
        message = DEFAULT_MESSAGES[status]
    return error_response(status, exc.name, message)


def _user_error(exc: Exception) -> tuple[Response | str, int]:
    return error_response(400, "Bad Request", str(exc))


def _unexpected(exc: Exception) -> tuple[Response | str, int]:
    if isinstance(exc, HTTPException):
        return _http_error(exc)
    logger.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(
        500, "Internal Server Error", _l("Something went wrong; the error has been logged.")
    )


def init_app(app: Flask) -> None:
    """Register the handlers on ``app``."""
    app.register_error_handler(HTTPException, _http_error)
    for error in USER_ERRORS:
        app.register_error_handler(error, _user_error)
    app.register_error_handler(Exception, _unexpected)
