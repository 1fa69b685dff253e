"""Validate the layers of a workspace: collect every problem, then report once.

:func:`validate_layers` checks each layer against :data:`layers.schema.LAYERS` and then the
layers against each other (parent ids, nesting, sibling overlaps, gaps, incidents outside
the area). It never stops at the first problem: it returns a :class:`ValidationReport`
holding repaired copies of the layers and every :class:`~layers.errors.Problem` found, and
``report.raise_if_errors()`` raises one :class:`~layers.errors.ValidationError` with all
of them. Inputs are never mutated.

Areas, distances and buffers are computed in a local metric CRS (the UTM zone of the
workspace), never in degrees. Layers are returned in the storage CRS (EPSG:4326).

Problem codes
-------------
Stable codes; the severity is in brackets (``repaired`` means fixed in the returned copy).

Per layer:

``not_a_table`` [error]
    The value given for a layer is not a (Geo)DataFrame.
``unknown_layer`` [warning]
    The layer name is not part of the workspace model; the layer is passed through.
``empty_layer`` [error]
    The layer has no features.
``missing_field`` [error]
    Required fields are absent (one problem per layer naming them all).
``missing_id`` [error]
    A feature has no ``id`` (null or blank).
``missing_value`` [error]
    A feature has no value (null or blank) in another required field.
``duplicate_id`` [error]
    Several features share one ``id``.
``not_spatial`` [error]
    A spatial layer has no geometry column.
``missing_geometry`` [error]
    A feature's geometry is null or empty.
``wrong_geometry_type`` [error]
    E.g. lines where polygons are expected.
``invalid_geometry`` [repaired, or error when ``repair=False`` or nothing usable is left]
    Invalid geometry (self-intersection...), repaired with ``shapely.make_valid``; polygon
    layers keep only the polygonal part. The message gives ``shapely.is_valid_reason``.
``missing_crs`` [error]
    The layer has no CRS (e.g. a shapefile without its ``.prj``) and its coordinates are
    not lon/lat degrees (from :func:`layers.crs.to_storage_crs`).
``crs_assumed`` [warning]
    The layer has no CRS but lon/lat-looking coordinates: EPSG:4326 was assumed.
``reprojected`` [repaired]
    The layer was in another CRS and was reprojected to EPSG:4326.
``implausible_coordinates`` [error]
    Coordinates outside ±180/±90 in a geographic CRS: usually metres labelled as degrees.
``swapped_lat_lon`` [error]
    Latitude and longitude are swapped: x within ±90 with y beyond ±90, or the layer lies
    away from every other layer while its swapped copy overlaps them.
``unknown_mode`` [error]
    A unit's ``mode`` is not one of :data:`layers.schema.UNIT_MODES`.
``missing_time`` [error]
    An incident has no ``occurred_at``.
``unparseable_time`` [error]
    An incident's ``occurred_at`` cannot be read as a date and time.
``severity_out_of_range`` [error]
    An incident's ``severity`` is not a number from 1 to 5.
``preventable_not_boolean`` [error]
    An incident's ``preventable`` flag is not a yes/no value.
``preventable_coerced`` [repaired]
    ``preventable`` held yes/no values as text or numbers and was converted to booleans.

Across layers:

``unknown_parent`` [error]
    ``grids.community_id`` or ``communities.subdistrict_id`` names no parent feature.
``unknown_station`` [error]
    ``units.station_id`` names no station (or duty point).
``unknown_grid`` [error]
    ``units.grid_ids`` names a grid that does not exist.
``not_nested`` [error]
    More than ``area_tolerance`` of a feature's area lies outside its parent.
``sibling_overlap`` [error]
    Two features with the same parent overlap by more than ``area_tolerance`` of the
    smaller one.
``coverage_gap`` [warning]
    More than ``area_tolerance`` of a parent is covered by none of its children.
``outside_area`` [warning]
    Incidents farther than ``area_buffer_m`` from every area polygon (one problem per
    layer with the count and sample ids).
``disjoint_layer`` [warning]
    A spatial layer does not overlap any other layer, even with lat/lon swapped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError, ProjError

from layers.crs import metric_crs, to_storage_crs
from layers.errors import LayerError, Problem, Severity, ValidationError
from layers.incidents import parse_timestamps
from layers.schema import LAYERS, POLYGON, STORAGE_CRS, UNIT_MODES, LayerSpec, parse_id_list

logger = logging.getLogger(__name__)

__all__ = ["ValidationReport", "validate_layer", "validate_layers"]

#: Up to this many features get one problem each; beyond it, one problem lists samples.
MAX_LISTED = 10

#: Layers that describe the area, from the outermost in.
AREA_LAYERS = ("subdistricts", "communities", "grids")

#: One feature of an area layer, for messages.
_ONE = {"subdistricts": "sub-district", "communities": "community", "grids": "grid (网格)"}

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

_TRUE = {"true", "t", "yes", "y", "1", "是", "对"}
_FALSE = {"false", "f", "no", "n", "0", "否", "不"}


@dataclass
class ValidationReport:
    """What :func:`validate_layers` found.

    Parameters
    ----------
    layers
        Repaired copies of the input layers (spatial layers in EPSG:4326 when their CRS is
        known; ids as strings; ``incidents.occurred_at`` as UTC datetimes).
    problems
        Every problem found, in the order found.
    """

    layers: dict[str, pd.DataFrame]
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        """Problems that block use of the workspace."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        """Problems that are reported and tolerated."""
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def repairs(self) -> list[Problem]:
        """Problems fixed automatically in :attr:`layers`."""
        return [p for p in self.problems if p.severity == "repaired"]

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings and repairs are allowed)."""
        return not self.errors

    @property
    def codes(self) -> set[str]:
        """The distinct problem codes found."""
        return {p.code for p in self.problems}

    def raise_if_errors(self) -> None:
        """Raise one :class:`ValidationError` carrying every problem if any is an error.

        Raises
        ------
        ValidationError
            If :attr:`errors` is not empty.
        """
        if self.errors:
            raise ValidationError(self.problems)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable summary: ``ok``, counts per severity and problems."""
        counts = {"error": 0, "warning": 0, "repaired": 0}
        for problem in self.problems:
            counts[problem.severity] += 1
        return {
            "ok": self.ok,
            "counts": counts,
            "layers": {name: len(frame) for name, frame in self.layers.items()},
            "problems": [p.to_dict() for p in self.problems],
        }


class _Collector:
    """Problems of one validation run, with per-feature aggregation."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(
        self,
        layer: str,
        feature_id: str | None,
        code: str,
        message: str,
        fix: str,
        severity: Severity = "error",
    ) -> None:
        self.problems.append(Problem(layer, feature_id, code, message, fix, severity))

    def per_feature(
        self,
        layer: str,
        ids: Sequence[str],
        code: str,
        message: Callable[[int], str],
        summary: str,
        fix: str,
        severity: Severity = "error",
    ) -> None:
        """One problem per feature, or one listing samples when there are many.

        ``message(i)`` describes the ``i``-th feature; ``summary`` describes them all.
        """
        if not len(ids):
            return
        if len(ids) <= MAX_LISTED:
            for i, feature_id in enumerate(ids):
                self.add(layer, feature_id, code, message(i), fix, severity)
            return
        samples = ", ".join(ids[:MAX_LISTED])
        self.add(
            layer,
            None,
            code,
            f"{summary}: {len(ids):,} features, e.g. {samples}. First: {message(0)}",
            fix,
            severity,
        )


