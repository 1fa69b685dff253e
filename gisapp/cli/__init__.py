"""The ``gisapp`` console script: click commands, one module per feature.

Each command parses its options, calls one service of :mod:`gisapp.services` and hands the
result to :mod:`gisapp.outputs` or :mod:`gisapp.render`; no GIS logic lives here.
"""

from __future__ import annotations

from gisapp.cli.main import cli, main

__all__ = ["cli", "main"]
