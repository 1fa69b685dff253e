"""The ``--lang`` options: ``gisapp --lang`` for a whole invocation, and the same option on
the commands that write documents (over the group's)."""

from __future__ import annotations

import click

from layers.i18n import LANGUAGES, normalize_language, use_language


class LanguageParam(click.ParamType):
    """A language the product speaks, however it is spelled (zh_CN, zh-CN, zh, en-GB...)."""

    name = "|".join(LANGUAGES)

    def convert(self, value: str, param: click.Parameter | None, ctx: click.Context | None) -> str:
        language = normalize_language(value)
        if language is None:
            self.fail(
                f"{value!r} is not a language gisapp speaks: choose {' or '.join(LANGUAGES)}",
                param,
                ctx,
            )
        return language


LANGUAGE = LanguageParam()


def _command_language(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """Speak ``value`` from here to the end of the invocation (over ``gisapp --lang``).

    The language is held by the root context, so the error message the group prints after
    the command has failed is in the command's language too.
    """
    if value is not None:
        ctx.find_root().with_resource(use_language(value))


#: ``--lang`` of the commands that write documents (briefings, printed maps, bulletins):
#: the language of this command's messages and of the files it writes, over the group's.
lang_option = click.option(
    "--lang",
    type=LANGUAGE,
    default=None,
    expose_value=False,
    is_eager=True,
    callback=_command_language,
    help="Language of the messages and of the documents written: zh_CN or en "
    "(default: gisapp --lang).",
)
