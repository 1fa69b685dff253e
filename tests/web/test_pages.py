"""Test-client tests of the settings wiring, navigation, hotspots, exports and uploads, on
both stores (the app serves a GeoPackage file or a PostGIS schema, ``backend``)."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from flask import Flask
from flask.testing import FlaskClient
from shapely.geometry import Point, box
from werkzeug.test import TestResponse

from gisapp.errors import SettingsError
from gisapp.services.analytics import load_incidents, shift_hotspots, study_area
from gisapp.settings import Settings
from gisapp.store import Workspace
from tests.web.conftest import workspace_state
from web import create_app

HOSTILE = "<script>alert(1)</script>"
Login = Callable[[str], None]
CsrfFrom = Callable[[FlaskClient, str], str]

CAPTAIN_PAGES = (
    "/coverage/",
    "/hotspots/",
    "/hotspots/map.html",
    "/hotspots/export.html",
    "/hotspots/export.geojson",
    "/exports/workspace.gpkg",
)
ADMIN_PAGES = ("/admin/layers/", "/admin/users")
EVERYONE_PAGES = ("/maps/", "/maps/overview/map.html", "/maps/grids", "/exports/")


def _text(response: TestResponse) -> str:
    text: str = response.get_data(as_text=True)
    response.close()
    return text


# -- settings ---------------------------------------------------------------------------------


def test_create_app_takes_settings_from_the_settings_file(monkeypatch, tmp_path: Path) -> None:
    config = tmp_path / "gisapp.toml"
    config.write_text(
        'upload_max_mb = 1.5\nsecret_key = "from-file"\nsession_cookie_secure = true\n'
        f'users_db = "{tmp_path / "people.sqlite"}"\n'
        '[shifts]\nmorning = "06:00-14:00"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("GISAPP_CONFIG", str(config))
    monkeypatch.setenv("GISAPP_WORKSPACE", str(tmp_path / "w.gpkg"))
    app = create_app()
    assert app.config["MAX_CONTENT_LENGTH"] == int(1.5 * 1024 * 1024)
    assert app.config["SECRET_KEY"] == "from-file"
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["USERS_DB"] == str(tmp_path / "people.sqlite")
    settings = app.config["SETTINGS"]
    assert settings.shift("morning").label() == "06:00-14:00"
    assert "day" in settings.shifts  # defaults kept beside the file's shifts


def test_environment_overrides_the_settings_file(monkeypatch, tmp_path: Path) -> None:
    config = tmp_path / "gisapp.toml"
    config.write_text("upload_max_mb = 1\n", encoding="utf-8")
    monkeypatch.setenv("GISAPP_CONFIG", str(config))
    monkeypatch.setenv("GISAPP_UPLOAD_MAX_MB", "3")
    assert create_app().config["MAX_CONTENT_LENGTH"] == 3 * 1024 * 1024


def test_test_config_reads_no_file_and_no_environment(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GISAPP_CONFIG", str(tmp_path / "missing.toml"))
    monkeypatch.setenv("GISAPP_UPLOAD_MAX_MB", "not a number")
    with pytest.raises(SettingsError, match="does not exist"):
        create_app()
    settings = Settings(shifts={"only": "07:00-19:00"})
    app = create_app({"SECRET_KEY": "k", "SETTINGS": settings})
    assert app.config["SETTINGS"] is settings
    assert app.config["MAX_CONTENT_LENGTH"] == 64 * 1024 * 1024
    with pytest.raises(TypeError, match="'SETTINGS' should be a Settings"):
        create_app({"SETTINGS": {"shifts": {}}})


# -- roles and navigation -------------------------------------------------------------------


@pytest.mark.parametrize("path", CAPTAIN_PAGES + ADMIN_PAGES)
def test_officer_gets_403_on_captain_and_admin_pages(
    client: FlaskClient, login: Login, path: str
) -> None:
    login("officer1")
    response = client.get(path)
    assert response.status_code == 403, path
    assert "Traceback" not in _text(response)


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_captain_gets_403_on_admin_pages(client: FlaskClient, login: Login, path: str) -> None:
    login("captain")
    assert client.get(path).status_code == 403


@pytest.mark.parametrize("user", ["admin", "captain", "officer1"])
def test_every_role_opens_its_pages(client: FlaskClient, login: Login, user: str) -> None:
    login(user)
    allowed = EVERYONE_PAGES + (CAPTAIN_PAGES if user != "officer1" else ())
    allowed += ADMIN_PAGES if user == "admin" else ()
    for path in allowed:
        response = client.get(path)
        assert response.status_code == 200, (user, path)
        response.close()


@pytest.mark.parametrize("path", ["/hotspots/", "/coverage/", "/exports/", "/admin/layers/"])
def test_new_pages_require_login(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login")


def _nav_links(page: str) -> list[str]:
    nav = re.search(r"<nav>(.*?)</nav>", page, re.S)
    assert nav, "no navigation bar"
    return re.findall(r'href="([^"]+)"', nav.group(1))


def test_navigation_follows_the_role(client: FlaskClient, login: Login) -> None:
    login("officer1")
    officer = _nav_links(_text(client.get("/maps/")))
    assert officer == ["/maps/", "/maps/grids", "/plans/", "/exports/"]
    client.get("/auth/login")  # same client: log in as another user
    login("captain")
    captain = _nav_links(_text(client.get("/maps/")))
    assert captain == [
        "/maps/",
        "/maps/grids",
        "/hotspots/",
        "/coverage/",
        "/plans/",
        "/exports/",
        "/categories/",
    ]
    login("admin")
    admin = _nav_links(_text(client.get("/maps/")))
    assert admin == [*captain, "/admin/layers/", "/admin/users"]


# -- hotspots ---------------------------------------------------------------------------------


def test_hotspot_page_shows_the_pai_of_the_analytics(
    client: FlaskClient, login: Login, workspace_location: str
) -> None:
    ws = Workspace.open(workspace_location)
    incidents, _ = load_incidents(ws)
    layer, kpis = shift_hotspots(
        incidents, shift=Settings().shift("day"), method="counts", area=study_area(ws)
    )
    login("captain")
    page = _text(client.get("/hotspots/?shift=day&method=counts"))
    assert f'id="pai">{kpis["pai"]:.2f}<' in page
    # September 3-16, 2014 counts predicting September 17-30 (the data's last two weeks),
    # without the 235 incidents piled up on five points such as 1 Union Ave (police HQ).
    assert 'id="pai">4.03<' in page
    assert "tested on the most recent 14 days, trained on the 14 days before" in page
    assert f"{kpis['hit_rate']:.1%}" in page
    assert "3,058" in page  # every fixture incident is at local noon: all in the day shift
    assert f">{len(layer)}<" in page
    assert 'src="/hotspots/map.html?shift=day&amp;method=counts"' in page


def test_hotspot_map_is_offline_with_ranked_cells(client: FlaskClient, login: Login) -> None:
    login("admin")
    response = client.get("/hotspots/map.html?shift=day&method=kde")
    page = _text(response)
    assert response.status_code == 200
    assert "/static/vendor/leaflet/leaflet.js" in page
    assert "http://" not in page and "https://" not in page
    assert "Top 5" in page and "Hotspots, PAI 3.264" in page  # without the pile-ups
    assert page.count('"id": "H') == 25  # 5% of the study area in 150 m cells


def test_hotspot_page_reports_a_shift_without_incidents(client: FlaskClient, login: Login) -> None:
    login("captain")
    response = client.get("/hotspots/?shift=night&method=kde")
    page = _text(response)
    assert response.status_code == 200
    assert "no incidents in shift" in page
    assert "<iframe" not in page
    assert client.get("/hotspots/map.html?shift=night").status_code == 400


def test_hotspot_page_ignores_unknown_choices(client: FlaskClient, login: Login) -> None:
    login("captain")
    page = _text(client.get(f"/hotspots/?shift={HOSTILE}&method=streets"))
    assert HOSTILE not in page
    assert '<option value="day" selected>' in page
    assert '<option value="kde" selected>' in page


def test_hotspot_geojson_export(client: FlaskClient, login: Login) -> None:
    login("captain")
    response = client.get("/hotspots/export.geojson?shift=day&method=gistar")
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="hotspots_day_gistar.geojson"'
    )
    features = response.get_json()["features"]
    assert [f["properties"]["rank"] for f in features] == list(range(1, len(features) + 1))
    assert {f["properties"]["method"] for f in features} == {"gistar"}


def test_hotspot_category_filter_changes_the_incident_count(
    client: FlaskClient, login: Login, workspace_location: str
) -> None:
    ws = Workspace.open(workspace_location)
    incidents, _ = load_incidents(ws)
    groups = sorted(incidents["group"].astype(str).unique())
    login("captain")
    page = _text(client.get("/hotspots/?shift=day&method=counts"))
    select = re.search(r'<select name="group" id="group">(.*?)</select>', page, re.S)
    assert select
    assert re.findall(r'<option value="([^"]+)"', select.group(1)) == [
        "all",
        "preventable",
        *groups,
    ]
    assert '<option value="all" selected>' in page

    def shown(query: str) -> int:
        text = _text(client.get(f"/hotspots/?shift=day&method=counts{query}"))
        match = re.search(r'id="incidents">([\d,]+)<', text)
        assert match, query
        return int(match.group(1).replace(",", ""))

    everything = shown("")
    preventable = shown("&group=preventable")
    burglary = shown("&group=burglary")
    assert everything == len(incidents) == 3_293 - 235  # without the pile-ups
    assert preventable == int(incidents["preventable"].fillna(False).astype(bool).sum())
    assert burglary == int((incidents["group"] == "burglary").sum())
    assert 0 < burglary < preventable < everything
    page = _text(client.get("/hotspots/?shift=day&method=counts&group=burglary"))
    assert 'src="/hotspots/map.html?shift=day&amp;method=counts&amp;group=burglary"' in page
    response = client.get("/hotspots/export.geojson?shift=day&method=counts&group=burglary")
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="hotspots_day_counts_burglary.geojson"'
    )


def test_hotspot_unknown_category_is_a_clear_400(client: FlaskClient, login: Login) -> None:
    login("captain")
    response = client.get(f"/hotspots/?shift=day&method=counts&group={HOSTILE}")
    page = _text(response)
    assert response.status_code == 400
    assert "is not in the incidents; choose &#39;all&#39;, &#39;preventable&#39;" in page
    assert HOSTILE not in page and "Traceback" not in page
    assert 'role="alert"' in page and '<select name="group"' in page  # the form stays
    response = client.get("/hotspots/map.html?shift=day&group=nonsense")
    assert response.status_code == 400
    assert "is not in the incidents" in _text(response)


# -- exports ----------------------------------------------------------------------------------


def test_exports_page_links_what_exists(client: FlaskClient, login: Login) -> None:
    login("officer1")
    page = _text(client.get("/exports/"))
    assert 'href="/maps/grids/export.html"' in page
    for name in ("grids", "incidents", "roads"):
        assert f'href="/api/layers/{name}.geojson" download="{name}.geojson"' in page
    assert "units.geojson" not in page  # a table, not a map layer
    assert "/exports/workspace.gpkg" not in page and "/hotspots/" not in page
    login("captain")
    page = _text(client.get("/exports/"))
    assert 'href="/exports/workspace.gpkg"' in page
    assert 'href="/hotspots/export.html?shift=evening"' in page


def test_workspace_download_is_the_geopackage(
    client: FlaskClient, login: Login, workspace_location: str, tmp_path: Path
) -> None:
    login("captain")
    response = client.get("/exports/workspace.gpkg")
    body = response.get_data()
    response.close()
    assert response.headers["Content-Disposition"].startswith("attachment")
    ws = Workspace.open(workspace_location)
    if ws.backend.path is not None:
        assert body == ws.backend.path.read_bytes()
    download = tmp_path / "download.gpkg"
    download.write_bytes(body)
    copy = Workspace.open(download)
    assert copy.layer_names() == ws.layer_names()
    assert {n: len(copy.layer(n)) for n in ws.layer_names()} == {
        n: len(ws.layer(n)) for n in ws.layer_names()
    }
    assert copy.timezone == ws.timezone


def test_hotspot_offline_export_is_self_contained(client: FlaskClient, login: Login) -> None:
    login("captain")
    page = _text(client.get("/hotspots/export.html?shift=day"))
    assert "<script src=" not in page and '<link rel="stylesheet"' not in page


# -- uploads ----------------------------------------------------------------------------------


@pytest.fixture
def upload_app(app: Flask, fresh_workspace: str) -> Flask:
    """The app over a private copy of the workspace, which uploads may change."""
    app.config["WORKSPACE"] = fresh_workspace
    return app


@pytest.fixture
def admin_upload(
    upload_app: Flask, client: FlaskClient, login: Login, csrf_from: CsrfFrom
) -> Callable[..., tuple[int, str]]:
    """POST a file to the layers page as admin; return the status and the page."""
    login("admin")
    token = csrf_from(client, "/admin/layers/")

    def post(content: bytes, filename: str, **fields: str) -> tuple[int, str]:
        data = {"csrf_token": token, "file": (io.BytesIO(content), filename), **fields}
        response = client.post("/admin/layers/", data=data, content_type="multipart/form-data")
        return response.status_code, _text(response)

    return post


def _problem_cells(page: str) -> list[list[str]]:
    table = re.search(r'<table class="data problems">(.*?)</table>', page, re.S)
    assert table, "no validation report"
    rows = re.findall(r"<tr class=\"\w+\">(.*?)</tr>", table.group(1), re.S)
    return [re.findall(r"<td>(.*?)</td>", row, re.S) for row in rows]


def test_upload_imports_a_mapped_csv(upload_app: Flask, admin_upload, client: FlaskClient) -> None:
    csv = (
        "编号,发案时间,案件类别,经度,纬度\n"
        "A1,2014-09-18 13:53,burglary-res-forcible,-72.93,41.31\n"
        "A2,2014-09-19 22:10,robbery-street-no-weapon,-72.92,41.32\n"
    ).encode()
    status, page = admin_upload(
        csv,
        "cases.csv",
        layer="incidents",
        field_mapping="id=编号, occurred_at=发案时间, category=案件类别",
    )
    assert status == 200, page
    assert "Imported: incidents 2." in page
    ws = Workspace.open(upload_app.config["WORKSPACE"])
    incidents = ws.layer("incidents")
    assert incidents["id"].tolist() == ["A1", "A2"]
    assert incidents["occurred_at"].dt.strftime("%H:%M").tolist() == ["13:53", "22:10"]
    assert ws.layer_notes["incidents"] == "uploaded from cases.csv"
    # the open workspace was refreshed: the overview counts the new layer
    assert '<td>incidents</td><td class="num">2</td>' in _text(client.get("/maps/"))


def test_upload_with_validation_errors_saves_nothing(upload_app: Flask, admin_upload) -> None:
    before = workspace_state(upload_app.config["WORKSPACE"])
    grids = gpd.GeoDataFrame(
        {"id": ["g1", "g1"], "community_id": ["C9", "C1"]},
        geometry=[box(-72.94, 41.31, -72.93, 41.32), box(-72.93, 41.31, -72.92, 41.32)],
        crs=4326,
    )
    status, page = admin_upload(grids.to_json().encode(), "new grids.geojson", layer="grids")
    assert status == 422
    assert "Not imported" in page and "workspace is unchanged" in page
    cells = _problem_cells(page)
    errors = [row for row in cells if row[0] == "error"]
    assert any(row[1] == "grids" and row[2] == "g1" and "ids" in row[3] for row in errors)
    # every problem at once: the units now name grids that the upload would remove
    assert sorted(row[2] for row in errors if row[1] == "units") == ["U1", "U2", "U3"]
    assert any(row[0] == "warning" and row[1] == "incidents" for row in cells)
    assert all(row[4] for row in cells)  # every problem says how to fix it
    assert workspace_state(upload_app.config["WORKSPACE"]) == before


def test_csv_renamed_geojson_shows_the_report(upload_app: Flask, admin_upload) -> None:
    before = workspace_state(upload_app.config["WORKSPACE"])
    status, page = admin_upload(b"id,lon,lat\n1,-72.9,41.3\n", "stations.geojson", layer="stations")
    assert status == 422
    [row] = _problem_cells(page)
    assert row[:2] == ["error", "stations"]
    assert "stations.geojson" in row[3] and "is not GeoJSON" in row[3]
    assert "gisapp-upload-" not in page and "Traceback" not in page  # no server path leaks
    assert workspace_state(upload_app.config["WORKSPACE"]) == before


def test_truncated_geopackage_shows_the_report(
    upload_app: Flask, admin_upload, workspace_file: Path
) -> None:
    truncated = workspace_file.read_bytes()[:40_000]
    status, page = admin_upload(truncated, "roads.gpkg", layer="roads")
    assert status == 422
    [row] = _problem_cells(page)
    assert "truncated or damaged" in row[3]
    assert "Traceback" not in page


@pytest.mark.parametrize(
    ("filename", "fields", "expected"),
    [
        ("tool.exe", {"layer": "roads"}, "unsupported type"),
        ("roads.csv", {"layer": "nowhere"}, "is not a layer"),
        ("x.csv", {"layer": "incidents", "field_mapping": "id"}, "id"),
    ],
)
def test_bad_upload_requests_are_reported(
    admin_upload, filename: str, fields: dict[str, str], expected: str
) -> None:
    status, page = admin_upload(b"id,lon,lat\n1,-72.9,41.3\n", filename, **fields)
    assert status == 422
    [row] = _problem_cells(page)
    assert expected in row[3] and row[4]


def test_hostile_file_name_is_escaped_and_never_a_path(
    upload_app: Flask, admin_upload, tmp_path: Path
) -> None:
    name = f"../../{HOSTILE}.geojson"
    status, page = admin_upload(b"not json", name, layer="stations")
    assert status == 422
    assert HOSTILE not in page
    assert "&lt;script&gt;" in page
    assert not list(tmp_path.parent.glob("*.geojson"))


def test_gcj02_upload_far_from_the_workspace_is_refused(upload_app: Flask, admin_upload) -> None:
    # Wuhan Yellow Crane Tower in GCJ-02 (as an Amap pick gives it), uploaded into the New
    # Haven workspace: converted, then refused as lying nowhere near the workspace's grids
    before = workspace_state(upload_app.config["WORKSPACE"])
    gcj = (114.3025, 30.5447)
    stations = gpd.GeoDataFrame(
        {"id": ["S1"], "name": ["Tower post"], "kind": ["post"]}, geometry=[Point(gcj)], crs=4326
    )
    status, page = admin_upload(
        stations.to_json().encode(), "posts.geojson", layer="stations", offset="gcj02"
    )
    assert status == 422, page
    assert "km away" in page and "Traceback" not in page
    assert workspace_state(upload_app.config["WORKSPACE"]) == before


def test_upload_without_csrf_token_is_rejected(
    upload_app: Flask, client: FlaskClient, login: Login
) -> None:
    before = workspace_state(upload_app.config["WORKSPACE"])
    login("admin")
    data = {"layer": "stations", "file": (io.BytesIO(b"{}"), "s.geojson")}
    response = client.post("/admin/layers/", data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "security token" in _text(response)
    assert workspace_state(upload_app.config["WORKSPACE"]) == before


class _HugeBody:
    """A request body that declares 2 GiB and counts what the server reads of it."""

    size = 2 * 1024**3

    def __init__(self) -> None:
        self.bytes_read = 0
        self.position = 0

    def read(self, n: int | None = -1) -> bytes:
        n = 65_536 if n is None or n < 0 else n
        self.bytes_read += n
        self.position += n
        return b"0" * n

    readline = read

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = 0) -> int:
        # The test client measures the body by seeking to its end: that gives Content-Length.
        self.position = offset if whence == 0 else self.size + offset
        return self.position


@pytest.mark.parametrize("token_in", ["header", "none"])
def test_2gb_upload_is_refused_before_the_body_is_read(
    upload_app: Flask, client: FlaskClient, login: Login, csrf_from: CsrfFrom, token_in: str
) -> None:
    login("admin")
    headers = {"X-CSRF-Token": csrf_from(client, "/admin/layers/")} if token_in == "header" else {}
    body = _HugeBody()
    response = client.post(
        "/admin/layers/",
        input_stream=body,
        content_type="multipart/form-data; boundary=xyz",
        headers=headers,
    )
    assert response.request.content_length == 2 * 1024**3
    assert response.status_code == 413
    assert "larger than the limit of 0.0625 MB" in _text(response)
    assert body.bytes_read == 0


# -- coverage ---------------------------------------------------------------------------------


def test_coverage_page_without_stations_says_what_to_import(
    client: FlaskClient, login: Login
) -> None:
    login("captain")
    response = client.get("/coverage/")
    page = _text(response)
    assert response.status_code == 200
    # the fixture's roads carry TIGER classes and no stations: either is reported, no 500
    assert 'role="alert"' in page and "<iframe" not in page


@pytest.fixture
def stations_app(app: Flask, sample_location: str) -> Flask:
    """The app over a copy of the bundled New Haven sample, plus a hostile station name."""
    ws = Workspace.open(sample_location)
    stations = ws.spatial_layer("stations")
    extra = stations.iloc[[0]].assign(id="hostile", name=HOSTILE)
    extra = extra.set_geometry(extra.geometry.translate(0.01, 0.005))
    ws.save({"stations": gpd.GeoDataFrame(pd.concat([stations, extra]), crs=stations.crs)})
    app.config["WORKSPACE"] = sample_location
    return app


def test_coverage_page_shows_the_bands_and_blind_zones(
    stations_app: Flask, client: FlaskClient, login: Login
) -> None:
    from gisapp.services.coverage import compute_coverage

    ws = Workspace.open(stations_app.config["WORKSPACE"])
    kpis = compute_coverage(ws, minutes=(1, 3, 5), mode="car").kpis
    login("captain")
    page = _text(client.get("/coverage/?mode=car"))
    bands = re.search(r'<table class="data kpis" id="bands">(.*?)</table>', page, re.S)
    assert bands
    rows = re.findall(r"<tr><td>(\d+) min</td><td class=\"num\">([\d,.]+)</td>", bands.group(1))
    assert rows == [(f"{b['minutes']:g}", f"{b['reached_km']:,.1f}") for b in kpis["bands"]]
    assert [float(km.replace(",", "")) for _, km in rows] == sorted(
        float(km.replace(",", "")) for _, km in rows
    )  # a longer band reaches at least as far
    assert 'id="blind"' in page
    assert 'src="/coverage/map.html?mode=car"' in page
    response = client.get("/coverage/map.html?mode=car")
    map_page = _text(response)
    assert response.status_code == 200
    assert "<script src=" not in map_page and '<link rel="stylesheet"' not in map_page
    assert HOSTILE not in map_page
