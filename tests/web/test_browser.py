"""The pages in real headless Chromium: logs in, draws every grid, stays on 127.0.0.1; the
coverage page of a saved plan and its hour slider."""

from __future__ import annotations

from typing import Any

import pytest

from gisapp.render.browser import CHROMIUM_PATH

HOSTILE = "<script>alert(1)</script>"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM_PATH.exists(), reason=f"{CHROMIUM_PATH} is not installed"),
]

_DRAWN_GRIDS_JS = """() => {
  const map = Object.values(window).find(v => v instanceof L.Map);
  const drawn = [];
  map.eachLayer(l => {
    // a canvas path is drawn when it has projected parts inside the view
    if (l.feature && String(l.feature.id).startsWith('G') && l._parts && l._parts.length) {
      drawn.push(String(l.feature.id));
    }
  });
  return drawn;
}"""

_TOOLTIP_JS = """(id) => {
  const map = Object.values(window).find(v => v instanceof L.Map);
  let text = null;
  map.eachLayer(group => {
    // folium binds one tooltip on the GeoJSON group; open it on the wanted feature
    if (!group.getLayers || !group.getTooltip || !group.getTooltip()) return;
    group.getLayers().forEach(l => {
      if (l.feature && l.feature.id === id) {
        l.fire('mouseover', {latlng: l.getCenter()}, true);
        text = group.getTooltip().getElement().textContent;
      }
    });
  });
  return text;
}"""


def test_grid_map_in_chromium(live_server: str, chromium: Any) -> None:
    page = chromium.page
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    page.goto(f"{live_server}/maps/grids")
    assert "/auth/login" in page.url
    chromium.login(live_server, "captain")
    page.wait_for_url(f"{live_server}/maps/grids")

    frame = page.wait_for_selector("iframe.map").content_frame()
    assert frame is not None
    frame.wait_for_load_state("load")
    frame.wait_for_function("() => window.L && document.querySelector('canvas')")
    drawn = frame.evaluate(_DRAWN_GRIDS_JS)
    assert sorted(drawn) == ["G1", "G2", "G3", "G4", "G5", "G6"]
    labels = frame.locator(".gisapp-label").all_text_contents()
    assert sorted(labels) == ["G1", "G2", "G3", "G4", "G5", "G6"]

    tooltip = frame.evaluate(_TOOLTIP_JS, "G6")
    assert HOSTILE in tooltip  # shown as text...
    assert "Incidents: 76" in tooltip
    legend = frame.locator(".gisapp-legend").inner_text()
    assert "Team A" in legend and "Team C" in legend
    page.wait_for_timeout(200)

    assert dialogs == []  # ...and never run
    assert chromium.console_errors == []
    assert chromium.requests, "no request recorded"
    assert chromium.blocked == []


_MAP_DRAWN_JS = """() => {
  if (!window.L) return false;
  const map = Object.values(window).find(v => v instanceof L.Map);
  if (!map) return false;
  let drawn = 0;
  map.eachLayer(l => { if (l._parts && l._parts.length) drawn += 1; });
  return drawn > 0;
}"""

#: Every page of an admin, and the frames that carry a map.
_PAGES = [
    ("/maps/", "Overview map"),
    ("/maps/grids", "Grid map"),
    ("/hotspots/?shift=day&method=kde", "Hotspot map"),
    ("/coverage/", None),  # the test workspace has no stations: the page says so
    ("/plans/", None),  # no plan saved yet: the page says so
    ("/exports/", None),
    ("/admin/layers/", None),
    ("/admin/users", None),
]


def test_every_page_works_with_the_network_cut(live_server: str, chromium: Any) -> None:
    page = chromium.page
    chromium.login(live_server, "admin")
    page.wait_for_url(f"{live_server}/maps/")
    for path, map_title in _PAGES:
        response = page.goto(f"{live_server}{path}")
        assert response is not None and response.status == 200, path
        nav = page.locator("header nav a").all_text_contents()
        assert nav[:2] == ["Overview", "Grids"] and "Layers" in nav, path
        if map_title is not None:
            handle = page.wait_for_selector(f'iframe[title="{map_title}"]')
            inner = handle.content_frame()
            assert inner is not None
            inner.wait_for_function(_MAP_DRAWN_JS)
    page.goto(f"{live_server}/hotspots/?shift=day&method=counts")
    # the reporting desk's pile-up at 1 Union Ave is left out (it was easy to "predict")
    assert page.locator("#pai").inner_text() == "4.03"

    assert chromium.blocked == []
    assert chromium.console_errors == []


#: JS on the coverage map: which hour group is on, and whether every other one is off.
_SLIDER_STATE_JS = """() => {
  const map = Object.values(window).find(v => v instanceof L.Map);
  const slider = window.gisappSlider;
  if (!map || !slider) return null;
  const on = slider.groups.map(g => map.hasLayer(g));
  const drawn = [];
  slider.groups.forEach((g, i) => {
    if (!on[i]) return;
    g.eachLayer(function walk(l) {
      if (l.eachLayer) { l.eachLayer(walk); return; }
      if (l._parts && l._parts.length) drawn.push(i);
    });
  });
  return {on: on, current: slider.current(), drawn: drawn.length,
          label: document.querySelector('.gisapp-slider-label').textContent};
}"""


def test_coverage_with_a_plan_and_its_hour_slider_with_the_network_cut(
    plans_live_server: str, chromium: Any
) -> None:
    plan_id = "2014-09-18-late-s1"
    page = chromium.page
    base = plans_live_server
    chromium.login(base, "captain")
    page.wait_for_url(f"{base}/maps/")

    for path in ("/plans/", f"/plans/{plan_id}", "/coverage/"):
        response = page.goto(f"{base}{path}")
        assert response is not None and response.status == 200, path
    # choosing the plan in the form shows its hours beside the map
    page.select_option("select[name=plan]", plan_id)
    page.click("form.toolbar button[type=submit]")
    page.wait_for_url(f"{base}/coverage/?mode=car&plan={plan_id}")
    assert page.locator("#hourly tbody tr").count() == 8

    inner = page.wait_for_selector('iframe[title="Coverage map"]').content_frame()
    assert inner is not None
    inner.wait_for_function(_MAP_DRAWN_JS)
    inner.wait_for_function("() => window.gisappSlider")
    state = inner.evaluate(_SLIDER_STATE_JS)
    assert state["on"] == [True] + [False] * 7 and state["current"] == 0
    assert state["drawn"] > 0 and state["label"].startswith("22:00-23:00")

    inner.locator(".gisapp-slider input[type=range]").fill("3")
    state = inner.evaluate(_SLIDER_STATE_JS)
    assert state["on"] == [False] * 3 + [True] + [False] * 4 and state["current"] == 3
    assert state["drawn"] > 0 and state["label"].startswith("01:00-02:00")
    page.wait_for_timeout(200)

    assert chromium.blocked == []
    assert chromium.console_errors == []
