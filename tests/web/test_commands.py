"""``gisapp user add`` and ``gisapp serve``; serving runs on both stores (``backend``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from click.testing import CliRunner

from gisapp.cli import cli
from gisapp.store.users import UserStore, users_db_path


def test_user_add_reads_password_from_stdin(tmp_path: Path) -> None:
    db = tmp_path / "u.sqlite"
    result = CliRunner().invoke(
        cli,
        [
            "user",
            "add",
            "li",
            "--role",
            "officer",
            "--unit",
            "U1",
            "--users-db",
            str(db),
            "--password-stdin",
        ],
        input="s3cret-pass\n",
    )
    assert result.exit_code == 0, result.output
    user = UserStore(db).authenticate("li", "s3cret-pass")
    assert user is not None and user.role == "officer" and user.unit_id == "U1"


def test_officer_without_unit_is_a_user_error(tmp_path: Path) -> None:
    ws = tmp_path / "w.gpkg"
    ws.write_bytes(b"")
    result = CliRunner().invoke(
        cli,
        ["user", "add", "li", "--role", "officer", "--workspace", str(ws), "--password-stdin"],
        input="s3cret-pass\n",
    )
    assert result.exit_code == 1
    assert "needs a unit" in result.output
    assert not users_db_path(ws).exists() or UserStore(users_db_path(ws)).all() == []


def test_serve_help_names_waitress() -> None:
    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0
    assert "waitress" in result.output
    assert "add" not in cli.commands  # only reachable as "user add"


def test_serve_takes_its_defaults_from_the_settings_file(
    workspace_location: str, tmp_path: Path, monkeypatch
) -> None:
    import werkzeug.serving

    monkeypatch.chdir(tmp_path)  # the users file of a database workspace goes here
    served: dict[str, Any] = {}
    monkeypatch.setattr(
        werkzeug.serving, "run_simple", lambda host, port, app, **kw: served.update(app=app)
    )
    config = tmp_path / "gisapp.toml"
    config.write_text('upload_max_mb = 1\nsecret_key = "from-the-file"\n', encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["--config", str(config), "serve", workspace_location, "--server", "werkzeug"]
    )
    assert result.exit_code == 0, result.output
    app = served["app"]
    assert app.config["MAX_CONTENT_LENGTH"] == 1024 * 1024
    assert app.config["SECRET_KEY"] == "from-the-file"
    assert app.config["SETTINGS"].upload_max_mb == 1
    assert app.config["WORKSPACE"] == workspace_location


def test_serve_on_postgis_never_prints_the_password(
    postgis_url: str, tmp_path: Path, monkeypatch
) -> None:
    import werkzeug.serving

    from gisapp.store import Workspace

    Workspace.create(postgis_url, {})
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(werkzeug.serving, "run_simple", lambda *args, **kw: None)
    result = CliRunner().invoke(cli, ["serve", postgis_url, "--server", "werkzeug"])
    assert result.exit_code == 0, result.output
    parts = urlsplit(postgis_url)
    assert parts.password and f":{parts.password}@" not in result.output
    assert postgis_url not in result.output
    users = users_db_path(postgis_url)
    assert f"Serving {Workspace.open(postgis_url).label} on" in result.output
    assert f"--users-db {users}" in result.output  # no users yet: how to add one
