"""Command-line options every ``nlp-bench`` command shares: one-line usage errors, numbers.

A usage mistake is one line naming the option, the value and what is allowed, and exit code 2
(argparse's default prints the whole usage text first). Every parser of the project's commands
is a :class:`OneLineParser` — subcommand parsers inherit the class — and numeric options take
:func:`number` as their type.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import NoReturn


class OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line naming the option (argparse's default adds the usage text)."""

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
