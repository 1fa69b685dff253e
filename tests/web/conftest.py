"""Fixtures: a small real workspace (New Haven incidents and streets, hand-made grids), and
the bundled New Haven sample with two saved shift plans.

The app serves its workspace from the store of the module's ``backend`` (a GeoPackage file
or a PostGIS schema, ``tests/conftest.py``): the workspaces are built once as GeoPackage
files (``workspace_file``, ``plans_workspace``) and copied onto that store through the copy
service, as ``gisapp copy`` does.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from gisapp.render.browser import CHROMIUM_ARGS, CHROMIUM_PATH
from gisapp.samples import get_path
from gisapp.services.plan import plan_shift
from gisapp.settings import Settings
from gisapp.store import Workspace
from gisapp.store.plans import save_plan
from gisapp.store.users import UserStore
from gisapp.store.workspace import copy_workspace
from tests.conftest import fresh_schema
from web import create_app

SharedData = Callable[[str], Path]

PASSWORD = "correct horse battery"
HOSTILE = "<script>alert(1)</script>"
#: Day of the saved plans.
PLAN_DAY = dt.date(2014, 9, 18)
#: The two plans saved in the plans workspace, oldest first: (shift name, seed), plan id.
SAVED_PLANS = {("late", 1): "2014-09-18-late-s1", ("night", 2): "2014-09-18-night-s2"}

#: 2 x 3 grids over downtown New Haven: (id, team, officer, unit_id).
GRID_ROWS = [
    ("G1", "Team A", "Li Wei", "U1"),
    ("G2", "Team A", "Li Wei", "U1"),
    ("G3", "Team B", "Zhang Min", "U2"),
    ("G4", "Team B", "Zhang Min", "U2"),
    ("G5", "Team C", "Wang Fang", "U3"),
    ("G6", "Team C", HOSTILE, "U3"),
]


def build_workspace(path: Path, source: Path) -> Path:
    """Write a workspace GeoPackage following the storage conventions from the New Haven data."""
    raw = gpd.read_file(source, layer="incidents")
    minx, miny, maxx, maxy = -72.945, 41.295, -72.905, 41.325
    boxes = [
        shapely.box(x0, y0, x0 + (maxx - minx) / 3, y0 + (maxy - miny) / 2)
        for y0 in (miny, miny + (maxy - miny) / 2)
        for x0 in np.linspace(minx, maxx, 4)[:3]
    ]
    grids = gpd.GeoDataFrame(
        {
            "id": [r[0] for r in GRID_ROWS],
            "community_id": ["C1"] * 3 + ["C2"] * 3,
            "officer": [r[2] for r in GRID_ROWS],
            "team": [r[1] for r in GRID_ROWS],
            "phone": ["203-555-0100"] * 6,
            "unit_id": [r[3] for r in GRID_ROWS],
        },
        geometry=boxes,
        crs=4326,
    )
    day = raw["date"].str.extract(r"(\d+)")[0].astype(int)
    incidents = gpd.GeoDataFrame(
        {
            "id": [f"NH{i:05d}" for i in range(len(raw))],
            # Stored in UTC, as the workspace convention says; local noon of each day.
            "occurred_at": (pd.to_datetime("2014-09-01 12:00") + pd.to_timedelta(day - 1, unit="D"))
            .dt.tz_localize("America/New_York")
            .dt.tz_convert("UTC"),
            "category": raw["dataset"],
            "description": raw["street"],
            "address": raw["street"],
        },
        geometry=raw.geometry,
        crs=4326,
    )
    incidents.loc[0, "description"] = HOSTILE
    roads = gpd.read_file(source, layer="streets").rename(
        columns={"FULLNAME": "name", "MTFCC": "highway"}
    )[["name", "highway", "geometry"]]
    grids.to_file(path, layer="grids", driver="GPKG")
    incidents.to_file(path, layer="incidents", driver="GPKG")
    roads.to_file(path, layer="roads", driver="GPKG")
    units = pd.DataFrame(
        {
            "id": ["U1", "U2", "U3"],
            "mode": ["car", "ebike", "foot"],
            "station_id": ["S1"] * 3,
            "grid_ids": ["G1,G2", "G3,G4", "G5,G6"],
        }
    )
    meta = pd.DataFrame(
        {
            "key": ["name", "timezone", "description", "layer_notes"],
            "value": [
                "New Haven test",
                "America/New_York",
                "Test workspace",
                json.dumps(
                    {
                        "incidents": "real",
                        "roads": "real: US Census TIGER",
                        "grids": "generated: 2 x 3 boxes",
                    }
                ),
            ],
        }
    )
    pyogrio.write_dataframe(units, path, layer="units", driver="GPKG")
    pyogrio.write_dataframe(meta, path, layer="gisapp_meta", driver="GPKG")
    return path


@contextmanager
def workspace_copy(backend: str, source: Path, folder: Path) -> Iterator[str]:
    """A fresh copy of the GeoPackage workspace ``source`` on ``backend``, as a location.

    On ``gpkg`` the file is copied into ``folder``; on ``postgis`` the copy service writes
    it into a new schema of the test server, dropped after.
    """
    if backend == "gpkg":
        path = folder / source.name
        shutil.copyfile(source, path)
        yield str(path)
        return
    with fresh_schema() as url:
        copy_workspace(Workspace.open(source), url)
        yield url


def workspace_state(location: str) -> tuple[str, str | None]:
    """What changes when anything is saved into the workspace at ``location``: its version
    stamp, and the digest of its file when it is one (a refused upload leaves both)."""
    ws = Workspace.open(location)
    file = ws.backend.path
    return ws.version, hashlib.sha256(file.read_bytes()).hexdigest() if file else None


@pytest.fixture(scope="session")
def workspace_file(tmp_path_factory: pytest.TempPathFactory, shared_data: SharedData) -> Path:
    """The test workspace as a GeoPackage file (the template: tests copy it, never change it)."""
    return build_workspace(
        tmp_path_factory.mktemp("ws") / "test.gpkg", shared_data("new_haven.gpkg")
    )


@pytest.fixture(scope="module")
def workspace_location(
    backend: str, workspace_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The test workspace on the module's store, shared by its tests: read it, never change it
    (use ``fresh_workspace`` for that)."""
    with workspace_copy(backend, workspace_file, tmp_path_factory.mktemp("ws-copy")) as location:
        yield location


