"""Data behind the web pages: grid workload, per-unit views, maps, hotspots, uploads.

The web app is a thin adapter over these functions (they return data and maps, never
responses). Workspace access goes through ``open_workspace`` only.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import pandas as pd

from gisapp import maps
from gisapp.errors import WorkspaceError
from gisapp.ingest import ImportResult, OffsetSystem, Source, import_into
from gisapp.settings import Shift
from gisapp.workspace import Workspace
from layers.errors import LayerError, Problem
from layers.fields import parse_field_mapping
from layers.schema import LAYERS, parse_id_list

logger = logging.getLogger(__name__)

OSM_ATTRIBUTION = "© OpenStreetMap contributors"

#: Layers an officer may only see for his own unit.
UNIT_SCOPED_LAYERS = frozenset({"grids", "incidents", "units"})


def open_workspace(path: str | Path) -> Workspace:
    """Open the workspace GeoPackage the web app serves.

    Raises
    ------
    WorkspaceError
        If the file does not exist or is not a readable GeoPackage.
    """
    return Workspace.open(path)


def attribution_for(ws: Workspace, layers: tuple[str, ...] = ("roads",)) -> str | None:
    """Return the attribution the map of ``layers`` must show, from the layer notes."""
    notes = ws.layer_notes
    text = " ".join(notes.get(name, "") for name in layers).lower()
    if "openstreetmap" in text or re.search(r"\bosm\b", text):
        return OSM_ATTRIBUTION
    return None


def grid_workload(grids: gpd.GeoDataFrame, incidents: gpd.GeoDataFrame) -> pd.Series:
    """Count incidents per grid.

    Parameters
    ----------
    grids
        Polygons with an ``id`` field.
    incidents
        Points in any CRS.

    Returns
    -------
    pandas.Series
        Incident count per grid id (0 for a grid with none), named ``incidents``.
    """
    ids = grids["id"].astype(str)
    if incidents is None or not len(incidents):
        return pd.Series(0, index=ids.to_numpy(), name="incidents")
    points = incidents[["geometry"]].to_crs(grids.crs)
    joined = gpd.sjoin(points, grids[["id", "geometry"]], predicate="within", how="inner")
    counts = joined["id"].astype(str).value_counts()
    return counts.reindex(ids.to_numpy(), fill_value=0).rename("incidents")


def unit_grid_ids(ws: Workspace, unit_id: str) -> set[str]:
    """Ids of the grids of ``unit_id``: ``grids.unit_id`` plus the unit's ``grid_ids``."""
    found: set[str] = set()
    names = ws.layer_names()
    if "grids" in names:
        grids = ws.layer("grids")
        if "unit_id" in grids.columns:
            found |= set(grids.loc[grids["unit_id"].astype(str) == unit_id, "id"].astype(str))
    if "units" in names:
        units = ws.layer("units")
        if "grid_ids" in units.columns:
            for value in units.loc[units["id"].astype(str) == unit_id, "grid_ids"].dropna():
                found |= set(parse_id_list(value))
    return found


def layer_for_unit(ws: Workspace, name: str, unit_id: str | None) -> Any:
    """Return layer ``name``, restricted to ``unit_id`` when it is a unit-scoped layer.

    Grids keep the unit's grids, incidents those inside them, units the unit itself;
    shared geography (roads, stations, communities...) is returned whole.
    """
    if unit_id is None or name not in UNIT_SCOPED_LAYERS:
        return ws.layer(name)
    if name == "units":
        units = ws.layer("units")
        return units[units["id"].astype(str) == unit_id]
    grid_ids = unit_grid_ids(ws, unit_id)
    grids = ws.spatial_layer("grids")
    grids = grids[grids["id"].astype(str).isin(grid_ids)]
    if name == "grids":
        return grids
    points = ws.spatial_layer(name)
    if not len(grids):
        return points.iloc[0:0]
    area = grids.to_crs(points.crs).union_all()
    return points[points.within(area)]


