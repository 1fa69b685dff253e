"""``gisapp user add`` and ``gisapp serve --help``."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from gisapp.cli import cli
from gisapp.store.users import UserStore, users_db_path


def test_user_add_reads_password_from_stdin(workspace_path: Path, tmp_path: Path) -> None:
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
    workspace_path: Path, tmp_path: Path, monkeypatch
) -> None:
    import werkzeug.serving

    served = {}
    monkeypatch.setattr(
        werkzeug.serving, "run_simple", lambda host, port, app, **kw: served.update(app=app)
    )
    config = tmp_path / "gisapp.toml"
    config.write_text('upload_max_mb = 1\nsecret_key = "from-the-file"\n', encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["--config", str(config), "serve", str(workspace_path), "--server", "werkzeug"]
    )
    assert result.exit_code == 0, result.output
    app = served["app"]
    assert app.config["MAX_CONTENT_LENGTH"] == 1024 * 1024
    assert app.config["SECRET_KEY"] == "from-the-file"
    assert app.config["SETTINGS"].upload_max_mb == 1
