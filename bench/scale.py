"""Incidents per grid and shift on 1,000,000 incidents: counted where the data lives.

Instance: the real Wuhan streets and the generated city's 1 km grids (``bench/city.py``),
and ``--n`` (1,000,000 by default) **generated** incidents (seeded, labelled so): placed
on the streets as the city's incidents are, at night-peaked hours over the 365 days
before 2024-05-01. They are written into a GeoPackage workspace and a PostGIS schema
(the loading times are reported, ``load_gpkg_s`` and ``load_postgis_s``, not compared).

Question: incidents per grid in the night shift (22:00-06:00, Asia/Shanghai) of April
2024, three ways, each in its own process, interleaved, median of 3 rounds:

- ``postgis``: ours, ``Workspace.incident_counts`` on the PostGIS schema (one SQL
  transaction on the server; only one row per grid comes back);
- ``gpkg``: ours, ``Workspace.incident_counts`` on the GeoPackage;
- ``anchor``: a competent geopandas user on the GeoPackage: ``pyogrio.read_dataframe``
  of the incidents with ``columns=`` and a ``where`` on the month, ``shift_mask`` on the
  local times, ``geopandas.sjoin`` with the grids and a ``groupby``.

Each line reports the client's wall time of the count (``s``, after imports) and the
peak resident memory of its process (``peak_rss_mb``: the process's own ``VmHWM``, since
``wait4`` would report the parent's peak, inherited across ``fork``/``exec``); ``same_answers`` says
whether the three gave the same counts.

A second line (``bench: scale_areas``) times what a captain's area table costs on the same
data: :func:`gisapp.services.analytics.area_report` at the grids level for April 2024,
the same shift window, with its trend (the month before) and the count of every default
shift, each in its own process, interleaved, median of 3 rounds:

- ``areas_postgis``: ours on the PostGIS schema (``Workspace.count_incidents``: the
  server finds pile-ups and implausible dates and counts every slice in SQL; one row per
  area and slice comes back);
- ``areas_gpkg``: ours on the GeoPackage (the same queries answered in Python).

It reports the same figures (``s``, ``peak_rss_mb``) and ``same_answers`` (equal tables,
shift counts and key figures). The first line also gives the stored sizes: the PostGIS
tables with their indexes (``pg_total_relation_size``) and the GeoPackage file, in bytes
and per incident.

The other side of scale, work fanned out over worker processes, is measured by
``bench/scale_fanout.py``; when that module is present its lines follow these (skip them
with ``--no-fanout``).

Usage: ``python bench/scale.py [--n 100000] [--no-fanout]`` or ``python bench/run.py scale``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

N_INCIDENTS = 1_000_000
SEED = 20240501
TIMEZONE = "Asia/Shanghai"
PERIOD = ("2024-04-01", "2024-05-01")
WINDOW = ("22:00", "06:00")
ROUNDS = 3
VARIANTS = ("postgis", "gpkg", "anchor")
AREA_VARIANTS = ("areas_postgis", "areas_gpkg")
#: The benchmark's PostGIS server (``.ci/postgres.sh`` starts it).
DEFAULT_URL = "postgresql://gisapp_test:gisapp_test@127.0.0.1:5432/gisapp_test"


def build(folder: Path, n_incidents: int, postgis_url: str) -> dict[str, Any]:
    """Write the generated instance into a GeoPackage and a PostGIS schema; load times."""
    import psycopg
    from psycopg import sql

    from bench import city
    from gisapp.store import Workspace
    from gisapp.store.backend import DatabaseURL

    rng = np.random.default_rng(SEED)
    streets = city.read_streets()
    grids = city.make_grids(streets)
    grids["id"] = [f"grid-{i:04d}" for i in range(len(grids))]
    incidents = city.make_incidents(streets, n_incidents, 300, 400.0, city.END_DATE, rng)
    hour_weight = np.clip(1.0 + 1.5 * np.cos((np.arange(24) - 1) / 24 * 2 * np.pi), 0.2, None)
    hour = rng.choice(24, n_incidents, p=hour_weight / hour_weight.sum())
    day = rng.integers(1, 366, n_incidents)
    minute = rng.integers(0, 60, n_incidents)
    local = (
        pd.Timestamp(city.END_DATE)
        - pd.to_timedelta(day, unit="D")
        + pd.to_timedelta(hour * 60 + minute, unit="min")
    )
    incidents["occurred_at"] = pd.Series(local).dt.tz_localize(TIMEZONE)
    layers = {
        "grids": grids[["id", "geometry"]].to_crs("EPSG:4326"),
        "incidents": incidents[["id", "occurred_at", "category", "geometry"]].to_crs("EPSG:4326"),
    }
    meta = {
        "timezone": TIMEZONE,
        "layer_notes": {"incidents": "generated", "grids": "generated"},
    }
    gpkg = folder / "scale.gpkg"
    started = time.perf_counter()
    Workspace.create(gpkg, layers, meta=meta, overwrite=True)
    load_gpkg_s = time.perf_counter() - started
    started = time.perf_counter()
    Workspace.create(postgis_url, layers, meta=meta, overwrite=True)
    load_postgis_s = time.perf_counter() - started
    # Fresh statistics, as a server's autovacuum would have them after a bulk load.
    where = DatabaseURL(postgis_url)
    sizes: dict[str, int] = {}
    with psycopg.connect(where.conninfo, autocommit=True) as con:
        for table in ("incidents", "grids"):
            name = sql.Identifier(where.schema, table)
            con.execute(sql.SQL("ANALYZE {}").format(name))
            # The table with its indexes and TOAST, as the server stores it.
            row = con.execute(
                "SELECT pg_total_relation_size(%s::regclass)", (f"{where.schema}.{table}",)
            ).fetchone()
            sizes[table] = int(row[0]) if row else 0
    gpkg_bytes = gpkg.stat().st_size
    return {
        "gpkg": str(gpkg),
        "grids": len(grids),
        "incidents": n_incidents,
        "load_gpkg_s": round(load_gpkg_s, 2),
        "load_postgis_s": round(load_postgis_s, 2),
        "postgis_incidents_bytes": sizes["incidents"],
        "postgis_grids_bytes": sizes["grids"],
        "postgis_bytes_per_incident": round(sizes["incidents"] / n_incidents, 1),
        "gpkg_bytes": gpkg_bytes,
        "gpkg_bytes_per_incident": round(gpkg_bytes / n_incidents, 1),
    }


def count(variant: str, gpkg: str, postgis_url: str) -> dict[str, int]:
    """Incidents per grid in the night shift of the month, by ``variant``."""
    if variant == "anchor":
        return _anchor_count(gpkg)
    from gisapp.store import Workspace

    ws = Workspace.open(postgis_url if variant == "postgis" else gpkg)
    counts = ws.incident_counts("grids", period=PERIOD, window=WINDOW, timezone=TIMEZONE)
    return dict(zip(counts["area_id"], counts["incidents"].astype(int).tolist(), strict=True))


def area_answer(variant: str, gpkg: str, postgis_url: str) -> dict[str, Any]:
    """The grids' area report for the month and shift, as comparable plain data."""
    from gisapp.services.analytics import area_report
    from gisapp.settings import Settings, parse_shift
    from gisapp.store import Workspace

    ws = Workspace.open(postgis_url if variant == "areas_postgis" else gpkg)
    settings = Settings()
    report = area_report(
        ws,
        level="grids",
        period=PERIOD,
        shifts={name: settings.shift(name) for name in settings.shifts},
        shift=parse_shift(f"{WINDOW[0]}-{WINDOW[1]}"),
    )
    table = pd.DataFrame(report.table.drop(columns="geometry"))
    return {
        "table": json.loads(table.to_json(orient="split")),
        "by_shift": json.loads(report.by_shift.to_json(orient="split")),
        "kpis": report.kpis,
    }


