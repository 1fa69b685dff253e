"""The shift plan pages: the form, generation, the plan list, downloads, officer limits,
and the plan map in real Chromium with the network cut."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from flask import Flask
from flask.testing import FlaskClient

from gisapp.render.browser import CHROMIUM_PATH
from gisapp.store import Workspace
from gisapp.store.plans import list_plans, load_plan

PASSWORD = "correct horse battery"
DAY = dt.date(2014, 9, 18)
GPX = {"g": "http://www.topografix.com/GPX/1/1"}
#: The two plans saved before each test, oldest first.
SAVED = ("2014-09-18-late-s1", "2014-09-18-night-s2")
Login = Callable[[str], None]


@pytest.fixture
def app(plans_app: Flask) -> Flask:
    return plans_app


def _csrf(client: FlaskClient, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


@pytest.fixture
def login(client: FlaskClient) -> Login:
    def do_login(name: str) -> None:
        token = _csrf(client, "/auth/login")
        response = client.post(
            "/auth/login", data={"username": name, "password": PASSWORD, "csrf_token": token}
        )
        assert response.status_code == 302

    return do_login


def _plan_ids(app: Flask) -> list[str]:
    return list(list_plans(Workspace.open(app.config["WORKSPACE"]))["plan_id"])


# -- the form and generation ----------------------------------------------------------------


def test_form_ticks_the_units_of_the_chosen_shift(client: FlaskClient, login: Login) -> None:
    login("captain")
    page = client.get("/plans/new?shift=night").get_data(as_text=True)
    ticked = re.findall(r'name="units" value="([^"]+)"[^>]* checked', page)
    assert ticked == ["car-1", "car-2"]  # the e-bike works the day shift only
    page = client.get("/plans/new?shift=day").get_data(as_text=True)
    assert re.findall(r'name="units" value="([^"]+)"[^>]* checked', page) == [
        "car-1",
        "car-2",
        "ebike-1",
    ]
    assert 'value="custom"' in page


def test_generating_needs_the_csrf_token(app: Flask, client: FlaskClient, login: Login) -> None:
    login("captain")
    response = client.post("/plans/new", data={"shift": "night", "date": "2014-09-18"})
    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)
    assert _plan_ids(app) == list(reversed(SAVED))


def test_captain_generates_saves_and_sees_a_plan(
    app: Flask, client: FlaskClient, login: Login
) -> None:
    login("captain")
    token = _csrf(client, "/plans/new")
    response = client.post(
        "/plans/new",
        data={
            "csrf_token": token,
            "shift": "custom",
            "window": "20:00-04:00",
            "units": ["car-1", "car-2"],
            "seed": "7",
            "date": "2014-09-18",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    # the plan is made in the background; its page shows progress, then the plan
    job_url = response.headers["Location"]
    assert job_url.startswith("/plans/jobs/")
    app.extensions["gisapp_jobs"].wait(job_url.rsplit("/", 1)[1], timeout_s=120)
    done = client.get(job_url)
    assert done.headers["Location"] == "/plans/2014-09-18-2000-0400-s7"
    assert _plan_ids(app) == ["2014-09-18-2000-0400-s7", *reversed(SAVED)]

    page = client.get("/plans/2014-09-18-2000-0400-s7").get_data(as_text=True)
    assert 'iframe class="map" title="Plan map"' in page
    assert re.findall(r'class="data timetable" data-unit="([^"]+)"', page) == ["car-1", "car-2"]
    assert "Dosage (risk-weighted)" in page and "Balance (busiest / least busy)" in page
    assert page.count('class="station"') == 4  # leave and return, per unit
    assert "20:00" in page  # the first departure

    frame = client.get("/plans/2014-09-18-2000-0400-s7/map.html").get_data(as_text=True)
    assert '"id": "car-1"' in frame and '"id": "car-2"' in frame
    assert not re.findall(r'<(?:script|link)[^>]+(?:src|href)="(?:https?:)?//', frame)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("window", "25:99-04:00", "should be two times like"),
        ("seed", "many", "is not a whole number"),
        ("date", "18/09/2014", "is not a date like"),
        ("units", "car-99", "unknown unit id(s) &#39;car-99&#39;"),
    ],
)
def test_bad_form_input_is_shown_on_the_form(
    app: Flask, client: FlaskClient, login: Login, field: str, value: str, message: str
) -> None:
    login("captain")
    data = {
        "csrf_token": _csrf(client, "/plans/new"),
        "shift": "custom" if field == "window" else "night",
        "window": "",
        "seed": "1",
        "date": "2014-09-18",
        field: value,
    }
    response = client.post("/plans/new", data=data)
    if response.status_code == 302:  # found by the planner, in the background
        job_url = response.headers["Location"]
        app.extensions["gisapp_jobs"].wait(job_url.rsplit("/", 1)[1], timeout_s=120)
        response = client.get(job_url)
    page = response.get_data(as_text=True)
    assert response.status_code in (400, 422)
    assert message in page and 'id="plan-form"' in page
    assert _plan_ids(app) == list(reversed(SAVED))


def test_units_ticked_for_another_shift_are_not_planned(
    app: Flask, client: FlaskClient, login: Login
) -> None:
    login("captain")
    data = {
        "csrf_token": _csrf(client, "/plans/new"),
        "shift": "night",
        "ticked_for": "day",
        "units": ["car-1", "car-2", "ebike-1"],
        "seed": "1",
        "date": "2014-09-18",
    }
    response = client.post("/plans/new", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "the units of the 00:00-08:00 shift are ticked now" in page
    assert re.findall(r'name="units" value="([^"]+)"[^>]* checked', page) == ["car-1", "car-2"]
    assert _plan_ids(app) == list(reversed(SAVED))


# -- the list and one plan ---------------------------------------------------------------------


def test_plan_list_shows_plans_side_by_side(client: FlaskClient, login: Login) -> None:
    login("captain")
    page = client.get("/plans/").get_data(as_text=True)
    ids = re.findall(r'<a href="/plans/(2014[^"]+)">', page)
    assert ids == list(reversed(SAVED))  # newest first
    assert "Dosage" in page and "Balance" in page and "late (22:00-06:00)" in page
    assert client.get("/plans/latest").headers["Location"] == f"/plans/{SAVED[-1]}"


def test_unknown_plan_is_404_naming_the_plans(client: FlaskClient, login: Login) -> None:
    login("captain")
    response = client.get("/plans/2099-01-01-day-s0")
    assert response.status_code == 404
    assert SAVED[0] in response.get_data(as_text=True)


def test_every_role_sees_plans_in_the_navigation(client: FlaskClient, login: Login) -> None:
    for user in ("captain", "car1"):
        login(user)
        page = client.get("/plans/").get_data(as_text=True)
        assert 'href="/plans/"' in page and ">Plans<" in page
        client.post("/auth/logout", data={"csrf_token": _csrf(client, "/plans/")})


# -- downloads ---------------------------------------------------------------------------------


def test_downloads_have_their_types_and_parse(client: FlaskClient, login: Login) -> None:
    login("captain")
    base = f"/plans/{SAVED[-1]}/download"

    response = client.get(f"{base}/geojson")
    assert response.mimetype == "application/geo+json"
    assert "attachment" in response.headers["Content-Disposition"]
    routes = json.loads(response.data)
    assert sorted(f["properties"]["unit_id"] for f in routes["features"]) == ["car-1", "car-2"]

    stops = json.loads(client.get(f"{base}/stops.geojson").data)
    assert {f["geometry"]["type"] for f in stops["features"]} == {"Point"}

    response = client.get(f"{base}/csv")
    assert response.mimetype == "text/csv"
    table = pd.read_csv(io.BytesIO(response.data))
    assert list(table.columns[:4]) == ["unit_id", "seq", "kind", "name"]
    assert set(table["unit_id"]) == {"car-1", "car-2"}

    response = client.get(f"{base}/gpkg")
    assert response.mimetype == "application/geopackage+sqlite3"
    assert response.data[:16] == b"SQLite format 3\x00"

    response = client.get(f"{base}/html")
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "L.map(" in html and '<script src="/static' not in html  # self-contained

    response = client.get(f"{base}/gpx?unit=car-2")
    assert response.mimetype == "application/gpx+xml"
    assert f"{SAVED[-1]}_car-2.gpx" in response.headers["Content-Disposition"]
    gpx = ET.fromstring(response.data)
    assert gpx.find("g:trk/g:name", GPX).text == "Unit car-2"  # type: ignore[union-attr]
    assert len(gpx.findall("g:trk/g:trkseg/g:trkpt", GPX)) > 10

    assert client.get(f"{base}/gpx").status_code == 400  # a GPX is per unit
    assert client.get(f"{base}/shp").status_code == 404


def test_printed_briefing_without_chromium_says_so(
    client: FlaskClient, login: Login, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr("gisapp.render.printing.CHROMIUM_PATH", tmp_path / "no-chromium")
    login("captain")
    page = client.get(f"/plans/{SAVED[-1]}").get_data(as_text=True)
    assert "Chromium is not installed on the server" in page
    response = client.get(f"/plans/{SAVED[-1]}/download/pdf")
    assert response.status_code == 503
    assert "install the &#39;chromium&#39; system package" in response.get_data(as_text=True)


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM_PATH.exists(), reason=f"{CHROMIUM_PATH} is not installed")
def test_pdf_briefing_download(client: FlaskClient, login: Login) -> None:
    login("car1")
    response = client.get(f"/plans/{SAVED[-1]}/download/pdf")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/pdf"
    assert response.data[:5] == b"%PDF-"


# -- officers -----------------------------------------------------------------------------------


def test_officer_sees_only_his_unit(client: FlaskClient, login: Login) -> None:
    login("car1")
    page = client.get("/plans/").get_data(as_text=True)
    assert re.findall(r'<a href="/plans/(2014[^"]+)">', page) == list(reversed(SAVED))
    assert "Dosage" not in page and "New plan" not in page

    view = client.get(f"/plans/{SAVED[0]}")
    assert view.status_code == 200
    page = view.get_data(as_text=True)
    assert re.findall(r'class="data timetable" data-unit="([^"]+)"', page) == ["car-1"]
    assert "car-2" not in page and "Dosage (risk-weighted)" not in page

    routes = json.loads(client.get(f"/plans/{SAVED[0]}/download/geojson").data)
    assert [f["properties"]["unit_id"] for f in routes["features"]] == ["car-1"]
    table = pd.read_csv(io.BytesIO(client.get(f"/plans/{SAVED[0]}/download/csv").data))
    assert set(table["unit_id"]) == {"car-1"}
    frame = client.get(f"/plans/{SAVED[0]}/map.html").get_data(as_text=True)
    assert '"id": "car-1"' in frame and '"id": "car-2"' not in frame
    gpx = client.get(f"/plans/{SAVED[0]}/download/gpx")
    assert gpx.status_code == 200 and b"Unit car-1" in gpx.data


@pytest.mark.parametrize(
    "path",
    [
        f"/plans/{SAVED[0]}?unit=car-2",
        f"/plans/{SAVED[0]}/map.html?unit=car-2",
        f"/plans/{SAVED[0]}/download/gpx?unit=car-2",
        f"/plans/{SAVED[0]}/download/geojson?unit=car-2",
        "/plans/new",
    ],
)
def test_officer_gets_403_on_other_units_and_the_form(
    client: FlaskClient, login: Login, path: str
) -> None:
    login("car1")
    response = client.get(path)
    assert response.status_code == 403
    assert "Traceback" not in response.get_data(as_text=True)


def test_officer_cannot_generate(app: Flask, client: FlaskClient, login: Login) -> None:
    login("car1")
    token = _csrf(client, "/plans/")
    response = client.post(
        "/plans/new", data={"csrf_token": token, "shift": "night", "date": "2014-09-18"}
    )
    assert response.status_code == 403
    assert _plan_ids(app) == list(reversed(SAVED))


def test_officer_whose_unit_is_in_no_plan(client: FlaskClient, login: Login) -> None:
    login("bike1")
    assert "No plan is saved yet for your unit" in client.get("/plans/").get_data(as_text=True)
    assert client.get("/plans/latest").headers["Location"] == "/plans/"
    assert client.get(f"/plans/{SAVED[0]}").status_code == 404


# -- in Chromium -------------------------------------------------------------------------------

_ROUTES_DRAWN_JS = """() => {
  if (!window.L) return null;
  const map = Object.values(window).find(v => v instanceof L.Map);
  if (!map) return null;
  const units = [];
  map.eachLayer(l => {
    // route lines carry their unit id as the GeoJSON feature id; roads have none
    if (l instanceof L.Polyline && !(l instanceof L.Polygon) && l.feature
        && /^car-/.test(String(l.feature.id)) && l._parts && l._parts.length) {
      units.push(String(l.feature.id));
    }
  });
  return units.length ? units : null;
}"""


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM_PATH.exists(), reason=f"{CHROMIUM_PATH} is not installed")
def test_captain_generates_a_night_plan_in_chromium(
    app: Flask, live_server: str, chromium: Any
) -> None:
    page = chromium.page
    page.goto(f"{live_server}/plans/new?shift=night")
    assert "/auth/login" in page.url
    chromium.login(live_server, "captain")
    page.wait_for_url(f"{live_server}/plans/new?shift=night")
    page.select_option("select[name=shift]", "night")
    page.fill("input[name=seed]", "4")
    page.fill("input[name=date]", "2014-09-18")
    page.click("#plan-form button[type=submit]")
    page.wait_for_url(f"{live_server}/plans/2014-09-18-night-s4")

    frame = page.wait_for_selector('iframe[title="Plan map"]').content_frame()
    assert frame is not None
    frame.wait_for_function(_ROUTES_DRAWN_JS)
    units = frame.evaluate(_ROUTES_DRAWN_JS)
    assert sorted(units) == ["car-1", "car-2"]  # one route line per unit
    assert frame.locator(".gisapp-stop").count() > 2  # numbered stops
    tables = page.locator("table.timetable").evaluate_all("ts => ts.map(t => t.dataset.unit)")
    assert tables == ["car-1", "car-2"]
    page.wait_for_timeout(200)

    assert chromium.blocked == []
    assert chromium.console_errors == []
    assert chromium.requests
    assert _plan_ids(app)[0] == "2014-09-18-night-s4"


def test_adjusted_plan_keeps_the_lock_and_the_forbidden_hotspot(
    app: Flask, client: FlaskClient, login: Login
) -> None:
    login("captain")
    original = SAVED[1]
    ws = Workspace.open(app.config["WORKSPACE"])
    before = load_plan(ws, original)
    stops = before.stops[before.stops["kind"] == "hotspot"]
    forbid = str(stops["hotspot_id"].iloc[0])
    lock = next(h for h in before.hotspots["id"] if h != forbid)
    token = _csrf(client, f"/plans/{original}")
    response = client.post(
        f"/plans/{original}/adjust",
        data={"csrf_token": token, "locks": f"car-2:{lock}@01:30", "forbidden": forbid},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    job_url = response.headers["Location"]
    app.extensions["gisapp_jobs"].wait(job_url.rsplit("/", 1)[1], timeout_s=120)
    done = client.get(job_url)
    assert done.status_code == 302, done.get_data(as_text=True)
    new_id = done.headers["Location"].rsplit("/", 1)[1]
    assert new_id.startswith(original + "-o") and original in _plan_ids(app)

    # saved with the plan, shown again on its page, and kept by its timetable
    page = client.get(f"/plans/{new_id}").get_data(as_text=True)
    assert f"car-2:{lock}@01:30" in page and f'value="{forbid}"' in page
    after = load_plan(Workspace.open(app.config["WORKSPACE"]), new_id)
    assert after.kpis["overrides"]["forbidden"] == [forbid]
    hotspot_stops = after.stops[after.stops["kind"] == "hotspot"]
    assert forbid not in set(hotspot_stops["hotspot_id"])
    locked = hotspot_stops[
        (hotspot_stops["unit_id"] == "car-2") & (hotspot_stops["hotspot_id"] == lock)
    ]
    arrive = pd.to_datetime(locked["arrive"])
    assert ((arrive.dt.hour * 60 + arrive.dt.minute - 90).abs() <= 15).any()
    for _, unit in after.stops.groupby("unit_id"):
        unit = unit.sort_values("seq")
        assert (pd.to_datetime(unit["depart"]) >= pd.to_datetime(unit["arrive"])).all()


def test_an_adjustment_naming_an_unknown_hotspot_is_refused(
    app: Flask, client: FlaskClient, login: Login
) -> None:
    login("captain")
    token = _csrf(client, f"/plans/{SAVED[1]}")
    response = client.post(
        f"/plans/{SAVED[1]}/adjust", data={"csrf_token": token, "forbidden": "hs-999"}
    )
    if response.status_code == 302:
        job_url = response.headers["Location"]
        app.extensions["gisapp_jobs"].wait(job_url.rsplit("/", 1)[1], timeout_s=120)
        response = client.get(job_url)
    assert response.status_code == 422
    assert "hs-999" in response.get_data(as_text=True)
    assert _plan_ids(app) == list(reversed(SAVED))


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM_PATH.exists(), reason=f"{CHROMIUM_PATH} is not installed")
def test_captain_locks_and_forbids_a_stop_in_chromium(
    app: Flask, live_server: str, chromium: Any
) -> None:
    # the night shift from the form with its defaults, then a lock and a forbidden hotspot
    # on the plan's page: the adjusted plan is saved with them and keeps them
    page = chromium.page
    page.goto(f"{live_server}/plans/new?shift=night")
    chromium.login(live_server, "captain")
    page.wait_for_url(f"{live_server}/plans/new?shift=night")
    page.fill("input[name=date]", "2014-09-18")
    page.click("#plan-form button[type=submit]")
    page.wait_for_url(f"{live_server}/plans/2014-09-18-night-s0", timeout=120_000)
    ws = Workspace.open(app.config["WORKSPACE"])
    first = load_plan(ws, "2014-09-18-night-s0")
    stops = first.stops[first.stops["kind"] == "hotspot"]
    forbid = str(stops["hotspot_id"].iloc[0])
    lock = next(h for h in first.hotspots["id"] if h != forbid)
    page.fill("#adjust-form textarea[name=locks]", f"car-1:{lock}@02:00")
    page.fill("#adjust-form input[name=forbidden]", forbid)
    page.click("#adjust-form button[type=submit]")
    page.wait_for_url(f"{live_server}/plans/2014-09-18-night-s0-o*", timeout=120_000)
    new_id = page.url.rsplit("/", 1)[1]
    page.reload()  # the overrides come back from the saved plan
    assert page.input_value("#adjust-form textarea[name=locks]").strip() == f"car-1:{lock}@02:00"
    assert page.input_value("#adjust-form input[name=forbidden]") == forbid
    after = load_plan(Workspace.open(app.config["WORKSPACE"]), new_id)
    hotspot_stops = after.stops[after.stops["kind"] == "hotspot"]
    assert forbid not in set(hotspot_stops["hotspot_id"])
    mine = hotspot_stops[
        (hotspot_stops["unit_id"] == "car-1") & (hotspot_stops["hotspot_id"] == lock)
    ]
    arrive = pd.to_datetime(mine["arrive"])
    assert ((arrive.dt.hour * 60 + arrive.dt.minute - 120).abs() <= 15).any()
    for _, unit in after.stops.groupby("unit_id"):  # one chain: arrive <= depart, in order
        unit = unit.sort_values("seq")
        arrive_s = pd.to_datetime(unit["arrive"]).to_numpy()
        depart_s = pd.to_datetime(unit["depart"]).to_numpy()
        assert (depart_s >= arrive_s).all() and (arrive_s[1:] >= depart_s[:-1]).all()


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM_PATH.exists(), reason=f"{CHROMIUM_PATH} is not installed")
def test_captain_drags_a_units_stops_into_a_new_order_in_chromium(
    app: Flask, live_server: str, chromium: Any
) -> None:
    page = chromium.page
    page.goto(f"{live_server}/plans/{SAVED[1]}")
    chromium.login(live_server, "captain")
    page.wait_for_url(f"{live_server}/plans/{SAVED[1]}")
    items = page.locator('ol.stop-order[data-unit="car-2"] li')
    before = items.evaluate_all("lis => lis.map(li => li.dataset.hotspot)")
    page.click('details.stop-order:has(ol[data-unit="car-2"]) summary')
    items.nth(1).drag_to(items.nth(0))
    after = items.evaluate_all("lis => lis.map(li => li.dataset.hotspot)")
    assert after == [before[1], before[0], *before[2:]]
    assert page.input_value("#adjust-form textarea[name=orders]") == f"car-2:{','.join(after)}"
    page.click("#adjust-form button[type=submit]")
    page.wait_for_url(f"{live_server}/plans/{SAVED[1]}-o*", timeout=120_000)
    saved = load_plan(Workspace.open(app.config["WORKSPACE"]), page.url.rsplit("/", 1)[1])
    car2 = saved.stops[(saved.stops["unit_id"] == "car-2") & (saved.stops["kind"] == "hotspot")]
    timed = list(car2.sort_values("seq")["hotspot_id"])
    assert timed == after[: len(timed)] and len(timed) >= len(after) - 3  # the order, timed
