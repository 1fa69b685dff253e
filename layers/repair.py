"""Repair overlapping sibling areas by one stated rule, and list the gaps between them.

Grids (网格), communities and sub-districts drawn by hand overlap their siblings (the
features with the same parent) by a few percent along shared boundaries. The validator
refuses such overlaps (``sibling_overlap``); :func:`repair_sibling_overlaps` removes them
so that each place belongs to exactly one feature.

The rule
--------
The features of one parent are cut along all their boundaries into pieces. A piece
covered by two or more siblings is an **overlap piece**; it is given to the covering
feature whose centroid (of its whole original area) is nearest to the piece's centroid,
ties going to the smallest id, and taken out of the others. Digitising slop lies on the
far side of the true boundary, so the piece goes back to the feature it reaches into.

Overlaps above :data:`MAX_REPAIR_SHARE` of the smaller feature are not repaired: two
features sharing more than half of the smaller one are likely the same area twice. Their
features are left as they are and the pair is listed in ``refused``.

After the cut each repaired feature is made valid, keeps its polygonal parts only and
drops parts smaller than ``sliver_m2`` (reported in ``sliver_m2``); a feature is never
left empty. Gaps (parts of a parent covered by none of its children) are listed with
their area and never filled. Areas are computed in the local UTM zone; the layers are
returned in their own CRS. Inputs are never mutated.

Problem codes
-------------
``overlap_repaired`` [repaired]
    Two siblings overlapped; the message gives the area, the share of the smaller
    feature and which feature received it.
``gap_between_siblings`` [warning]
    Part of a parent is covered by none of its children (not filled).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import shapely
import shapely.errors
from pyproj import CRS

from layers.crs import metric_crs
from layers.errors import LayerError, Problem
from layers.i18n import _, _l
from layers.schema import LAYERS

logger = logging.getLogger(__name__)

#: Layers that describe the area, from the outermost in.
AREA_LAYERS = ("subdistricts", "communities", "grids")
#: Overlaps above this share of the smaller feature are refused: likely a duplicate.
MAX_REPAIR_SHARE = 0.5
#: Pieces, parts and gaps below this area (m²) are slivers: not listed, parts dropped.
SLIVER_M2 = 1.0
#: Grid size of the repaired features' coordinates in the metric CRS, m.
_PRECISION_M = 0.001
#: The rule, in words, for messages and pages.
RULE_TEXT = _l("each overlap goes to the feature whose centre is nearest to it")

#: One feature of an area layer, for messages.
AREA_ONE = {
    "subdistricts": _l("sub-district"),
    "communities": _l("community"),
    "grids": _l("grid"),
}
#: An area layer in the plural, for messages.
AREA_MANY = {
    "subdistricts": _l("sub-districts"),
    "communities": _l("communities"),
    "grids": _l("grids"),
}


@dataclass(frozen=True)
class OverlapPair:
    """Two siblings that overlapped, and who received the overlap.

    Parameters
    ----------
    layer
        The area layer, e.g. ``"grids"``.
    first_id, second_id
        The two features' ids.
    area_m2
        Area of their overlap, m².
    share
        ``area_m2`` as a share of the smaller feature's area.
    received_m2
        ``(id, m²)`` of the overlap each feature kept, largest first (a third sibling
        may receive part of it where three features overlapped). Empty when refused.
    """

    layer: str
    first_id: str
    second_id: str
    area_m2: float
    share: float
    received_m2: tuple[tuple[str, float], ...] = ()

    @property
    def received_by(self) -> str:
        """The id of the feature that received most of the overlap ("" when refused)."""
        return self.received_m2[0][0] if self.received_m2 else ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "layer": self.layer,
            "first_id": self.first_id,
            "second_id": self.second_id,
            "area_m2": round(self.area_m2, 1),
            "share": round(self.share, 4),
            "received_by": self.received_by,
            "received_m2": {k: round(v, 1) for k, v in self.received_m2},
        }


@dataclass(frozen=True)
class SiblingGap:
    """Part of a parent covered by none of its children (listed, not filled)."""

    layer: str
    parent_layer: str
    parent_id: str
    area_m2: float
    share: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "layer": self.layer,
            "parent_layer": self.parent_layer,
            "parent_id": self.parent_id,
            "area_m2": round(self.area_m2, 1),
            "share": round(self.share, 4),
        }


@dataclass
class OverlapRepair:
    """What :func:`repair_sibling_overlaps` did.

    Parameters
    ----------
    layers
        Repaired copies of the layers that changed, in their own CRS.
    pairs
        The overlapping pairs that were repaired (above ``sliver_m2``).
    refused
        The pairs overlapping by more than ``max_share`` of the smaller: not repaired.
    gaps
        Gaps between siblings inside their parent, listed and not filled.
    pieces
        The overlap pieces in EPSG:4326: ``layer``, ``feature_ids`` (the covering
        features, comma separated), ``received_by`` and ``area_m2``.
    sliver_m2
        Total area of the parts dropped as slivers, m².
    """

    layers: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)
    pairs: list[OverlapPair] = field(default_factory=list)
    refused: list[OverlapPair] = field(default_factory=list)
    gaps: list[SiblingGap] = field(default_factory=list)
    pieces: gpd.GeoDataFrame = field(default_factory=lambda: _empty_pieces())
    sliver_m2: float = 0.0

    @property
    def ok(self) -> bool:
        """True when no pair was refused."""
        return not self.refused

    @property
    def problems(self) -> list[Problem]:
        """The repaired pairs and the gaps, as problems for the import report."""
        found = [_pair_problem(pair) for pair in self.pairs]
        found += [_gap_problem(gap) for gap in self.gaps]
        return found

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (without the pieces' geometry)."""
        return {
            "rule": str(RULE_TEXT),
            "pairs": [p.to_dict() for p in self.pairs],
            "refused": [p.to_dict() for p in self.refused],
            "gaps": [g.to_dict() for g in self.gaps],
            "sliver_m2": round(self.sliver_m2, 1),
        }


