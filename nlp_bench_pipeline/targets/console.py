"""What the local platforms did, as the real platforms' own tools show it: one line per fact.

The emulators' standalone commands print these as the platform records its events
(``EventLog.subscribe``): local-lambda's START, END and REPORT lines as CloudWatch Logs shows
them for every invoke, and one line for each cold start, throttle, timeout, crash and eviction;
local-k8s's pod, HPA and node events in the columns of ``kubectl get events -w`` (the UTC time
where kubectl shows an age). Every line also goes to ``events.log`` in the deployment's log
folder; ``quiet`` keeps the per-invoke lines off the terminal. The pipeline subscribes nothing,
so ``make bench`` keeps its own progress lines.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from nlp_bench_pipeline.core.records import PlatformEvent

EVENTS_LOG = "events.log"
KUBECTL_COLUMNS = (("TIME", 12), ("TYPE", 8), ("REASON", 18), ("OBJECT", 44), ("MESSAGE", 0))
HPA_OBJECT = "horizontalpodautoscaler/nlp-bench"


@dataclass(frozen=True)
class ConsoleLine:
    """A line to print; ``per_invoke`` lines (START/END/REPORT) are the ones ``quiet`` drops."""

    text: str
    per_invoke: bool = False


Formatter = Callable[[PlatformEvent], list[ConsoleLine]]


class PlatformConsole:
    """An ``EventLog`` subscriber that prints a platform's events and keeps them in a file.

    Lines recorded before the deployment's log folder exists are kept and written to the file
    when :meth:`attach_file` names it, so the file holds the whole deployment. Event lines are
    held off the terminal until :meth:`release`, so the command's first line stays the endpoint
    (scripts read it); :meth:`note` lines print at once. With ``to_terminal=False`` it only
    keeps the file (what a pipeline's deployment would want: its terminal has progress lines).
    """

    def __init__(
        self,
        formatter: Formatter,
        *,
        quiet: bool = False,
        out: TextIO | None = None,
        header: str | None = None,
        to_terminal: bool = True,
    ) -> None:
        self.formatter = formatter
        self.quiet = quiet
        self.out = out or sys.stdout
        self.to_terminal = to_terminal
        self._lock = threading.Lock()
        self._backlog: list[str] = [header] if header else []
        self._held: list[str] | None = [header] if header else []
        self._file: TextIO | None = None

    def __call__(self, event: PlatformEvent) -> None:
        for line in self.formatter(event):
            self._emit(line)

    def note(self, text: str) -> None:
        """A line of the command's own (the endpoint, "ready"), in the terminal and the file."""
        self._emit(ConsoleLine(text), held=False)

    def release(self) -> None:
        """Print the event lines held so far, and every later one as it comes."""
        with self._lock:
            held, self._held = self._held or [], None
            for text in held:
                self._print(text)

    def attach_file(self, folder: Path) -> Path:
        """Write every line so far, and from now on, to ``events.log`` in ``folder``."""
        path = Path(folder) / EVENTS_LOG
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._file = path.open("a", encoding="utf-8", buffering=1)
            for text in self._backlog:
                self._file.write(text + "\n")
            self._backlog.clear()
        return path

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def _emit(self, line: ConsoleLine, *, held: bool = True) -> None:
        with self._lock:
            if self._file is not None:
                self._file.write(line.text + "\n")
            else:
                self._backlog.append(line.text)
            if self.quiet and line.per_invoke:
                return
            if held and self._held is not None:
                self._held.append(line.text)
            else:
                self._print(line.text)

    def _print(self, text: str) -> None:
        if self.to_terminal:
            print(text, file=self.out, flush=True)


# --------------------------------------------------------------------------- local-lambda


def lambda_lines(event: PlatformEvent) -> list[ConsoleLine]:
    """CloudWatch's lines for a REPORT record; one line for every other thing Lambda did."""
    d = event.detail
    stamp = _cloudwatch_time(event.at)
    env = event.environment_id or "-"
    if event.kind == "report":
        started = event.at - timedelta(milliseconds=event.duration_ms or 0.0)
        request = d.get("request_id") or "-"
        return [
            ConsoleLine(f"{_cloudwatch_time(started)} {env} START RequestId: {request} "
                        "Version: $LATEST", per_invoke=True),
            ConsoleLine(f"{stamp} {env} END RequestId: {request}", per_invoke=True),
            ConsoleLine(f"{stamp} {env} {d.get('line') or 'REPORT'}", per_invoke=True),
        ]  # fmt: skip
    what = _LAMBDA_FACTS.get(event.kind)
    return [ConsoleLine(f"{stamp} {env} {what(event)}")] if what else []


def _init_start(event: PlatformEvent) -> str:
    d = event.detail
    return (
        f"INIT_START {d.get('init_type', 'on-demand')} init, attempt {d.get('attempt', 1)}"
        f"{_waited(d)} (pid {d.get('pid')})"
    )


def _cold_start(event: PlatformEvent) -> str:
    """A restored (zygote, SnapStart-like) start says Restore Duration, as AWS's logs do."""
    d = event.detail
    phase = "Restore" if d.get("init_type") == "snap-start" else "Init"
    return (
        f"COLD START {phase} Duration: {event.init_ms or 0:.2f} ms{_waited(d)} "
        f"for RequestId: {d.get('request_id') or '-'}"
    )


def _throttle(event: PlatformEvent) -> str:
    d = event.detail
    reason = d.get("reason", "throttled")
    status = 429 if reason == "gateway_rate_limit" else 500
    limit = (
        f", concurrency limit {d['concurrency_limit']}"
        + (" (lowered to fit this host)" if d.get("host_limited") else "")
        if reason == "concurrency_limit"
        else ""
    )
    return f"THROTTLE {status} {reason}{limit}; gateway request {d.get('gateway_request_id')}"


def _timeout(event: PlatformEvent) -> str:
    d = event.detail
    scope = d.get("scope", "function")
    if scope == "gateway":
        waited = ", waiting on the init it triggered" if d.get("waited_on_init") else ""
        return (
            f"TIMEOUT gateway: {d.get('status')} after the {d.get('integration_timeout_s')} s "
            f"integration timeout{waited}; RequestId: {d.get('request_id')}"
        )
    message = " ".join(str(d.get("message") or "").split())
    if not message and d.get("phase") == "init":
        message = f"init attempt {d.get('attempt', 1)} passed its {d.get('limit_s')} s limit"
    return f"TIMEOUT {scope}: {message or 'timed out'}; RequestId: {d.get('request_id') or '-'}"


def _crash(event: PlatformEvent) -> str:
    d = event.detail
    message = " ".join(str(d.get("message") or "").split())
    return (
        f"CRASH {d.get('error_type') or 'Runtime.ExitError'} during {d.get('phase', 'invoke')}"
        + (f", exit code {d['exit_code']}" if d.get("exit_code") is not None else "")
        + (f": {message[:300]}" if message else "")
    )


def _evict(event: PlatformEvent) -> str:
    return f"EVICT after {event.detail.get('idle_s', 0):.0f} s idle (the environment is gone)"


def _waited(detail: dict[str, Any]) -> str:
    wait = float(detail.get("init_wait_ms") or 0.0)
    return f", waited {wait:.0f} ms for an init slot (host-limited)" if wait > 10 else ""


_LAMBDA_FACTS: dict[str, Callable[[PlatformEvent], str]] = {
    "init_start": _init_start,
    "cold_start": _cold_start,
    "throttle": _throttle,
    "timeout": _timeout,
    "crash": _crash,
    "evict": _evict,
}


def _cloudwatch_time(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


# --------------------------------------------------------------------------- local-k8s


def kubectl_header() -> str:
    return _kubectl_row(*(name for name, _ in KUBECTL_COLUMNS))


def k8s_lines(event: PlatformEvent) -> list[ConsoleLine]:
    """The event as ``kubectl get events -w`` shows it: time, type, reason, object, message."""
    row = _K8S_EVENTS.get(event.kind)
    if row is None:
        return []
    kind, reason, obj, message = row(event)
    return [ConsoleLine(_kubectl_row(event.at.strftime("%H:%M:%S"), kind, reason, obj, message))]


def _kubectl_row(*cells: str) -> str:
    padded = [
        cell.ljust(width) if width else cell
        for cell, (_, width) in zip(cells, KUBECTL_COLUMNS, strict=True)
    ]
    return " ".join(padded).rstrip()


def _seconds(ms: Any) -> str:
    return f"{float(ms or 0.0) / 1000:.1f} s"


def _pod(event: PlatformEvent) -> str:
    return f"pod/{event.environment_id}"


def _k8s_scheduled(event: PlatformEvent) -> tuple[str, str, str, str]:
    d = event.detail
    return (
        "Normal",
        "Scheduled",
        _pod(event),
        f"Successfully assigned to {d.get('node')} after {_seconds(d.get('pending_ms'))} pending",
    )


def _k8s_ready(event: PlatformEvent) -> tuple[str, str, str, str]:
    d = event.detail
    load = f", model load {_seconds(d['model_load_ms'])}" if d.get("model_load_ms") else ""
    return (
        "Normal",
        "Ready",
        _pod(event),
        f"Readiness probe passed: serving {_seconds(d.get('ready_ms'))} after creation "
        f"(container start to ready {_seconds(event.init_ms)}{load})",
    )


def _k8s_killed(event: PlatformEvent) -> tuple[str, str, str, str]:
    return ("Normal", "Killing", _pod(event), f"Stopping container: {event.detail.get('reason')}")


def _k8s_restarted(event: PlatformEvent) -> tuple[str, str, str, str]:
    d = event.detail
    return (
        "Warning",
        "BackOff",
        _pod(event),
        f"Back-off restarting failed container: restart {d.get('restart_count')} in "
        f"{float(d.get('backoff_s') or 0):.0f} s ({d.get('reason')})",
    )


def _k8s_crash(event: PlatformEvent) -> tuple[str, str, str, str]:
    return ("Warning", "Failed", _pod(event), str(event.detail.get("reason") or "crashed"))


def _k8s_rescale(event: PlatformEvent) -> tuple[str, str, str, str]:
    d = event.detail
    direction = "above" if event.kind == "scale_out" else "below"
    metric = "cpu resource utilization (percentage of request)"
    if d.get("metric") == "inflight":
        metric = "requests in flight per pod"
    value = d.get("metric_value")
    measured = f"{float(value):.1f} against {d.get('target')}, " if value is not None else ""
    return (
        "Normal",
        "SuccessfulRescale",
        HPA_OBJECT,
        f"New size: {d.get('to_replicas')}; reason: {metric} {direction} target "
        f"({measured}was {d.get('from_replicas')})",
    )


def _k8s_node(event: PlatformEvent) -> tuple[str, str, str, str]:
    d = event.detail
    return (
        "Normal",
        "NodeReady",
        f"node/{event.environment_id}",
        f"Node added by the cluster autoscaler, ready {_seconds(event.duration_ms)} after the "
        f"request; {d.get('pods_per_node')} pods per node",
    )


_K8S_EVENTS: dict[str, Callable[[PlatformEvent], tuple[str, str, str, str]]] = {
    "pod_scheduled": _k8s_scheduled,
    "pod_ready": _k8s_ready,
    "pod_killed": _k8s_killed,
    "pod_restarted": _k8s_restarted,
    "crash": _k8s_crash,
    "scale_out": _k8s_rescale,
    "scale_in": _k8s_rescale,
    "node_added": _k8s_node,
}
