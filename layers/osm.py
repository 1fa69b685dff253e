"""Read roads, administrative boundaries and places of interest from OpenStreetMap files.

Reads ``.osm.pbf``, ``.osm`` (XML) and ``.osm.bz2``/``.osm.gz`` files with pyosmium. Every
result is a GeoDataFrame in EPSG:4326: streets with the modes that may use them (``car``,
``foot``), boundaries, and key places and police stations with the workspace's kinds. Data
read from OpenStreetMap is © OpenStreetMap contributors, under the ODbL 1.0: every result
carries :data:`OSM_ATTRIBUTION` in ``attrs["attribution"]``; show it wherever the data is
displayed.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import osmium
import pandas as pd
import shapely
from shapely.geometry import LineString

from layers.errors import LayerError
from layers.i18n import _

logger = logging.getLogger(__name__)

__all__ = [
    "DRIVE_EXCLUDED_SERVICE",
    "DRIVE_HIGHWAYS",
    "IMPLICIT_MAXSPEED_KPH",
    "KEY_PLACE_KINDS",
    "OSM_ATTRIBUTION",
    "STATION_KINDS",
    "WALK_HIGHWAYS",
    "WALK_IF_FOOT_ALLOWED",
    "parse_maxspeed_kph",
    "read_osm_boundaries",
    "read_osm_key_places",
    "read_osm_pois",
    "read_osm_roads",
    "read_osm_stations",
]

#: Attribution every layer read from OpenStreetMap carries (``frame.attrs["attribution"]``)
#: and that must be shown wherever its data is displayed.
OSM_ATTRIBUTION = "© OpenStreetMap contributors (ODbL 1.0)"

#: Which ways :func:`read_osm_roads` keeps: open to cars, on foot, or to either.
RoadMode = Literal["drive", "walk", "all"]

#: ``highway`` values a car may use (mode ``"drive"``), as in OSMnx's ``drive`` network.
DRIVE_HIGHWAYS = frozenset(
    {
        "motorway",
        "motorway_link",
        "trunk",
        "trunk_link",
        "primary",
        "primary_link",
        "secondary",
        "secondary_link",
        "tertiary",
        "tertiary_link",
        "unclassified",
        "residential",
        "living_street",
        "service",
        "road",
    }
)

#: ``service`` values left out of the drive network: car parks and private driveways are
#: not patrol streets.
DRIVE_EXCLUDED_SERVICE = frozenset(
    {"parking", "parking_aisle", "driveway", "private", "emergency_access"}
)

#: ``highway`` values a person on foot may use (mode ``"walk"``) unless ``foot=no``;
#: motorways and trunk roads are left out, paths, footways, steps and tracks come in.
WALK_HIGHWAYS = frozenset(
    (DRIVE_HIGHWAYS - {"motorway", "motorway_link", "trunk", "trunk_link"})
    | {"footway", "path", "pedestrian", "steps", "track", "bridleway", "corridor"}
)

#: ``highway`` values walked only where ``foot`` allows it (``yes``, ``designated``,
#: ``permissive``): cycleways, and trunk roads with a footway along them.
WALK_IF_FOOT_ALLOWED = frozenset({"cycleway", "trunk", "trunk_link"})

#: ``access``-like values that close a way to the public.
_CLOSED = frozenset({"no", "private"})

#: ``foot`` values that open a way to walkers whatever its ``access`` or class.
_FOOT_ALLOWED = frozenset({"yes", "designated", "permissive"})

#: Key places read from OSM tags, ``(key, value)`` → key-place ``kind`` of the workspace.
KEY_PLACE_KINDS: Mapping[tuple[str, str], str] = {
    ("amenity", "school"): "school",
    ("amenity", "college"): "school",
    ("amenity", "university"): "school",
    ("amenity", "kindergarten"): "kindergarten",
    ("amenity", "hospital"): "hospital",
    ("amenity", "clinic"): "hospital",
    ("amenity", "bank"): "bank",
    ("amenity", "marketplace"): "mall",
    ("shop", "mall"): "mall",
    ("shop", "supermarket"): "mall",
    ("amenity", "police"): "police",
}

#: Police stations read from OSM tags, ``(key, value)`` → station ``kind``.
STATION_KINDS: Mapping[tuple[str, str], str] = {("amenity", "police"): "police"}

#: Speed limits for implicit ``maxspeed`` values such as ``CH:urban`` (km/h), from the
#: national rules listed on the OpenStreetMap wiki page "Default speed limits".
IMPLICIT_MAXSPEED_KPH: Mapping[str, float] = {
    "AT:urban": 50.0,
    "AT:rural": 100.0,
    "AT:trunk": 100.0,
    "AT:motorway": 130.0,
    "CH:urban": 50.0,
    "CH:rural": 80.0,
    "CH:trunk": 100.0,
    "CH:motorway": 120.0,
    "DE:urban": 50.0,
    "DE:rural": 100.0,
    "DE:living_street": 7.0,
    "DE:bicycle_road": 30.0,
    "DE:motorway": 130.0,
    "FI:urban": 50.0,
    "FI:rural": 80.0,
    "FR:urban": 50.0,
    "FR:rural": 80.0,
    "FR:motorway": 130.0,
    "GB:nsl_single": 96.56,
    "GB:nsl_dual": 112.65,
    "GB:motorway": 112.65,
    "IT:urban": 50.0,
    "IT:rural": 90.0,
    "IT:motorway": 130.0,
    "LI:urban": 50.0,
    "LI:rural": 80.0,
    "RU:urban": 60.0,
    "RU:rural": 90.0,
    "CN:urban": 50.0,
    "CN:rural": 70.0,
    "CN:motorway": 120.0,
    "walk": 5.0,
    "living_street": 7.0,
}

_SPEED_UNITS_KPH = {"": 1.0, "km/h": 1.0, "kmh": 1.0, "kph": 1.0, "mph": 1.609344, "knots": 1.852}
_SPEED = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*(km/h|kmh|kph|mph|knots)?\s*$", re.IGNORECASE)

_ONEWAY_FORWARD = frozenset({"yes", "true", "1"})
_ONEWAY_REVERSE = frozenset({"-1", "reverse"})


def parse_maxspeed_kph(value: str | None) -> float:
    """Read an OSM ``maxspeed`` value in km/h.

    Parameters
    ----------
    value
        ``"50"``, ``"30 mph"``, ``"CH:urban"``, ``"50;70"`` (the mean is taken, as OSMnx
        does), ``"none"``...

    Returns
    -------
    float
        Speed in km/h, NaN when unknown (``"none"``, ``"signals"``, unknown zone codes).
    """
    if value is None:
        return math.nan
    speeds = []
    for part in str(value).split(";"):
        part = part.strip()
        match = _SPEED.match(part)
        if match:
            number = float(match.group(1).replace(",", "."))
            speeds.append(number * _SPEED_UNITS_KPH[(match.group(2) or "").lower()])
        elif part in IMPLICIT_MAXSPEED_KPH:
            speeds.append(IMPLICIT_MAXSPEED_KPH[part])
        elif ":" in part and part.split(":", 1)[1] in IMPLICIT_MAXSPEED_KPH:
            speeds.append(IMPLICIT_MAXSPEED_KPH[part.split(":", 1)[1]])
    return float(np.mean(speeds)) if speeds else math.nan


def _check_path(path: str | Path) -> Path:
    source = Path(path)
    if not source.is_file():
        raise LayerError(
            _(
                "OSM file path=%(path)s does not exist; pass an .osm.pbf or .osm file",
                path=repr(str(source)),
            )
        )
    return source


def _objects(processor: osmium.FileProcessor, source: Path) -> Iterator[Any]:
    """Iterate ``processor``, turning pyosmium's read errors into LayerError."""
    try:
        yield from processor
    except RuntimeError as exc:
        # pyosmium reports unreadable files as RuntimeError from libosmium.
        raise LayerError(
            _(
                "cannot read OSM file %(path)s: %(reason)s; check that it is a complete "
                ".osm.pbf or .osm XML file",
                path=repr(str(source)),
                reason=exc,
            )
        ) from None


