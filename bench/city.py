"""A generated whole-city workspace on the real Wuhan streets, for benchmarks at city scale.

``python bench/city.py --units 40 --out /tmp/wuhan.gpkg`` (or :func:`build_city`) writes a
gisapp workspace GeoPackage through the product's own import path
(:func:`gisapp.services.ingest.import_into`: read, validate, save), one import per layer so
that every layer carries its own provenance note. Only the streets are real; everything
else is **generated** and labelled so in the layer notes. Equal arguments and seed give an
equal workspace.

How each layer is made (all computed in the streets' metric CRS, EPSG:32650):

``roads``
    The real streets of ``wuhan_streets.parquet`` (OpenStreetMap via OSMnx), with their
    ``highway`` class; optionally only those whose midpoint lies in a square of
    ``extent_km`` around the median street midpoint (small test cities).
``stations``
    ``n_stations`` police stations spread over the city: seeded k-means (k-means++ start)
    of the street midpoints, each centre moved to the nearest street midpoint so that a
    station stands on a street.
``units``
    ``n_units`` cars, dealt round-robin over the stations (station 1, 2, ... 10, 1, ...),
    with an empty ``shift`` (on duty in every shift) and the ``grid_ids`` below.
``grids``
    A regular 1 km x 1 km grid over the streets' extent, clipped to the convex hull of the
    streets (pieces under 5 % of a cell dropped). Every grid goes to its nearest station;
    a station's grids are then split among its units in contiguous chunks: ordered by
    angle around the station and cut where the cumulative street length crosses equal
    shares, so the units of one station get about equal street kilometres. A station with
    no unit keeps its grids unassigned. ``community_id`` is the station's area
    (``area-01``...); there is no communities layer.
``incidents``
    ``n_incidents`` points on real streets: ``n_centres`` seeded centres (random street
    midpoints); 70 % of the incidents fall on a street near a centre (normal offset of
    ``cluster_m`` per axis, moved to the nearest street midpoint), the rest on uniformly
    drawn streets; each at a uniform position along its street. Clock hours follow a
    night-peaked weight ``max(1 + 1.5 cos(2 pi (h - 1) / 24), 0.2)`` (peak at 01:00), days
    are uniform over the 28 days before ``end_date``, minutes uniform. Categories (with
    severity and the preventable flag) are drawn with fixed shares: theft, burglary,
    robbery, snatching (preventable), fight, traffic and dispute (not preventable).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import geopandas as gpd  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pyogrio  # noqa: E402
import shapely  # noqa: E402
from numpy.typing import NDArray  # noqa: E402
from scipy.cluster.vq import kmeans2  # noqa: E402
from scipy.spatial import cKDTree  # noqa: E402

from gisapp.services.ingest import Source, import_into  # noqa: E402

logger = logging.getLogger(__name__)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
STREETS = DATA / "wuhan_streets.parquet"
TIMEZONE = "Asia/Shanghai"
#: The incidents cover the 28 days before this date (local time).
END_DATE = dt.date(2024, 5, 1)
SEED = 20240501
GRID_M = 1000.0
#: Clipped grid pieces smaller than this share of a cell are dropped.
MIN_GRID_SHARE = 0.05
CLUSTERED_SHARE = 0.7

#: Category, share of incidents, severity (1-5), preventable.
CATEGORIES: tuple[tuple[str, float, int, bool], ...] = (
    ("theft", 0.35, 3, True),
    ("burglary", 0.15, 4, True),
    ("robbery", 0.05, 5, True),
    ("snatching", 0.05, 5, True),
    ("fight", 0.15, 3, False),
    ("traffic", 0.15, 2, False),
    ("dispute", 0.10, 1, False),
)


@dataclass(frozen=True)
class City:
    """What :func:`build_city` wrote: the workspace path and the feature count per layer."""

    path: Path
    counts: dict[str, int]
    end_date: dt.date


def read_streets(path: Path = STREETS, *, extent_km: float | None = None) -> gpd.GeoDataFrame:
    """The real streets (metric CRS), or those whose midpoint lies in a centred square.

    Parameters
    ----------
    path
        The GeoParquet street file.
    extent_km
        Side of the square kept around the median street midpoint; ``None`` keeps all.
    """
    streets = gpd.read_parquet(path)[["highway", "geometry"]]
    if extent_km is not None:
        mid = _midpoints(streets)
        centre = np.median(mid, axis=0)
        inside = (np.abs(mid - centre) <= extent_km * 500.0).all(axis=1)
        streets = streets[inside]
    streets = streets.reset_index(drop=True)
    streets["highway"] = streets["highway"].astype(str)
    return streets


def _midpoints(streets: gpd.GeoDataFrame) -> NDArray[np.float64]:
    geoms = streets.geometry.to_numpy()
    return shapely.get_coordinates(shapely.line_interpolate_point(geoms, 0.5, normalized=True))


def place_stations(
    mid: NDArray[np.float64], n_stations: int, rng: np.random.Generator
) -> NDArray[np.int64]:
    """Street indices of ``n_stations`` stations: k-means centres moved onto streets."""
    centres, _ = kmeans2(mid, n_stations, minit="++", seed=rng)
    _, nearest = cKDTree(mid).query(centres)
    chosen: list[int] = []
    for street in np.asarray(nearest, dtype=np.int64):
        # two centres on one street would make two stations in one place
        while int(street) in chosen:
            street = int(cKDTree(mid).query(mid[street], k=len(chosen) + 2)[1][-1])
        chosen.append(int(street))
    return np.asarray(chosen, dtype=np.int64)


def make_grids(streets: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """1 km cells over the streets' extent, clipped to their convex hull (slivers dropped)."""
    minx, miny, maxx, maxy = streets.total_bounds
    xs = np.arange(np.floor(minx / GRID_M) * GRID_M, maxx, GRID_M)
    ys = np.arange(np.floor(miny / GRID_M) * GRID_M, maxy, GRID_M)
    gx, gy = (a.ravel() for a in np.meshgrid(xs, ys))
    cells = shapely.box(gx, gy, gx + GRID_M, gy + GRID_M)
    hull = shapely.convex_hull(shapely.union_all(streets.geometry.to_numpy()))
    clipped = shapely.intersection(cells, hull)
    keep = shapely.area(clipped) >= MIN_GRID_SHARE * GRID_M * GRID_M
    return gpd.GeoDataFrame(geometry=clipped[keep], crs=streets.crs)


