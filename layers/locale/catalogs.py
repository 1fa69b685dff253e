"""Keep the message catalogs in step with the code.

    python -m layers.locale.catalogs update     # extract, merge into every catalog, compile
    python -m layers.locale.catalogs check      # exit 1 when a catalog is stale or incomplete

``update`` extracts every marked string of ``gisapp``, ``layers``, ``routing`` and ``web``
(Python and the web templates), merges the new ones into ``zh_CN`` (untranslated, for the
translator) and ``en`` (filled with the English source), drops strings the code no longer
has, and compiles the ``.mo`` files the product reads. ``check`` is what the tests run:
nothing extracted is missing from a catalog, nothing is untranslated or fuzzy, placeholders
agree, and the ``.mo`` files match their ``.po``.
"""

from __future__ import annotations

import copy
import datetime
import io
import sys
from collections.abc import Iterable
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from layers.i18n import LANGUAGES, LOCALE_DIR

#: The packages whose strings are the product's.
ROOT = LOCALE_DIR.parent.parent
PACKAGES: tuple[str, ...] = ("gisapp", "layers", "routing", "web")

#: How each kind of file is read.
METHOD_MAP: list[tuple[str, str]] = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
OPTIONS_MAP: dict[str, dict[str, str]] = {
    "**/templates/**.html": {"extensions": "jinja2.ext.do", "newstyle_gettext": "true"},
}

#: Translation functions: gettext's usual names and the lazy ones of :mod:`layers.i18n`.
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None, "lazy_ngettext": (1, 2)}

PROJECT = "gisapp"
EPOCH = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"


def extract() -> Catalog:
    """Every marked string of the product, with where it is used."""
    catalog = Catalog(project=PROJECT, charset="utf-8")
    for package in PACKAGES:
        for filename, lineno, message, comments, context in extract_from_dir(
            str(ROOT / package),
            METHOD_MAP,
            OPTIONS_MAP,
            keywords=KEYWORDS,
            comment_tags=("Translators:",),
            strip_comment_tags=True,
        ):
            location = (f"{package}/{filename}", lineno)
            catalog.add(message, None, [location], auto_comments=comments, context=context)
    return catalog


def read(language: str) -> Catalog:
    with po_path(language).open("rb") as f:
        return read_po(f, locale=language)


def write(catalog: Catalog, language: str) -> None:
    path = po_path(language)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        write_po(
            f, catalog, width=96, sort_output=True, include_previous=False, include_lineno=False
        )
    with path.with_suffix(".mo").open("wb") as f:
        write_mo(f, catalog, use_fuzzy=False)


def update() -> dict[str, int]:
    """Merge the extracted strings into every catalog and compile them; returns the number
    of strings each catalog still lacks a translation for."""
    extracted = extract()
    missing: dict[str, int] = {}
    for language in LANGUAGES:
        path = po_path(language)
        if path.exists():
            catalog = read(language)
        else:
            catalog = Catalog(locale=language, project=PROJECT, charset="utf-8")
        # a catalog takes the template's message objects: each gets its own template
        template = copy.deepcopy(extracted)
        catalog.update(template, no_fuzzy_matching=True, update_header_comment=False)
        catalog.obsolete.clear()
        _stable_header(catalog, language)
        if language == "en":
            _fill_with_source(catalog)
        write(catalog, language)
        missing[language] = len(untranslated(catalog))
    return missing


def _stable_header(catalog: Catalog, language: str) -> None:
    """A header that changes only when the language does (no dates: an update that adds
    nothing leaves the files as they were)."""
    catalog.header_comment = (
        f"# {LANGUAGES[language]} messages of gisapp.\n"
        "# Kept in step with the code by: python -m layers.locale.catalogs update"
    )
    catalog.creation_date = catalog.revision_date = EPOCH
    catalog.fuzzy = False
    catalog.project = PROJECT
    catalog.last_translator = catalog.language_team = PROJECT
    catalog.version = "1"
    catalog.msgid_bugs_address = ""


def _fill_with_source(catalog: Catalog) -> None:
    """English is the source language: its catalog says each string as written."""
    for message in catalog:
        if message.id:
            message.string = message.id
        message.flags.discard("fuzzy")


def _translated(message: Message) -> bool:
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return bool(strings) and all(strings)


def untranslated(catalog: Catalog) -> list[Message]:
    return [m for m in catalog if m.id and (not _translated(m) or m.fuzzy)]


def problems() -> list[str]:
    """What keeps the catalogs from being complete and current (empty when they are)."""
    found: list[str] = []
    extracted = {_key(m) for m in extract() if m.id}
    for language in LANGUAGES:
        catalog = read(language)
        known = {_key(m) for m in catalog if m.id}
        new = sorted(extracted - known, key=str)
        found += [f"{language}: not in the catalog: {key[0]!r}" for key in new[:50]]
        found += [
            f"{language}: untranslated or fuzzy: {_key(m)[0]!r}" for m in untranslated(catalog)
        ][:50]
        for message in catalog:
            found += [f"{language}: {error}" for error in _placeholder_errors(catalog, message)]
        compiled = io.BytesIO()
        write_mo(compiled, catalog, use_fuzzy=False)
        if po_path(language).with_suffix(".mo").read_bytes() != compiled.getvalue():
            found.append(f"{language}: messages.mo is older than messages.po (run update)")
    return found


def _key(message: Message) -> tuple[str, str | None]:
    """A message's source text (the singular of a plural) and context."""
    ident = message.id if isinstance(message.id, str) else message.id[0]
    return (str(ident), message.context)


def _placeholder_errors(catalog: Catalog, message: Message) -> Iterable[str]:
    from babel.messages.checkers import python_format

    if not message.id or not message.python_format or not _translated(message):
        return []
    try:
        python_format(catalog, message)
    except Exception as exc:  # babel raises TranslationError with the reason
        return [f"{_key(message)[0]!r}: {exc}"]
    return []


def main(argv: list[str]) -> int:
    if argv[:1] == ["update"]:
        for language, count in update().items():
            print(f"{language}: {count} untranslated")
        return 0
    if argv[:1] == ["check"]:
        found = problems()
        print("\n".join(found) or "catalogs complete and current")
        return 1 if found else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
