"""Where the runner's progress and summaries go: a person's terminal, or a Dagster run.

Standalone, progress lines go to stderr and each summary to stdout as JSON; under Dagster Pipes,
progress goes to the run's log and each summary travels as a custom message for the asset.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Protocol

from dagster_pipes import PipesContext, PipesEnvVarParamsLoader, open_dagster_pipes

from nlp_bench_pipeline.core.runs import RunSummary
from nlp_bench_pipeline.loadgen.launch import SUMMARY_MESSAGE


class Reporter(Protocol):
    def progress(self, message: str) -> None: ...

    def summary(self, summary: RunSummary) -> None: ...


class ConsoleReporter:
    """Standalone: progress lines on stderr, the summary as JSON on stdout."""

    def progress(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    def summary(self, summary: RunSummary) -> None:
        print(summary.model_dump_json(indent=2), flush=True)


class PipesReporter:
    """Under Dagster: progress to the run's log, the summary as a custom message for the asset."""

    def __init__(self, context: PipesContext) -> None:
        self.context = context

    def progress(self, message: str) -> None:
        self.context.log.info(message)

    def summary(self, summary: RunSummary) -> None:
        self.context.report_custom_message(
            {"kind": SUMMARY_MESSAGE, "summary": summary.model_dump(mode="json")}
        )


@contextlib.contextmanager
def open_reporter() -> Iterator[Reporter]:
    """Pipes when a Dagster process started us, the console otherwise."""
    if PipesEnvVarParamsLoader().is_dagster_pipes_process():
        with open_dagster_pipes() as context:
            yield PipesReporter(context)
    else:
        yield ConsoleReporter()