@pytest.fixture
def fresh_workspace(backend: str, workspace_file: Path, tmp_path: Path) -> Iterator[str]:
    """A fresh copy of the test workspace on the module's store; the test may change it."""
    with workspace_copy(backend, workspace_file, tmp_path) as location:
        yield location


@pytest.fixture(scope="session")
def users_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Password hashing is slow on purpose: hash once, copy the file per test.
    path = tmp_path_factory.mktemp("users") / "users.sqlite"
    store = UserStore(path)
    store.add("admin", PASSWORD, role="admin")
    store.add("captain", PASSWORD, role="captain")
    store.add("officer1", PASSWORD, role="officer", unit_id="U1")
    return path


@pytest.fixture
def app(workspace_location: str, users_template: Path, tmp_path: Path) -> Flask:
    """The app over the module's shared test workspace (its tests only read it)."""
    users = tmp_path / "users.sqlite"
    shutil.copyfile(users_template, users)
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test",
            "WORKSPACE": workspace_location,
            "USERS_DB": str(users),
            "MAX_CONTENT_LENGTH": 64 * 1024,
        }
    )


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _csrf_from(client: FlaskClient, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


@pytest.fixture
def csrf_from() -> Callable[[FlaskClient, str], str]:
    """GET a page and return the CSRF token of its form."""
    return _csrf_from


@pytest.fixture
def login(client: FlaskClient) -> Callable[[str], None]:
    """Log ``client`` in as a user of the ``app`` fixture."""

    def do_login(name: str, password: str = PASSWORD) -> None:
        token = _csrf_from(client, "/auth/login")
        response = client.post(
            "/auth/login", data={"username": name, "password": password, "csrf_token": token}
        )
        assert response.status_code == 302, response.get_data(as_text=True)

    return do_login


# -- the New Haven sample with saved plans -----------------------------------------------------


@pytest.fixture(scope="session")
def plans_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The New Haven sample with three units (two cars on every shift, one day e-bike)
    and two saved plans of the two cars (late 22:00-06:00, then night), as a GeoPackage
    file (the template: tests copy it, never change it)."""
    path = tmp_path_factory.mktemp("plans") / "new_haven.gpkg"
    shutil.copy(get_path("new_haven"), path)
    ws = Workspace.open(path)
    units = ws.layer("units")
    units = units[units["id"].isin(["car-1", "car-2", "ebike-1"])].reset_index(drop=True)
    ws.save({"units": units})
    settings = Settings()
    created = ["2024-01-01T10:00Z", "2024-01-01T11:00Z"]
    for ((shift, seed), plan_id), when in zip(SAVED_PLANS.items(), created, strict=True):
        plan = plan_shift(
            ws,
            shift=settings.shift(shift),
            date=PLAN_DAY,
            unit_ids=["car-1", "car-2"],
            seed=seed,
            settings=settings,
            n_hotspots=6,
            search_budget=3_000,
        )
        assert save_plan(plan.record, ws, created=pd.Timestamp(when)) == plan_id
    return path


@pytest.fixture(scope="session")
def plans_users(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("plan-users") / "users.sqlite"
    store = UserStore(path)
    store.add("captain", PASSWORD, role="captain")
    store.add("car1", PASSWORD, role="officer", unit_id="car-1")
    store.add("bike1", PASSWORD, role="officer", unit_id="ebike-1")
    return path


@pytest.fixture
def plans_location(backend: str, plans_workspace: Path, tmp_path: Path) -> Iterator[str]:
    """A fresh copy of the plans workspace on the module's store."""
    with workspace_copy(backend, plans_workspace, tmp_path) as location:
        yield location


@pytest.fixture
def plans_app(plans_location: str, plans_users: Path, tmp_path: Path) -> Flask:
    """The app over a fresh copy of the plans workspace (plans made on it stay in the copy)."""
    users = tmp_path / "plan-users.sqlite"
    shutil.copy(plans_users, users)
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test",
            "WORKSPACE": plans_location,
            "USERS_DB": str(users),
            # a small search: the plans are the same from any door, only quicker to make
            "SETTINGS": Settings(plan_effort=3_000),
        }
    )


