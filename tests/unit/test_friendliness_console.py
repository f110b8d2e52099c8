"""The emulators' console lines: CloudWatch's for local-lambda, kubectl's for local-k8s, fed by
the event log's subscribers (issue 14)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

from nlp_bench_pipeline.core.records import PlatformEvent
from nlp_bench_pipeline.targets.console import (
    EVENTS_LOG,
    PlatformConsole,
    k8s_lines,
    kubectl_header,
    lambda_lines,
)
from nlp_bench_pipeline.targets.events import EventLog, subscribed
from nlp_bench_pipeline.targets.local_lambda.report import ReportRecord

AT = datetime(2026, 12, 1, 12, 0, 5, 250_000, tzinfo=UTC)


def event(kind: str, environment_id: str | None = "ee-001", **fields) -> PlatformEvent:
    detail = fields.pop("detail", {})
    return PlatformEvent(
        at=AT, target="local-lambda", kind=kind, environment_id=environment_id, detail=detail,
        **fields,
    )  # fmt: skip


def texts(lines) -> list[str]:
    return [line.text for line in lines]


def test_a_report_prints_start_end_and_the_report_line_as_cloudwatch_does():
    record = ReportRecord("req-1", 21.97, 1769, 431, init_duration_ms=5087.55)
    start, end, report = texts(
        lambda_lines(
            event(
                "report", duration_ms=21.97,
                detail={"request_id": "req-1", "line": record.line, "status": "success"},
            )
        )
    )  # fmt: skip
    assert start == "2026-12-01T12:00:05.228Z ee-001 START RequestId: req-1 Version: $LATEST"
    assert end == "2026-12-01T12:00:05.250Z ee-001 END RequestId: req-1"
    assert report == f"2026-12-01T12:00:05.250Z ee-001 {record.line}"
    assert "Init Duration: 5087.55 ms" in report


def test_throttles_timeouts_cold_starts_and_evictions_are_one_line_each():
    cases = {
        "THROTTLE 500 concurrency_limit, concurrency limit 4 (lowered to fit this host)": event(
            "throttle", None,
            detail={"reason": "concurrency_limit", "concurrency_limit": 4, "host_limited": True},
        ),
        "THROTTLE 429 gateway_rate_limit": event(
            "throttle", None, detail={"reason": "gateway_rate_limit"}
        ),
        "TIMEOUT gateway: 503 after the 30.0 s integration timeout, waiting on the init": event(
            "timeout",
            detail={"scope": "gateway", "status": 503, "waited_on_init": True,
                    "integration_timeout_s": 30.0, "request_id": "req-2"},
        ),
        "COLD START Init Duration: 812.40 ms, waited 250 ms for an init slot": event(
            "cold_start", init_ms=812.4, detail={"init_wait_ms": 250.0, "request_id": "req-3"}
        ),
        "COLD START Restore Duration: 95.00 ms for RequestId: req-4": event(
            "cold_start", init_ms=95.0, detail={"init_type": "snap-start", "request_id": "req-4"}
        ),
        "EVICT after 600 s idle": event("evict", detail={"idle_s": 600.0}),
        "TIMEOUT init: init attempt 1 passed its 10.0 s limit": event(
            "timeout", detail={"scope": "init", "phase": "init", "attempt": 1, "limit_s": 10.0}
        ),
        "CRASH Runtime.ExitError during invoke, exit code 1": event(
            "crash", detail={"phase": "invoke", "exit_code": 1, "error_type": "Runtime.ExitError"}
        ),
    }  # fmt: skip
    for expected, recorded in cases.items():
        [line] = texts(lambda_lines(recorded))
        assert expected in line, line
        assert "\n" not in line


def test_quiet_keeps_the_per_invoke_lines_off_the_terminal_but_not_out_of_the_file(
    tmp_path: Path,
):
    out = io.StringIO()
    console = PlatformConsole(lambda_lines, quiet=True, out=out)
    console.release()
    console(event("report", duration_ms=5.0, detail={"request_id": "r", "line": "REPORT r"}))
    console(event("cold_start", init_ms=10.0, detail={"request_id": "r"}))
    console.attach_file(tmp_path)
    console.close()
    assert len(out.getvalue().splitlines()) == 1
    assert "COLD START" in out.getvalue()
    written = (tmp_path / EVENTS_LOG).read_text().splitlines()
    assert len(written) == 4
    assert "START RequestId: r" in written[0]


def test_event_lines_wait_for_release_so_the_first_line_stays_the_endpoint(tmp_path: Path):
    out = io.StringIO()
    console = PlatformConsole(k8s_lines, header=kubectl_header(), out=out)
    console(event("pod_scheduled", "pod-a", detail={"node": "node-1", "pending_ms": 0.0}))
    console.note("local-k8s dep-1 Service listening at http://127.0.0.1:9100")
    console.release()
    console(event("pod_ready", "pod-a", init_ms=6400.0, detail={"ready_ms": 6900.0}))
    lines = out.getvalue().splitlines()
    assert lines[0].split()[-1] == "http://127.0.0.1:9100"
    assert lines[1].split() == ["TIME", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert "Scheduled" in lines[2]
    assert "Ready" in lines[3]
    console.attach_file(tmp_path)  # what came before the folder existed is written first
    console.close()
    assert len((tmp_path / EVENTS_LOG).read_text().splitlines()) == 4


def test_k8s_events_read_like_kubectl_get_events():
    [ready] = texts(
        k8s_lines(
            event(
                "pod_ready",
                "nlp-bench-1",
                init_ms=6400.0,
                detail={"ready_ms": 6900.0, "model_load_ms": 5200.0},
            )
        )
    )
    assert ready.split()[:4] == ["12:00:05", "Normal", "Ready", "pod/nlp-bench-1"]
    assert "serving 6.9 s after creation" in ready
    [rescale] = texts(
        k8s_lines(
            event(
                "scale_out",
                None,
                detail={
                    "from_replicas": 1,
                    "to_replicas": 3,
                    "metric": "cpu",
                    "metric_value": 160.0,
                    "target": 80.0,
                },
            )
        )
    )
    assert "horizontalpodautoscaler/nlp-bench" in rescale
    assert (
        "New size: 3; reason: cpu resource utilization (percentage of request) above target"
        in rescale
    )
    [killed] = texts(k8s_lines(event("pod_killed", "nlp-bench-1", detail={"reason": "hpa"})))
    assert "Killing" in killed
    assert "Stopping container: hpa" in killed
    [node] = texts(
        k8s_lines(event("node_added", "node-2", duration_ms=10_000.0, detail={"pods_per_node": 1}))
    )
    assert "node/node-2" in node
    assert "ready 10.0 s after the request" in node
    assert k8s_lines(event("report")) == []  # nothing kubectl would show


def test_an_event_log_created_inside_subscribed_tells_its_subscriber():
    heard: list[str] = []
    outside = EventLog("local-lambda")
    with subscribed(lambda e: heard.append(e.kind)):
        inside = EventLog("local-lambda")
    inside.record("evict", "ee-1", detail={"idle_s": 1.0})
    outside.record("evict", "ee-2")
    assert heard == ["evict"]
    assert len(inside.since()) == 1


def test_a_failing_subscriber_never_stops_the_platform_recording():
    log = EventLog("local-k8s")

    def broken(_: PlatformEvent) -> None:
        raise RuntimeError("subscriber bug")

    log.subscribe(broken)
    log.record("pod_ready", "pod-a")
    assert [e.kind for e in log.since()] == ["pod_ready"]


def test_a_file_only_console_keeps_every_line_and_prints_none(tmp_path: Path):
    out = io.StringIO()
    console = PlatformConsole(lambda_lines, out=out, to_terminal=False)
    console.attach_file(tmp_path)
    console.release()
    console(event("evict", detail={"idle_s": 600.0}))
    console.note("a note")
    console.close()
    assert out.getvalue() == ""
    assert len((tmp_path / EVENTS_LOG).read_text().splitlines()) == 2