def grid_map(
    ws: Workspace,
    *,
    unit_id: str | None = None,
    color_by: str = "team",
    assets_url: str = "/static/vendor",
) -> folium.Map:
    """Build the grid responsibility map: grids coloured by ``color_by``, labels, workload.

    Parameters
    ----------
    ws
        Workspace with a ``grids`` layer (``roads`` and ``incidents`` used when present).
    unit_id
        Show only this unit's grids and incidents (an officer's view).
    color_by
        ``"team"``, ``"officer"`` or ``"unit_id"``.
    assets_url
        URL prefix of the vendored Leaflet files.

    Raises
    ------
    WorkspaceError
        If the workspace has no grids (or none for the unit).
    """
    names = ws.layer_names()
    if "grids" not in names:
        raise WorkspaceError("the workspace has no grids layer; import grids first")
    grids = layer_for_unit(ws, "grids", unit_id)
    if not len(grids):
        raise WorkspaceError(f"no grids belong to unit {unit_id!r}")
    incidents = layer_for_unit(ws, "incidents", unit_id) if "incidents" in names else None
    grids = grids.assign(incidents=grid_workload(grids, incidents).to_numpy())
    roads = ws.layer("roads") if "roads" in names else None
    if roads is not None and len(roads):
        # Clip the base map to the view's surroundings so an officer's page stays small.
        minx, miny, maxx, maxy = grids.total_bounds
        pad = max(maxx - minx, maxy - miny) * 0.25
        roads = roads.cx[minx - pad : maxx + pad, miny - pad : maxy + pad]
    m = maps.base_map(
        grids.total_bounds,
        roads=roads,
        attribution=attribution_for(ws),
        assets_url=assets_url,
    )
    colors = maps.category_colors(grids[color_by]) if color_by in grids.columns else {}
    fields = {
        "id": "Grid (网格)",
        "community_id": "Community",
        "officer": "Officer",
        "team": "Team",
        "unit_id": "Unit",
        "phone": "Phone",
        "incidents": "Incidents",
    }
    maps.add_polygons(
        m,
        grids,
        name="Grids (网格)",
        color_by=color_by,
        colors=colors,
        label_field="id",
        tooltip_fields=fields,
    )
    if colors:
        maps.add_legend(
            m, color_by.replace("_", " ").title(), {str(k): v for k, v in colors.items()}
        )
    return m


def to_geojson(frame: gpd.GeoDataFrame) -> str:
    """Return ``frame`` as a GeoJSON string in EPSG:4326 with datetimes as ISO 8601 text."""
    out = frame.to_crs(4326) if frame.crs is not None else frame.copy()
    for column in out.columns:
        if column != out.geometry.name and pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].map(lambda t: None if pd.isna(t) else t.isoformat())
    return out.to_json(drop_id=True, na="null")


# -- overview and whole-city maps ------------------------------------------------------------


def layers_map(
    *,
    roads: gpd.GeoDataFrame | None = None,
    grids: gpd.GeoDataFrame | None = None,
    incidents: gpd.GeoDataFrame | None = None,
    attribution: str | None = None,
    incidents_name: str = "Incidents",
    assets_url: str = "/static/vendor",
) -> folium.Map:
    """Build a map of roads (base), grids and incidents that stays usable at city scale.

    Roads are merged into one simplified line per road class; incidents are clustered
    above 500 points and counted in 250 m cells above 20,000 (see
    :func:`gisapp.maps.add_points`), so a whole city with hundreds of thousands of
    incidents stays a page of a few megabytes.

    Parameters
    ----------
    roads, grids, incidents
        Layers in any CRS; a layer that is ``None`` or empty is left out.
    attribution
        Plain text for the attribution corner (e.g. the OSM notice).
    incidents_name
        Name of the incident layer in the layer control (e.g. "Incidents (generated)").
    assets_url
        URL prefix of the vendored Leaflet files.

    Returns
    -------
    folium.Map
        The map (render it with :func:`gisapp.maps.render_html`).

    Raises
    ------
    WorkspaceError
        If every layer is missing or empty.
    """
    present = [f for f in (grids, incidents, roads) if f is not None and len(f)]
    if not present:
        raise WorkspaceError("nothing to map: the workspace has no roads, grids or incidents")
    bounds = present[0].to_crs(4326).total_bounds
    m = maps.base_map(bounds, roads=roads, attribution=attribution, assets_url=assets_url)
    if grids is not None and len(grids):
        maps.add_polygons(
            m,
            grids,
            name="Grids (网格)",
            color="#1d3557",
            fill_opacity=0.08,
            label_field="id" if "id" in grids.columns else None,
            tooltip_fields={"id": "Grid (网格)", "officer": "Officer", "unit_id": "Unit"},
        )
    if incidents is not None and len(incidents):
        maps.add_points(
            m,
            incidents,
            name=incidents_name,
            tooltip_fields={"category": "Category", "occurred_at": "Time"},
        )
    return m


