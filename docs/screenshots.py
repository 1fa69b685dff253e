"""Take the README's screenshots of every page of the web app at 1366x768, on a copy of the
New Haven sample with two saved plans, in English (``docs/screenshots/``) and in Chinese
(``docs/screenshots/zh_CN/``).

Run from the repository root: ``python3 docs/screenshots.py`` (needs /usr/bin/chromium).
The pages are served on 127.0.0.1 and Chromium is allowed no other address.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import ViewportSize, sync_playwright
from werkzeug.serving import make_server

from gisapp.render.browser import CHROMIUM_ARGS, CHROMIUM_PATH
from gisapp.samples import get_path
from gisapp.services.plan import plan_shift
from gisapp.settings import Settings
from gisapp.store.geopackage import Workspace
from gisapp.store.plans import save_plan
from gisapp.store.users import UserStore
from web import create_app

OUT = Path(__file__).resolve().parent / "screenshots"
VIEWPORT: ViewportSize = {"width": 1366, "height": 768}
#: The day of the sample's plans (the incidents of the sample end in September 2014).
PLAN_DAY = dt.date(2014, 9, 18)
#: The plans to save first, oldest first: (shift name, seed).
PLANS = (("late", 1), ("night", 2))
PASSWORD = "screenshots-only"
#: Per language: the folder of its screenshots, the signed-in admin (who chose that
#: language) and the browser's language (which the sign-in page follows).
LANGUAGES: tuple[tuple[str, Path, str, str], ...] = (
    ("en", OUT, "admin", "en-US"),
    ("zh_CN", OUT / "zh_CN", "zhang", "zh-CN"),
)

#: (file name, path) of every page; ``{a}`` and ``{b}`` are the plans saved first and last.
PAGES: tuple[tuple[str, str], ...] = (
    ("overview", "/maps/"),
    ("grids", "/maps/grids"),
    ("hotspots", "/hotspots/?shift=late&method=counts"),
    ("coverage", "/coverage/"),
    ("plans", "/plans/"),
    ("plan", "/plans/{b}"),
    ("plan_new", "/plans/new"),
    ("plan_compare", "/plans/compare?a={a}&b={b}"),
    ("exports", "/exports/"),
    ("categories", "/categories/"),
    ("layers", "/admin/layers/"),
    ("users", "/admin/users"),
)

_MAPS_DRAWN_JS = """() => {
  const frames = [...document.querySelectorAll('iframe')];
  return frames.every(f => {
    const w = f.contentWindow;
    if (!w || !w.L) return false;
    const map = Object.values(w).find(v => v instanceof w.L.Map);
    let drawn = 0;
    if (map) map.eachLayer(l => { if (l._parts && l._parts.length) drawn += 1; });
    return drawn > 0;
  });
}"""


def save_sample_plans(workspace: Path) -> list[str]:
    """Plan and save :data:`PLANS` on ``workspace``; return their ids, oldest first."""
    ws = Workspace.open(workspace)
    settings = Settings()
    ids = []
    for shift, seed in PLANS:
        plan = plan_shift(
            ws,
            shift=settings.shift(shift),
            date=PLAN_DAY,
            seed=seed,
            settings=settings,
            search_budget=3_000,
        )
        ids.append(save_plan(plan.record, ws))
        print(f"saved plan {ids[-1]}")
    return ids


def shoot(page: Any, url: str, out: Path) -> bool:
    """Open ``url``, wait for its maps and save a screenshot of the viewport to ``out``."""
    response = page.goto(url)
    if response is None or response.status != 200:
        print(f"skipped {url}: {response.status if response else 'no answer'}")
        return False
    page.wait_for_function(_MAPS_DRAWN_JS, timeout=180_000)
    page.wait_for_timeout(500)
    page.screenshot(path=str(out))
    print(f"wrote {out}")
    return True


def shoot_pages(
    browser: Any, base: str, folder: Path, user: str, locale: str, ids: list[str]
) -> None:
    """Sign in as ``user`` from a browser speaking ``locale``; shoot every page into ``folder``."""
    context = browser.new_context(viewport=VIEWPORT, locale=locale)
    context.route(
        "**/*",
        lambda r: r.continue_() if urlsplit(r.request.url).hostname == "127.0.0.1" else r.abort(),
    )
    page = context.new_page()
    shoot(page, f"{base}/auth/login", folder / "login.png")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/maps/")
    for name, path in PAGES:
        shoot(page, base + path.format(a=ids[0], b=ids[-1]), folder / f"{name}.png")
    context.close()


def main() -> int:
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(shutil.copy2(get_path("new_haven"), Path(tmp) / "new_haven.gpkg"))
        ids = save_sample_plans(workspace)
        users = Path(tmp) / "users.sqlite"
        store = UserStore(users)
        for language, _folder, user, _locale in LANGUAGES:
            store.add(user, PASSWORD, role="admin")
            store.set_language(user, language)
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
                for _language, folder, user, locale in LANGUAGES:
                    folder.mkdir(exist_ok=True)
                    shoot_pages(browser, base, folder, user, locale, ids)
                browser.close()
        finally:
            server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
