"""The product's languages: one set of message catalogs for the web, the CLI and every export.

Every user-facing string goes through :func:`gettext` (``_``), or :func:`lazy_gettext`
(``_l``) where the string is made before anyone knows who reads it (module constants,
error messages raised deep in a library and shown later). Placeholders are named and
``%``-style, as in the web templates (``_("%(n)s incidents", n=12)``), so translators see
the same form everywhere and ``pybabel compile`` checks that a translation keeps them.

The language in force is a context variable: the CLI sets it from ``--lang`` or the
environment, the web app from the user's choice, the workspace default or the browser,
and a background job from the language of whoever started it. Code that translates never
takes a language argument.

The catalogs live in ``layers/locale/<lang>/LC_MESSAGES/messages.po`` (``.mo`` compiled
beside them); ``docs/TRANSLATING.md`` tells how to extract, update and compile them. This
module sits in ``layers``, the bottom package, because every package above it speaks to
users through it.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from babel.support import NullTranslations

#: Where the catalogs are.
LOCALE_DIR = Path(__file__).with_name("locale")

#: The languages the product speaks, with their names as their speakers write them.
LANGUAGES: dict[str, str] = {"zh_CN": "简体中文", "en": "English"}

#: The language used when nobody has chosen one.
DEFAULT_LANGUAGE = "en"

_language: ContextVar[str] = ContextVar("gisapp_language", default=DEFAULT_LANGUAGE)


def normalize_language(value: str | None) -> str | None:
    """The product language closest to ``value`` (``zh``, ``zh-CN``, ``zh_Hans``, ``en-GB``,
    ``zh_CN.UTF-8``...), or None when the product does not speak it."""
    if not value:
        return None
    tag = value.strip().split(".")[0].split("@")[0].replace("-", "_").lower()
    if tag in ("c", "posix", ""):
        return None
    primary = tag.split("_")[0]
    if primary == "zh":
        return "zh_CN"  # simplified Chinese: the product has no traditional catalog
    if primary == "en":
        return "en"
    return None


def language_from_environment(environ: Mapping[str, str] | None = None) -> str:
    """The language a command-line user asked for: ``GISAPP_LANG``, else the first of
    ``LC_ALL``, ``LC_MESSAGES``, ``LANG`` that is set, else the default."""
    environ = os.environ if environ is None else environ
    chosen = environ.get("GISAPP_LANG")
    if chosen:
        return normalize_language(chosen) or DEFAULT_LANGUAGE
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        if environ.get(name):
            return normalize_language(environ[name]) or DEFAULT_LANGUAGE
    return DEFAULT_LANGUAGE


def current_language() -> str:
    """The language in force here."""
    return _language.get()


def set_language(language: str) -> Token[str]:
    """Speak ``language`` in this context from now on; returns the token that restores
    the previous language (``reset_language``)."""
    return _language.set(_checked(language))


def reset_language(token: Token[str]) -> None:
    """Go back to the language in force before :func:`set_language`."""
    _language.reset(token)


@contextmanager
def use_language(language: str | None) -> Iterator[str]:
    """Speak ``language`` (None: keep the current one) inside the ``with`` block."""
    if language is None:
        yield current_language()
        return
    token = set_language(language)
    try:
        yield current_language()
    finally:
        _language.reset(token)


def _checked(language: str) -> str:
    normalized = normalize_language(language)
    if normalized is None:
        choices = ", ".join(LANGUAGES)
        raise ValueError(f"Unknown language {language!r}: choose one of {choices}")
    return normalized


@cache
def translations(language: str) -> NullTranslations:
    """The compiled catalog of ``language`` (an empty one for a language without a catalog)."""
    from babel.support import Translations

    return Translations.load(str(LOCALE_DIR), [language], domain="messages")


def _format(text: str, params: Mapping[str, Any]) -> str:
    return text % {key: _text(value) for key, value in params.items()} if params else text


def _text(value: Any) -> Any:
    return str(value) if isinstance(value, LazyString) else value


def gettext(message: str, /, **params: Any) -> str:
    """``message`` in the current language, with its ``%(name)s`` placeholders filled."""
    return _format(translations(current_language()).ugettext(message), params)


def ngettext(singular: str, plural: str, n: int, /, **params: Any) -> str:
    """The singular or plural form for ``n`` in the current language; ``%(num)s`` is ``n``."""
    text = translations(current_language()).ungettext(singular, plural, n)
    return _format(text, {"num": n, **params})


def pgettext(context: str, message: str, /, **params: Any) -> str:
    """``message`` as meant in ``context`` (for words that translate differently by use)."""
    return _format(translations(current_language()).upgettext(context, message), params)


class LazyString:
    """A message translated each time it is turned into text, in the language then in force.

    Error messages raised in a worker and shown on a page, labels defined at import time:
    they read in the language of whoever looks at them.
    """

    __slots__ = ("_args", "_params")

    def __init__(self, args: tuple[str, ...], params: Mapping[str, Any]) -> None:
        self._args = args
        self._params = dict(params)

    def __str__(self) -> str:
        if len(self._args) == 1:
            return gettext(self._args[0], **self._params)
        singular, plural, n = self._args
        return ngettext(singular, plural, int(n), **self._params)

    def __html__(self) -> str:
        from markupsafe import escape

        return str(escape(str(self)))

    def __repr__(self) -> str:
        return f"LazyString({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))

    def __len__(self) -> int:
        return len(str(self))

    def __add__(self, other: object) -> str:
        return str(self) + str(other)

    def __radd__(self, other: object) -> str:
        return str(other) + str(self)

    def __mod__(self, other: Any) -> str:
        return str(self) % other

    def __contains__(self, item: str) -> bool:
        return item in str(self)

    def __getattr__(self, name: str) -> Any:
        # str methods (format, upper, startswith...) act on the translated text
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(str(self), name)


def lazy_gettext(message: str, /, **params: Any) -> LazyString:
    """:func:`gettext`, translated when the result is turned into text."""
    return LazyString((message,), params)


def lazy_ngettext(singular: str, plural: str, n: int, /, **params: Any) -> LazyString:
    """:func:`ngettext`, translated when the result is turned into text."""
    return LazyString((singular, plural, str(n)), params)


#: The short names code uses.
_ = gettext
_l = lazy_gettext


def is_chinese(language: str | None = None) -> bool:
    """Whether the language in force (or ``language``) is Chinese."""
    return (language or current_language()) == "zh_CN"


# --- numbers, dates and units in the reader's form ------------------------------------


def format_number(value: float, decimals: int = 0) -> str:
    """``value`` with ``decimals`` decimals and the locale's grouping (1,234.5)."""
    from babel.numbers import format_decimal

    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(value, format=pattern, locale=current_language())


def format_date(value: dt.date) -> str:
    """A day: ``2026年12月2日`` or ``2 Dec 2026``."""
    from babel.dates import format_date as babel_format_date

    pattern = "y年M月d日" if is_chinese() else "d MMM y"
    return babel_format_date(value, pattern, locale=current_language())


def format_datetime(value: dt.datetime) -> str:
    """A moment to the minute: ``2026年12月2日 22:00`` or ``2 Dec 2026 22:00``."""
    return f"{format_date(value)} {value:%H:%M}"


def format_minutes(minutes: float) -> str:
    """A duration in whole minutes: ``12 分钟`` or ``12 min``."""
    return gettext("%(n)s min", n=format_number(round(minutes)))


def format_km(km: float, decimals: int = 1) -> str:
    """A distance: ``3.4 公里`` or ``3.4 km``."""
    return gettext("%(n)s km", n=format_number(km, decimals))
