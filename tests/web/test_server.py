"""The production server: bounded settings, cached pages that follow the workspace, the
print limit, and a workspace given by a relative path; on both stores (``backend``)."""

from __future__ import annotations

import json
import re
import shutil
import threading
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

import web.cli
import web.maps
from gisapp.cli import cli
from gisapp.settings import Settings
from gisapp.store import Workspace
from gisapp.views import plans as plan_views
from gisapp.views.cache import VersionedCache
from tests.web.conftest import PASSWORD, SAVED_PLANS
from web import create_app
from web.cli import ServerOptions, build_server, server_options, skip_departed_clients

Login = Callable[[str], None]


@pytest.fixture
def app(fresh_workspace: str, users_template: Path, tmp_path: Path) -> Flask:
    """The app over a copy of the test workspace, which the tests may change."""
    users = tmp_path / "users.sqlite"
    shutil.copy(users_template, users)
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test",
            "WORKSPACE": fresh_workspace,
            "USERS_DB": str(users),
        }
    )


@pytest.fixture
def print_limit() -> Iterator[None]:
    """Restore the process-wide print limit after the test."""
    jobs, wait_s = plan_views.print_limit()
    yield
    plan_views.limit_printing(jobs, wait_s=wait_s)


def _log_in(client: FlaskClient, name: str) -> None:
    page = client.get("/auth/login").get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match
    response = client.post(
        "/auth/login", data={"username": name, "password": PASSWORD, "csrf_token": match[1]}
    )
    assert response.status_code == 302


class _FakeServer:
    """Stands in for the waitress server: records how it was built, serves nothing."""

    def __init__(self, app: Any, *, host: str, port: int, options: ServerOptions) -> None:
        self.app, self.host, self.options = app, host, options
        self.effective_port = port
        self.ran = False

    def run(self) -> None:
        self.ran = True

    def close(self) -> None:
        pass


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[_FakeServer]:
    servers: list[_FakeServer] = []

    def fake(app: Any, **kwargs: Any) -> _FakeServer:
        servers.append(_FakeServer(app, **kwargs))
        return servers[-1]

    monkeypatch.setattr(web.cli, "build_server", fake)
    return servers


# -- the server --------------------------------------------------------------------------------


def test_server_options_are_bounded() -> None:
    options = server_options(Settings(serve_threads=4))
    assert options.threads == 4
    assert options.connection_limit == 4 * web.cli.CONNECTIONS_PER_THREAD
    assert 0 < options.backlog <= 1024
    assert 0 < options.channel_timeout <= 120 and 0 < options.cleanup_interval <= 30
    assert options.channel_request_lookahead >= 1  # a client that left is seen
    assert server_options(Settings(), threads=2).threads == 2
    with pytest.raises(Exception, match="at least 1 thread"):
        server_options(Settings(serve_threads=0))


