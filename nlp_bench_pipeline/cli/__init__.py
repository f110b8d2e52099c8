"""``nlp-bench``: the commands behind ``make bench`` and ``make ui``, results, and the tools.

One module per command group, each with ``register(subparsers)`` setting a ``handler``; this
package (with the standalone entry points) is where settings are read, and the plain-Python
packages get them as parameters (the store's path for ``cost`` and ``simulate``). Usage errors
are one line naming the option, exit code 2 (``core.options.OneLineParser``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from nlp_bench_pipeline.cli import bench, compare, peak, report, results, sweep, teardown, ui
from nlp_bench_pipeline.core.options import OneLineParser
from nlp_bench_pipeline.costs import command as cost
from nlp_bench_pipeline.settings import get_pipeline_settings
from nlp_bench_pipeline.simulate import command as simulate

DESCRIPTION = (
    "Lambda or Kubernetes for ML inference: run the benchmark on the local targets (or AWS), "
    "read its results, price and simulate the platforms, write the report."
)
COMMANDS = (bench, ui, results, compare, report, sweep, teardown, peak)
STORE_TOOLS = (cost, simulate)  # plain-Python commands that read the metric store


def build_parser() -> OneLineParser:
    """Every command's options; reads no settings, so a bad ``NLP_BENCH_*`` value is reported
    by the command that uses it (``bench``'s preflight) as one line, not a traceback here."""
    parser = OneLineParser(prog="nlp-bench", description=DESCRIPTION)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(subparsers)
    for tool in STORE_TOOLS:
        tool.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "db", "") is None:
        try:
            args.db = get_pipeline_settings().db
        except ValidationError as exc:
            return _bad_settings(args, exc)
    return args.handler(args)


def _bad_settings(args: argparse.Namespace, exc: ValidationError) -> int:
    """A store tool's ``--db`` defaults to ``NLP_BENCH_DB``: bad settings are one line each."""
    from nlp_bench_pipeline.cli.preflight import validation_problems

    for problem in validation_problems(exc):
        print(f"nlp-bench {args.command}: {problem}", file=sys.stderr)
    return 2
