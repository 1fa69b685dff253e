"""Incident hotspots: kernel density and Getis-Ord Gi* on a metric grid, hot streets, PAI.

Three ways to say where incidents concentrate, each scored the same way:

- :func:`kde_density` — a planar quartic (biweight) kernel density on square cells, the
  kernel of most crime-mapping tools. The default bandwidth is the spatial rule of thumb of
  :func:`bandwidth_rule_m`.
- :func:`gi_star` — Getis-Ord Gi* z-scores of incident counts per cell (esda), with binary
  distance-band weights; the default band of 1.5 cells is queen contiguity on the grid.
- :func:`street_scores` / :func:`hot_streets` — street segments ranked by snapped,
  severity-weighted incidents per kilometre (``routing.risk.weighted_incidents``);
  :func:`length_concentration` gives the share of incidents on the top 5% / 10% of street
  length (the 80-20 view).

:func:`pai` scores a hotspot map with the Predictive Accuracy Index (Chainey, Tompson &
Uhlig 2008): hit rate (share of later incidents inside the hotspots) divided by area share
(share of the study area the hotspots cover). On streets the area share is the share of
street length. :func:`evaluate_hotspots` builds a map on a training period and scores it on
a later test period.

Every distance, area and bandwidth is in metres in a projected CRS; geographic inputs are
projected to their local UTM zone first.

Modules
-------
``inputs`` (methods, :class:`HotspotError`, :func:`select_incidents`), ``grid`` (cells,
counts, KDE, Gi*), ``streets`` (hot streets) and ``scoring`` (PAI, hit rate,
:func:`evaluate_hotspots`).
"""

from __future__ import annotations

from routing.hotspots.grid import (
    bandwidth_rule_m,
    gi_star,
    grid_cells,
    incident_counts,
    kde_density,
    top_cells,
)
from routing.hotspots.inputs import DEFAULT_CELL_SIZE_M, METHODS, HotspotError, select_incidents
from routing.hotspots.inputs import require_columns as _require_columns  # noqa: F401 (used as hs._require_columns)
from routing.hotspots.scoring import (
    HotspotEvaluation,
    PAIResult,
    evaluate_hotspots,
    grid_scores,
    pai,
    street_pai,
)
from routing.hotspots.streets import hot_streets, length_concentration, street_scores

__all__ = [
    "DEFAULT_CELL_SIZE_M",
    "METHODS",
    "HotspotError",
    "HotspotEvaluation",
    "PAIResult",
    "bandwidth_rule_m",
    "evaluate_hotspots",
    "gi_star",
    "grid_cells",
    "grid_scores",
    "hot_streets",
    "incident_counts",
    "kde_density",
    "length_concentration",
    "pai",
    "select_incidents",
    "street_pai",
    "street_scores",
    "top_cells",
]
