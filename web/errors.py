"""Error responses: JSON under ``/api/``, a plain page elsewhere, never a traceback."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.wrappers import Response

from gisapp.errors import USER_ERRORS

logger = logging.getLogger(__name__)


def error_response(status: int, title: str, message: str) -> tuple[Response | str, int]:
    """Return a JSON body for the API and an HTML page for everything else."""
    if request.path.startswith("/api/"):
        return jsonify(error=title, message=message, status=status), status
    return render_template("error.html", status=status, title=title, message=message), status


def _http_error(exc: HTTPException) -> tuple[Response | str, int]:
    status = exc.code or 500
    message = exc.description or ""
    if isinstance(exc, RequestEntityTooLarge):
        limit_mb = (request.max_content_length or 0) / (1024 * 1024)
        message = f"The upload is larger than the limit of {limit_mb:g} MB."
    return error_response(status, exc.name, message)


def _user_error(exc: Exception) -> tuple[Response | str, int]:
    return error_response(400, "Bad Request", str(exc))


def _unexpected(exc: Exception) -> tuple[Response | str, int]:
    if isinstance(exc, HTTPException):
        return _http_error(exc)
    logger.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(
        500, "Internal Server Error", "Something went wrong; the error has been logged."
    )


def init_app(app: Flask) -> None:
    """Register the handlers on ``app``."""
    app.register_error_handler(HTTPException, _http_error)
    for error in USER_ERRORS:
        app.register_error_handler(error, _user_error)
    app.register_error_handler(Exception, _unexpected)