def _anchor_count(gpkg: str) -> dict[str, int]:
    """What a competent geopandas user writes: filtered read, shift mask, sjoin, groupby."""
    import geopandas as gpd
    import pyogrio

    from routing.risk import shift_mask

    start, end = (pd.Timestamp(v, tz=TIMEZONE).tz_convert("UTC") for v in PERIOD)
    where = (
        f"occurred_at >= '{start:%Y-%m-%dT%H:%M:%S}' AND occurred_at < '{end:%Y-%m-%dT%H:%M:%S}'"
    )
    incidents = pyogrio.read_dataframe(
        gpkg, layer="incidents", columns=["occurred_at"], where=where
    )
    grids = pyogrio.read_dataframe(gpkg, layer="grids", columns=["id"])
    local = pd.to_datetime(incidents["occurred_at"], utc=True).dt.tz_convert(TIMEZONE)
    night = incidents[shift_mask(local, window=WINDOW)]
    joined = gpd.sjoin(night[["geometry"]], grids, how="inner", predicate="intersects")
    joined = joined[~joined.index.duplicated(keep="first")]
    counts = joined.groupby("id").size().reindex(grids["id"], fill_value=0)
    return {str(k): int(v) for k, v in counts.items()}


def _measure(variant: str, gpkg: str, postgis_url: str) -> dict[str, Any]:
    """Run one variant in its own process: its time, peak memory and answer."""
    command = [sys.executable, __file__, "--variant", variant, "--gpkg", gpkg, "--url", postgis_url]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    output = process.stdout.read() if process.stdout else ""
    _, status, _ = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"variant {variant} failed")
    answer: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return answer


