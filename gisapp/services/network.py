"""The street network of a workspace: built once per workspace version, reused by every job.

Building a city's network (noding, arrays, components) takes seconds; every service that
routes (plans, coverage, hotspots on streets, reach) asks for it here. The cache keys on
the store's version stamp, so a save, an import or an edit in QGIS gives a fresh network.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import geopandas as gpd

from gisapp.errors import WorkspaceError
from gisapp.store.geopackage import Workspace
from routing.network import StreetNetwork, network_from_lines

#: How many networks are kept (a few modes of a few workspaces).
CACHE_SIZE = 8

_cache: OrderedDict[tuple[str, str, str, float], StreetNetwork] = OrderedDict()
_lock = threading.Lock()


def workspace_network(
    workspace: Workspace, mode: str = "car", *, node_tolerance_m: float = 0.5
) -> StreetNetwork:
    """The ``mode`` street network of ``workspace``'s roads (built once per version).

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
    network = _build(workspace, mode, node_tolerance_m)
    with _lock:
        _cache[key] = network
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return network


def clear_network_cache() -> None:
    """Forget every cached network (tests, or to free memory)."""
    with _lock:
        _cache.clear()


def _build(workspace: Workspace, mode: str, node_tolerance_m: float) -> StreetNetwork:
    roads = workspace.layer("roads")
    if not isinstance(roads, gpd.GeoDataFrame) or len(roads) == 0:
        raise WorkspaceError(
            f"workspace {workspace.label!r} has an empty 'roads' layer; import street "
            f"lines with 'gisapp import ROADS --out {workspace.location}'"
        )
    return network_from_lines(roads, mode=mode, node_tolerance_m=node_tolerance_m)
