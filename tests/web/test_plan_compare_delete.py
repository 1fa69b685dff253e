"""Saved plans compared side by side, deleted by a captain after a confirm step, listed on
the Exports page with their downloads; the grid page's unit filter offers only real units."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gisapp.errors import WorkspaceError
from gisapp.store import Workspace
from gisapp.store.plans import delete_plan, list_plans, load_plan, save_plan
from gisapp.views.plans import plan_comparison
from tests.web.conftest import SAVED_PLANS

LATE, NIGHT = SAVED_PLANS[("late", 1)], SAVED_PLANS[("night", 2)]
CsrfFrom = Callable[[FlaskClient, str], str]
Login = Callable[[str], None]


@pytest.fixture
def app(plans_app: Flask) -> Flask:
    return plans_app


def _text(client: FlaskClient, path: str) -> tuple[int, str]:
    response = client.get(path)
    return response.status_code, html.unescape(response.get_data(as_text=True))


def _plan_ids(app: Flask) -> list[str]:
    return list(list_plans(Workspace.open(app.config["WORKSPACE"]))["plan_id"])


# -- the store ----------------------------------------------------------------------------------


def test_delete_plan_removes_its_rows_and_keeps_the_other(app: Flask) -> None:
    ws = Workspace.open(app.config["WORKSPACE"])
    kept = load_plan(ws, NIGHT)
    delete_plan(ws, LATE)
    again = Workspace.open(app.config["WORKSPACE"])
    assert list(list_plans(again)["plan_id"]) == [NIGHT]
    for name in ("plan_routes", "plan_stops", "plan_hotspots"):
        assert set(again.layer(name)["plan_id"]) == {NIGHT}, name
    assert len(load_plan(again, NIGHT).stops) == len(kept.stops)
    with pytest.raises(WorkspaceError, match=f"has no plan 'nope'; its plans are {NIGHT}"):
        delete_plan(again, "nope")
    # a plan saved again after a delete comes back whole
    assert save_plan(kept, again) == NIGHT
    assert len(load_plan(Workspace.open(app.config["WORKSPACE"]), NIGHT).stops) == len(kept.stops)


def test_plan_comparison_differences(app: Flask) -> None:
    ws = Workspace.open(app.config["WORKSPACE"])
    late, night = load_plan(ws, LATE), load_plan(ws, NIGHT)
    rows = {row.label: row for row in plan_comparison(late, night)}
    dosage = rows["Dosage (risk-weighted)"]
    expected = night.kpis["objective"] - late.kpis["objective"]
    assert dosage.difference == f"{expected:+.2f}"
    assert dosage.first == f"{late.kpis['objective']:.2f}"
    same = plan_comparison(late, late)
    assert [r.difference for r in same if r.difference] == [
        r.difference for r in same if r.difference and r.difference.strip("0.%") == ""
    ]
    assert all(not r.difference.startswith(("+", "-")) for r in same)
    assert len([r for r in same if r.difference]) >= 8


# -- the pages ----------------------------------------------------------------------------------


def test_compare_page_shows_both_maps_and_figures(client: FlaskClient, login: Login) -> None:
    login("captain")
    status, page = _text(client, f"/plans/compare?a={LATE}&b={NIGHT}")
    assert status == 200
    assert f'src="/plans/{LATE}/map.html"' in page and f'src="/plans/{NIGHT}/map.html"' in page
    assert 'src="/static/plan-compare.js"' in page and "<script>" not in page
    assert "B − A" in page and "Dosage (risk-weighted)" in page
    status, page = _text(client, "/plans/compare")  # the two newest by default
    assert status == 200 and f'<option value="{NIGHT}" selected>' in page
    status, page = _text(client, f"/plans/compare?b={LATE}")  # from the plan's page
    assert f'src="/plans/{NIGHT}/map.html"' in page and f'src="/plans/{LATE}/map.html"' in page


def test_compare_with_a_bad_plan_is_a_friendly_page(client: FlaskClient, login: Login) -> None:
    login("captain")
    status, page = _text(client, f"/plans/compare?a=<b>x</b>&b={NIGHT}")
    assert status == 404
    assert "No saved plan '<b>x</b>'; choose two plans from the lists" in page
    assert '<select name="a">' in page and "<iframe" not in page and "Traceback" not in page
    assert "<b>x</b>" not in client.get("/plans/compare?a=<b>x</b>").get_data(as_text=True)


def test_officer_cannot_compare_or_delete(client: FlaskClient, login: Login) -> None:
    login("car1")
    assert client.get("/plans/compare").status_code == 403
    assert client.get(f"/plans/{LATE}/delete").status_code == 403
    assert client.post(f"/plans/{LATE}/delete").status_code in (400, 403)


def test_captain_deletes_a_plan_after_confirming(
    app: Flask, client: FlaskClient, login: Login, csrf_from: CsrfFrom
) -> None:
    login("captain")
    status, page = _text(client, f"/plans/{LATE}")
    assert f'href="/plans/{LATE}/delete"' in page
    status, page = _text(client, f"/plans/{LATE}/delete")
    assert status == 200 and "This cannot be undone" in page
    assert client.post(f"/plans/{LATE}/delete").status_code == 400  # no CSRF token
    assert _plan_ids(app) == [NIGHT, LATE]
    token = csrf_from(client, f"/plans/{LATE}/delete")
    response = client.post(f"/plans/{LATE}/delete", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/plans/"
    assert _plan_ids(app) == [NIGHT]
    status, page = _text(client, "/plans/")
    assert f"Plan {LATE} was deleted." in page and f'href="/plans/{LATE}"' not in page
    assert client.get(f"/plans/{LATE}").status_code == 404
    token = csrf_from(client, "/plans/")
    missing = client.post(f"/plans/{LATE}/delete", data={"csrf_token": token})
    assert missing.status_code == 404 and NIGHT in missing.get_data(as_text=True)


def test_plan_view_offers_its_units_in_a_select(client: FlaskClient, login: Login) -> None:
    login("captain")
    _, page = _text(client, f"/plans/{LATE}")
    assert re.search(r'<select name="unit">\s*<option value="" selected>all units</option>', page)
    assert '<option value="car-1" >car-1</option>' in page
    assert page.count('<details class="timetable"') == 2
    assert page.count('<details class="timetable" open>') == 1


def test_exports_page_lists_saved_plans_with_downloads(
    app: Flask, client: FlaskClient, login: Login
) -> None:
    login("captain")
    status, page = _text(client, "/exports/")
    assert status == 200 and "once plans are saved" not in page
    for plan_id in (LATE, NIGHT):
        assert f'<tr data-plan="{plan_id}">' in page
        for unit in ("car-1", "car-2"):
            assert f'href="/plans/{plan_id}/download/gpx?unit={unit}"' in page
        assert f'href="/plans/{plan_id}/download/geojson"' in page
        assert f'href="/plans/{plan_id}/download/html"' in page
    assert client.get(f"/plans/{LATE}/download/gpx?unit=car-2").status_code == 200
    login("car1")  # an officer: his unit's files only
    status, page = _text(client, "/exports/")
    assert f'href="/plans/{LATE}/download/gpx?unit=car-1"' in page
    assert "unit=car-2" not in page
    ws = Workspace.open(app.config["WORKSPACE"])
    for plan_id in (LATE, NIGHT):
        delete_plan(ws, plan_id)
    login("captain")
    status, page = _text(client, "/exports/")
    assert "once plans are saved" in page and "plan-exports" not in page


def test_grid_unit_filter_is_a_select_and_a_bad_unit_is_explained(
    client: FlaskClient, login: Login
) -> None:
    login("captain")
    status, page = _text(client, "/maps/grids")
    assert status == 200 and '<select name="unit">' in page and '<input name="unit"' not in page
    units = re.findall(r'<option value="([^"]+)" >', page.split('name="color_by"')[0])
    assert units and units == sorted(units)
    status, page = _text(client, "/maps/grids?unit=<i>nobody</i>")
    assert status == 200
    assert "No grids belong to unit '<i>nobody</i>'; choose a unit from the list." in page
    assert "<iframe" not in page
    status, page = _text(client, f"/maps/grids?unit={units[0]}&color_by=nonsense")
    assert "Colour by 'nonsense' is not offered" in page
