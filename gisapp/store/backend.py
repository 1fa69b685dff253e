"""What a workspace asks of the place it is stored: the storage backend interface.

A :class:`gisapp.store.workspace.Workspace` is the same object for every store; what
differs between a GeoPackage file (:mod:`gisapp.store.geopackage`, the default) and a
PostGIS schema (:mod:`gisapp.store.postgis`) sits behind :class:`StorageBackend`: reading a
layer, listing the layers and metadata, applying one save as one transaction, the version
stamps, the write lock, copying the workspace out as a GeoPackage, and counting incidents
per area where they are stored (:class:`CountQuery`, :func:`count_in_areas`).

Layers cross this interface in their *stored* form: EPSG:4326, times in UTC, text ids.
The functions here make a frame storable and turn stored times back into local ones, the
same for every backend.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol, TypeAlias
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import geopandas as gpd
import numpy as np
import pandas as pd

from gisapp.errors import WorkspaceError
from layers.i18n import _
from layers.schema import LAYERS, STORAGE_CRS

if TYPE_CHECKING:
    from layers.validate.pileups import PileupRule, Pileups

#: The table holding a workspace's metadata (name, time zone, layer notes, ...).
META_TABLE = "gisapp_meta"
#: Tables a workspace keeps for itself, never layers.
RESERVED_TABLES = frozenset(
    {META_TABLE, "gisapp_layers", "gisapp_version", "gisapp_schema_version"}
)
#: How long a save waits for another one to finish before giving up.
WRITE_TIMEOUT_S = 60.0

#: A workspace layer: a GeoDataFrame, or a DataFrame for a table such as ``units``.
Frame: TypeAlias = gpd.GeoDataFrame | pd.DataFrame
#: Layer name -> (key column, the keys whose rows a save replaces).
Keyed: TypeAlias = Mapping[str, tuple[str, Collection[str]]]


class StorageBackend(Protocol):
    """Where one workspace's layers, metadata and version stamp are kept.

    Every method reads or writes the store as it is now (other processes may save into it
    between two calls); :meth:`save` changes it in one transaction.
    """

    @property
    def location(self) -> str:
        """Where the workspace is, as a user gives it (a file path, a database URL)."""
        ...

    @property
    def label(self) -> str:
        """How messages name the workspace (a file name, a schema and database)."""
        ...

    @property
    def default_name(self) -> str:
        """The workspace's name when its metadata has none."""
        ...

    @property
    def path(self) -> Path | None:
        """The workspace file, or None when the workspace is not a file."""
        ...

    def stamp(self) -> str:
        """A version stamp that changes with every committed save."""
        ...

    def read_state(self) -> tuple[dict[str, str], list[str]]:
        """The metadata and the names of the stored layers (in stored order)."""
        ...

    def read_layer(self, name: str) -> Frame:
        """Layer ``name`` as stored (UTC times, EPSG:4326)."""
        ...

    def layer_version(self, name: str) -> str:
        """A stamp of layer ``name``'s stored content alone ("" when it is not stored)."""
        ...

    def write_lock(self) -> AbstractContextManager[None]:
        """Keep other savers (other threads and processes) out; re-entrant in a thread."""
        ...

    def save(
        self,
        frames: Mapping[str, Frame],
        *,
        meta_pairs: list[tuple[str, str]],
        drop: set[str],
        keyed: Keyed,
    ) -> None:
        """Apply one save in one transaction; the caller holds :meth:`write_lock`."""
        ...

    def modified(self) -> pd.Timestamp:
        """When the workspace was last written (UTC)."""
        ...

    def copy_to_geopackage(self, path: Path) -> None:
        """Write one consistent version of the workspace as a new GeoPackage at ``path``."""
        ...

    def open_geopackage(self) -> BinaryIO:
        """One consistent version of the workspace as a GeoPackage stream."""
        ...

    def incident_counts(self, query: CountQuery) -> pd.DataFrame:
        """Incidents per area of ``query`` (see :func:`count_in_areas` for the rule)."""
        ...

    def incident_profile(self, query: ProfileQuery) -> IncidentProfile:
        """What must be known of the incidents before counting them (see :func:`profile`)."""
        ...


