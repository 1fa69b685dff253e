"""The strict Content-Security-Policy in real headless Chromium: every map page draws its map
with no policy violation, while a script without the response's nonce is refused."""

from __future__ import annotations

from typing import Any

import pytest

from gisapp.render.browser import CHROMIUM_PATH

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM_PATH.exists(), reason=f"{CHROMIUM_PATH} is not installed"),
]

#: Runs first in every document and frame (outside the page's policy): records violations.
_RECORD_VIOLATIONS_JS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', e => {
  window.__cspViolations.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline'));
});
"""

_MAP_DRAWN_JS = """() => {
  if (!window.L) return false;
  const map = Object.values(window).find(v => v instanceof L.Map);
  if (!map) return false;
  let drawn = 0;
  map.eachLayer(l => { if (l._parts && l._parts.length) drawn += 1; });
  return drawn > 0 && map.getContainer().classList.contains('leaflet-container');
}"""

#: An inline script without the nonce, as injected markup would add it.
_INJECT_JS = """() => {
  window.__injectedRan = false;
  const s = document.createElement('script');
  s.textContent = 'window.__injectedRan = true;';
  document.body.appendChild(s);
  return window.__injectedRan;
}"""

_MAP_PAGES = [
    ("/maps/", "Overview map"),
    ("/maps/grids", "Grid map"),
    ("/hotspots/?shift=day&method=kde", "Hotspot map"),
]


def test_map_pages_draw_with_no_policy_violation(live_server: str, chromium: Any) -> None:
    page = chromium.page
    page.context.add_init_script(_RECORD_VIOLATIONS_JS)
    chromium.login(live_server, "captain")
    page.wait_for_url(f"{live_server}/maps/")
    for path, title in _MAP_PAGES:
        response = page.goto(f"{live_server}{path}")
        assert response is not None and response.status == 200, path
        csp = response.headers["content-security-policy"]
        assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";", 1)[0]
        frame = page.wait_for_selector(f'iframe[title="{title}"]').content_frame()
        assert frame is not None
        frame.wait_for_function(_MAP_DRAWN_JS)
        assert frame.evaluate("() => window.__cspViolations") == [], path
        assert page.evaluate("() => window.__cspViolations") == [], path
    page.wait_for_timeout(200)
    assert chromium.console_errors == []
    assert chromium.blocked == []

    # The policy is really enforced: a script without the nonce does not run.
    frame = page.wait_for_selector('iframe[title="Hotspot map"]').content_frame()
    assert frame is not None
    assert frame.evaluate(_INJECT_JS) is False
    frame.wait_for_function("() => window.__cspViolations.length > 0")
    assert frame.evaluate("() => window.__cspViolations")[0].startswith("script-src")


def test_plan_and_coverage_maps_draw_with_no_policy_violation(
    plans_live_server: str, chromium: Any
) -> None:
    plan_id = "2014-09-18-late-s1"
    page = chromium.page
    page.context.add_init_script(_RECORD_VIOLATIONS_JS)
    base = plans_live_server
    chromium.login(base, "captain")
    page.wait_for_url(f"{base}/maps/")
    for path, title in (
        (f"/plans/{plan_id}", "Plan map"),
        (f"/coverage/?mode=car&plan={plan_id}", "Coverage map"),
    ):
        response = page.goto(f"{base}{path}")
        assert response is not None and response.status == 200, path
        frame = page.wait_for_selector(f'iframe[title="{title}"]').content_frame()
        assert frame is not None
        frame.wait_for_function(_MAP_DRAWN_JS)
        assert frame.evaluate("() => window.__cspViolations") == [], path
    frame.wait_for_function("() => window.gisappSlider")  # the hour slider's script ran
    page.wait_for_timeout(200)
    assert chromium.console_errors == []
    assert chromium.blocked == []
