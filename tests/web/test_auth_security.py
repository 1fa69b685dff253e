"""Sign-in security: same-site redirects, recorded sessions that sign-out, a new password
or a disabled account end, sign-in throttling, private files, no caching, a strict CSP."""

from __future__ import annotations

import os
import re
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gisapp.store.users import UserError, UserStore
from web.auth import safe_next
from web.security import add_script_nonce, is_map_page
from web.throttle import LoginThrottle, ThrottlePolicy

#: Password of the users of the ``app`` fixture (tests/web/conftest.py).
PASSWORD = "correct horse battery"

Login = Callable[..., None]
CsrfFrom = Callable[[FlaskClient, str], str]


class FakeClock:
    """A clock the tests move by hand (seconds since the epoch)."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def clock(app: Flask) -> FakeClock:
    fake = FakeClock()
    app.config["CLOCK"] = fake
    return fake


def _post_login(
    client: FlaskClient, csrf_from: CsrfFrom, name: str, password: str, query: str = ""
) -> tuple[int, str, str | None]:
    token = csrf_from(client, "/auth/login")
    response = client.post(
        f"/auth/login{query}",
        data={"username": name, "password": password, "csrf_token": token},
    )
    return response.status_code, response.get_data(as_text=True), response.headers.get("Location")


def _session_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def _replay(app: Flask, cookie: str, path: str = "/maps/") -> int:
    """Send ``cookie`` from a fresh browser; return the status of ``path``."""
    other = app.test_client()
    other.set_cookie("session", cookie)
    return other.get(path).status_code


# -- redirects after sign-in --------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "/\t/evil.example",
        "//evil",
        "/\\evil",
        "\\\\evil",
        "https://evil",
        "http:/evil",
        "javascript:alert(1)",
        "/maps/\r\nSet-Cookie: a=b",
        "/%09/evil.example",
        "/%2F/evil.example",
        " /maps/",
        "/maps/\x00",
        "maps/",
        "",
        None,
    ],
)
def test_off_site_or_odd_targets_are_refused(target: str | None) -> None:
    assert safe_next(target) is None


@pytest.mark.parametrize("target", ["/", "/maps/grids?unit=U1&color_by=team", "/plans/x%20y"])
def test_site_paths_are_kept(target: str) -> None:
    assert safe_next(target) == target


@pytest.mark.parametrize(
    "query",
    [
        "?next=/%09/evil.example",
        "?next=//evil",
        "?next=/%5Cevil",
        "?next=https://evil",
        "?next=/maps/%0D%0ASet-Cookie:%20a=b",
        "?next=javascript:alert(1)",
    ],
)
def test_login_sends_odd_targets_to_the_overview(
    client: FlaskClient, csrf_from: CsrfFrom, query: str
) -> None:
    status, _, location = _post_login(client, csrf_from, "captain", PASSWORD, query)
    assert (status, location) == (302, "/maps/")


def test_login_follows_a_site_path(client: FlaskClient, csrf_from: CsrfFrom) -> None:
    status, _, location = _post_login(client, csrf_from, "captain", PASSWORD, "?next=/maps/grids")
    assert (status, location) == (302, "/maps/grids")


# -- sessions ------------------------------------------------------------------------------


def test_logout_ends_a_copied_cookie(
    app: Flask, client: FlaskClient, login: Login, csrf_from: CsrfFrom
) -> None:
    login("captain")
    copied = _session_cookie(client)
    assert _replay(app, copied) == 200
    client.post("/auth/logout", data={"csrf_token": csrf_from(client, "/maps/")})
    assert client.get("/maps/").status_code == 302
    other = app.test_client()
    other.set_cookie("session", copied)
    response = other.get("/maps/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login")
    assert other.get("/api/layers/grids.geojson").status_code == 401


def test_cookie_holds_only_a_session_token(app: Flask, client: FlaskClient, login: Login) -> None:
    login("captain")
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    data = serializer.loads(_session_cookie(client))
    assert set(data) <= {"sid", "_permanent", "_csrf_token"} and len(data["sid"]) >= 40
    assert "captain" not in data.values()


def test_admin_new_password_ends_the_users_sessions(
    app: Flask, client: FlaskClient, login: Login, csrf_from: CsrfFrom
) -> None:
    captain = app.test_client()
    _post_login(captain, csrf_from, "captain", PASSWORD)
    copied = _session_cookie(captain)
    assert _replay(app, copied) == 200

    login("admin")
    response = client.post(
        "/admin/users/captain/password",
        data={"password": "a new long password", "csrf_token": csrf_from(client, "/admin/users")},
    )
    assert response.status_code == 302
    assert "signed out everywhere" in client.get("/admin/users").get_data(as_text=True)
    assert _replay(app, copied) == 302
    assert captain.get("/maps/").status_code == 302
    assert _post_login(captain, csrf_from, "captain", PASSWORD)[0] == 200
    assert _post_login(captain, csrf_from, "captain", "a new long password")[0] == 302


def test_admin_short_password_is_refused_in_plain_words(
    client: FlaskClient, login: Login, csrf_from: CsrfFrom
) -> None:
    login("admin")
    client.post(
        "/admin/users/captain/password",
        data={"password": "short", "csrf_token": csrf_from(client, "/admin/users")},
    )
    page = client.get("/admin/users").get_data(as_text=True)
    assert "captain: password is shorter than 8 characters." in page


def test_disabling_ends_sessions_and_sign_in(
    app: Flask, client: FlaskClient, login: Login, csrf_from: CsrfFrom
) -> None:
    officer = app.test_client()
    _post_login(officer, csrf_from, "officer1", PASSWORD)
    copied = _session_cookie(officer)
    assert _replay(app, copied) == 200

    login("admin")
    token = csrf_from(client, "/admin/users")
    client.post("/admin/users/officer1/disabled", data={"disabled": "1", "csrf_token": token})
    assert _replay(app, copied) == 302
    status, page, _ = _post_login(officer, csrf_from, "officer1", PASSWORD)
    assert status == 200 and "Wrong user name or password" in page
    assert "disabled" in client.get("/admin/users").get_data(as_text=True)

    client.post("/admin/users/officer1/disabled", data={"disabled": "0", "csrf_token": token})
    assert _post_login(officer, csrf_from, "officer1", PASSWORD)[0] == 302


def test_admin_cannot_disable_himself(
    client: FlaskClient, login: Login, csrf_from: CsrfFrom
) -> None:
    login("admin")
    token = csrf_from(client, "/admin/users")
    client.post("/admin/users/admin/disabled", data={"disabled": "1", "csrf_token": token})
    page = client.get("/admin/users").get_data(as_text=True)
    assert "You cannot disable your own account" in page


def test_unknown_user_in_admin_action_is_404(
    client: FlaskClient, login: Login, csrf_from: CsrfFrom
) -> None:
    login("admin")
    token = csrf_from(client, "/admin/users")
    response = client.post(
        "/admin/users/nobody/disabled", data={"disabled": "1", "csrf_token": token}
    )
    assert response.status_code == 404
    assert "There is no user" in response.get_data(as_text=True)


def test_own_password_change_keeps_this_browser_and_ends_the_others(
    app: Flask, client: FlaskClient, login: Login, csrf_from: CsrfFrom
) -> None:
    login("captain")
    elsewhere = app.test_client()
    _post_login(elsewhere, csrf_from, "captain", PASSWORD)
    token = csrf_from(client, "/auth/password")
    wrong = client.post(
        "/auth/password",
        data={
            "current_password": "not it at all",
            "new_password": "another long one",
            "confirm_password": "another long one",
            "csrf_token": token,
        },
    )
    assert "The current password is wrong." in wrong.get_data(as_text=True)
    response = client.post(
        "/auth/password",
        data={
            "current_password": PASSWORD,
            "new_password": "another long one",
            "confirm_password": "another long one",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    assert client.get("/maps/").status_code == 200
    assert elsewhere.get("/maps/").status_code == 302


def test_sessions_end_when_idle_and_at_their_lifetime(
    app: Flask, client: FlaskClient, csrf_from: CsrfFrom, clock: FakeClock
) -> None:
    app.config["SESSION_IDLE_TIMEOUT"] = 3600
    _post_login(client, csrf_from, "captain", PASSWORD)
    clock.advance(3599)
    assert client.get("/maps/").status_code == 200
    clock.advance(3601)  # an hour and a second without a request
    assert client.get("/maps/").status_code == 302

    _post_login(client, csrf_from, "captain", PASSWORD)
    for _ in range(12):  # active every 59 minutes, 11 h 48 min in all
        clock.advance(59 * 60)
        assert client.get("/maps/").status_code == 200
    clock.advance(13 * 60)  # 12 h 1 min after sign-in
    assert client.get("/maps/").status_code == 302


def test_session_table_keeps_only_live_sessions(tmp_path: Path) -> None:
    store = UserStore(tmp_path / "users.sqlite")
    store.add("captain", PASSWORD, role="captain")
    for i in range(5):
        store.start_session("captain", now=1000.0 + i, lifetime_s=10.0)
    store.start_session("captain", now=2000.0, lifetime_s=10.0)
    with sqlite3.connect(store.path) as con:
        assert con.execute("SELECT COUNT(*) FROM sessions").fetchone() == (1,)
        (stored,) = con.execute("SELECT token_hash FROM sessions").fetchone()
    assert len(stored) == 64  # a SHA-256, never the token itself


def test_store_changes_end_the_users_sessions(tmp_path: Path) -> None:
    store = UserStore(tmp_path / "users.sqlite")
    store.add("captain", PASSWORD, role="captain")
    store.add("officer", PASSWORD, role="officer", unit_id="U1")

    def live(token: str) -> bool:
        return store.session_user(token, now=10.0, idle_s=100.0) is not None

    other = store.start_session("officer", now=0.0, lifetime_s=100.0)
    for change in (
        lambda: store.add("captain", "another password", role="captain", replace=True),
        lambda: store.set_password("captain", "a third password"),
        lambda: store.set_disabled("captain", True),
    ):
        store.set_disabled("captain", False)
        token = store.start_session("captain", now=0.0, lifetime_s=100.0)
        assert live(token)
        change()
        assert not live(token)
    assert live(other)
    assert store.end_sessions("officer") == 1 and not live(other)
    with pytest.raises(UserError, match="there is no user 'nobody'"):
        store.set_password("nobody", "long enough")


# -- throttling ------------------------------------------------------------------------------


def test_account_locks_after_five_failures_then_opens_again(
    app: Flask, client: FlaskClient, csrf_from: CsrfFrom, clock: FakeClock
) -> None:
    for _ in range(4):
        status, page, _ = _post_login(client, csrf_from, "captain", "wrong password")
        assert status == 200 and "Wrong user name or password" in page
    status, page, _ = _post_login(client, csrf_from, "captain", "wrong password")
    assert status == 429
    assert (
        "Too many failed sign-ins for this account; try again in 5 minutes "
        "or ask an administrator." in page
    )
    status, page, _ = _post_login(client, csrf_from, "captain", PASSWORD)
    assert status == 429 and "try again in 5 minutes" in page
    clock.advance(4 * 60 + 1)
    status, page, _ = _post_login(client, csrf_from, "captain", PASSWORD)
    assert status == 429 and "try again in 1 minute " in page
    # another account from the same computer is not locked
    assert _post_login(app.test_client(), csrf_from, "admin", PASSWORD)[0] == 302
    clock.advance(60)
    assert _post_login(client, csrf_from, "captain", PASSWORD)[0] == 302


def test_locked_attempts_are_refused_before_hashing(
    client: FlaskClient, csrf_from: CsrfFrom, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(5):
        _post_login(client, csrf_from, "captain", "wrong password")
    calls: list[str] = []
    original = UserStore.authenticate

    def counting(self: UserStore, name: str, password: str) -> object:
        calls.append(name)
        return original(self, name, password)

    monkeypatch.setattr(UserStore, "authenticate", counting)
    for _ in range(20):
        assert _post_login(client, csrf_from, "captain", "wrong password")[0] == 429
    assert calls == []


def test_lock_grows_after_each_lockout(
    client: FlaskClient, csrf_from: CsrfFrom, clock: FakeClock
) -> None:
    for _ in range(5):
        _post_login(client, csrf_from, "captain", "wrong password")
    clock.advance(5 * 60)
    for _ in range(5):
        status, page, _ = _post_login(client, csrf_from, "captain", "wrong password")
    assert status == 429 and "try again in 10 minutes" in page


def test_failures_outside_the_window_do_not_lock(
    client: FlaskClient, csrf_from: CsrfFrom, clock: FakeClock
) -> None:
    for _ in range(3):
        _post_login(client, csrf_from, "captain", "wrong password")
    clock.advance(15 * 60)
    for _ in range(4):
        assert _post_login(client, csrf_from, "captain", "wrong password")[0] == 200
    assert _post_login(client, csrf_from, "captain", PASSWORD)[0] == 302


def test_one_address_guessing_many_names_is_locked(
    client: FlaskClient, csrf_from: CsrfFrom, clock: FakeClock
) -> None:
    for i in range(19):
        assert _post_login(client, csrf_from, f"guess{i}", "wrong password")[0] == 200
    status, page, _ = _post_login(client, csrf_from, "guess19", "wrong password")
    assert status == 429 and "Too many failed sign-ins from this computer" in page
    assert _post_login(client, csrf_from, "captain", PASSWORD)[0] == 429


def test_admin_new_password_lifts_the_lock(
    app: Flask, client: FlaskClient, login: Login, csrf_from: CsrfFrom, clock: FakeClock
) -> None:
    officer = app.test_client()
    for _ in range(5):
        _post_login(officer, csrf_from, "officer1", "wrong password")
    assert _post_login(officer, csrf_from, "officer1", PASSWORD)[0] == 429
    login("admin")
    client.post(
        "/admin/users/officer1/password",
        data={"password": "fresh password", "csrf_token": csrf_from(client, "/admin/users")},
    )
    assert _post_login(officer, csrf_from, "officer1", "fresh password")[0] == 302


def test_throttle_is_shared_between_instances_and_bounded(tmp_path: Path) -> None:
    path = tmp_path / "throttle.sqlite"
    policy = ThrottlePolicy(max_failures=3, max_address_failures=100, max_entries=50)
    first, second = LoginThrottle(path, policy), LoginThrottle(path, policy)
    first.record_failure("captain", None, now=0.0)
    second.record_failure("captain", None, now=1.0)
    lock = first.record_failure("Captain ", None, now=2.0)
    assert lock is not None and lock.kind == "account" and lock.remaining_s == 300.0
    assert second.check("captain", "10.0.0.1", now=100.0) == type(lock)("account", 202.0)
    assert second.check("captain", "10.0.0.1", now=302.0) is None

    for i in range(400):
        first.record_failure(f"name{i}", f"10.0.{i // 200}.{i % 200}", now=10.0 + i)
    with sqlite3.connect(path) as con:
        (count,) = con.execute("SELECT COUNT(*) FROM login_failures").fetchone()
    assert count == 50


# -- files, caching, headers -------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_users_and_throttle_files_are_private(tmp_path: Path) -> None:
    store = UserStore(tmp_path / "new.sqlite")
    store.add("captain", PASSWORD, role="captain")
    assert _mode(store.path) == 0o600

    loose = tmp_path / "old.sqlite"
    with sqlite3.connect(loose) as con:
        con.execute(
            "CREATE TABLE users (name TEXT PRIMARY KEY, password_hash TEXT NOT NULL, "
            "role TEXT NOT NULL, unit_id TEXT)"
        )
        con.execute("INSERT INTO users VALUES ('old', 'x', 'captain', NULL)")
    os.chmod(loose, 0o644)
    user = UserStore(loose).get("old")  # a file from before accounts could be disabled
    assert user is not None and user.disabled is False
    assert _mode(loose) == 0o600

    throttle = LoginThrottle(tmp_path / "throttle.sqlite")
    throttle.record_failure("captain", "10.0.0.1", now=0.0)
    assert _mode(throttle.path) == 0o600


def test_app_files_are_private_after_a_sign_in(
    app: Flask, client: FlaskClient, csrf_from: CsrfFrom
) -> None:
    _post_login(client, csrf_from, "captain", "wrong password")
    assert _mode(Path(app.config["USERS_DB"])) == 0o600
    assert _mode(Path(app.config["LOGIN_THROTTLE_DB"])) == 0o600


def test_no_store_on_pages_and_api_but_not_static(client: FlaskClient, login: Login) -> None:
    assert client.get("/auth/login").headers["Cache-Control"] == "no-store"
    assert client.get("/api/layers/grids.geojson").headers["Cache-Control"] == "no-store"
    login("captain")
    for path in ("/maps/", "/maps/grids/map.html", "/api/layers/grids.geojson"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store", path
    with client.get("/static/style.css") as static:
        assert static.status_code == 200
        assert "no-store" not in static.headers.get("Cache-Control", "")


def _csp_nonce(header: str) -> str:
    (script_src,) = [d for d in header.split(";") if d.strip().startswith("script-src")]
    assert "unsafe-inline" not in script_src and "unsafe-eval" not in script_src
    match = re.fullmatch(r"\s*script-src 'self' 'nonce-([A-Za-z0-9_-]+)'\s*", script_src)
    assert match, script_src
    return match.group(1)


def test_csp_allows_only_nonced_inline_scripts(client: FlaskClient, login: Login) -> None:
    login("captain")
    nonces = set()
    for path in ("/maps/", "/maps/grids", "/maps/grids/map.html", "/maps/overview/map.html"):
        response = client.get(path)
        header = response.headers["Content-Security-Policy"]
        nonce = _csp_nonce(header)
        nonces.add(nonce)
        assert "object-src 'none'" in header and "base-uri 'none'" in header
        page = response.get_data(as_text=True)
        tags = re.findall(r"<script[^>]*>", page)
        assert all(f'nonce="{nonce}"' in tag for tag in tags), (path, tags)
        if path.endswith("map.html"):
            assert len(tags) >= 2  # Leaflet and the map's own script
            assert "alert(1)" not in "".join(tags)
    assert len(nonces) == 4  # new for every response


def test_add_script_nonce_skips_script_text() -> None:
    page = (
        '<!DOCTYPE html><html><script src="/l.js"></script>'
        '<script>var s = "<script>";</script><p>&lt;script&gt;</p>'
        "<SCRIPT>1</SCRIPT><scripts></scripts></html>"
    )
    assert add_script_nonce(page, "n0") == (
        '<!DOCTYPE html><html><script nonce="n0" src="/l.js"></script>'
        '<script nonce="n0">var s = "<script>";</script><p>&lt;script&gt;</p>'
        '<SCRIPT nonce="n0">1</SCRIPT><scripts></scripts></html>'
    )
    with pytest.raises(ValueError, match="base64"):
        add_script_nonce(page, 'x" onload="y')
    assert not is_map_page(page)
    assert is_map_page('<!DOCTYPE html>\n<div class="folium-map" id="m"></div>')
