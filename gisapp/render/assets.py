"""The vendored Leaflet files of offline maps: local URLs for folium, inlining into a page.

Police intranets have no internet, so folium's CDN asset lists are replaced by the files
under ``VENDOR_DIR`` (served by the web app as ``/static/vendor``), or the files are
embedded in the page so it works opened from disk.
"""

from __future__ import annotations

import base64
import mimetypes
import re
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_ASSETS_URL",
    "VENDOR_DIR",
    "assets_url_of",
    "inline_assets",
    "set_assets_url",
    "use_local_assets",
]

#: Where the vendored Leaflet files live on disk (served by the web app as /static/vendor).
VENDOR_DIR = Path(__file__).resolve().parents[2] / "web" / "static" / "vendor"

#: URL prefix of the vendored files when a map does not say otherwise.
DEFAULT_ASSETS_URL = "/static/vendor"

#: Local files for folium's asset names; folium's other defaults (jQuery, Bootstrap,
#: awesome-markers, Font Awesome) are dropped because nothing here uses them.
_LOCAL_JS = {
    "leaflet": "leaflet/leaflet.js",
    "markerclusterjs": "leaflet.markercluster/leaflet.markercluster.js",
}
_LOCAL_CSS = {
    "leaflet_css": "leaflet/leaflet.css",
    "markerclustercss": "leaflet.markercluster/MarkerCluster.css",
    "markerclusterdefaultcss": "leaflet.markercluster/MarkerCluster.Default.css",
}

#: Attribute a map carries its assets URL in, set by ``set_assets_url``.
_URL_ATTR = "gisapp_assets_url"


def use_local_assets(element: Any, assets_url: str) -> None:
    """Point a folium element's asset lists at the vendored files under ``assets_url``.

    Parameters
    ----------
    element
        A folium element with ``default_js`` / ``default_css`` (a map, a marker cluster).
    assets_url
        URL prefix under which the vendored folders are served.
    """
    prefix = assets_url.rstrip("/")
    element.default_js = [
        (n, f"{prefix}/{_LOCAL_JS[n]}") for n, _ in type(element).default_js if n in _LOCAL_JS
    ]
    element.default_css = [
        (n, f"{prefix}/{_LOCAL_CSS[n]}") for n, _ in type(element).default_css if n in _LOCAL_CSS
    ]


def set_assets_url(m: Any, assets_url: str) -> None:
    """Remember on map ``m`` the URL its assets load from (read by ``assets_url_of``)."""
    setattr(m, _URL_ATTR, assets_url.rstrip("/"))


def assets_url_of(m: Any) -> str:
    """Return the assets URL of map ``m``, or of the map a layer group ``m`` belongs to."""
    while m is not None and not hasattr(m, _URL_ATTR):
        m = getattr(m, "_parent", None)
    return str(getattr(m, _URL_ATTR, DEFAULT_ASSETS_URL))


def inline_assets(page: str, assets_url: str, assets_dir: Path) -> str:
    """Replace every local script and stylesheet reference of ``page`` with the file's content.

    Images a stylesheet refers to become ``data:`` URIs, so the page needs no other file.

    Parameters
    ----------
    page
        HTML document.
    assets_url
        URL prefix the page loads the vendored files from.
    assets_dir
        Folder holding the vendored files.

    Returns
    -------
    str
        The self-contained HTML document.

    Raises
    ------
    ValueError
        If a reference points outside ``assets_dir``.
    """
    prefix = re.escape(assets_url.rstrip("/"))

    def script(match: re.Match[str]) -> str:
        text = _read_asset(assets_dir, match.group(1)).decode("utf-8")
        return "<script>" + text.replace("</script", "<\\/script") + "</script>"

    def style(match: re.Match[str]) -> str:
        rel = match.group(1)
        text = _read_asset(assets_dir, rel).decode("utf-8")
        base = rel.rsplit("/", 1)[0]

        def data_uri(url: re.Match[str]) -> str:
            ref = url.group(1).strip("'\"")
            if ref.startswith(("data:", "#")):
                return url.group(0)
            blob = _read_asset(assets_dir, f"{base}/{ref}")
            mime = mimetypes.guess_type(ref)[0] or "application/octet-stream"
            return f"url(data:{mime};base64,{base64.b64encode(blob).decode('ascii')})"

        text = re.sub(r"url\(([^)]+)\)", data_uri, text)
        return "<style>" + text.replace("</style", "<\\/style") + "</style>"

    page = re.sub(rf'<script src="{prefix}/([^"]+)"></script>', script, page)
    return re.sub(rf'<link rel="stylesheet" href="{prefix}/([^"]+)"\s*/>', style, page)


def _read_asset(assets_dir: Path, rel: str) -> bytes:
    root = assets_dir.resolve()
    path = (root / rel).resolve()
    if root not in path.parents:
        raise ValueError(f"asset {rel!r} is outside {root}")
    return path.read_bytes()
