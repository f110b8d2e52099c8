"""``nlp-bench``: the commands behind ``make bench`` and ``make ui``, results, and the tools.

One module per command group, each with ``register(subparsers)`` setting a ``handler``; this
package (with the standalone entry points) is where settings are read, and the plain-Python
packages get them as parameters.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from nlp_bench_pipeline.cli import bench, results, ui

COMMANDS = (bench, ui, results)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nlp-bench", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)
