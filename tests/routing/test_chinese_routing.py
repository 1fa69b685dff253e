"""The routing library speaks Chinese when zh_CN is in force: plan notes, infeasibility
explanations, stop names, grid-design notes and the errors of placement and hotspots; and
English, the default, is unchanged."""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely import LineString

from layers.i18n import use_language
from routing.errors import GridError, InfeasiblePlanError, RoutingError
from routing.grids import design_grids
from routing.hotspots import HotspotError, evaluate_hotspots
from routing.network import StreetNetwork, network_from_lines
from routing.patrol import Break, Hotspots, PatrolModel, PatrolUnit
from routing.patrol.legs import stop_names
from routing.patrol.overrides import Overrides
from routing.placement import LSCP, MCLP

CRS = "EPSG:32618"
NIGHT_S = 22 * 3600


def leftover_english(text: str, *names: str) -> list[str]:
    """Latin words of ``text`` once the names and data it quotes are taken out."""
    for name in names:
        text = text.replace(name, "")
    return re.findall(r"[A-Za-z]+", text)


def lattice(n: int, step_m: float) -> gpd.GeoDataFrame:
    lines = []
    for i in range(n):
        for j in range(n - 1):
            lines.append(LineString([(j * step_m, i * step_m), ((j + 1) * step_m, i * step_m)]))
            lines.append(LineString([(i * step_m, j * step_m), (i * step_m, (j + 1) * step_m)]))
    names = [f"Street {k}" for k in range(len(lines))]
    return gpd.GeoDataFrame({"name": names}, geometry=lines, crs=CRS)


@pytest.fixture(scope="module")
def walk_net() -> StreetNetwork:
    return network_from_lines(lattice(5, 400.0), mode="foot")


def _node(net: StreetNetwork, x: float, y: float) -> int:
    return int(np.flatnonzero((net.node_x == x) & (net.node_y == y))[0])


SPOTS = [(0.0, 400.0), (400.0, 0.0), (400.0, 400.0), (0.0, 800.0), (1600.0, 1600.0)]


def _scene(net: StreetNetwork) -> tuple[Hotspots, int, np.ndarray, np.ndarray]:
    """Five hotspots: four near the station with risk all night, one far corner with risk
    at 22:00 only; the west grids hold the four, the east grid the far one."""
    risk = np.ones((len(SPOTS), 24))
    risk[4, :] = 0.0
    risk[4, 22] = 5.0
    hotspots = Hotspots(
        x=np.array([p[0] for p in SPOTS]),
        y=np.array([p[1] for p in SPOTS]),
        crs=net.crs,
        risk_by_hour=risk,
        name=np.array(["中山路", "解放路", "人民路", "建设路", "和平路"], dtype=object),
    )
    nodes = [_node(net, *p) for p in SPOTS]
    west = np.zeros(net.n_nodes, dtype=bool)
    west[nodes[:4]] = True
    east = np.zeros(net.n_nodes, dtype=bool)
    east[nodes[4]] = True
    return hotspots, _node(net, 0.0, 0.0), west, east


def test_a_plan_note_reads_in_chinese(walk_net: StreetNetwork) -> None:
    hotspots, station, west, east = _scene(walk_net)
    units = [
        PatrolUnit("west", "foot", station, 3 * 3600.0, allowed_nodes=west),
        PatrolUnit("east", "foot", station, 3 * 3600.0, allowed_nodes=east),
    ]
    with use_language("zh_CN"):
        model = PatrolModel.build({"foot": walk_net}, hotspots, units, shift_start_s=NIGHT_S)
        plan = model.solve(seed=0, search_budget=3000)
    (note,) = plan.notes
    assert note.startswith("巡组 'east' 的班次时长为 3:00，但只在外巡逻了 ")
    assert "有风险的热点共 1 个" in note and "离派出所更近的网格" in note
    assert leftover_english(note, "'east'") == []
    # English is the default and reads as before
    english = model.solve(seed=0, search_budget=3000).notes
    assert english[0].startswith("unit 'east' is out ")
    assert "its grids hold 1 hotspot(s) with risk in this shift" in english[0]


