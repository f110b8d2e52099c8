"""The stop rules of ``nlp-bench bench`` (issue 17, finding 2), with Dagster's jobs stubbed.

A failed build stops everything with one line; a failed deployment skips that target's cells; a
failed cell does not stop the others, and the summaries still run. Before, ``bench`` went on
after a failed build for about ten minutes, starting hundreds of failing runtimes.
"""

from __future__ import annotations

import os
import sys
import types
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from nlp_bench_pipeline.cli import bench
from nlp_bench_pipeline.cli.bench import Stage, failure_line


def error(message: str, cls_name: str = "Failure", cause: Any = None) -> SimpleNamespace:
    return SimpleNamespace(message=message, cls_name=cls_name, cause=cause)


@dataclass
class FakeResult:
    success: bool
    run_id: str
    failure: SimpleNamespace | None = None

    def get_asset_check_evaluations(self) -> list[Any]:
        return []

    def get_step_failure_events(self) -> list[Any]:
        if self.failure is None:
            return []
        return [SimpleNamespace(step_key="model_artifact", step_failure_data=SimpleNamespace(
            error=self.failure))]  # fmt: skip

    def get_run_failure_event(self) -> Any:
        return None


@dataclass
class FakeDefs:
    """Jobs that succeed unless a (job, partition) is named in ``failing``."""

    failing: set[tuple[str, str | None]]
    ran: list[tuple[str, str | None]] = field(default_factory=list)

    def resolve_job_def(self, name: str) -> Any:
        def execute_in_process(**kwargs: Any) -> FakeResult:
            key = (name, kwargs["partition_key"])
            self.ran.append(key)
            cause = error("loading model 'x' failed:\nTraceback ...\nModelLoadError: no such model")
            failure = error("Error occurred while executing op", cause=cause)
            if key in self.failing:
                return FakeResult(False, kwargs["run_id"], failure)
            return FakeResult(True, kwargs["run_id"])

        return SimpleNamespace(execute_in_process=execute_in_process)


@pytest.fixture
def stages() -> list[Stage]:
    return [
        Stage("build"),
        Stage("deploy", "local-lambda", "local-lambda"),
        Stage("deploy", "local-k8s", "local-k8s"),
        Stage("benchmark_cell", "burst|local-lambda", "local-lambda"),
        Stage("benchmark_cell", "ramp|local-lambda", "local-lambda"),
        Stage("benchmark_cell", "burst|local-k8s", "local-k8s"),
        Stage("benchmark_cell", "ramp|local-k8s", "local-k8s"),
        Stage("summaries"),
    ]


def run(
    monkeypatch: pytest.MonkeyPatch, stages: list[Stage], failing: set[tuple[str, str | None]]
) -> tuple[bench.Outcome, FakeDefs]:
    defs = FakeDefs(failing)
    module = types.ModuleType("nlp_bench_pipeline.definitions")
    module.defs = defs  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "nlp_bench_pipeline.definitions", module)
    interrupts = SimpleNamespace(run_id=None, received=None, watch=lambda run_id: None)
    return bench._run_stages(stages, instance=None, interrupts=interrupts), defs  # type: ignore[arg-type]


def test_a_failed_build_stops_everything_with_one_line(
    monkeypatch: pytest.MonkeyPatch, stages: list[Stage], capsys: pytest.CaptureFixture[str]
) -> None:
    outcome, defs = run(monkeypatch, stages, {("build", None)})
    assert (outcome.code, outcome.summarise) == (1, False)
    assert defs.ran == [("build", None)]
    [line] = capsys.readouterr().err.splitlines()
    assert line == (
        "nlp-bench bench: the build failed, so nothing else ran: model_artifact: Failure: "
        "loading model 'x' failed: ... ModelLoadError: no such model"
    )


def test_a_failed_deployment_skips_that_targets_cells_only(
    monkeypatch: pytest.MonkeyPatch, stages: list[Stage], capsys: pytest.CaptureFixture[str]
) -> None:
    outcome, defs = run(monkeypatch, stages, {("deploy", "local-lambda")})
    assert (outcome.code, outcome.summarise) == (1, True)
    assert ("benchmark_cell", "burst|local-lambda") not in defs.ran
    assert ("benchmark_cell", "burst|local-k8s") in defs.ran
    assert defs.ran[-1] == ("summaries", None)
    assert "skipped: local-lambda did not deploy" in capsys.readouterr().out


