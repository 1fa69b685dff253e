"""Security headers on every response: a same-origin CSP, no sniffing, same-origin referrer."""

from __future__ import annotations

from flask import Flask, Response

#: Maps are folium pages with inline scripts; 'self' still stops any request to another
#: host, which an offline intranet must never make.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'self'"
)


def security_headers(response: Response) -> Response:
    """Add the security headers a view has not set itself."""
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def init_app(app: Flask) -> None:
    """Send the security headers on every response of ``app``."""
    app.after_request(security_headers)
