"""``gisapp --help`` and ``gisapp CMD --help`` load no heavy library."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest

HEAVY = ("geopandas", "ortools", "flask", "scipy", "shapely", "pandas", "pyogrio")

_PROBE = """
import json, sys
from click.testing import CliRunner
from gisapp.cli import cli
result = CliRunner().invoke(cli, {args!r})
print(json.dumps({{"code": result.exit_code, "output": result.output,
                   "modules": sorted(m for m in {heavy!r} if m in sys.modules)}}))
"""


def _help(*args: str) -> dict[str, object]:
    """Run ``gisapp ARGS`` in a fresh interpreter and report what it imported."""
    code = _PROBE.format(args=list(args), heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    report: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def test_importing_the_cli_loads_no_heavy_library() -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import gisapp.cli.main"],
        capture_output=True,
        text=True,
        check=True,
    )
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    assert not imported & set(HEAVY)


def test_top_help_lists_every_command_without_loading_them() -> None:
    report = _help("--help")
    assert report["code"] == 0
    assert report["modules"] == []
    output = str(report["output"])
    for name in ("import", "network", "plan", "coverage", "export", "serve", "user"):
        assert f"\n  {name} " in output
    assert "Serve the web app" in output
    assert "Build the street network of WORKSPACE's roads" in output


@pytest.mark.parametrize("command", ["network", "reach", "import", "validate", "info", "demo"])
def test_command_help_loads_no_heavy_library(command: str) -> None:
    report = _help(command, "--help")
    assert report["code"] == 0, report["output"]
    assert report["modules"] == []


def test_help_read_from_the_source_is_the_commands_own() -> None:
    from gisapp.cli.main import _source_docstring, cli

    ctx = click.Context(cli)
    names = cli.list_commands(ctx)
    assert {"import", "network", "plan", "serve", "user"} <= set(names)
    for name in names:
        docstring = _source_docstring(name)
        command = cli.get_command(ctx, name)
        assert docstring is not None and command is not None, name
        from_source = click.utils.make_default_short_help(docstring, 45)
        assert from_source == command.get_short_help_str(45), name


def test_unknown_command_is_a_usage_error() -> None:
    from gisapp.cli import main

    assert main(["no-such-command"]) == 2
