"""The street network of a workspace, built from its ``roads`` layer."""

from __future__ import annotations

import geopandas as gpd

from gisapp.errors import WorkspaceError
from gisapp.store.geopackage import Workspace
from routing.network import StreetNetwork, network_from_lines


def workspace_network(
    workspace: Workspace, mode: str = "car", *, node_tolerance_m: float = 0.5
) -> StreetNetwork:
    """Build the ``mode`` street network of ``workspace``'s roads.

    Raises
    ------
    WorkspaceError
        If the workspace has no roads, or an empty roads layer.
    NetworkError
        If no road is usable by ``mode``.
    """
    roads = workspace.layer("roads")
    if not isinstance(roads, gpd.GeoDataFrame) or len(roads) == 0:
        raise WorkspaceError(
            f"workspace {workspace.path.name!r} has an empty 'roads' layer; import street "
            f"lines with 'gisapp import ROADS --out {workspace.path}'"
        )
    return network_from_lines(roads, mode=mode, node_tolerance_m=node_tolerance_m)
