"""The ``gisapp`` console script.

Exit codes: 0 success, 1 a problem with the user's data or request (clear message, or a
JSON problem list with ``--json``), 2 a usage error.
"""

from __future__ import annotations

import importlib
import logging
import sys
from importlib.metadata import entry_points
from typing import Any

import click

from gisapp import __version__
from gisapp.errors import USER_ERRORS

#: Modules whose public ``click.Command`` objects become ``gisapp`` subcommands.
COMMAND_MODULES: tuple[str, ...] = (
    "gisapp.cli.data",
    "gisapp.cli.grids",
    "gisapp.cli.users",
    "gisapp.cli.hotspots",
    "gisapp.cli.network",
    "gisapp.cli.export",
    "gisapp.cli.coverage",
    "gisapp.cli.plan",
)


class _Group(click.Group):
    """Click group that turns user errors into exit code 1 with no traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except USER_ERRORS as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(1)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="gisapp")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option(
    "--config",
    type=click.Path(dir_okay=False),
    envvar="GISAPP_CONFIG",
    help="Settings TOML file (default ./gisapp.toml when present).",
)
def cli(verbose: int, config: str | None) -> None:
    """Patrol planning and grid mapping: routes, grids, coverage, briefing exports."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def _register() -> None:
    # Commands of other packages (the web app's ``serve``) come through entry points.
    for entry in entry_points(group="gisapp.commands"):
        command = entry.load()
        if isinstance(command, click.Command):
            cli.add_command(command, entry.name)
    for module_name in COMMAND_MODULES:
        module = importlib.import_module(module_name)
        for obj in vars(module).values():
            if (
                isinstance(obj, click.Command)
                and getattr(obj.callback, "__module__", None) == module_name
            ):
                cli.add_command(obj)


_register()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code."""
    try:
        # Without standalone mode, click returns the code of ctx.exit(...) instead of exiting.
        code = cli.main(args=argv, prog_name="gisapp", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        click.echo("Aborted.", err=True)
        return 1
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
