"""A workspace's street network is stored beside it once and read back by every command."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from shapely import LineString, MultiLineString

import gisapp.services.network as network_service
import routing.network_file as network_file
from gisapp.samples import get_path
from gisapp.services.network import (
    clear_network_cache,
    network_cache_dir,
    stored_network_path,
    workspace_network,
)
from gisapp.store import Workspace
from routing.errors import NetworkError
from routing.network import StreetNetwork
from routing.network_file import FORMAT_VERSION, load_network, save_network

_ARRAYS = (
    "node_x",
    "node_y",
    "segment_u",
    "segment_v",
    "segment_length_m",
    "segment_source",
    "edge_u",
    "edge_v",
    "edge_segment",
    "edge_forward",
    "edge_length_m",
    "edge_travel_time_s",
    "edge_speed_kph",
)


def assert_same_network(a: StreetNetwork, b: StreetNetwork) -> None:
    for name in _ARRAYS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
        assert getattr(a, name).dtype == getattr(b, name).dtype, name
    assert list(a.segment_name) == list(b.segment_name)
    assert list(a.segment_highway) == list(b.segment_highway)
    assert bool(np.all(shapely.equals_exact(a.segment_geometry, b.segment_geometry, 0)))
    assert a.crs == b.crs and a.mode == b.mode and a.report == b.report


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Counts the networks built from road lines (not read from a file)."""
    made: list[str] = []
    build = network_service.network_from_lines

    def counting(*args: Any, **kwargs: Any) -> StreetNetwork:
        made.append(kwargs.get("mode", "car"))
        return build(*args, **kwargs)

    monkeypatch.setattr(network_service, "network_from_lines", counting)
    clear_network_cache()
    yield made
    clear_network_cache()


@pytest.fixture
def workspace_path(tmp_path: Path) -> Path:
    path = tmp_path / "ws.gpkg"
    shutil.copy(get_path("liechtenstein"), path)
    return path


def test_second_load_reads_the_stored_network(workspace_path: Path, builds: list[str]) -> None:
    first = workspace_network(Workspace.open(workspace_path), "car")
    stored = stored_network_path(Workspace.open(workspace_path), "car")
    assert stored is not None and stored.is_file()
    assert stored.parent == workspace_path.with_name("ws.gpkg.cache")

    clear_network_cache()  # as a new command would start
    second = workspace_network(Workspace.open(workspace_path), "car")
    assert builds == ["car"]
    assert second is not first
    assert_same_network(first, second)
    # what routing derives from it is the same too, read back rather than sorted again
    np.testing.assert_array_equal(second.fastest_edge, first.fastest_edge)
    for matrix in ("travel_time_csr", "edge_id_csr"):
        a, b = getattr(first, matrix), getattr(second, matrix)
        for part in ("data", "indices", "indptr"):
            np.testing.assert_array_equal(getattr(a, part), getattr(b, part), err_msg=matrix)
            assert getattr(a, part).dtype == getattr(b, part).dtype, matrix


def test_stored_geometries_are_decoded_on_first_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    network = workspace_network(Workspace.open(get_path("liechtenstein")), "car")
    path = save_network(network, tmp_path / "n.npz")
    decoded: list[int] = []
    lines = network_file._lines

    def counting(*args: Any) -> Any:
        decoded.append(len(args[1]) - 1)
        return lines(*args)

    monkeypatch.setattr(network_file, "_lines", counting)
    back = load_network(path)
    back.travel_time_csr  # noqa: B018 - routing needs no geometry
    assert decoded == []
    first = back.segment_geometry
    assert back.segment_geometry is first
    assert decoded == [network.n_segments]
    assert bool(np.all(shapely.equals_exact(first, network.segment_geometry, 0)))


