"""``gisapp copy``: move a workspace between a GeoPackage file and a PostGIS database."""

from __future__ import annotations

import logging

import click

from layers.i18n import _

logger = logging.getLogger(__name__)


@click.command("copy")
@click.argument("source", metavar="SRC")
@click.argument("target", metavar="DST")
@click.option("--force", is_flag=True, help="Replace the workspace already at DST.")
def copy(source: str, target: str, force: bool) -> None:
    """Copy workspace SRC to DST: every layer, saved plan and setting, nothing lost.

    \b
    SRC and DST are each a GeoPackage file (WS.gpkg), a database schema
    (postgresql://USER@HOST:PORT/DATABASE?schema=NAME, schema "public" when not
    given) or, for SRC, a bundled sample (sample:new_haven). The password comes
    from ~/.pgpass or PGPASSWORD, or from the URL (USER:PASSWORD@HOST).

    Web app users are not copied: they stay in the users file beside the
    workspace GeoPackage (gisapp user add).
    """
    from gisapp.store import open_workspace
    from gisapp.store.workspace import copy_workspace

    workspace = open_workspace(source)
    copied = copy_workspace(workspace, target, overwrite=force)
    names = copied.layer_names()
    click.echo(
        _(
            "copied %(count)s layers of %(source)s to %(target)s",
            count=format(len(names), ","),
            source=workspace.label,
            target=copied.label,
        )
    )
