"""The plan form over a Redis job queue: the web submits, a ``gisapp worker`` plans, the job
page shows the progress, then the plan -- also for a web app started after the job. On
both stores (``backend``).

Needs a Redis server (``bash .ci/redis.sh``, ``GISAPP_TEST_REDIS_URL``); skipped without one
unless ``GISAPP_REQUIRE_SERVERS=1``.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gisapp.services.jobs import RQJobQueue, run_worker
from gisapp.settings import Settings
from gisapp.store.plans import list_plans
from web import create_app

Login = Callable[[str], None]


def _app(workspace: str, users: Path, redis_url: str) -> Flask:
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test",
            "WORKSPACE": workspace,
            "USERS_DB": str(users),
            "SETTINGS": Settings(plan_effort=3_000, job_queue=redis_url),
        }
    )


@pytest.fixture
def paths(plans_location: str, plans_users: Path, tmp_path: Path) -> tuple[str, Path]:
    """The workspace (a fresh copy of the plans workspace) and the users file."""
    users = tmp_path / "users.sqlite"
    shutil.copy(plans_users, users)
    return plans_location, users


@pytest.fixture
def app(paths: tuple[str, Path], redis_url: str) -> Flask:
    return _app(*paths, redis_url)


def _csrf(client: FlaskClient, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def _log_in(client: FlaskClient) -> None:
    token = _csrf(client, "/auth/login")
    response = client.post(
        "/auth/login",
        data={"username": "captain", "password": "correct horse battery", "csrf_token": token},
    )
    assert response.status_code == 302


@pytest.mark.slow
def test_a_plan_from_the_form_is_made_by_a_worker(
    app: Flask, paths: tuple[str, Path], redis_url: str
) -> None:
    client = app.test_client()
    _log_in(client)
    response = client.post(
        "/plans/new",
        data={
            "csrf_token": _csrf(client, "/plans/new"),
            "shift": "custom",
            "window": "20:00-04:00",
            "units": ["car-1", "car-2"],
            "seed": "7",
            "date": "2014-09-18",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    job_url = response.headers["Location"]
    assert isinstance(app.extensions["gisapp_jobs"], RQJobQueue)
    # no worker yet: the job waits in Redis and its page says so
    waiting = client.get(job_url)
    assert waiting.status_code == 200
    assert "Waiting for the plan before it" in waiting.get_data(as_text=True)

    assert run_worker(redis_url, burst=True)
    # a web app started after the job (a restarted server) shows the plan it made
    restarted = _app(*paths, redis_url).test_client()
    _log_in(restarted)
    done = restarted.get(job_url)
    assert done.status_code == 302
    assert done.headers["Location"] == "/plans/2014-09-18-2000-0400-s7"
    from gisapp.store import open_workspace

    assert "2014-09-18-2000-0400-s7" in set(list_plans(open_workspace(paths[0]))["plan_id"])


def test_the_form_and_job_page_say_when_the_queue_does_not_answer(
    paths: tuple[str, Path],
) -> None:
    app = _app(*paths, "redis://127.0.0.1:1/0")  # nothing listens on port 1
    client = app.test_client()
    _log_in(client)
    response = client.post(
        "/plans/new",
        data={
            "csrf_token": _csrf(client, "/plans/new"),
            "shift": "late",
            "units": ["car-1", "car-2"],
            "seed": "1",
            "date": "2014-09-18",
            "ticked_for": "late",
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "job queue at redis://127.0.0.1:1 does not answer" in page
    job_page = client.get("/plans/jobs/0123")
    assert job_page.status_code == 503 and "Retry-After" in job_page.headers
    assert "does not answer" in job_page.get_data(as_text=True)