def overview_map(
    ws: Workspace, *, unit_id: str | None = None, assets_url: str = "/static/vendor"
) -> folium.Map:
    """The workspace overview map: roads, grids and incidents (an officer's unit only).

    Raises
    ------
    WorkspaceError
        If the workspace has none of those layers.
    """
    names = ws.layer_names()

    def spatial(name: str) -> gpd.GeoDataFrame | None:
        if name not in names:
            return None
        frame = layer_for_unit(ws, name, unit_id)
        return frame if isinstance(frame, gpd.GeoDataFrame) else None

    return layers_map(
        roads=spatial("roads"),
        grids=spatial("grids"),
        incidents=spatial("incidents"),
        attribution=attribution_for(ws),
        assets_url=assets_url,
    )


def spatial_layer_names(ws: Workspace) -> list[str]:
    """Names of the workspace's data-model layers that have geometry, in file order."""
    return [n for n in ws.layer_names() if n in LAYERS and not LAYERS[n].is_table]


# -- hotspots ---------------------------------------------------------------------------------

#: Hotspot methods offered on the web page (``streets`` needs a network build per request).
HOTSPOT_METHODS: tuple[str, ...] = ("counts", "kde", "gistar")

#: Rank bands of hotspot cells and their colours, hottest first.
_HOTSPOT_BANDS: tuple[tuple[int, str, str], ...] = (
    (5, "Top 5", "#bd0026"),
    (15, "Top 6-15", "#f03b20"),
    (10**9, "Other hot cells", "#feb24c"),
)


@dataclass
class HotspotView:
    """Hotspots of one shift for a page: the cells, the figures and the data problems.

    Parameters
    ----------
    layer
        Hotspot cells in EPSG:4326, best first, with ``rank``, ``score``, ``incidents``.
    kpis
        Figures from :func:`gisapp.analytics.shift_hotspots` (``pai``, ``hit_rate``...).
    problems
        Problems met reading the incidents (unknown categories, missing times).
    """

    layer: gpd.GeoDataFrame
    kpis: dict[str, Any]
    problems: list[Problem] = field(default_factory=list)


#: Category choice of the hotspot page that keeps every incident.
ALL_GROUPS = "all"
#: Category choice of the hotspot page that keeps the preventable incidents (可防性案件).
PREVENTABLE_ONLY = "preventable"


def incident_groups(ws: Workspace) -> list[str]:
    """The category groups present in the workspace's incidents, sorted (empty without any).

    Groups come from the incidents' ``group`` field or, when it is missing, from the
    category table (see :func:`gisapp.analytics.load_incidents`).
    """
    from gisapp.analytics import load_incidents

    if not ws.has_layer("incidents"):
        return []
    incidents, _ = load_incidents(ws)
    if "group" not in incidents.columns:
        return []
    return sorted({str(g) for g in incidents["group"].dropna()})


def hotspot_group_choices(groups: Sequence[str]) -> dict[str, str]:
    """The category choices of the hotspot page: ``{value: label}``, "all" first."""
    choices = {ALL_GROUPS: "All categories", PREVENTABLE_ONLY: "Preventable only (可防性)"}
    choices.update({g: g.replace("_", " ") for g in groups if g not in choices})
    return choices


