"""Helpers shared by the CLI subcommands."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from tqdm import tqdm

from gisapp.cli._language import lang_option as lang_option  # shared by the commands
from layers.errors import Problem
from layers.i18n import gettext, is_chinese

if TYPE_CHECKING:
    from gisapp.settings import Settings


def parse_minutes(text: str) -> list[float]:
    """Read a minute list like ``"1,3,5"``: positive, de-duplicated, ascending.

    Raises
    ------
    click.BadParameter
        If an entry is not a positive number.
    """
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter(
            gettext("expected minutes like '1,3,5', got %(text)s", text=repr(text))
        ) from None
    if not values or min(values) <= 0:
        raise click.BadParameter(
            gettext("expected positive minutes like '1,3,5', got %(text)s", text=repr(text))
        )
    return sorted(set(values))


def join_items(items: Iterable[str]) -> str:
    """Items of a list printed on one line, separated as the language in force writes them."""
    return ("，" if is_chinese() else ", ").join(items)


def warning_levels_text(levels: Mapping[str, int]) -> str:
    """The number of areas at each colour warning level (分色预警).

    English keeps the form the commands have always printed (``{'red': 1, ...}``); other
    languages name the levels in their words: ``红色预警 1，橙色预警 2，黄色预警 0，蓝色预警 5``.
    """
    if not is_chinese():
        return str(levels)
    from gisapp.outputs.words import warning_level_name

    return join_items(f"{warning_level_name(level)} {count:,}" for level, count in levels.items())


#: The ``--out`` option of commands that write a folder of outputs.
out_dir_option = click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Output directory (created when missing).",
)


def settings_from(ctx: click.Context) -> Settings:
    """The settings object of this invocation (read once, from ``--config`` and env)."""
    from gisapp.settings import load_settings

    root = ctx.find_root()
    if root.obj is None:
        root.obj = {}
    if "settings" not in root.obj:
        root.obj["settings"] = load_settings(root.params.get("config"))
    settings: Settings = root.obj["settings"]
    return settings


def echo_problems(problems: Sequence[Problem], *, limit: int = 200) -> None:
    """Print problems grouped by severity, errors first, to stderr."""
    order = {"error": 0, "warning": 1, "repaired": 2}
    shown = sorted(problems, key=lambda p: order.get(p.severity, 3))
    for problem in shown[:limit]:
        click.echo(str(problem), err=True)
    if len(shown) > limit:
        more = f"{len(shown) - limit:,}"
        click.echo(gettext("... and %(count)s more (use --json for all)", count=more), err=True)


def write_json(data: Any, path: Path | None = None) -> None:
    """Write JSON to a file, or to stdout when ``path`` is None."""
    text = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    if path is None:
        sys.stdout.write(text + "\n")
    else:
        path.write_text(text + "\n", encoding="utf-8")


def counts_line(problems: Iterable[Problem]) -> str:
    problems = list(problems)
    errors = sum(p.severity == "error" for p in problems)
    warnings = sum(p.severity == "warning" for p in problems)
    repaired = sum(p.severity == "repaired" for p in problems)
    return gettext(
        "%(errors)s error(s), %(warnings)s warning(s), %(repaired)s repaired",
        errors=format(errors, ","),
        warnings=format(warnings, ","),
        repaired=format(repaired, ","),
    )


@contextmanager
def share_progress(description: str) -> Iterator[Callable[[float], None] | None]:
    """A bar of the share of a long computation done, fed by the callback this yields.

    The callback takes the share done (0 to 1); off a terminal (pipes, CI, logs) nothing
    is printed and ``None`` is yielded, so the computation reports nothing.
    """
    if not sys.stderr.isatty():
        yield None
        return
    bar = tqdm(total=100, desc=description, unit="%", leave=False, file=sys.stderr)
    lock = threading.Lock()

    def report(share: float) -> None:
        with lock:
            bar.update(max(min(round(100 * share), 100) - bar.n, 0))
            if bar.n >= bar.total:
                bar.refresh()  # the last update may fall inside tqdm's refresh interval

    try:
        yield report
    finally:
        bar.close()
