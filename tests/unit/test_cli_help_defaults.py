"""Every option of every ``nlp-bench`` and load generator command shows its default in ``--help``
(issue 14: "``--help`` shows no defaults").

What is checked is the help argparse prints, option by option: ``DefaultsShown`` can only add a
default to a help it is asked to expand. An option shows its default when its help says
``default`` and the value — ``(default: 60)`` as ``DefaultsShown`` appends it, or a help's own
words such as ``(default 2000)``. Flags (``store_true``), and defaults that say nothing (None,
empty), need none.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator

import pytest

from nlp_bench_pipeline.cli import build_parser as nlp_bench_parser
from nlp_bench_pipeline.core.options import DefaultsShown
from nlp_bench_pipeline.loadgen.runner import build_parser as loadgen_parser


def commands(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """The parser and its subcommands' parsers, depth first."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):  # aliases share a parser
                yield from commands(child)


PARSERS = {p.prog: p for root in (nlp_bench_parser(), loadgen_parser()) for p in commands(root)}


def with_a_default(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The options whose default a person needs to know."""
    return [
        action
        for action in parser._actions
        if action.option_strings
        and action.help != argparse.SUPPRESS
        and action.nargs != 0  # a flag
        and action.default not in (None, argparse.SUPPRESS, "", [], ())
    ]


def shown(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """The option's entry in ``--help``, unwrapped."""
    formatter = parser.formatter_class(parser.prog, width=100_000)
    formatter.add_argument(action)
    return " ".join(formatter.format_help().split())


def names_its_default(text: str, default: object) -> bool:
    values = {str(default)} | ({f"{default:g}"} if isinstance(default, float) else set())
    return any(re.search(rf"\bdefault:? {re.escape(value)}(?!\w)", text) for value in values)


@pytest.mark.parametrize(
    "prog",
    [prog for prog in sorted(PARSERS)],
)
def test_every_option_with_a_default_shows_it_in_help(prog: str):
    parser = PARSERS[prog]
    assert issubclass(parser.formatter_class, DefaultsShown), parser.formatter_class
    unshown = {
        "/".join(action.option_strings): shown(parser, action)
        for action in with_a_default(parser)
        if not names_its_default(shown(parser, action), action.default)
    }
    assert unshown == {}


def test_the_rule_finds_options_with_defaults_in_every_command():
    """The test above is not vacuous: the commands have options it judges."""
    judged = {prog: len(with_a_default(parser)) for prog, parser in PARSERS.items()}
    assert judged["nlp-bench export"] == 3
    assert judged["nlp-bench sql"] == 0  # --write is a flag
    assert sum(judged.values()) > 50
