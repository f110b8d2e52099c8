"""``python -m benchmarks [name ...]``: run benchmarks (all by default), rewrite their sections."""

from __future__ import annotations

import argparse
import importlib
import sys

from benchmarks.report import REPORT, write_sections

# name -> module; each module has ``run() -> Section``. Order = order in docs/benchmarks.md.
BENCHMARKS = {
    "service": "benchmarks.service",
    "inference": "benchmarks.inference",
    "local_lambda": "benchmarks.local_lambda",
    "cold_start": "benchmarks.cold_start",
    "local_k8s": "benchmarks.local_k8s",
    "loadgen": "benchmarks.loadgen",
    "simulator": "benchmarks.simulator",
    "bench_results": "benchmarks.bench_results",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"any of {', '.join(BENCHMARKS)}; default all")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(BENCHMARKS))
    if unknown:
        parser.error(
            f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}"
        )
    failed = []
    for name in args.names or list(BENCHMARKS):
        print(f"== benchmark {name}", flush=True)
        section = importlib.import_module(BENCHMARKS[name]).run()
        write_sections([section])
        print(f"   {section.title}: passed={section.passed}", flush=True)
        if section.passed is False:
            failed.append(name)
    print(f"written to {REPORT}")
    if failed:
        print(f"missed their targets: {', '.join(failed)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