def test_serve_builds_waitress_from_the_settings(
    workspace_location: str,
    tmp_path: Path,
    built: list[_FakeServer],
    print_limit: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # the users file of a database workspace goes here
    config = tmp_path / "gisapp.toml"
    config.write_text("serve_threads = 5\nprint_jobs = 1\nprint_wait_s = 3\n", encoding="utf-8")
    users = tmp_path / "users.sqlite"
    result = CliRunner().invoke(
        cli,
        ["--config", str(config), "serve", workspace_location, "--users-db", str(users)],
    )
    assert result.exit_code == 0, result.output
    (server,) = built
    assert server.ran and server.options.threads == 5
    assert server.options.connection_limit == 5 * web.cli.CONNECTIONS_PER_THREAD
    assert plan_views.print_limit() == (1, 3.0)
    assert "with 5 threads" in result.output
    assert f"Serving {Workspace.open(workspace_location).label} on" in result.output
    # no users yet: the hint adds one to the file the server reads
    assert f"--users-db {users.resolve()}" in result.output

    result = CliRunner().invoke(cli, ["serve", workspace_location, "--threads", "3"])
    assert result.exit_code == 0, result.output
    assert built[-1].options.threads == 3
    result = CliRunner().invoke(cli, ["serve", workspace_location, "--threads", "0"])
    assert result.exit_code == 2 and "--threads" in result.output


def test_departed_client_is_not_served() -> None:
    calls: list[str] = []

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        calls.append(environ["PATH_INFO"])
        start_response("200 OK", [])
        return [b"page"]

    statuses: list[str] = []
    wrapped = skip_departed_clients(app)
    gone = {"PATH_INFO": "/gone", "waitress.client_disconnected": lambda: True}
    here = {"PATH_INFO": "/here", "waitress.client_disconnected": lambda: False}
    assert wrapped(gone, lambda status, headers: statuses.append(status)) == [b""]
    assert wrapped(here, lambda status, headers: statuses.append(status)) == [b"page"]
    assert calls == ["/here"]
    assert statuses[0].startswith("499")


@pytest.mark.slow
def test_real_waitress_server_answers_on_a_free_port(app: Flask) -> None:
    server = build_server(
        app, host="127.0.0.1", port=0, options=server_options(Settings(), threads=2)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.effective_port}/auth/login"
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.status == 200
            assert b"csrf_token" in response.read()
    finally:
        server.task_dispatcher.shutdown()
        server.close()
        thread.join(timeout=10)


# -- cached pages that follow the workspace ----------------------------------------------------


def test_grid_map_is_cached_until_the_workspace_is_saved(
    app: Flask, client: FlaskClient, login: Login, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str | None] = []
    real = web.maps.grid_map

    def counting(ws: Workspace, **kwargs: Any) -> Any:
        calls.append(kwargs.get("unit_id"))
        return real(ws, **kwargs)

    monkeypatch.setattr(web.maps, "grid_map", counting)
    login("captain")
    first = client.get("/maps/grids/map.html")
    second = client.get("/maps/grids/map.html")
    assert first.status_code == second.status_code == 200
    assert len(calls) == 1  # (the bodies differ only by the per-request script nonce)
    assert client.get("/maps/grids/map.html?color_by=officer").status_code == 200
    assert len(calls) == 2  # another choice is another page

    ws = Workspace.open(app.config["WORKSPACE"])
    grids = ws.layer("grids")
    grids.loc[grids["id"] == "G1", "team"] = "Team Z"
    ws.save({"grids": grids})
    third = client.get("/maps/grids/map.html")
    assert len(calls) == 3 and b"Team Z" in third.data


def test_summary_is_computed_once_per_version(
    app: Flask, client: FlaskClient, login: Login, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Workspace] = []
    real = web.maps.workspace_summary

    def counting(ws: Workspace) -> dict[str, Any]:
        calls.append(ws)
        return real(ws)

    monkeypatch.setattr(web.maps, "workspace_summary", counting)
    login("officer1")
    for _ in range(3):
        assert client.get("/maps/").status_code == 200
    assert len(calls) == 1


def test_hotspot_map_is_drawn_and_rendered_once(
    client: FlaskClient, login: Login, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gisapp.views.hotspots
    import gisapp.views.maps

    drawn: list[int] = []
    rendered: list[bool] = []
    draw, render = gisapp.views.hotspots.render_hotspot_map, gisapp.views.maps.maps.render_html

    def counting_draw(*args: Any, **kwargs: Any) -> Any:
        drawn.append(1)
        return draw(*args, **kwargs)

    def counting_render(m: Any, **kwargs: Any) -> str:
        rendered.append(bool(kwargs.get("inline_assets")))
        return render(m, **kwargs)

    monkeypatch.setattr(gisapp.views.hotspots, "render_hotspot_map", counting_draw)
    monkeypatch.setattr(gisapp.views.maps.maps, "render_html", counting_render)
    login("captain")
    for _ in range(3):
        response = client.get("/hotspots/map.html?shift=day&method=counts")
        assert response.status_code == 200, response.get_data(as_text=True)
    assert drawn == [1] and rendered == [False]


def test_layer_added_by_the_cli_is_served_without_restart(
    app: Flask, client: FlaskClient, login: Login, tmp_path: Path
) -> None:
    login("captain")
    assert client.get("/api/layers/stations.geojson").status_code == 404
    assert "stations" not in client.get("/maps/").get_data(as_text=True)
    stations = tmp_path / "stations.geojson"
    stations.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"id": f"S{i}", "name": f"Station {i}", "kind": "station"},
                        "geometry": {"type": "Point", "coordinates": [-72.92 - i / 100, 41.31]},
                    }
                    for i in (1, 2)
                ],
            }
        ),
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        cli, ["import", f"stations={stations}", "--out", app.config["WORKSPACE"]]
    )
    assert result.exit_code == 0, result.output
    response = client.get("/api/layers/stations.geojson")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert sorted(f["properties"]["id"] for f in response.get_json()["features"]) == ["S1", "S2"]
    assert "stations" in client.get("/maps/").get_data(as_text=True)


