"""Overlaps between sibling areas given to one feature by the stated rule, on hand-made and
seeded grids; the CLI import with ``--repair-overlaps``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from click.testing import CliRunner
from shapely.geometry import box

from gisapp.cli.main import cli
from gisapp.store.geopackage import Workspace
from layers.errors import LayerError
from layers.repair import MAX_REPAIR_SHARE, repair_sibling_overlaps
from layers.validate import validate_layers

BAD_DIR = Path(__file__).resolve().parents[1] / "data" / "bad"
#: UTM 50N (Tianjin), the CRS the test areas are drawn in.
UTM = "EPSG:32650"
X0, Y0 = 500_000.0, 4_330_000.0


def _cell(x: float, y: float, w: float, h: float) -> shapely.Polygon:
    return box(X0 + x, Y0 + y, X0 + x + w, Y0 + y + h)


def _grids(
    cells: Sequence[shapely.Geometry], community: list[str] | None = None
) -> gpd.GeoDataFrame:
    ids = [f"g{i + 1}" for i in range(len(cells))]
    frame = gpd.GeoDataFrame(
        {"id": ids, "community_id": community or ["c1"] * len(cells)}, geometry=cells, crs=UTM
    )
    return frame.to_crs(4326)


def _communities(cells: list[shapely.Polygon]) -> gpd.GeoDataFrame:
    ids = [f"c{i + 1}" for i in range(len(cells))]
    return gpd.GeoDataFrame(
        {"id": ids, "name": ids, "subdistrict_id": ["s1"] * len(cells)}, geometry=cells, crs=UTM
    ).to_crs(4326)


def _pairwise_overlap_m2(frame: gpd.GeoDataFrame) -> float:
    geoms = frame.to_crs(UTM).geometry.to_numpy()
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = left < right
    return float(shapely.area(shapely.intersection(geoms[left[keep]], geoms[right[keep]])).max())


def _seeded_grids(seed: int, n: int = 5) -> gpd.GeoDataFrame:
    """An n x n grid of 200 m cells, each grown by 3-8 % towards random neighbours."""
    rng = np.random.default_rng(seed)
    cells = []
    for row in range(n):
        for col in range(n):
            grow = rng.uniform(6, 16, size=4) * (rng.random(4) < 0.6)
            wide = _cell(col * 200 - grow[0], row * 200, 200 + grow[0] + grow[2], 200)
            tall = _cell(col * 200, row * 200 - grow[1], 200, 200 + grow[1] + grow[3])
            cells.append(wide.union(tall))
    return _grids(cells)


def test_overlap_goes_to_the_feature_with_the_nearer_centre() -> None:
    # g1 drawn 200 m into g2: the piece lies nearer g2's centre and goes back to it
    grids = _grids([_cell(0, 0, 700, 1000), _cell(500, 0, 500, 1000), _cell(1000, 0, 500, 1000)])
    repair = repair_sibling_overlaps({"grids": grids})
    [pair] = repair.pairs
    assert (pair.first_id, pair.second_id, pair.received_by) == ("g1", "g2", "g2")
    assert pair.area_m2 == pytest.approx(200_000, rel=1e-6)
    assert pair.share == pytest.approx(0.4, rel=1e-6)  # of g2, the smaller
    repaired = repair.layers["grids"].to_crs(UTM).set_index("id")
    assert repaired.loc["g1"].geometry.area == pytest.approx(500_000, rel=1e-6)
    assert repaired.loc["g2"].geometry.area == pytest.approx(500_000, rel=1e-6)
    assert repaired.loc["g3"].geometry.equals_exact(grids.to_crs(UTM).geometry.iloc[2], 1e-6)
    [problem] = repair.problems
    assert problem.code == "overlap_repaired" and problem.severity == "repaired"
    assert "200,000 m²" in problem.message and "40.0%" in problem.message
    assert "given to g2" in problem.message and "taken out of g1" in problem.message
    [piece] = repair.pieces.itertuples()
    assert (piece.feature_ids, piece.received_by) == ("g1, g2", "g2")
    assert repair.pieces.crs.to_epsg() == 4326
    assert grids.to_crs(UTM).geometry.iloc[0].area == pytest.approx(700_000)  # input kept


@pytest.mark.parametrize("seed", [1, 7, 2024])
def test_seeded_overlaps_are_removed_and_area_is_kept(seed: int) -> None:
    grids = _seeded_grids(seed)
    before = grids.to_crs(UTM)
    assert _pairwise_overlap_m2(before) > 100
    repair = repair_sibling_overlaps({"grids": grids})
    assert repair.ok and len(repair.pairs) >= 10
    after = repair.layers["grids"]
    assert _pairwise_overlap_m2(after) <= 1.0
    after_m = after.to_crs(UTM)
    assert after_m.area.sum() == pytest.approx(before.union_all().area, rel=1e-3)
    assert after_m.is_valid.all() and not after_m.is_empty.any()
    assert set(after_m.geom_type) <= {"Polygon", "MultiPolygon"}
    for pair in repair.pairs:
        assert 0 < pair.share <= MAX_REPAIR_SHARE
        # a corner covered by a third sibling may go to that one
        assert pair.received_by in set(grids["id"])
        assert sum(m2 for _, m2 in pair.received_m2) == pytest.approx(pair.area_m2, rel=1e-6)
    # the repaired layer passes the validator's overlap check
    report = validate_layers({"grids": after})
    assert "sibling_overlap" not in report.codes


def test_three_way_overlap_gives_each_piece_once() -> None:
    grids = _grids([_cell(0, 0, 530, 530), _cell(470, 0, 530, 530), _cell(0, 470, 1000, 530)])
    repair = repair_sibling_overlaps({"grids": grids})
    after = repair.layers["grids"].to_crs(UTM)
    assert _pairwise_overlap_m2(after) <= 1.0
    assert after.area.sum() == pytest.approx(grids.to_crs(UTM).union_all().area, rel=1e-6)
    assert {p.first_id + p.second_id for p in repair.pairs} == {"g1g2", "g1g3", "g2g3"}


def test_siblings_only_and_gaps_are_listed_not_filled() -> None:
    communities = _communities([_cell(0, 0, 1000, 1000), _cell(1000, 0, 1000, 1000)])
    # g2 overlaps g1 (same community) and g3 (the other community: not a sibling)
    grids = _grids(
        [_cell(0, 0, 500, 1000), _cell(450, 0, 600, 1000), _cell(1000, 0, 900, 1000)],
        community=["c1", "c1", "c2"],
    )
    repair = repair_sibling_overlaps({"grids": grids}, context={"communities": communities})
    assert [(p.first_id, p.second_id) for p in repair.pairs] == [("g1", "g2")]
    [gap] = repair.gaps
    assert (gap.parent_layer, gap.parent_id) == ("communities", "c2")
    assert gap.area_m2 == pytest.approx(100_000, rel=1e-6)  # 100 m strip east of g3
    assert gap.share == pytest.approx(0.1, rel=1e-6)
    gap_problem = next(p for p in repair.problems if p.code == "gap_between_siblings")
    assert gap_problem.severity == "warning" and "not filled" in gap_problem.message
    after = repair.layers["grids"].to_crs(UTM).set_index("id")
    assert after.loc["g3"].geometry.area == pytest.approx(900_000, rel=1e-6)


def test_overlap_above_half_of_the_smaller_is_refused() -> None:
    grids = _grids([_cell(0, 0, 500, 1000), _cell(100, 0, 500, 1000), _cell(600, 0, 400, 1000)])
    repair = repair_sibling_overlaps({"grids": grids})
    assert not repair.ok and "grids" not in repair.layers
    [refused] = repair.refused
    assert (refused.first_id, refused.second_id) == ("g1", "g2")
    assert refused.share == pytest.approx(0.8, rel=1e-6)
    report = validate_layers({"grids": grids})
    [problem] = [p for p in report.errors if p.code.startswith("sibling_")]
    assert problem.code == "sibling_duplicate"
    assert "80.0%" in problem.message and "remove one of the two" in problem.fix
    assert "not repaired" in problem.fix


def test_validator_says_the_overlap_can_be_repaired() -> None:
    grids = gpd.read_file(BAD_DIR / "overlapping_grids.geojson")
    [problem] = [p for p in validate_layers({"grids": grids}).errors]
    assert problem.code == "sibling_overlap" and "overlap repair" in problem.fix


def test_invalid_arguments_are_named() -> None:
    with pytest.raises(LayerError, match="max_share"):
        repair_sibling_overlaps({}, max_share=2)
    assert repair_sibling_overlaps({"roads": gpd.GeoDataFrame(geometry=[])}).pairs == []


def test_cli_import_repairs_with_the_option_and_names_it_otherwise(tmp_path: Path) -> None:
    out = tmp_path / "ws.gpkg"
    runner = CliRunner()
    context = BAD_DIR / "context" / "communities.geojson"
    first = runner.invoke(cli, ["import", f"communities={context}", "--out", str(out)])
    assert first.exit_code == 0, first.output
    grids = f"grids={BAD_DIR / 'overlapping_grids.geojson'}"
    refused = runner.invoke(cli, ["import", grids, "--out", str(out)])
    assert refused.exit_code == 1
    assert "--repair-overlaps" in refused.output and "Traceback" not in refused.output
    assert not Workspace.open(out).has_layer("grids")

    done = runner.invoke(cli, ["import", grids, "--out", str(out), "--repair-overlaps"])
    assert done.exit_code == 0, done.output
    assert "REPAIRED grids[g1]" in done.output and "given to g2" in done.output
    stored = Workspace.open(out).layer("grids")
    assert _pairwise_overlap_m2(stored) <= 1.0

    again = runner.invoke(cli, ["import", grids, "--out", str(out), "--repair-overlaps", "--json"])
    report = json.loads(again.output[again.output.index("{") :])
    [pair] = report["overlaps"]["pairs"]
    assert pair["received_by"] == "g2" and pair["area_m2"] == pytest.approx(200_000, rel=1e-3)