@dataclass
class _Checked:
    """One layer after the per-layer checks."""

    frame: pd.DataFrame
    #: Usable features in EPSG:4326 for cross-layer checks, or None when there are none.
    geo: gpd.GeoDataFrame | None = None


def validate_layers(
    layers: Mapping[str, pd.DataFrame],
    *,
    area_tolerance: float = 0.02,
    area_buffer_m: float = 100.0,
    repair: bool = True,
    timezone: str = "UTC",
) -> ValidationReport:
    """Check workspace layers one by one and against each other, collecting every problem.

    Parameters
    ----------
    layers
        Layer name (see :data:`layers.schema.LAYERS`) to GeoDataFrame, or DataFrame for
        the ``units`` table.
    area_tolerance
        Share of a feature's area allowed outside its parent, of the smaller sibling's
        area allowed to overlap, and of a parent's area allowed to stay uncovered by its
        children (0.02 = 2 %).
    area_buffer_m
        Incidents within this distance of the area polygons count as inside.
    repair
        Repair invalid geometries with ``shapely.make_valid`` (reported as ``repaired``);
        when False they are errors.
    timezone
        IANA time zone of incident times given without an offset.

    Returns
    -------
    ValidationReport
        Repaired copies of the layers and every problem found; see the module docstring
        for the problem codes.

    Raises
    ------
    LayerError
        If the arguments themselves are wrong (not a mapping, bad tolerance or time zone).
        Problems in the data never raise here: call ``report.raise_if_errors()``.
    """
    if not isinstance(layers, Mapping):
        raise LayerError(
            f"'layers' should be a mapping of layer name to GeoDataFrame, got "
            f"{type(layers).__name__}; pass e.g. {{'grids': grids_gdf}}"
        )
    if not 0 <= area_tolerance < 1:
        raise LayerError(
            f"area_tolerance={area_tolerance!r} should be a share between 0 and 1, e.g. 0.02"
        )
    if area_buffer_m < 0:
        raise LayerError(f"area_buffer_m={area_buffer_m!r} should be 0 or more metres")
    # Fails fast on an unknown zone, before any data is looked at.
    parse_timestamps(pd.Series([], dtype="string"), tz=timezone)

    found = _Collector()
    checked: dict[str, _Checked] = {}
    for name, frame in layers.items():
        checked[name] = _check_layer(frame, name, found, repair=repair, timezone=timezone)

    geo = {name: c.geo for name, c in checked.items() if c.geo is not None and len(c.geo)}
    _check_placement(geo, found)
    frames = {name: c.frame for name, c in checked.items()}
    _check_parent_ids(frames, found)
    _check_units_references(frames, found)
    if geo:
        metric_crs = _metric_crs(geo)
        _check_nesting(geo, metric_crs, area_tolerance, found)
        _check_incidents_in_area(geo, metric_crs, area_buffer_m, found)

    report = ValidationReport(frames, found.problems)
    logger.info(
        "validated %s layer(s): %s error(s), %s warning(s), %s repair(s)",
        f"{len(frames):,}",
        f"{len(report.errors):,}",
        f"{len(report.warnings):,}",
        f"{len(report.repairs):,}",
    )
    return report


