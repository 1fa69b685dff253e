"""The night pipeline of a whole city, command by command, as a captain runs it.

On the generated Wuhan city of :mod:`bench.city` (real streets, 20 cars), each step is one
``gisapp`` command run in its own process and timed from start to exit:

``import``
    ``gisapp import`` of the generated layers into a fresh workspace;
``network``
    ``gisapp network``: builds the car network once and stores it beside the workspace;
``network_again``
    the same command again: reads the stored network;
``hotspots``
    ``gisapp hotspots`` of the night shift (22:00-06:00, KDE);
``plan``
    ``gisapp plan`` of the night of 2024-04-24 for the 20 cars (saved in the workspace);
``coverage``
    ``gisapp coverage --plan``: the 1-3-5 minute bands, blind zones and hour-by-hour
    coverage of that plan;
``export``
    ``gisapp export``: the plan's briefing files (offline HTML map, GPX, GeoJSON, CSV;
    PDF and PNG too when Chromium is found).

The pipeline runs :data:`RUNS` times, each on a fresh workspace (the machines are shared
and a burst of load hits whichever step runs then). Each step reports the median of its
seconds (``s``), their minimum and every run's, and the peak resident memory of its
process (``wait4``); the line also gives the peak over all the steps
(``getrusage(RUSAGE_CHILDREN)``), the total and the start-up time of ``gisapp --help``
(best of 5). The generated city is built first and not timed. There is no anchor: the
figures stand against the goal of a whole city in under a minute: ``total_s`` is the sum of
the medians of the six steps of :data:`PIPELINE` (the plan's search included;
``without_plan_s`` is the five other steps), ``run_totals_s`` the total of each run;
``network_again`` is timed apart.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.city import END_DATE, TIMEZONE, build_city  # noqa: E402

UNITS = 20
SHIFT = "22:00-06:00"
PLAN_DATE = "2024-04-24"
HELP_REPEATS = 5
#: Runs of the whole pipeline, each on a fresh workspace.
RUNS = 3
#: The steps of a captain's night, in order; ``total_s`` is their sum (``network_again``,
#: the stored network read back, is timed apart).
PIPELINE = ("import", "network", "hotspots", "plan", "coverage", "export")
GOAL_S = 60.0
#: The command line of ``gisapp`` in this interpreter.
GISAPP = (sys.executable, "-c", "import sys; from gisapp.cli import main; sys.exit(main())")


def _run(*args: str) -> tuple[float, float, str]:
    """Run ``gisapp ARGS``; seconds, peak memory in MB, and its output.

    Raises
    ------
    RuntimeError
        If the command fails (its output is in the message).
    """
    started = time.perf_counter()
    process = subprocess.Popen(
        [*GISAPP, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    output = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"gisapp {' '.join(args)} failed ({process.returncode}):\n{output}")
    return seconds, usage.ru_maxrss / 1024, output


def _chromium() -> bool:
    return any(shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome"))


def pipeline(folder: Path, generated: Path) -> dict[str, dict[str, Any]]:
    """Run the steps on a fresh workspace of the ``generated`` city inside ``folder``."""
    ws = str(folder / "city.gpkg")
    out = folder / "out"
    formats = "html,gpx,geojson,csv" + (",pdf,png" if _chromium() else "")
    steps: dict[str, tuple[str, ...]] = {
        "import": ("import", str(generated), "--out", ws, "--timezone", TIMEZONE),
        "network": ("network", ws, "--out", str(out / "network")),
        "network_again": ("network", ws, "--out", str(out / "network")),
        "hotspots": ("hotspots", ws, "--shift", SHIFT, "--out", str(out / "hotspots")),
        "plan": ("plan", ws, "--shift", SHIFT, "--date", PLAN_DATE, "--out", str(out / "plan")),
        "coverage": ("coverage", ws, "--plan", str(out / "plan"), "--out", str(out / "coverage")),
        "export": (
            "export",
            ws,
            "--plan-dir",
            str(out / "plan"),
            "--format",
            formats,
            "--out",
            str(out / "export"),
        ),
    }
    timed: dict[str, dict[str, Any]] = {}
    for name, args in steps.items():
        try:
            seconds, peak_mb, _ = _run(*args)
        except RuntimeError as exc:
            # a failed step is reported and the others still run
            timed[name] = {"error": str(exc).strip().splitlines()[-1]}
            continue
        timed[name] = {"s": round(seconds, 2), "peak_rss_mb": round(peak_mb)}
    return timed


def startup_s() -> float:
    """Best of :data:`HELP_REPEATS` runs of ``gisapp --help``."""
    return min(_run("--help")[0] for _ in range(HELP_REPEATS))


def medians(runs: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Each step's median, minimum and every run's seconds, and its peak memory; a step
    that failed in any run reports that run's error."""
    steps: dict[str, dict[str, Any]] = {}
    for name in runs[0]:
        timed = [run[name] for run in runs]
        failed = [t["error"] for t in timed if "error" in t]
        if failed:
            steps[name] = {"error": failed[0]}
            continue
        seconds = [t["s"] for t in timed]
        steps[name] = {
            "s": round(statistics.median(seconds), 2),
            "min_s": min(seconds),
            "runs_s": seconds,
            "peak_rss_mb": max(t["peak_rss_mb"] for t in timed),
        }
    return steps


def run() -> list[dict[str, Any]]:
    """One result line: every step's time and peak memory, the total, the start-up time."""
    runs = []
    with tempfile.TemporaryDirectory(prefix="gisapp-e2e-") as tmp:
        folder = Path(tmp)
        city = build_city(folder / "generated.gpkg", n_units=UNITS)
        help_s = startup_s()
        for number in range(RUNS):
            fresh = folder / f"run-{number}"
            fresh.mkdir()
            runs.append(pipeline(fresh, city.path))
            shutil.rmtree(fresh)
    steps = medians(runs)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = sum(steps[name].get("s", 0.0) for name in PIPELINE)
    run_totals = [round(sum(r[n].get("s", 0.0) for n in PIPELINE), 1) for r in runs]
    return [
        {
            "bench": "e2e_city",
            "instance": f"generated Wuhan city, {UNITS} cars, night {SHIFT} of {PLAN_DATE} "
            f"(incidents up to {END_DATE})",
            "counts": city.counts,
            "help_s": round(help_s, 3),
            "steps": steps,
            "total_s": round(total, 1),
            "run_totals_s": run_totals,
            "without_plan_s": round(total - steps["plan"].get("s", 0.0), 1),
            "goal_total_s": GOAL_S,
            "errors": sorted(name for name, step in steps.items() if "error" in step),
            "peak_rss_mb": round(children.ru_maxrss / 1024),
        }
    ]


if __name__ == "__main__":
    import json

    for line in run():
        print(json.dumps(line, ensure_ascii=False))
