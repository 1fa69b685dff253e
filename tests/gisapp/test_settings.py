from __future__ import annotations

from datetime import time

import pytest

from gisapp.errors import SettingsError
from gisapp.settings import load_settings, parse_shift


def test_defaults_without_file_or_environment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(environ={})
    assert settings.response_minutes == (1.0, 3.0, 5.0)
    assert settings.dwell_min_minutes == 10 and settings.dwell_max_minutes == 15
    assert settings.shift("night").label() == "00:00-08:00"


def test_toml_then_environment_precedence(tmp_path):
    config = tmp_path / "gisapp.toml"
    config.write_text(
        'timezone = "Asia/Shanghai"\nupload_max_mb = 50\n[shifts]\nlate = "21:00-05:00"\n',
        encoding="utf-8",
    )
    settings = load_settings(config, environ={"GISAPP_UPLOAD_MAX_MB": "20"})
    assert settings.timezone == "Asia/Shanghai"
    assert settings.upload_max_mb == 20.0
    assert settings.shift("late").label() == "21:00-05:00"
    assert settings.shift("day").label() == "08:00-16:00"  # defaults kept beside the file's


def test_environment_lists_and_booleans():
    settings = load_settings(
        environ={"GISAPP_RESPONSE_MINUTES": "1,2,4", "GISAPP_SESSION_COOKIE_SECURE": "yes"}
    )
    assert settings.response_minutes == (1.0, 2.0, 4.0)
    assert settings.session_cookie_secure is True


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("speed = 3\n", "unknown setting"),
        ("upload_max_mb = 'lots'\n", "invalid value"),
        ("timezone = \n", "not valid TOML"),
        ("dwell_min_minutes = 20\n", "dwell_min_minutes"),
        ("[shifts]\nbad = '25:00-06:00'\n", "HH:MM"),
    ],
)
def test_bad_settings_file_is_named(tmp_path, text, message):
    config = tmp_path / "bad.toml"
    config.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError, match=message):
        load_settings(config, environ={})


def test_missing_named_file():
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings("/nonexistent/gisapp.toml", environ={})


def test_shift_crossing_midnight():
    shift = parse_shift("22:00-06:00")
    assert shift.crosses_midnight
    assert shift.duration_h == 8
    assert shift.start == time(22, 0)
    assert parse_shift("08:00-16:00").duration_h == 8
    assert parse_shift("16:00-24:00").duration_h == 8
    with pytest.raises(SettingsError):
        parse_shift("22h-6h")
