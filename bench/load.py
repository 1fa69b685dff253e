"""The web server under load: ``gisapp serve`` on the New Haven sample, many clients at once.

The benchmark copies the bundled New Haven sample workspace to a temporary folder, adds a
captain with ``gisapp user add``, starts ``gisapp serve`` on a free port of 127.0.0.1 (the
production server, waitress, unless ``--server werkzeug``), logs in once and shares that
session cookie with every client. Then:

- **levels**: for 10, 50 and 200 concurrent clients (threads, one keep-alive
  ``http.client`` connection each) for about ``level_s`` seconds each, every client asks
  for the main pages in turn (workspace summary, its map, the grid page and map, plans,
  hotspots and their map) and every answer is timed: requests per second, p50, p95 and p99
  latency, and errors (any status but 200, or a failed connection);
- **burst**: ``burst_clients`` connections at once for ``burst_s`` seconds, each sending a
  request for a page (some uncached: hotspots of every shift and method) and leaving at
  once without reading the answer; then how long until the server answers a trivial
  request (``/favicon.ico``) again.

Goals, printed beside the figures and never asserted: no errors, p95 under 1 s at 50
clients, answering again within 5 s after the burst.

Every socket has a timeout and the server is stopped at the end, so a run is bounded
(about a minute and a half). Only 127.0.0.1 is ever contacted. Usage:
``python bench/load.py`` or ``python bench/run.py load``; one JSON object per line.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_geodata" / "new_haven.gpkg"
HOST = "127.0.0.1"
USER, PASSWORD = "captain", "load-test-password"

#: The pages a client asks for, in turn.
PAGES: tuple[str, ...] = (
    "/maps/",
    "/maps/overview/map.html",
    "/maps/grids",
    "/maps/grids/map.html",
    "/plans/",
    "/hotspots/",
    "/hotspots/map.html",
)
#: Pages of the burst: every hotspot choice (most uncached at first), then the main pages.
BURST_PAGES: tuple[str, ...] = (
    tuple(
        f"/hotspots/map.html?shift={shift}&method={method}"
        for shift in ("day", "evening", "night", "late")
        for method in ("counts", "kde", "gistar")
    )
    + PAGES
)
LEVELS: tuple[int, ...] = (10, 50, 200)
GOAL_P95_S = 1.0
GOAL_RECOVER_S = 5.0
SOCKET_TIMEOUT_S = 60.0


def _cli(*args: str, stdin: str | None = None) -> None:
    """Run a ``gisapp`` command in a fresh interpreter; raise with its output if it fails."""
    command = [sys.executable, "-c", "import sys; from gisapp.cli import main; sys.exit(main())"]
    done = subprocess.run(
        [*command, *args], input=stdin, capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"gisapp {' '.join(args)} failed: {done.stderr or done.stdout}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def _request(
    conn: http.client.HTTPConnection, path: str, *, headers: dict[str, str] | None = None
) -> tuple[int, bytes, http.client.HTTPResponse]:
    conn.request("GET", path, headers=headers or {})
    response = conn.getresponse()
    return response.status, response.read(), response


@contextmanager
def served(folder: Path, *, server: str, threads: int | None) -> Iterator[str]:
    """Start ``gisapp serve`` on a copy of the sample in ``folder``; yield its base URL."""
    workspace = folder / "new_haven.gpkg"
    shutil.copy(SAMPLE, workspace)
    users = folder / "users.sqlite"
    _cli(
        "user",
        "add",
        USER,
        "--role",
        "captain",
        "--users-db",
        str(users),
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    port = _free_port()
    args = [
        "serve",
        str(workspace),
        "--host",
        HOST,
        "--port",
        str(port),
        "--server",
        server,
        "--users-db",
        str(users),
        "--secret-key",
        "load-bench",
    ]
    if threads is not None and server == "waitress":
        args += ["--threads", str(threads)]
    command = [sys.executable, "-c", "import sys; from gisapp.cli import main; sys.exit(main())"]
    with (folder / "server.log").open("wb") as log:
        process = subprocess.Popen([*command, *args], stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until_up(port, process)
            yield f"http://{HOST}:{port}"
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)


def _wait_until_up(port: int, process: subprocess.Popen[bytes], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gisapp serve exited with status {process.returncode}")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=5)
            status, _, _ = _request(conn, "/favicon.ico")
            conn.close()
            if status == 204:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"gisapp serve did not answer within {timeout_s:g} s")


def log_in(base: str) -> str:
    """Log in as the bench's captain; return the session cookie header value."""
    url = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(HOST, url.port, timeout=SOCKET_TIMEOUT_S)
    status, body, response = _request(conn, "/auth/login")
    cookie = _cookies(response)
    match = re.search(rb'name="csrf_token" value="([^"]+)"', body)
    if status != 200 or match is None:
        raise RuntimeError(f"the login page answered {status} without a form")
    form = urllib.parse.urlencode(
        {"username": USER, "password": PASSWORD, "csrf_token": match[1].decode()}
    )
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
    conn.request("POST", "/auth/login", body=form, headers=headers)
    response = conn.getresponse()
    response.read()
    conn.close()
    if response.status != 302:
        raise RuntimeError(f"logging in answered {response.status}, not a redirect")
    return _cookies(response) or cookie


