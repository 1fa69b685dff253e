"""The web app in Chinese: the sign-in page follows the browser, the language switch in the
navigation bar is kept with the user, cached answers never cross languages, and the pages
of the navigation bar leave no English word outside names, units and data; on both stores
(``backend``)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from flask import Flask
from flask.testing import FlaskClient

from gisapp.render.browser import CHROMIUM_PATH
from gisapp.services.categories import category_rows
from gisapp.settings import Settings
from gisapp.store import Workspace
from gisapp.store.users import UserStore
from layers.i18n import gettext
from layers.schema import LAYERS
from tests.web.conftest import PASSWORD, SAVED_PLANS, live_server_of
from web import create_app

Login = Callable[..., None]
CsrfFrom = Callable[[FlaskClient, str], str]

ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}

#: An English word: three letters or more (shorter ones are units and ids: km, m², A, B),
#: not part of an identifier (``speed_kph``, ``s1100``), a file suffix (``.csv``) or a
#: quoted value (``'car'``): those are names the user types as they are.
WORD = re.compile(r"(?<![A-Za-z0-9_.'\"‘“])[A-Za-z]{3,}(?![A-Za-z0-9_])")

#: Names, formats and units that stay as they are in a Chinese page.
ALLOWED = {
    "gisapp",
    "GPX",
    "PDF",
    "PNG",
    "CSV",
    "HTML",
    "GeoJSON",
    "GeoPackage",
    "GeoParquet",
    "QGIS",
    "OSM",
    "OpenStreetMap",
    "PBF",
    "XML",
    "Shapefile",
    "WKT",
    "WGS",
    "CGCS",
    "GCJ",
    "BD",
    "PAI",
    "KDE",
    "Chromium",
    "chromium",
    "English",  # the language switch names each language in its own words
    "MB",
    "km",
    "min",
    "HH",
    "MM",
    "ODbL",
    "Ctrl",
    "NIBRS",  # a bundled categories table
}


def _words(values: Iterable[Any]) -> set[str]:
    found: set[str] = set()
    for value in values:
        if isinstance(value, str):
            found.update(WORD.findall(value))
    return found


#: Columns the pages never show as they are (free text, stored figures, machine kinds),
#: and the incidents' categories (shown on the categories page only).
_UNSHOWN_COLUMNS = {"description", "kpis", "kind", "overrides", "category"}


def _frame_words(frame: pd.DataFrame) -> set[str]:
    words: set[str] = set()
    for column in frame.columns:
        if column in _UNSHOWN_COLUMNS:
            continue
        values = frame[column]
        if values.dtype == object or pd.api.types.is_string_dtype(values):
            words |= _words(values.dropna().astype(str).unique())
    return words


def data_words(path: str, settings: Settings | None = None) -> set[str]:
    """Every word of the workspace's data the pages show (names, ids, notes), its layer
    names and the shift names of the settings, in lower case: they are shown as they
    are written."""
    ws = Workspace.open(path)
    words = _words([ws.label, ws.name, ws.meta.get("name", ""), ws.timezone, *LAYERS])
    words |= _words(ws.layer_names())
    for name in ws.layer_names():
        words |= _frame_words(pd.DataFrame(ws.layer(name)))
    shifts = (settings or Settings()).shifts
    words |= _words([*shifts, *(str(s) for s in shifts.values())])
    return {w.lower() for w in words}


def page_words(path: str) -> dict[str, set[str]]:
    """The data words of one page each, in lower case, by the page's path: the layers'
    notes (where they come from) on the overview and layers pages, the workspace's
    description on the overview, the incidents'
    categories and their labels (from the workspace's table or the bundled tables) on
    the categories page."""
    ws = Workspace.open(path)
    notes = {w.lower() for w in _words(str(v) for v in ws.layer_notes.values())}
    description = {w.lower() for w in _words([ws.meta.get("description", "")])}
    frame = category_rows(ws)
    categories = _words(frame[["category", "label"]].astype(str).values.ravel())
    return {
        "/maps/": notes | description,
        "/admin/layers/": notes,
        "/categories/": {w.lower() for w in categories},
    }


def allowed_on(path: str, allowed: set[str], pages: dict[str, set[str]]) -> set[str]:
    """The data words that may show on page ``path``."""
    return allowed | pages.get(path.split("?")[0], set())


_HIDDEN = ("script", "style", "head", "iframe", "code")


class _Text(HTMLParser):
    """The text a reader sees in an HTML page: no scripts, styles, frames or head, and no
    commands quoted in ``<code>``."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def visible_text(page: str) -> str:
    parser = _Text()
    parser.feed(page)
    return " ".join(parser.parts)


def english_left(text: str, allowed: set[str]) -> set[str]:
    """The English words of ``text`` that are neither allowed names nor data."""
    return {w for w in WORD.findall(text) if w.lower() not in allowed and w not in ALLOWED}


def _language_of(app: Flask, name: str) -> str | None:
    user = UserStore(app.config["USERS_DB"]).get(name)
    assert user is not None
    return user.language


def _switch(client: FlaskClient, csrf_from: CsrfFrom, language: str, page: str) -> Any:
    token = csrf_from(client, page)
    return client.post("/language", data={"csrf_token": token, "language": language, "next": page})


# -- the sign-in page and the switch ---------------------------------------------------------


def test_the_sign_in_page_follows_the_browser(client: FlaskClient) -> None:
    chinese = client.get("/auth/login", headers=ZH).get_data(as_text=True)
    assert '<html lang="zh-CN">' in chinese
    assert "<h1>登录</h1>" in chinese and "用户名" in chinese and "Log in" not in chinese
    # the switch is there for a visitor too, each language named in its own words
    assert 'action="/language"' in chinese and "简体中文" in chinese and "English" in chinese
    english = client.get("/auth/login").get_data(as_text=True)
    assert '<html lang="en">' in english and "<h1>Log in</h1>" in english


def test_a_visitor_switches_before_signing_in_and_stays_in_chinese(
    client: FlaskClient, csrf_from: CsrfFrom
) -> None:
    response = _switch(client, csrf_from, "zh_CN", "/auth/login")
    assert response.status_code == 302 and response.headers["Location"] == "/auth/login"
    assert "<h1>登录</h1>" in client.get("/auth/login").get_data(as_text=True)
    token = csrf_from(client, "/auth/login")
    client.post(
        "/auth/login", data={"username": "captain", "password": PASSWORD, "csrf_token": token}
    )
    page = client.get("/maps/").get_data(as_text=True)
    assert ">总览</a>" in page and ">网格</a>" in page and ">Overview</a>" not in page


def test_the_switch_is_kept_with_the_user(
    app: Flask, client: FlaskClient, login: Login, csrf_from: CsrfFrom
) -> None:
    login("captain")
    assert ">Overview</a>" in client.get("/maps/").get_data(as_text=True)
    response = _switch(client, csrf_from, "zh_CN", "/hotspots/?shift=day")
    assert response.status_code == 302
    assert response.headers["Location"] == "/hotspots/?shift=day"
    assert _language_of(app, "captain") == "zh_CN"
    page = client.get("/hotspots/?shift=day").get_data(as_text=True)
    assert '<html lang="zh-CN">' in page and "分班次热点" in page and "本班次警情" in page
    # another browser, with an English Accept-Language: the user's choice wins
    other = app.test_client()
    token = csrf_from(other, "/auth/login")
    other.post(
        "/auth/login", data={"username": "captain", "password": PASSWORD, "csrf_token": token}
    )
    page = other.get("/maps/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert ">总览</a>" in page and "时区：America/New_York。" in page
    # and back to English
    _switch(other, csrf_from, "en", "/maps/")
    assert _language_of(app, "captain") == "en"
    assert ">Overview</a>" in other.get("/maps/", headers=ZH).get_data(as_text=True)


def test_a_language_not_offered_changes_nothing(
    app: Flask, client: FlaskClient, login: Login, csrf_from: CsrfFrom
) -> None:
    login("captain")
    response = _switch(client, csrf_from, "fr", "/maps/")
    assert response.status_code == 302
    assert _language_of(app, "captain") is None
    # a next address off this site is not followed
    token = csrf_from(client, "/maps/")
    response = client.post(
        "/language",
        data={"csrf_token": token, "language": "zh_CN", "next": "//evil.example/"},
    )
    assert response.headers["Location"] == "/maps/"


def test_the_switch_needs_the_form_token(client: FlaskClient) -> None:
    response = client.post("/language", data={"language": "zh_CN", "next": "/auth/login"})
    assert response.status_code == 400
    assert "security token is missing" in response.get_data(as_text=True)
    # refused before the language of the request is set, and still in the reader's words
    response = client.post("/auth/login", data={"username": "x"}, headers=ZH)
    text = visible_text(response.get_data(as_text=True))
    assert response.status_code == 400 and "400 请求有误" in text and "security" not in text


def test_flash_messages_and_error_pages_in_chinese(
    app: Flask, client: FlaskClient, login: Login, csrf_from: CsrfFrom
) -> None:
    UserStore(app.config["USERS_DB"]).set_language("admin", "zh_CN")
    login("admin")
    token = csrf_from(client, "/admin/users")
    response = client.post(
        "/admin/users/admin/disabled", data={"csrf_token": token, "disabled": "1"}
    )
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "不能停用自己的账号；请联系另一位管理员。" in page
    missing = client.get("/plans/no-such-plan")
    assert missing.status_code == 404
    text = visible_text(missing.get_data(as_text=True))
    assert "404 未找到" in text and "返回总览" in text
    # the API keeps the standard name for programs and explains in the reader's language
    body = client.get("/api/layers/nothing.geojson").get_json()
    assert body["error"] == "Not Found" and body["message"] == "没有名为 'nothing' 的空间图层。"
    page = client.get("/maps/grids?unit=U9").get_data(as_text=True)
    assert "没有网格属于巡组 &#39;U9&#39;；请从列表中选择巡组。" in page


# -- the admin sets a user's language -------------------------------------------------------


def test_the_admin_sets_a_users_language(
    app: Flask, client: FlaskClient, login: Login, csrf_from: CsrfFrom
) -> None:
    login("admin")
    page = client.get("/admin/users").get_data(as_text=True)
    assert 'action="/admin/users/officer1/language"' in page
    token = csrf_from(client, "/admin/users")
    response = client.post(
        "/admin/users/officer1/language", data={"csrf_token": token, "language": "zh_CN"}
    )
    assert response.status_code == 302
    page = client.get("/admin/users").get_data(as_text=True)
    assert "officer1 now sees the interface in 简体中文." in page
    row = page.split('data-user="officer1"')[1].split("</tr>")[0]
    assert '<option value="zh_CN" lang="zh-CN" selected>' in row
    assert _language_of(app, "officer1") == "zh_CN"
    # back to no choice of their own
    client.post("/admin/users/officer1/language", data={"csrf_token": token, "language": ""})
    assert _language_of(app, "officer1") is None
    refused = client.post(
        "/admin/users/officer1/language", data={"csrf_token": token, "language": "klingon"}
    )
    assert refused.status_code == 400 and _language_of(app, "officer1") is None


def test_a_new_user_can_be_given_a_language(
    app: Flask, client: FlaskClient, login: Login, csrf_from: CsrfFrom
) -> None:
    login("admin")
    token = csrf_from(client, "/admin/users")
    client.post(
        "/admin/users",
        data={
            "csrf_token": token,
            "username": "zhao",
            "password": PASSWORD,
            "role": "captain",
            "language": "zh_CN",
        },
    )
    assert _language_of(app, "zhao") == "zh_CN"


# -- caches ---------------------------------------------------------------------------------


def test_a_page_cached_in_english_is_not_served_to_a_chinese_reader(
    app: Flask,
    client: FlaskClient,
    login: Login,
    csrf_from: CsrfFrom,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    drawn: list[str] = []

    def draw(*_args: Any, **_kwargs: Any) -> str:
        text = gettext("Overview map")
        drawn.append(text)
        return text

    monkeypatch.setattr("web.maps.overview_map", lambda *a, **k: None)
    monkeypatch.setattr("web.maps.map_html", draw)
    login("captain")
    assert client.get("/maps/overview/map.html").get_data(as_text=True) == "Overview map"
    assert client.get("/maps/overview/map.html").get_data(as_text=True) == "Overview map"
    assert drawn == ["Overview map"]  # the second answer came from the cache
    _switch(client, csrf_from, "zh_CN", "/maps/")
    assert client.get("/maps/overview/map.html").get_data(as_text=True) == "总览图"
    _switch(client, csrf_from, "en", "/maps/")
    assert client.get("/maps/overview/map.html").get_data(as_text=True) == "Overview map"
    assert drawn == ["Overview map", "总览图"]


def test_cached_hotspots_and_coverage_keep_one_answer_per_language(
    app: Flask, client: FlaskClient, login: Login, csrf_from: CsrfFrom, workspace_location: str
) -> None:
    """The hotspot and coverage results (with their data notes and messages) are computed
    once per language: seen first in English, they come out in Chinese afterwards."""
    allowed = data_words(workspace_location) | {"captain"}  # the user's name
    login("captain")
    english = visible_text(client.get("/hotspots/?shift=day").get_data(as_text=True))
    assert "Incidents in the shift" in english
    client.get("/coverage/")
    _switch(client, csrf_from, "zh_CN", "/maps/")
    for path in ("/hotspots/?shift=day", "/coverage/"):
        page = visible_text(client.get(path).get_data(as_text=True))
        assert not english_left(page, allowed), path
    assert "本班次警情" in visible_text(client.get("/hotspots/?shift=day").get_data(as_text=True))


# -- no English left --------------------------------------------------------------------------

#: The pages of the navigation bar (and the password page) of an admin.
NAV_PAGES = [
    "/maps/",
    "/maps/grids",
    "/hotspots/",
    "/coverage/",
    "/plans/",
    "/exports/",
    "/categories/",
    "/admin/layers/",
    "/admin/users",
    "/auth/password",
]


def test_the_web_pages_leave_no_english_of_their_own(
    app: Flask, client: FlaskClient, login: Login, workspace_location: str
) -> None:
    """Every page's own text is Chinese; what is left is data, names and the texts of the
    analysis (translated with the services), listed in the failure message."""
    UserStore(app.config["USERS_DB"]).set_language("admin", "zh_CN")
    login("admin")
    allowed = data_words(workspace_location) | {"admin", "captain", "officer"}  # user names
    pages = page_words(workspace_location)
    left: dict[str, set[str]] = {}
    for path in NAV_PAGES:
        response = client.get(path)
        assert response.status_code == 200, path
        page = response.get_data(as_text=True)
        assert '<html lang="zh-CN">' in page, path
        words = english_left(visible_text(page), allowed_on(path, allowed, pages))
        if words:
            left[path] = words
    assert not left, f"English left on the pages: {left}"


# -- in Chromium --------------------------------------------------------------------------------


#: The page's text as the reader sees it (frames are documents of their own), without the
#: commands quoted in ``<code>`` (``gisapp plan``).
_PAGE_TEXT_JS = """() => {
  let text = document.body.innerText;
  for (const code of document.querySelectorAll('code')) text = text.split(code.innerText).join(' ');
  return text;
}"""


#: Elements sticking out of the window on the right (tables scroll in their own box).
_OVERFLOW_JS = """() => {
  const root = document.documentElement;
  return [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > root.clientWidth + 1)
    .filter(e => !e.parentElement.closest('.table-scroll, .side, details'))
    .slice(0, 5).map(e => e.tagName + '.' + e.className);
}"""


@pytest.fixture
def chinese_admin_app(plans_location: str, plans_users: Path, tmp_path: Path) -> Flask:
    """The plans app (two saved plans) with an admin who has not chosen a language."""
    users = tmp_path / "users.sqlite"
    shutil.copy(plans_users, users)
    UserStore(users).add("chief", PASSWORD, role="admin")
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test",
            "WORKSPACE": plans_location,
            "USERS_DB": str(users),
            "SETTINGS": Settings(plan_effort=3_000),
        }
    )


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM_PATH.exists(), reason=f"{CHROMIUM_PATH} is not installed")
def test_every_page_of_the_bar_in_chinese_in_chromium(
    chinese_admin_app: Flask, chromium: Any
) -> None:
    """An admin picks 简体中文 on the sign-in page (no script needed), signs in and opens
    every page of the navigation bar, a plan and the comparison: the text of each page,
    outside its map frames, holds no English word but names, units and data."""
    page = chromium.page
    workspace = chinese_admin_app.config["WORKSPACE"]
    users = UserStore(chinese_admin_app.config["USERS_DB"]).all()
    allowed = data_words(workspace) | {user.name for user in users}
    pages = page_words(workspace)
    first, second = SAVED_PLANS.values()
    paths = [
        *NAV_PAGES,
        f"/plans/{second}",
        f"/plans/compare?a={first}&b={second}",
        f"/coverage/?plan={second}",
        "/plans/new",
    ]
    left: dict[str, list[str]] = {}
    page.set_viewport_size({"width": 1366, "height": 768})
    with live_server_of(chinese_admin_app) as base:
        page.goto(f"{base}/auth/login")
        assert page.locator("html").get_attribute("lang") == "en"
        page.select_option("form.language select[name=language]", "zh_CN")
        page.click("form.language input[type=submit]")
        page.wait_for_selector("h1:has-text('登录')")
        assert page.locator("html").get_attribute("lang") == "zh-CN"
        chromium.login(base, "chief")
        page.wait_for_url(f"{base}/maps/")
        nav = page.locator("header nav a").all_text_contents()
        assert nav == [
            "总览",
            "网格",
            "热点",
            "快反圈",
            "巡逻方案",
            "导出",
            "警情类别",
            "图层",
            "用户",
        ]
        for path in paths:
            response = page.goto(f"{base}{path}")
            assert response is not None and response.status == 200, path
            assert page.locator("html").get_attribute("lang") == "zh-CN", path
            assert page.evaluate(_OVERFLOW_JS) == [], path  # Chinese fits a laptop too
            text = page.evaluate(_PAGE_TEXT_JS)
            words = english_left(text, allowed_on(path, allowed, pages))
            if words:
                left[path] = sorted(words)
        # the switch of the bar, signed in: back to English, kept with the user
        page.select_option("form.language select[name=language]", "en")
        page.click("form.language input[type=submit]")
        page.wait_for_selector("header nav a:has-text('Overview')")
        assert page.url == f"{base}{paths[-1]}"
        assert _language_of(chinese_admin_app, "chief") == "en"
    assert not left, f"English left on the pages: {left}"
