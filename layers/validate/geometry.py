"""Geometry checks of one layer: missing, wrong type, invalid (repaired); its CRS."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from pyproj.exceptions import CRSError, ProjError

from layers.crs import to_storage_crs
from layers.i18n import _, _l
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


def _expected(spec: LayerSpec) -> str:
    """The geometry types a layer takes, in words (``Polygon or MultiPolygon``)."""
    if len(spec.geometry) == 2:
        return _("%(first)s or %(second)s", first=spec.geometry[0], second=spec.geometry[1])
    return ", ".join(spec.geometry)


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
        lambda i: _(
            "%(feature)s of layer %(layer)s has no geometry",
            feature=labels[missing][i],
            layer=repr(name),
        ),
        _("features of %(layer)s without geometry", layer=repr(name)),
        _("draw the feature or delete it"),
    )
    types = shapely.get_type_id(geoms)
    names = _TYPE_NAMES
    kinds = np.where(missing, None, names[np.clip(types, 0, 7)])
    wrong = ~missing & ~np.isin(kinds, spec.geometry)
    wrong_kinds = kinds[wrong]
    expected = _expected(spec)
    found.per_feature(
        name,
        list(labels[wrong]),
        "wrong_geometry_type",
        lambda i: _(
            "%(feature)s of layer %(layer)s is a %(kind)s, %(expected)s expected",
            feature=labels[wrong][i],
            layer=repr(name),
            kind=wrong_kinds[i],
            expected=expected,
        ),
        _("features of %(layer)s with the wrong geometry type", layer=repr(name)),
        _(
            "give %(layer)s %(expected)s geometries (e.g. polygons for areas, not their outlines)",
            layer=repr(name),
            expected=expected,
        ),
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

    def message(i: int) -> str:
        params = {"feature": labels[closed][i], "layer": repr(name)}
        if repair:
            return _(
                "the outline of %(feature)s of layer %(layer)s does not end where it starts "
                "(a ring that does not close) and was closed by joining its last point to "
                "its first",
                **params,
            )
        return _(
            "the outline of %(feature)s of layer %(layer)s does not end where it starts "
            "(a ring that does not close) and cannot be used as it is",
            **params,
        )

    if repair:
        fix = _("check the closed outline; redraw the feature if it is not what was meant")
    else:
        fix = _("close the outline in a GIS (its last point must be its first)")
        usable &= ~closed
    found.per_feature(
        name,
        list(labels[closed]),
        "unclosed_ring",
        message,
        _("features of %(layer)s whose outline does not close", layer=repr(name)),
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
    expected = _expected(spec)
    reasons = shapely.is_valid_reason(geoms[invalid])
    bad_labels = labels[invalid]
    unusable = np.zeros(len(geoms), dtype=bool)
    if not repair:
        found.per_feature(
            name,
            list(bad_labels),
            "invalid_geometry",
            lambda i: _(
                "%(feature)s of layer %(layer)s is invalid: %(reason)s",
                feature=bad_labels[i],
                layer=repr(name),
                reason=_reason(reasons[i]),
            ),
            _("invalid geometries in %(layer)s", layer=repr(name)),
            _(
                "redraw the outline in a GIS so that it does not cross itself and its holes "
                "lie inside it"
            ),
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
        lambda i: _(
            "%(feature)s of layer %(layer)s was invalid (%(reason)s) and was repaired: %(note)s",
            feature=bad_labels[~lost][i],
            layer=repr(name),
            reason=_reason(reasons[~lost][i]),
            note=_repair_note(reasons[~lost][i], int(parts[~lost][i])),
        ),
        _("invalid geometries in %(layer)s repaired", layer=repr(name)),
        _("check the repaired shape; redraw the feature if it is not what was meant"),
        "repaired",
    )
    found.per_feature(
        name,
        list(bad_labels[lost]),
        "invalid_geometry",
        lambda i: _(
            "%(feature)s of layer %(layer)s is invalid (%(reason)s) and no %(expected)s is "
            "left once repaired",
            feature=bad_labels[lost][i],
            layer=repr(name),
            reason=_reason(reasons[lost][i]),
            expected=expected,
        ),
        _("unrepairable geometries in %(layer)s", layer=repr(name)),
        _("redraw the feature as a proper area"),
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
    kind, _sep, where = reason.partition("[")
    kind = kind.strip()
    place = where.rstrip("]")
    words = _REASON_WORDS.get(kind)
    if words is not None and where:
        return _("%(kind)s at %(where)s: %(words)s", kind=kind, where=place, words=words)
    if words is not None:
        return _("%(kind)s: %(words)s", kind=kind, words=words)
    if where:
        return _("%(kind)s at %(where)s", kind=kind, where=place)
    return kind


#: GEOS's reasons (kept as GEOS writes them) and what they mean, in words.
_REASON_WORDS = {
    "Self-intersection": _l("its outline crosses itself"),
    "Ring Self-intersection": _l("its outline touches itself"),
    "Hole lies outside shell": _l("a hole lies outside its outline"),
    "Interior is disconnected": _l("its holes cut it in pieces"),
    "Nested holes": _l("a hole lies inside another hole"),
    "Too few points in geometry component": _l("a part has too few points"),
}


def _repair_note(reason: str, parts: int) -> str:
    if reason.startswith("Hole lies outside shell"):
        return _("the hole outside the outline was dropped")
    if parts > 1:
        return _("it was split into %(parts)s parts where the outline crosses itself", parts=parts)
    return _("its outline was rebuilt")


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
            _(
                "layer %(layer)s cannot be converted from %(source)s to %(crs)s: %(reason)s",
                layer=repr(name),
                source=crs,
                crs=STORAGE_CRS,
                reason=exc,
            ),
            _("check that the layer's declared CRS matches its coordinates"),
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
        lambda i: _(
            "%(feature)s of layer %(layer)s lies at longitude 0, latitude 0, in the Gulf of "
            "Guinea: its coordinates were probably blank and read as zero",
            feature=labels[null_island][i],
            layer=repr(name),
        ),
        _("features of %(layer)s at longitude 0, latitude 0", layer=repr(name)),
        _("fill in the real coordinates of these features, or remove them"),
    )
    label = frame.crs.to_string() if crs is None else crs.to_string()
    found.per_feature(
        name,
        list(labels[swapped]),
        "swapped_lat_lon",
        lambda i: _(
            "%(feature)s of layer %(layer)s has latitude beyond ±90 (x %(x)s, y %(y)s): "
            "latitude and longitude look swapped",
            feature=labels[swapped][i],
            layer=repr(name),
            x=format(bounds[swapped][i, 0], ".5f"),
            y=format(bounds[swapped][i, 1], ".5f"),
        ),
        _("features of %(layer)s with latitude and longitude swapped", layer=repr(name)),
        _("swap the columns on import: x is the longitude, y the latitude"),
    )
    found.per_feature(
        name,
        list(labels[implausible]),
        "implausible_coordinates",
        lambda i: _(
            "%(feature)s of layer %(layer)s has coordinates (%(x)s, %(y)s) beyond ±180/±90, "
            "impossible in degrees (%(crs)s): probably metres labelled as degrees",
            feature=labels[implausible][i],
            layer=repr(name),
            x=format(bounds[implausible][i, 0], ",.1f"),
            y=format(bounds[implausible][i, 1], ",.1f"),
            crs=label,
        ),
        _("features of %(layer)s with coordinates impossible in degrees", layer=repr(name)),
        _("declare the layer's real projected CRS (e.g. its UTM zone) instead of EPSG:4326"),
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
