"""Security headers on every response: a strict same-origin CSP with per-response script
nonces, no sniffing, same-origin referrer, and no caching of signed-in pages or the API.

Scripts run only from this site's files or from inline ``<script>`` elements carrying the
response's nonce: templates write ``<script nonce="{{ csp_nonce() }}">``, and the map
pages the renderer makes (folium/Leaflet documents shown in frames) get the nonce added
as they are sent, because they are built once and cached while a nonce is new for each
response. An injected script or inline event handler (``onclick=``) does not run.
"""

from __future__ import annotations

import re
import secrets

from flask import Flask, Response, g, request

#: Styles keep 'unsafe-inline': folium writes <style> blocks and Leaflet, the legends and
#: the labels set style attributes. Styles cannot run code; 'self' still stops any request
#: to another host, which an offline intranet must never make.
_CSP_TEMPLATE = (
    "default-src 'self'; script-src 'self' 'nonce-{nonce}'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
)

#: Start tag of a script element (the name ends at whitespace, "/" or ">").
_SCRIPT_START = re.compile(r"<script(?=[\s/>])", re.IGNORECASE)
_SCRIPT_END = re.compile(r"</script", re.IGNORECASE)
_NONCE_VALUE = re.compile(r"[A-Za-z0-9+/=_-]+")


def csp_nonce() -> str:
    """Return this response's script nonce (made on first use, then the same)."""
    nonce = g.get("csp_nonce")
    if nonce is None:
        nonce = secrets.token_urlsafe(18)
        g.csp_nonce = nonce
    return str(nonce)


def content_security_policy(nonce: str) -> str:
    """Return the Content-Security-Policy allowing only scripts with ``nonce`` inline."""
    return _CSP_TEMPLATE.format(nonce=nonce)


def is_map_page(page: str) -> bool:
    """Return True when ``page`` is a map document of the renderer (folium/Leaflet)."""
    return page.lstrip()[:15].lower() == "<!doctype html>" and '<div class="folium-map"' in page


def add_script_nonce(page: str, nonce: str) -> str:
    """Give every script element of ``page`` the Content-Security-Policy ``nonce``.

    The text inside a script element is skipped: a ``<script`` in JavaScript source is not
    a tag. Text the renderer takes from a workspace is HTML-escaped, so every tag found in
    a map page is the renderer's own.

    Parameters
    ----------
    page
        HTML document.
    nonce
        The response's nonce (base64 or URL-safe base64 characters).

    Returns
    -------
    str
        The document with ``nonce="…"`` in each ``<script`` start tag.

    Raises
    ------
    ValueError
        If ``nonce`` holds characters a nonce cannot have.
    """
    if not _NONCE_VALUE.fullmatch(nonce):
        raise ValueError(f"nonce {nonce!r} holds characters other than base64")
    parts: list[str] = []
    pos = 0
    while (start := _SCRIPT_START.search(page, pos)) is not None:
        parts.append(page[pos : start.end()])
        parts.append(f' nonce="{nonce}"')
        end = _SCRIPT_END.search(page, start.end())
        pos = len(page) if end is None else end.start()
        parts.append(page[start.end() : pos])
    parts.append(page[pos:])
    return "".join(parts)


def _nonce_map_page(response: Response, nonce: str) -> None:
    if response.mimetype != "text/html" or response.direct_passthrough or response.is_streamed:
        return
    page = response.get_data(as_text=True)
    if is_map_page(page):
        response.set_data(add_script_nonce(page, nonce))


def security_headers(response: Response) -> Response:
    """Add the security headers a view has not set itself."""
    if "Content-Security-Policy" not in response.headers:
        nonce = csp_nonce()
        _nonce_map_page(response, nonce)
        response.headers["Content-Security-Policy"] = content_security_policy(nonce)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    # Signed-in pages, API answers and the login form (its token) must not stay in a
    # shared computer's cache; the static files may.
    if request.endpoint != "static":
        response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    """Send the security headers on every response of ``app``; expose ``csp_nonce``."""
    app.after_request(security_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