def repair_sibling_overlaps(
    layers: Mapping[str, pd.DataFrame],
    *,
    context: Mapping[str, pd.DataFrame] | None = None,
    max_share: float = MAX_REPAIR_SHARE,
    sliver_m2: float = SLIVER_M2,
) -> OverlapRepair:
    """Give each overlap between sibling areas to one feature, by the module's rule.

    Parameters
    ----------
    layers
        Layer name to layer; the area layers among them (``subdistricts``,
        ``communities``, ``grids``) with an ``id`` column and a CRS are repaired, the
        others are ignored.
    context
        Other layers (e.g. the workspace's) where the parents are found for the gaps
        when ``layers`` does not hold them.
    max_share
        Overlaps above this share of the smaller feature are refused, not repaired.
    sliver_m2
        Overlaps, gaps and parts smaller than this (m²) are not listed; such parts of
        repaired features are dropped.

    Returns
    -------
    OverlapRepair
        The repaired layers that changed and the report.

    Raises
    ------
    LayerError
        If ``max_share`` or ``sliver_m2`` is out of range.
    """
    if not 0 < max_share <= 1:
        raise LayerError(
            _(
                "max_share=%(value)s should be a share above 0 and up to 1",
                value=repr(max_share),
            )
        )
    if sliver_m2 < 0:
        raise LayerError(
            _("sliver_m2=%(value)s should be 0 or more square metres", value=repr(sliver_m2))
        )
    everything = {**(context or {}), **layers}
    result = OverlapRepair()
    pieces: list[gpd.GeoDataFrame] = []
    for name in AREA_LAYERS:
        frame = layers.get(name)
        if not _repairable(frame):
            continue
        assert isinstance(frame, gpd.GeoDataFrame)
        try:
            crs = metric_crs(frame)
            repaired, layer_pieces = _repair_layer(frame, name, crs, max_share, sliver_m2, result)
        except (LayerError, shapely.errors.GEOSException, pyproj.exceptions.CRSError) as exc:
            # Coordinates the validator refuses anyway (wrong CRS...): it says what to fix.
            logger.warning("overlaps of %s not repaired: %s", name, exc)
            continue
        if repaired is not None:
            result.layers[name] = repaired
        if len(layer_pieces):
            pieces.append(layer_pieces.to_crs(4326))
        result.gaps += _gaps(repaired if repaired is not None else frame, name, everything, crs)
    if pieces:
        result.pieces = gpd.GeoDataFrame(pd.concat(pieces, ignore_index=True), crs=4326)
    result.gaps = [g for g in result.gaps if g.area_m2 >= sliver_m2]
    logger.info(
        "overlaps: %s repaired, %s refused, %s gap(s) listed",
        f"{len(result.pairs):,}",
        f"{len(result.refused):,}",
        f"{len(result.gaps):,}",
    )
    return result


