"""The standalone load generator as a person reads it: thresholds, progress, the end-of-run table,
the exit it ends with, and the scenario listing (issue 14)."""

from __future__ import annotations

import io
import json
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest

from nlp_bench_pipeline.loadgen import runner
from nlp_bench_pipeline.loadgen.repetition import LOCUST_STATS_FILE, RepetitionPlan, requests_file
from nlp_bench_pipeline.loadgen.reporting import (
    ConsoleReporter,
    LineThrottle,
    RunProgress,
    RunResult,
    end_of_run_text,
    line_interval_s,
)
from nlp_bench_pipeline.loadgen.results import summarise
from nlp_bench_pipeline.loadgen.scenarios import SCENARIO_NAMES, load_scenario
from nlp_bench_pipeline.store import MetricStore
from tests.unit.store_rows import row, write_rows

UNIFORM = {
    "warmup": [{"duration_s": 1, "rate": 2, "arrivals": "uniform"}],
    "measure": [{"duration_s": 5, "rate": 4, "arrivals": "uniform"}],
}


# --------------------------------------------------------------------------- thresholds


def test_fail_on_reads_each_threshold_and_a_share_as_a_percentage():
    limits = runner.thresholds("p99_ms>500, error_rate>=1%,throughput_rps<2.5")
    assert [(t.metric, t.op, t.bound) for t in limits] == [
        ("p99_ms", ">", 500.0),
        ("error_rate", ">=", 0.01),
        ("throughput_rps", "<", 2.5),
    ]


@pytest.mark.parametrize(
    ("expression", "said"),
    [
        ("p99>500", "unknown metric 'p99'"),
        ("p99_ms=>500", "is not METRIC>NUMBER"),
        ("p99_ms>fast", "'fast' is not a finite number"),
        ("p99_ms>5%", "only a share"),
        (",", "no threshold given"),
    ],
)
def test_a_bad_threshold_is_one_line_naming_the_expression(expression, said, capsys):
    with pytest.raises(SystemExit) as exited:
        runner.main(
            ["run", "--host=http://127.0.0.1:9", "--scenario=burst", "--fail-on", expression]
        )
    assert exited.value.code == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"{runner.PROG} run: error: argument --fail-on: ")
    assert said in line


def test_every_threshold_metric_is_a_column_of_run_summary(tmp_path: Path):
    store = MetricStore(tmp_path / "schema.duckdb")
    store.migrate()
    columns = set(store.query("SELECT * FROM run_summary LIMIT 0").column_names)
    assert set(runner.THRESHOLD_METRICS) <= columns


def test_a_percentile_that_lands_on_a_failure_crosses_an_upper_bound():
    (limit,) = runner.thresholds("p99_ms>500")
    assert limit.crossed({"p99_ms": None, "p99_is_failure": True}) is not None
    assert limit.crossed({"p99_ms": 499.0, "p99_is_failure": False}) is None
    assert "p99_ms = 501" in limit.crossed({"p99_ms": 501.0, "p99_is_failure": False})


def test_an_empty_figure_cannot_pass_a_threshold():
    (limit,) = runner.thresholds("throughput_rps<1")
    assert "empty" in limit.crossed({"throughput_rps": None})


# --------------------------------------------------------------------------- progress


def progress(**counts: int) -> RunProgress:
    return RunProgress(
        run_id="r", scheduled=10, elapsed_s=12.0, drain_limit_s=35.0, counts=counts,
        draining_for_s=5.0,
    )  # fmt: skip


def test_progress_phases_follow_the_counts_not_the_clock():
    assert progress().phase == "starting"
    assert progress(due=4, sent=4, ok=3).phase == "sending"
    assert progress(due=10, sent=10, ok=7).phase == "draining"
    assert progress(due=10, sent=9, ok=8, http_error=1, dropped=1).phase == "finishing"


def test_draining_says_what_is_in_flight_and_how_long_it_may_still_take():
    line = progress(due=10, sent=10, ok=7).line()
    assert "draining" in line
    assert "3 in flight" in line
    assert "up to 30 s more" in line  # the client timeout less the 5 s already waited
    assert "/" not in line.split(":", 1)[1]  # never "15/8 s"