def shift_hotspot_view(
    ws: Workspace, *, shift: Shift, method: str, group: str = ALL_GROUPS
) -> HotspotView:
    """Compute the hotspots of ``shift`` with ``method`` and their PAI on held-out weeks.

    Parameters
    ----------
    ws
        Workspace with incidents (and areas or roads for the study area).
    shift
        Shift window.
    method
        One of :data:`HOTSPOT_METHODS`.
    group
        :data:`ALL_GROUPS`, :data:`PREVENTABLE_ONLY` or a category group of the
        incidents (:func:`incident_groups`).

    Raises
    ------
    GisappError
        If the method or group is unknown, or the workspace or shift has no incidents.
    """
    from gisapp.analytics import AnalyticsError, load_incidents, shift_hotspots, study_area

    if method not in HOTSPOT_METHODS:
        raise AnalyticsError(f"method {method!r} is not one of {', '.join(HOTSPOT_METHODS)}")
    if not ws.has_layer("incidents"):
        raise WorkspaceError("the workspace has no incidents layer; import incidents first")
    incidents, problems = load_incidents(ws)
    present = (
        sorted({str(g) for g in incidents["group"].dropna()})
        if "group" in incidents.columns
        else []
    )
    if group not in hotspot_group_choices(present):
        raise AnalyticsError(
            f"category group {group!r} is not in the incidents; choose {ALL_GROUPS!r}, "
            f"{PREVENTABLE_ONLY!r} or one of {', '.join(present) or 'none'}"
        )
    layer, kpis = shift_hotspots(
        incidents,
        shift=shift,
        method=method,
        area=study_area(ws),
        groups=None if group in (ALL_GROUPS, PREVENTABLE_ONLY) else [group],
        preventable_only=group == PREVENTABLE_ONLY,
    )
    kpis["group"] = group
    return HotspotView(layer, kpis, problems)


def hotspot_map(
    ws: Workspace, view: HotspotView, *, assets_url: str = "/static/vendor"
) -> folium.Map:
    """Map hotspot cells over the roads, coloured by rank band, with a legend.

    Parameters
    ----------
    ws
        Workspace (its roads are the base map).
    view
        Result of :func:`shift_hotspot_view`.
    assets_url
        URL prefix of the vendored Leaflet files.

    Raises
    ------
    WorkspaceError
        If there are no hotspot cells to draw.
    """
    cells = view.layer
    if not len(cells):
        raise WorkspaceError("no hotspot cells to map for this shift")
    roads = ws.layer("roads") if ws.has_layer("roads") else None
    if isinstance(roads, gpd.GeoDataFrame) and len(roads):
        minx, miny, maxx, maxy = cells.total_bounds
        pad = max(maxx - minx, maxy - miny) * 0.25
        roads = roads.cx[minx - pad : maxx + pad, miny - pad : maxy + pad]
    m = maps.base_map(
        cells.total_bounds,
        roads=roads if isinstance(roads, gpd.GeoDataFrame) else None,
        attribution=attribution_for(ws),
        assets_url=assets_url,
    )
    rank = cells["rank"].to_numpy()
    band = pd.Series(_HOTSPOT_BANDS[-1][1], index=cells.index)
    for limit, label, _ in reversed(_HOTSPOT_BANDS):
        band[rank <= limit] = label
    data = cells.assign(
        id=[f"H{r}" for r in rank],
        band=band.to_numpy(),
        score=cells["score"].astype(float).round(3),
    )
    colors = {label: color for _, label, color in _HOTSPOT_BANDS}
    kpis = view.kpis
    maps.add_polygons(
        m,
        data,
        name=f"Hotspots {kpis.get('shift', '')} ({kpis.get('method', '')})",
        color_by="band",
        colors=colors,
        fill_opacity=0.6,
        tooltip_fields={"rank": "Rank", "incidents": "Incidents", "score": "Score"},
    )
    pai = kpis.get("pai")
    title = f"Hotspots, PAI {pai:g}" if isinstance(pai, int | float) else "Hotspots"
    maps.add_legend(m, title, colors)
    return m


# -- uploads ----------------------------------------------------------------------------------

#: File name endings accepted for an upload, and what they are.
UPLOAD_FORMATS: dict[str, str] = {
    ".gpkg": "GeoPackage",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".zip": "zipped Shapefile",
    ".csv": "CSV (lon/lat or WKT)",
    ".osm.pbf": "OpenStreetMap PBF",
    ".pbf": "OpenStreetMap PBF",
    ".osm": "OpenStreetMap XML",
}


