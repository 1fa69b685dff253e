"""Flask test-client tests: login, roles, CSRF, upload limit, API errors, escaping; the app
serves the test workspace from both stores (``backend``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from web import create_app

HOSTILE = "<script>alert(1)</script>"

Login = Callable[[str], None]


def test_create_app_reads_environment(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GISAPP_WORKSPACE", str(tmp_path / "w.gpkg"))
    monkeypatch.setenv("GISAPP_SESSION_COOKIE_SECURE", "true")
    app = create_app()
    assert app.config["WORKSPACE"] == str(tmp_path / "w.gpkg")
    assert app.config["USERS_DB"] == str(tmp_path / "w.gpkg.users.sqlite")
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_create_app_takes_a_postgis_url_from_the_environment(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    url = "postgresql://gisapp:secret@db-host/city?schema=precinct_7"
    monkeypatch.setenv("GISAPP_WORKSPACE", url)
    app = create_app()
    assert app.config["WORKSPACE"] == url  # as given: no file path made of it
    assert app.config["USERS_DB"] == str(tmp_path / "city.precinct_7.users.sqlite")


def test_pages_require_login(client: FlaskClient) -> None:
    response = client.get("/maps/grids")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login?next=/maps/grids")
    api = client.get("/api/layers/grids.geojson")
    assert api.status_code == 401
    assert api.get_json()["status"] == 401


def test_wrong_password_is_refused(client: FlaskClient, csrf_from) -> None:
    token = csrf_from(client, "/auth/login")
    response = client.post(
        "/auth/login", data={"username": "admin", "password": "nope", "csrf_token": token}
    )
    assert response.status_code == 200
    assert "Wrong user name or password" in response.get_data(as_text=True)
    assert client.get("/maps/").status_code == 302


def test_login_never_redirects_off_site(client: FlaskClient, csrf_from) -> None:
    token = csrf_from(client, "/auth/login")
    response = client.post(
        "/auth/login?next=//evil.example/x",
        data={"username": "captain", "password": "correct horse battery", "csrf_token": token},
    )
    assert response.headers["Location"] == "/maps/"


def test_session_cookie_is_httponly_and_lax(client: FlaskClient, login: Login) -> None:
    login("captain")
    cookie = client.get_cookie("session")
    assert cookie is not None
    assert cookie.http_only
    assert cookie.same_site == "Lax"


def test_overview_shows_layer_counts_and_dates(client: FlaskClient, login: Login) -> None:
    login("captain")
    page = client.get("/maps/").get_data(as_text=True)
    assert "New Haven test" in page
    assert "3,293" in page  # incidents
    assert "1,537" in page  # roads
    assert "2014-09-01" in page and "2014-09-30" in page


def test_officer_gets_403_on_admin_pages(client: FlaskClient, login: Login) -> None:
    login("officer1")
    response = client.get("/admin/users")
    assert response.status_code == 403
    assert "Traceback" not in response.get_data(as_text=True)


def test_captain_gets_403_on_admin_pages(client: FlaskClient, login: Login) -> None:
    login("captain")
    assert client.get("/admin/users").status_code == 403


def test_officer_sees_only_his_unit(client: FlaskClient, login: Login) -> None:
    login("officer1")
    own = client.get("/api/layers/grids.geojson").get_json()
    assert sorted(f["properties"]["id"] for f in own["features"]) == ["G1", "G2"]
    other = client.get("/api/layers/grids.geojson?unit=U2")
    assert other.status_code == 403
    assert other.get_json()["error"] == "Forbidden"
    assert client.get("/maps/grids/map.html?unit=U3").status_code == 403
    incidents = client.get("/api/layers/incidents.geojson").get_json()["features"]
    assert len(incidents) == 356 + 521  # incidents inside G1 and G2


def test_captain_sees_every_unit(client: FlaskClient, login: Login) -> None:
    login("captain")
    grids = client.get("/api/layers/grids.geojson").get_json()["features"]
    assert len(grids) == 6
    unit2 = client.get("/api/layers/grids.geojson?unit=U2").get_json()["features"]
    assert sorted(f["properties"]["id"] for f in unit2) == ["G3", "G4"]


def test_api_errors_are_json(client: FlaskClient, login: Login) -> None:
    login("captain")
    for path in ("/api/layers/nope.geojson", "/api/layers/cameras.geojson", "/api/nothing"):
        response = client.get(path)
        assert response.status_code == 404, path
        body = response.get_json()
        assert body["status"] == 404 and body["message"], path


def test_unexpected_error_shows_no_traceback(app: Flask, client: FlaskClient) -> None:
    @app.get("/api/boom")
    def boom() -> str:
        raise RuntimeError("secret internals")

    response = client.get("/api/boom")
    assert response.status_code == 500
    text = response.get_data(as_text=True)
    assert "secret internals" not in text and "Traceback" not in text
    assert json.loads(text)["error"] == "Internal Server Error"


def test_form_without_csrf_token_is_rejected(client: FlaskClient, login: Login) -> None:
    login("admin")
    response = client.post(
        "/admin/users",
        data={"username": "eve", "password": "12345678", "role": "admin"},
    )
    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)
    assert "eve" not in client.get("/admin/users").get_data(as_text=True)


def test_login_without_csrf_token_is_rejected(client: FlaskClient) -> None:
    response = client.post("/auth/login", data={"username": "admin", "password": "x" * 8})
    assert response.status_code == 400


def test_admin_adds_user_with_token(client: FlaskClient, login: Login, csrf_from) -> None:
    login("admin")
    token = csrf_from(client, "/admin/users")
    response = client.post(
        "/admin/users",
        data={
            "username": "o2",
            "password": "12345678",
            "role": "officer",
            "unit_id": "U2",
            "csrf_token": token,
        },
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "User o2 added." in response.get_data(as_text=True)


def test_too_large_upload_gets_413(client: FlaskClient, login: Login, csrf_from) -> None:
    login("admin")
    token = csrf_from(client, "/admin/users")
    response = client.post(
        "/admin/users", data={"csrf_token": token, "username": "x" * (65 * 1024)}
    )
    assert response.status_code == 413
    assert "larger than the limit of 0.0625 MB" in response.get_data(as_text=True)


def test_logout_needs_post_with_token(client: FlaskClient, login: Login, csrf_from) -> None:
    login("captain")
    assert client.get("/auth/logout").status_code == 405
    token = csrf_from(client, "/maps/")
    client.post("/auth/logout", data={"csrf_token": token})
    assert client.get("/maps/").status_code == 302


def test_grid_map_is_offline_and_escapes_user_text(client: FlaskClient, login: Login) -> None:
    login("captain")
    response = client.get("/maps/grids/map.html")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert HOSTILE not in page  # officer of G6 is hostile text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.replace("\\u003c", "<").replace(
        "\\u003e", ">"
    ).replace("\\u0026", "&")
    assert "/static/vendor/leaflet/leaflet.js" in page
    assert "http://" not in page and "https://" not in page
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_grid_export_is_self_contained(client: FlaskClient, login: Login) -> None:
    login("officer1")
    response = client.get("/maps/grids/export.html")
    assert response.headers["Content-Disposition"].startswith("attachment")
    page = response.get_data(as_text=True)
    assert "<script src=" not in page and '<link rel="stylesheet"' not in page
    assert "L.Map" in page or "L.map" in page
    assert '"G1"' in page and '"G3"' not in page


def test_static_vendor_files_are_served_with_licences(client: FlaskClient) -> None:
    for path in (
        "/static/vendor/leaflet/leaflet.js",
        "/static/vendor/leaflet/LICENSE",
        "/static/vendor/leaflet.markercluster/MIT-LICENCE.txt",
        "/static/style.css",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        response.close()