def test_log_lines_come_at_intervals_sized_to_the_run_and_at_each_change_of_phase():
    assert line_interval_s(10) == 5.0
    assert line_interval_s(600) == 30.0
    assert line_interval_s(4 * 3600) == 60.0
    throttle = LineThrottle()
    sending = [RunProgress("r", 10, elapsed_s=t, counts={"due": 1, "sent": 1}) for t in (1, 2, 7)]
    assert [throttle.due(p, 5.0) for p in sending] == [True, False, True]
    draining = RunProgress("r", 10, elapsed_s=7.5, counts={"due": 10, "sent": 10})
    assert throttle.due(draining, 5.0)


def test_off_a_terminal_progress_is_plain_lines():
    err = io.StringIO()
    reporter = ConsoleReporter(expected_s=10, out=io.StringIO(), err=err)
    reporter.progress(progress(due=4, sent=4, ok=3))
    reporter.progress(progress(due=5, sent=5, ok=4))  # within the interval: no line
    assert err.getvalue().splitlines() == [progress(due=4, sent=4, ok=3).line()]


# --------------------------------------------------------------------------- the end of a run


@pytest.fixture
def finished_run(tmp_path: Path) -> tuple[RepetitionPlan, list[dict]]:
    """A run's own files as Locust leaves them: 2 warm-up rows, 20 measured (2 HTTP 503, 1
    dropped)."""
    scenario = load_scenario("warm_steady", "smoke", overrides=UNIFORM)
    (plan,) = RepetitionPlan.resolve(scenario, series_id="s", target="external", work_dir=tmp_path)
    plan = plan.aimed_at("http://127.0.0.1:8000")
    rows = [row(0, phase="warmup"), row(1, phase="warmup")]
    for seq in range(2, 22):
        if seq in (5, 9):
            rows.append(row(seq, outcome="http_error", status=503, latency_ms=30.0))
        elif seq == 14:
            rows.append(row(seq, outcome="dropped"))
        else:
            rows.append(row(seq, latency_ms=10.0 + seq))
    write_rows(requests_file(plan.run_dir, 0), rows)
    (plan.run_dir / LOCUST_STATS_FILE).write_text(json.dumps({"requests": 21, "failures": 2}))
    return plan, rows


def summary_of(plan: RepetitionPlan):
    now = datetime.now(UTC)
    return summarise(plan, started_at=now, finished_at=now, rows_expected_here=True)


def test_the_figures_come_from_the_runs_own_rows_through_run_summary(finished_run):
    plan, _ = finished_run
    summary = summary_of(plan)
    figures, errors = runner.run_figures(summary, plan, None)
    assert figures["requests"] == 20
    assert (figures["ok"], figures["errors"], figures["dropped"]) == (17, 2, 1)
    # every request counts, failures ranked slowest: the p90 of 20 is the 18th, a failure
    assert figures["p90_is_failure"]
    assert figures["p50_ms"] == pytest.approx(23.0)  # the 10th success: 10 ms + seq 13
    assert [(e["error"], e["requests"]) for e in errors] == [("HTTP 503", 2), ("inflight_limit", 1)]


def test_the_end_of_run_table_has_the_percentiles_throughput_errors_and_drops(finished_run):
    plan, _ = finished_run
    summary = summary_of(plan)
    figures, errors = runner.run_figures(summary, plan, None)
    text = end_of_run_text(RunResult(summary, figures, errors))
    lines = text.splitlines()
    assert lines[3].split() == ["latency", "ms", "p50", "p90", "p99", "p99.9", "max"]
    every = next(line for line in lines if line.startswith("every request, from send"))
    assert every.split()[4:] == ["23.0", "failed", "failed", "failed", "failed"]
    assert any(line.startswith("every request, from intended send") for line in lines)
    assert any(line.startswith("successes only") for line in lines)
    assert "offered 4.00 req/s, throughput 3.40 req/s" in text
    assert "HTTP 503" in text
    assert "inflight_limit" in text
    assert "10.0 %" in text  # error rate, 2 of 20
    assert "'failed': that percentile's rank lands on a failed or dropped request" in text


