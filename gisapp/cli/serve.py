"""``gisapp serve`` (the web app) and ``gisapp user add`` (its accounts).

The development server is werkzeug's. For a duty-room server use ``--server waitress``
(``pip install waitress``): a production WSGI server, pure Python, runs on Windows too.
Equivalent by hand: ``waitress-serve --call 'web:create_app'`` with ``GISAPP_WORKSPACE``
and ``GISAPP_SECRET_KEY`` set.
"""

from __future__ import annotations

import logging
import secrets
import sys
from pathlib import Path

import click

from gisapp.cli._common import settings_from
from gisapp.store.users import ROLES, UserStore, users_db_path

logger = logging.getLogger(__name__)

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
    # web depends on gisapp, not the reverse: the app is imported only when serving.
    from web import create_app, settings_config

    settings = settings_from(ctx)
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


@click.group()
def user() -> None:
    """Manage web app users (admin, captain, officer)."""


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="admin, captain or officer.")
@click.option("--unit", "unit_id", help="The officer's unit id (required for officers).")
@click.option(
    "-w",
    "--workspace",
    type=_WORKSPACE,
    envvar="GISAPP_WORKSPACE",
    help="Workspace whose users file to use.",
)
@click.option(
    "--users-db",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="GISAPP_USERS_DB",
    help="Users file (instead of the workspace's).",
)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--replace", is_flag=True, help="Update the user if it exists.")
def user_add(
    name: str,
    role: str,
    unit_id: str | None,
    workspace: Path | None,
    users_db: Path | None,
    password_stdin: bool,
    replace: bool,
) -> None:
    """Add user NAME with a role; asks for the password unless --password-stdin."""
    if users_db is None:
        if workspace is None:
            raise click.UsageError("pass --workspace WS or --users-db FILE")
        users_db = users_db_path(workspace)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    saved = UserStore(users_db).add(name, password, role=role, unit_id=unit_id, replace=replace)
    unit = f" (unit {saved.unit_id})" if saved.unit_id else ""
    click.echo(f"User {saved.name} saved as {saved.role}{unit} in {users_db}")


# gisapp.cli registers every module-level command; this one belongs under ``user`` only.
del user_add
