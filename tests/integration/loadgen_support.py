"""Helpers for the load-generator tests: one repetition run in-process, counting at the server."""

from __future__ import annotations

from pathlib import Path

from nlp_bench_pipeline.core.runs import RunSummary
from nlp_bench_pipeline.loadgen import runner
from nlp_bench_pipeline.loadgen.repetition import SUMMARY_FILE


def run_loadgen(host: str, work_dir: Path, *settings: str, processes: int = 1) -> RunSummary:
    """One repetition of warm_steady/quick reshaped by ``--set`` settings; returns its summary."""
    code = runner.main(
        [
            "run",
            f"--host={host}",
            "--scenario=warm_steady",
            "--repetition=0",
            f"--processes={processes}",
            f"--work-dir={work_dir}",
            "--target=loopback",
            *(f"--set={s}" for s in settings),
        ]
    )
    (summary_file,) = work_dir.glob(f"loadgen/*/{SUMMARY_FILE}")
    summary = RunSummary.model_validate_json(summary_file.read_text())
    assert code == 0, summary.problems
    return summary


def count_within(times: list[float], window: tuple[float, float]) -> int:
    return sum(window[0] <= t < window[1] for t in times)
