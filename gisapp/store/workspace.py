"""The workspace: the input layers and every saved result, in a GeoPackage or in PostGIS.

A :class:`Workspace` is the one object services, views and commands hold. Where it is
stored is its backend's business (:mod:`gisapp.store.backend`): a location such as
``postgresql://user@host:5432/db?schema=precinct_7`` opens a PostGIS schema
(:mod:`gisapp.store.postgis`), anything else a GeoPackage file
(:mod:`gisapp.store.geopackage`, the default: one file that opens in QGIS).

Spatial layers are stored in EPSG:4326, times in UTC; the table ``gisapp_meta`` records
the workspace's name, time zone and where each layer came from (``layer_notes``). Every
save is one transaction of the store: readers see the content before or after it, two
saves at the same time both keep their work, and a crash leaves the previous content.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import geopandas as gpd
import pandas as pd

from gisapp.errors import WorkspaceError
from gisapp.store.backend import (
    CountQuery,
    Frame,
    IncidentProfile,
    Keyed,
    ProfileQuery,
    StorageBackend,
    check_layer_names,
    empty_layer,
    is_database_url,
    local_times,
    meta_text,
    per_area,
    shown_location,
    storable,
)
from layers.i18n import _
from layers.schema import LAYERS

if TYPE_CHECKING:
    from layers.validate import ValidationReport


def _backend_at(location: str | os.PathLike[str]) -> StorageBackend:
    """The backend of an existing workspace at ``location``."""
    text = os.fspath(location)
    if is_database_url(text):
        from gisapp.store.postgis import PostGISBackend

        return PostGISBackend.open(text)
    from gisapp.store.geopackage import GeoPackageBackend

    return GeoPackageBackend.open(Path(text))


class Workspace:
    """An open workspace.

    Use :meth:`open` for an existing workspace and :meth:`create` to write a new one.
    Layers are read on demand and returned as fresh copies; callers may change them
    freely and :meth:`save` what they want to keep. The layer names and metadata follow
    the store: after another process saved into it they are read again.
    """

    def __init__(
        self,
        backend: StorageBackend,
        meta: dict[str, str],
        layer_names: list[str],
        *,
        stamp: str | None = None,
    ) -> None:
        self._backend = backend
        self._meta = meta
        self._layer_names = layer_names
        # The store's stamp when ``meta`` and ``layer_names`` were read.
        self._stamp = backend.stamp() if stamp is None else stamp

    # -- opening and creating ---------------------------------------------------------
    @classmethod
    def open(cls, location: str | os.PathLike[str]) -> Workspace:
        """Open an existing workspace: a GeoPackage path or a ``postgresql://`` URL.

        Raises
        ------
        WorkspaceError
            If there is no workspace there, or it cannot be read.
        """
        backend = _backend_at(location)
        stamp = backend.stamp()
        meta, layer_names = backend.read_state()
        return cls(backend, meta, layer_names, stamp=stamp)

    @classmethod
    def create(
        cls,
        location: str | os.PathLike[str],
        layers: Mapping[str, Frame],
        *,
        meta: Mapping[str, Any] | None = None,
        overwrite: bool = False,
    ) -> Workspace:
        """Write a new workspace from layers and metadata, atomically.

        Over an existing workspace (``overwrite``) the whole content is replaced in one
        transaction, so its readers see the old workspace or the new one.

        Raises
        ------
        WorkspaceError
            If a workspace exists there and ``overwrite`` is false.
        """
        text = os.fspath(location)
        check_layer_names(list(layers))
        if is_database_url(text):
            from gisapp.store import postgis as store_module
        else:
            from gisapp.store import geopackage as store_module  # type: ignore[no-redef]
        full_meta = {"name": store_module.default_name(text), "timezone": "UTC"}
        full_meta["layer_notes"] = "{}"
        full_meta.update({k: meta_text(v) for k, v in (meta or {}).items()})
        frames = {name: storable(frame, full_meta["timezone"]) for name, frame in layers.items()}
        store_module.create(text, frames, full_meta, overwrite=overwrite)
        return cls.open(text)

    # -- queries ------------------------------------------------------------------------
    @property
    def meta(self) -> dict[str, str]:
        """The workspace's metadata (name, time zone, layer notes, last plan KPIs...)."""
        self._follow_store()
        return self._meta

    @property
    def name(self) -> str:
        return self.meta.get("name") or self._backend.default_name

    @property
    def label(self) -> str:
        """How messages name the workspace to its user: the file name, or schema and database."""
        return self._backend.label

    @property
    def location(self) -> str:
        """Where the workspace is, as a user gives it on the command line."""
        return self._backend.location

    @property
    def path(self) -> Path:
        """The workspace's GeoPackage file.

        Raises
        ------
        WorkspaceError
            If the workspace is stored on a database server, not in a file.
        """
        path = self._backend.path
        if path is None:
            raise WorkspaceError(
                _(
                    "workspace %(workspace)r is stored on a database server, not in a file; "
                    "copy it into one with 'gisapp copy %(location)s WS.gpkg'",
                    workspace=self.label,
                    location=shown_location(self.location),
                )
            )
        return path

    @property
    def backend(self) -> StorageBackend:
        """Where the workspace is stored (a GeoPackage file or a PostGIS schema)."""
        return self._backend

    def copy_to(self, path: str | os.PathLike[str]) -> Workspace:
        """Copy the workspace to a new GeoPackage at ``path`` and open the copy.

        The copy is one consistent version even while another process saves.
        """
        target = Path(path)
        self._backend.copy_to_geopackage(target)
        return Workspace.open(target)

    def open_geopackage(self) -> BinaryIO:
        """The workspace as a GeoPackage file, open for reading (for a download).

        The stream is one consistent version of the workspace; it has no name on disk.
        """
        return self._backend.open_geopackage()

    @property
    def modified(self) -> pd.Timestamp:
        """When the workspace was last written (UTC)."""
        return self._backend.modified()

    @property
    def version(self) -> str:
        """A stamp that changes whenever the workspace's content may have changed.

        Caches of derived data (street networks, page data) key on it. It is read from the
        store each time, so a save by another process is seen too.
        """
        return self._backend.stamp()

    def layer_version(self, name: str) -> str:
        """A stamp of the stored content of layer ``name`` alone ("" when it is not stored).

        It changes when the layer's rows change and stays when other layers, saved plans
        or metadata do, so data derived from one layer (the street network of the roads)
        outlives a plan save.
        """
        return self._backend.layer_version(name)

    @property
    def timezone(self) -> str:
        return self.meta.get("timezone") or "UTC"

    @property
    def layer_notes(self) -> dict[str, str]:
        try:
            notes = json.loads(self.meta.get("layer_notes") or "{}")
        except json.JSONDecodeError:
            return {}
        return {str(k): str(v) for k, v in notes.items()} if isinstance(notes, dict) else {}

    def layer_names(self) -> list[str]:
        """Names of the layers present, in stored order."""
        self._follow_store()
        return list(self._layer_names)

    def has_layer(self, name: str) -> bool:
        return name in self.layer_names()

    def layer(self, name: str, *, required: bool = True) -> Frame:
        """Read one layer; incident times come back in the workspace's time zone.

        Raises
        ------
        WorkspaceError
            If the layer is absent and ``required``.
        """
        if not self.has_layer(name):
            if required:
                if self._layer_names:
                    message = _(
                        "workspace %(workspace)r has no layer %(layer)r; it has %(layers)s. "
                        "Import one with 'gisapp import %(name)s=FILE --out %(location)s'",
                        workspace=self.label,
                        layer=name,
                        layers=", ".join(self._layer_names),
                        name=name,
                        location=shown_location(self.location),
                    )
                else:
                    message = _(
                        "workspace %(workspace)r has no layer %(layer)r; it has no layers. "
                        "Import one with 'gisapp import %(name)s=FILE --out %(location)s'",
                        workspace=self.label,
                        layer=name,
                        name=name,
                        location=shown_location(self.location),
                    )
                raise WorkspaceError(message)
            return empty_layer(name)
        frame = self._backend.read_layer(name)
        if "id" in frame.columns:
            frame["id"] = frame["id"].astype("string")
        if name == "incidents" and "occurred_at" in frame.columns:
            frame["occurred_at"] = local_times(frame["occurred_at"], self.timezone)
        return frame

    def spatial_layer(self, name: str) -> gpd.GeoDataFrame:
        """Read a layer that must have geometry.

        Raises
        ------
        WorkspaceError
            If the layer is absent or is a table without geometry.
        """
        frame = self.layer(name)
        if not isinstance(frame, gpd.GeoDataFrame):
            raise WorkspaceError(
                _(
                    "layer %(layer)r of %(workspace)r has no geometry",
                    layer=name,
                    workspace=self.label,
                )
            )
        return frame

    def layers(self, names: Iterable[str] | None = None) -> dict[str, Frame]:
        """Read several layers (all present data-model layers when ``names`` is None)."""
        wanted = [n for n in self.layer_names() if n in LAYERS] if names is None else list(names)
        return {n: self.layer(n) for n in wanted}

    def incident_counts(
        self,
        areas_layer: str = "grids",
        *,
        period: tuple[Any, Any] | None = None,
        window: tuple[str, str] | None = None,
        timezone: str | None = None,
        categories: Iterable[str] | None = None,
    ) -> pd.DataFrame:
        """Incidents per area, counted where the workspace is stored.

        On a database server the count runs there (one transaction; only one row per area
        comes back), in a GeoPackage on the incidents of the period read from it. Each
        incident counts once, as :func:`routing.grids.workload.incidents_by_grid` counts
        it: in the area holding it, and a point on the edge of several areas (within about
        1 cm) in the one whose centroid is nearest (then the first stored). Incidents
        without a time or a point are not counted.

        Parameters
        ----------
        areas_layer
            The polygon layer to count in (``grids``, ``communities``, ``subdistricts``),
            with an ``id`` field.
        period
            ``(start, end)``, half-open; naive bounds are local times of ``timezone``.
        window
            Shift clock times ``("22:00", "06:00")`` in ``timezone``; an end not after
            the start crosses midnight. None counts every hour.
        timezone
            The zone of the period's naive bounds and of the window; the workspace's
            when None.
        categories
            Incident categories (the ``category`` field) to count; all when None.

        Returns
        -------
        pandas.DataFrame
            ``area_id`` and ``incidents``, one row per area in stored order;
            ``attrs["outside"]`` counts the incidents chosen that lie in no area.

        Raises
        ------
        WorkspaceError
            If a layer is missing, the areas have no ``id``, or a bound, window or time
            zone cannot be read.
        """
        self._require_layers("incidents", areas_layer)
        zone = _checked_timezone(timezone or self.timezone)
        start_utc, end_utc = _utc_period(period, zone)
        query = CountQuery(
            areas_layer=areas_layer,
            start_utc=start_utc,
            end_utc=end_utc,
            window_min=None if window is None else _window_minutes(window),
            timezone=zone,
            categories=None if categories is None else tuple(str(c) for c in categories),
        )
        return per_area(self.count_incidents(query))

    def count_incidents(self, query: CountQuery) -> pd.DataFrame:
        """Incidents per area, slice and field values, counted where the workspace is stored.

        The general form of :meth:`incident_counts`: several periods and shift windows
        (:class:`~gisapp.store.backend.CountSlice`), counts broken down by incident fields
        or cells, incidents left out by stored row number. On a database server only one
        row per area, slice and value comes back.

        Returns
        -------
        pandas.DataFrame
            See :func:`gisapp.store.backend.counts_frame`.

        Raises
        ------
        WorkspaceError
            If a layer or a field counted by is missing, or the areas have no ``id``.
        """
        self._require_layers("incidents", query.areas_layer)
        _checked_timezone(query.timezone)
        return self._backend.incident_counts(query)

    def incident_profile(self, query: ProfileQuery) -> IncidentProfile:
        """What must be known of the incidents before counting them, looked at in the store.

        Category values and their counts, whether the incidents carry their own group,
        severity and ``preventable``, the pile-ups, the incidents without a time and
        the range of plausible times (see :class:`~gisapp.store.backend.IncidentProfile`).
        On a database server only these summaries come back.

        Raises
        ------
        WorkspaceError
            If the workspace has no incidents.
        """
        self._require_layers("incidents")
        return self._backend.incident_profile(query)

    def _require_layers(self, *names: str) -> None:
        for name in names:
            if not self.has_layer(name):
                raise WorkspaceError(
                    _(
                        "workspace %(workspace)r has no layer %(layer)r to count incidents "
                        "with; import one with 'gisapp import %(name)s=FILE --out %(location)s'",
                        workspace=self.label,
                        layer=name,
                        name=name,
                        location=shown_location(self.location),
                    )
                )

    def validate(self, *, area_tolerance: float = 0.02) -> ValidationReport:
        """Validate every data-model layer of the workspace together."""
        from layers.validate import validate_layers

        return validate_layers(self.layers(), area_tolerance=area_tolerance, timezone=self.timezone)

    # -- saving ------------------------------------------------------------------------
    @contextmanager
    def write_lock(self) -> Iterator[None]:
        """Keep other savers out, e.g. from reading stored rows to writing them back.

        Saves inside the block (by this thread) go ahead; saves from other processes and
        threads wait until it ends.

        Raises
        ------
        WorkspaceError
            If another save holds the workspace for longer than the write timeout.
        """
        with self._backend.write_lock():
            yield

    def save(
        self,
        layers: Mapping[str, Frame],
        *,
        meta: Mapping[str, Any] | None = None,
        drop: Iterable[str] = (),
        keyed: Keyed | None = None,
    ) -> None:
        """Replace or add layers, rows and metadata keys in one transaction.

        Parameters
        ----------
        layers
            Layers to write. A layer named in ``keyed`` keeps its stored rows except those
            with one of the given keys, and gets the new rows; any other layer is replaced
            whole.
        meta
            Metadata keys to set; other keys are kept as stored.
        drop
            Layers to remove.
        keyed
            Layer name -> (key column, the keys whose rows are replaced), e.g.
            ``{"plan_routes": ("plan_id", ["2014-09-18-night-s3"])}``.

        Raises
        ------
        WorkspaceError
            If a layer cannot be stored, the store cannot be written, or another save
            holds the workspace for longer than the write timeout.

        Notes
        -----
        Other layers are kept. A crash during the save leaves the previous content.
        """
        check_layer_names(list(layers))
        meta_pairs = [(k, meta_text(v)) for k, v in (meta or {}).items()]
        timezone = dict(meta_pairs).get("timezone") or self.timezone
        frames = {name: storable(frame, timezone) for name, frame in layers.items()}
        with self._backend.write_lock():
            self._backend.save(
                frames, meta_pairs=meta_pairs, drop=set(drop) - set(frames), keyed=dict(keyed or {})
            )
        self._reload()

    def delete_layer(self, name: str) -> None:
        """Remove layer ``name`` and its provenance note, in one transaction.

        Raises
        ------
        WorkspaceError
            If the workspace has no such layer, or it cannot be written.
        """
        if not self.has_layer(name):
            raise WorkspaceError(
                _(
                    "workspace %(workspace)r has no layer %(layer)r",
                    workspace=self.label,
                    layer=name,
                )
            )
        notes = {k: v for k, v in self.layer_notes.items() if k != name}
        self.save({}, meta={"layer_notes": notes}, drop=[name])

    def _follow_store(self) -> None:
        if self._backend.stamp() != self._stamp:
            self._reload()

    def _reload(self) -> None:
        stamp = self._backend.stamp()
        try:
            self._meta, self._layer_names = self._backend.read_state()
        except WorkspaceError:
            # The store went away or broke under us: keep what we knew; reads will say why.
            return
        self._stamp = stamp