def test_file_of_another_format_is_refused_and_built_again(
    workspace_path: Path, builds: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = Workspace.open(workspace_path)
    with monkeypatch.context() as older:
        # a file written by the previous release: other format, other file name
        older.setattr(network_file, "FORMAT_VERSION", FORMAT_VERSION - 1)
        older.setattr(network_service, "FORMAT_VERSION", FORMAT_VERSION - 1)
        workspace_network(ws, "car")
        old = stored_network_path(ws, "car")
    assert old is not None and old.is_file()
    with pytest.raises(NetworkError, match=f"format {FORMAT_VERSION - 1}, not {FORMAT_VERSION}"):
        load_network(old)
    clear_network_cache()
    again = workspace_network(ws, "car")
    assert builds == ["car", "car"]
    new = stored_network_path(ws, "car")
    assert new != old and new is not None and new.is_file()
    assert not old.exists()
    assert_same_network(again, load_network(new))


def test_a_plan_save_keeps_the_stored_network(workspace_path: Path, builds: list[str]) -> None:
    ws = Workspace.open(workspace_path)
    workspace_network(ws, "car")
    before = ws.version
    ws.save({}, meta={"note": "a plan was saved"})
    assert ws.version != before
    clear_network_cache()
    workspace_network(ws, "car")
    assert builds == ["car"]


def test_a_roads_change_builds_again_and_removes_the_old_file(
    workspace_path: Path, builds: list[str]
) -> None:
    ws = Workspace.open(workspace_path)
    first = workspace_network(ws, "car")
    old = stored_network_path(ws, "car")
    roads = ws.layer("roads")
    ws.save({"roads": roads.iloc[: len(roads) // 2]})
    clear_network_cache()
    second = workspace_network(ws, "car")
    assert builds == ["car", "car"]
    assert second.n_segments < first.n_segments
    new = stored_network_path(ws, "car")
    assert new != old and new is not None and new.is_file()
    assert old is not None and not old.exists()


def test_modes_are_stored_apart(workspace_path: Path, builds: list[str]) -> None:
    ws = Workspace.open(workspace_path)
    workspace_network(ws, "car")
    workspace_network(ws, "foot")
    folder = network_cache_dir(ws)
    assert folder is not None
    assert sorted(p.name.split("-")[1] for p in folder.glob("*.npz")) == ["car", "foot"]


def test_unwritable_folder_keeps_the_network_in_memory(
    workspace_path: Path, builds: list[str]
) -> None:
    # a file where the folder would be: the folder cannot be made
    workspace_path.with_name("ws.gpkg.cache").write_text("not a folder")
    ws = Workspace.open(workspace_path)
    first = workspace_network(ws, "car")
    assert workspace_network(ws, "car") is first
    clear_network_cache()
    workspace_network(ws, "car")
    assert builds == ["car", "car"]


def test_damaged_file_is_built_again(workspace_path: Path, builds: list[str]) -> None:
    ws = Workspace.open(workspace_path)
    first = workspace_network(ws, "car")
    stored = stored_network_path(ws, "car")
    assert stored is not None
    stored.write_bytes(b"damaged")
    clear_network_cache()
    again = workspace_network(ws, "car")
    assert builds == ["car", "car"]
    assert_same_network(first, again)
    assert_same_network(first, load_network(stored))


def test_bundled_samples_are_not_written_beside() -> None:
    ws = Workspace.open(get_path("liechtenstein"))
    assert network_cache_dir(ws) is None


def test_file_round_trip_of_mixed_geometries_and_missing_names(tmp_path: Path) -> None:
    network = workspace_network(Workspace.open(get_path("liechtenstein")), "car")
    geometry = network.segment_geometry.copy()
    first = geometry[0]
    geometry[0] = MultiLineString([first, LineString([(0, 0), (1, 1)])])
    names = network.segment_name.copy()
    names[:3] = [None, "", "中山路"]
    mixed = StreetNetwork(
        **{
            **{name: getattr(network, name) for name in _ARRAYS},
            "crs": network.crs,
            "mode": network.mode,
            "segment_geometry": geometry,
            "segment_name": names,
            "segment_highway": network.segment_highway,
            "report": network.report,
        }
    )
    back = load_network(save_network(mixed, tmp_path / "n.npz"))
    assert_same_network(mixed, back)
    assert list(back.segment_name[:3]) == [None, "", "中山路"]
    assert back.segment_name.dtype == object and back.segment_highway.dtype == object


def test_file_round_trip_of_an_empty_text_column(tmp_path: Path) -> None:
    network = workspace_network(Workspace.open(get_path("liechtenstein")), "car")
    unnamed = StreetNetwork(
        **{
            **{name: getattr(network, name) for name in _ARRAYS},
            "crs": network.crs,
            "mode": network.mode,
            "segment_geometry": network.segment_geometry,
            "segment_name": np.full(network.n_segments, None, dtype=object),
            "segment_highway": network.segment_highway,
            "report": network.report,
        }
    )
    back = load_network(save_network(unnamed, tmp_path / "n.npz"))
    assert_same_network(unnamed, back)
    assert set(back.segment_name) == {None}