def validate_layer(
    frame: pd.DataFrame,
    name: str,
    *,
    repair: bool = True,
    timezone: str = "UTC",
) -> ValidationReport:
    """Check one layer on its own (no cross-layer checks but its own siblings' overlaps).

    Parameters
    ----------
    frame
        The layer: a GeoDataFrame, or a DataFrame for ``units``.
    name
        Its layer name in :data:`layers.schema.LAYERS`.
    repair, timezone
        As in :func:`validate_layers`.

    Returns
    -------
    ValidationReport
        ``layers`` holds the one repaired layer under ``name``.
    """
    return validate_layers({name: frame}, repair=repair, timezone=timezone)


# --- per-layer checks -----------------------------------------------------------------


def _check_layer(
    frame: Any, name: str, found: _Collector, *, repair: bool, timezone: str
) -> _Checked:
    if not isinstance(frame, pd.DataFrame):
        found.add(
            name,
            None,
            "not_a_table",
            f"layer {name!r} should be a GeoDataFrame or DataFrame, got {type(frame).__name__}",
            "read the file with layers.io.read_layer and pass the resulting GeoDataFrame",
        )
        return _Checked(pd.DataFrame())
    frame = frame.copy()
    spec = LAYERS.get(name)
    if spec is None:
        found.add(
            name,
            None,
            "unknown_layer",
            f"layer {name!r} is not part of the workspace model and was not checked",
            f"rename it to one of {', '.join(LAYERS)} or map it on import",
            "warning",
        )
        return _Checked(frame)
    if frame.empty:
        found.add(
            name,
            None,
            "empty_layer",
            f"layer {name!r} has no features",
            f"add {name} to the file, or leave the layer out of the workspace",
        )
        return _Checked(frame)

    missing = [f for f in spec.required if f not in frame.columns]
    if missing:
        present = ", ".join(str(c) for c in frame.columns if c != "geometry") or "none"
        found.add(
            name,
            None,
            "missing_field",
            f"layer {name!r} lacks required field(s) {', '.join(missing)}; "
            f"its fields are: {present}",
            "rename the matching columns (field mapping on import) or add the missing fields",
        )
    for id_field in ("id", *(f for f in frame.columns if str(f).endswith("_id"))):
        if id_field in frame.columns:
            frame[id_field] = _as_id_strings(frame[id_field])
    labels = _labels(frame)
    if "id" in frame.columns:
        _check_ids(frame["id"], labels, name, found)
    # id and occurred_at have their own codes; the rest share one.
    for required in spec.required:
        if required in frame.columns and required not in ("id", "occurred_at"):
            _check_filled(frame[required], labels, name, found)

    if spec.is_table:
        if name == "units":
            _check_units(frame, labels, found)
        return _Checked(frame)

    if not isinstance(frame, gpd.GeoDataFrame) or frame._geometry_column_name not in frame:
        found.add(
            name,
            None,
            "not_spatial",
            f"layer {name!r} has no geometry column; {spec.geometry[0]} geometries are expected",
            "read it with coordinates (lon/lat columns or WKT) or from a spatial file",
        )
        return _Checked(frame)

    usable = _check_geometry(frame, labels, spec, found, repair=repair)
    frame, geo = _check_crs(frame, labels, usable, name, found)
    if name == "incidents":
        _check_incidents(frame, labels, found, timezone=timezone)
    return _Checked(frame, geo)


