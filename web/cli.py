"""``gisapp serve``: the web app's command, added to the ``gisapp`` console script.

The command lives with the web app (the web depends on gisapp, never the reverse) and
reaches the console script through the ``gisapp.commands`` entry point.

The server is waitress by default: a production WSGI server, pure Python (it installs
with pip and runs on Windows too), one process whose bounded pool of threads answers the
requests while one event loop reads and writes the sockets. It is configured so that a
rush of clients cannot bury it:

- ``threads`` (``--threads``, setting ``serve_threads``, default 8): requests answered at
  once; the others wait their turn in the queue;
- ``connection_limit`` (32 per thread): open connections; beyond it the server stops
  accepting and new connections wait in the kernel's accept queue (a browser keeps up
  to six connections open to a server, so 256 is some forty officers at once);
- ``backlog`` (256): that accept queue; when it is full, new connections are refused and
  the client retries, instead of the server holding work it cannot do;
- ``channel_timeout`` (60 s): a connection idle (or trickling its request) that long is
  closed, checked every ``cleanup_interval`` (10 s);
- ``channel_request_lookahead`` (1): the server keeps reading a connection while its
  request waits, so it sees a client that left and skips its request instead of
  computing a page nobody reads (:func:`skip_departed_clients` checks again just
  before the app runs);
- ``asyncore_use_poll``: more than 1,024 open sockets do not break the event loop.

Slow work is bounded where it happens: a plan's solver has a time limit and PDF/PNG
briefings print at most ``print_jobs`` at once (each waits ``print_wait_s`` for a slot,
then the user is asked to retry: 503 with ``Retry-After``). One process keeps that limit
and the page cache process-wide, which is why there is no ``--workers``.

``--server werkzeug`` runs werkzeug's development server instead (one user on this
machine). Equivalent by hand: ``waitress-serve --call 'web:create_app'`` with
``GISAPP_WORKSPACE`` and ``GISAPP_SECRET_KEY`` set (without these bounds).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import click

from gisapp.settings import Settings, load_settings
from gisapp.store import absolute_location, open_workspace
from gisapp.store.users import UserStore, users_db_path
from gisapp.views.plans import limit_printing
from layers.i18n import _
from web import create_app, settings_config

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

#: Open connections allowed per worker thread.
CONNECTIONS_PER_THREAD = 32
#: Connections waiting in the kernel's accept queue once the connection limit is reached.
BACKLOG = 256
#: Seconds an idle or trickling connection is kept.
CHANNEL_TIMEOUT_S = 60
#: Seconds between two sweeps for such connections.
CLEANUP_INTERVAL_S = 10


@dataclass(frozen=True)
class ServerOptions:
    """The bounds of the production server (waitress's option names)."""

    threads: int
    connection_limit: int
    backlog: int = BACKLOG
    channel_timeout: int = CHANNEL_TIMEOUT_S
    cleanup_interval: int = CLEANUP_INTERVAL_S
    channel_request_lookahead: int = 1
    asyncore_use_poll: bool = True


def server_options(settings: Settings, *, threads: int | None = None) -> ServerOptions:
    """The production server's bounds: ``threads`` or the ``serve_threads`` setting.

    Raises
    ------
    click.BadParameter
        If the thread count is below 1.
    """
    count = settings.serve_threads if threads is None else threads
    if count < 1:
        raise click.BadParameter(
            f"the server needs at least 1 thread, got {count}; set serve_threads to 8 or so",
            param_hint="--threads",
        )
    return ServerOptions(threads=count, connection_limit=count * CONNECTIONS_PER_THREAD)


def skip_departed_clients(app: WsgiApp) -> WsgiApp:
    """Wrap ``app`` so a request whose client has already left is not computed.

    waitress tells, through ``environ["waitress.client_disconnected"]``, whether the
    client closed its connection while the request waited for a thread.
    """

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        departed = environ.get("waitress.client_disconnected")
        if callable(departed) and departed():
            start_response("499 Client Closed Request", [("Content-Length", "0")])
            return [b""]
        return app(environ, start_response)

    return wsgi


def build_server(app: WsgiApp, *, host: str, port: int, options: ServerOptions) -> Any:
    """Create (not start) the waitress server for ``app``; ``port`` 0 picks a free port.

    Returns
    -------
    waitress.server.BaseWSGIServer
        Call ``run()`` to serve, ``close()`` to stop; ``effective_port`` is the port.
    """
    from waitress.server import create_server

    return create_server(skip_departed_clients(app), host=host, port=port, **asdict(options))


@click.command()
@click.argument("workspace")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--server",
    type=click.Choice(["waitress", "werkzeug"]),
    default="waitress",
    show_default=True,
    help="waitress to serve a team (bounded threads and queues); werkzeug for development.",
)
@click.option(
    "--threads",
    type=click.IntRange(1, 256),
    help="Requests answered at once by waitress [default: the serve_threads setting, 8].",
)
@click.option(
    "--users-db",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="GISAPP_USERS_DB",
    help="Users file [default: WORKSPACE.users.sqlite].",
)
@click.option("--secret-key", envvar="GISAPP_SECRET_KEY", help="Session key (random if unset).")
@click.option("--secure-cookies", is_flag=True, help="Send the session cookie over HTTPS only.")
@click.pass_context
def serve(
    ctx: click.Context,
    workspace: str,
    host: str,
    port: int,
    server: str,
    threads: int | None,
    users_db: Path | None,
    secret_key: str | None,
    secure_cookies: bool,
) -> None:
    """Serve the web app (maps, grids, API) for WORKSPACE on HOST:PORT.

    Create accounts first with ``gisapp user add``. Behind HTTPS pass --secure-cookies.
    The default server, waitress, answers --threads requests at once and keeps its
    queues bounded; PDF/PNG briefings print print_jobs at a time.
    """
    settings = _settings(ctx)
    # Resolved now: the server may change directory later, the downloads must not break.
    workspace = absolute_location(workspace)
    label = open_workspace(workspace).label  # a missing or unreadable workspace: say so now
    configured = Path(settings.users_db) if settings.users_db else None
    users = (users_db or configured or users_db_path(workspace)).resolve()
    if not UserStore(users).all():
        click.echo(
            _(
                "No users yet in %(users)s: add one with '%(command)s'.",
                users=users,
                # The users file itself: a --users-db or users_db setting is followed, and
                # a database URL's password is never printed.
                command=f"gisapp user add NAME --role admin --users-db {users}",
            ),
            err=True,
        )
    # The settings file and GISAPP_* variables give the defaults; command options win.
    config = {
        **settings_config(settings),
        "SETTINGS": settings,
        "WORKSPACE": str(workspace),
        "USERS_DB": str(users),
    }
    config["SECRET_KEY"] = secret_key or config.get("SECRET_KEY") or secrets.token_hex(32)
    config["SESSION_COOKIE_SECURE"] = secure_cookies or settings.session_cookie_secure
    app = create_app(config)
    limit_printing(settings.print_jobs, wait_s=settings.print_wait_s)
    if server == "werkzeug":
        from werkzeug.serving import run_simple

        click.echo(
            _(
                "Serving %(workspace)s on %(url)s (Ctrl+C to stop)",
                workspace=label,
                url=f"http://{host}:{port}/",
            ),
            err=True,
        )
        run_simple(host, port, app, threaded=True)
        return
    options = server_options(settings, threads=threads)
    try:
        httpd = build_server(app, host=host, port=port, options=options)
    except ImportError:
        raise click.UsageError(
            _("the server needs waitress: %(command)s", command="pip install waitress")
        ) from None
    except OSError as exc:
        raise click.UsageError(
            _(
                "cannot listen on %(address)s (%(reason)s); choose another --port",
                address=f"{host}:{port}",
                reason=exc.strerror,
            )
        ) from None
    click.echo(
        _(
            "Serving %(workspace)s on %(url)s with %(threads)s threads (Ctrl+C to stop)",
            workspace=label,
            url=f"http://{host}:{httpd.effective_port}/",
            threads=options.threads,
        ),
        err=True,
    )
    try:
        httpd.run()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.close()


def _settings(ctx: click.Context) -> Settings:
    """The settings of this invocation (``--config`` of the ``gisapp`` group, environment)."""
    root = ctx.find_root()
    stored = root.obj.get("settings") if isinstance(root.obj, dict) else None
    return stored if isinstance(stored, Settings) else load_settings(root.params.get("config"))
