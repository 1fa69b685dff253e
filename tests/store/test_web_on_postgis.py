"""The web app serves a PostGIS workspace as it serves a GeoPackage."""

from __future__ import annotations

from pathlib import Path

import pytest

from gisapp.samples import get_path
from gisapp.store.users import UserStore, users_db_path
from gisapp.store.workspace import Workspace, copy_workspace


def test_users_of_a_database_workspace_live_in_a_file_named_for_its_schema(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    path = users_db_path("postgresql://gisapp@db-host/city?schema=precinct_7")
    assert path == tmp_path / "city.precinct_7.users.sqlite"
    assert users_db_path("postgresql://db-host/city").name == "city.public.users.sqlite"
    assert users_db_path(tmp_path / "ws.gpkg") == tmp_path / "ws.gpkg.users.sqlite"


def test_the_web_app_serves_a_postgis_workspace(postgis_url: str, tmp_path: Path) -> None:
    from web import create_app

    copy_workspace(Workspace.open(get_path("new_haven")), postgis_url)
    users = tmp_path / "users.sqlite"
    UserStore(users).add("captain", "a long enough password 1", role="captain")
    app = create_app(
        {
            "WORKSPACE": postgis_url,
            "USERS_DB": str(users),
            "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
            "TESTING": True,
        }
    )
    client = app.test_client()
    page = client.get("/auth/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    signed_in = client.post(
        "/auth/login",
        data={"username": "captain", "password": "a long enough password 1", "csrf_token": token},
    )
    assert signed_in.status_code == 302, signed_in.get_data(as_text=True)
    response = client.get("/maps/")
    assert response.status_code == 200, response.get_data(as_text=True)
    text = response.get_data(as_text=True)
    assert "3,293" in text  # the sample's incidents, read from the database