def _cookies(response: http.client.HTTPResponse) -> str:
    values = response.headers.get_all("Set-Cookie") or []
    return "; ".join(v.split(";", 1)[0] for v in values)


@dataclass
class Tally:
    """Latencies and errors collected by the clients of one level (thread-safe)."""

    latencies_s: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, latency_s: float, error: str | None) -> None:
        with self.lock:
            self.latencies_s.append(latency_s)
            if error is not None:
                self.errors += 1
                if len(self.error_samples) < 5:
                    self.error_samples.append(error)


def _client(port: int, cookie: str, offset: int, deadline: float, tally: Tally) -> None:
    """Ask for the pages in turn until ``deadline``, timing every answer."""
    conn = http.client.HTTPConnection(HOST, port, timeout=SOCKET_TIMEOUT_S)
    i = offset
    while time.monotonic() < deadline:
        path = PAGES[i % len(PAGES)]
        i += 1
        start = time.perf_counter()
        error: str | None = None
        try:
            status, _, _ = _request(conn, path, headers={"Cookie": cookie})
            if status != 200:
                error = f"{path}: {status}"
        except (OSError, http.client.HTTPException) as exc:
            error = f"{path}: {type(exc).__name__} {exc}"
            conn.close()
            conn = http.client.HTTPConnection(HOST, port, timeout=SOCKET_TIMEOUT_S)
        tally.add(time.perf_counter() - start, error)
    conn.close()


def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return round(ordered[index], 4)


def measure_level(base: str, cookie: str, clients: int, level_s: float) -> dict[str, Any]:
    """``clients`` concurrent clients for ``level_s`` seconds; one result line."""
    port = urllib.parse.urlsplit(base).port or 80
    tally = Tally()
    start = time.perf_counter()
    deadline = time.monotonic() + level_s
    threads = [
        threading.Thread(target=_client, args=(port, cookie, i, deadline, tally), daemon=True)
        for i in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=level_s + 2 * SOCKET_TIMEOUT_S)
    elapsed_s = time.perf_counter() - start
    p95 = _percentile(tally.latencies_s, 95)
    line: dict[str, Any] = {
        "clients": clients,
        "requests": len(tally.latencies_s),
        "elapsed_s": round(elapsed_s, 2),
        "requests_per_s": round(len(tally.latencies_s) / elapsed_s, 2),
        "p50_s": _percentile(tally.latencies_s, 50),
        "p95_s": p95,
        "p99_s": _percentile(tally.latencies_s, 99),
        "errors": tally.errors,
        "error_samples": tally.error_samples,
        "goal_errors": 0,
    }
    if clients == 50:
        line["goal_p95_s"] = GOAL_P95_S
        line["meets_goal"] = tally.errors == 0 and p95 is not None and p95 < GOAL_P95_S
    else:
        line["meets_goal"] = tally.errors == 0
    return line