@dataclass(frozen=True)
class CountSlice:
    """One slice of time to count incidents in: a period and a shift window, stored form.

    Parameters
    ----------
    start_utc, end_utc
        The period, half-open, in UTC; None for no bound.
    window_min
        The shift window as minutes of the local day ``(start, end)``; an end not after
        the start crosses midnight, equal ends mean the whole day; None for every hour.
    """

    start_utc: pd.Timestamp | None
    end_utc: pd.Timestamp | None
    window_min: tuple[int, int] | None = None


@dataclass(frozen=True)
class CountQuery:
    """Which incidents to count per area, checked and in the stored form.

    Parameters
    ----------
    areas_layer
        The polygon layer (``grids``, ``communities``, ``subdistricts``) with an ``id``.
    start_utc, end_utc
        The period, half-open, in UTC; None for no bound. Used when ``slices`` is empty.
    window_min
        The shift window as minutes of the local day ``(start, end)``; an end not after
        the start crosses midnight, equal ends mean the whole day; None for every hour.
        Used when ``slices`` is empty.
    timezone
        The zone the window's clock times are read in.
    categories
        Incident categories to count (the ``category`` field); None for all.
    slices
        Several periods and windows counted in one query (an incident counts in every
        slice holding it); when empty, the one slice of ``start_utc``, ``end_utc`` and
        ``window_min``.
    by
        Incident fields to break the counts down by (e.g. ``("category",)``).
    exclude_rows
        Stored row numbers of incidents left out (those at pile-ups,
        :attr:`IncidentProfile.pileup_rows`).
    cell
        ``(EPSG code, side in metres)``: break the counts down by square cell of a metric
        CRS, numbered ``row`` = floor(y / side) and ``col`` = floor(x / side).
    """

    areas_layer: str
    start_utc: pd.Timestamp | None
    end_utc: pd.Timestamp | None
    window_min: tuple[int, int] | None
    timezone: str
    categories: tuple[str, ...] | None = None
    slices: tuple[CountSlice, ...] = ()
    by: tuple[str, ...] = ()
    exclude_rows: tuple[int, ...] = ()
    cell: tuple[int, float] | None = None

    def all_slices(self) -> tuple[CountSlice, ...]:
        """The slices counted: ``slices``, or the one of the period and window."""
        return self.slices or (CountSlice(self.start_utc, self.end_utc, self.window_min),)

    def span_utc(self) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
        """The smallest period holding every slice (None where a slice is unbounded)."""
        slices = self.all_slices()
        starts = [s.start_utc for s in slices]
        ends = [s.end_utc for s in slices]
        start = None if any(v is None for v in starts) else min(v for v in starts if v is not None)
        end = None if any(v is None for v in ends) else max(v for v in ends if v is not None)
        return start, end


#: How far from an area a point still counts as on its edge (as ``assign_points`` does).
ON_EDGE_M = 0.01


#: The columns of :meth:`StorageBackend.incident_counts`'s answer besides ``by`` and cells.
COUNT_COLUMNS = ("area_id", "slice", "incidents")