def _checked_timezone(zone: str) -> str:
    """``zone`` when it is a time zone name the time zone database knows."""
    try:
        pd.Timestamp(0, tz=zone)
    except (KeyError, ValueError):  # unknown names: KeyError subclasses of pytz, zoneinfo
        raise WorkspaceError(
            _("time zone %(zone)r is unknown; give a name such as 'Asia/Shanghai'", zone=zone)
        ) from None
    return zone


def _utc_period(
    period: tuple[Any, Any] | None, zone: str
) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """The period's bounds in UTC (naive bounds are local times of ``zone``)."""
    if period is None:
        return None, None
    bounds: list[pd.Timestamp] = []
    for value in period:
        try:
            stamp = pd.Timestamp(value)
        except (TypeError, ValueError):
            raise WorkspaceError(
                _(
                    "the date %(date)r cannot be read; give it as YYYY-MM-DD or YYYY-MM-DD HH:MM",
                    date=value,
                )
            ) from None
        if stamp.tzinfo is None:
            stamp = stamp.tz_localize(zone, ambiguous=True, nonexistent="shift_forward")
        bounds.append(stamp.tz_convert("UTC"))
    start, end = bounds
    if not start < end:
        raise WorkspaceError(
            _(
                "the date range should start before it ends, got from %(start)s to %(end)s",
                start=period[0],
                end=period[1],
            )
        )
    return start, end


