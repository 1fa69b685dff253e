"""Comparison of grid layouts: the same KPIs for the current and the designed layout.

:func:`compare_layouts` measures both layouts the same way (imbalance of the workload
index and of its parts, compactness, response times when measured) and, for a design,
how many grids are one polygon and contiguous, within the tolerance of their community's
mean, and nested in their community.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd

from routing.grids.measure import metric_crs
from routing.grids.workload import GridWorkload

__all__ = ["compare_layouts"]


def compare_layouts(
    current: GridWorkload | None,
    designed: GridWorkload,
    *,
    tolerance: float = 0.15,
    communities: gpd.GeoDataFrame | None = None,
) -> dict[str, Any]:
    """Side-by-side KPIs of the current and the designed layouts.

    Both are measured the same way (same incidents, roads, residents and weights).
    For the design also: how many grids are one polygon and contiguous, the share within
    ±``tolerance`` of their community's mean, and how well grids nest in communities.

    Parameters
    ----------
    current
        The current layout (left out when None).
    designed
        The designed layout; its design columns (``community_deviation``, ``n_parts``,
        ``contiguous``, ``indivisible_block``) are summed up when present.
    tolerance
        Accepted deviation from the mean (0.15 is ±15%).
    communities
        Communities with ``id``, for the nesting KPIs (left out when None).

    Returns
    -------
    dict
        ``current`` (when given) and ``designed``: :meth:`GridWorkload.kpis` of each,
        with the response time and nesting KPIs when measured.
    """
    layouts: dict[str, GridWorkload] = {"designed": designed}
    if current is not None:
        layouts = {"current": current, "designed": designed}
    result: dict[str, Any] = {}
    for name, layout in layouts.items():
        kpis = layout.kpis(tolerance=tolerance)
        if "response_mean_s" in layout.table:
            kpis["response_mean_s"] = float(layout.table["response_mean_s"].mean())
            kpis["response_worst_grid_mean_s"] = float(layout.table["response_mean_s"].max())
            kpis["response_worst_grid_p90_s"] = float(layout.table["response_p90_s"].max())
        if communities is not None:
            kpis.update(_nesting(layout.table, communities))
        result[name] = kpis
    table = designed.table
    if "community_deviation" in table:
        result["designed"]["within_community_tolerance_share"] = float(
            (table["community_deviation"].abs() <= tolerance + 1e-12).mean()
        )
        result["designed"]["indivisible_block_grids"] = int(table["indivisible_block"].sum())
        result["designed"]["single_part_grids"] = int((table["n_parts"] == 1).sum())
        result["designed"]["contiguous_grids"] = int(table["contiguous"].sum())
    return result


def _nesting(table: gpd.GeoDataFrame, communities: gpd.GeoDataFrame) -> dict[str, Any]:
    """Share of each grid's area inside its own community (1.0 when nested).

    Returns
    -------
    dict
        ``inside_community_share_min`` and ``grids_not_nested_1pct`` (grids with more than
        1% of their area outside their community).
    """
    crs = metric_crs(table)
    grids_m = table.to_crs(crs)
    parents = (
        communities.assign(id=communities["id"].astype(str)).set_index("id").to_crs(crs).geometry
    )
    parent_geom = parents.reindex(grids_m["community_id"].astype(str)).to_numpy()
    inside = grids_m.geometry.intersection(
        gpd.GeoSeries(parent_geom, crs=crs, index=grids_m.index)
    ).area
    share = (inside / grids_m.area).fillna(0.0)
    return {
        "inside_community_share_min": float(share.min()),
        "grids_not_nested_1pct": int((share < 0.99).sum()),
    }
