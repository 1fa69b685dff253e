"""Spatial cross-layer checks: layers in place, areas nested without overlaps or gaps,
incidents inside the area."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from layers.crs import metric_crs
from layers.i18n import _
from layers.repair import AREA_LAYERS, AREA_MANY, AREA_ONE, MAX_REPAIR_SHARE, RULE_TEXT
from layers.schema import LAYERS
from layers.validate.report import MAX_LISTED, ProblemCollector

logger = logging.getLogger(__name__)


__all__ = [
    "AREA_LAYERS",
    "area_metric_crs",
    "check_incidents_in_area",
    "check_nesting",
    "check_placement",
]


def check_placement(geo: dict[str, gpd.GeoDataFrame], found: ProblemCollector) -> None:
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
                _(
                    "layer %(layer)s (bbox %(bbox)s) lies away from every other layer, but "
                    "overlaps them with latitude and longitude swapped",
                    layer=repr(name),
                    bbox=", ".join(format(v, ".4f") for v in (minx, miny, maxx, maxy)),
                ),
                _("swap the columns on import: x is the longitude, y the latitude"),
            )
            del geo[name]
        else:
            found.add(
                name,
                None,
                "disjoint_layer",
                _(
                    "layer %(layer)s (bbox %(bbox)s) overlaps no other layer of the workspace",
                    layer=repr(name),
                    bbox=", ".join(format(v, ".4f") for v in (minx, miny, maxx, maxy)),
                ),
                _(
                    "check its CRS (GCJ-02/BD-09 offsets are small; a wrong zone or unit is "
                    "not) and that it belongs to this area"
                ),
                "warning",
            )


def area_metric_crs(geo: Mapping[str, gpd.GeoDataFrame]) -> CRS:
    """The local UTM zone of the workspace, from its outermost area layer if any."""
    for name in (*AREA_LAYERS, *geo):
        if name in geo:
            crs = metric_crs(geo[name])
            logger.debug("computing areas and distances in %s", crs.to_string())
            return crs
    raise AssertionError("no spatial layer")  # pragma: no cover - guarded by the caller


def check_nesting(
    geo: Mapping[str, gpd.GeoDataFrame],
    metric_crs: CRS,
    tolerance: float,
    found: ProblemCollector,
) -> None:
    """Areas inside their parents, siblings without overlaps, parents without gaps."""
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
    found: ProblemCollector,
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
        lambda i: _(
            "%(one)s %(feature)s lies %(share)s (%(area)s m²) outside its %(parent)s "
            "%(parent_id)s (tolerance %(tolerance)s)",
            one=AREA_ONE[name],
            feature=labels[bad][i],
            share=format(share[bad][i], ".1%"),
            area=format(outside_m2[bad][i], ",.0f"),
            parent=AREA_ONE[parent_name],
            parent_id=keys[bad][i],
            tolerance=format(tolerance, ".1%"),
        ),
        _(
            "features of %(layer)s not inside their %(parent)s",
            layer=repr(name),
            parent=AREA_ONE[parent_name],
        ),
        _(
            "redraw the boundary to follow its %(parent)s, or correct %(key)s",
            parent=AREA_ONE[parent_name],
            key=key,
        ),
    )


def _check_overlaps(
    child: gpd.GeoDataFrame,
    name: str,
    key: str | None,
    tolerance: float,
    found: ProblemCollector,
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
    smaller = np.minimum(area_m2[left], area_m2[right])
    bad = overlap_m2 > tolerance * smaller
    labels = child["label"].to_numpy()
    share = np.divide(overlap_m2, smaller, out=np.zeros_like(overlap_m2), where=smaller > 0)
    # Above MAX_REPAIR_SHARE the pair is likely one area drawn twice: no repair offered.
    for code in ("sibling_overlap", "sibling_duplicate"):
        duplicate = code == "sibling_duplicate"
        if duplicate:
            fix = _(
                "remove one of the two if they are the same area, or redraw them; overlaps "
                "above %(share)s of the smaller feature are not repaired on import",
                share=format(MAX_REPAIR_SHARE, ".0%"),
            )
        else:
            fix = _(
                "redraw the shared boundary so each place belongs to exactly one feature, or "
                "accept the overlap repair on import (%(rule)s)",
                rule=RULE_TEXT,
            )
        chosen = bad & ((share > MAX_REPAIR_SHARE) == duplicate)
        a, b, pct, overlap = (
            labels[left[chosen]], labels[right[chosen]], share[chosen], overlap_m2[chosen]
        )  # fmt: skip
        messages = [
            _overlap_message(name, a[i], b[i], overlap[i], pct[i], duplicate=duplicate)
            for i in range(len(a))
        ]
        found.per_feature(
            name,
            list(a),
            code,
            messages.__getitem__,
            _("overlapping features in %(layer)s", layer=repr(name)),
            fix,
        )


def _overlap_message(
    name: str, first: str, second: str, area_m2: float, share: float, *, duplicate: bool
) -> str:
    params = {
        "one": AREA_ONE[name],
        "first": first,
        "second": second,
        "area": f"{area_m2:,.0f}",
        "share": f"{share:.1%}",
    }
    if duplicate:
        return _(
            "%(one)s %(first)s and its sibling %(second)s overlap by %(area)s m² (%(share)s "
            "of the smaller): likely the same area drawn twice",
            **params,
        )
    return _(
        "%(one)s %(first)s and its sibling %(second)s overlap by %(area)s m² (%(share)s of "
        "the smaller)",
        **params,
    )


def _check_gaps(
    child: gpd.GeoDataFrame,
    name: str,
    key: str,
    parents: gpd.GeoDataFrame,
    parent_name: str,
    tolerance: float,
    found: ProblemCollector,
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

    def gap_params(i: int) -> dict[str, object]:
        return {
            "one": AREA_ONE[parent_name],
            "feature": labels[bad][i],
            "area": f"{gap_m2[bad][i]:,.0f}",
            "share": f"{share[bad][i]:.1%}",
            "children": AREA_MANY[name],
        }

    found.per_feature(
        parent_name,
        list(labels[bad]),
        "coverage_gap",
        lambda i: (
            _(
                "%(one)s %(feature)s has %(area)s m² (%(share)s) covered by none of its "
                "%(children)s",
                **gap_params(i),
            )
            if has_children[bad][i]
            else _(
                "%(one)s %(feature)s has %(area)s m² (%(share)s) covered by none of its "
                "%(children)s (it has no %(children)s at all)",
                **gap_params(i),
            )
        ),
        _(
            "features of %(layer)s not fully covered by their %(children)s",
            layer=repr(parent_name),
            children=AREA_MANY[name],
        ),
        _(
            "extend its %(children)s to cover the whole %(parent)s, or add a %(child)s for "
            "the rest",
            children=AREA_MANY[name],
            parent=AREA_ONE[parent_name],
            child=AREA_ONE[name],
        ),
        "warning",
    )


def check_incidents_in_area(
    geo: Mapping[str, gpd.GeoDataFrame],
    metric_crs: CRS,
    buffer_m: float,
    found: ProblemCollector,
) -> None:
    """Incidents farther than ``area_buffer_m`` from every area polygon (one warning)."""
    incidents = geo.get("incidents")
    area_name = next((name for name in AREA_LAYERS if name in geo), None)
    if incidents is None or area_name is None:
        return
    area = geo[area_name].to_crs(metric_crs).geometry.to_numpy()
    points = incidents.to_crs(metric_crs).geometry.to_numpy()
    near, _far = shapely.STRtree(area).query(points, predicate="dwithin", distance=buffer_m)
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
        _(
            "%(count)s of %(total)s incidents lie more than %(distance)s m outside the "
            "%(area)s (e.g. %(samples)s)",
            count=format(len(labels), ","),
            total=format(len(points), ","),
            distance=format(buffer_m, ",.0f"),
            area=AREA_MANY.get(area_name) or area_name,
            samples=samples,
        ),
        _(
            "check their coordinates (CRS, swapped lat/lon) or extend the %(area)s; they are "
            "ignored for this area",
            area=AREA_MANY.get(area_name) or area_name,
        ),
        "warning",
    )
