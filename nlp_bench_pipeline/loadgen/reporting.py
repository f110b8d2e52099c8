"""Where the runner's progress and results go: a person's terminal, or a Dagster run.

Standalone, a run shows a progress bar on stderr (due, sent, done; an honest "draining" phase
once every request is due) — plain lines at intervals when stderr is not a terminal — and ends
with the table a Locust or k6 user expects on stdout: percentiles over every request (failures
ranked slowest, as ``run_summary``), corrected and not, throughput against the offered rate,
errors by class and drops; ``--json`` prints the summary as JSON instead. Under Dagster Pipes,
progress goes to the run's log at intervals sized to the run, and each summary travels as a
custom message for the asset.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TextIO

from dagster_pipes import PipesContext, PipesEnvVarParamsLoader, open_dagster_pipes
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from nlp_bench_pipeline.core.runs import RunSummary
from nlp_bench_pipeline.loadgen.launch import SUMMARY_MESSAGE

Phase = Literal["starting", "sending", "draining", "finishing"]
ENDED = ("ok", "http_error", "timeout", "connection_error")
# Log lines (the Dagster run log, a file): about twenty per run, never more than one every 5 s
# nor fewer than one a minute, plus one at each change of phase.
LINES_PER_RUN = 20
MIN_LINE_INTERVAL_S = 5.0
MAX_LINE_INTERVAL_S = 60.0
PERCENTILES = (("p50", "p50"), ("p90", "p90"), ("p99", "p99"), ("p999", "p99.9"), ("max", "max"))


@dataclass(frozen=True)
class RunProgress:
    """Where a running repetition stands, from the counts its Locust processes rewrite.

    ``due`` counts the requests whose intended send time has come; the phase follows from the
    counts, never from the clock: Locust starts a few seconds after the runner, so elapsed time
    against the schedule's length would read "15/8 s" while the last responses arrive.
    """

    run_id: str
    scheduled: int
    elapsed_s: float
    drain_limit_s: float = 0.0  # the longest the last responses may take once all are due
    counts: Mapping[str, int] = field(default_factory=dict)
    draining_for_s: float | None = None  # since every request was due

    @property
    def due(self) -> int:
        return self.counts.get("due", 0)

    @property
    def sent(self) -> int:
        return self.counts.get("sent", 0)

    @property
    def ok(self) -> int:
        return self.counts.get("ok", 0)

    @property
    def dropped(self) -> int:
        return self.counts.get("dropped", 0)

    @property
    def done(self) -> int:
        """Requests sent that have ended: answered, failed or timed out."""
        return sum(self.counts.get(outcome, 0) for outcome in ENDED)

    @property
    def in_flight(self) -> int:
        return max(0, self.sent - self.done)

    @property
    def phase(self) -> Phase:
        if not self.counts:
            return "starting"
        if self.due < self.scheduled:
            return "sending"
        if self.done + self.dropped < self.scheduled:
            return "draining"
        return "finishing"

    def line(self) -> str:
        """One line for a log: what the generator is doing now, in counts."""
        tally = f"done {self.done} (ok {self.ok}), dropped {self.dropped}"
        if self.phase == "starting":
            return f"run {self.run_id}: starting Locust ({self.scheduled} requests scheduled)"
        if self.phase == "sending":
            return (
                f"run {self.run_id}: sending, due {self.due}/{self.scheduled}, sent {self.sent}, "
                f"{tally}, {self.elapsed_s:.0f} s elapsed"
            )
        if self.phase == "draining":
            waited = self.draining_for_s or 0.0
            return (
                f"run {self.run_id}: draining, every request is due: {self.in_flight} in flight, "
                f"{tally}; waiting up to {max(0.0, self.drain_limit_s - waited):.0f} s more "
                "for the last responses"
            )
        return f"run {self.run_id}: every request ended, {tally}; Locust is writing its rows"


@dataclass(frozen=True)
class RunResult:
    """A finished repetition as the runner judged it.

    ``figures`` is the run's ``run_summary`` row and ``errors`` its ``run_errors`` rows (both
    None/empty where the rows stay with remote workers); ``failures`` says why the run fails
    the command (nothing answered, a ``--fail-on`` threshold crossed), empty when it does not.
    """

    summary: RunSummary
    figures: Mapping[str, Any] | None = None
    errors: Sequence[Mapping[str, Any]] = ()
    failures: Sequence[str] = ()

    def as_json(self) -> str:
        payload = {
            **self.summary.model_dump(mode="json"),
            "figures": dict(self.figures) if self.figures is not None else None,
            "errors_by_class": [dict(e) for e in self.errors],
            "failures": list(self.failures),
        }
        return json.dumps(payload, indent=2, default=str)


class Reporter(Protocol):
    """Where a run's lines, progress and result go; ``standalone``: a person ran the command."""

    standalone: bool

    def line(self, message: str) -> None: ...

    def progress(self, progress: RunProgress) -> None: ...

    def finished(self, result: RunResult) -> None: ...