def run(
    n_incidents: int = N_INCIDENTS, postgis_url: str | None = None, *, fanout: bool = True
) -> list[dict[str, Any]]:
    """Build the instance, time the counts and the area reports; the result lines.

    With ``fanout``, the lines of ``bench/scale_fanout.py`` follow when that module exists.
    """
    base = postgis_url or os.environ.get("GISAPP_TEST_POSTGRES_URL") or DEFAULT_URL
    schema = f"bench_scale_{uuid.uuid4().hex[:8]}"
    url = f"{base}{'&' if '?' in base else '?'}schema={schema}"
    with tempfile.TemporaryDirectory() as folder:
        try:
            built = build(Path(folder), n_incidents, url)
            lines = _compare(built, url) + _compare_areas(built, url)
        finally:
            _drop_schema(base, schema)
    return lines + (_fanout_lines() if fanout else [])


def _compare(built: dict[str, Any], url: str) -> list[dict[str, Any]]:
    """The three variants, interleaved, ``ROUNDS`` times; medians and the answers checked."""
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    for _ in range(ROUNDS):
        for variant in VARIANTS:
            runs[variant].append(_measure(variant, built["gpkg"], url))
    answers = [runs[v][0]["counts"] for v in VARIANTS]
    same = all(a == answers[0] for a in answers)
    instance = (
        f"Wuhan 1 km grids ({built['grids']:,}), {built['incidents']:,} generated incidents; "
        f"night {WINDOW[0]}-{WINDOW[1]} of {PERIOD[0][:7]}"
    )
    medians = {v: statistics.median(r["s"] for r in runs[v]) for v in VARIANTS}
    line: dict[str, Any] = {
        "bench": "scale",
        "instance": instance,
        "ours_s": round(medians["postgis"], 3),
        "anchor": "pyogrio read (columns=, where=) + shift_mask + geopandas.sjoin + groupby",
        "anchor_s": round(medians["anchor"], 3),
        "ratio": round(medians["anchor"] / medians["postgis"], 2),
        "gpkg_s": round(medians["gpkg"], 3),
        "gpkg_ratio": round(medians["anchor"] / medians["gpkg"], 2),
        "counted": int(sum(answers[0].values())),
        "same_answers": same,
        "load_gpkg_s": built["load_gpkg_s"],
        "load_postgis_s": built["load_postgis_s"],
        **{k: v for k, v in built.items() if k.endswith("bytes") or k.endswith("_incident")},
    }
    for variant in VARIANTS:
        line[f"{variant}_peak_rss_mb"] = round(
            statistics.median(r["peak_rss_mb"] for r in runs[variant]), 1
        )
        line[f"{variant}_runs_s"] = [round(r["s"], 3) for r in runs[variant]]
    return [line]