def _repairable(frame: object) -> bool:
    """A layer with ids, a CRS, some geometry and, in degrees, plausible coordinates."""
    if not isinstance(frame, gpd.GeoDataFrame) or frame.crs is None or "id" not in frame:
        return False
    geoms = frame.geometry
    if not len(frame) or (geoms.isna() | geoms.is_empty).all():
        return False
    minx, miny, maxx, maxy = geoms.total_bounds
    in_range = -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90
    return bool(in_range or not frame.crs.is_geographic)


def _polygonal(geoms: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Valid polygonal parts of each geometry (None stays None)."""
    out = np.empty(len(geoms), dtype=object)
    for i, geom in enumerate(geoms):
        if geom is None or geom.is_empty:
            out[i] = None
            continue
        valid = shapely.make_valid(geom) if not geom.is_valid else geom
        parts = [p for p in shapely.get_parts(valid) if p.geom_type in ("Polygon", "MultiPolygon")]
        out[i] = shapely.union_all(parts) if parts else None
    return out


def _overlapping_pairs(
    geoms: npt.NDArray[Any], groups: npt.NDArray[Any]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.float64]]:
    """Pairs ``i < j`` of siblings with overlapping area, and that area in m²."""
    present = np.array([g is not None for g in geoms])
    index = np.flatnonzero(present)
    left, right = shapely.STRtree(geoms[index]).query(geoms[index], predicate="intersects")
    left, right = index[left], index[right]
    keep = (left < right) & (groups[left] == groups[right])
    left, right = left[keep], right[keep]
    area = shapely.area(shapely.intersection(geoms[left], geoms[right]))
    positive = area > 0
    return left[positive], right[positive], np.asarray(area[positive], dtype=float)


def _repair_layer(
    frame: gpd.GeoDataFrame,
    name: str,
    crs: CRS,
    max_share: float,
    sliver_m2: float,
    result: OverlapRepair,
) -> tuple[gpd.GeoDataFrame | None, gpd.GeoDataFrame]:
    """Repair one layer; add its pairs to ``result``; return it (None when unchanged)."""
    geoms = _polygonal(frame.geometry.to_crs(crs).to_numpy())
    ids = frame["id"].astype("string").fillna("").to_numpy(dtype=object)
    parent = LAYERS[name].parent
    key = parent[0] if parent is not None else None
    groups = (
        frame[key].astype("string").fillna("").to_numpy(dtype=object)
        if key is not None and key in frame.columns
        else np.full(len(frame), "", dtype=object)
    )
    left, right, overlap_m2 = _overlapping_pairs(geoms, groups)
    area_m2 = shapely.area(geoms[left]), shapely.area(geoms[right])
    share = overlap_m2 / np.maximum(np.minimum(*area_m2), 1e-9)
    refused = share > max_share
    for i in np.flatnonzero(refused):
        result.refused.append(
            OverlapPair(name, ids[left[i]], ids[right[i]], overlap_m2[i], share[i])
        )
    # Features of a refused pair are left as drawn: the user must decide which is right.
    blocked = set(left[refused]) | set(right[refused])
    usable = ~refused & ~np.isin(left, list(blocked)) & ~np.isin(right, list(blocked))
    left, right, overlap_m2, share = left[usable], right[usable], overlap_m2[usable], share[usable]
    if not len(left):
        return None, _empty_pieces(crs)
    new_geoms = geoms.copy()
    received: dict[tuple[int, int], dict[int, float]] = {}
    piece_rows: list[dict[str, Any]] = []
    involved = np.union1d(left, right)
    for group in np.unique(groups[involved]):
        members = involved[groups[involved] == group]
        _cut_group(geoms, members, ids, new_geoms, received, piece_rows)
    for i in involved:
        new_geoms[i], dropped = _without_slivers(new_geoms[i], geoms[i], sliver_m2)
        result.sliver_m2 += dropped
    for a, b, area, pair_share in zip(left, right, overlap_m2, share, strict=True):
        if area < sliver_m2:
            continue
        kept = sorted(received.get((a, b), {}).items(), key=lambda kv: (-kv[1], ids[kv[0]]))
        result.pairs.append(
            OverlapPair(
                name, ids[a], ids[b], float(area), float(pair_share),
                tuple((ids[k], float(v)) for k, v in kept),
            )
        )  # fmt: skip
    repaired = frame.copy()
    changed = repaired.index[involved]
    back = gpd.GeoSeries(new_geoms[involved], crs=crs, index=changed).to_crs(frame.crs)
    # Reprojection can fold a near-degenerate vertex: make those valid again.
    repaired.loc[changed, repaired.geometry.name] = _polygonal(back.to_numpy())
    pieces = gpd.GeoDataFrame(piece_rows, geometry="geometry", crs=crs)
    if len(pieces):
        pieces = pieces.dissolve(by=["feature_ids", "received_by"], as_index=False, aggfunc="sum")
        pieces["layer"] = name
        pieces["area_m2"] = shapely.area(pieces.geometry.to_numpy())
    return repaired, pieces


def _cut_group(
    geoms: npt.NDArray[Any],
    members: npt.NDArray[np.intp],
    ids: npt.NDArray[Any],
    new_geoms: npt.NDArray[Any],
    received: dict[tuple[int, int], dict[int, float]],
    piece_rows: list[dict[str, Any]],
) -> None:
    """Cut the siblings ``members`` along their boundaries and hand out the pieces."""
    sub = geoms[members]
    lines = shapely.union_all(shapely.boundary(sub))
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(lines)))
    faces = faces[shapely.area(faces) > 0]
    inside, covering = shapely.STRtree(sub).query(
        shapely.point_on_surface(faces), predicate="within"
    )
    covers: dict[int, list[int]] = {}
    for face, member in zip(inside, covering, strict=True):
        covers.setdefault(int(face), []).append(int(members[member]))
    centroids = {int(m): shapely.centroid(geoms[m]) for m in members}
    owned: dict[int, list[Any]] = {int(m): [] for m in members}
    for face, owners in covers.items():
        geom = faces[face]
        if len(owners) == 1:
            owned[owners[0]].append(geom)
            continue
        centre = shapely.centroid(geom)
        winner = min(owners, key=lambda m: (shapely.distance(centre, centroids[m]), ids[m]))
        owned[winner].append(geom)
        area = float(shapely.area(geom))
        owners = sorted(owners)
        for x, a in enumerate(owners):
            for b in owners[x + 1 :]:
                split = received.setdefault((a, b), {})
                split[winner] = split.get(winner, 0.0) + area
        piece_rows.append(
            {
                "feature_ids": ", ".join(sorted(str(ids[m]) for m in owners)),
                "received_by": str(ids[winner]),
                "geometry": geom,
            }
        )
    for member, parts in owned.items():
        if parts:
            new_geoms[member] = shapely.union_all(parts)


def _without_slivers(geom: Any, original: Any, sliver_m2: float) -> tuple[Any, float]:
    """``geom`` valid and polygonal, without parts under ``sliver_m2`` (never empty)."""
    if geom is None or geom.is_empty:
        return original, 0.0
    # A millimetre grid removes the needle-thin spikes that cutting along nearly
    # coincident boundaries leaves, which would turn invalid once reprojected.
    valid = shapely.set_precision(shapely.make_valid(geom), _PRECISION_M)
    parts = [p for p in shapely.get_parts(valid) if p.geom_type == "Polygon"]
    areas = [float(p.area) for p in parts]
    kept = [p for p, a in zip(parts, areas, strict=True) if a >= sliver_m2]
    if not kept:
        # Everything is a sliver: keep the largest part rather than lose the feature.
        kept = [parts[int(np.argmax(areas))]] if parts else [original]
    dropped = sum(areas) - sum(float(p.area) for p in kept)
    return shapely.union_all(kept), max(dropped, 0.0)


def _gaps(
    frame: gpd.GeoDataFrame, name: str, everything: Mapping[str, pd.DataFrame], crs: CRS
) -> list[SiblingGap]:
    """Parts of each parent that none of its children in ``frame`` cover."""
    spec = LAYERS[name]
    if spec.parent is None:
        return []
    key, parent_name = spec.parent
    parents = everything.get(parent_name)
    if key not in frame.columns or not _repairable(parents):
        return []
    assert isinstance(parents, gpd.GeoDataFrame)
    parents = parents[parents.geometry.notna() & ~parents.geometry.is_empty]
    parent_geoms = _polygonal(parents.geometry.to_crs(crs).to_numpy())
    parent_ids = parents["id"].astype("string").fillna("").to_numpy(dtype=object)
    child_geoms = _polygonal(frame.geometry.to_crs(crs).to_numpy())
    child_keys = frame[key].astype("string").fillna("").to_numpy(dtype=object)
    by_parent: dict[str, list[Any]] = {}
    for geom, parent_key in zip(child_geoms, child_keys, strict=True):
        if geom is not None:
            by_parent.setdefault(str(parent_key), []).append(geom)
    gaps: list[SiblingGap] = []
    for parent_id, parent in zip(parent_ids, parent_geoms, strict=True):
        children = by_parent.get(str(parent_id), [])
        if parent is None or not children:
            continue
        gap_m2 = float(shapely.area(shapely.difference(parent, shapely.union_all(children))))
        gaps.append(
            SiblingGap(name, parent_name, str(parent_id), gap_m2, gap_m2 / max(parent.area, 1e-9))
        )
    return gaps


def _pair_problem(pair: OverlapPair) -> Problem:
    one = AREA_ONE.get(pair.layer) or _("feature")
    loser = [i for i in (pair.first_id, pair.second_id) if i != pair.received_by]
    params = {
        "one": one,
        "first": pair.first_id,
        "second": pair.second_id,
        "area": f"{pair.area_m2:,.0f}",
        "share": f"{pair.share:.1%}",
        "winner": pair.received_by,
        "losers": ", ".join(loser),
        "rule": RULE_TEXT,
    }
    if loser:
        message = _(
            "%(one)s %(first)s and %(second)s overlapped by %(area)s m² (%(share)s of the "
            "smaller): given to %(winner)s; taken out of %(losers)s (%(rule)s)",
            **params,
        )
    else:
        message = _(
            "%(one)s %(first)s and %(second)s overlapped by %(area)s m² (%(share)s of the "
            "smaller): given to %(winner)s (%(rule)s)",
            **params,
        )
    return Problem(
        pair.layer,
        pair.first_id,
        "overlap_repaired",
        message,
        _(
            "check the shared boundary; redraw it in the file if the overlap belongs to the "
            "other one"
        ),
        "repaired",
    )


def _gap_problem(gap: SiblingGap) -> Problem:
    one = AREA_ONE.get(gap.parent_layer) or _("feature")
    return Problem(
        gap.parent_layer,
        gap.parent_id,
        "gap_between_siblings",
        _(
            "%(one)s %(id)s: %(area)s m² (%(share)s) is covered by none of its %(children)s "
            "(left as it is, not filled)",
            one=one,
            id=gap.parent_id,
            area=format(gap.area_m2, ",.0f"),
            share=format(gap.share, ".1%"),
            children=AREA_MANY.get(gap.layer) or gap.layer,
        ),
        _(
            "extend a neighbouring %(child)s over it, or leave it if it belongs to no one "
            "(a river, a park)",
            child=AREA_ONE.get(gap.layer) or _("feature"),
        ),
        "warning",
    )


def _empty_pieces(crs: CRS | int = 4326) -> gpd.GeoDataFrame:
    columns: dict[str, Any] = {
        "layer": pd.Series([], dtype=object),
        "feature_ids": pd.Series([], dtype=object),
        "received_by": pd.Series([], dtype=object),
        "area_m2": pd.Series([], dtype=float),
    }
    return gpd.GeoDataFrame(columns, geometry=gpd.GeoSeries([], crs=crs), crs=crs)