def line_interval_s(expected_s: float) -> float:
    """Seconds between progress lines in a log for a run expected to last ``expected_s``."""
    return min(MAX_LINE_INTERVAL_S, max(MIN_LINE_INTERVAL_S, expected_s / LINES_PER_RUN))


class LineThrottle:
    """Which progress updates become log lines: a change of phase, or the interval passed."""

    def __init__(self) -> None:
        self._last: tuple[str, Phase, float] | None = None

    def due(self, progress: RunProgress, interval_s: float) -> bool:
        last = self._last
        if (
            last is not None
            and last[0] == progress.run_id
            and last[1] == progress.phase
            and progress.elapsed_s - last[2] < interval_s
        ):
            return False
        self._last = (progress.run_id, progress.phase, progress.elapsed_s)
        return True


class ConsoleReporter:
    """A person's terminal: a progress bar (or lines) on stderr, the result on stdout."""

    standalone = True

    def __init__(
        self,
        *,
        json_output: bool = False,
        expected_s: float = 0.0,
        out: TextIO | None = None,
        err: TextIO | None = None,
    ) -> None:
        self.json_output = json_output
        self.interval_s = line_interval_s(expected_s)
        self.out = out or sys.stdout
        self.console = Console(file=err or sys.stderr, highlight=False, soft_wrap=True)
        self._throttle = LineThrottle()
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def line(self, message: str) -> None:
        self.console.print(message, markup=False)

    def progress(self, progress: RunProgress) -> None:
        if not self.console.is_terminal:
            if self._throttle.due(progress, self.interval_s):
                self.line(progress.line())
            return
        if self._bar is None:
            self._bar = Progress(
                TextColumn("{task.description:<9}"),
                BarColumn(),
                TextColumn("{task.fields[counts]}"),
                TimeElapsedColumn(),
                console=self.console,
            )
            self._bar.start()
            self._task = self._bar.add_task("starting", total=progress.scheduled, counts="")
        assert self._task is not None
        self._bar.update(
            self._task,
            description=progress.phase,
            completed=progress.done + progress.dropped,
            counts=(
                f"due {progress.due}/{progress.scheduled} sent {progress.sent} "
                f"done {progress.done} ok {progress.ok} dropped {progress.dropped}"
                + (f" · {progress.in_flight} in flight" if progress.phase == "draining" else "")
            ),
        )

    def finished(self, result: RunResult) -> None:
        self._stop_bar()
        if self.json_output:  # the table says it otherwise
            self.line(summary_line(result.summary))
        print(result.as_json() if self.json_output else end_of_run_text(result), file=self.out)
        self.out.flush()
        for failure in result.failures:
            self.line(failure)

    def _stop_bar(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = self._task = None


class PipesReporter:
    """Under Dagster: lines to the run's log at intervals, the summary as a custom message.

    The run's rows say what failed; a failed request never fails the run here.
    """

    standalone = False

    def __init__(self, context: PipesContext, *, expected_s: float = 0.0) -> None:
        self.context = context
        self.interval_s = line_interval_s(expected_s)
        self._throttle = LineThrottle()

    def line(self, message: str) -> None:
        self.context.log.info(message)

    def progress(self, progress: RunProgress) -> None:
        if self._throttle.due(progress, self.interval_s):
            self.line(progress.line())

    def finished(self, result: RunResult) -> None:
        self.line(summary_line(result.summary))
        self.context.report_custom_message(
            {"kind": SUMMARY_MESSAGE, "summary": result.summary.model_dump(mode="json")}
        )


@contextlib.contextmanager
def open_reporter(*, json_output: bool = False, expected_s: float = 0.0) -> Iterator[Reporter]:
    """Pipes when a Dagster process started us, the console otherwise."""
    if PipesEnvVarParamsLoader().is_dagster_pipes_process():
        with open_dagster_pipes() as context:
            yield PipesReporter(context, expected_s=expected_s)
    else:
        reporter = ConsoleReporter(json_output=json_output, expected_s=expected_s)
        try:
            yield reporter
        finally:
            reporter._stop_bar()


# --------------------------------------------------------------------------- the end-of-run table


def summary_line(summary: RunSummary) -> str:
    """The run's rows against its schedule and Locust's count, in one line (and its problems)."""
    verdict = {True: "consistent", False: "INCONSISTENT", None: "rows on the workers"}
    line = (
        f"run {summary.run_id}: {summary.rows}/{summary.scheduled} rows, ok {summary.ok}, "
        f"errors {summary.errors}, dropped {summary.dropped}, Locust counted "
        f"{summary.locust_requests} -- {verdict[summary.consistent]}"
    )
    return line + "".join(f"\n  problem: {p}" for p in summary.problems)


def end_of_run_text(result: RunResult) -> str:
    """The table printed when a standalone run ends (the figures are ``run_summary``'s)."""
    summary, row = result.summary, result.figures
    lines = [
        f"run {summary.run_id}: {summary.scenario}/{summary.profile} "
        f"repetition {summary.repetition} against {summary.host}"
    ]
    if row is None:
        lines.append(f"no figures here: {'; '.join(summary.problems) or 'no rows recorded'}")
        return "\n".join(lines)
    lines.append(
        f"measure phase: {row['requests']} requests over {summary.measure_s:g} s, offered "
        f"{_rate(row['offered_rps'])}, throughput {_rate(row['throughput_rps'])} (ok responses)"
    )
    lines += ["", *_percentile_table(row), ""]
    lines += _aligned(
        [
            ["requests", "ok", "errors", "dropped", "error rate", "failed"],
            [
                str(row["requests"]),
                str(row["ok"]),
                str(row["errors"]),
                str(row["dropped"]),
                _share(row["error_rate"]),
                _share(row["failed_share"]),
            ],
        ],
        labels=False,
    )
    if result.errors:
        lines += ["", "errors by class (measure phase):"]
        lines += _aligned(
            [
                [
                    "  " + str(e["outcome"]),
                    str(e["error"] or ""),
                    str(e["requests"]),
                    _share(e["share_of_requests"]),
                ]
                for e in result.errors
            ]
        )
    lines.append("")
    if row.get("cold_starts"):
        lines.append(
            f"cold starts: {row['cold_starts']} (p50 {_ms(row['cold_start_p50_ms'])} ms, "
            "x-nlp-bench-cold-start header)"
        )
    lines.append(
        f"generator: send lateness p99 {_ms(row['send_lateness_p99_ms'])} ms; "
        f"{summary.dropped} dropped at the in-flight limit "
        f"({summary.config.get('max_inflight')} per process)"
    )
    lines.append(summary_line(summary))
    lines += _percentile_notes(row)
    return "\n".join(lines)


def _percentile_table(row: Mapping[str, Any]) -> list[str]:
    heading = ["latency ms", *(label for _, label in PERCENTILES)]
    every = ["every request, from send"]
    corrected = ["every request, from intended send"]
    successes = ["successes only, from send"]
    for key, _ in PERCENTILES:
        every.append(_percentile(row, f"{key}_ms", f"{key}_is_failure"))
        corrected.append(
            _percentile(row, f"{key}_corrected_ms", f"{key}_is_failure")
            if f"{key}_corrected_ms" in row
            else "–"
        )
        successes.append(_ms(row.get(f"{key}_ok_ms")))
    return _aligned([heading, every, corrected, successes])


def _percentile_notes(row: Mapping[str, Any]) -> list[str]:
    notes = []
    if any(row.get(f"{key}_is_failure") for key, _ in PERCENTILES):
        notes.append(
            "'failed': that percentile's rank lands on a failed or dropped request (every "
            "request counts, failures ranked slowest); the successes' own figures are below it"
        )
    few = [label for key, label in (("p99", "p99"), ("p999", "p99.9")) if row.get(f"{key}_too_few")]
    if few:
        notes.append(
            f"{' and '.join(few)} over {row['requests']} requests: too few to mean much "
            "(p99 wants 100, p99.9 1,000)"
        )
    return notes


def _aligned(table: Sequence[Sequence[str]], *, labels: bool = True) -> list[str]:
    """Rows of cells as lines, right-aligned; with ``labels`` the first column left-aligned."""
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    return [
        "  ".join(
            cell.ljust(widths[i]) if labels and i == 0 else cell.rjust(widths[i])
            for i, cell in enumerate(r)
        ).rstrip()
        for r in table
    ]


def _percentile(row: Mapping[str, Any], key: str, failure_key: str) -> str:
    return "failed" if row.get(failure_key) else _ms(row.get(key))


def _ms(value: Any) -> str:
    return "–" if value is None or not math.isfinite(float(value)) else f"{float(value):,.1f}"


def _rate(value: Any) -> str:
    return "–" if value is None else f"{float(value):,.2f} req/s"


def _share(value: Any) -> str:
    return "–" if value is None else f"{100 * float(value):.1f} %"
