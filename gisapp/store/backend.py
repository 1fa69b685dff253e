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
from typing import Any, BinaryIO, Protocol, TypeAlias
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import geopandas as gpd
import numpy as np
import pandas as pd

from gisapp.errors import WorkspaceError
from layers.i18n import _
from layers.schema import LAYERS, STORAGE_CRS

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


@dataclass(frozen=True)
class CountQuery:
    """Which incidents to count per area, checked and in the stored form.

    Parameters
    ----------
    areas_layer
        The polygon layer (``grids``, ``communities``, ``subdistricts``) with an ``id``.
    start_utc, end_utc
        The period, half-open, in UTC; None for no bound.
    window_min
        The shift window as minutes of the local day ``(start, end)``; an end not after
        the start crosses midnight, equal ends mean the whole day; None for every hour.
    timezone
        The zone the window's clock times are read in.
    categories
        Incident categories to count (the ``category`` field); None for all.
    """

    areas_layer: str
    start_utc: pd.Timestamp | None
    end_utc: pd.Timestamp | None
    window_min: tuple[int, int] | None
    timezone: str
    categories: tuple[str, ...] | None = None


#: How far from an area a point still counts as on its edge (as ``assign_points`` does).
ON_EDGE_M = 0.01


def counts_frame(area_ids: list[str], counts: Any, *, outside: int) -> pd.DataFrame:
    """The answer of :meth:`StorageBackend.incident_counts`: ``area_id``, ``incidents``.

    ``attrs["outside"]`` holds the incidents counted that lie in no area.
    """
    frame = pd.DataFrame(
        {
            "area_id": pd.Series(area_ids, dtype="string"),
            "incidents": np.asarray(counts, dtype=np.int64),
        }
    )
    frame.attrs["outside"] = int(outside)
    return frame


def count_in_areas(
    incidents: gpd.GeoDataFrame, areas: gpd.GeoDataFrame, query: CountQuery
) -> pd.DataFrame:
    """Incidents per area as :func:`routing.grids.workload.incidents_by_grid` counts them.

    Each incident counts once: in the area holding it; a point on (within about 1 cm of)
    the edge of several areas goes to the one whose centroid is nearest, in the areas'
    UTM zone, and on a tie to the first area in stored order. Incidents without a time or
    a point, outside the period, the window or the categories are not counted; those
    counted but in no area make ``attrs["outside"]``.

    Parameters
    ----------
    incidents
        Stored incidents (``occurred_at`` in UTC, ``category`` when filtered on).
    areas
        The stored polygons with ``id``, in stored order.
    query
        What to count.
    """
    from routing.grids.measure import assign_points

    if "id" not in areas.columns:
        raise WorkspaceError(no_area_ids(query.areas_layer))
    times = pd.to_datetime(incidents["occurred_at"], errors="coerce", utc=True)
    keep = times.notna().to_numpy() & ~(
        incidents.geometry.isna().to_numpy() | incidents.geometry.is_empty.to_numpy()
    )
    if query.start_utc is not None:
        keep &= (times >= query.start_utc).to_numpy()
    if query.end_utc is not None:
        keep &= (times < query.end_utc).to_numpy()
    if query.window_min is not None:
        local = times.dt.tz_convert(query.timezone)
        minute = (local.dt.hour * 60 + local.dt.minute).to_numpy()
        keep &= in_window(minute, query.window_min)
    if query.categories is not None:
        if "category" not in incidents.columns:
            raise WorkspaceError(
                _(
                    "the incidents have no 'category' field to choose categories by; "
                    "re-import them with their categories, or count every category"
                )
            )
        keep &= incidents["category"].astype(str).isin(query.categories).to_numpy()
    chosen = incidents.loc[keep]
    ids = areas["id"].astype(str).tolist()
    if not len(areas) or not len(chosen):
        return counts_frame(ids, np.zeros(len(areas)), outside=len(chosen))
    position = assign_points(chosen, areas).to_numpy()
    inside = position >= 0
    counts = np.bincount(position[inside], minlength=len(areas))
    return counts_frame(ids, counts, outside=int((~inside).sum()))


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