def test_a_failed_cell_does_not_stop_the_others_and_the_summaries_run(
    monkeypatch: pytest.MonkeyPatch, stages: list[Stage]
) -> None:
    outcome, defs = run(monkeypatch, stages, {("benchmark_cell", "burst|local-lambda")})
    assert (outcome.code, outcome.summarise) == (1, True)
    assert defs.ran == [(s.job, s.partition) for s in stages]


def test_every_run_carries_its_owners_identity(
    monkeypatch: pytest.MonkeyPatch, stages: list[Stage]
) -> None:
    seen: list[dict[str, str]] = []
    defs = FakeDefs(set())
    original = defs.resolve_job_def

    def resolve(name: str) -> Any:
        job = original(name)

        def execute(**kwargs: Any) -> FakeResult:
            seen.append(kwargs["tags"])
            return job.execute_in_process(**kwargs)

        return SimpleNamespace(execute_in_process=execute)

    defs.resolve_job_def = resolve  # type: ignore[method-assign]
    module = types.ModuleType("nlp_bench_pipeline.definitions")
    module.defs = defs  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "nlp_bench_pipeline.definitions", module)
    interrupts = SimpleNamespace(run_id=None, received=None, watch=lambda run_id: None)
    bench._run_stages(stages, instance=None, interrupts=interrupts)  # type: ignore[arg-type]
    assert len(seen) == len(stages)
    assert {tags["nlp-bench/owner-pid"] for tags in seen} == {str(os.getpid())}


def test_a_failure_line_is_the_root_cause_in_one_line() -> None:
    result = FakeResult(False, "r", error("outer", cause=error("first\n\n  second  \nlast", "E")))
    assert failure_line(result) == "model_artifact: E: first ... last"  # type: ignore[arg-type]


def test_a_skipped_stage_says_why_runs_nothing_and_is_no_failure(
    monkeypatch: pytest.MonkeyPatch, stages: list[Stage], capsys: pytest.CaptureFixture[str]
) -> None:
    skipped = Stage("economics", skip="the costs price warm_steady runs and this bench ran none")
    outcome, defs = run(monkeypatch, [*stages, skipped], set())
    assert (outcome.code, outcome.summarise) == (0, True)
    assert ("economics", None) not in defs.ran
    assert capsys.readouterr().out.endswith(
        "==> economics\n    skipped: the costs price warm_steady runs and this bench ran none\n"
    )


def test_the_peak_search_runs_in_quick_and_full_and_a_smoke_bench_skips_it() -> None:
    assert bench._peak_stage("quick") == Stage("peak")
    assert bench._peak_stage("full") == Stage("peak")
    assert bench._peak_stage("smoke").skip


def test_the_economics_run_only_when_the_bench_ran_the_scenario_they_price() -> None:
    from nlp_bench_pipeline.bench.plan import Cell

    steady = Cell(target="local-k8s", scenario="warm_steady")
    cold = Cell(target="local-k8s", scenario="cold_start")
    assert bench._economics_stage([cold, steady]) == Stage("economics")
    assert "warm_steady" in (bench._economics_stage([cold]).skip or "")


def test_the_signal_watcher_stops_when_bench_ends_after_polling_a_run(monkeypatch) -> None:
    """Its poll's timeouts read no signal: a watcher that read the empty signal pipe after one
    blocked there, and bench hung at its end waiting for it."""
    import threading
    import time

    monkeypatch.setattr(bench.StageInterrupts, "POLL_S", 0.05)
    interrupts = bench.StageInterrupts(instance=None)  # type: ignore[arg-type]
    polled = threading.Event()

    def announce(run_id: str) -> bool:
        polled.set()
        return True  # the run holds its slot: nothing more to look at

    monkeypatch.setattr(interrupts, "_announce_wait", announce)
    interrupts._watcher.start()
    interrupts.run_id = "run-1"
    assert polled.wait(5)
    time.sleep(0.3)  # timeouts after the run was dealt with, then between runs
    interrupts.run_id = None
    time.sleep(0.3)
    os.write(interrupts._stop_write, b"x")
    interrupts._watcher.join(5)
    assert not interrupts._watcher.is_alive()
