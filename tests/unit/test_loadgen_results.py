"""The rows a Locust process records: outcomes, headers, timing, drops, and the summary check."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from nlp_bench_pipeline.loadgen.repetition import (
    LOCUST_STATS_FILE,
    SUMMARY_FILE,
    RepetitionPlan,
    requests_file,
)
from nlp_bench_pipeline.loadgen.results import (
    DROPPED_ERROR,
    REQUEST_SCHEMA,
    UNFINISHED_ERROR,
    RequestLog,
    classify,
    parse_timing,
    summarise,
)
from nlp_bench_pipeline.loadgen.scenarios import load_scenario

BODY = b'{"predictions": [], "timing": {"server_ms": 4.5, "input_tokens": 17}}'
HEADERS = {
    "x-nlp-bench-environment-id": "env-1",
    "x-nlp-bench-cold-start": "1",
    "apigw-requestid": "gw-7",
}


class FakeTimeout(Exception):
    pass


FakeTimeout.__name__ = "Timeout"  # gevent.Timeout's name, without importing gevent here


@pytest.mark.parametrize(
    ("status", "error", "expected"),
    [
        (200, None, ("ok", None)),
        (503, ConnectionError("bad status"), ("http_error", "HTTP 503")),
        (429, None, ("http_error", "HTTP 429")),
        (0, FakeTimeout(), ("timeout", "Timeout")),
        (0, TimeoutError(), ("timeout", "TimeoutError")),
        (0, ConnectionRefusedError(), ("connection_error", "ConnectionRefusedError")),
        (200, ConnectionResetError(), ("connection_error", "ConnectionResetError")),
    ],
)
def test_outcomes_are_classified_by_status_then_exception(status, error, expected):
    assert classify(status, error) == expected


def test_timing_is_read_from_the_body_and_tolerates_other_bodies():
    assert parse_timing(BODY) == (4.5, 17)
    assert parse_timing(b"not json") == (None, None)
    assert parse_timing(b"[1, 2]") == (None, None)
    assert parse_timing(None) == (None, None)


def make_log(n: int = 4) -> RequestLog:
    return RequestLog(
        worker=1,
        seq=np.arange(1, 2 * n, 2),
        intended_s=1000.0 + np.arange(n),
        phases=np.array([0] + [1] * (n - 1), dtype=np.int8),
        payload_tokens=np.full(n, 17),
    )


def test_a_completed_request_keeps_headers_status_and_timing():
    log = make_log()
    log.sent(0, 1000.001)
    log.completed(0, at=1000.010, status_code=200, error=None, header=HEADERS.get, body=BODY)
    log.close_unfinished()
    row = log.to_table().to_pylist()[0]
    assert row["outcome"] == "ok"
    assert row["status_code"] == 200
    assert row["error"] is None
    assert row["environment_id"] == "env-1"
    assert row["gateway_request_id"] == "gw-7"
    assert row["cold_start_header"] is True
    assert row["server_ms"] == 4.5
    assert row["input_tokens"] == 17
    assert row["phase"] == "warmup"
    assert row["seq"] == 1
    assert row["worker"] == 1


def test_a_dropped_request_is_late_until_the_pool_next_has_room():
    log = make_log()
    log.dropped(1)
    log.dropped(2)
    log.slot_freed(1002.5)
    log.sent(3, 1003.0)
    log.slot_freed(1004.0)  # nothing was waiting: no dropped row changes
    log.close_unfinished()
    rows = log.to_table().to_pylist()
    assert [r["outcome"] for r in rows[1:3]] == ["dropped", "dropped"]
    assert [r["error"] for r in rows[1:3]] == [DROPPED_ERROR] * 2
    assert [r["sent_s"] for r in rows[1:3]] == [None, None]
    assert [r["unblocked_s"] for r in rows[1:3]] == [1002.5, 1002.5]


def test_rows_still_in_flight_at_the_end_become_timeouts_not_gaps():
    log = make_log()
    log.sent(0, 1000.0)
    assert log.close_unfinished() == 4
    rows = log.to_table().to_pylist()
    assert {r["outcome"] for r in rows} == {"timeout"}
    assert {r["error"] for r in rows} == {UNFINISHED_ERROR}


def test_a_table_cannot_be_built_while_rows_are_open():
    with pytest.raises(RuntimeError, match="close_unfinished"):
        make_log().to_table()


def test_counts_report_progress_by_outcome():
    log = make_log()
    log.sent(0, 1000.0)
    log.completed(0, at=1000.1, status_code=503, error=None, header=HEADERS.get, body=b"")
    log.dropped(1)
    counts = log.counts()
    assert counts["http_error"] == 1
    assert counts["dropped"] == 1
    assert counts["sent"] == 1
    assert counts["ok"] == 0


def test_the_parquet_file_has_the_documented_schema(tmp_path: Path):
    log = make_log()
    log.close_unfinished()
    path = log.write(tmp_path / "rows.parquet")
    assert pq.read_schema(path).remove_metadata() == REQUEST_SCHEMA
    assert not list(tmp_path.glob("*.tmp"))


def plan_for(tmp_path: Path, workers: int = 2) -> RepetitionPlan:
    scenario = load_scenario(
        "warm_steady",
        "quick",
        overrides={
            "warmup": [{"duration_s": 1, "rate": 2, "arrivals": "uniform"}],
            "measure": [{"duration_s": 2, "rate": 2, "arrivals": "uniform"}],
        },
    )
    return RepetitionPlan(
        run_id="r1",
        series_id="s1",
        host="http://127.0.0.1:1",
        scenario=scenario,
        workers=workers,
        run_dir=tmp_path,
    )


def write_shares(plan: RepetitionPlan, *, drop_first: bool = False) -> None:
    schedule = plan.schedule()
    for worker in range(plan.workers):
        share = schedule.share(worker, plan.workers)
        log = RequestLog(
            worker=worker,
            seq=share,
            intended_s=schedule.offsets_s[share],
            phases=schedule.phases[share],
            payload_tokens=np.full(len(share), 5),
        )
        for pos in range(len(share)):
            if drop_first and worker == 0 and pos == 0:
                log.dropped(pos)
                continue
            log.sent(pos, 1.0)
            log.completed(pos, at=2.0, status_code=200, error=None, header=HEADERS.get, body=BODY)
        log.write(requests_file(plan.run_dir, worker))


def summary_of(plan: RepetitionPlan):
    now = datetime.now(UTC)
    return summarise(plan, started_at=now, finished_at=now, rows_expected_here=True)


def test_summary_is_consistent_when_rows_schedule_and_locust_agree(tmp_path: Path):
    plan = plan_for(tmp_path)
    write_shares(plan, drop_first=True)
    (tmp_path / LOCUST_STATS_FILE).write_text(json.dumps({"requests": 5, "failures": 0}))
    summary = summary_of(plan)
    assert (summary.scheduled, summary.rows, summary.dropped, summary.ok) == (6, 6, 1, 5)
    assert summary.consistent is True
    assert summary.problems == []
    assert summary.workers_reported == 2


def test_summary_flags_missing_rows_and_a_locust_count_that_disagrees(tmp_path: Path):
    plan = plan_for(tmp_path)
    write_shares(plan)
    requests_file(tmp_path, 1).unlink()
    (tmp_path / LOCUST_STATS_FILE).write_text(json.dumps({"requests": 6, "failures": 0}))
    summary = summary_of(plan)
    assert summary.consistent is False
    assert "3 rows for 6 scheduled requests" in summary.problems
    assert any("Locust counted 6" in p for p in summary.problems)


def test_summary_without_locust_stats_is_not_consistent(tmp_path: Path):
    plan = plan_for(tmp_path, workers=1)
    write_shares(plan)
    summary = summary_of(plan)
    assert summary.consistent is False
    assert any("locust-stats.json" in p for p in summary.problems)


def test_a_rest_api_request_id_is_recorded_too():
    log = make_log()
    log.sent(0, 1000.0)
    headers = {"x-amzn-requestid": "rest-1"}
    log.completed(0, at=1000.1, status_code=504, error=None, header=headers.get, body=b"")
    log.close_unfinished()
    assert log.to_table().column("gateway_request_id")[0].as_py() == "rest-1"


def test_a_master_whose_workers_keep_their_rows_reports_consistency_unknown(tmp_path: Path):
    plan = plan_for(tmp_path)
    (tmp_path / LOCUST_STATS_FILE).write_text(json.dumps({"requests": 6, "failures": 0}))
    now = datetime.now(UTC)
    summary = summarise(plan, started_at=now, finished_at=now, rows_expected_here=False)
    assert summary.consistent is None
    assert summary.locust_requests == 6
    assert summary.problems == ["rows stay with the workers: 0 of 2 files here"]


def test_a_retry_does_not_count_what_an_earlier_attempt_left(tmp_path: Path):
    # An earlier attempt of the same run id ran with three processes and wrote stats and a
    # summary; the retry runs with two and, so far, has written nothing.
    earlier = plan_for(tmp_path / "run", workers=3)
    earlier.write()
    write_shares(earlier)
    (earlier.run_dir / LOCUST_STATS_FILE).write_text(json.dumps({"requests": 6, "failures": 0}))
    (earlier.run_dir / SUMMARY_FILE).write_text("{}")
    retry = plan_for(tmp_path / "run", workers=2)
    retry.clear_earlier_attempt()
    retry.write()
    summary = summary_of(retry)
    assert summary.rows == 0
    assert summary.locust_requests is None
    assert not (retry.run_dir / SUMMARY_FILE).exists()
