"""``gisapp user add``: accounts of the web app (``gisapp serve`` is in :mod:`web.cli`)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from gisapp.store.users import ROLES
from layers.i18n import _

logger = logging.getLogger(__name__)


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
    envvar="GISAPP_WORKSPACE",
    help="Workspace (GeoPackage or database URL) whose users file to use.",
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
    workspace: str | None,
    users_db: Path | None,
    password_stdin: bool,
    replace: bool,
) -> None:
    """Add user NAME with a role; asks for the password unless --password-stdin."""
    from gisapp.store import absolute_location, is_database_url
    from gisapp.store.users import UserStore, users_db_path

    if users_db is None:
        if workspace is None:
            raise click.UsageError(_("pass --workspace WS or --users-db FILE"))
        if not is_database_url(workspace) and not Path(workspace).is_file():
            raise click.UsageError(
                _("workspace %(workspace)s does not exist", workspace=repr(workspace))
            )
        users_db = users_db_path(absolute_location(workspace))
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt(_("Password"), hide_input=True, confirmation_prompt=True)
    saved = UserStore(users_db).add(name, password, role=role, unit_id=unit_id, replace=replace)
    if saved.unit_id:
        message = _(
            "User %(name)s saved as %(role)s (unit %(unit)s) in %(file)s",
            name=saved.name,
            role=saved.role,
            unit=saved.unit_id,
            file=users_db,
        )
    else:
        message = _(
            "User %(name)s saved as %(role)s in %(file)s",
            name=saved.name,
            role=saved.role,
            file=users_db,
        )
    click.echo(message)


# gisapp.cli registers every module-level command; this one belongs under ``user`` only.
del user_add
