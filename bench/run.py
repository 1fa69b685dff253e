"""Run benchmarks and print one JSON object per line.

Usage: ``python bench/run.py [NAME...]`` (all when no name is given). Every benchmark
measures ours and its anchor in the same run, on the same machine, with the same timing
(best of a few repeats), and reports ``ratio`` = anchor time / our time.

A benchmark is a module ``bench/<name>.py`` with ``run() -> list[dict]``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: Benchmark name -> module whose ``run()`` returns the result lines.
REGISTRY: dict[str, str] = {
    "reach": "bench.reach",
    "snap": "bench.snap",
    "placement": "bench.placement",
    "map": "bench.map",
    "routes": "bench.routes",
    "load": "bench.load",
    "e2e_city": "bench.e2e",
    "hot_paths": "bench.hot_paths",
    "scale": "bench.scale",
}


def load(name: str) -> Callable[[], list[dict[str, Any]]]:
    """The ``run`` function of benchmark ``name``."""
    if name not in REGISTRY:
        raise SystemExit(f"unknown benchmark {name!r}; choose from {', '.join(REGISTRY)}")
    module = importlib.import_module(REGISTRY[name])
    func: Callable[[], list[dict[str, Any]]] = module.run
    return func


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"benchmarks to run ({', '.join(REGISTRY)})")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    names = args.names or list(REGISTRY)
    failed = 0
    for name in names:
        try:
            run = load(name)
        except ModuleNotFoundError as exc:
            if exc.name != REGISTRY.get(name):
                raise
            # a benchmark whose module has not been written yet is reported, not fatal
            print(json.dumps({"bench": name, "error": f"module {exc.name} not found"}), flush=True)
            failed += 1
            continue
        for line in run():
            print(json.dumps(line), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