# -- the print limit ---------------------------------------------------------------------------


def test_print_limit_answers_503_with_retry_after(
    plans_app: Flask, monkeypatch: pytest.MonkeyPatch, print_limit: None
) -> None:
    entered, release = threading.Event(), threading.Event()
    runs: list[int] = []

    def slow_chromium(exe: Path, jobs: Iterable[Any], *, viewport: Any) -> Iterator[bytes]:
        runs.append(1)
        for _job in jobs:
            entered.set()
            assert release.wait(timeout=60)
            yield b"%PDF-fake"

    monkeypatch.setattr("gisapp.render.printing.chromium_executable", lambda path=None: Path("x"))
    monkeypatch.setattr("gisapp.render.printing._run_chromium", slow_chromium)
    plan_views.limit_printing(1, wait_s=0.0)
    url = f"/plans/{list(SAVED_PLANS.values())[-1]}/download/pdf"
    first_client, second_client = plans_app.test_client(), plans_app.test_client()
    _log_in(first_client, "captain")
    _log_in(second_client, "captain")
    first: list[Any] = []
    worker = threading.Thread(target=lambda: first.append(first_client.get(url)))
    worker.start()
    try:
        assert entered.wait(timeout=60)
        busy = second_client.get(url)
        assert busy.status_code == 503
        assert busy.headers["Retry-After"] == "60"
        assert "Another briefing is being printed; try again in a minute" in busy.get_data(
            as_text=True
        )
    finally:
        release.set()
        worker.join(timeout=60)
    assert first[0].status_code == 200 and first[0].data == b"%PDF-fake"
    assert len(runs) == 1
    # The slot is free again.
    assert second_client.get(url).data == b"%PDF-fake"


# -- a workspace given by a relative path --------------------------------------------------------


def test_workspace_download_with_a_relative_path(
    # only a file has a relative path: this one stays on a GeoPackage
    workspace_file: Path,
    users_template: Path,
    tmp_path: Path,
    built: list[_FakeServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "demo-out").mkdir()
    shutil.copy(workspace_file, tmp_path / "demo-out" / "ws.gpkg")
    shutil.copy(users_template, tmp_path / "demo-out" / "users.sqlite")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        cli,
        ["serve", "demo-out/ws.gpkg", "--users-db", "demo-out/users.sqlite", "--secret-key", "k"],
    )
    assert result.exit_code == 0, result.output
    app = built[0].app
    # The server's directory changes after start-up; the workspace must still be found.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    client = app.test_client()
    _log_in(client, "captain")
    response = client.get("/exports/workspace.gpkg")
    assert response.status_code == 200, response.get_data(as_text=True)
    download = tmp_path / "download.gpkg"
    download.write_bytes(response.data)
    response.close()
    source = Workspace.open(tmp_path / "demo-out" / "ws.gpkg")
    assert Workspace.open(download).layer_names() == source.layer_names()
    assert client.get("/maps/grids/map.html").status_code == 200


# -- the cache itself --------------------------------------------------------------------------


def test_cache_is_bounded_and_computes_a_key_once() -> None:
    cache = VersionedCache(max_entries=2, max_bytes=10)
    assert cache.get("a", lambda: "aaaa") == "aaaa"
    assert cache.get("a", lambda: "other") == "aaaa"
    cache.get("b", lambda: "bbbb")
    cache.get("c", lambda: "cccc")  # two entries at most: "a" goes
    assert cache.get("a", lambda: "new") == "new"
    cache.get("big", lambda: "x" * 11)  # above the byte bound alone: not kept
    assert len(cache) == 2 and cache.get("big", lambda: "again") == "again"

    started, release = threading.Event(), threading.Event()
    computed: list[int] = []

    def slow() -> str:
        computed.append(1)
        started.set()
        release.wait(timeout=30)
        return "page"

    results: list[str] = []
    first = threading.Thread(target=lambda: results.append(cache.get("page", slow)))
    first.start()
    assert started.wait(timeout=30)
    second = threading.Thread(target=lambda: results.append(cache.get("page", slow)))
    second.start()
    release.set()
    first.join(timeout=30)
    second.join(timeout=30)
    assert results == ["page", "page"] and len(computed) == 1