def test_the_json_summary_carries_the_figures(finished_run):
    plan, _ = finished_run
    summary = summary_of(plan)
    figures, errors = runner.run_figures(summary, plan, None)
    out = io.StringIO()
    ConsoleReporter(json_output=True, out=out, err=io.StringIO()).finished(
        RunResult(summary, figures, errors)
    )
    payload = json.loads(out.getvalue())
    assert payload["run_id"] == plan.run_id
    assert payload["figures"]["requests"] == 20
    assert payload["errors_by_class"][0]["error"] == "HTTP 503"


def test_a_run_without_a_single_success_fails_with_one_line_naming_the_host(finished_run):
    plan, rows = finished_run
    failed = [
        {**r, "outcome": "connection_error", "status_code": None, "error": "ConnectionRefusedError"}
        for r in rows
    ]
    write_rows(requests_file(plan.run_dir, 0), failed)
    summary = summary_of(plan)
    figures, errors = runner.run_figures(summary, plan, None)
    [(code, line)] = runner.judge(summary, figures, errors, [])
    assert code == runner.EXIT_RUN_FAILED
    assert line.startswith(f"{runner.PROG} run: nothing answered at http://127.0.0.1:8000: 0 ok")
    assert "ConnectionRefusedError" in line
    assert "\n" not in line


def test_a_crossed_threshold_fails_with_exit_99(finished_run):
    plan, _ = finished_run
    summary = summary_of(plan)
    figures, errors = runner.run_figures(summary, plan, None)
    crossed = runner.judge(summary, figures, errors, runner.thresholds("p50_ms>15,dropped>5"))
    assert crossed == [
        (runner.EXIT_THRESHOLD, f"{runner.PROG} run: --fail-on p50_ms>15: p50_ms = 23")
    ]


def test_nothing_listening_is_said_before_anything_runs():
    with socket.socket() as sock:  # a port bound but not listening refuses connections
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        why = runner.unreachable(f"http://127.0.0.1:{port}")
    assert why.startswith(f"nothing is listening at http://127.0.0.1:{port} (ConnectionRefused")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert runner.unreachable(f"http://127.0.0.1:{server.getsockname()[1]}") is None


# --------------------------------------------------------------------------- usage and listing


@pytest.mark.parametrize(
    ("argument", "said"),
    [
        ("--processes=0", "argument --processes: 0 is not between 1 and 1024"),
        ("--repetition=-1", "argument --repetition: -1 is not ≥ 0"),
        ("--master-bind-port=70000", "argument --master-bind-port: 70000 is not between 1"),
    ],
)
def test_a_bad_number_is_one_line_naming_the_option(argument, said, capsys):
    with pytest.raises(SystemExit) as exited:
        runner.main(["run", "--host=http://127.0.0.1:9", "--scenario=burst", argument])
    assert exited.value.code == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert said in line


def test_a_scenario_error_is_one_line(tmp_path: Path, capsys):
    code = runner.main(
        [
            "run", "--host=http://127.0.0.1:9", "--scenario=burst", f"--work-dir={tmp_path}",
            "--set=measure=[{duration_s: 0, rate: 5}]",
        ]
    )  # fmt: skip
    assert code == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line == (
        f"{runner.PROG} run: error: scenario 'burst' (profile quick) is invalid: "
        "measure.0.duration_s: Input should be greater than 0"
    )


def test_the_scenario_listing_has_a_header_descriptions_rates_and_lengths():
    text = runner.scenario_listing(None)
    lines = text.splitlines()
    assert lines[0].startswith("Scenarios in the built-in catalog")
    for name in SCENARIO_NAMES:
        description = load_scenario(name, "quick").description
        assert f"{name}: {description}" in text
    steady = next(line for line in lines if line.strip().startswith("quick") and "at 5/s" in line)
    assert "32 s" in steady
    assert "measure 20 s at 5/s" in steady
    assert "ramp 1→15/s" in text
    assert "25 s idle" in text
    assert lines[3].split() == ["profile", "length", "requests", "measured", "reps", "in", "flight",
                                "phases"]  # fmt: skip
