"""CLI subcommands, one module per feature; each module exposes click commands.

``gisapp.cli`` registers the commands listed in ``COMMAND_MODULES``.
"""

from __future__ import annotations

#: Modules whose public ``click.Command`` objects become ``gisapp`` subcommands.
COMMAND_MODULES: tuple[str, ...] = (
    "gisapp.commands.data",
    "gisapp.commands.grids",
    "gisapp.commands.serve",
    "gisapp.commands.hotspots",
    "gisapp.commands.network",
    "gisapp.commands.export",
    "gisapp.commands.coverage",
    "gisapp.commands.plan",
)