def upload_file_name(original: str, *, layer: str | None) -> str:
    """Return the name under which an uploaded file is stored for reading.

    The name is built here, never taken from the user: the target layer (or ``upload``)
    plus the accepted ending of ``original``. The ending matters to the readers (a
    ``.gpkg`` that is not one gets a clear message); the layer name lets a file without
    a target be taken as that layer.

    Raises
    ------
    LayerError
        If ``original`` does not end with one of :data:`UPLOAD_FORMATS`.
    """
    lower = original.lower().strip()
    suffix = next((s for s in UPLOAD_FORMATS if lower.endswith(s)), None)
    if suffix is None:
        accepted = ", ".join(f"{s} ({kind})" for s, kind in UPLOAD_FORMATS.items())
        raise LayerError(f"file {original!r} has an unsupported type; upload one of {accepted}")
    stem = layer if layer in LAYERS else "upload"
    return f"{stem}{suffix}"


def import_upload(
    workspace_path: str | Path,
    file_path: Path,
    *,
    source_name: str,
    layer: str | None = None,
    field_mapping: str = "",
    offset: OffsetSystem | None = None,
    timezone: str | None = None,
    default_timezone: str = "UTC",
) -> ImportResult:
    """Import one uploaded file into the workspace through :func:`gisapp.ingest.import_into`.

    A file that cannot be read (wrong format, truncated, bad mapping) gives a failed
    result whose problem says what is wrong, like a validation error: nothing is saved.

    Parameters
    ----------
    workspace_path
        Workspace GeoPackage.
    file_path
        The uploaded file, stored under a name from :func:`upload_file_name`.
    source_name
        The file name the user uploaded, used in messages and the layer note instead of
        the temporary path.
    layer
        Target layer; ``None`` takes the layers a GeoPackage or OSM file names.
    field_mapping
        ``"ours=theirs, ..."`` column mapping for the target layer.
    offset
        ``"gcj02"`` or ``"bd09"`` to convert offset Chinese coordinates to WGS84.
    timezone, default_timezone
        As in :func:`gisapp.ingest.import_into`.

    Returns
    -------
    ImportResult
        Saved layer counts, or the problems that stopped the import.

    Raises
    ------
    WorkspaceError
        If the workspace itself cannot be opened or written.
    """
    label = layer or source_name
    tz = timezone or default_timezone
    try:
        mapping = parse_field_mapping(field_mapping, layer=layer) if field_mapping.strip() else {}
    except LayerError as exc:
        fix = "write the mapping as ours=theirs pairs separated by commas, e.g. id=编号"
        return ImportResult(False, [Problem(label, None, "bad_mapping", str(exc), fix)], {}, tz)
    try:
        result = import_into(
            workspace_path,
            [Source(file_path, layer)],
            mappings={layer: mapping},
            offset=offset,
            timezone=timezone,
            default_timezone=default_timezone,
            note=f"uploaded from {source_name}",
        )
    except LayerError as exc:
        message = _hide_path(str(exc), file_path, source_name)
        fix = "check the file and its format, export it again and upload it"
        return ImportResult(False, [Problem(label, None, "read_error", message, fix)], {}, tz)
    problems = [
        Problem(
            p.layer,
            p.feature_id,
            p.code,
            _hide_path(p.message, file_path, source_name),
            p.fix,
            p.severity,
        )
        for p in result.problems
    ]
    return ImportResult(result.ok, problems, result.saved, result.timezone)


def problem_rows(problems: Sequence[Problem]) -> list[dict[str, Any]]:
    """Problems as table rows, errors first, then warnings, then repairs."""
    order = {"error": 0, "warning": 1, "repaired": 2}
    ranked = sorted(problems, key=lambda p: order.get(p.severity, 3))
    return [p.to_dict() for p in ranked]


def _hide_path(message: str, file_path: Path, source_name: str) -> str:
    # The temporary path means nothing to the user and tells a stranger about the server.
    return message.replace(str(file_path), source_name).replace(file_path.name, source_name)


# -- coverage (1-3-5 minute circles and blind zones) ----------------------------------------

#: Travel modes offered on the coverage page.
COVERAGE_MODES: tuple[str, ...] = ("car", "ebike", "foot")


