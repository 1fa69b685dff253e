"""Stop labels on the printed plan map never collide and stay inside the map frame."""

from __future__ import annotations

import datetime as dt
import itertools
import shutil
from pathlib import Path
from typing import Any

import pytest

from gisapp.plans import Plan
from gisapp.render.briefing import briefing_page
from gisapp.render.browser import CHROMIUM_ARGS, CHROMIUM_PATH
from gisapp.render.printing import _WAIT_DRAWN_JS, MARGIN_MM, page_size
from gisapp.samples import get_path
from gisapp.services.plan import plan_shift
from gisapp.settings import parse_shift
from gisapp.store.geopackage import Workspace

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,  # plans the whole night shift of the sample
    pytest.mark.skipif(not CHROMIUM_PATH.exists(), reason=f"{CHROMIUM_PATH} is not installed"),
]

_LABEL_BOXES_JS = """() => Array.from(document.querySelectorAll('.folium-map')).map(m => {
  const f = m.getBoundingClientRect();
  return {
    frame: [f.left, f.top, f.right, f.bottom],
    labels: Array.from(m.querySelectorAll('.gisapp-tag')).map(t => {
      const r = t.getBoundingClientRect();
      return {text: t.textContent, box: [r.left, r.top, r.right, r.bottom]};
    }),
  };
})"""


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    path = tmp_path_factory.mktemp("ws") / "new_haven.gpkg"
    shutil.copy(get_path("new_haven"), path)
    return Workspace.open(path)


@pytest.fixture(scope="module")
def plan(ws: Workspace) -> Plan:
    """The sample's night plan with every unit on duty."""
    return plan_shift(
        ws,
        shift=parse_shift("22:00-06:00"),
        date=dt.date(2014, 9, 18),
        seed=1,
        search_budget=3_000,
    ).record


def _printed_maps(page_html: str, tmp_path: Path) -> list[dict[str, Any]]:
    from playwright import sync_api

    width_mm, height_mm = page_size("A4", False)
    px_per_mm = 96 / 25.4
    viewport = {
        "width": round((width_mm - 2 * MARGIN_MM) * px_per_mm),
        "height": round((height_mm - 2 * MARGIN_MM) * px_per_mm),
    }
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM_PATH), args=list(CHROMIUM_ARGS))
        try:
            page = browser.new_context(viewport=viewport, offline=True).new_page()  # type: ignore[arg-type]
            page.emulate_media(media="print")
            page.set_content(page_html, wait_until="load")
            assert page.evaluate(_WAIT_DRAWN_JS) > 0
            maps: list[dict[str, Any]] = page.evaluate(_LABEL_BOXES_JS)
            page.screenshot(path=str(tmp_path / "printed.png"), full_page=True)
        finally:
            browser.close()
    return maps


def _overlap(a: list[float], b: list[float]) -> bool:
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


def test_stop_labels_never_collide_and_stay_in_the_frame(
    plan: Plan, ws: Workspace, tmp_path: Path
) -> None:
    maps = _printed_maps(briefing_page(plan, ws=ws), tmp_path)
    assert len(maps) == 1 + len(plan.unit_ids)  # the overview and one map per unit
    hotspot_stops = int((plan.stops["kind"] == "hotspot").sum())
    overview = maps[0]["labels"]
    numbers = [n for label in overview if label["text"] != "S" for n in label["text"].split(",")]
    assert len(numbers) == hotspot_stops  # every stop labelled once
    for printed in maps:
        frame = printed["frame"]
        boxes = [label["box"] for label in printed["labels"]]
        assert boxes, "a printed map without stop labels"
        for label in printed["labels"]:
            x0, y0, x1, y1 = label["box"]
            assert x1 > x0 and y1 > y0
            assert frame[0] <= x0 and frame[1] <= y0 and x1 <= frame[2] and y1 <= frame[3], (
                f"label {label['text']!r} leaves the map frame"
            )
        clashes = [
            (a["text"], b["text"])
            for a, b in itertools.combinations(printed["labels"], 2)
            if _overlap(a["box"], b["box"])
        ]
        assert not clashes, f"{len(clashes)} stop labels overlap, e.g. {clashes[:5]}"
