"""local-lambda: the full-size model's cold start against its floor, and the front's overhead.

(a) Cold start. The synthetic full-size DistilBERT at 1,769 MB (1 vCPU) through the gateway, on a
fresh deployment each time: the first request's wall time and its Init Duration, against the
floor measured in the same run: a bare process that imports the Lambda handler module (Python
imports, then the weights) and exits, with the same thread count, once unconstrained and once
under the same 1 vCPU quota. Platform overhead = cold request - floor under the same quota.

(b) Round trip. Sequential keep-alive requests through gateway + Runtime API + awslambdaric to
the trivial handler, against calling that handler in-process with the same event. Target: at
most 2.5 ms added at p50.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.report import Section, table
from nlp_bench_pipeline.core.deployments import DEFAULT_HANDLER, DeploymentSpec
from nlp_bench_pipeline.core.platform_facts import LAMBDA_DEFAULT_MEMORY_MB
from nlp_bench_pipeline.core.processes import python_command
from nlp_bench_pipeline.settings import PROJECT_ROOT
from nlp_bench_pipeline.targets.cpu_quota import CpuQuotas, lambda_cores
from nlp_bench_pipeline.targets.local_lambda import LocalLambdaTarget
from nlp_bench_pipeline.targets.local_lambda.payloads import HttpRequest, http_api_event

MEMORY_MB = LAMBDA_DEFAULT_MEMORY_MB
COLD_REPETITIONS = 3
ROUND_TRIPS = 3000
WARM_UP = 300
TARGET_ADDED_P50_MS = 2.5
TRIVIAL_HANDLER = "tests.fixtures.trivial_lambda.handler"
BODY = b'{"text": "a gripping, beautiful film"}'
FLOOR_SCRIPT = """
import json, time
started = time.perf_counter()
import inference_service.lambda_handler as handler
model = handler.app.state.service.model
print(json.dumps({"import_and_load_s": time.perf_counter() - started,
                  "loaded_at": time.time(), "weights_s": model.load_seconds}), flush=True)
