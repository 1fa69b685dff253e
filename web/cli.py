"""``gisapp serve``: the web app's command, added to the ``gisapp`` console script.

The command lives with the web app (the web depends on gisapp, never the reverse) and
reaches the console script through the ``gisapp.commands`` entry point.

The development server is werkzeug's. For a duty-room server use ``--server waitress``
(``pip install waitress``): a production WSGI server, pure Python, runs on Windows too.
Equivalent by hand: ``waitress-serve --call 'web:create_app'`` with ``GISAPP_WORKSPACE``
and ``GISAPP_SECRET_KEY`` set.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import click

from gisapp.settings import Settings, load_settings
from gisapp.store.users import UserStore, users_db_path
from web import create_app, settings_config

_WORKSPACE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.command()
@click.argument("workspace", type=_WORKSPACE)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--server",
    type=click.Choice(["werkzeug", "waitress"]),
    default="werkzeug",
    show_default=True,
    help="werkzeug for one user on this machine; waitress (pip install waitress) to serve a team.",
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
    workspace: Path,
    host: str,
    port: int,
    server: str,
    users_db: Path | None,
    secret_key: str | None,
    secure_cookies: bool,
) -> None:
    """Serve the web app (maps, grids, API) for WORKSPACE on HOST:PORT.

    Create accounts first with ``gisapp user add``. Behind HTTPS pass --secure-cookies.
    For several users run ``--server waitress`` (a production WSGI server).
    """
    settings = _settings(ctx)
    configured = Path(settings.users_db) if settings.users_db else None
    users = users_db or configured or users_db_path(workspace)
    if not UserStore(users).all():
        click.echo(
            f"No users yet in {users}: add one with 'gisapp user add NAME --role admin "
            f"--workspace {workspace}'.",
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
    click.echo(f"Serving {workspace.name} on http://{host}:{port}/ (Ctrl+C to stop)", err=True)
    if server == "waitress":
        try:
            from waitress import serve as waitress_serve
        except ImportError:
            raise click.UsageError(
                "--server waitress needs waitress: pip install waitress"
            ) from None
        waitress_serve(app, host=host, port=port)
    else:
        from werkzeug.serving import run_simple

        run_simple(host, port, app, threaded=True)


def _settings(ctx: click.Context) -> Settings:
    """The settings of this invocation (``--config`` of the ``gisapp`` group, environment)."""
    root = ctx.find_root()
    stored = root.obj.get("settings") if isinstance(root.obj, dict) else None
    return stored if isinstance(stored, Settings) else load_settings(root.params.get("config"))