def counts_frame(
    area_ids: list[str], rows: list[tuple[Any, ...]], query: CountQuery
) -> pd.DataFrame:
    """The answer of :meth:`StorageBackend.incident_counts`, the same from every store.

    Parameters
    ----------
    area_ids
        The areas' ids in stored order.
    rows
        ``(area position or None, slice, *by values, [row, col], incidents)`` for every
        combination holding at least one incident; None for the incidents in no area.

    Returns
    -------
    pandas.DataFrame
        ``area_id`` (<NA> for incidents in no area), ``slice`` (position in
        :meth:`CountQuery.all_slices`), one column per ``by`` field (values as Python
        objects, None when missing), ``row`` and ``col`` when counted by cell, and
        ``incidents``; only combinations with incidents, sorted by slice, area (stored
        order, no area last), ``by`` values and cell. ``attrs["area_ids"]`` lists the
        areas in stored order.
    """
    by = list(query.by) + (["row", "col"] if query.cell is not None else [])
    columns = ["position", "slice", *by, "incidents"]
    frame = (
        pd.DataFrame.from_records(rows, columns=columns)
        if rows
        else pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    )
    position = pd.to_numeric(frame["position"]).fillna(len(area_ids)).astype(np.int64)
    frame["position"] = position
    for column in query.by:
        frame[column] = pd.Series(
            [None if _missing(v) else _plain(v) for v in frame[column]],
            index=frame.index,
            dtype=object,
        )
    sort_keys = ["slice", "position", *[f"_{c}" for c in query.by]]
    for column in query.by:
        frame[f"_{column}"] = [("" if v is None else str(v)) for v in frame[column]]
    if query.cell is not None:
        sort_keys += ["row", "col"]
        frame["row"] = frame["row"].astype(np.int64)
        frame["col"] = frame["col"].astype(np.int64)
    frame = frame.sort_values(sort_keys, kind="stable").reset_index(drop=True)
    ids = np.asarray([*area_ids, None], dtype=object)
    out = pd.DataFrame(
        {
            "area_id": pd.Series(ids[frame["position"].to_numpy()], dtype="string"),
            "slice": frame["slice"].astype(np.int64),
        }
    )
    for column in query.by:
        out[column] = pd.Series(frame[column].to_list(), dtype=object)
    if query.cell is not None:
        out["row"] = frame["row"].to_numpy(dtype=np.int64)
        out["col"] = frame["col"].to_numpy(dtype=np.int64)
    out["incidents"] = frame["incidents"].astype(np.int64).to_numpy()
    out.attrs["area_ids"] = list(area_ids)
    return out


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value a database driver gives."""
    return value.item() if isinstance(value, np.generic) else value


def per_area(frame: pd.DataFrame, *, slice_: int = 0) -> pd.DataFrame:
    """One slice of an :meth:`StorageBackend.incident_counts` answer, one row per area.

    Returns
    -------
    pandas.DataFrame
        ``area_id`` and ``incidents`` in stored order (zeros included);
        ``attrs["outside"]`` counts the incidents in no area.
    """
    chosen = frame[frame["slice"] == slice_]
    inside = chosen[chosen["area_id"].notna()].groupby("area_id")["incidents"].sum()
    ids = list(frame.attrs.get("area_ids", []))
    result = pd.DataFrame(
        {
            "area_id": pd.Series(ids, dtype="string"),
            "incidents": inside.reindex(ids, fill_value=0).to_numpy(dtype=np.int64),
        }
    )
    result.attrs["outside"] = int(chosen.loc[chosen["area_id"].isna(), "incidents"].sum())
    return result


def count_in_areas(
    incidents: gpd.GeoDataFrame, areas: gpd.GeoDataFrame, query: CountQuery
) -> pd.DataFrame:
    """Incidents per area as :func:`routing.grids.workload.incidents_by_grid` counts them.

    Each incident counts once per slice holding it: in the area holding it; a point on
    (within about 1 cm of) the edge of several areas goes to the one whose centroid is
    nearest, in the areas' UTM zone, and on a tie to the first area in stored order.
    Incidents without a time or a point, outside the slices, the categories or left out
    by row are not counted; those counted but in no area have no ``area_id``.

    Parameters
    ----------
    incidents
        Stored incidents (``occurred_at`` in UTC, ``category`` when filtered on, the
        ``by`` fields), indexed by stored row number.
    areas
        The stored polygons with ``id``, in stored order.
    query
        What to count.

    Returns
    -------
    pandas.DataFrame
        See :func:`counts_frame`.
    """
    from routing.grids.measure import assign_points

    if "id" not in areas.columns:
        raise WorkspaceError(no_area_ids(query.areas_layer))
    for column in query.by:
        if column not in incidents.columns:
            raise WorkspaceError(no_incident_field(column))
    times = pd.to_datetime(incidents["occurred_at"], errors="coerce", utc=True)
    keep = times.notna().to_numpy() & ~(
        incidents.geometry.isna().to_numpy() | incidents.geometry.is_empty.to_numpy()
    )
    if query.exclude_rows:
        keep &= ~incidents.index.isin(query.exclude_rows)
    if query.categories is not None:
        if "category" not in incidents.columns:
            raise WorkspaceError(no_category_field())
        keep &= incidents["category"].astype(str).isin(query.categories).to_numpy()
    chosen = incidents.loc[keep]
    times = times[keep]
    ids = areas["id"].astype(str).tolist()
    if len(areas) and len(chosen):
        position = assign_points(chosen, areas).to_numpy()
    else:
        position = np.full(len(chosen), -1, dtype=np.int64)
    keys: dict[str, Any] = {"position": np.where(position >= 0, position, len(ids))}
    for column in query.by:
        keys[column] = chosen[column].to_numpy(dtype=object)
    if query.cell is not None:
        epsg, side_m = query.cell
        metric = chosen.geometry.to_crs(epsg=epsg)
        keys["row"] = np.floor(metric.y.to_numpy() / side_m).astype(np.int64)
        keys["col"] = np.floor(metric.x.to_numpy() / side_m).astype(np.int64)
    table = pd.DataFrame(keys, index=chosen.index)
    names = list(table.columns)
    minute = None
    rows: list[tuple[Any, ...]] = []
    for k, part in enumerate(query.all_slices()):
        inside = np.ones(len(chosen), dtype=bool)
        if part.start_utc is not None:
            inside &= (times >= part.start_utc).to_numpy()
        if part.end_utc is not None:
            inside &= (times < part.end_utc).to_numpy()
        if part.window_min is not None:
            if minute is None:
                local = times.dt.tz_convert(query.timezone)
                minute = (local.dt.hour * 60 + local.dt.minute).to_numpy()
            inside &= in_window(minute, part.window_min)
        if not inside.any():
            continue
        counted = table.loc[inside].groupby(names, sort=False, dropna=False).size()
        for key, n in counted.items():
            values = list(key) if isinstance(key, tuple) else [key]
            where = int(values[0])  # type: ignore[arg-type]
            rows.append((None if where == len(ids) else where, k, *values[1:], int(n)))
    return counts_frame(ids, rows, query)


def no_category_field() -> str:
    """The message for choosing categories among incidents that have none."""
    return _(
        "the incidents have no 'category' field to choose categories by; "
        "re-import them with their categories, or count every category"
    )


def no_incident_field(field: str) -> str:
    """The message for counting by an incident field the layer does not have."""
    return _(
        "the incidents have no %(field)r field to count by; re-import them with it, or "
        "count without it",
        field=field,
    )


@dataclass(frozen=True)
class ProfileQuery:
    """What :meth:`StorageBackend.incident_profile` looks at.

    Parameters
    ----------
    timezone
        The zone of the days listed for implausible times.
    keep_pileups
        Whether the incidents at pile-ups stay in the time figures (untimed, implausible).
    pileup_rule
        When a point holding many incidents is a pile-up.
    now_utc
        The time after which (plus a day) an incident time is in the future.
    """

    timezone: str
    keep_pileups: bool
    pileup_rule: PileupRule
    now_utc: pd.Timestamp


@dataclass(frozen=True)
class IncidentProfile:
    """What must be known of a workspace's incidents before counting them.

    Parameters
    ----------
    incidents
        Rows of the incident layer.
    categories
        ``category`` (the stored value, None when missing) and ``incidents``, one row per
        stored value in order of first appearance; empty without a ``category`` field.
    has_category
        Whether the layer has a ``category`` field.
    complete_fields
        Whether every incident has its own ``group``, ``severity`` and ``preventable``.
    pileups
        The pile-ups (``layers.validate.pileups.find_pileups``); its ``at_pileup`` holds
        only the incidents at pile-ups, indexed by stored row number.
    untimed
        Incidents without a readable time (those at pile-ups left out unless kept).
    plausible_utc
        The first and last plausible time (``layers.validate.dates.stray_dates``), both
        included; every time between them is plausible. None without timed incidents.
    stray
        Incidents with implausible times.
    stray_days
        Their local days (``YYYY-MM-DD``), sorted.
    """

    incidents: int
    categories: pd.DataFrame
    has_category: bool
    complete_fields: bool
    pileups: Pileups
    untimed: int
    plausible_utc: tuple[pd.Timestamp, pd.Timestamp] | None
    stray: int
    stray_days: tuple[str, ...]

    @property
    def pileup_rows(self) -> tuple[int, ...]:
        """Stored row numbers of the incidents at pile-ups."""
        return tuple(int(i) for i in self.pileups.at_pileup.index[self.pileups.at_pileup])


#: Incident fields that, when every incident has them, stand for a category table.
CATEGORY_FIELDS = ("group", "severity", "preventable")


def profile(
    incidents: gpd.GeoDataFrame, stations: gpd.GeoDataFrame | None, query: ProfileQuery
) -> IncidentProfile:
    """The :class:`IncidentProfile` of stored incidents, as :func:`load_incidents` sees them.

    Parameters
    ----------
    incidents
        The stored incident layer, indexed by stored row number.
    stations
        The stored stations (to name the pile-ups), or None.
    query
        What to look at.
    """
    from layers.validate.dates import stray_dates
    from layers.validate.pileups import Pileups, find_pileups

    has_category = "category" in incidents.columns
    if has_category:
        codes, values = pd.factorize(incidents["category"], use_na_sentinel=False)
        categories = pd.DataFrame(
            {
                "category": [None if _missing(v) else _plain(v) for v in values],
                "incidents": np.bincount(codes, minlength=len(values)).astype(np.int64),
            }
        )
    else:
        categories = pd.DataFrame({"category": [], "incidents": []})
    complete = all(
        f in incidents.columns and bool(incidents[f].notna().all()) for f in CATEGORY_FIELDS
    )
    found = find_pileups(incidents, stations=stations, rule=query.pileup_rule)
    at_pileup = found.at_pileup
    pileups = Pileups(found.places, at_pileup[at_pileup])
    kept = incidents if query.keep_pileups else incidents.loc[~at_pileup.to_numpy()]
    times = pd.to_datetime(kept["occurred_at"], errors="coerce", utc=True)
    timed = times.dropna()
    stray = stray_dates(timed)
    plausible = timed[~stray]
    local = timed[stray].dt.tz_convert(query.timezone)
    return IncidentProfile(
        incidents=len(incidents),
        categories=categories,
        has_category=has_category,
        complete_fields=complete,
        pileups=pileups,
        untimed=int(times.isna().sum()),
        plausible_utc=(plausible.min(), plausible.max()) if len(plausible) else None,
        stray=int(stray.sum()),
        stray_days=tuple(sorted({f"{t:%Y-%m-%d}" for t in local})),
    )


def no_area_ids(layer: str) -> str:
    """The message for an areas layer whose polygons have no ``id`` to count by."""
    return _(
        "layer %(layer)r has no 'id' field to count incidents by; re-import it with "
        "an id for every area",
        layer=layer,
    )


def in_window(minute: Any, window_min: tuple[int, int]) -> Any:
    """Whether minutes of the local day fall in the window (crossing midnight or not)."""
    start, end = window_min
    if start < end:
        return (minute >= start) & (minute < end)
    if start > end:
        return (minute >= start) | (minute < end)
    return np.ones(np.shape(minute), dtype=bool)


def is_database_url(location: str) -> bool:
    """Whether ``location`` names a PostGIS workspace (``postgresql://...``)."""
    return location.startswith(("postgresql://", "postgres://"))


def location_label(location: str) -> str:
    """How messages name the workspace at ``location`` before it is opened, as its
    backend's ``label`` does: a file's name, or schema and database (no password)."""
    return DatabaseURL(location).label if is_database_url(location) else Path(location).name


def shown_location(location: str) -> str:
    """``location`` as a message may show it: a database URL without its password."""
    if not is_database_url(location):
        return location
    parts = urlsplit(location)
    if parts.password is None:
        return location
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + netloc))


