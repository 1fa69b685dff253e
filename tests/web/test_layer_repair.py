"""The layers page: overlapping grids previewed, then imported with the repair or dropped;
the layer list without internal tables; deleting a layer. On both stores (``backend``)."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from gisapp.store import Workspace
from tests.web.conftest import workspace_state

Login = Callable[[str], None]
CsrfFrom = Callable[[FlaskClient, str], str]


def _text(response: TestResponse) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def repair_app(app: Flask, fresh_workspace: str, tmp_path: Path) -> Flask:
    """The app over a private copy of the workspace, with its own pending-upload folder."""
    app.config["WORKSPACE"] = fresh_workspace
    app.config["PENDING_UPLOADS_DIR"] = str(tmp_path / "pending")
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    return app


def _overlapping_grids(ws_path: str, *, grow_deg: float = 0.001) -> bytes:
    """The workspace's grids with G1 drawn ``grow_deg`` into its sibling G2 (GeoJSON)."""
    grids = Workspace.open(ws_path).spatial_layer("grids")
    minx, miny, maxx, maxy = grids.geometry.iloc[0].bounds
    grids.loc[grids["id"] == "G1", "geometry"] = shapely.box(minx, miny, maxx + grow_deg, maxy)
    return str(grids.to_json()).encode()


def _upload(client: FlaskClient, token: str, content: bytes) -> TestResponse:
    data = {"csrf_token": token, "layer": "grids", "file": (io.BytesIO(content), "网格.geojson")}
    return client.post("/admin/layers/", data=data, content_type="multipart/form-data")


@pytest.fixture
def previewed(
    repair_app: Flask, client: FlaskClient, login: Login, csrf_from: CsrfFrom
) -> tuple[str, str]:
    """Upload overlapping grids as admin; return the preview URL and the CSRF token."""
    login("admin")
    token = csrf_from(client, "/admin/layers/")
    response = _upload(client, token, _overlapping_grids(repair_app.config["WORKSPACE"]))
    assert response.status_code == 303, _text(response)
    location = response.headers["Location"]
    assert re.fullmatch(r"/admin/layers/preview/[A-Za-z0-9_-]{32}", location)
    return location, token


def _overlap(ws_path: str, a: str, b: str) -> float:
    grids = Workspace.open(ws_path).spatial_layer("grids")
    metric = grids.to_crs(grids.estimate_utm_crs()).set_index("id").geometry
    return float(metric.loc[a].intersection(metric.loc[b]).area)


