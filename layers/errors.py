"""Errors and problem reports of the ``layers`` library."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["error", "warning", "repaired"]


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
        What is wrong, in plain words.
    fix
        How the user fixes it.
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
        return f"{self.severity.upper():8} {where}: {self.message} Fix: {self.fix}"


class ValidationError(LayerError):
    """Raised once with every problem found, never on the first one."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        errors = [p for p in self.problems if p.severity == "error"]
        head = "\n".join(f"  {p}" for p in errors[:10])
        more = f"\n  ... and {len(errors) - 10:,} more" if len(errors) > 10 else ""
        super().__init__(f"{len(errors):,} problem(s) in the input:\n{head}{more}")
