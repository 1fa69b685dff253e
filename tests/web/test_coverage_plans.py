"""The coverage page with a saved plan: the plan select, the table per hour of the shift
and the map's hour slider; captains and admins only."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

Login = Callable[[str], None]
#: The late plan (22:00-06:00) of two cars, saved first.
LATE = "2014-09-18-late-s1"
NIGHT = "2014-09-18-night-s2"


@pytest.fixture
def app(plans_app: Flask) -> Flask:
    return plans_app


def _text(response: TestResponse) -> str:
    text: str = response.get_data(as_text=True)
    response.close()
    return text


def test_plan_select_lists_the_saved_plans_and_defaults_to_none(
    client: FlaskClient, login: Login
) -> None:
    login("captain")
    page = _text(client.get("/coverage/"))
    select = re.search(r'<select name="plan" id="plan">(.*?)</select>', page, re.S)
    assert select
    values = re.findall(r'<option value="([^"]*)"', select.group(1))
    assert values == ["", NIGHT, LATE]  # none first, then newest first
    assert re.search(r'<option value="" selected>', select.group(1))
    assert 'id="hourly"' not in page
    assert 'src="/coverage/map.html?mode=car"' in page


def test_a_plan_gives_one_row_per_shift_hour_and_a_slider_map(
    client: FlaskClient, login: Login
) -> None:
    login("captain")
    page = _text(client.get(f"/coverage/?mode=car&plan={LATE}"))
    assert re.search(rf'<option value="{LATE}" selected>', page)
    table = re.search(r'<table class="data" id="hourly">(.*?)</table>', page, re.S)
    assert table
    hours = re.findall(r'<tr data-hour="(\d\d:\d\d)">', table.group(1))
    assert hours == ["22:00", "23:00", "00:00", "01:00", "02:00", "03:00", "04:00", "05:00"]
    shares = [int(v) for v in re.findall(r'<td class="num">(\d+)%</td>', table.group(1))]
    assert shares and all(0 <= v <= 100 for v in shares)
    assert f'src="/coverage/map.html?mode=car&amp;plan={LATE}"' in page
    assert 'id="bands"' in page  # the stations' own figures stay

    response = client.get(f"/coverage/map.html?mode=car&plan={LATE}")
    assert response.status_code == 200
    html = _text(response)
    groups = re.search(r"var groups = \[([^\]]*)\];", html)
    assert groups
    names = [n.strip() for n in groups.group(1).split(",")]
    assert len(names) == len(hours) and all(n.startswith("feature_group_") for n in names)
    assert "input.type = 'range'" in html and "gisappSlider" in html
    assert html.count('"id": "reach-') == len(hours)  # one reach layer per hour
    assert not re.findall(r'<(?:script|link)[^>]+(?:src|href)="(?:https?:)?//', html)


def test_unknown_plan_is_404_naming_the_saved_plans(client: FlaskClient, login: Login) -> None:
    login("captain")
    for path in ("/coverage/?plan=2099-01-01-day-s0", "/coverage/map.html?plan=<b>x</b>"):
        response = client.get(path)
        text = _text(response)
        assert response.status_code == 404
        assert LATE in text and "<b>x</b>" not in text and "Traceback" not in text


@pytest.mark.parametrize(
    "path",
    [
        "/coverage/",
        f"/coverage/?plan={LATE}",
        f"/coverage/map.html?plan={LATE}",
        f"/coverage/map.html?plan={LATE}&unit=car-2",
    ],
)
def test_coverage_stays_403_for_officers(client: FlaskClient, login: Login, path: str) -> None:
    login("car1")
    response = client.get(path)
    assert response.status_code == 403
    text = _text(response)
    assert "car-2" not in text and 'id="hourly"' not in text
