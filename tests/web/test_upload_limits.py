"""Uploads refused by what they unpack to: 413 or 422, a small page, the workspace unchanged;
on both stores (``backend``)."""

from __future__ import annotations

import io
import re
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from gisapp.settings import Settings
from tests.web.conftest import workspace_state
from web import create_app

Login = Callable[[str], None]
CsrfFrom = Callable[[FlaskClient, str], str]
Post = Callable[..., tuple[int, str]]

#: Low limits so that every bomb stays small and the tests fast.
SETTINGS = Settings(
    import_max_unpacked_mb=4,
    import_max_files=10,
    import_max_ratio=50,
    import_max_features=2_000,
    import_max_vertices=3_000,
)
#: Largest page a refused upload may answer with.
MAX_PAGE_BYTES = 20_000


@pytest.fixture
def app(fresh_workspace: str, users_template: Path, tmp_path: Path) -> Flask:
    """The app over a private copy of the workspace, with low import limits."""
    users = tmp_path / "users.sqlite"
    shutil.copyfile(users_template, users)
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test",
            "WORKSPACE": fresh_workspace,
            "USERS_DB": str(users),
            "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
            "SETTINGS": SETTINGS,
        }
    )


@pytest.fixture
def post(app: Flask, client: FlaskClient, login: Login, csrf_from: CsrfFrom) -> Post:
    """POST a file to the layers page as admin; return the status and the page."""
    login("admin")
    token = csrf_from(client, "/admin/layers/")

    def send(content: bytes, filename: str, **fields: str) -> tuple[int, str]:
        data = {"csrf_token": token, "file": (io.BytesIO(content), filename), **fields}
        response = client.post("/admin/layers/", data=data, content_type="multipart/form-data")
        return response.status_code, response.get_data(as_text=True)

    return send


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _points_geojson(n: int, *, same_id: bool = False) -> bytes:
    rng = np.random.default_rng(11)
    xy = rng.uniform([-72.94, 41.30], [-72.91, 41.32], size=(n, 2))
    ids = ["A1"] * n if same_id else [f"A{i}" for i in range(n)]
    frame = gpd.GeoDataFrame(
        {"id": ids, "occurred_at": "2014-09-18 13:53", "category": "theft"},
        geometry=shapely.points(xy),
        crs=4326,
    )
    return frame.to_json().encode()


def _problem_messages(page: str) -> list[str]:
    return re.findall(r'<tr class="error">(?:<td>.*?</td>){3}<td>(.*?)</td>', page)


@pytest.mark.parametrize(
    ("content", "filename", "status", "expected"),
    [
        (_zip({"grids.shp": bytes(6 * 1024 * 1024)}), "grids.zip", 413, "unpacks to 6.0 MB"),
        (
            _zip({"grids.shp": bytes(3 * 1024 * 1024), "grids.shx": b"x"}),
            "grids.zip",
            422,
            "times its packed size",
        ),
        (_zip({f"f{i}.shp": b"x" for i in range(11)}), "grids.zip", 413, "holds 11 files"),
        (_zip({"../../grids.shp": b"x"}), "grids.zip", 422, "paths outside the zip"),
        (_zip({"grids.shp": b"x", "inner.zip": b"PK"}), "grids.zip", 422, "another archive"),
        (_points_geojson(2_001), "incidents.geojson", 413, "2,001 features"),
    ],
    ids=["unpacked-size", "ratio", "members", "traversal", "nested", "features"],
)
def test_bombs_are_refused_and_nothing_is_written(
    app: Flask, post: Post, content: bytes, filename: str, status: int, expected: str
) -> None:
    before = workspace_state(app.config["WORKSPACE"])
    layer = filename.split(".")[0]
    answer, page = post(content, filename, layer=layer)
    assert answer == status, page
    [message] = _problem_messages(page)
    assert expected in message
    assert "gisapp-upload-" not in page and "Traceback" not in page
    assert len(page.encode()) < MAX_PAGE_BYTES
    assert workspace_state(app.config["WORKSPACE"]) == before


def test_polygon_with_too_many_vertices_gets_413(app: Flask, post: Post) -> None:
    angles = np.linspace(0, 2 * np.pi, 4_000, endpoint=False)
    ring = np.column_stack([-72.92 + 0.01 * np.cos(angles), 41.31 + 0.01 * np.sin(angles)])
    frame = gpd.GeoDataFrame(
        {"id": ["G9"], "community_id": ["C1"]}, geometry=[shapely.Polygon(ring)], crs=4326
    )
    status, page = post(frame.to_json().encode(), "grids.geojson", layer="grids")
    assert status == 413
    assert "vertices, more than the limit of 3,000" in _problem_messages(page)[0]


def test_thousands_of_duplicate_ids_give_a_small_page(app: Flask, post: Post) -> None:
    # within the limits, but every row repeats one id: the report lists a few rows only
    status, page = post(_points_geojson(1_900, same_id=True), "cases.geojson", layer="incidents")
    assert status == 422
    assert "… and 1,880 more rows" in page
    assert len(page.encode()) < MAX_PAGE_BYTES


def test_upload_over_the_request_limit_gets_413(
    app: Flask, client: FlaskClient, login: Login, csrf_from: CsrfFrom
) -> None:
    login("admin")
    data = {
        "csrf_token": csrf_from(client, "/admin/layers/"),
        "file": FileStorage(io.BytesIO(bytes(3 * 1024 * 1024)), filename="grids.zip"),
        "layer": "grids",
    }
    # Encoded here, in memory: the test client would spool it to a file nobody closes.
    boundary, body = encode_multipart(MultiDict(data))
    response = client.post(
        "/admin/layers/", data=body, content_type=f'multipart/form-data; boundary="{boundary}"'
    )
    assert response.status_code == 413
    assert "larger than the limit of 2 MB" in response.get_data(as_text=True)


def test_upload_within_the_limits_is_imported(app: Flask, post: Post) -> None:
    status, page = post(_points_geojson(500), "cases.geojson", layer="incidents")
    assert status == 200, page
    assert "Imported: incidents 500." in page
