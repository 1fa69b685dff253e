"""The generated city workspace of ``bench/city.py``, built small: layers, counts, links."""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, TypeAlias

import pandas as pd
import pytest

from layers.schema import parse_id_list

pytest.importorskip("pyarrow")

ROOT = Path(__file__).resolve().parents[1]

#: The bench module, what it built and the street file it read.
SmallCity: TypeAlias = tuple[ModuleType, Any, Path]


def _city_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_city", ROOT / "bench" / "city.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def small_city(
    shared_data: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory
) -> SmallCity:
    streets = shared_data("wuhan_streets.parquet")
    city = _city_module()
    out = tmp_path_factory.mktemp("city") / "small.gpkg"
    built = city.build_city(
        out,
        n_units=3,
        n_stations=2,
        n_incidents=2000,
        n_centres=20,
        extent_km=3.0,
        streets_path=streets,
        seed=7,
    )
    return city, built, streets


def test_small_city_layers_and_counts(small_city: SmallCity) -> None:
    from gisapp.store.geopackage import Workspace

    city, built, streets = small_city
    ws = Workspace.open(built.path)
    assert {"roads", "stations", "grids", "units", "incidents"} <= set(ws.layer_names())
    assert built.counts["stations"] == 2
    assert built.counts["units"] == 3
    assert built.counts["incidents"] == 2000
    streets = city.read_streets(streets, extent_km=3.0)
    assert built.counts["roads"] == len(streets) > 100
    # a 3 km square of streets holds at most 16 one-km cells, and at least a few
    assert 4 <= built.counts["grids"] <= 16
    for layer in ("stations", "grids", "units", "incidents"):
        assert ws.layer_notes[layer].startswith("generated"), layer
    assert ws.layer_notes["roads"].startswith("real")
    assert ws.timezone == city.TIMEZONE


def test_small_city_units_own_disjoint_grids_near_their_station(small_city: SmallCity) -> None:
    from gisapp.store.geopackage import Workspace

    _, built, _ = small_city
    ws = Workspace.open(built.path)
    units = ws.layer("units")
    grids = ws.layer("grids")
    stations = ws.layer("stations")
    assert set(units["mode"]) == {"car"}
    assert set(units["station_id"]) <= set(stations["id"])
    owned = [parse_id_list(v) for v in units["grid_ids"]]
    assert all(owned), "every unit has grids"
    flat = [g for ids in owned for g in ids]
    assert len(flat) == len(set(flat)), "no grid has two units"
    assert set(flat) <= set(grids["id"])
    by_grid = dict(zip(grids["id"], grids["unit_id"], strict=True))
    for unit_id, ids in zip(units["id"], owned, strict=True):
        assert {by_grid[g] for g in ids} == {unit_id}


def test_small_city_incidents_span_and_categories(small_city: SmallCity) -> None:
    from gisapp.store.geopackage import Workspace

    city, built, _ = small_city
    incidents = Workspace.open(built.path).layer("incidents")
    local = pd.to_datetime(incidents["occurred_at"], utc=True).dt.tz_convert(city.TIMEZONE)
    assert local.min().date() >= built.end_date - dt.timedelta(days=28)
    assert local.max().date() < built.end_date
    assert set(incidents["category"]) <= {c[0] for c in city.CATEGORIES}
    night = local.dt.hour.isin([22, 23, 0, 1, 2, 3, 4]).mean()
    assert night > 0.45, "hours are night-peaked"


def test_small_city_is_deterministic(small_city: SmallCity, tmp_path: Path) -> None:
    from gisapp.store.geopackage import Workspace

    city, built, streets = small_city
    again = city.build_city(
        tmp_path / "again.gpkg",
        n_units=3,
        n_stations=2,
        n_incidents=2000,
        n_centres=20,
        extent_km=3.0,
        streets_path=streets,
        seed=7,
    )
    first, second = Workspace.open(built.path), Workspace.open(again.path)
    for layer in ("stations", "units", "incidents"):
        pd.testing.assert_frame_equal(
            pd.DataFrame(first.layer(layer)), pd.DataFrame(second.layer(layer)), check_like=True
        )
