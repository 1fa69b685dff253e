"""The product's languages: choosing one, translating in it, and catalogs kept complete."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest

from layers import i18n
from layers.i18n import (
    format_date,
    format_datetime,
    format_km,
    format_minutes,
    format_number,
    gettext,
    language_from_environment,
    lazy_gettext,
    ngettext,
    normalize_language,
    use_language,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("zh_CN", "zh_CN"),
        ("zh-CN", "zh_CN"),
        ("zh", "zh_CN"),
        ("zh_Hans_CN", "zh_CN"),
        ("zh_CN.UTF-8", "zh_CN"),
        ("en", "en"),
        ("en-GB", "en"),
        ("en_US.UTF-8", "en"),
        ("C.UTF-8", None),
        ("POSIX", None),
        ("fr_FR", None),
        ("", None),
        (None, None),
    ],
)
def test_language_names_are_understood(value: str | None, expected: str | None) -> None:
    assert normalize_language(value) == expected


def test_the_command_line_language_comes_from_the_environment() -> None:
    assert language_from_environment({}) == "en"
    assert language_from_environment({"LANG": "zh_CN.UTF-8"}) == "zh_CN"
    assert language_from_environment({"LANG": "C.UTF-8"}) == "en"
    # LC_ALL outranks LANG; GISAPP_LANG outranks both
    assert language_from_environment({"LC_ALL": "en_US.UTF-8", "LANG": "zh_CN.UTF-8"}) == "en"
    assert language_from_environment({"GISAPP_LANG": "zh_CN", "LC_ALL": "en_US"}) == "zh_CN"


def test_messages_follow_the_language_in_force() -> None:
    assert gettext("Error: %(message)s", message="x") == "Error: x"
    with use_language("zh_CN") as language:
        assert language == "zh_CN"
        assert gettext("Error: %(message)s", message="x") == "错误：x"
        with use_language("en"):
            assert gettext("Error: %(message)s", message="x") == "Error: x"
        assert i18n.current_language() == "zh_CN"
    assert i18n.current_language() == "en"


def test_an_unknown_language_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"'fr'.*zh_CN, en"), use_language("fr"):
        pass


def test_a_lazy_message_reads_in_the_language_of_its_reader() -> None:
    message = lazy_gettext("Error: %(message)s", message=lazy_gettext("Aborted."))
    assert str(message) == "Error: Aborted."
    with use_language("zh_CN"):
        assert str(message) == "错误：已中止。"
        assert f"{message}" == "错误：已中止。"
        assert "错误" in message
    assert message == "Error: Aborted."
    # an exception carrying it says it in the language of whoever prints it
    error = ValueError(message)
    with use_language("zh_CN"):
        assert str(error) == "错误：已中止。"


def test_each_thread_keeps_its_own_language() -> None:
    seen: dict[str, str] = {}

    def read(name: str, language: str) -> None:
        with use_language(language):
            barrier.wait()
            seen[name] = gettext("Aborted.")

    barrier = threading.Barrier(2)
    threads = [
        threading.Thread(target=read, args=("a", "zh_CN")),
        threading.Thread(target=read, args=("b", "en")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {"a": "已中止。", "b": "Aborted."}


def test_plural_forms() -> None:
    assert ngettext("%(num)s incident", "%(num)s incidents", 1) == "1 incident"
    assert ngettext("%(num)s incident", "%(num)s incidents", 2) == "2 incidents"


def test_numbers_dates_and_units_in_the_readers_form() -> None:
    moment = dt.datetime(2026, 12, 2, 22, 0)
    assert format_datetime(moment) == "2 Dec 2026 22:00"
    assert format_km(3.44) == "3.4 km" and format_minutes(12.4) == "12 min"
    assert format_number(12345.678, 1) == "12,345.7"
    with use_language("zh_CN"):
        assert format_datetime(moment) == "2026年12月2日 22:00"
        assert format_date(moment.date()) == "2026年12月2日"
        assert format_km(3.44) == "3.4 公里" and format_minutes(12.4) == "12 分钟"


def test_catalogs_are_complete_and_current() -> None:
    """Every marked string is in both catalogs (``pybabel extract`` would find nothing
    new), none is untranslated or fuzzy, placeholders agree, the .mo files are compiled."""
    from layers.locale.catalogs import problems

    assert problems() == []


def test_catalogs_ship_with_the_package() -> None:
    for language in i18n.LANGUAGES:
        folder = i18n.LOCALE_DIR / language / "LC_MESSAGES"
        assert (folder / "messages.po").is_file() and (folder / "messages.mo").is_file()
    pyproject = (Path(i18n.__file__).parent.parent / "pyproject.toml").read_text("utf-8")
    assert '"locale/*/LC_MESSAGES/*"' in pyproject


def test_the_users_file_keeps_each_users_language(tmp_path: Path) -> None:
    from gisapp.store.users import UserError, UserStore

    store = UserStore(tmp_path / "users.sqlite")
    store.add("zhang", "a long password", role="captain")
    assert store.get("zhang").language is None
    store.set_language("zhang", "zh_CN")
    assert store.get("zhang").language == "zh_CN"
    assert store.authenticate("zhang", "a long password").language == "zh_CN"
    token = store.start_session("zhang", now=0.0, lifetime_s=100.0)
    assert store.session_user(token, now=1.0, idle_s=50.0).language == "zh_CN"
    with pytest.raises(UserError):
        store.set_language("nobody", "en")


def test_the_settings_name_the_workspace_language() -> None:
    from gisapp.errors import SettingsError
    from gisapp.settings import load_settings

    assert load_settings(environ={}).language is None
    assert load_settings(environ={"GISAPP_LANGUAGE": "zh-CN"}).language == "zh_CN"
    with pytest.raises(SettingsError, match="language"):
        load_settings(environ={"GISAPP_LANGUAGE": "klingon"})
