"""The validation report and the collector that gathers problems into it."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from layers.errors import Problem, Severity, ValidationError
from layers.i18n import _

#: Up to this many features get one problem each; beyond it, one problem lists samples.
MAX_LISTED = 10
#: Items of a list written out in a message (rows, ids) before "... and N more".
MAX_LISTED_ITEMS = 20
#: Longest message of one problem, in characters, after lists are shortened.
MAX_MESSAGE_CHARS = 1000
#: A run of more than MAX_LISTED_ITEMS comma-separated items, optionally after a noun.
_LIST_RUN = re.compile(
    r"(?:\b(?P<noun>rows|features|ids|values) )?"
    rf"(?P<items>[^,;()\[\]]{{1,80}}(?:, [^,;()\[\]]{{1,80}}){{{MAX_LISTED_ITEMS},}})"
)


def listed(items: Sequence[object], *, noun: str = "", limit: int = MAX_LISTED_ITEMS) -> str:
    """Write the first ``limit`` items, then how many more there are.

    Parameters
    ----------
    items
        Row numbers, ids, values.
    noun
        What the items are (``"rows"``), repeated in the tail.
    limit
        How many items are written out.

    Returns
    -------
    str
        ``"1, 2, 3"`` or ``"1, 2, … and 1,999,980 more rows"``.
    """
    head = ", ".join(map(str, items[:limit]))
    rest = len(items) - limit
    return head if rest <= 0 else _more(head, f"{rest:,}", noun)


def _more(head: str, count: str, noun: str) -> str:
    """``head`` followed by how many more items there are, in one translatable sentence."""
    if noun == "rows":
        return _("%(head)s, … and %(count)s more rows", head=head, count=count)
    if noun == "features":
        return _("%(head)s, … and %(count)s more features", head=head, count=count)
    if noun == "ids":
        return _("%(head)s, … and %(count)s more ids", head=head, count=count)
    if noun == "values":
        return _("%(head)s, … and %(count)s more values", head=head, count=count)
    if noun:
        return _("%(head)s, … and %(count)s more %(noun)s", head=head, count=count, noun=noun)
    return _("%(head)s, … and %(count)s more", head=head, count=count)


def bounded_message(message: str) -> str:
    """Return ``message`` with long lists cut to :data:`MAX_LISTED_ITEMS` items and its
    length cut to :data:`MAX_MESSAGE_CHARS`, so a report never grows with the input."""

    def shorten(match: re.Match[str]) -> str:
        noun = match.group("noun") or ""
        items = match.group("items").split(", ")
        return (f"{noun} " if noun else "") + listed(items, noun=noun)

    text = _LIST_RUN.sub(shorten, message) if message.count(", ") > MAX_LISTED_ITEMS else message
    if len(text) > MAX_MESSAGE_CHARS:
        text = _("%(text)s … (shortened)", text=text[: MAX_MESSAGE_CHARS - 20].rstrip())
    return text


@dataclass
class ValidationReport:
    """What :func:`validate_layers` found.

    Parameters
    ----------
    layers
        Repaired copies of the input layers (spatial layers in EPSG:4326 when their CRS is
        known; ids as strings; ``incidents.occurred_at`` as UTC datetimes).
    problems
        Every problem found, in the order found.
    """

    layers: dict[str, pd.DataFrame]
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        """Problems that block use of the workspace."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        """Problems that are reported and tolerated."""
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def repairs(self) -> list[Problem]:
        """Problems fixed automatically in :attr:`layers`."""
        return [p for p in self.problems if p.severity == "repaired"]

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings and repairs are allowed)."""
        return not self.errors

    @property
    def codes(self) -> set[str]:
        """The distinct problem codes found."""
        return {p.code for p in self.problems}

    def raise_if_errors(self) -> None:
        """Raise one :class:`ValidationError` carrying every problem if any is an error.

        Raises
        ------
        ValidationError
            If :attr:`errors` is not empty.
        """
        if self.errors:
            raise ValidationError(self.problems)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable summary: ``ok``, counts per severity and problems."""
        counts = {"error": 0, "warning": 0, "repaired": 0}
        for problem in self.problems:
            counts[problem.severity] += 1
        return {
            "ok": self.ok,
            "counts": counts,
            "layers": {name: len(frame) for name, frame in self.layers.items()},
            "problems": [p.to_dict() for p in self.problems],
        }


class ProblemCollector:
    """Problems of one validation run, with per-feature aggregation."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(
        self,
        layer: str,
        feature_id: str | None,
        code: str,
        message: str,
        fix: str,
        severity: Severity = "error",
    ) -> None:
        # Messages may list rows or ids: keep them bounded whatever the input's size.
        self.problems.append(
            Problem(layer, feature_id, code, bounded_message(message), fix, severity)
        )

    def per_feature(
        self,
        layer: str,
        ids: Sequence[str],
        code: str,
        message: Callable[[int], str],
        summary: str,
        fix: str,
        severity: Severity = "error",
    ) -> None:
        """One problem per feature, or one listing samples when there are many.

        ``message(i)`` describes the ``i``-th feature; ``summary`` describes them all.
        """
        if not len(ids):
            return
        if len(ids) <= MAX_LISTED:
            for i, feature_id in enumerate(ids):
                self.add(layer, feature_id, code, message(i), fix, severity)
            return
        samples = ", ".join(ids[:MAX_LISTED])
        self.add(
            layer,
            None,
            code,
            _(
                "%(summary)s: %(count)s features, e.g. %(samples)s. First: %(first)s",
                summary=summary,
                count=format(len(ids), ","),
                samples=samples,
                first=message(0),
            ),
            fix,
            severity,
        )
