"""A hostile upload is refused with 422 and a message in the user's words, never a 500; on
both stores (``backend``)."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from html import unescape

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.web.conftest import workspace_state

SEED = 11
#: Inside the grids of the test workspace (downtown New Haven).
AREA = (-72.94, 41.30, -72.91, 41.32)


def _incidents_csv(rows: int, *, swapped: int = 0, time: str = "2014-09-18 13:53") -> bytes:
    rng = np.random.default_rng(SEED)
    minx, miny, maxx, maxy = AREA
    xs, ys = rng.uniform(minx, maxx, rows), rng.uniform(miny, maxy, rows)
    xs[:swapped], ys[:swapped] = ys[:swapped].copy(), xs[:swapped].copy()
    lines = ["id,occurred_at,category,lon,lat"]
    points = enumerate(zip(xs, ys, strict=True))
    lines += [f"H{i},{time},burglary,{x:.6f},{y:.6f}" for i, (x, y) in points]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def upload(
    app: Flask,
    fresh_workspace: str,
    client: FlaskClient,
    login: Callable[[str], None],
    csrf_from: Callable[[FlaskClient, str], str],
) -> Callable[..., tuple[int, str, bool]]:
    """POST a file as admin; return the status, the page text and whether the workspace
    changed."""
    app.config["WORKSPACE"] = fresh_workspace
    login("admin")
    token = csrf_from(client, "/admin/layers/")

    def post(content: bytes, filename: str, layer: str = "incidents") -> tuple[int, str, bool]:
        before = workspace_state(fresh_workspace)
        data = {"csrf_token": token, "layer": layer, "file": (io.BytesIO(content), filename)}
        response = client.post("/admin/layers/", data=data, content_type="multipart/form-data")
        text = unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))
        response.close()
        changed = workspace_state(fresh_workspace) != before
        return response.status_code, re.sub(r"\s+", " ", text), changed

    return post


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (_incidents_csv(6, swapped=2), "longitude and latitude look swapped"),
        (_incidents_csv(3, time="9999-12-31T23:59:59"), "in the future"),
        (
            b"id,occurred_at,category,lon,lat,category\nH1,2014-09-18,theft,-72.93,41.31,x\n",
            "duplicate columns: 'category' (2 times)",
        ),
    ],
    ids=["swapped", "year-9999", "duplicate-columns"],
)
def test_hostile_upload_is_refused_with_422(
    upload: Callable[..., tuple[int, str, bool]], content: bytes, words: str
) -> None:
    status, page, changed = upload(content, "incidents.csv")
    assert status == 422, page[:2000]
    assert words in page
    assert "Traceback" not in page
    assert not changed


def test_unclosed_ring_upload_is_reported_not_a_server_error(
    upload: Callable[..., tuple[int, str, bool]],
) -> None:
    minx, miny, maxx, maxy = AREA
    ring = [[minx, miny], [maxx, miny], [maxx, maxy], [minx, maxy]]  # does not close
    feature = {
        "type": "Feature",
        "properties": {"id": "G1", "community_id": "C1"},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }
    content = json.dumps({"type": "FeatureCollection", "features": [feature]}).encode()
    status, page, changed = upload(content, "grids.geojson", layer="grids")
    # The ring is closed and reported; the workspace's units still look after G2-G6.
    assert status == 422, page[:2000]
    assert "does not end where it starts" in page
    assert "names grid(s) G2" in page
    assert not changed
