"""REPORT records: billed duration, the line CloudWatch shows, peak memory."""

from __future__ import annotations

import os

from nlp_bench_pipeline.targets.local_lambda.invocation import RestoreTiming
from nlp_bench_pipeline.targets.local_lambda.report import ReportRecord, peak_rss_mb


def record(**fields: object) -> ReportRecord:
    defaults: dict[str, object] = {
        "request_id": "r-1",
        "duration_ms": 27.55,
        "memory_size_mb": 1024,
        "max_memory_used_mb": 472,
    }
    return ReportRecord(**{**defaults, **fields})  # type: ignore[arg-type]


def test_billed_duration_rounds_up_to_the_next_millisecond() -> None:
    assert record(duration_ms=27.55).billed_ms == 28
    assert record(duration_ms=28.0).billed_ms == 28
    assert record(duration_ms=0.2).billed_ms == 1


def test_billed_duration_includes_the_init_on_cold_starts() -> None:
    assert record(duration_ms=27.55, init_duration_ms=1234.56).billed_ms == 1263


def test_line_matches_cloudwatch() -> None:
    line = record(init_duration_ms=1234.56).line
    assert line == (
        "REPORT RequestId: r-1\tDuration: 27.55 ms\tBilled Duration: 1263 ms\t"
        "Memory Size: 1024 MB\tMax Memory Used: 472 MB\tInit Duration: 1234.56 ms"
    )


def test_warm_line_has_no_init_duration() -> None:
    assert "Init Duration" not in record().line


def test_failed_invoke_line_carries_status_and_error_type() -> None:
    line = record(status="timeout", error_type="Sandbox.Timedout").line
    assert line.endswith("\tStatus: timeout\tError Type: Sandbox.Timedout")


def test_memory_over_the_memory_size_is_flagged() -> None:
    assert record(max_memory_used_mb=1025).over_memory
    assert not record(max_memory_used_mb=1024).over_memory


def test_peak_rss_of_a_live_process() -> None:
    peak = peak_rss_mb(os.getpid())
    assert peak is not None
    assert peak > 0


def test_peak_rss_of_a_missing_process_is_unknown() -> None:
    assert peak_rss_mb(2**22 + 12345) is None


def test_restored_line_has_restore_durations_instead_of_init_duration() -> None:
    line = record(restore_duration_ms=129.09, billed_restore_duration_ms=100).line
    assert line == (
        "REPORT RequestId: r-1\tDuration: 27.55 ms\tBilled Duration: 28 ms\t"
        "Memory Size: 1024 MB\tMax Memory Used: 472 MB\t"
        "Restore Duration: 129.09 ms\tBilled Restore Duration: 100 ms"
    )


def test_restore_is_billed_from_the_fork_and_timed_from_the_order() -> None:
    # ordered at 10.000 s, forked at 10.030 s, restore/next at 10.090 s, first next at 10.129 s
    timing = RestoreTiming.measured(10.0, 10.030, 10.090, 10.1291)
    assert round(timing.restore_ms, 1) == 129.1
    assert timing.billed_restore_ms == 100  # 99.1 ms, rounded up: the snapshot's restore is free
    assert round(timing.fork_ms or 0, 1) == 30.0
    assert round(timing.after_restore_ms or 0, 1) == 39.1