def assign_grids(
    grids: gpd.GeoDataFrame,
    streets: gpd.GeoDataFrame,
    station_xy: NDArray[np.float64],
    unit_station: list[int],
) -> NDArray[np.int64]:
    """The unit (index) of every grid, -1 for none: nearest station, then angle chunks of
    about equal street length among the station's units."""
    centroid = shapely.get_coordinates(shapely.centroid(grids.geometry.to_numpy()))
    station_of = np.asarray(cKDTree(station_xy).query(centroid)[1], dtype=np.int64)
    mid = _midpoints(streets)
    cell_of_street = np.asarray(
        grids.sindex.query(shapely.points(mid), predicate="intersects"), dtype=np.int64
    )
    length_m = np.bincount(
        cell_of_street[1],
        weights=streets.length.to_numpy()[cell_of_street[0]],
        minlength=len(grids),
    )
    unit_of = np.full(len(grids), -1, dtype=np.int64)
    for s in range(len(station_xy)):
        units = [u for u, st in enumerate(unit_station) if st == s]
        mine = np.flatnonzero(station_of == s)
        if not units or not len(mine):
            continue
        dx, dy = (centroid[mine] - station_xy[s]).T
        mine = mine[np.argsort(np.arctan2(dy, dx), kind="stable")]
        # +1 m per grid so grids without streets still spread over the chunks
        share = np.cumsum(length_m[mine] + 1.0)
        chunk = np.minimum((share - 1e-9) * len(units) // share[-1], len(units) - 1)
        unit_of[mine] = np.asarray(units)[chunk.astype(np.int64)]
    return unit_of


def make_incidents(
    streets: gpd.GeoDataFrame,
    n_incidents: int,
    n_centres: int,
    cluster_m: float,
    end_date: dt.date,
    rng: np.random.Generator,
) -> gpd.GeoDataFrame:
    """Generated incidents on the streets (see the module docstring)."""
    mid = _midpoints(streets)
    n_streets = len(streets)
    centres = rng.choice(n_streets, min(n_centres, n_streets), replace=False)
    clustered = rng.random(n_incidents) < CLUSTERED_SHARE
    target = mid[rng.choice(centres, n_incidents)] + rng.normal(0.0, cluster_m, (n_incidents, 2))
    near = np.asarray(cKDTree(mid).query(target)[1], dtype=np.int64)
    street = np.where(clustered, near, rng.integers(0, n_streets, n_incidents))
    points = shapely.line_interpolate_point(
        streets.geometry.to_numpy()[street], rng.random(n_incidents), normalized=True
    )
    hour_weight = np.clip(1.0 + 1.5 * np.cos((np.arange(24) - 1) / 24 * 2 * np.pi), 0.2, None)
    hour = rng.choice(24, n_incidents, p=hour_weight / hour_weight.sum())
    day = rng.integers(1, 29, n_incidents)
    minute = rng.integers(0, 60, n_incidents)
    start = pd.Timestamp(end_date)
    times = (
        start
        - pd.to_timedelta(day, unit="D")
        + pd.to_timedelta(hour, unit="h")
        + pd.to_timedelta(minute, unit="min")
    )
    share = np.array([c[1] for c in CATEGORIES])
    kind = rng.choice(len(CATEGORIES), n_incidents, p=share / share.sum())
    return gpd.GeoDataFrame(
        {
            "id": [f"inc-{i:06d}" for i in range(1, n_incidents + 1)],
            "occurred_at": times.strftime("%Y-%m-%d %H:%M:%S"),
            "category": [CATEGORIES[k][0] for k in kind],
            "severity": [CATEGORIES[k][2] for k in kind],
            "preventable": [CATEGORIES[k][3] for k in kind],
        },
        geometry=points,
        crs=streets.crs,
    )


def _import(out: Path, layer: str, frame: pd.DataFrame, note: str, tmp: Path) -> int:
    """Write one layer to a file and import it into the workspace with its note."""
    if isinstance(frame, gpd.GeoDataFrame):
        path = tmp / f"{layer}.gpkg"
        frame.to_file(path, layer=layer, driver="GPKG")
    else:
        # a GeoPackage table without geometry is how a table layer is read
        path = tmp / f"{layer}.gpkg"
        pyogrio.write_dataframe(frame, path, layer=layer, driver="GPKG")
    result = import_into(out, [Source(path, layer)], timezone=TIMEZONE, note=note)
    if not result.ok:
        errors = [p for p in result.problems if p.severity == "error"]
        raise RuntimeError(f"the generated {layer!r} layer did not import: {errors[:5]}")
    return result.saved[layer]


def build_city(
    out: Path,
    *,
    n_units: int = 40,
    n_stations: int = 10,
    n_incidents: int = 50_000,
    n_centres: int = 300,
    cluster_m: float = 250.0,
    extent_km: float | None = None,
    streets_path: Path = STREETS,
    end_date: dt.date = END_DATE,
    seed: int = SEED,
) -> City:
    """Build the generated city workspace at ``out`` (replaced if it exists).

    Parameters
    ----------
    out
        The workspace GeoPackage to write.
    n_units, n_stations
        Cars, and the stations they are dealt over.
    n_incidents, n_centres, cluster_m
        Generated incidents, their cluster centres and the spread around a centre.
    extent_km
        Keep only the streets in a centred square of this side (``None``: the whole city).
    streets_path
        The real streets (GeoParquet).
    end_date
        The incidents cover the 28 days before it.
    seed
        Seed of every random draw.

    Returns
    -------
    City
        The path and the feature count of every layer.
    """
    rng = np.random.default_rng(seed)
    streets = read_streets(streets_path, extent_km=extent_km)
    mid = _midpoints(streets)
    at = place_stations(mid, n_stations, rng)
    station_xy = mid[at]
    station_ids = [f"st-{s + 1:02d}" for s in range(n_stations)]
    stations = gpd.GeoDataFrame(
        {
            "id": station_ids,
            "name": [f"Generated station {s + 1}" for s in range(n_stations)],
            "kind": "station",
        },
        geometry=shapely.points(station_xy),
        crs=streets.crs,
    )
    unit_station = [u % n_stations for u in range(n_units)]
    unit_ids = [f"car-{u + 1:02d}" for u in range(n_units)]
    grids = make_grids(streets)
    unit_of = assign_grids(grids, streets, station_xy, unit_station)
    grid_station = np.asarray(
        cKDTree(station_xy).query(shapely.get_coordinates(grids.centroid))[1], dtype=np.int64
    )
    grids.insert(0, "id", [f"g-{i:04d}" for i in range(1, len(grids) + 1)])
    grids.insert(1, "community_id", [f"area-{s + 1:02d}" for s in grid_station])
    grids.insert(2, "unit_id", [unit_ids[u] if u >= 0 else None for u in unit_of])
    units = pd.DataFrame(
        {
            "id": unit_ids,
            "mode": "car",
            "station_id": [station_ids[s] for s in unit_station],
            "grid_ids": [",".join(grids["id"][unit_of == u]) for u in range(n_units)],
            "shift": "",
        }
    )
    incidents = make_incidents(streets, n_incidents, n_centres, cluster_m, end_date, rng)
    generated = f"generated (seed {seed}; bench/city.py)"
    notes = {
        "roads": "real: OpenStreetMap drivable streets of Wuhan (neatnet wuhan_8989), "
        "© OpenStreetMap contributors"
        + (f"; clipped to a {extent_km:g} km square" if extent_km else ""),
        "stations": f"{generated}: k-means centres of the street midpoints, on streets",
        "grids": f"{generated}: 1 km cells clipped to the streets' convex hull, split "
        "among the nearest station's units by street length",
        "units": f"{generated}: {n_units} cars dealt round-robin over the stations",
        "incidents": f"{generated}: {n_incidents:,} incidents around {n_centres} centres "
        f"on real streets, night-peaked hours, the 28 days before {end_date.isoformat()}",
    }
    out = Path(out)
    out.unlink(missing_ok=True)
    counts: dict[str, int] = {}
    frames = {
        "roads": streets,
        "stations": stations,
        "grids": grids,
        "units": units,
        "incidents": incidents,
    }
    with tempfile.TemporaryDirectory() as tmp:
        for layer, frame in frames.items():
            counts[layer] = _import(out, layer, frame, notes[layer], Path(tmp))
            logger.info("%s: %s features", layer, f"{counts[layer]:,}")
    return City(out, counts, end_date)


def main(argv: list[str] | None = None) -> int:
    """The command line: build the workspace and print its layer counts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="workspace GeoPackage to write")
    parser.add_argument("--units", type=int, default=40, help="cars (default 40)")
    parser.add_argument("--stations", type=int, default=10, help="stations (default 10)")
    parser.add_argument("--incidents", type=int, default=50_000, help="incidents (default 50,000)")
    parser.add_argument("--centres", type=int, default=300, help="incident centres (default 300)")
    parser.add_argument("--extent-km", type=float, default=None, help="keep a centred square")
    parser.add_argument("--seed", type=int, default=SEED, help=f"seed (default {SEED})")
    args = parser.parse_args(argv)
    if not STREETS.exists():
        parser.error(
            f"the street file {STREETS} is missing; put the shared data beside the checkout"
        )
    if args.units < 1 or args.stations < 1 or args.incidents < 1 or args.centres < 1:
        parser.error("--units, --stations, --incidents and --centres must be at least 1")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    city = build_city(
        args.out,
        n_units=args.units,
        n_stations=args.stations,
        n_incidents=args.incidents,
        n_centres=args.centres,
        extent_km=args.extent_km,
        seed=args.seed,
    )
    for layer, count in city.counts.items():
        print(f"{layer}: {count:,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