# -- real Chromium against a live server on 127.0.0.1 ----------------------------------------


@contextmanager
def live_server_of(app: Flask) -> Iterator[str]:
    """Serve ``app`` on a free port of 127.0.0.1 in a thread; yield its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    with live_server_of(app) as base:
        yield base


@pytest.fixture
def plans_live_server(plans_app: Flask) -> Iterator[str]:
    with live_server_of(plans_app) as base:
        yield base


@dataclass
class LocalBrowser:
    """A Chromium page allowed to reach 127.0.0.1 only, recording what it tried."""

    page: Any
    blocked: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def login(self, base: str, user: str, password: str = PASSWORD) -> None:
        """Log in on the page the app redirected to (or the login page)."""
        if "/auth/login" not in self.page.url:
            self.page.goto(f"{base}/auth/login")
        self.page.fill("input[name=username]", user)
        self.page.fill("input[name=password]", password)
        self.page.click("button[type=submit]")


@pytest.fixture
def chromium() -> Iterator[LocalBrowser]:
    """Debian's Chromium through Playwright; every request off 127.0.0.1 is refused."""
    if not CHROMIUM_PATH.exists():
        pytest.skip(f"{CHROMIUM_PATH} is not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM_PATH), args=list(CHROMIUM_ARGS))
        try:
            context = browser.new_context()
            local = LocalBrowser(page=None)

            def only_local(route: Any) -> None:
                if urlsplit(route.request.url).hostname == "127.0.0.1":
                    route.continue_()
                else:
                    local.blocked.append(route.request.url)
                    route.abort("internetdisconnected")

            context.route("**/*", only_local)
            context.on("request", lambda r: local.requests.append(r.url))
            page = context.new_page()
            page.on(
                "console",
                lambda m: local.console_errors.append(m.text) if m.type == "error" else None,
            )
            page.on("pageerror", lambda e: local.console_errors.append(str(e)))
            local.page = page
            yield local
        finally:
            browser.close()