def _compare_areas(built: dict[str, Any], url: str) -> list[dict[str, Any]]:
    """The area report on both stores, interleaved, ``ROUNDS`` times; medians."""
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in AREA_VARIANTS}
    for _ in range(ROUNDS):
        for variant in AREA_VARIANTS:
            runs[variant].append(_measure(variant, built["gpkg"], url))
    answers = [runs[v][0]["counts"] for v in AREA_VARIANTS]
    kpis = answers[0]["kpis"]
    medians = {v: statistics.median(r["s"] for r in runs[v]) for v in AREA_VARIANTS}
    line: dict[str, Any] = {
        "bench": "scale_areas",
        "instance": (
            f"Wuhan 1 km grids ({built['grids']:,}), {built['incidents']:,} generated "
            f"incidents; area_report grids {PERIOD[0][:7]}, {WINDOW[0]}-{WINDOW[1]}, "
            "trend against the month before, counts of the 4 default shifts"
        ),
        "ours_s": round(medians["areas_postgis"], 3),
        "anchor": "ours on the GeoPackage (area_report, the same queries answered in Python)",
        "anchor_s": round(medians["areas_gpkg"], 3),
        "ratio": round(medians["areas_gpkg"] / medians["areas_postgis"], 2),
        "incidents_in_shift": kpis["incidents"],
        "previous_incidents": kpis["previous_incidents"],
        "warning_levels": kpis["warning_levels"],
        "same_answers": all(a == answers[0] for a in answers),
    }
    for variant in AREA_VARIANTS:
        name = variant.removeprefix("areas_")
        line[f"{name}_peak_rss_mb"] = round(
            statistics.median(r["peak_rss_mb"] for r in runs[variant]), 1
        )
        line[f"{name}_runs_s"] = [round(r["s"], 3) for r in runs[variant]]
    return [line]


def _fanout_lines() -> list[dict[str, Any]]:
    """The fan-out benchmark's lines (``bench/scale_fanout.py``), when that module exists."""
    if importlib.util.find_spec("bench.scale_fanout") is None:
        return []
    from bench import scale_fanout

    lines: list[dict[str, Any]] = scale_fanout.run()
    return lines


def _drop_schema(base: str, schema: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(base, autocommit=True) as con:
        con.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def _variant_main(variant: str, gpkg: str, url: str) -> int:
    """One variant in this process: print its time and answer as JSON."""
    # Imports before the clock: every variant pays them alike and they are not the count.
    import geopandas  # noqa: F401
    import pyogrio  # noqa: F401

    import gisapp.services.analytics
    import gisapp.store.workspace  # noqa: F401

    started = time.perf_counter()
    counts: Any = (
        area_answer(variant, gpkg, url) if variant in AREA_VARIANTS else count(variant, gpkg, url)
    )
    seconds = time.perf_counter() - started
    line = {"variant": variant, "s": seconds, "peak_rss_mb": _peak_rss_mb(), "counts": counts}
    print(json.dumps(line))
    return 0


def _peak_rss_mb() -> float:
    """This process's peak resident memory (``VmHWM``).

    ``wait4``'s ``ru_maxrss`` would not do here: Linux carries the parent's peak into a
    child over ``fork``/``exec``, and the parent holds the whole generated instance.
    """
    for text in Path("/proc/self/status").read_text().splitlines():
        if text.startswith("VmHWM:"):
            return int(text.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=N_INCIDENTS, help="generated incidents")
    parser.add_argument("--url", default=None, help="PostGIS server URL (no schema)")
    parser.add_argument(
        "--no-fanout", action="store_true", help="leave out bench/scale_fanout.py's lines"
    )
    parser.add_argument("--variant", choices=VARIANTS + AREA_VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--gpkg", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.variant:
        return _variant_main(args.variant, args.gpkg, args.url)
    for line in run(args.n, args.url, fanout=not args.no_fanout):
        print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