def _is_drivable(tags: Any) -> bool:
    highway = tags.get("highway")
    if tags.get("area") == "yes" or tags.get("access") in _CLOSED:
        return False
    if highway not in DRIVE_HIGHWAYS:
        return False
    if highway == "service" and tags.get("service") in DRIVE_EXCLUDED_SERVICE:
        return False
    return not (tags.get("motor_vehicle") in _CLOSED or tags.get("motorcar") in _CLOSED)


def _is_walkable(tags: Any) -> bool:
    highway = tags.get("highway")
    foot = tags.get("foot")
    if tags.get("area") == "yes" or foot in _CLOSED:
        return False
    if tags.get("access") in _CLOSED and foot not in _FOOT_ALLOWED:
        return False
    return highway in WALK_HIGHWAYS or (highway in WALK_IF_FOOT_ALLOWED and foot in _FOOT_ALLOWED)


def read_osm_roads(path: str | Path, *, mode: RoadMode = "drive") -> gpd.GeoDataFrame:
    """Read the streets of one travel mode from an OSM file, one row per way segment.

    A way is split at every node it shares with another kept way, so segments meet at
    intersections and a network can be built from them directly. With ``mode="all"`` the
    ways open to cars are split only where such ways meet (exactly as with ``"drive"``, so
    the car network built from them is the same), the others at every junction.

    Parameters
    ----------
    path
        ``.osm.pbf`` or ``.osm`` file.
    mode
        ``"drive"`` keeps :data:`DRIVE_HIGHWAYS` (without parking aisles and driveways);
        ``"walk"`` keeps :data:`WALK_HIGHWAYS`, and :data:`WALK_IF_FOOT_ALLOWED` where
        ``foot`` allows it; ``"all"`` keeps the ways of either. Ways with ``access``,
        ``motor_vehicle`` or ``foot`` set to ``no``/``private`` for a mode are closed to
        it (``foot=yes``/``designated``/``permissive`` opens a private way to walkers).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``osm_id`` (way id), ``name``, ``highway``, ``oneway`` (bool: ``yes``,
        ``true``, ``1``, ``-1`` and roundabouts; ``-1`` ways are reversed so that the
        geometry runs in the direction of travel; always False for ``"walk"`` and for ways
        closed to cars), ``maxspeed_kph`` (float, NaN when unknown), ``car`` and ``foot``
        (bool: whether cars, and walkers, may use the way) and LineString ``geometry`` in
        EPSG:4326. ``attrs["attribution"]`` holds :data:`OSM_ATTRIBUTION`.

    Raises
    ------
    LayerError
        If ``mode`` is unknown, or the file is missing or cannot be read.
    """
    if mode not in ("drive", "walk", "all"):
        raise LayerError(
            _(
                "mode=%(mode)s is not a road mode; use 'drive', 'walk' or 'all'",
                mode=repr(mode),
            )
        )
    source = _check_path(path)
    processor = (
        osmium.FileProcessor(str(source), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations()
        .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
        .with_filter(osmium.filter.KeyFilter("highway"))
    )
    ways = [w for way in _objects(processor, source) if (w := _road_way(way, mode)) is not None]
    rows, geometries = _split_at_junctions(ways, car_apart=mode == "all")
    roads = gpd.GeoDataFrame(
        pd.DataFrame(rows, columns=list(_ROAD_COLUMNS)),
        geometry=geometries,
        crs="EPSG:4326",
    )
    roads = roads.astype(
        {
            "osm_id": "int64",
            "oneway": "bool",
            "maxspeed_kph": "float64",
            "highway": "str",
            "car": "bool",
            "foot": "bool",
        }
    )
    roads.attrs["attribution"] = OSM_ATTRIBUTION
    logger.info(
        "read %s %s ways as %s segments from %s",
        f"{len(ways):,}",
        mode,
        f"{len(roads):,}",
        source.name,
    )
    return roads


_ROAD_COLUMNS = ("osm_id", "name", "highway", "oneway", "maxspeed_kph", "car", "foot")

#: A road row: id, name, highway, oneway, maxspeed (km/h), open to cars, open on foot.
_Row = tuple[int, str | None, str, bool, float, bool, bool]


@dataclass(frozen=True)
class _Way:
    """A kept way: its road row, lon/lat coordinates and node ids."""

    row: _Row
    coords: np.ndarray
    node_ids: np.ndarray


def _road_way(way: Any, mode: RoadMode) -> _Way | None:
    """The way as a road of ``mode`` (reversed when one-way for cars against its drawing),
    or ``None`` when it is closed to the mode, lies partly outside the file or is no line."""
    tags = way.tags
    car, foot = _is_drivable(tags), _is_walkable(tags)
    if not (car if mode == "drive" else foot if mode == "walk" else car or foot):
        return None
    try:
        coords = np.array([(n.lon, n.lat) for n in way.nodes], dtype=float)
    except osmium.InvalidLocationError:
        logger.debug("way %d has nodes outside the file; skipped", way.id)
        return None
    node_ids = np.array([n.ref for n in way.nodes], dtype=np.int64)
    if len(node_ids) < 2:
        return None
    driven = car and mode != "walk"
    oneway_tag = (tags.get("oneway") or "").strip().lower()
    reverse = driven and oneway_tag in _ONEWAY_REVERSE
    oneway = driven and (
        oneway_tag in _ONEWAY_FORWARD
        or reverse
        or (tags.get("junction") in ("roundabout", "circular") and oneway_tag != "no")
    )
    if reverse:
        coords, node_ids = coords[::-1], node_ids[::-1]
    row = (
        int(way.id),
        tags.get("name"),
        str(tags.get("highway")),
        oneway,
        parse_maxspeed_kph(tags.get("maxspeed")),
        car,
        foot,
    )
    return _Way(row, coords, node_ids)


def _junction_counts(ways: Iterable[_Way]) -> dict[int, int]:
    """How often every node is used by ``ways``; more than 1 marks a segment end."""
    counts: dict[int, int] = {}
    for way in ways:
        for ref in way.node_ids[1:-1]:
            counts[int(ref)] = counts.get(int(ref), 0) + 1
        for end in (int(way.node_ids[0]), int(way.node_ids[-1])):
            counts[end] = counts.get(end, 0) + 2
    return counts


def _split_at_junctions(
    ways: list[_Way], *, car_apart: bool
) -> tuple[list[_Row], list[LineString]]:
    """Road rows and line geometries of the ways cut at every junction node.

    With ``car_apart`` the ways open to cars are cut only where such ways meet, so that
    they are the segments a drive-only read gives.
    """
    # A node where ways meet, or used twice by one way, ends a segment.
    every = _junction_counts(ways)
    driven = _junction_counts(w for w in ways if w.row[5]) if car_apart else every
    rows: list[_Row] = []
    geometries: list[LineString] = []
    for way in ways:
        counts = driven if way.row[5] else every
        node_ids = way.node_ids
        cuts = [i for i in range(1, len(node_ids) - 1) if counts[int(node_ids[i])] > 1]
        bounds = [0, *cuts, len(node_ids) - 1]
        for start, end in pairwise(bounds):
            geometries.append(LineString(way.coords[start : end + 1]))
            rows.append(way.row)
    return rows, geometries


def _area_id(area: Any) -> tuple[str, int]:
    return ("way" if area.from_way() else "relation", int(area.orig_id()))


def read_osm_boundaries(path: str | Path, *, admin_level: int = 8) -> gpd.GeoDataFrame:
    """Read administrative boundaries (``boundary=administrative``) of one level.

    Polygons are assembled by pyosmium from boundary relations and named closed ways; a
    boundary whose members are incomplete in the file (one crossing the edge of an extract)
    cannot be assembled and is left out (logged).

    Parameters
    ----------
    path
        ``.osm.pbf`` or ``.osm`` file.
    admin_level
        OSM ``admin_level``: 8 is usually a municipality, 6 a county or district, 4 a
        state or province (the meaning varies by country).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``osm_id``, ``osm_type`` (``relation`` or ``way``), ``name``, ``ref`` (the
        ``ref`` tag, else an official code such as ``ISO3166-2``, else ``r<osm_id>``),
        ``admin_level`` and (Multi)Polygon ``geometry`` in EPSG:4326, sorted by name.
        ``attrs["attribution"]`` holds :data:`OSM_ATTRIBUTION`.

    Raises
    ------
    LayerError
        If the file is missing or cannot be read.
    """
    source = _check_path(path)
    wanted = osmium.filter.TagFilter(("boundary", "administrative"))
    processor = (
        osmium.FileProcessor(str(source))
        .with_areas(wanted)
        .with_filter(osmium.filter.EntityFilter(osmium.osm.AREA | osmium.osm.RELATION))
        .with_filter(wanted)
    )
    factory = osmium.geom.WKBFactory()
    rows: list[dict[str, Any]] = []
    relations: dict[int, str | None] = {}
    for obj in _objects(processor, source):
        if obj.tags.get("admin_level") != str(admin_level):
            continue
        if not isinstance(obj, osmium.osm.Area):
            relations[obj.id] = obj.tags.get("name")
            continue
        kind, osm_id = _area_id(obj)
        tags = obj.tags
        if kind == "way" and not tags.get("name"):
            # Member ways of a boundary relation often repeat its tags; only a named closed
            # way is a boundary of its own.
            continue
        try:
            geometry = shapely.from_wkb(factory.create_multipolygon(obj))
        except RuntimeError:
            continue
        ref = tags.get("ref") or tags.get("ISO3166-2") or tags.get("ref:nuts")
        rows.append(
            {
                "osm_id": osm_id,
                "osm_type": kind,
                "name": tags.get("name"),
                "ref": ref or f"{kind[0]}{osm_id}",
                "admin_level": admin_level,
                "geometry": geometry,
            }
        )
    assembled = {row["osm_id"] for row in rows if row["osm_type"] == "relation"}
    missing = sorted(str(name) for rid, name in relations.items() if rid not in assembled)
    if missing:
        # Boundaries that cross the edge of an extract are incomplete: expected, not an error.
        logger.info(
            "%d admin_level=%d boundary relation(s) could not be assembled (members missing "
            "from %s): %s",
            len(missing),
            admin_level,
            source.name,
            ", ".join(missing),
        )
    boundaries = gpd.GeoDataFrame(
        rows or None,
        columns=["osm_id", "osm_type", "name", "ref", "admin_level", "geometry"],
        geometry="geometry",
        crs="EPSG:4326",
    )
    boundaries = boundaries.sort_values("name", kind="stable").reset_index(drop=True)
    boundaries.attrs["attribution"] = OSM_ATTRIBUTION
    logger.info(
        "read %d admin_level=%d boundaries from %s", len(boundaries), admin_level, source.name
    )
    return boundaries


def read_osm_pois(path: str | Path, tags: Mapping[str, Iterable[str]]) -> gpd.GeoDataFrame:
    """Read places of interest (schools, police stations...) as points.

    Nodes are read as they are; closed ways and multipolygon relations (a school drawn as
    its grounds) are read as the **representative point** of their polygon, a point
    guaranteed to lie inside it (not the centroid, which may fall outside).

    Parameters
    ----------
    tags
        Wanted tags: key → values, e.g. ``{"amenity": ["school", "kindergarten"]}``. An
        empty list of values takes every value of the key.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``osm_id``, ``osm_type`` (``node``, ``way`` or ``relation``), ``key`` and
        ``value`` (the matched tag), ``name`` and Point ``geometry`` in EPSG:4326, sorted
        by ``osm_type`` and ``osm_id``. ``attrs["attribution"]`` holds
        :data:`OSM_ATTRIBUTION`.

    Raises
    ------
    LayerError
        If ``tags`` is empty or the file is missing or cannot be read.
    """
    wanted = {str(key): frozenset(map(str, values)) for key, values in tags.items()}
    if not wanted:
        raise LayerError(
            "tags={} selects nothing; pass e.g. {'amenity': ['school', 'kindergarten']}"
        )
    source = _check_path(path)
    keys = osmium.filter.KeyFilter(*wanted)
    processor = (
        osmium.FileProcessor(str(source))
        .with_areas(keys)
        .with_filter(osmium.filter.EntityFilter(osmium.osm.NODE | osmium.osm.AREA))
        .with_filter(keys)
    )
    factory = osmium.geom.WKBFactory()
    rows: list[dict[str, Any]] = []
    for obj in _objects(processor, source):
        match = next(
            (
                (key, obj.tags[key])
                for key, values in wanted.items()
                if key in obj.tags and (not values or obj.tags[key] in values)
            ),
            None,
        )
        if match is None:
            continue
        if isinstance(obj, osmium.osm.Area):
            kind, osm_id = _area_id(obj)
            try:
                polygon = shapely.from_wkb(factory.create_multipolygon(obj))
            except RuntimeError:
                continue
            point = polygon.representative_point()
        else:
            kind, osm_id = "node", int(obj.id)
            point = shapely.Point(obj.location.lon, obj.location.lat)
        rows.append(
            {
                "osm_id": osm_id,
                "osm_type": kind,
                "key": match[0],
                "value": match[1],
                "name": obj.tags.get("name"),
                "geometry": point,
            }
        )
    pois = gpd.GeoDataFrame(
        rows or None,
        columns=["osm_id", "osm_type", "key", "value", "name", "geometry"],
        geometry="geometry",
        crs="EPSG:4326",
    )
    pois = pois.sort_values(["osm_type", "osm_id"], kind="stable").reset_index(drop=True)
    pois.attrs["attribution"] = OSM_ATTRIBUTION
    logger.info("read %d points of interest from %s", len(pois), source.name)
    return pois


def read_osm_key_places(path: str | Path) -> gpd.GeoDataFrame:
    """Read the key places of an OSM file as a workspace ``key_places`` layer.

    Schools, colleges and universities, kindergartens, hospitals and clinics, banks,
    marketplaces, malls and supermarkets, and police stations (:data:`KEY_PLACE_KINDS`):
    nodes as they are, buildings and grounds as a point inside their polygon (see
    :func:`read_osm_pois`). Ways that are only streets or boundaries never come in.

    Parameters
    ----------
    path
        ``.osm.pbf`` or ``.osm`` file.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``id`` (OSM short reference such as ``w1234``), ``name`` (the OSM name,
        else the kind and the reference), ``kind`` (``school``, ``kindergarten``,
        ``hospital``, ``bank``, ``mall`` or ``police``), ``osm_tag`` (``amenity=clinic``...)
        and Point ``geometry`` in EPSG:4326. ``attrs["attribution"]`` holds
        :data:`OSM_ATTRIBUTION`.

    Raises
    ------
    LayerError
        If the file is missing or cannot be read.
    """
    return _tagged_places(path, KEY_PLACE_KINDS)


def read_osm_stations(path: str | Path) -> gpd.GeoDataFrame:
    """Read the police stations (``amenity=police``) of an OSM file as a ``stations`` layer.

    Parameters
    ----------
    path
        ``.osm.pbf`` or ``.osm`` file.

    Returns
    -------
    geopandas.GeoDataFrame
        As :func:`read_osm_key_places`, with ``kind`` ``police``.

    Raises
    ------
    LayerError
        If the file is missing or cannot be read.
    """
    return _tagged_places(path, STATION_KINDS)


def _tagged_places(path: str | Path, kinds: Mapping[tuple[str, str], str]) -> gpd.GeoDataFrame:
    """Points of the objects tagged as a key of ``kinds``, with the workspace kind."""
    wanted: dict[str, list[str]] = {}
    for key, value in kinds:
        wanted.setdefault(key, []).append(value)
    pois = read_osm_pois(path, wanted)
    pairs = list(zip(pois["key"], pois["value"], strict=True))
    kind = [kinds[pair] for pair in pairs]
    ref = [f"{t[0]}{i}" for t, i in zip(pois["osm_type"], pois["osm_id"], strict=True)]
    names = [
        str(name).strip() if isinstance(name, str) and name.strip() else f"{k} {r}"
        for name, k, r in zip(pois["name"], kind, ref, strict=True)
    ]
    places = gpd.GeoDataFrame(
        {
            "id": pd.Series(ref, dtype=object),
            "name": pd.Series(names, dtype=object),
            "kind": pd.Series(kind, dtype=object),
            "osm_tag": pd.Series([f"{k}={v}" for k, v in pairs], dtype=object),
        },
        geometry=pois.geometry.to_numpy(),
        crs="EPSG:4326",
    )
    places.attrs["attribution"] = OSM_ATTRIBUTION
    return places