def _window_minutes(window: tuple[str, str]) -> tuple[int, int]:
    """A shift window's clock times as minutes of the day."""
    minutes = []
    for text in window:
        hours, _colon, rest = str(text).partition(":")
        if not (hours.isdigit() and rest.isdigit() and len(rest) == 2):
            raise WorkspaceError(_("shift time %(time)r should be HH:MM, e.g. 22:00", time=text))
        if int(hours) > 24 or int(rest) > 59 or (int(hours) == 24 and int(rest)):
            raise WorkspaceError(
                _("shift time %(time)r is not a time of day (00:00 to 24:00)", time=text)
            )
        minutes.append(int(hours) * 60 + int(rest))
    return minutes[0] % 1440, minutes[1] % 1440


def copy_workspace(source: Workspace, target: str, *, overwrite: bool = False) -> Workspace:
    """Copy every layer, saved plan and metadata key of ``source`` into a new workspace.

    ``target`` is a GeoPackage path or a PostGIS URL; the copy is written in one
    transaction, from one version of ``source`` (its savers wait meanwhile).

    Raises
    ------
    WorkspaceError
        If ``target`` holds a workspace and ``overwrite`` is false, or either store cannot
        be read or written.
    """
    if os.fspath(target) == source.location:
        raise WorkspaceError(
            _("%(target)r is the workspace being copied; name another one", target=target)
        )
    with source.write_lock():
        names = source.layer_names()
        layers = {name: source.backend.read_layer(name) for name in names}
        meta = dict(source.meta)
    return Workspace.create(target, layers, meta=meta, overwrite=overwrite)
