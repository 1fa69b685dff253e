"""Readable names of the machine values the pages show (roles, travel modes, methods...)
in the reader's language (templates translate their own text with ``_()``:
:mod:`web.i18n`).

The values themselves (``car``, ``kde``, ``officer``) stay what forms send and files
store; only the text beside them is translated. Templates use the ``label`` filter:
``{{ user.role|label('role') }}``; a value without a readable name is shown as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from flask import Flask

from gisapp.outputs.words import (
    category_group_name,
    hotspot_method_name,
    mode_name,
    shift_name,
    shift_text,
)
from layers.i18n import LazyString, _l

#: Readable names by kind of value.
LABELS: dict[str, Mapping[str, LazyString]] = {
    "role": {"admin": _l("admin"), "captain": _l("captain"), "officer": _l("officer")},
    "color_by": {"team": _l("team"), "officer": _l("officer"), "unit_id": _l("unit id")},
    "severity": {"error": _l("error"), "warning": _l("warning"), "repaired": _l("repaired")},
}


#: Kinds of value named as every page and document names them (:mod:`gisapp.outputs.words`).
_NAMED: dict[str, Callable[[str], str]] = {
    "group": category_group_name,
    "shift": shift_name,
    "mode": mode_name,
    "method": hotspot_method_name,
}


def label(value: object, kind: str) -> str:
    """The readable name of ``value`` (a ``kind`` of value: a key of :data:`LABELS`,
    ``group``, ``shift``, ``mode`` or ``method``), or the value itself."""
    text = "" if value is None else str(value)
    if kind in _NAMED:
        return _NAMED[kind](text)
    found = LABELS.get(kind, {}).get(text)
    return str(found) if found is not None else text.replace("_", " ")


def init_app(app: Flask) -> None:
    """Give the templates the ``label`` filter and ``shift_text(name, window)``."""
    app.jinja_env.filters["label"] = label
    app.jinja_env.globals["shift_text"] = shift_text


__all__ = ["LABELS", "init_app", "label"]