def coverage_view(
    ws: Workspace, *, minutes: Sequence[float], mode: str, key_place_minutes: Any = None
) -> Any:
    """Reach bands, blind zones and KPIs of the stations and posts (see gisapp.coverage).

    Parameters
    ----------
    ws
        Workspace with roads and stations or duty points.
    minutes
        Rapid-response bands (快反圈), e.g. ``(1, 3, 5)`` from the settings.
    mode
        One of :data:`COVERAGE_MODES`.
    key_place_minutes
        Required minutes per key-place kind (settings ``key_place_minutes``).

    Returns
    -------
    gisapp.coverage.CoverageResult
        The result; ``coverage_blind_rows`` and ``coverage_map`` turn it into a page.

    Raises
    ------
    GisappError
        If the mode is unknown or the workspace lacks roads or stations.
    """
    from gisapp.coverage import compute_coverage

    if mode not in COVERAGE_MODES:
        raise WorkspaceError(f"mode {mode!r} is not one of {', '.join(COVERAGE_MODES)}")
    if not ws.has_layer("roads"):
        raise WorkspaceError("the workspace has no roads layer; import roads first")
    return compute_coverage(
        ws, minutes=tuple(minutes), mode=mode, key_place_minutes=key_place_minutes
    )


def coverage_blind_rows(result: Any, *, limit: int = 15) -> list[dict[str, Any]]:
    """The riskiest blind zones as table rows (kind, name, risk, required / reached minutes)."""
    zones = result.blind_zones
    if not len(zones):
        return []
    top = zones.sort_values("risk", ascending=False).head(limit)
    rows = []
    for _, row in top.iterrows():
        reached = row.get("reached_minutes")
        rows.append(
            {
                "kind": str(row.get("kind", "")).replace("_", " "),
                "name": "" if pd.isna(row.get("name")) else str(row.get("name")),
                "risk": round(float(row.get("risk") or 0.0), 2),
                "required_minutes": row.get("required_minutes"),
                "reached_minutes": "never" if reached is None or pd.isna(reached) else reached,
            }
        )
    return rows


def coverage_plan_choices(ws: Workspace) -> list[dict[str, str]]:
    """The saved plans offered on the coverage page, newest first: ``plan_id``, ``label``."""
    from gisapp.plan import list_plans

    plans = list_plans(ws)
    choices = []
    for record in plans.to_dict("records"):
        shift = "" if pd.isna(record["shift"]) else str(record["shift"])
        name = "" if pd.isna(record["shift_name"]) else str(record["shift_name"])
        window = f"{name} {shift}".strip()
        plan_id = str(record["plan_id"])
        choices.append(
            {"plan_id": plan_id, "label": f"{plan_id} ({window})" if window else plan_id}
        )
    return choices


def coverage_plan_view(
    ws: Workspace,
    plan_id: str,
    *,
    minutes: Sequence[float],
    mode: str,
    key_place_minutes: Any = None,
) -> Any:
    """A saved plan's coverage by hour (see :func:`gisapp.coverage.plan_hourly_coverage`).

    Parameters
    ----------
    ws
        Workspace with roads, stations and the saved plan.
    plan_id
        The plan's id (one of :func:`coverage_plan_choices`).
    minutes
        Rapid-response bands (快反圈), e.g. ``(1, 3, 5)``.
    mode
        One of :data:`COVERAGE_MODES`.
    key_place_minutes
        Required minutes per key-place kind (settings ``key_place_minutes``).

    Returns
    -------
    gisapp.coverage.HourlyCoverage
        The table, per-hour reach and positions; ``gisapp.coverage.hourly_coverage_map``
        draws it.

    Raises
    ------
    GisappError
        If the mode is unknown, or the plan, roads or stations are missing.
    """
    from gisapp.coverage import plan_hourly_coverage

    if mode not in COVERAGE_MODES:
        raise WorkspaceError(f"mode {mode!r} is not one of {', '.join(COVERAGE_MODES)}")
    if not ws.has_layer("roads"):
        raise WorkspaceError("the workspace has no roads layer; import roads first")
    return plan_hourly_coverage(
        ws, plan_id, minutes=tuple(minutes), mode=mode, key_place_minutes=key_place_minutes
    )
