"""The street network of a workspace: built once, stored beside it, reused by every job.

Building a city's network (noding, arrays, components) takes seconds; every service that
routes (plans, coverage, hotspots on streets, reach) asks for it here. Two caches keep it:

* in this process, by the workspace's version stamp (a save, an import or an edit in
  QGIS gives a fresh lookup);
* on disk, in ``<workspace>.cache/network-<mode>-<key>.npz`` beside the workspace (for a
  database workspace, in this machine's cache folder, :func:`network_cache_dir`), where
  ``key`` digests the roads layer's stored content and the build options. A plan save
  changes the version but not the roads, so the next command or page reads the stored
  network (a fraction of a second) instead of building it again. A changed roads layer
  gives a new key; the older file of that mode is then removed. When the folder cannot
  be written (a read-only share) and for the bundled samples, the network stays in
memory only.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from pathlib import Path

import geopandas as gpd

from gisapp.errors import WorkspaceError
from gisapp.samples import SAMPLE_DIR
from gisapp.store.backend import DatabaseURL, is_database_url, shown_location
from gisapp.store.geopackage import Workspace
from layers.i18n import _
from routing.errors import NetworkError
from routing.network import StreetNetwork, network_from_lines
from routing.network_file import FORMAT_VERSION, load_network, save_network

logger = logging.getLogger(__name__)

#: How many networks are kept in memory (a few modes of a few workspaces).
CACHE_SIZE = 8

_cache: OrderedDict[tuple[str, str, str, float], StreetNetwork] = OrderedDict()
_lock = threading.Lock()


def workspace_network(
    workspace: Workspace, mode: str = "car", *, node_tolerance_m: float = 0.5
) -> StreetNetwork:
    """The ``mode`` street network of ``workspace``'s roads (built once per roads content).

    Raises
    ------
    WorkspaceError
        If the workspace has no roads, or an empty roads layer.
    NetworkError
        If no road is usable by ``mode``.
    """
    key = (workspace.location, workspace.version, mode, float(node_tolerance_m))
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    network = _stored_or_built(workspace, mode, float(node_tolerance_m))
    with _lock:
        _cache[key] = network
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return network


def clear_network_cache() -> None:
    """Forget every network kept in memory (tests, or to free memory); files stay."""
    with _lock:
        _cache.clear()


def network_cache_dir(workspace: Workspace) -> Path | None:
    """The folder of the stored networks of ``workspace``.

    Beside a GeoPackage (``<workspace>.gpkg.cache``); for a database workspace, one folder
    per server, database and schema in this machine's cache (:func:`cache_home`), so every
    command and worker on the machine reads the network built once. None for a bundled
    sample (read-only product data: its networks stay in memory).
    """
    if is_database_url(workspace.location):
        url = DatabaseURL(workspace.location)
        where = f"{url.host}:{url.port}/{url.database}?schema={url.schema}"
        digest = hashlib.sha256(where.encode()).hexdigest()[:16]
        return cache_home() / "networks" / f"{url.schema}-{digest}"
    path = Path(workspace.location)
    if not path.is_file() or path.resolve().is_relative_to(SAMPLE_DIR):
        return None
    return path.with_name(f"{path.name}.cache")


def cache_home() -> Path:
    """This machine's cache folder for gisapp: ``GISAPP_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/gisapp``, else ``~/.cache/gisapp``."""
    explicit = os.environ.get("GISAPP_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gisapp"


def stored_network_path(
    workspace: Workspace, mode: str = "car", *, node_tolerance_m: float = 0.5
) -> Path | None:
    """Where the ``mode`` network of ``workspace``'s current roads is (or would be) stored."""
    folder = network_cache_dir(workspace)
    if folder is None:
        return None
    options = f"{FORMAT_VERSION}|{mode}|{float(node_tolerance_m)!r}|"
    digest = hashlib.sha256((options + workspace.layer_version("roads")).encode())
    return folder / f"network-{mode}-{digest.hexdigest()[:20]}.npz"


def _stored_or_built(workspace: Workspace, mode: str, node_tolerance_m: float) -> StreetNetwork:
    path = stored_network_path(workspace, mode, node_tolerance_m=node_tolerance_m)
    if path is not None and path.is_file():
        try:
            network = load_network(path)
        except NetworkError as exc:
            logger.warning("stored street network not usable, building it again: %s", exc)
        else:
            logger.info("street network read from %s", path)
            return network
    network = _build(workspace, mode, node_tolerance_m)
    if path is not None:
        _store(network, path)
    return network


def _store(network: StreetNetwork, path: Path) -> None:
    """Write ``network`` to ``path`` and remove the older files of its mode."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_network(network, path)
    except OSError as exc:
        logger.info("street network kept in memory only (%s cannot be written: %s)", path, exc)
        return
    for old in path.parent.glob(f"network-{network.mode}-*.npz"):
        if old != path:
            old.unlink(missing_ok=True)


def _build(workspace: Workspace, mode: str, node_tolerance_m: float) -> StreetNetwork:
    roads = workspace.layer("roads")
    if not isinstance(roads, gpd.GeoDataFrame) or len(roads) == 0:
        raise WorkspaceError(
            _(
                "workspace %(workspace)s has an empty 'roads' layer; import street "
                "lines with 'gisapp import ROADS --out %(location)s'",
                workspace=repr(workspace.label),
                location=shown_location(workspace.location),
            )
        )
    return network_from_lines(roads, mode=mode, node_tolerance_m=node_tolerance_m)
