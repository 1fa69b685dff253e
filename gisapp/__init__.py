"""gisapp: patrol planning and grid mapping for police precincts."""

from __future__ import annotations

__version__ = "0.1.0"
