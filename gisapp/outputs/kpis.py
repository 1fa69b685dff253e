"""``kpis.json``: the one writer, strict JSON that every reader accepts.

Figures that are not finite (an idle unit's balance ratio is infinite) are written as
``null``: JSON has no ``Infinity`` or ``NaN``, and strict readers refuse them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gisapp.outputs.files import write_file
from gisapp.plans import json_ready


def kpis_json(kpis: Mapping[str, Any]) -> str:
    """KPIs as strict JSON text (indented, UTF-8 names kept, a final newline)."""
    return json.dumps(json_ready(kpis), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_kpis(kpis: Mapping[str, Any], path: str | Path) -> Path:
    """Write ``kpis.json`` (strict JSON) at ``path``; a folder gets ``kpis.json`` inside it."""
    target = Path(path)
    if target.is_dir():
        target = target / "kpis.json"
    return write_file(target, kpis_json(kpis))