def _leave_after_sending(port: int, cookie: str, path: str) -> bool:
    """Send one request and close the connection without reading the answer."""
    try:
        with socket.create_connection((HOST, port), timeout=10) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nCookie: {cookie}\r\n\r\n".encode())
        return True
    except OSError:
        return False


def measure_burst(base: str, cookie: str, clients: int, burst_s: float) -> dict[str, Any]:
    """A burst of clients that leave at once, then the time until a trivial answer."""
    port = urllib.parse.urlsplit(base).port or 80
    deadline = time.monotonic() + burst_s
    sent = [0] * clients
    refused = [0] * clients

    def leaver(i: int) -> None:
        j = i
        while time.monotonic() < deadline:
            ok = _leave_after_sending(port, cookie, BURST_PAGES[j % len(BURST_PAGES)])
            sent[i] += ok
            refused[i] += not ok
            j += clients

    threads = [threading.Thread(target=leaver, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=burst_s + 30)
    burst_end = time.perf_counter()
    recover_s: float | None = None
    while time.perf_counter() - burst_end < 300:
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            status, _, _ = _request(conn, "/favicon.ico")
            conn.close()
            if status == 204:
                recover_s = round(time.perf_counter() - burst_end, 3)
                break
        except (OSError, http.client.HTTPException):
            time.sleep(0.05)
    return {
        "clients": clients,
        "burst_s": burst_s,
        "requests_sent": sum(sent),
        "connections_failed": sum(refused),
        "recover_s": recover_s,
        "goal_recover_s": GOAL_RECOVER_S,
        "meets_goal": recover_s is not None and recover_s <= GOAL_RECOVER_S,
    }


def _warm(base: str, cookie: str) -> dict[str, float]:
    """Ask for every page once (the first view computes it); seconds per page."""
    port = urllib.parse.urlsplit(base).port or 80
    conn = http.client.HTTPConnection(HOST, port, timeout=300)
    first: dict[str, float] = {}
    for path in PAGES:
        start = time.perf_counter()
        status, _, _ = _request(conn, path, headers={"Cookie": cookie})
        if status != 200:
            raise RuntimeError(f"{path} answered {status} before the load started")
        first[path] = round(time.perf_counter() - start, 3)
    conn.close()
    return first


def run(
    *,
    server: str = "waitress",
    threads: int | None = None,
    levels: Sequence[int] = LEVELS,
    level_s: float = 10.0,
    burst_clients: int = 200,
    burst_s: float = 10.0,
) -> list[dict[str, Any]]:
    """Measure every level and the burst; a JSON-ready line each."""
    instance = f"new_haven/{server}"
    lines: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-load-") as tmp,
        served(Path(tmp), server=server, threads=threads) as base,
    ):
        cookie = log_in(base)
        first = _warm(base, cookie)
        lines.append(
            {"bench": "load", "instance": instance, "phase": "first_view_s", "pages": first}
        )
        for clients in levels:
            line = measure_level(base, cookie, clients, level_s)
            lines.append({"bench": "load", "instance": instance, "phase": "level", **line})
        burst = measure_burst(base, cookie, burst_clients, burst_s)
        lines.append({"bench": "load", "instance": instance, "phase": "burst", **burst})
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", choices=("waitress", "werkzeug"), default="waitress")
    parser.add_argument("--threads", type=int, default=None, help="waitress threads")
    parser.add_argument("--level-s", type=float, default=10.0, help="seconds per level")
    parser.add_argument("--burst-s", type=float, default=10.0, help="seconds of the burst")
    args = parser.parse_args(argv)
    for line in run(
        server=args.server, threads=args.threads, level_s=args.level_s, burst_s=args.burst_s
    ):
        print(json.dumps(line, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