def _as_id_strings(values: pd.Series) -> pd.Series:
    """Ids as strings: ``7`` and ``7.0`` both become ``"7"``; blanks become missing."""
    if pd.api.types.is_float_dtype(values.dtype):
        finite = values.dropna()
        if (finite == np.round(finite)).all():
            values = values.astype("Int64")
    text = values.map(lambda v: str(v).strip(), na_action="ignore")
    return text.where(text.notna() & (text != ""), None).astype("object")


def _labels(frame: pd.DataFrame) -> np.ndarray:
    """How to name each feature in a message: its id, or its row number."""
    rows = np.array([f"row {i}" for i in range(len(frame))], dtype=object)
    if "id" not in frame.columns:
        return rows
    ids = frame["id"].to_numpy(dtype=object)
    return np.where(pd.isna(ids), rows, ids)


def _check_ids(ids: pd.Series, labels: np.ndarray, name: str, found: _Collector) -> None:
    missing = ids.isna().to_numpy()
    found.per_feature(
        name,
        list(labels[missing]),
        "missing_id",
        lambda i: f"{labels[missing][i]} of layer {name!r} has no id",
        f"features of {name!r} without an id",
        "give every feature a unique id",
    )
    dup = ids[ids.duplicated(keep=False) & ids.notna()]
    if dup.empty:
        return
    rows = pd.Series(np.arange(len(ids)), index=ids.index)[dup.index]
    groups = rows.groupby(dup.to_numpy(), sort=True).agg(list)
    keys = [str(k) for k in groups.index]
    found.per_feature(
        name,
        keys,
        "duplicate_id",
        lambda i: (
            f"id {keys[i]!r} of layer {name!r} is used by {len(groups.iloc[i])} features "
            f"(rows {', '.join(map(str, groups.iloc[i]))})"
        ),
        f"ids used more than once in {name!r}",
        "give each feature its own id (ids must be unique within a layer)",
    )


def _check_filled(values: pd.Series, labels: np.ndarray, name: str, found: _Collector) -> None:
    blank = values.isna().to_numpy() | (
        values.astype("string").str.strip().eq("").fillna(False).to_numpy(dtype=bool)
    )
    field_name = values.name
    found.per_feature(
        name,
        list(labels[blank]),
        "missing_value",
        lambda i: f"{labels[blank][i]} of layer {name!r} has no {field_name}",
        f"features of {name!r} without {field_name}",
        f"fill in {field_name}: it is required for every feature of {name!r}",
    )


def _check_units(frame: pd.DataFrame, labels: np.ndarray, found: _Collector) -> None:
    if "mode" in frame.columns:
        mode = frame["mode"].map(lambda v: str(v).strip().lower(), na_action="ignore")
        bad = (frame["mode"].notna() & ~mode.isin(UNIT_MODES)).to_numpy()
        values = frame["mode"].to_numpy(dtype=object)
        found.per_feature(
            "units",
            list(labels[bad]),
            "unknown_mode",
            lambda i: (
                f"unit {labels[bad][i]} has mode {values[bad][i]!r}, "
                f"expected one of {', '.join(UNIT_MODES)}"
            ),
            "units with an unknown mode",
            f"set mode to one of {', '.join(UNIT_MODES)}",
        )
        frame["mode"] = mode.where(~bad, frame["mode"])
    if "grid_ids" in frame.columns:
        frame["grid_ids"] = [",".join(parse_id_list(v)) for v in frame["grid_ids"]]


