"""Build the bundled sample workspaces from the real source data.

Run ``python sample_geodata/build_samples.py [--source DIR] [--seed N]``. The output is
deterministic for a given seed and source. ``SOURCES.md`` beside this file describes every
layer: where it comes from and whether it is real, derived or generated.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyogrio
import shapely
from scipy.cluster.vq import kmeans2

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from layers.incidents import apply_categories, load_category_table, parse_timestamps  # noqa: E402
from layers.osm import read_osm_boundaries, read_osm_pois, read_osm_roads  # noqa: E402

logger = logging.getLogger("build_samples")

DEFAULT_SOURCE = Path(__file__).resolve().parents[2] / "shared" / "data"
DEFAULT_SEED = 20140901

#: TIGER MAF/TIGER feature class (MTFCC) → OSM-like ``highway`` class.
MTFCC_TO_HIGHWAY: Mapping[str, str] = {
    "S1100": "motorway",  # primary road, limited access
    "S1200": "primary",  # secondary road (US/state highway)
    "S1400": "residential",  # local neighbourhood road, city street
    "S1500": "track",  # vehicular trail (4WD)
    "S1630": "motorway_link",  # ramp
    "S1640": "service",  # service drive
    "S1710": "footway",  # walkway / pedestrian trail
    "S1730": "service",  # alley
    "S1740": "service",  # private road for service vehicles
    "S1750": "service",  # internal census bureau use
    "S1780": "service",  # parking lot road
    "S1820": "cycleway",  # bike path
}

#: Households per km² of block area used for the communities' ``households`` estimate.
HOUSEHOLDS_PER_KM2 = 1000.0
#: Sample values, not real data: shares of fully, semi and not property-managed communities.
PROPERTY_MANAGED_SHARES = {"full": 0.2, "semi": 0.4, "none": 0.4}


# --------------------------------------------------------------------------------------
# Partitioning blocks into contiguous nested regions
# --------------------------------------------------------------------------------------


def block_adjacency(blocks: gpd.GeoSeries, *, min_shared_m: float = 1.0) -> nx.Graph:
    """Graph of blocks (metric CRS) that share at least ``min_shared_m`` of boundary."""
    graph = nx.Graph()
    graph.add_nodes_from(range(len(blocks)))
    left, right = blocks.sindex.query(blocks, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    boundaries = blocks.boundary.to_numpy()
    shared = shapely.length(shapely.intersection(boundaries[left], boundaries[right]))
    for a, b, length in zip(left, right, shared, strict=True):
        if length >= min_shared_m:
            graph.add_edge(int(a), int(b))
    return graph


def partition(
    members: np.ndarray,
    k: int,
    points: np.ndarray,
    graph: nx.Graph,
    rng: np.random.Generator,
) -> np.ndarray:
    """Split ``members`` (block positions) into ``k`` contiguous groups.

    Seeded k-means on block centroids gives compact groups; then every piece of a group
    that is cut off from the group's largest piece joins the neighbouring group it shares
    most blocks with, until every group is one connected piece (or cannot be merged: an
    island). Returns a label (0..k'-1) per member; empty groups are dropped.
    """
    if k <= 1 or len(members) <= 1:
        return np.zeros(len(members), dtype=int)
    k = min(k, len(members))
    _, labels = kmeans2(points[members], k, minit="++", rng=rng)
    label_of = dict(zip(members.tolist(), labels.tolist(), strict=True))
    sub = graph.subgraph(members.tolist())
    for _ in range(20):
        moved = False
        for label in sorted(set(label_of.values())):
            nodes = [n for n, lab in label_of.items() if lab == label]
            pieces = sorted(nx.connected_components(sub.subgraph(nodes)), key=len, reverse=True)
            for piece in pieces[1:]:
                votes: dict[int, int] = {}
                for node in piece:
                    for other in sub.neighbors(node):
                        if label_of[other] != label:
                            votes[label_of[other]] = votes.get(label_of[other], 0) + 1
                if votes:
                    target = max(sorted(votes), key=votes.__getitem__)
                    for node in piece:
                        label_of[node] = target
                    moved = True
        if not moved:
            break
    raw = np.array([label_of[m] for m in members.tolist()])
    _, dense = np.unique(raw, return_inverse=True)
    return dense


def nested_regions(
    blocks: gpd.GeoDataFrame,
    *,
    n_subdistricts: int | None,
    n_communities: int,
    n_grids: int,
    weight: np.ndarray,
    seed: int,
    subdistrict_of: np.ndarray | None = None,
) -> gpd.GeoDataFrame:
    """Label blocks (metric CRS) with nested sub-district, community and grid numbers.

    Either ``n_subdistricts`` groups are made, or ``subdistrict_of`` (one label per block)
    is taken as given. Communities and grids are shared out between parents in
    proportion to ``weight`` (e.g. road length).
    """
    rng = np.random.default_rng(seed)
    graph = block_adjacency(blocks.geometry)
    points = np.column_stack([blocks.centroid.x, blocks.centroid.y])
    everyone = np.arange(len(blocks))
    if subdistrict_of is None:
        assert n_subdistricts is not None
        subdistrict_of = partition(everyone, n_subdistricts, points, graph, rng)
    community_of = np.full(len(blocks), -1)
    grid_of = np.full(len(blocks), -1)
    next_community = 0
    total = weight.sum()
    for parent in np.unique(subdistrict_of):
        members = everyone[subdistrict_of == parent]
        k = max(1, round(n_communities * weight[members].sum() / total))
        labels = partition(members, k, points, graph, rng)
        community_of[members] = labels + next_community
        next_community += labels.max() + 1
    next_grid = 0
    for community in np.unique(community_of):
        members = everyone[community_of == community]
        k = max(1, round(n_grids * weight[members].sum() / total))
        labels = partition(members, k, points, graph, rng)
        grid_of[members] = labels + next_grid
        next_grid += labels.max() + 1
    labelled = blocks.copy()
    labelled["subdistrict_no"] = subdistrict_of
    labelled["community_no"] = community_of
    labelled["grid_no"] = grid_of
    return labelled


def dissolve_clean(blocks: gpd.GeoDataFrame, by: str) -> gpd.GeoDataFrame:
    """Dissolve blocks by ``by``; slivers between touching blocks are closed with a 0.5 m
    buffer in and out, which keeps the nesting because every level is built the same way
    from the same blocks."""
    merged = blocks[[by, "geometry"]].dissolve(by=by).reset_index()
    merged["geometry"] = shapely.make_valid(merged.geometry.buffer(0.5).buffer(-0.5).values)
    return merged


# --------------------------------------------------------------------------------------
# Writing a workspace
# --------------------------------------------------------------------------------------


def write_workspace(
    path: Path,
    layers: Mapping[str, gpd.GeoDataFrame],
    tables: Mapping[str, pd.DataFrame],
    meta: Mapping[str, str],
) -> None:
    """Write spatial layers (EPSG:4326), tables and ``gisapp_meta`` to a new GeoPackage."""
    path.unlink(missing_ok=True)
    for name, frame in layers.items():
        frame.to_crs("EPSG:4326").to_file(path, layer=name, driver="GPKG")
    for name, table in tables.items():
        pyogrio.write_dataframe(table, path, layer=name, driver="GPKG")
    meta_table = pd.DataFrame({"key": list(meta), "value": [str(v) for v in meta.values()]})
    pyogrio.write_dataframe(meta_table, path, layer="gisapp_meta", driver="GPKG")
    logger.info("wrote %s (%.1f MB)", path, path.stat().st_size / 1e6)


def region_layers(
    labelled: gpd.GeoDataFrame,
    subdistrict_names: Mapping[int, str],
    subdistrict_ids: Mapping[int, str],
    prefix: str,
    rng: np.random.Generator,
    *,
    households_per_km2: float | None,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Sub-district, community and grid layers from labelled blocks (metric CRS)."""
    subdistricts = dissolve_clean(labelled, "subdistrict_no")
    subdistricts["id"] = subdistricts["subdistrict_no"].map(subdistrict_ids)
    subdistricts["name"] = subdistricts["subdistrict_no"].map(subdistrict_names)

    parent = labelled.groupby("community_no")["subdistrict_no"].first()
    communities = dissolve_clean(labelled, "community_no")
    communities["id"] = [f"{prefix}c{n + 1:03d}" for n in communities["community_no"]]
    communities["subdistrict_id"] = communities["community_no"].map(parent).map(subdistrict_ids)
    communities["name"] = [
        f"{subdistrict_names[p]} community {n + 1}"
        for n, p in zip(
            communities["community_no"], communities["community_no"].map(parent), strict=True
        )
    ]
    if households_per_km2 is not None:
        area_km2 = labelled.groupby("community_no").geometry.apply(lambda g: g.area.sum() / 1e6)
        communities["households"] = (
            (communities["community_no"].map(area_km2) * households_per_km2).round().astype(int)
        )
    communities["property_managed"] = rng.choice(
        list(PROPERTY_MANAGED_SHARES),
        size=len(communities),
        p=list(PROPERTY_MANAGED_SHARES.values()),
    )

    grid_parent = labelled.groupby("grid_no")["community_no"].first()
    grids = dissolve_clean(labelled, "grid_no")
    grids["id"] = [f"{prefix}g{n + 1:03d}" for n in grids["grid_no"]]
    grids["community_id"] = (
        grids["grid_no"]
        .map(grid_parent)
        .map(dict(zip(communities["community_no"], communities["id"], strict=True)))
    )
    grids["subdistrict_no"] = grids["grid_no"].map(grid_parent).map(parent)
    number = np.arange(1, len(grids) + 1)
    grids["officer"] = [f"Sample Officer {n:03d}" for n in number]
    grids["team"] = [f"Team {chr(ord('A') + int(s) % 26)}" for s in grids["subdistrict_no"]]
    # 555-01xx numbers are reserved for fiction: these are sample values, not real lines.
    grids["phone"] = [f"555-01{n % 100:02d}" for n in number]
    return (
        subdistricts[["id", "name", "geometry"]],
        communities.drop(columns="community_no"),
        grids.drop(columns="grid_no"),
    )


# --------------------------------------------------------------------------------------
# New Haven
# --------------------------------------------------------------------------------------


def node_tiger_lines(streets: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Split TIGER lines at every crossing; each piece keeps its source line's fields."""
    metric = streets.to_crs(streets.estimate_utm_crs())
    noded = shapely.node(shapely.union_all(metric.geometry.values))
    pieces = gpd.GeoDataFrame(geometry=list(shapely.get_parts(noded)), crs=metric.crs)
    middles = gpd.GeoDataFrame(
        geometry=pieces.geometry.interpolate(0.5, normalized=True), crs=metric.crs
    )
    nearest = gpd.sjoin_nearest(middles, metric[["FULLNAME", "MTFCC", "geometry"]], how="left")
    nearest = nearest[~nearest.index.duplicated(keep="first")]
    pieces["name"] = nearest["FULLNAME"].to_numpy()
    pieces["highway"] = nearest["MTFCC"].map(MTFCC_TO_HIGHWAY).fillna("road").to_numpy()
    pieces["oneway"] = False  # TIGER carries no direction of travel
    pieces["maxspeed"] = np.nan  # nor speed limits
    return pieces


def find_hq(roads_metric: gpd.GeoDataFrame) -> shapely.Point:
    """NHPD headquarters, 1 Union Avenue: where TIGER's Union Ave meets Columbus Ave."""
    union = shapely.union_all(roads_metric.loc[roads_metric["name"] == "Union Ave"].geometry.values)
    columbus = shapely.union_all(
        roads_metric.loc[roads_metric["name"] == "Columbus Ave"].geometry.values
    )
    crossing = shapely.intersection(union, columbus)
    points = shapely.get_parts(crossing)
    if len(points) == 0:
        raise RuntimeError("Union Ave and Columbus Ave do not meet in the TIGER lines")
    return shapely.centroid(shapely.multipoints(points))


def build_new_haven(source: Path, out: Path, seed: int) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    raw = gpd.read_file(source / "new_haven.gpkg", layer="incidents")
    streets = gpd.read_file(source / "new_haven.gpkg", layer="streets")
    tz = "America/New_York"

    occurred = parse_timestamps(raw["date"], times=raw["time"], tz=tz)
    unparsed = int(occurred.isna().sum())
    table = load_category_table()
    incidents = gpd.GeoDataFrame(
        {
            "id": [f"nh{n:04d}" for n in range(1, len(raw) + 1)],
            "occurred_at": occurred,
            "category": raw["dataset"],
            "address": raw["street"],
        },
        geometry=raw.geometry,
        crs=raw.crs,
    )
    incidents, problems = apply_categories(incidents, table)
    labels = incidents["category"].map(table.set_index("category")["label"])
    cross = raw["intersecti"].fillna("").str.strip()
    incidents["description"] = labels.where(cross == "", labels + " near " + cross)
    incidents = incidents[incidents["occurred_at"].notna()]

    roads = node_tiger_lines(streets)
    blocks = gpd.GeoDataFrame(
        geometry=list(shapely.get_parts(shapely.polygonize(roads.geometry.values))),
        crs=roads.crs,
    )
    blocks = blocks[blocks.area >= 200].reset_index(drop=True)
    graph = block_adjacency(blocks.geometry)
    main = max(nx.connected_components(graph), key=len)
    n_blocks_all = len(blocks)
    blocks = blocks.iloc[sorted(main)].reset_index(drop=True)

    labelled = nested_regions(
        blocks,
        n_subdistricts=6,
        n_communities=30,
        n_grids=200,
        weight=blocks.area.to_numpy() ** 0.5,
        seed=seed,
    )
    # Sub-districts are named after the compass direction of their centre from the city's.
    centre = labelled.union_all().centroid
    names: dict[int, str] = {}
    for number, group in labelled.groupby("subdistrict_no"):
        c = group.union_all().centroid
        angle = np.degrees(np.arctan2(c.y - centre.y, c.x - centre.x)) % 360
        direction = [
            "East",
            "North-East",
            "North",
            "North-West",
            "West",
            "South-West",
            "South",
            "South-East",
        ][int(((angle + 22.5) % 360) // 45)]
        names[int(number)] = f"{direction} New Haven"
    # Two groups may share a direction: number them then.
    seen: dict[str, int] = {}
    for number in sorted(names):
        seen[names[number]] = seen.get(names[number], 0) + 1
        if list(names.values()).count(names[number]) > 1:
            names[number] = f"{names[number]} {seen[names[number]]}"
    ids = {n: f"nh-s{n + 1}" for n in names}
    subdistricts, communities, grids = region_layers(
        labelled, names, ids, "nh-", rng, households_per_km2=HOUSEHOLDS_PER_KM2
    )

    hq = find_hq(roads)
    stations = gpd.GeoDataFrame(
        {
            "id": ["nhpd-hq"],
            "name": ["New Haven Police Department headquarters, 1 Union Ave"],
            "kind": ["station"],
            "capacity": [4],
            "fixed": [True],
        },
        geometry=[hq],
        crs=roads.crs,
    )

    # Prevention zones: the five blocks with the most preventable incidents, 100 m around.
    metric_incidents = incidents.to_crs(roads.crs)
    preventable = metric_incidents[metric_incidents["preventable"]]
    hits = gpd.sjoin(
        preventable[["geometry"]], blocks.reset_index(names="block"), predicate="within"
    )
    top = hits["block"].value_counts().head(5)
    zones = gpd.GeoDataFrame(
        {
            "id": [f"nh-z{i + 1}" for i in range(len(top))],
            "name": [
                f"Preventable-crime hotspot {i + 1} ({n} incidents)" for i, n in enumerate(top)
            ],
            "kind": "hotspot",
            "required_minutes": 3,
            "priority": np.arange(1, len(top) + 1),
        },
        geometry=blocks.geometry.iloc[top.index].buffer(100).to_numpy(),
        crs=roads.crs,
    )

    # Units: the 4 cars from HQ of the routing baseline, an e-bike for each of the three
    # sub-districts with the most preventable incidents, and 2 foot units downtown (the
    # sub-district holding HQ).
    grid_of_incident = gpd.sjoin(
        preventable[["geometry"]], grids[["subdistrict_no", "geometry"]], predicate="within"
    )
    busiest = grid_of_incident["subdistrict_no"].value_counts().index[:3].tolist()
    hq_sub = (
        int(grids[grids.contains(hq)]["subdistrict_no"].iloc[0])
        if grids.contains(hq).any()
        else busiest[0]
    )
    all_grids = ",".join(grids["id"])
    units = [
        {
            "id": f"car-{i}",
            "mode": "car",
            "station_id": "nhpd-hq",
            "grid_ids": all_grids,
            "shift": "",
        }
        for i in range(1, 5)
    ]
    grids["unit_id"] = [f"car-{int(s) % 4 + 1}" for s in grids["subdistrict_no"]]
    for i, sub in enumerate(busiest, start=1):
        mine = grids["subdistrict_no"] == sub
        units.append(
            {
                "id": f"ebike-{i}",
                "mode": "ebike",
                "station_id": "nhpd-hq",
                "grid_ids": ",".join(grids.loc[mine, "id"]),
                "shift": "08:00-16:00",
            }
        )
        grids.loc[mine, "unit_id"] = f"ebike-{i}"
    for i in (1, 2):
        mine = grids["subdistrict_no"] == hq_sub
        units.append(
            {
                "id": f"foot-{i}",
                "mode": "foot",
                "station_id": "nhpd-hq",
                "grid_ids": ",".join(grids.loc[mine, "id"]),
                "shift": "08:00-16:00" if i == 1 else "16:00-24:00",
            }
        )
    grids = grids.drop(columns="subdistrict_no")

    notes = {
        "incidents": "real: New Haven police incident feed, September 2014 (times parsed in America/New_York; group/severity/preventable from the category table)",
        "roads": "derived: US Census TIGER lines noded at every crossing; MTFCC mapped to highway",
        "subdistricts": f"derived: street blocks (polygonised noded TIGER lines) in 6 seeded contiguous k-means groups (seed {seed})",
        "communities": "derived: blocks of each sub-district in seeded contiguous k-means groups; households = block area x 1,000 per km2 (estimate); property_managed = generated sample values",
        "grids": "derived: blocks of each community in seeded contiguous k-means groups; officer/team/phone = generated sample values",
        "stations": "real: NHPD headquarters, 1 Union Ave, placed where TIGER Union Ave meets Columbus Ave",
        "prevention_zones": "derived: 100 m around the 5 street blocks with the most preventable incidents",
        "units": "generated: 4 cars from HQ (routing baseline), 3 e-bikes, 2 foot units (sample values)",
        "key_places": "absent: the source has no key places",
    }
    meta = {
        "name": "New Haven, CT (sample)",
        "timezone": tz,
        "description": "New Haven, Connecticut, September 2014: 3,293 real police incidents on US Census TIGER streets, with derived sub-districts, communities and grids. See SOURCES.md.",
        "layer_notes": json.dumps(notes, ensure_ascii=False),
        "attribution": "City of New Haven police incident feed; US Census Bureau TIGER/Line",
        "seed": str(seed),
    }
    roads_out = roads.reset_index(drop=True)
    write_workspace(
        out,
        {
            "subdistricts": subdistricts,
            "communities": communities,
            "grids": grids,
            "prevention_zones": zones,
            "incidents": incidents,
            "roads": roads_out,
            "stations": stations,
        },
        {"units": pd.DataFrame(units)},
        meta,
    )
    hq_lonlat = gpd.GeoSeries([hq], crs=roads.crs).to_crs("EPSG:4326").iloc[0]
    return {
        "incidents": len(incidents),
        "unparsed": unparsed,
        "category_problems": len(problems),
        "roads": len(roads_out),
        "blocks_all": n_blocks_all,
        "blocks_used": len(blocks),
        "subdistricts": len(subdistricts),
        "communities": len(communities),
        "grids": len(grids),
        "hq_lonlat": (round(hq_lonlat.x, 6), round(hq_lonlat.y, 6)),
        "units": len(units),
    }


# --------------------------------------------------------------------------------------
# Liechtenstein
# --------------------------------------------------------------------------------------

#: Generated incident mix: category (from the bundled table) → share of incidents.
LI_CATEGORY_SHARES: Mapping[str, float] = {
    "burglary-resforcible": 0.06,
    "burglary-commforcible": 0.02,
    "theft-other-mv": 0.06,
    "theft-of-auto": 0.02,
    "robbery-street-no-weapon": 0.01,
    "crim-mischief-priv-prop": 0.07,
    "simple-assault": 0.04,
    "fight": 0.03,
    "breach-of-peace": 0.06,
    "mv-accidentproperty-damage": 0.12,
    "mv-violations-moving-veh": 0.12,
    "burglar-alarms": 0.07,
    "medical-assistance-needed": 0.08,
    "suspicious-person": 0.06,
    "family-dispute": 0.05,
    "lost-property": 0.05,
    "found-property": 0.04,
    "fraud": 0.04,
}

#: Relative hourly rate (24 values, 00-23 h) per group; groups not listed use "default".
HOUR_PROFILES: Mapping[str, Sequence[float]] = {
    "burglary": [2, 2, 2, 2, 1, 1, 1, 2, 3, 4, 5, 5, 5, 5, 5, 5, 4, 4, 3, 3, 3, 3, 2, 2],
    "robbery": [5, 5, 4, 3, 2, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 4, 4, 5, 5, 5],
    "assault": [6, 6, 5, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 4, 4, 5, 6, 6],
    "disorder": [6, 6, 5, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 4, 5, 5, 6, 6],
    "traffic": [1, 1, 1, 1, 1, 1, 3, 6, 6, 4, 3, 3, 4, 4, 4, 5, 6, 6, 4, 3, 2, 2, 1, 1],
    "default": [1, 1, 1, 1, 1, 1, 2, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 3, 3, 2, 2, 1],
}


def build_liechtenstein(
    source: Path, out: Path, seed: int, n_incidents: int = 2000
) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    pbf = source / "liechtenstein-2013-08-03.osm.pbf"
    tz = "Europe/Vaduz"
    municipalities = read_osm_boundaries(pbf, admin_level=8)
    crs = municipalities.estimate_utm_crs()
    municipalities = municipalities.to_crs(crs)
    roads = read_osm_roads(pbf, mode="drive").to_crs(crs)

    # Faces of the road network cut by the municipal boundaries: they tile every
    # municipality exactly, so nesting holds by construction.
    lines = np.concatenate([roads.geometry.values, municipalities.boundary.values])
    faces = gpd.GeoDataFrame(
        geometry=list(
            shapely.get_parts(
                shapely.polygonize(list(shapely.get_parts(shapely.node(shapely.union_all(lines)))))
            )
        ),
        crs=crs,
    )
    inside = gpd.sjoin(
        gpd.GeoDataFrame(geometry=faces.representative_point(), crs=crs),
        municipalities[["geometry"]].reset_index(names="municipality"),
        predicate="within",
    )
    inside = inside[~inside.index.duplicated()]
    # Faces of a few m² are digitising slivers; kept, the 0.5 m closing in dissolve_clean
    # would fill the hole they sit in and make their grid overlap its sibling.
    inside = inside[faces.loc[inside.index].area.to_numpy() >= 200]
    faces = faces.loc[inside.index].reset_index(drop=True)
    municipality_of = inside["municipality"].to_numpy()
    # Weight by road length touching the face: patrol work follows streets, not forest.
    road_len = np.zeros(len(faces))
    hits = gpd.sjoin(roads[["geometry"]], faces.reset_index(names="face"), predicate="intersects")
    np.add.at(road_len, hits["face"].to_numpy(), roads.length.reindex(hits.index).to_numpy())
    labelled = nested_regions(
        faces,
        n_subdistricts=None,
        n_communities=30,
        n_grids=150,
        weight=road_len + 1.0,
        seed=seed,
        subdistrict_of=municipality_of,
    )
    names = {i: str(n) for i, n in enumerate(municipalities["name"])}
    ids = {
        i: f"li-{str(n).lower().replace(' ', '-')}" for i, n in enumerate(municipalities["name"])
    }
    subdistricts, communities, grids = region_layers(
        labelled, names, ids, "li-", rng, households_per_km2=None
    )
    # Real municipal boundaries, not the face union: identical area up to slivers.
    subdistricts = municipalities.assign(id=[ids[i] for i in range(len(municipalities))])[
        ["id", "name", "geometry"]
    ]

    pois = read_osm_pois(pbf, {"amenity": ["school", "kindergarten", "hospital", "police"]}).to_crs(
        crs
    )
    police = pois[pois["value"] == "police"]
    stations = gpd.GeoDataFrame(
        {
            "id": [f"li-police-{i}" for i in police["osm_id"]],
            "name": police["name"].fillna("Landespolizei").to_numpy(),
            "kind": "station",
            "capacity": 2,
            "fixed": True,
        },
        geometry=police.geometry.to_numpy(),
        crs=crs,
    )
    places = pois[pois["value"] != "police"]
    required = {"school": 3, "kindergarten": 3, "hospital": 5}
    key_places = gpd.GeoDataFrame(
        {
            "id": [
                f"li-{t[0]}{i}" for t, i in zip(places["osm_type"], places["osm_id"], strict=True)
            ],
            "name": places["name"].fillna(places["value"]).to_numpy(),
            "kind": places["value"].to_numpy(),
            "required_minutes": places["value"].map(required).to_numpy(),
        },
        geometry=places.geometry.to_numpy(),
        crs=crs,
    )
    schools = key_places[key_places["kind"].isin(["school", "kindergarten"])]
    zones = gpd.GeoDataFrame(
        {
            "id": [f"li-z-{i}" for i in schools["id"]],
            "name": [f"200 m around {n}" for n in schools["name"]],
            "kind": "school_surroundings",
            "required_minutes": 3,
            "priority": 1,
        },
        geometry=schools.buffer(200).to_numpy(),
        crs=crs,
    )

    # Generated incidents: category by LI_CATEGORY_SHARES, place = a random building (its
    # representative point) moved up to 15 m, time = a random day of the four weeks up to
    # the extract date and an hour drawn from the category group's HOUR_PROFILES.
    table = load_category_table().set_index("category")
    buildings = read_osm_pois(pbf, {"building": []}).to_crs(crs)
    categories = np.array(list(LI_CATEGORY_SHARES))
    shares = np.array(list(LI_CATEGORY_SHARES.values()))
    category = rng.choice(categories, size=n_incidents, p=shares / shares.sum())
    where = buildings.geometry.to_numpy()[rng.integers(0, len(buildings), n_incidents)]
    angle = rng.uniform(0, 2 * np.pi, n_incidents)
    radius = rng.uniform(0, 15, n_incidents)
    points = shapely.points(
        shapely.get_x(where) + radius * np.cos(angle), shapely.get_y(where) + radius * np.sin(angle)
    )
    first_day = pd.Timestamp("2013-07-06")
    day = rng.integers(0, 28, n_incidents)
    hour = np.empty(n_incidents, dtype=int)
    for i, cat in enumerate(category):
        profile = np.asarray(
            HOUR_PROFILES.get(table.loc[cat, "group"], HOUR_PROFILES["default"]), dtype=float
        )
        hour[i] = rng.choice(24, p=profile / profile.sum())
    minute = rng.integers(0, 60, n_incidents)
    local = (
        first_day
        + pd.to_timedelta(day, unit="D")
        + pd.to_timedelta(hour, unit="h")
        + pd.to_timedelta(minute, unit="min")
    )
    incidents = gpd.GeoDataFrame(
        {
            "id": [f"li{n:04d}" for n in range(1, n_incidents + 1)],
            "occurred_at": parse_timestamps(pd.Series(local), tz=tz),
            "category": category,
            "is_generated": True,
        },
        geometry=points,
        crs=crs,
    )
    incidents, _ = apply_categories(incidents, load_category_table())
    incidents["description"] = incidents["category"].map(table["label"]) + " (generated)"
    incidents = incidents.sort_values("occurred_at").reset_index(drop=True)
    incidents["id"] = [f"li{n:04d}" for n in range(1, n_incidents + 1)]

    units = [
        {
            "id": f"li-car-{i}",
            "mode": "car",
            "station_id": stations["id"].iloc[0],
            "grid_ids": ",".join(grids["id"]),
            "shift": "",
        }
        for i in (1, 2)
    ]
    for sub_id in ("li-vaduz", "li-schaan"):
        community_ids = set(communities.loc[communities["subdistrict_id"] == sub_id, "id"])
        mine = grids["community_id"].isin(community_ids)
        units.append(
            {
                "id": f"{sub_id}-ebike",
                "mode": "ebike",
                "station_id": stations["id"].iloc[0],
                "grid_ids": ",".join(grids.loc[mine, "id"]),
                "shift": "08:00-16:00",
            }
        )
        grids.loc[mine, "unit_id"] = f"{sub_id}-ebike"
    grids["unit_id"] = grids["unit_id"].fillna("li-car-1") if "unit_id" in grids else "li-car-1"
    grids = grids.drop(columns="subdistrict_no")

    roads_out = roads.rename(columns={"maxspeed_kph": "maxspeed"})
    notes = {
        "subdistricts": "real: the 11 municipalities (OSM boundary=administrative, admin_level=8)",
        "communities": f"derived: faces of the drive network cut by municipal boundaries, seeded contiguous k-means groups per municipality (seed {seed}); property_managed = generated sample values",
        "grids": "derived: the same faces grouped inside each community; officer/team/phone = generated sample values",
        "roads": "real: OSM drivable ways split at junctions (oneway, maxspeed in km/h)",
        "key_places": "real: OSM amenity=school/kindergarten/hospital (areas as representative points)",
        "stations": "real: OSM amenity=police",
        "prevention_zones": "derived: 200 m around every school and kindergarten",
        "incidents": "generated: seeded random process (category mix, building locations, hour-of-day profiles); is_generated = true",
        "units": "generated: 2 cars at the police station, e-bikes for Vaduz and Schaan (sample values)",
    }
    meta = {
        "name": "Liechtenstein (sample)",
        "timezone": tz,
        "description": "Liechtenstein from OpenStreetMap (2013-08-03): real municipalities, roads, schools and police station; derived communities and grids; GENERATED incidents. See SOURCES.md.",
        "layer_notes": json.dumps(notes, ensure_ascii=False),
        "attribution": "© OpenStreetMap contributors, ODbL 1.0",
        "seed": str(seed),
    }
    write_workspace(
        out,
        {
            "subdistricts": subdistricts,
            "communities": communities,
            "grids": grids,
            "prevention_zones": zones,
            "incidents": incidents,
            "roads": roads_out,
            "stations": stations,
            "key_places": key_places,
        },
        {"units": pd.DataFrame(units)},
        meta,
    )
    return {
        "incidents": len(incidents),
        "roads": len(roads_out),
        "faces": len(faces),
        "subdistricts": len(subdistricts),
        "communities": len(communities),
        "grids": len(grids),
        "key_places": key_places["kind"].value_counts().to_dict(),
        "stations": len(stations),
        "zones": len(zones),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--source", type=Path, default=DEFAULT_SOURCE, help="folder of the source data"
    )
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write the workspaces to")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--only", choices=["new_haven", "liechtenstein"], default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.only in (None, "new_haven"):
        logger.info(
            "new_haven: %s", build_new_haven(args.source, args.out / "new_haven.gpkg", args.seed)
        )
    if args.only in (None, "liechtenstein"):
        logger.info(
            "liechtenstein: %s",
            build_liechtenstein(args.source, args.out / "liechtenstein.gpkg", args.seed),
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