def test_an_order_that_overruns_the_shift_is_noted_in_chinese(walk_net: StreetNetwork) -> None:
    hotspots, station, west, _east = _scene(walk_net)
    units = [
        PatrolUnit("west", "foot", station, 3600.0, allowed_nodes=west),
        PatrolUnit("spare", "foot", station, 3 * 3600.0, allowed_nodes=west),
    ]
    order = (0, 1, 2, 3, 0, 1, 2)
    with use_language("zh_CN"):
        model = PatrolModel.build(
            {"foot": walk_net},
            hotspots,
            units,
            shift_start_s=NIGHT_S,
            overrides=Overrides(orders={"west": order}),
        )
        plan = model.solve(seed=0, search_budget=3000)
    notes = [n for n in plan.notes if "指定顺序" in n]
    assert len(notes) == 1
    assert re.fullmatch(
        r"巡组 'west'：为其指定顺序的 7 个必巡点中，最后 \d+ 个超出班次时间，已略去", notes[0]
    )


def test_infeasible_units_are_explained_in_chinese(walk_net: StreetNetwork) -> None:
    hotspots, station, _west, _east = _scene(walk_net)
    nowhere = np.zeros(walk_net.n_nodes, dtype=bool)
    units = [PatrolUnit("car-9", "foot", station, 3600.0, allowed_nodes=nowhere)]
    with use_language("zh_CN"), pytest.raises(InfeasiblePlanError) as caught:
        PatrolModel.build({"foot": walk_net}, hotspots, units, shift_start_s=NIGHT_S)
    message = str(caught.value)
    assert message == (
        "巡组 'car-9'：5 个热点都不在其网格内；请给它分配本班次有风险的网格，或与其他巡组一起编排"
    )
    short = [PatrolUnit("car-1", "foot", station, 300.0)]
    with use_language("zh_CN"), pytest.raises(InfeasiblePlanError) as caught:
        PatrolModel.build({"foot": walk_net}, hotspots, short, shift_start_s=NIGHT_S)
    message = str(caught.value)
    assert message.startswith(
        "巡组 'car-1'：可用时长 5 分钟 不足以到达其网格内的热点、停留 10 分钟"
    )
    assert leftover_english(message, "'car-1'") == []
    with pytest.raises(InfeasiblePlanError, match=r"unit 'car-1': a budget of 5 min is too short"):
        PatrolModel.build({"foot": walk_net}, hotspots, short, shift_start_s=NIGHT_S)


def test_bad_breaks_are_listed_in_chinese() -> None:
    breaks = (Break(0, 60, 0), Break(0, 3000, 900))
    with use_language("zh_CN"), pytest.raises(RoutingError) as caught:
        PatrolUnit("car-3", "car", 0, 3600.0, breaks=breaks)
    message = str(caught.value)
    assert message.startswith("巡组 'car-3'：第 1 次休息时长为 0 秒；")
    assert "；第 2 次休息（最晚 0:50 开始，15 分钟）可能在可用时长 1:00 之后才结束" in message
    assert leftover_english(message, "'car-3'") == []


def test_a_stop_at_a_crossing_is_named_the_chinese_way() -> None:
    streets = gpd.GeoDataFrame(
        {"name": ["中山路", "中山路", "解放路", "解放路"]},
        geometry=[
            LineString([(0, 0), (100, 0)]),
            LineString([(100, 0), (200, 0)]),
            LineString([(100, -100), (100, 0)]),
            LineString([(100, 0), (100, 100)]),
        ],
        crs=CRS,
    )
    net = network_from_lines(streets, mode="car")
    with use_language("zh_CN"):
        assert stop_names(net, [90.0], [0.0]) == ["中山路与解放路交叉口"]
        assert stop_names(net, [90.0], [0.0], crossing_within_m=1.0) == ["中山路"]
    assert stop_names(net, [90.0], [0.0]) == ["中山路 & 解放路"]


