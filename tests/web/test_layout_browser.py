"""Every page fits a 1366x768 laptop and a 1920x1080 screen without scrolling sideways (in
real Chromium), and the two maps of the plan comparison move together; on both stores
(``backend``)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from gisapp.render.browser import CHROMIUM_PATH
from gisapp.store.users import UserStore
from tests.web.conftest import PASSWORD, SAVED_PLANS, live_server_of
from web import create_app

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM_PATH.exists(), reason=f"{CHROMIUM_PATH} is not installed"),
]

VIEWPORTS = [(1366, 768), (1920, 1080)]
LATE, NIGHT = SAVED_PLANS[("late", 1)], SAVED_PLANS[("night", 2)]

#: Every page an admin opens, signed in.
PAGES = [
    "/admin/layers/",
    "/maps/",
    "/maps/grids",
    "/hotspots/?shift=late&method=counts",
    "/coverage/",
    "/plans/",
    f"/plans/{LATE}",
    "/plans/new",
    f"/plans/compare?a={LATE}&b={NIGHT}",
    f"/plans/{LATE}/delete",
    "/exports/",
    "/categories/",
    "/admin/users",
]

_OVERFLOW_JS = """() => {
  const root = document.documentElement;
  const wide = [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > root.clientWidth + 1)
    .filter(e => !e.parentElement.closest('.table-scroll, .side, details'))
    .slice(0, 5).map(e => e.tagName + '.' + e.className + ':' + e.getBoundingClientRect().width);
  return {scroll: root.scrollWidth, client: root.clientWidth, wide: wide};
}"""

_MAP_VIEW_JS = """(title) => {
  const w = document.querySelector(`iframe[title="${title}"]`).contentWindow;
  const map = Object.values(w).find(v => v instanceof w.L.Map);
  const c = map.getCenter();
  return [Math.round(c.lat * 1e5) / 1e5, Math.round(c.lng * 1e5) / 1e5, map.getZoom()];
}"""


@pytest.fixture(scope="module")
def admin_users(tmp_path_factory: pytest.TempPathFactory, plans_users: Path) -> Path:
    path = tmp_path_factory.mktemp("layout-users") / "users.sqlite"
    shutil.copy(plans_users, path)
    UserStore(path).add("admin", PASSWORD, role="admin")
    return path


@pytest.fixture
def layout_server(plans_location: str, admin_users: Path, tmp_path: Path) -> Iterator[str]:
    users = tmp_path / "users.sqlite"
    shutil.copy(admin_users, users)
    app: Flask = create_app(
        {"TESTING": True, "SECRET_KEY": "test", "WORKSPACE": plans_location, "USERS_DB": str(users)}
    )
    with live_server_of(app) as base:
        yield base


def _fits(page: Any, path: str) -> None:
    found = page.evaluate(_OVERFLOW_JS)
    assert found["scroll"] <= found["client"], (path, page.viewport_size, found)


def test_every_page_fits_without_scrolling_sideways(layout_server: str, chromium: Any) -> None:
    page = chromium.page
    base = layout_server
    for width, height in VIEWPORTS:
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{base}/auth/login")
        _fits(page, "/auth/login")
    chromium.login(base, "admin")
    page.wait_for_url(f"{base}/maps/")
    for path in PAGES:
        for width, height in VIEWPORTS:
            page.set_viewport_size({"width": width, "height": height})
            response = page.goto(f"{base}{path}")
            assert response is not None and response.status == 200, path
            page.wait_for_load_state("load")
            _fits(page, path)
    assert chromium.blocked == []


def test_timetables_fold_but_the_first(layout_server: str, chromium: Any) -> None:
    page = chromium.page
    chromium.login(layout_server, "captain")
    page.wait_for_url(f"{layout_server}/maps/")
    page.goto(f"{layout_server}/plans/{LATE}")
    opened = page.locator("details.timetable").evaluate_all("ds => ds.map(d => d.open)")
    assert opened == [True, False]
    tables = page.locator("table.timetable")
    assert [tables.nth(i).is_visible() for i in range(2)] == [True, False]
    page.locator("details.timetable > summary").nth(1).click()
    assert [tables.nth(i).is_visible() for i in range(2)] == [True, True]


def test_compared_maps_move_together(layout_server: str, chromium: Any) -> None:
    page = chromium.page
    base = layout_server
    chromium.login(base, "captain")
    page.wait_for_url(f"{base}/maps/")
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"{base}/plans/")
    page.select_option("select[name=a]", LATE)
    page.select_option("select[name=b]", NIGHT)
    page.click("form.compare-choice button[type=submit]")
    page.wait_for_url(f"{base}/plans/compare?a={LATE}&b={NIGHT}")
    page.wait_for_function("() => document.documentElement.dataset.mapsLinked === 'true'")
    # both maps show the first plan's view (a frame still loading is linked when it loads)
    page.wait_for_function(
        f"() => JSON.stringify(({_MAP_VIEW_JS})('Plan A map')) === "
        f"JSON.stringify(({_MAP_VIEW_JS})('Plan B map'))",
        polling=100,
        timeout=10_000,
    )

    # pan and zoom the first map: the second follows, and the other way round
    page.evaluate(
        """() => {
      const w = document.querySelector('iframe[title="Plan A map"]').contentWindow;
      const map = Object.values(w).find(v => v instanceof w.L.Map);
      map.setView([41.305, -72.925], map.getZoom() + 1, {animate: false});
    }"""
    )
    assert page.evaluate(_MAP_VIEW_JS, "Plan B map") == page.evaluate(_MAP_VIEW_JS, "Plan A map")
    frame_b = page.frame_locator('iframe[title="Plan B map"]')
    zoom_before = page.evaluate(_MAP_VIEW_JS, "Plan B map")[2]
    frame_b.locator(".leaflet-control-zoom-out").click()
    # the zoom is animated: wait until the second map has zoomed out, then compare
    page.wait_for_function(f"() => ({_MAP_VIEW_JS})('Plan B map')[2] < {zoom_before}", polling=100)
    page.wait_for_function(
        f"() => JSON.stringify(({_MAP_VIEW_JS})('Plan A map')) === "
        f"JSON.stringify(({_MAP_VIEW_JS})('Plan B map'))",
        polling=100,
        timeout=5_000,
    )
    a_view, b_view = (page.evaluate(_MAP_VIEW_JS, t) for t in ("Plan A map", "Plan B map"))
    assert a_view == b_view and a_view[2] < zoom_before

    rows = page.locator("#compare-kpis tbody tr").all_inner_texts()
    assert any(r.startswith("Dosage (risk-weighted)") for r in rows)
    header = page.locator("#compare-kpis thead").inner_text()
    assert LATE in header and NIGHT in header and "B − A" in header
    assert chromium.blocked == []
    assert chromium.console_errors == []