class DatabaseURL:
    """A PostGIS workspace location, parsed: connection settings and schema."""

    def __init__(self, location: str) -> None:
        parts = urlsplit(location)
        query = dict(parse_qsl(parts.query))
        self.location = location
        self.schema = query.pop("schema", "") or "public"
        self.conninfo = urlunsplit(parts._replace(query=urlencode(query)))
        self.database = parts.path.lstrip("/") or parts.username or "postgres"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or 5432

    @property
    def label(self) -> str:
        """Schema and database, without the password: ``precinct_7@gis``."""
        return f"{self.schema}@{self.database}"


def busy_error(label: str, timeout_s: float) -> WorkspaceError:
    """The message for a save that waited too long for another one."""
    return WorkspaceError(
        _(
            "workspace %(workspace)r is busy: another save into it (or an edit in another "
            "program, e.g. QGIS) has not finished within %(seconds).0f seconds; "
            "try again when it is done",
            workspace=label,
            seconds=timeout_s,
        )
    )


def meta_text(value: Any) -> str:
    """A metadata value as stored: text as it is, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def check_layer_names(names: Collection[str]) -> None:
    """Refuse layer names the workspace keeps for itself."""
    for name in names:
        if name in RESERVED_TABLES:
            raise WorkspaceError(_("%(name)r is reserved for workspace metadata", name=name))


def empty_layer(name: str) -> Frame:
    """An empty data-model layer with its fields (a table or a layer with geometry)."""
    spec = LAYERS.get(name)
    columns = list(spec.fields) if spec else []
    if spec is None or spec.is_table:
        return pd.DataFrame(columns=columns)
    return gpd.GeoDataFrame(
        columns=columns, geometry=gpd.GeoSeries([], crs=STORAGE_CRS), crs=STORAGE_CRS
    )


def local_times(values: pd.Series, timezone: str) -> pd.Series:
    """Stored times in the workspace's time zone (unreadable ones become NaT)."""
    times = pd.to_datetime(values, errors="coerce", utc=True)
    return times.dt.tz_convert(timezone)


def storable(frame: Frame, timezone: str) -> Frame:
    """A copy ready for storing: EPSG:4326, UTC times, text ids."""
    out = frame.copy()
    if isinstance(out, gpd.GeoDataFrame):
        if out.crs is None:
            raise WorkspaceError(
                _("a layer without a CRS cannot be saved; set its CRS before saving")
            )
        if not out.crs.equals(STORAGE_CRS):
            out = out.to_crs(STORAGE_CRS)
    for column in out.columns:
        series = out[column]
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            out[column] = series.dt.tz_convert("UTC")
        elif pd.api.types.is_datetime64_dtype(series.dtype):
            # Naive times are local to the workspace, by convention.
            out[column] = series.dt.tz_localize(
                timezone, ambiguous="NaT", nonexistent="NaT"
            ).dt.tz_convert("UTC")
    if "id" in out.columns:
        out["id"] = out["id"].astype("string")
    return out


def frame_like(merged: pd.DataFrame, new: Frame) -> Frame:
    """``merged`` as the same kind of frame as ``new`` (spatial or a table)."""
    if isinstance(new, gpd.GeoDataFrame):
        return gpd.GeoDataFrame(merged, geometry=new.geometry.name, crs=new.crs)
    return pd.DataFrame(merged)
