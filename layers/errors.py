"""Errors and problem reports of the ``layers`` library."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from layers.i18n import _, _l

Severity = Literal["error", "warning", "repaired"]

#: How each severity is written for people (the ``severity`` value itself stays English).
SEVERITY_LABELS = {"error": _l("ERROR"), "warning": _l("WARNING"), "repaired": _l("REPAIRED")}


def _padded(text: str, width: int) -> str:
    """``text`` padded to ``width`` columns (a Chinese character takes two)."""
    columns = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(0, width - columns)


class LayerError(ValueError):
    """A layer cannot be read or used as given (wrong file, format, CRS, fields...)."""


@dataclass(frozen=True)
class Problem:
    """One problem found in the input, with what to do about it.

    Parameters
    ----------
    layer
        Layer name (``"grids"``, ``"incidents"``...) or the file when no layer applies.
    feature_id
        The feature's ``id`` (or row number) or ``None`` for a layer-wide problem.
    code
        Stable machine-readable code, e.g. ``"invalid_geometry"``, ``"duplicate_id"``.
    message
        What is wrong, in plain words, in the language in force when the problem was
        found (:mod:`layers.i18n`); names of files, columns, ids and codes stay as given.
    fix
        How the user fixes it, in the same language.
    severity
        ``"error"`` blocks use of the workspace; ``"warning"`` is reported and tolerated;
        ``"repaired"`` was fixed automatically and is reported so the user knows.
    """

    layer: str
    feature_id: str | None
    code: str
    message: str
    fix: str
    severity: Severity = "error"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        where = self.layer if self.feature_id is None else f"{self.layer}[{self.feature_id}]"
        label = SEVERITY_LABELS.get(self.severity)
        severity = _padded(str(label) if label is not None else self.severity.upper(), 8)
        return _(
            "%(severity)s %(where)s: %(message)s Fix: %(fix)s",
            severity=severity,
            where=where,
            message=self.message,
            fix=self.fix,
        )


class ValidationError(LayerError):
    """Raised once with every problem found, never on the first one."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        errors = [p for p in self.problems if p.severity == "error"]
        head = "\n".join(f"  {p}" for p in errors[:10])
        more = (
            "\n  " + _("... and %(count)s more", count=format(len(errors) - 10, ","))
            if len(errors) > 10
            else ""
        )
        title = _("%(count)s problem(s) in the input:", count=format(len(errors), ","))
        super().__init__(f"{title}\n{head}{more}")
