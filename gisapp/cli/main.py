"""The ``gisapp`` console script.

Exit codes: 0 success, 1 a problem with the user's data or request (clear message, or a
JSON problem list with ``--json``), 2 a usage error.

Commands load on demand: ``gisapp --help`` reads the commands' summaries from their
source files and imports none of them, and ``gisapp CMD`` imports only the module that
defines ``CMD``. The command modules import their heavy libraries (geopandas, OR-Tools,
Flask) inside the command functions, so ``gisapp CMD --help`` stays quick too.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import logging
import sys
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

import click

from gisapp import __version__
from gisapp.cli._language import LANGUAGE
from gisapp.errors import USER_ERRORS
from layers.i18n import gettext, language_from_environment, use_language

#: gisapp's own commands: the name typed after ``gisapp`` and the module defining it.
COMMAND_MODULES: dict[str, str] = {
    "import": "gisapp.cli.data",
    "validate": "gisapp.cli.data",
    "info": "gisapp.cli.data",
    "demo": "gisapp.cli.data",
    "grids": "gisapp.cli.grids",
    "user": "gisapp.cli.users",
    "hotspots": "gisapp.cli.hotspots",
    "bulletin": "gisapp.cli.hotspots",
    "areas": "gisapp.cli.hotspots",
    "network": "gisapp.cli.network",
    "reach": "gisapp.cli.network",
    "export": "gisapp.cli.export",
    "coverage": "gisapp.cli.coverage",
    "place": "gisapp.cli.coverage",
    "plan": "gisapp.cli.plan",
    "copy": "gisapp.cli.copy",
    "worker": "gisapp.cli.worker",
}

#: Entry-point group through which other packages (the web app's ``serve``) add commands.
COMMAND_ENTRY_POINTS = "gisapp.commands"


class _Group(click.Group):
    """Click group that loads its commands on demand and turns user errors into exit 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except USER_ERRORS as exc:
            click.echo(gettext("Error: %(message)s", message=exc), err=True)
            ctx.exit(1)
        except click.Abort:
            # here, and not in main(), the message is in the language of the command
            click.echo(gettext("Aborted."), err=True)
            ctx.exit(1)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMAND_MODULES, *_entry_points()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            command = _load_command(cmd_name)
            if command is None:
                return None
            self.add_command(command, cmd_name)
        return self.commands[cmd_name]

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            help_text = self._short_help(ctx, name, limit)
            if help_text is not None:
                rows.append((name, help_text))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def _short_help(self, ctx: click.Context, name: str, limit: int) -> str | None:
        """The one-line help of ``name``, from its source when it is not loaded yet."""
        if name not in self.commands:
            docstring = _source_docstring(name)
            if docstring is not None:
                return click.utils.make_default_short_help(docstring.split("\f")[0], limit)
        command = self.get_command(ctx, name)
        if command is None or command.hidden:
            return None
        return command.get_short_help_str(limit)


@cache
def _entry_points() -> dict[str, EntryPoint]:
    """Commands of other packages, by name (not loaded)."""
    return {entry.name: entry for entry in entry_points(group=COMMAND_ENTRY_POINTS)}


def _load_command(name: str) -> click.Command | None:
    """Import the module of command ``name`` and return the command (None if unknown)."""
    if name in COMMAND_MODULES:
        module_name = COMMAND_MODULES[name]
        module = importlib.import_module(module_name)
        for obj in vars(module).values():
            if (
                isinstance(obj, click.Command)
                and obj.name == name
                and getattr(obj.callback, "__module__", None) == module_name
            ):
                return obj
        return None
    entry = _entry_points().get(name)
    if entry is None:
        return None
    command = entry.load()
    return command if isinstance(command, click.Command) else None


def _source_docstring(name: str) -> str | None:
    """The docstring of command ``name`` read from its module's source, without importing it.

    None when the source cannot be found or read (the command is then imported instead).
    """
    if name in COMMAND_MODULES:
        module_name, function = COMMAND_MODULES[name], None
    elif name in _entry_points():
        module_name, _, function = _entry_points()[name].value.partition(":")
    else:
        return None
    path = _module_file(module_name)
    if path is None:
        return None
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        return None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and (
            node.name == function or (function is None and _declared_name(node) == name)
        ):
            return ast.get_docstring(node)
    return None


def _declared_name(node: ast.FunctionDef) -> str | None:
    """The name a ``@click.command``/``@click.group`` decorator gives to function ``node``."""
    for decorator in node.decorator_list:
        if not isinstance(decorator, ast.Call):
            continue
        func = decorator.func
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        owner = func.value if isinstance(func, ast.Attribute) else None
        if called not in ("command", "group") or not (
            isinstance(owner, ast.Name) and owner.id == "click"
        ):
            continue
        first = decorator.args[0] if decorator.args else None
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return first.value
        return node.name.lower().replace("_", "-")
    return None


def _module_file(module_name: str) -> Path | None:
    """The source file of ``module_name`` found without importing it (or its package)."""
    top, *rest = module_name.split(".")
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    base = Path(spec.origin).parent.joinpath(*rest) if rest else Path(spec.origin)
    for candidate in (base.with_suffix(".py"), base / "__init__.py", base):
        if candidate.is_file() and candidate.suffix == ".py":
            return candidate
    return None


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="gisapp")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option(
    "--config",
    type=click.Path(dir_okay=False),
    envvar="GISAPP_CONFIG",
    help="Settings TOML file (default ./gisapp.toml when present).",
)
@click.option(
    "--lang",
    type=LANGUAGE,
    envvar="GISAPP_LANG",
    help="Language of messages and exports: zh_CN or en (default: the settings' "
    "'language', else the system's language).",
)
@click.pass_context
def cli(ctx: click.Context, verbose: int, config: str | None, lang: str | None) -> None:
    """Patrol planning and grid mapping: routes, grids, coverage, briefing exports."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    language = lang or _settings_language(ctx) or language_from_environment()
    ctx.with_resource(use_language(language))


def _settings_language(ctx: click.Context) -> str | None:
    """The settings' ``language``, when the settings name one."""
    from gisapp.cli._common import settings_from

    return settings_from(ctx).language


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code."""
    # Messages printed once the command is over (usage errors, Ctrl+C) speak the
    # environment's language; the command itself speaks the one of --lang or the settings.
    with use_language(language_from_environment()):
        try:
            # Without standalone mode, click returns the code of ctx.exit(...) instead of exiting.
            code = cli.main(args=argv, prog_name="gisapp", standalone_mode=False)
        except click.exceptions.Exit as exc:
            return int(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            return exc.exit_code
        except click.Abort:
            click.echo(gettext("Aborted."), err=True)
            return 1
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
