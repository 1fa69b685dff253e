"""Read, map, validate and repair the layers of a patrol-planning workspace.

``layers`` is a library: it takes and returns GeoDataFrames and knows nothing of the
application around it.
"""

from __future__ import annotations

from layers.errors import LayerError, Problem, ValidationError
from layers.schema import LAYERS, LayerSpec

__all__ = ["LAYERS", "LayerError", "LayerSpec", "Problem", "ValidationError"]