"""


def run() -> Section:
    cold = _cold_start()
    round_trip = _round_trip()
    added_p50 = round_trip["gateway_p50_ms"] - round_trip["in_process_p50_ms"]
    added_p99 = round_trip["gateway_p99_ms"] - round_trip["in_process_p99_ms"]
    body = "\n\n".join(
        [
            "Cold start of the synthetic full-size model at 1,769 MB (1 vCPU, one torch thread), "
            f"best of {COLD_REPETITIONS} fresh deployments, against a bare process that imports "
            "the Lambda handler (imports, then weights) in the same run:",
            table(
                ["measure", "seconds"],
                [
                    ["floor: bare process, no CPU quota", cold["floor_s"]],
                    [
                        "  of which the model load (torch, transformers, weights)",
                        cold["floor_weights_s"],
                    ],
                    ["floor: bare process, same 1 vCPU quota", cold["floor_quota_s"]],
                    ["cold request through the gateway", cold["cold_request_s"]],
                    ["  Init Duration (process start to first next)", cold["init_s"]],
                    ["  wait for an init slot", cold["init_wait_s"]],
                    ["platform overhead (cold request - floor, same quota)", cold["overhead_s"]],
                ],
            ),
            f"Init retried inside the invoke (init over the 10 s limit): {cold['init_retried']}.",
            f"Round trip with the trivial handler, {ROUND_TRIPS:,} sequential keep-alive requests "
            f"after {WARM_UP} warm-up, against the same handler called in-process "
            f"(target: at most {TARGET_ADDED_P50_MS} ms added at p50):",
            table(
                ["path", "p50 ms", "p99 ms"],
                [
                    [
                        "handler in-process",
                        round_trip["in_process_p50_ms"],
                        round_trip["in_process_p99_ms"],
                    ],
                    [
                        "gateway + Runtime API + awslambdaric",
                        round_trip["gateway_p50_ms"],
                        round_trip["gateway_p99_ms"],
                    ],
                    ["added", added_p50, added_p99],
                ],
            ),
        ]
    )
    return Section(
        key="local_lambda",
        title="local-lambda: cold start and front overhead",
        body=body,
        passed=added_p50 <= TARGET_ADDED_P50_MS,
        figures={**cold, **round_trip, "added_p50_ms": added_p50, "added_p99_ms": added_p99},
    )


def _cold_start() -> dict[str, Any]:
    # Interleaved rounds, so drift in the machine's speed (a shared VM's is large: the same
    # process start has taken 7.5 s and 10 s minutes apart) hits the floor and the platform alike.
    floors, quota_floors, colds = [], [], []
    for _ in range(COLD_REPETITIONS):
        floors.append(_floor(quota=False))
        quota_floors.append(_floor(quota=True))
        colds.append(_cold_request())
    best_floor = min(floors, key=lambda f: f["wall_s"])
    best_cold = min(colds, key=lambda c: c["cold_request_s"])
    floor_quota_s = min(f["wall_s"] for f in quota_floors)
    return {
        "floor_s": best_floor["wall_s"],
        "floor_weights_s": best_floor["weights_s"],
        "floor_quota_s": floor_quota_s,
        **best_cold,
        "overhead_s": best_cold["cold_request_s"] - floor_quota_s,
        "all_floors_s": [f["wall_s"] for f in floors],
        "all_quota_floors_s": [f["wall_s"] for f in quota_floors],
        "all_cold_requests_s": [c["cold_request_s"] for c in colds],
    }


def _floor(*, quota: bool) -> dict[str, float]:
    """Process start to model loaded, with the environment a function would get."""
    command = python_command("-c", FLOOR_SCRIPT)
    quotas = CpuQuotas(f"benchmark-floor-{os.getpid()}")
    if quota:
        command = quotas.wrap("floor", lambda_cores(MEMORY_MB), command)
    env = {**os.environ, "NLP_BENCH_MODEL": "synthetic", "NLP_BENCH_THREADS": "1"}
    spawned_at = time.time()
    try:
        done = subprocess.run(
            command, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
        )
    finally:
        quotas.release()
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    # Up to the moment the model is loaded, as the child saw it: the process's exit (a second
    # or more with torch loaded) is no part of a cold start, where the process lives on.
    return {"wall_s": figures["loaded_at"] - spawned_at, "weights_s": figures["weights_s"]}


def _cold_request() -> dict[str, Any]:
    target = LocalLambdaTarget(work_dir=_work_dir())
    spec = DeploymentSpec(
        target="local-lambda", model="synthetic", handler=DEFAULT_HANDLER, memory_mb=MEMORY_MB
    )
    with target.deployed(spec) as deployment:
        connection = _connection(deployment.endpoint)
        started = time.perf_counter()
        status = _post(connection)
        cold_request_s = time.perf_counter() - started
        connection.close()
    if status != 200:
        raise RuntimeError(f"cold request answered {status}")
    cold_starts = [e for e in target.events() if e.kind == "cold_start"]
    last = cold_starts[-1]
    return {
        "cold_request_s": cold_request_s,
        "init_s": (last.init_ms or 0.0) / 1000.0,
        "init_wait_s": sum(e.detail["init_wait_ms"] for e in cold_starts) / 1000.0,
        "init_retried": any(e.kind == "timeout" for e in target.events()),
    }


def _round_trip() -> dict[str, float]:
    target = LocalLambdaTarget(work_dir=_work_dir())
    spec = DeploymentSpec(target="local-lambda", handler=TRIVIAL_HANDLER, memory_mb=MEMORY_MB)
    with target.deployed(spec) as deployment:
        connection = _connection(deployment.endpoint)
        for _ in range(WARM_UP):
            _post(connection)
        gateway = _timings(lambda: _post(connection), ROUND_TRIPS)
        connection.close()
    in_process = _timings(_in_process_call(), ROUND_TRIPS)
    return {
        "gateway_p50_ms": _percentile(gateway, 50),
        "gateway_p99_ms": _percentile(gateway, 99),
        "in_process_p50_ms": _percentile(in_process, 50),
        "in_process_p99_ms": _percentile(in_process, 99),
    }


def _in_process_call() -> Callable[[], Any]:
    """The trivial handler called directly with the event the gateway would build."""
    from awslambdaric.lambda_context import LambdaContext

    from tests.fixtures.trivial_lambda import handler

    event = http_api_event(
        HttpRequest(
            method="POST",
            path="/predict",
            query_string="",
            headers=[("Host", "127.0.0.1"), ("Content-Type", "application/json")],
            body=BODY,
            source_ip="127.0.0.1",
            request_id="benchmark",
            trace_id="Root=1-00000000-000000000000000000000000",
            received_at=time.time(),
        )
    )
    deadline_ms = int((time.time() + 3600) * 1000)
    context = LambdaContext("benchmark", None, None, deadline_ms, "arn:aws:lambda:local")
    return lambda: handler(event, context)


def _timings(call: Callable[[], Any], count: int) -> list[float]:
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000.0)
    return timings


def _connection(endpoint: str) -> http.client.HTTPConnection:
    host, port = endpoint.removeprefix("http://").split(":")
    return http.client.HTTPConnection(host, int(port), timeout=120)


def _post(connection: http.client.HTTPConnection) -> int:
    connection.request("POST", "/predict", body=BODY, headers={"content-type": "application/json"})
    response = connection.getresponse()
    response.read()
    return response.status


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _work_dir() -> Path:
    return PROJECT_ROOT / "data" / "work" / "benchmarks"
