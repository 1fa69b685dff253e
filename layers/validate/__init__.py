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
``unclosed_ring`` [repaired, or error when ``repair=False``]
    A polygon ring whose last point is not its first, closed on reading
    (:mod:`layers.validate.rings`).
``invalid_geometry`` [repaired, or error when ``repair=False`` or nothing usable is left]
    Invalid geometry (self-intersection...), repaired with ``shapely.make_valid`` after
    dropping holes that lie outside their shell (``make_valid`` would add them as extra
    pieces); polygon layers keep only the polygonal part. The message gives the reason
    and where, in words, and what the repair did (e.g. "split into 2 parts").
``missing_crs`` [error]
    The layer has no CRS (e.g. a shapefile without its ``.prj``) and its coordinates are
    not lon/lat degrees (from :func:`layers.crs.to_storage_crs`).
``crs_assumed`` [warning]
    The layer has no CRS but lon/lat-looking coordinates: EPSG:4326 was assumed.
``reprojected`` [repaired]
    The layer was in another CRS and was reprojected to EPSG:4326.
``implausible_coordinates`` [error]
    Coordinates outside ±180/±90 in a geographic CRS: usually metres labelled as degrees.
``null_island`` [error]
    A feature at longitude 0, latitude 0: blank coordinates read as zero.
``swapped_lat_lon`` [error]
    Latitude and longitude are swapped: x within ±90 with y beyond ±90, or the layer lies
    away from every other layer while its swapped copy overlaps them, or (with a
    ``workspace``) a feature outside the workspace's area whose swapped copy is inside.
``unknown_mode`` [error]
    A unit's ``mode`` is not one of :data:`layers.schema.UNIT_MODES`.
``generated_id`` [repaired]
    A point layer (incidents, stations, duty points, key places, cameras) had no ``id``
    field: ids were made from the row order and the layer (``inc-000001`` ...). Ids that
    are missing or repeated in an existing ``id`` field stay errors.
``missing_time`` [warning]
    An incident has no ``occurred_at``; it is kept with a missing time (``NaT``).
``unparseable_time`` [warning]
    An incident's ``occurred_at`` cannot be read as a date and time; it is kept with a
    missing time.
``undated_incidents`` [warning]
    How many incidents (count and share) have no readable time; all of them, too.
``no_time_field`` [warning]
    The incidents have no ``occurred_at`` field: all are kept without a time.
``implausible_time`` [error]
    An incident's time lies outside the plausible window (``time_window``, by default
    1990-01-01 to one day after now): placeholders such as 0001-01-01 or 9999-12-31.
``stray_time`` [warning]
    A few incidents (at most 1%) dated two years or more apart from all the others
    (``layers.validate.dates.stray_dates``); kept, and left out of time figures.
``ambiguous_time`` [warning]
    A wall-clock time in the hour repeated when DST ends; the first (daylight) one is taken.
``nonexistent_time`` [warning]
    A wall-clock time in the hour skipped when DST starts; it is moved one hour later.
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
``unknown_unit`` [error]
    ``grids.unit_id`` names a unit that does not exist (when there is a ``units`` table).
``ambiguous_station`` [error]
    ``units.station_id`` names an id used both by a station and by a duty point.
``not_nested`` [error]
    More than ``area_tolerance`` of a feature's area lies outside its parent.
``sibling_overlap`` [error]
    Two features with the same parent overlap by more than ``area_tolerance`` of the
    smaller one (and at most half of it): :mod:`layers.repair` can repair it on import.
``sibling_duplicate`` [error]
    Two features with the same parent overlap by more than half of the smaller one:
    likely the same area twice, never repaired.
``coverage_gap`` [warning]
    More than ``area_tolerance`` of a parent is covered by none of its children.
``outside_area`` [warning]
    Incidents farther than ``area_buffer_m`` from every area polygon (one problem per
    layer with the count and sample ids).
``disjoint_layer`` [warning]
    A spatial layer does not overlap any other layer, even with lat/lon swapped.
``incident_pileup`` [warning]
    Many incidents on one point (a reporting desk, a station, a default address): one
    problem per point with its place, count and the station on it (``pileups``).

Against a workspace (``validate_layers(new_layers, workspace=its_layers)``):

``outside_workspace`` [error]
    No feature of a new layer lies within ``area_buffer_m`` of the workspace's area (its
    outermost area layer not being replaced, else its roads' extent); the message gives
    the distance.
``outside_area`` [warning]
    Some features of a new layer (other than incidents) lie outside that area.

Before reading, :func:`layers.validate.files.check_source_file` refuses a truncated
GeoPackage, duplicate column or property names (CSV, GeoJSON, DBF) and a CRS that is
not known (GeoJSON ``crs``, ``.prj``), raising :class:`~layers.errors.LayerError`.

Modules
-------
``run``
    :func:`validate_layers`, :func:`validate_layer`.
``report``
    :class:`ValidationReport` and the collector of problems.
``layer``, ``attributes``, ``geometry``, ``incidents``
    The checks of one layer on its own.
``references``, ``hierarchy``, ``pileups``
    The checks across layers: ids, then nesting, overlaps, gaps and placement; incident
    pile-ups.
``categories``
    The ``categories`` table (``bad_category_table`` [error]).
``workspace``
    New layers against the workspace they are meant for.
``files``, ``rings``
    Checks of a file before it is read; rings closed on reading.
"""

from __future__ import annotations

from layers.validate.hierarchy import AREA_LAYERS
from layers.validate.report import MAX_LISTED, ValidationReport
from layers.validate.run import validate_layer, validate_layers

__all__ = ["AREA_LAYERS", "MAX_LISTED", "ValidationReport", "validate_layer", "validate_layers"]
