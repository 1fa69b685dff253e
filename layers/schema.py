"""The workspace data model: the layers, their geometry and their fields.

This is the single description of DESIGN.md section 2; readers, the validator and the
workspace all take it from here.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class LayerSpec:
    """What one workspace layer holds.

    Parameters
    ----------
    name
        Layer name inside the workspace GeoPackage.
    geometry
        Allowed geometry types (``Polygon`` admits ``MultiPolygon``...), empty for a table.
    required
        Fields every feature must have.
    optional
        Fields understood when present.
    parent
        ``(field, parent_layer)`` when features nest in another layer, e.g. a grid's
        ``community_id`` names a feature of ``communities``.
    """

    name: str
    geometry: tuple[str, ...]
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    parent: tuple[str, str] | None = None
    description: str = ""

    @property
    def is_table(self) -> bool:
        return not self.geometry

    @property
    def fields(self) -> tuple[str, ...]:
        return self.required + self.optional


POLYGON = ("Polygon", "MultiPolygon")
POINT = ("Point", "MultiPoint")
LINE = ("LineString", "MultiLineString")

LAYERS: dict[str, LayerSpec] = {
    spec.name: spec
    for spec in (
        LayerSpec(
            "subdistricts",
            POLYGON,
            ("id", "name"),
            description='Sub-districts (街道), the "streets" layer.',
        ),
        LayerSpec(
            "communities",
            POLYGON,
            ("id", "name", "subdistrict_id"),
            ("households", "population", "property_managed"),
            parent=("subdistrict_id", "subdistricts"),
            description="Communities (社区/村) inside sub-districts.",
        ),
        LayerSpec(
            "grids",
            POLYGON,
            ("id", "community_id"),
            ("officer", "team", "phone", "unit_id"),
            parent=("community_id", "communities"),
            description="Grids (网格) inside communities, each with its responsible officer.",
        ),
        LayerSpec(
            "prevention_zones",
            POLYGON,
            ("id", "name", "kind"),
            ("required_minutes", "priority"),
            description="Prevention zones (防控区), e.g. 200 m around schools.",
        ),
        LayerSpec(
            "incidents",
            POINT,
            ("id", "occurred_at", "category"),
            ("severity", "preventable", "description", "address"),
            description="Incidents (警情) with their time and category.",
        ),
        LayerSpec(
            "roads",
            LINE,
            (),
            ("name", "highway", "oneway", "maxspeed", "car", "foot"),
            description=(
                "Street centre lines for the network; car and foot (yes/no) say which "
                "units may use a line, else its highway class decides."
            ),
        ),
        LayerSpec(
            "stations",
            POINT,
            ("id", "name", "kind"),
            ("capacity", "fixed"),
            description="Police stations (派出所).",
        ),
        LayerSpec(
            "duty_points",
            POINT,
            ("id", "name", "kind"),
            ("capacity", "fixed"),
            description="Duty points (执勤点, 岗亭, 治安卡点).",
        ),
        LayerSpec(
            "key_places",
            POINT + POLYGON,
            ("id", "name", "kind"),
            ("required_minutes",),
            description="Key places: schools, kindergartens, hospitals, stations, malls, banks.",
        ),
        LayerSpec(
            "cameras",
            POINT,
            ("id",),
            ("range_m", "heading_deg", "fov_deg"),
            description="Cameras with range and field of view.",
        ),
        LayerSpec(
            "units",
            (),
            ("id", "mode", "station_id"),
            ("grid_ids", "shift", "breaks"),
            description=(
                "Patrol units: car, ebike or foot, based at a station; breaks like "
                "'02:00-03:00/30' (start window / minutes)."
            ),
        ),
        LayerSpec(
            "categories",
            (),
            ("category", "severity", "preventable"),
            ("group", "label"),
            description=(
                "Incident categories: severity 1-5 and the preventable (可防性) flag of "
                "every category, weighing incidents in hotspots, risk and workload."
            ),
        ),
    )
}

#: Modes a patrol unit can have.
UNIT_MODES = ("car", "ebike", "foot")

#: Storage CRS of every spatial layer in a workspace.
STORAGE_CRS = "EPSG:4326"

#: Separators accepted between ids in one cell (``units.grid_ids``): the comma, the
#: semicolon, and the full-width comma and enumeration comma of Chinese text.
ID_SEPARATORS = re.compile(r"[,;，、；]")


def parse_id_list(value: object) -> list[str]:
    """The ids in one cell such as ``units.grid_ids``, in order, blanks dropped.

    Accepts a list (or array) of ids, or text separated by ``,`` ``;`` ``，`` ``、`` or
    ``；``; a missing value (None, NaN) gives an empty list. Stored form: ``",".join(ids)``.
    """
    if hasattr(value, "tolist"):  # a numpy array or pandas Series
        value = value.tolist()
    if isinstance(value, list | tuple | set | frozenset):
        items = [str(v) for v in value]
    elif value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    else:
        items = ID_SEPARATORS.split(str(value))
    return [s for s in (item.strip() for item in items) if s]


def layer_spec(name: str) -> LayerSpec:
    """Return the spec of layer ``name``.

    Raises
    ------
    LayerError
        If ``name`` is not a workspace layer.
    """
    from layers.errors import LayerError
    from layers.i18n import _

    try:
        return LAYERS[name]
    except KeyError:
        raise LayerError(
            _(
                "unknown layer %(name)s; expected one of %(layers)s",
                name=repr(name),
                layers=", ".join(LAYERS),
            )
        ) from None