def test_upload_with_overlaps_shows_the_repair_preview(
    repair_app: Flask, client: FlaskClient, previewed: tuple[str, str]
) -> None:
    ws_path = repair_app.config["WORKSPACE"]
    before = workspace_state(ws_path)
    location, _ = previewed
    page = _text(client.get(location))
    table = re.search(r'<table class="data overlaps".*?</table>', page, re.S)
    assert table, page
    [row] = re.findall(r"<tr><td>(.*?)</td></tr>", table.group(0), re.S)
    cells = row.split("</td><td")
    assert cells[0] == "grids" and cells[1].endswith("G1") and cells[2].endswith("G2")
    assert cells[4].endswith("7.5%") and cells[5].endswith("G2")
    assert "nearest" in page and "Accept the repair" in page and "Cancel" in page
    assert page.count('name="csrf_token"') >= 3  # log out, accept, cancel
    assert "网格.geojson" in page and "pending" not in page  # no server path
    map_page = client.get(f"{location}/map.html")
    assert map_page.status_code == 200
    csp = map_page.headers["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)  # type: ignore[union-attr]
    assert f'<script nonce="{nonce}"' in _text(map_page)
    assert "Overlap given to" in _text(map_page) and "/static/vendor/leaflet" in _text(map_page)
    # nothing is saved before the captain decides; the upload waits in its own folder
    assert workspace_state(ws_path) == before
    assert len(list((Path(repair_app.config["PENDING_UPLOADS_DIR"])).iterdir())) == 1


def test_accept_imports_the_repaired_grids_and_deletes_the_upload(
    repair_app: Flask, client: FlaskClient, previewed: tuple[str, str]
) -> None:
    ws_path = repair_app.config["WORKSPACE"]
    location, token = previewed
    response = client.post(f"{location}/accept", data={"csrf_token": token})
    page = _text(response)
    assert response.status_code == 200, page
    assert "Imported: grids 6." in page and "given to G2; taken out of G1" in page
    assert _overlap(ws_path, "G1", "G2") <= 1.0
    assert Workspace.open(ws_path).layer_notes["grids"] == "uploaded from 网格.geojson"
    assert not list(Path(repair_app.config["PENDING_UPLOADS_DIR"]).iterdir())
    # used once: the same token is gone
    again = client.post(f"{location}/accept", data={"csrf_token": token})
    assert again.status_code == 404 and "Upload the file again" in _text(again)


def test_cancel_leaves_the_workspace_unchanged(
    repair_app: Flask, client: FlaskClient, previewed: tuple[str, str]
) -> None:
    ws_path = repair_app.config["WORKSPACE"]
    before = workspace_state(ws_path)
    location, token = previewed
    response = client.post(f"{location}/cancel", data={"csrf_token": token})
    assert response.status_code == 303
    page = _text(client.get(response.headers["Location"]))
    assert "cancelled; the workspace is unchanged" in page
    assert workspace_state(ws_path) == before
    assert not list(Path(repair_app.config["PENDING_UPLOADS_DIR"]).iterdir())
    assert client.get(location).status_code == 404


def test_preview_needs_its_session_and_a_csrf_token(
    repair_app: Flask, client: FlaskClient, previewed: tuple[str, str], csrf_from: CsrfFrom
) -> None:
    location, _ = previewed
    assert client.post(f"{location}/accept").status_code == 400
    other = repair_app.test_client()
    token = csrf_from(other, "/auth/login")
    other.post("/auth/login", data={"username": "admin", "password": "correct horse battery",
                                    "csrf_token": token})  # fmt: skip
    other_token = csrf_from(other, "/admin/layers/")
    # the same user in another session does not get this upload
    assert other.get(location).status_code == 404
    assert other.post(f"{location}/accept", data={"csrf_token": other_token}).status_code == 404
    assert client.get(location).status_code == 200


def test_expired_preview_is_deleted(
    repair_app: Flask, client: FlaskClient, login: Login, csrf_from: CsrfFrom
) -> None:
    repair_app.config["PENDING_UPLOAD_TTL_S"] = -1.0  # expired as soon as it is made
    login("admin")
    token = csrf_from(client, "/admin/layers/")
    response = _upload(client, token, _overlapping_grids(repair_app.config["WORKSPACE"]))
    location = response.headers["Location"]
    assert client.get(location).status_code == 404
    assert not list(Path(repair_app.config["PENDING_UPLOADS_DIR"]).iterdir())


def test_duplicate_grid_is_refused_with_what_to_change(
    repair_app: Flask, client: FlaskClient, login: Login, csrf_from: CsrfFrom
) -> None:
    ws_path = repair_app.config["WORKSPACE"]
    before = workspace_state(ws_path)
    login("admin")
    token = csrf_from(client, "/admin/layers/")
    grids = _overlapping_grids(ws_path, grow_deg=0.012)  # G1 covers 90 % of G2
    response = _upload(client, token, grids)
    page = _text(response)
    assert response.status_code == 422
    assert "remove one of the two" in page and "Traceback" not in page
    assert workspace_state(ws_path) == before
    assert not list(Path(repair_app.config["PENDING_UPLOADS_DIR"]).iterdir())


def test_layer_list_hides_internal_tables(
    repair_app: Flask, client: FlaskClient, login: Login
) -> None:
    ws_path = repair_app.config["WORKSPACE"]
    plan_index = pd.DataFrame({"plan_id": ["p1"], "shift": ["late"]})
    Workspace.open(ws_path).save({"plan_index": plan_index})
    assert "plan_index" in Workspace.open(ws_path).layer_names()
    login("admin")
    page = _text(client.get("/admin/layers/"))
    listed = re.findall(r"<tr><td>(\w+)</td><td class=\"num\">", page)
    assert listed == ["grids", "incidents", "roads", "units"]
    assert "plan_index" not in page and "gisapp_meta" not in page
    assert 'href="/admin/layers/roads/delete"' in page


@pytest.mark.parametrize("user", ["officer1", "captain"])
def test_only_an_admin_can_delete_a_layer(
    repair_app: Flask, client: FlaskClient, login: Login, csrf_from: CsrfFrom, user: str
) -> None:
    ws_path = repair_app.config["WORKSPACE"]
    before = workspace_state(ws_path)
    login(user)
    token = csrf_from(client, "/maps/")
    response = client.post("/admin/layers/roads/delete", data={"csrf_token": token})
    assert response.status_code == 403
    assert workspace_state(ws_path) == before


def test_delete_asks_then_removes_the_layer(
    repair_app: Flask, client: FlaskClient, login: Login, csrf_from: CsrfFrom
) -> None:
    ws_path = repair_app.config["WORKSPACE"]
    login("admin")
    confirm = _text(client.get("/admin/layers/roads/delete"))
    assert "This cannot be undone" in confirm
    token = csrf_from(client, "/admin/layers/roads/delete")
    assert client.post("/admin/layers/roads/delete").status_code == 400  # no token
    assert Workspace.open(ws_path).has_layer("roads")
    response = client.post("/admin/layers/roads/delete", data={"csrf_token": token})
    assert response.status_code == 303
    assert "Layer roads was deleted." in _text(client.get(response.headers["Location"]))
    ws = Workspace.open(ws_path)
    assert not ws.has_layer("roads") and "roads" not in ws.layer_notes
    assert ws.has_layer("grids") and len(ws.layer("incidents"))
    assert client.get("/admin/layers/roads/delete").status_code == 404


def test_deleting_a_referenced_layer_says_what_refers_to_it(
    repair_app: Flask, client: FlaskClient, login: Login, csrf_from: CsrfFrom
) -> None:
    ws_path = repair_app.config["WORKSPACE"]
    before = workspace_state(ws_path)
    login("admin")
    token = csrf_from(client, "/maps/")
    response = client.post("/admin/layers/grids/delete", data={"csrf_token": token})
    page = _text(response)
    assert response.status_code == 409
    assert "still in use" in page and "3 feature(s) of units name it in grid_ids" in page
    assert workspace_state(ws_path) == before
    assert isinstance(Workspace.open(ws_path).layer("grids"), gpd.GeoDataFrame)


_MAP_DRAWN_JS = """() => {
  if (!window.L) return false;
  const map = Object.values(window).find(v => v instanceof L.Map);
  if (!map) return false;
  let drawn = 0;
  map.eachLayer(l => { if (l._parts && l._parts.length) drawn += 1; });
  return drawn > 0;
}"""


@pytest.mark.browser
def test_preview_map_draws_and_accept_imports_in_chromium(
    repair_app: Flask, live_server: str, chromium: Any, tmp_path: Path
) -> None:
    upload = tmp_path / "网格.geojson"
    upload.write_bytes(_overlapping_grids(repair_app.config["WORKSPACE"]))
    page = chromium.page
    chromium.login(live_server, "admin")
    page.wait_for_url(f"{live_server}/maps/")
    page.goto(f"{live_server}/admin/layers/")
    page.set_input_files("input[name=file]", str(upload))
    page.select_option("select[name=layer]", "grids")
    page.click("text=Validate and import")
    page.wait_for_url(re.compile(r".*/admin/layers/preview/[A-Za-z0-9_-]{32}$"))
    frame = page.wait_for_selector('iframe[title="Overlap repair map"]').content_frame()
    assert frame is not None
    frame.wait_for_function(_MAP_DRAWN_JS)
    page.click("text=Accept the repair and import")
    page.wait_for_selector("text=Imported: grids 6.")
    assert chromium.console_errors == [] and chromium.blocked == []
    assert _overlap(repair_app.config["WORKSPACE"], "G1", "G2") <= 1.0


def test_a_geoparquet_upload_is_imported(
    repair_app: Flask, client: FlaskClient, login: Login, csrf_from: CsrfFrom, tmp_path: Path
) -> None:
    ws_path = repair_app.config["WORKSPACE"]
    centres = Workspace.open(ws_path).spatial_layer("grids").geometry.representative_point()
    moved = gpd.GeoDataFrame(
        {"id": ["S1", "S2"], "name": ["派出所 1", "派出所 2"], "kind": ["station", "station"]},
        geometry=list(centres.iloc[:2]),
        crs=4326,
    )
    buffer = io.BytesIO()
    moved.to_parquet(buffer)
    login("admin")
    token = csrf_from(client, "/admin/layers/")
    data = {
        "csrf_token": token,
        "layer": "stations",
        "file": (io.BytesIO(buffer.getvalue()), "stations.parquet"),
    }
    response = client.post("/admin/layers/", data=data, content_type="multipart/form-data")
    assert response.status_code in (200, 303), _text(response)
    stored = Workspace.open(ws_path).spatial_layer("stations")
    assert sorted(stored["name"]) == sorted(moved["name"])
