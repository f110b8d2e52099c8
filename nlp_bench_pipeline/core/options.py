"""Command-line options every ``nlp-bench`` command shares: one-line usage errors, numbers.

A usage mistake is one line naming the option, the value and what is allowed, and exit code 2
(argparse's default prints the whole usage text first). Every parser of the project's commands
is a :class:`OneLineParser` — subcommand parsers inherit the class — and numeric options take
:func:`number` as their type.
"""

from __future__ import annotations

import argparse
import copy
import math
from collections.abc import Callable
from typing import Any, NoReturn


class DefaultsShown(argparse.HelpFormatter):
    """Each option's help ends with its default, unless the default says nothing (None, False,
    empty) or the help already names one."""

    def _format_action(self, action: argparse.Action) -> str:
        # argparse prints no help line for an option without help, so its default would not
        # show: such an option's help is its default.
        if action.help is None and action.option_strings and _tells(action.default):
            action = copy.copy(action)
            action.help = "default: %(default)s"
        return super()._format_action(action)

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if not _tells(action.default) or not action.option_strings or "default" in text:
            return text
        return f"{text} (default: %(default)s)" if text else "default: %(default)s"


class RawDescriptionDefaultsShown(DefaultsShown, argparse.RawDescriptionHelpFormatter):
    """DefaultsShown for a parser whose description is laid out by hand (kept as written)."""


def _tells(default: Any) -> bool:
    """Whether a default says something a person needs (None, False and empties do not)."""
    return not (default is None or default is False or default is argparse.SUPPRESS) and (
        default not in ("", [], ())
    )


class OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line naming the option (argparse's default adds the usage text);
    ``--help`` shows every default (its subcommands' parsers too: they are built by this class).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", DefaultsShown)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def number(
    minimum: float, maximum: float | None = None, *, integer: bool = False
) -> Callable[[str], float]:
    """An argparse type: a number in [minimum, maximum], said in the option's own error line."""

    def parse(text: str) -> float:
        try:
            value = int(text) if integer else float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            kind = "a whole number" if integer else "a finite number"
            raise argparse.ArgumentTypeError(f"{text!r} is not {kind}")
        if value < minimum or (maximum is not None and value > maximum):
            bound = (
                f"between {minimum:g} and {maximum:g}" if maximum is not None else f"≥ {minimum:g}"
            )
            raise argparse.ArgumentTypeError(f"{text} is not {bound}")
        return value

    return parse
