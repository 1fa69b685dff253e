"""Geometry checks of one layer: missing, wrong type, invalid (repaired); its CRS."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from pyproj.exceptions import CRSError, ProjError

from layers.crs import to_storage_crs
from layers.schema import LAYERS, POLYGON, STORAGE_CRS, LayerSpec
from layers.validate.report import ProblemCollector
from layers.validate.rings import unclosed_ring_rows

#: Coordinates this close to (0, 0) put a feature on "null island": a blank read as zero.
NULL_ISLAND_DEG = 1e-6

#: Geometry type names by ``shapely.get_type_id``.
_TYPE_NAMES = np.array(
    [
        "Point",
        "LineString",
        "LinearRing",
        "Polygon",
        "MultiPoint",
        "MultiLineString",
        "MultiPolygon",
        "GeometryCollection",
    ],
    dtype=object,
)


def check_geometry(
    frame: gpd.GeoDataFrame,
    labels: np.ndarray,
    spec: LayerSpec,
    found: ProblemCollector,
    *,
    repair: bool,
) -> np.ndarray:
    """Check (and repair in ``frame``) the geometries; return the mask of usable features."""
    name = spec.name
    geoms = frame.geometry.to_numpy()
    # NaN coordinates (e.g. blank lon/lat cells) place a feature nowhere: no geometry.
    with np.errstate(invalid="ignore"):
        nan_bounds = np.isnan(shapely.bounds(geoms)).any(axis=1)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms) | nan_bounds
    found.per_feature(
        name,
        list(labels[missing]),
        "missing_geometry",
        lambda i: f"{labels[missing][i]} of layer {name!r} has no geometry",
        f"features of {name!r} without geometry",
        "draw the feature or delete it",
    )
    types = shapely.get_type_id(geoms)
    names = _TYPE_NAMES
    kinds = np.where(missing, None, names[np.clip(types, 0, 7)])
    wrong = ~missing & ~np.isin(kinds, spec.geometry)
    wrong_kinds = kinds[wrong]
    expected = " or ".join(spec.geometry)
    found.per_feature(
        name,
        list(labels[wrong]),
        "wrong_geometry_type",
        lambda i: (
            f"{labels[wrong][i]} of layer {name!r} is a {wrong_kinds[i]}, {expected} expected"
        ),
        f"features of {name!r} with the wrong geometry type",
        f"give {name!r} {expected} geometries (e.g. polygons for areas, not their outlines)",
    )
    usable = ~missing & ~wrong
    _check_unclosed(frame, labels, usable, name, found, repair=repair)
    invalid = usable & ~shapely.is_valid(geoms)
    if invalid.any():
        usable &= ~_check_invalid(frame, geoms, invalid, labels, spec, found, repair=repair)
    return usable


def _check_unclosed(
    frame: gpd.GeoDataFrame,
    labels: np.ndarray,
    usable: np.ndarray,
    name: str,
    found: ProblemCollector,
    *,
    repair: bool,
) -> None:
    """Rings closed on reading: repaired, or errors (and unusable) without repairs."""
    closed = usable & unclosed_ring_rows(frame)
    if repair:
        outcome = "was closed by joining its last point to its first"
        fix = "check the closed outline; redraw the feature if it is not what was meant"
    else:
        outcome = "cannot be used as it is"
        fix = "close the outline in a GIS (its last point must be its first)"
        usable &= ~closed
    found.per_feature(
        name,
        list(labels[closed]),
        "unclosed_ring",
        lambda i: (
            f"the outline of {labels[closed][i]} of layer {name!r} does not end where it "
            f"starts (a ring that does not close) and {outcome}"
        ),
        f"features of {name!r} whose outline does not close",
        fix,
        "repaired" if repair else "error",
    )


def _check_invalid(
    frame: gpd.GeoDataFrame,
    geoms: np.ndarray,
    invalid: np.ndarray,
    labels: np.ndarray,
    spec: LayerSpec,
    found: ProblemCollector,
    *,
    repair: bool,
) -> np.ndarray:
    """Report (and with ``repair`` fix) invalid geometries; return those left unusable."""
    name = spec.name
    expected = " or ".join(spec.geometry)
    reasons = shapely.is_valid_reason(geoms[invalid])
    bad_labels = labels[invalid]
    unusable = np.zeros(len(geoms), dtype=bool)
    if not repair:
        found.per_feature(
            name,
            list(bad_labels),
            "invalid_geometry",
            lambda i: f"{bad_labels[i]} of layer {name!r} is invalid: {_reason(reasons[i])}",
            f"invalid geometries in {name!r}",
            "redraw the outline in a GIS so that it does not cross itself and its holes "
            "lie inside it",
        )
        return invalid
    fixed = _make_valid(_drop_stray_holes(geoms[invalid]))
    if spec.geometry == POLYGON:
        fixed = _polygonal_part(fixed)
    lost = shapely.is_empty(fixed) | ~np.isin(
        _TYPE_NAMES[np.clip(shapely.get_type_id(fixed), 0, 7)], spec.geometry
    )
    parts = shapely.get_num_geometries(fixed)
    found.per_feature(
        name,
        list(bad_labels[~lost]),
        "invalid_geometry",
        lambda i: (
            f"{bad_labels[~lost][i]} of layer {name!r} was invalid "
            f"({_reason(reasons[~lost][i])}) and was repaired: "
            + _repair_note(reasons[~lost][i], int(parts[~lost][i]))
        ),
        f"invalid geometries in {name!r} repaired",
        "check the repaired shape; redraw the feature if it is not what was meant",
        "repaired",
    )
    found.per_feature(
        name,
        list(bad_labels[lost]),
        "invalid_geometry",
        lambda i: (
            f"{bad_labels[lost][i]} of layer {name!r} is invalid "
            f"({_reason(reasons[lost][i])}) and no {expected} is left once repaired"
        ),
        f"unrepairable geometries in {name!r}",
        "redraw the feature as a proper area",
    )
    repaired = geoms.copy()
    where = np.flatnonzero(invalid)
    repaired[where[~lost]] = fixed[~lost]
    frame[frame.geometry.name] = gpd.GeoSeries(repaired, index=frame.index, crs=frame.crs)
    unusable[where[lost]] = True
    return unusable


def _reason(reason: str) -> str:
    """The reason in words: ``Self-intersection[x y]`` -> ``Self-intersection at x y: its
    outline crosses itself``."""
    kind, _, where = reason.partition("[")
    at = f" at {where.rstrip(']')}" if where else ""
    words = {
        "Self-intersection": "its outline crosses itself",
        "Ring Self-intersection": "its outline touches itself",
        "Hole lies outside shell": "a hole lies outside its outline",
        "Interior is disconnected": "its holes cut it in pieces",
        "Nested holes": "a hole lies inside another hole",
        "Too few points in geometry component": "a part has too few points",
    }
    kind = kind.strip()
    return f"{kind}{at}: {words[kind]}" if kind in words else f"{kind}{at}"


def _repair_note(reason: str, parts: int) -> str:
    if reason.startswith("Hole lies outside shell"):
        return "the hole outside the outline was dropped"
    if parts > 1:
        return f"it was split into {parts} parts where the outline crosses itself"
    return "its outline was rebuilt"


def _drop_stray_holes(geoms: np.ndarray) -> np.ndarray:
    """Polygons without the holes that lie outside their outline.

    ``make_valid`` would turn such a hole into a second piece of the area; a hole drawn
    outside the outline is a drawing error, not land that belongs to the feature.
    """
    out = geoms.copy()
    for i, geom in enumerate(geoms):
        if shapely.get_type_id(geom) != 3:
            continue
        shell = shapely.Polygon(geom.exterior)
        holes = [ring for ring in geom.interiors if shapely.Polygon(ring).within(shell)]
        if len(holes) < len(geom.interiors):
            out[i] = shapely.Polygon(geom.exterior, holes)
    return out


def _make_valid(geoms: np.ndarray) -> np.ndarray:
    """``shapely.make_valid``, giving an empty geometry where GEOS cannot repair one."""
    try:
        return np.asarray(shapely.make_valid(geoms))
    except shapely.errors.GEOSException:
        out = np.empty(len(geoms), dtype=object)
        for i, geom in enumerate(geoms):
            try:
                out[i] = shapely.make_valid(geom)
            except shapely.errors.GEOSException:
                out[i] = shapely.GeometryCollection()
        return out


def _polygonal_part(geoms: np.ndarray) -> np.ndarray:
    """Keep only polygons (make_valid can add the lines and points of collapsed parts)."""
    out = geoms.copy()
    mixed = np.flatnonzero(shapely.get_type_id(geoms) == 7)
    for i in mixed:
        parts = shapely.get_parts(geoms[i])
        polygons = parts[np.isin(shapely.get_type_id(parts), (3, 6))]
        out[i] = shapely.union_all(polygons) if len(polygons) else shapely.Polygon()
    return out


def check_crs(
    frame: gpd.GeoDataFrame,
    labels: np.ndarray,
    usable: np.ndarray,
    name: str,
    found: ProblemCollector,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame | None]:
    """Check the CRS and coordinates; return ``frame`` in EPSG:4326 and its usable part."""
    crs = frame.crs
    try:
        frame, crs_problems = to_storage_crs(frame, layer=name)
    except (ProjError, CRSError, ValueError) as exc:
        found.add(
            name,
            None,
            "implausible_coordinates",
            f"layer {name!r} cannot be converted from {crs} to {STORAGE_CRS}: {exc}",
            "check that the layer's declared CRS matches its coordinates",
        )
        return frame, None
    found.problems.extend(crs_problems)
    if frame.crs is None:
        # Without a CRS the coordinates cannot be judged nor placed: to_storage_crs has
        # reported missing_crs, and the layer sits out the cross-layer checks.
        return frame, None

    bounds = shapely.bounds(frame.geometry.to_numpy())
    with np.errstate(invalid="ignore"):
        x_beyond = (bounds[:, 0] < -180) | (bounds[:, 2] > 180)
        y_beyond = (bounds[:, 1] < -90) | (bounds[:, 3] > 90)
        x_as_lat = (bounds[:, 0] >= -90) & (bounds[:, 2] <= 90)
        y_as_lon = (bounds[:, 1] >= -180) & (bounds[:, 3] <= 180)
    swapped = usable & y_beyond & ~x_beyond & x_as_lat & y_as_lon
    implausible = usable & (x_beyond | y_beyond) & ~swapped
    null_island = usable & ~implausible & ~swapped & _at_null_island(frame.geometry.to_numpy())
    found.per_feature(
        name,
        list(labels[null_island]),
        "null_island",
        lambda i: (
            f"{labels[null_island][i]} of layer {name!r} lies at longitude 0, latitude 0, "
            "in the Gulf of Guinea: its coordinates were probably blank and read as zero"
        ),
        f"features of {name!r} at longitude 0, latitude 0",
        "fill in the real coordinates of these features, or remove them",
    )
    label = frame.crs.to_string() if crs is None else crs.to_string()
    found.per_feature(
        name,
        list(labels[swapped]),
        "swapped_lat_lon",
        lambda i: (
            f"{labels[swapped][i]} of layer {name!r} has latitude beyond ±90 "
            f"(x {bounds[swapped][i, 0]:.5f}, y {bounds[swapped][i, 1]:.5f}): "
            "latitude and longitude look swapped"
        ),
        f"features of {name!r} with latitude and longitude swapped",
        "swap the columns on import: x is the longitude, y the latitude",
    )
    found.per_feature(
        name,
        list(labels[implausible]),
        "implausible_coordinates",
        lambda i: (
            f"{labels[implausible][i]} of layer {name!r} has coordinates "
            f"({bounds[implausible][i, 0]:,.1f}, {bounds[implausible][i, 1]:,.1f}) beyond "
            f"±180/±90, impossible in degrees ({label}): probably metres labelled as degrees"
        ),
        f"features of {name!r} with coordinates impossible in degrees",
        "declare the layer's real projected CRS (e.g. its UTM zone) instead of EPSG:4326",
    )
    keep = usable & ~swapped & ~implausible & ~null_island
    if not keep.any():
        return frame, None
    geo = gpd.GeoDataFrame(
        {"id": frame["id"].to_numpy() if "id" in frame else labels},
        geometry=frame.geometry.to_numpy(),
        crs=frame.crs,
    )
    spec = LAYERS[name]
    if spec.parent is not None and spec.parent[0] in frame:
        geo[spec.parent[0]] = frame[spec.parent[0]].to_numpy()
    geo["label"] = labels
    return frame, geo[keep]


def _at_null_island(geoms: np.ndarray) -> np.ndarray:
    """Where a feature has a vertex at (0, 0) in degrees."""
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    with np.errstate(invalid="ignore"):
        zero = (np.abs(coords[:, 0]) < NULL_ISLAND_DEG) & (np.abs(coords[:, 1]) < NULL_ISLAND_DEG)
    out = np.zeros(len(geoms), dtype=bool)
    out[index[zero]] = True
    return out