def _check_geometry(
    frame: gpd.GeoDataFrame,
    labels: np.ndarray,
    spec: LayerSpec,
    found: _Collector,
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

    invalid = usable & ~shapely.is_valid(geoms)
    if invalid.any():
        reasons = shapely.is_valid_reason(geoms[invalid])
        bad_labels = labels[invalid]
        if not repair:
            found.per_feature(
                name,
                list(bad_labels),
                "invalid_geometry",
                lambda i: f"{bad_labels[i]} of layer {name!r} is invalid: {reasons[i]}",
                f"invalid geometries in {name!r}",
                "fix the geometry in a GIS, or validate with repair=True",
            )
            usable &= ~invalid
        else:
            fixed = _make_valid(geoms[invalid])
            if spec.geometry == POLYGON:
                fixed = _polygonal_part(fixed)
            lost = shapely.is_empty(fixed) | ~np.isin(
                names[np.clip(shapely.get_type_id(fixed), 0, 7)], spec.geometry
            )
            found.per_feature(
                name,
                list(bad_labels[~lost]),
                "invalid_geometry",
                lambda i: (
                    f"{bad_labels[~lost][i]} of layer {name!r} was invalid "
                    f"({reasons[~lost][i]}) and was repaired with make_valid"
                ),
                f"invalid geometries in {name!r} repaired with make_valid",
                "check the repaired shape; redraw the feature if it is not what was meant",
                "repaired",
            )
            found.per_feature(
                name,
                list(bad_labels[lost]),
                "invalid_geometry",
                lambda i: (
                    f"{bad_labels[lost][i]} of layer {name!r} is invalid ({reasons[lost][i]}) "
                    f"and make_valid leaves no {expected}"
                ),
                f"unrepairable geometries in {name!r}",
                "redraw the feature as a proper area",
            )
            repaired = geoms.copy()
            where = np.flatnonzero(invalid)
            repaired[where[~lost]] = fixed[~lost]
            frame[frame.geometry.name] = gpd.GeoSeries(repaired, index=frame.index, crs=frame.crs)
            usable[where[lost]] = False
    return usable


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


def _check_crs(
    frame: gpd.GeoDataFrame,
    labels: np.ndarray,
    usable: np.ndarray,
    name: str,
    found: _Collector,
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
    keep = usable & ~swapped & ~implausible
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


def _check_incidents(
    frame: pd.DataFrame, labels: np.ndarray, found: _Collector, *, timezone: str
) -> None:
    if "occurred_at" in frame.columns:
        raw = frame["occurred_at"]
        parsed = parse_timestamps(raw, tz=timezone)
        blank = raw.isna().to_numpy() | (
            raw.astype("string").str.strip().eq("").fillna(False).to_numpy(dtype=bool)
        )
        unparseable = parsed.isna().to_numpy() & ~blank
        values = raw.to_numpy(dtype=object)
        found.per_feature(
            "incidents",
            list(labels[blank]),
            "missing_time",
            lambda i: f"incident {labels[blank][i]} has no occurred_at",
            "incidents without a time",
            "fill in occurred_at (date and time), or remove the incidents",
        )
        found.per_feature(
            "incidents",
            list(labels[unparseable]),
            "unparseable_time",
            lambda i: (
                f"incident {labels[unparseable][i]} has occurred_at "
                f"{values[unparseable][i]!r}, which is not a readable date and time"
            ),
            "incidents whose time cannot be read",
            "write times as ISO 8601 (2024-02-15 21:48) or map the date and time columns",
        )
        frame["occurred_at"] = parsed

    if "severity" in frame.columns:
        raw = frame["severity"]
        number = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            bad = raw.notna().to_numpy() & ~((number >= 1) & (number <= 5))
        values = raw.to_numpy(dtype=object)
        found.per_feature(
            "incidents",
            list(labels[bad]),
            "severity_out_of_range",
            lambda i: (
                f"incident {labels[bad][i]} has severity {values[bad][i]!r}, "
                "expected a number from 1 to 5"
            ),
            "incidents with a severity outside 1-5",
            "set severity from 1 (minor) to 5 (most severe), or leave it empty",
        )

    if "preventable" in frame.columns and not pd.api.types.is_bool_dtype(
        frame["preventable"].dtype
    ):
        raw = frame["preventable"]
        text = raw.map(lambda v: str(v).strip().lower(), na_action="ignore")
        text = text.map(lambda s: s[:-2] if s.endswith(".0") else s, na_action="ignore")
        as_bool = pd.Series(pd.NA, index=raw.index, dtype="boolean")
        as_bool[text.isin(_TRUE)] = True
        as_bool[text.isin(_FALSE)] = False
        bad = (raw.notna() & as_bool.isna()).to_numpy()
        values = raw.to_numpy(dtype=object)
        found.per_feature(
            "incidents",
            list(labels[bad]),
            "preventable_not_boolean",
            lambda i: (
                f"incident {labels[bad][i]} has preventable {values[bad][i]!r}, "
                "expected yes/no (true/false, 1/0)"
            ),
            "incidents whose preventable flag is not yes/no",
            "set preventable to true or false (可防性案件: robbery, theft, burglary...)",
        )
        if not bad.any():
            # Booleans with gaps (object dtype) convert without comment; text and numbers
            # are reported, since "0"/"否" read as False is a guess the user should see.
            if not raw.dropna().map(lambda v: isinstance(v, bool | np.bool_)).all():
                found.add(
                    "incidents",
                    None,
                    "preventable_coerced",
                    f"preventable held {raw.dtype} values such as "
                    f"{raw.dropna().iloc[0]!r} and was converted to true/false",
                    "nothing to do; store preventable as a boolean field to skip this step",
                    "repaired",
                )
            frame["preventable"] = as_bool


# --- cross-layer checks ---------------------------------------------------------------


def _check_placement(geo: dict[str, gpd.GeoDataFrame], found: _Collector) -> None:
    """Find a layer lying away from all others whose lat/lon-swapped copy overlaps them."""
    if len(geo) < 2:
        return
    boxes = {name: shapely.box(*g.total_bounds) for name, g in geo.items()}
    # The area layers are checked last, against what is left: they are drawn by the
    # precinct and are the likeliest to be right when two layers disagree.
    order = [n for n in geo if n not in AREA_LAYERS] + [n for n in AREA_LAYERS[::-1] if n in geo]
    for name in order:
        others = [box for other, box in boxes.items() if other != name and other in geo]
        if not others:
            continue
        # Half a degree of slack: points (stations) can sit just outside an area's bbox.
        tree = shapely.STRtree([shapely.buffer(b, 0.5) for b in others])
        if len(tree.query(boxes[name], predicate="intersects")):
            continue
        minx, miny, maxx, maxy = geo[name].total_bounds
        swapped_box = shapely.box(miny, minx, maxy, maxx)
        if len(tree.query(swapped_box, predicate="intersects")):
            found.add(
                name,
                None,
                "swapped_lat_lon",
                f"layer {name!r} (bbox {minx:.4f}, {miny:.4f}, {maxx:.4f}, {maxy:.4f}) lies "
                "away from every other layer, but overlaps them with latitude and "
                "longitude swapped",
                "swap the columns on import: x is the longitude, y the latitude",
            )
            del geo[name]
        else:
            found.add(
                name,
                None,
                "disjoint_layer",
                f"layer {name!r} (bbox {minx:.4f}, {miny:.4f}, {maxx:.4f}, {maxy:.4f}) "
                "overlaps no other layer of the workspace",
                "check its CRS (GCJ-02/BD-09 offsets are small; a wrong zone or unit is not) "
                "and that it belongs to this area",
                "warning",
            )


def _ids(frame: pd.DataFrame | None) -> set[str]:
    if frame is None or "id" not in frame.columns:
        return set()
    return set(frame["id"].dropna())


def _check_parent_ids(frames: Mapping[str, pd.DataFrame], found: _Collector) -> None:
    for name, frame in frames.items():
        spec = LAYERS.get(name)
        if spec is None or spec.parent is None or frame.empty:
            continue
        key, parent = spec.parent
        if key in frame.columns and parent in frames:
            _check_parent_id(frame, name, key, parent, _ids(frames[parent]), found)


def _check_parent_id(
    frame: pd.DataFrame, name: str, key: str, parent: str, known: set[str], found: _Collector
) -> None:
    keys = frame[key]
    bad = (keys.notna() & ~keys.isin(known)).to_numpy()
    labels = _labels(frame)[bad]
    values = keys.to_numpy(dtype=object)[bad]
    found.per_feature(
        name,
        list(labels),
        "unknown_parent",
        lambda i: (
            f"{labels[i]} of layer {name!r} has {key} {values[i]!r}, "
            f"which is not an id in {parent!r}"
        ),
        f"features of {name!r} whose {key} is not in {parent!r}",
        f"correct {key} to an existing {parent} id, or add that feature to {parent!r}",
    )


def _check_units_references(frames: Mapping[str, pd.DataFrame], found: _Collector) -> None:
    units = frames.get("units")
    if units is None or units.empty:
        return
    labels = _labels(units)
    if "station_id" in units.columns and ("stations" in frames or "duty_points" in frames):
        known = _ids(frames.get("stations")) | _ids(frames.get("duty_points"))
        station = units["station_id"]
        bad = (station.notna() & ~station.isin(known)).to_numpy()
        values = station.to_numpy(dtype=object)
        found.per_feature(
            "units",
            list(labels[bad]),
            "unknown_station",
            lambda i: (
                f"unit {labels[bad][i]} has station_id {values[bad][i]!r}, which is not "
                "an id in 'stations' or 'duty_points'"
            ),
            "units based at an unknown station",
            "set station_id to an existing station (or duty point) id",
        )
    if "grid_ids" in units.columns and "grids" in frames:
        known = _ids(frames["grids"])
        unknown = [[g for g in parse_id_list(v) if g not in known] for v in units["grid_ids"]]
        bad = np.array([bool(u) for u in unknown], dtype=bool)
        names = [", ".join(u) for u, b in zip(unknown, bad, strict=True) if b]
        found.per_feature(
            "units",
            list(labels[bad]),
            "unknown_grid",
            lambda i: f"unit {labels[bad][i]} names grid(s) {names[i]} not in 'grids'",
            "units responsible for unknown grids",
            "correct grid_ids (comma-separated ids of existing grids)",
        )


def _metric_crs(geo: Mapping[str, gpd.GeoDataFrame]) -> CRS:
    """The local UTM zone of the workspace, from its outermost area layer if any."""
    for name in (*AREA_LAYERS, *geo):
        if name in geo:
            crs = metric_crs(geo[name])
            logger.debug("computing areas and distances in %s", crs.to_string())
            return crs
    raise AssertionError("no spatial layer")  # pragma: no cover - guarded by the caller


def _check_nesting(
    geo: Mapping[str, gpd.GeoDataFrame],
    metric_crs: CRS,
    tolerance: float,
    found: _Collector,
) -> None:
    metric = {
        name: geo[name].to_crs(metric_crs).reset_index(drop=True)
        for name in AREA_LAYERS
        if name in geo
    }
    for name, child in metric.items():
        spec = LAYERS[name]
        key, parent_name = spec.parent if spec.parent else (None, None)
        parent = metric.get(parent_name) if parent_name else None
        _check_overlaps(child, name, key, tolerance, found)
        if key is None or parent is None or key not in child.columns:
            continue
        parents = parent[parent["id"].notna()].drop_duplicates("id").set_index("id")
        _check_within(child, name, key, parents, parent_name or "", tolerance, found)
        _check_gaps(child, name, key, parents, parent_name or "", tolerance, found)


def _check_within(
    child: gpd.GeoDataFrame,
    name: str,
    key: str,
    parents: gpd.GeoDataFrame,
    parent_name: str,
    tolerance: float,
    found: _Collector,
) -> None:
    known = child[child[key].isin(parents.index)]
    geoms = known.geometry.to_numpy()
    parent_geoms = parents.geometry.loc[known[key]].to_numpy()
    area_m2 = shapely.area(geoms)
    outside_m2 = area_m2 - shapely.area(shapely.intersection(geoms, parent_geoms))
    share = np.divide(outside_m2, area_m2, out=np.zeros_like(area_m2), where=area_m2 > 0)
    bad = share > tolerance
    labels = known["label"].to_numpy()
    keys = known[key].to_numpy()
    found.per_feature(
        name,
        list(labels[bad]),
        "not_nested",
        lambda i: (
            f"{_ONE[name]} {labels[bad][i]} lies {share[bad][i]:.1%} "
            f"({outside_m2[bad][i]:,.0f} m²) outside its {_ONE[parent_name]} {keys[bad][i]} "
            f"(tolerance {tolerance:.1%})"
        ),
        f"features of {name!r} not inside their {_ONE[parent_name]}",
        f"redraw the boundary to follow its {_ONE[parent_name]}, or correct {key}",
    )


def _check_overlaps(
    child: gpd.GeoDataFrame,
    name: str,
    key: str | None,
    tolerance: float,
    found: _Collector,
) -> None:
    geoms = child.geometry.to_numpy()
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    pair = left < right
    if key is not None and key in child.columns:
        keys = child[key].to_numpy(dtype=object)
        pair &= keys[left] == keys[right]
    left, right = left[pair], right[pair]
    overlap_m2 = shapely.area(shapely.intersection(geoms[left], geoms[right]))
    area_m2 = shapely.area(geoms)
    bad = overlap_m2 > tolerance * np.minimum(area_m2[left], area_m2[right])
    labels = child["label"].to_numpy()
    a, b, overlap = labels[left[bad]], labels[right[bad]], overlap_m2[bad]
    found.per_feature(
        name,
        list(a),
        "sibling_overlap",
        lambda i: (
            f"{_ONE[name]} {a[i]} and its sibling {b[i]} overlap by {overlap[i]:,.0f} m² "
            f"({overlap[i] / min(area_m2[left[bad]][i], area_m2[right[bad]][i]):.1%} "
            "of the smaller)"
        ),
        f"overlapping features in {name!r}",
        "redraw the shared boundary so each place belongs to exactly one feature",
    )


def _check_gaps(
    child: gpd.GeoDataFrame,
    name: str,
    key: str,
    parents: gpd.GeoDataFrame,
    parent_name: str,
    tolerance: float,
    found: _Collector,
) -> None:
    covered = child[child[key].isin(parents.index)].dissolve(by=key).geometry
    parent_geoms = parents.geometry.to_numpy()
    union = covered.reindex(parents.index).to_numpy()
    has_children = ~pd.isna(union)
    gap = parent_geoms.copy()
    gap[has_children] = shapely.difference(parent_geoms[has_children], union[has_children])
    gap_m2 = shapely.area(gap)
    area_m2 = shapely.area(parent_geoms)
    share = np.divide(gap_m2, area_m2, out=np.zeros_like(area_m2), where=area_m2 > 0)
    bad = share > tolerance
    labels = parents["label"].to_numpy()
    found.per_feature(
        parent_name,
        list(labels[bad]),
        "coverage_gap",
        lambda i: (
            f"{_ONE[parent_name]} {labels[bad][i]} has {gap_m2[bad][i]:,.0f} m² "
            f"({share[bad][i]:.1%}) covered by none of its {name}"
            + ("" if has_children[bad][i] else f" (it has no {name} at all)")
        ),
        f"features of {parent_name!r} not fully covered by their {name}",
        f"extend its {name} to cover the whole {_ONE[parent_name]}, or add a "
        f"{_ONE[name]} for the rest",
        "warning",
    )


def _check_incidents_in_area(
    geo: Mapping[str, gpd.GeoDataFrame],
    metric_crs: CRS,
    buffer_m: float,
    found: _Collector,
) -> None:
    incidents = geo.get("incidents")
    area_name = next((name for name in AREA_LAYERS if name in geo), None)
    if incidents is None or area_name is None:
        return
    area = geo[area_name].to_crs(metric_crs).geometry.to_numpy()
    points = incidents.to_crs(metric_crs).geometry.to_numpy()
    near, _ = shapely.STRtree(area).query(points, predicate="dwithin", distance=buffer_m)
    outside = np.ones(len(points), dtype=bool)
    outside[near] = False
    if not outside.any():
        return
    labels = incidents["label"].to_numpy()[outside]
    samples = ", ".join(labels[:MAX_LISTED])
    found.add(
        "incidents",
        labels[0] if len(labels) == 1 else None,
        "outside_area",
        f"{len(labels):,} of {len(points):,} incidents lie more than {buffer_m:,.0f} m "
        f"outside the {area_name} (e.g. {samples})",
        f"check their coordinates (CRS, swapped lat/lon) or extend the {area_name}; "
        "they are ignored for this area",
        "warning",
    )
