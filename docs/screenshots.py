"""Take the README's screenshots of the web app on a copy of the New Haven sample.

Run from the repository root: ``python docs/screenshots.py`` (needs /usr/bin/chromium).
The pages are served on 127.0.0.1 and Chromium is allowed no other address.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import threading
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from gisapp.render.browser import CHROMIUM_ARGS, CHROMIUM_PATH
from gisapp.samples import get_path
from gisapp.services.plan import plan_shift
from gisapp.settings import parse_shift
from gisapp.store.geopackage import Workspace
from gisapp.store.plans import save_plan
from gisapp.store.users import UserStore
from web import create_app

OUT = Path(__file__).resolve().parent / "screenshots"

#: (file name, path) of every main page.
PAGES: tuple[tuple[str, str], ...] = (
    ("overview", "/maps/"),
    ("grids", "/maps/grids"),
    ("plans", "/plans/"),
    ("plan", "/plans/latest"),
    ("hotspots", "/hotspots/?shift=late&method=counts"),
    ("coverage", "/coverage/"),
    ("layers", "/admin/layers/"),
    ("exports", "/exports/"),
)

_MAP_DRAWN_JS = """() => {
  const frames = [...document.querySelectorAll('iframe')];
  if (!frames.length) return true;
  return frames.every(f => {
    const w = f.contentWindow;
    if (!w || !w.L) return false;
    const map = Object.values(w).find(v => v instanceof w.L.Map);
    let drawn = 0;
    if (map) map.eachLayer(l => { if (l._parts && l._parts.length) drawn += 1; });
    return drawn > 0;
  });
}"""


def main() -> int:
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(shutil.copy2(get_path("new_haven"), Path(tmp) / "new_haven.gpkg"))
        # A night plan to show on the plan pages.
        ws = Workspace.open(workspace)
        save_plan(
            plan_shift(ws, shift=parse_shift("22:00-06:00"), seed=1, time_limit_s=20).record, ws
        )
        users = Path(tmp) / "users.sqlite"
        UserStore(users).add("admin", "screenshots-only", role="admin")
        app = create_app(
            {"WORKSPACE": str(workspace), "USERS_DB": str(users), "SECRET_KEY": "screens"}
        )
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=str(CHROMIUM_PATH), args=list(CHROMIUM_ARGS)
                )
                context = browser.new_context(viewport={"width": 1280, "height": 820})
                context.route(
                    "**/*",
                    lambda r: (
                        r.continue_()
                        if urlsplit(r.request.url).hostname == "127.0.0.1"
                        else r.abort()
                    ),
                )
                page = context.new_page()
                page.goto(f"{base}/auth/login")
                page.fill("input[name=username]", "admin")
                page.fill("input[name=password]", "screenshots-only")
                page.click("button[type=submit]")
                for name, path in PAGES:
                    response = page.goto(base + path)
                    if response is None or response.status != 200:
                        print(f"skipped {path}: {response.status if response else 'no answer'}")
                        continue
                    page.wait_for_function(_MAP_DRAWN_JS, timeout=120_000)
                    page.wait_for_timeout(500)
                    page.screenshot(path=str(OUT / f"{name}.png"))
                    print(f"wrote {OUT / f'{name}.png'}")
                browser.close()
        finally:
            server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
