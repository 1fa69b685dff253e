"""The Categories page: captains see and edit what weighs each incident category; on both
stores (``backend``)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gisapp.services.analytics import load_incidents
from gisapp.store import Workspace, open_workspace
from tests.gisapp.test_categories_edit import chinese_workspace
from tests.web.conftest import HOSTILE
from web import create_app

Login = Callable[[str], None]


@pytest.fixture
def cn_app(location: str, users_template: Path, tmp_path: Path) -> Flask:
    ws = chinese_workspace(location)  # type: ignore[arg-type]  # a path or a database URL
    users = tmp_path / "users.sqlite"
    shutil.copyfile(users_template, users)
    return create_app(
        {"TESTING": True, "SECRET_KEY": "test", "WORKSPACE": str(ws.location),
         "USERS_DB": str(users)}
    )  # fmt: skip


@pytest.fixture
def client(cn_app: Flask) -> FlaskClient:
    return cn_app.test_client()


def _page(client: FlaskClient) -> str:
    response = client.get("/categories/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _rows(page: str) -> list[tuple[str, str]]:
    """(category, incidents) of every listed row, in order."""
    return re.findall(
        r'<tr class="[^"]*">\s*<td>([^<]+)(?:<input type="hidden"[^>]*>)+</td>\s*'
        r'<td class="num">([\d,]+)</td>',
        page,
    )


def _form(page: str) -> dict[str, str]:
    """The fields of the edit form as a browser would send them unchanged."""
    form = page.split('id="categories-form"')[1].split("</form>")[0]
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
    fields.update(re.findall(r'<input name="(label-\d+)" value="([^"]*)"', form))
    for name, options in re.findall(r'<select name="([^"]+-\d+)"[^>]*>(.*?)</select>', form, re.S):
        fields[name] = re.findall(r'<option value="([^"]*)" selected>', options)[0]
    for name in re.findall(r'name="(preventable-\d+)" value="yes" checked', form):
        fields[name] = "yes"
    return fields


def _index(fields: dict[str, str], category: str) -> int:
    return next(int(k.split("-")[1]) for k, v in fields.items()
                if k.startswith("category-") and v == category)  # fmt: skip


def _workspace(app: Flask) -> Workspace:
    return open_workspace(app.config["WORKSPACE"])


def test_the_page_lists_chinese_categories_unknown_first(client: FlaskClient, login: Login) -> None:
    login("captain")
    page = _page(client)
    assert _rows(page) == [("其他", "2"), ("未登记", "1"), ("盗窃", "6"), ("抢劫", "4"),
                           ("诈骗", "3")]  # fmt: skip
    assert page.count('class="warning unknown"') == 2
    assert "2 unknown categories (3 incidents)" in page
    assert "bundled standard table: China" in page
    assert 'class="table-scroll"' in page
    assert 'href="/categories/"' in page.split("</nav>")[0]  # in the navigation bar


def test_an_edit_is_saved_and_changes_the_incidents_weights(
    cn_app: Flask, client: FlaskClient, login: Login
) -> None:
    login("captain")
    fields = _form(_page(client))
    fraud = _index(fields, "诈骗")
    assert fields[f"severity-{fraud}"] == "2" and f"preventable-{fraud}" not in fields
    before = _workspace(cn_app).version
    fields.update({f"severity-{fraud}": "4", f"preventable-{fraud}": "yes"})
    response = client.post("/categories/", data=fields)
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Saved: 1 category changed." in page
    ws = _workspace(cn_app)
    assert ws.version != before
    incidents, _ = load_incidents(ws)
    fraud_rows = incidents.loc[incidents["category"] == "诈骗"]
    assert len(fraud_rows) == 3
    assert fraud_rows["severity"].eq(4).all() and fraud_rows["preventable"].all()
    # The page, cached by workspace version, shows the saved values.
    saved = _form(page)
    fraud = _index(saved, "诈骗")
    assert saved[f"severity-{fraud}"] == "4" and saved[f"preventable-{fraud}"] == "yes"
    assert "the workspace&#39;s categories table" in page


def test_officers_get_403(client: FlaskClient, login: Login) -> None:
    login("officer1")
    assert client.get("/categories/").status_code == 403
    assert client.get("/categories/categories.csv").status_code == 403
    assert 'href="/categories/"' not in client.get("/maps/").get_data(as_text=True)


def test_a_bad_severity_is_explained_and_nothing_saved(
    cn_app: Flask, client: FlaskClient, login: Login
) -> None:
    login("captain")
    fields = _form(_page(client))
    fields[f"severity-{_index(fields, '抢劫')}"] = "9"
    before = _workspace(cn_app).version
    response = client.post("/categories/", data=fields)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Nothing was saved" in page
    assert "&#39;抢劫&#39;: severity &#39;9&#39; is not a whole number from 1 to 5" in page
    assert "Traceback" not in page and "save_category_table" not in page
    assert _workspace(cn_app).version == before
    assert not _workspace(cn_app).has_layer("categories")


def test_a_new_row_without_category_is_explained(
    cn_app: Flask, client: FlaskClient, login: Login
) -> None:
    login("captain")
    fields = _form(_page(client)) | {"label-new": "Street crime", "severity-new": "3"}
    response = client.post("/categories/", data=fields)
    assert response.status_code == 400
    assert "a row has an empty category" in response.get_data(as_text=True)
    assert not _workspace(cn_app).has_layer("categories")


def test_a_post_without_csrf_token_is_refused(
    cn_app: Flask, client: FlaskClient, login: Login
) -> None:
    login("captain")
    fields = _form(_page(client))
    del fields["csrf_token"]
    fields[f"severity-{_index(fields, '诈骗')}"] = "5"
    assert client.post("/categories/", data=fields).status_code == 400
    assert client.post("/categories/bundled", data={"table": "china"}).status_code == 400
    assert not _workspace(cn_app).has_layer("categories")


def test_a_hostile_label_is_escaped(cn_app: Flask, client: FlaskClient, login: Login) -> None:
    login("captain")
    fields = _form(_page(client))
    fields[f"label-{_index(fields, '其他')}"] = HOSTILE
    assert client.post("/categories/", data=fields).status_code == 302
    page = _page(client)
    assert HOSTILE not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    labels = _workspace(cn_app).layer("categories").set_index("category")["label"]
    assert labels["其他"] == HOSTILE


def test_start_from_a_bundled_table_and_download(
    cn_app: Flask, client: FlaskClient, login: Login, csrf_from: Callable[[FlaskClient, str], str]
) -> None:
    login("captain")
    token = csrf_from(client, "/categories/")
    response = client.post("/categories/bundled", data={"table": "china", "csrf_token": token})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "3 categories of the incidents copied from the China" in page
    assert _workspace(cn_app).layer_notes["categories"] == "started from the bundled china table"
    bad = client.post("/categories/bundled", data={"table": "mars", "csrf_token": token})
    assert bad.status_code == 400 and "no bundled table" in bad.get_data(as_text=True)

    download = client.get("/categories/categories.csv")
    assert download.status_code == 200
    assert download.mimetype == "text/csv"
    assert 'filename="categories.csv"' in download.headers["Content-Disposition"]
    body = download.get_data()
    assert body.startswith(b"\xef\xbb\xbfcategory,group,label,severity,preventable\n")
    assert "诈骗,fraud,Fraud (诈骗),2,False" in body.decode("utf-8-sig")


def test_a_stale_form_keeps_another_captains_save(
    cn_app: Flask, client: FlaskClient, login: Login
) -> None:
    login("captain")
    stale = _form(_page(client))
    first = dict(stale)
    first[f"severity-{_index(first, '诈骗')}"] = "4"
    assert client.post("/categories/", data=first).status_code == 302
    # The second form was shown before that save: it changes 抢劫 only.
    stale[f"severity-{_index(stale, '抢劫')}"] = "3"
    assert client.post("/categories/", data=stale).status_code == 302
    table = _workspace(cn_app).layer("categories").set_index("category")["severity"]
    assert table.astype(int).to_dict() == {"抢劫": 3, "盗窃": 2, "诈骗": 4}


def test_a_refused_form_shows_what_was_typed(client: FlaskClient, login: Login) -> None:
    login("captain")
    fields = _form(_page(client))
    fraud = _index(fields, "诈骗")
    fields.update({f"label-{fraud}": "Telecom fraud", f"severity-{fraud}": "7"})
    page = client.post("/categories/", data=fields).get_data(as_text=True)
    again = _form(page)
    assert again[f"label-{fraud}"] == "Telecom fraud"
    assert again[f"was-label-{fraud}"] == "Fraud (诈骗)"  # still the value first shown
