"""Coverage and blind zones (盲区) on a street network, and the network seam of placement.

Coverage answers "what can a responder reach in time, and what can a camera see?":

* :func:`coverage_segments` — per street segment, the time from the nearest source
  (station, duty point, unit position) and the share of it reached within a budget;
* :func:`camera_sectors` and :func:`camera_coverage` — the street length each camera sees
  within its range and field of view;
* :func:`locate_places` and :func:`place_times` — travel times to points along streets
  (key places), exact along the segment they lie on;
* :func:`blind_zone_polygons` — the street pieces no one reaches in time (less what cameras
  see), buffered into polygons (never convex hulls) with the risk they carry; its steps
  :func:`blind_pieces`, :func:`piece_shapes` (the pieces buffered in groups, e.g. one per
  stretch of street) and :func:`blind_zones` (the union of the shapes);
* :func:`coverage_by_hour` — per hour of a shift, the share of risk, street and key places
  reachable from where the patrol units are (timed positions) plus the fixed posts;
* :func:`reach_by_hour` — per hour of a shift, the street the units reach in time from
  where they are at some instant of that hour (for maps).

The placement seam (:func:`candidate_sites`, :func:`node_weights`,
:func:`placement_input`, :meth:`PlacementInput.build`) turns a network, demand and
candidate sites into the demand × candidate travel-time matrix the models of
:mod:`routing.placement` take.

Modules
-------
``segments`` (:func:`coverage_segments`, :func:`unreached_lines`), ``cameras``, ``places``,
``blind``, ``hourly`` (:func:`sample_positions`, :func:`coverage_by_hour`,
:func:`reach_by_hour`) and ``placement_input`` (the placement seam and
:data:`PLACEMENT_MODELS`).
"""

from __future__ import annotations

from routing.coverage.blind import (
    BlindPieces,
    blind_pieces,
    blind_zone_polygons,
    blind_zones,
    piece_shapes,
)
from routing.coverage.cameras import (
    DEFAULT_CAMERA_FOV_DEG,
    DEFAULT_CAMERA_RANGE_M,
    camera_coverage,
    camera_sectors,
)
from routing.coverage.hourly import coverage_by_hour, reach_by_hour, sample_positions
from routing.coverage.placement_input import (
    PLACEMENT_MODELS,
    PlacementInput,
    candidate_sites,
    node_degree,
    node_weights,
    placement_input,
)
from routing.coverage.places import locate_places, place_times
from routing.coverage.segments import coverage_segments, unreached_lines

__all__ = [
    "DEFAULT_CAMERA_FOV_DEG",
    "DEFAULT_CAMERA_RANGE_M",
    "PLACEMENT_MODELS",
    "BlindPieces",
    "PlacementInput",
    "blind_pieces",
    "blind_zone_polygons",
    "blind_zones",
    "camera_coverage",
    "camera_sectors",
    "candidate_sites",
    "coverage_by_hour",
    "coverage_segments",
    "locate_places",
    "node_degree",
    "node_weights",
    "piece_shapes",
    "place_times",
    "placement_input",
    "reach_by_hour",
    "sample_positions",
    "unreached_lines",
]