def test_the_network_summary_reads_in_chinese(walk_net: StreetNetwork) -> None:
    with use_language("zh_CN"):
        summary = walk_net.report.summary()
    first, kept, dropped = summary.splitlines()[:3]
    assert first.startswith("步巡路网：由 40 条线生成 40 个路段、25 个节点")
    assert kept.startswith("保留最大连通部分：25 个节点、40 个路段，16.0 公里（占总长度的 100.0%）")
    assert dropped == "舍弃：0 个节点、0 个路段，0.0 公里"
    assert walk_net.report.summary().startswith("foot network from 40 lines: 40 segments")


def _town() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Communities, streets and incidents of a 600 m town on a 100 m street lattice."""
    lines = [shapely.LineString([(i * 100, -20), (i * 100, 620)]) for i in range(7)]
    lines += [shapely.LineString([(-20, i * 100), (620, i * 100)]) for i in range(7)]
    streets = gpd.GeoDataFrame({"name": [f"s{i}" for i in range(14)]}, geometry=lines, crs=CRS)
    communities = gpd.GeoDataFrame(
        {
            "id": ["west", "east"],
            "households": [1200, 2400],
            "population": [3000, 6000],
            "property_managed": ["semi", "none"],
        },
        geometry=[shapely.box(0, 0, 300, 600), shapely.box(300, 0, 600, 600)],
        crs=CRS,
    )
    rng = np.random.default_rng(5)
    n = 100
    times = pd.Timestamp("2024-03-04 00:00", tz="Asia/Shanghai") + pd.to_timedelta(
        rng.integers(0, 7 * 24 * 60, n), unit="min"
    )
    incidents = gpd.GeoDataFrame(
        {"id": [str(i) for i in range(n)], "occurred_at": times, "severity": 1},
        geometry=gpd.points_from_xy(rng.uniform(0, 600, n), rng.uniform(0, 600, n)),
        crs=CRS,
    )
    return communities, streets, incidents


def test_a_grid_design_explains_its_count_in_chinese() -> None:
    communities, streets, incidents = _town()
    with use_language("zh_CN"):
        result = design_grids(
            communities=communities, roads=streets, incidents=incidents, n_grids=500, seed=1
        )
    note = result.kpis["design"]["note"]
    made = result.kpis["design"]["grids"]
    assert made < 500
    assert note == (
        f"要求 500 个网格，实际划分 {made} 个：每个网格至少包含一个街区，而各社区共有 {made} 个"
        "街区；请减少网格数，或提供更细的道路数据"
    )
    with use_language("zh_CN"), pytest.raises(GridError) as caught:
        design_grids(communities=communities.drop(columns="id"), roads=streets, n_grids=4)
    assert str(caught.value).startswith("社区图层缺少字段 id（现有字段：")


def test_placement_refusals_read_in_chinese() -> None:
    cost = np.array([[60.0, np.inf], [np.inf, 60.0], [np.inf, np.inf]])
    with use_language("zh_CN"), pytest.raises(InfeasiblePlanError) as caught:
        LSCP.from_cost_matrix(cost, radius_s=120.0, demand_ids=["学校", "医院", "银行"])
    assert str(caught.value) == (
        "1 个需求点在 radius_s=120 内无法从任何候选点到达：'银行'；请增大 radius_s，或在其附近增加候选点"
    )
    with use_language("zh_CN"), pytest.raises(InfeasiblePlanError) as caught:
        MCLP.from_cost_matrix(cost[:2], radius_s=120.0, p=3)
    assert str(caught.value) == "'p' 为 3，但只有 2 个候选点；请减小 p 或增加候选点"
    with pytest.raises(InfeasiblePlanError, match=r"^'p' is 3 but there are only 2 candidate"):
        MCLP.from_cost_matrix(cost[:2], radius_s=120.0, p=3)


def test_an_empty_training_period_is_named_in_chinese() -> None:
    communities, _streets, incidents = _town()
    with use_language("zh_CN"), pytest.raises(HotspotError) as caught:
        evaluate_hotspots(
            incidents,
            method="counts",
            train=("2023-01-01", "2023-02-01"),
            test=("2024-03-04", "2024-03-11"),
            study_area=communities,
        )
    assert str(caught.value) == (
        "训练期 2023-01-01 至 2023-02-01 内没有警情（共选中 100 件）；请将 'train' 设在数据的日期范围内"
    )
