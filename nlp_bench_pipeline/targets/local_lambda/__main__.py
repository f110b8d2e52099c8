"""``python -m nlp_bench_pipeline.targets.local_lambda``: serve the function until Ctrl-C.

Prints the endpoint and the deployment's host-limited notes, verifies that the function
initialises (one request through the front), serves, and on Ctrl-C (or SIGTERM) tears everything
down, every runtime process included. A function whose init fails — a model that cannot load —
is reported in one line and the command exits 1 without saying it serves: the emulator stays
faithful (Lambda re-runs a failed init on every invoke), so serving it would only start a
failing runtime per request.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from types import FrameType
from typing import Any

import httpx

from inference_service.contract import PREDICT_PATH
from nlp_bench_pipeline.core.deployments import DEFAULT_HANDLER, Deployment, DeploymentSpec
from nlp_bench_pipeline.core.platform_facts import LAMBDA_DEFAULT_MEMORY_MB
from nlp_bench_pipeline.settings import PipelineSettings
from nlp_bench_pipeline.targets.local_lambda.config import PRESETS, preset
from nlp_bench_pipeline.targets.local_lambda.target import LocalLambdaTarget

PROBE_BODY = {"text": "a gripping, beautiful film"}
# The HTTP API's integration timeout, and a little: an init slower than that is reported too.
PROBE_TIMEOUT_S = 35.0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    knobs = preset(args.profile, api=args.api, **dict(_pair(item) for item in args.set))
    spec = DeploymentSpec(
        target="local-lambda",
        model=args.model,
        handler=args.handler,
        memory_mb=args.memory,
        env=dict(_pair(item, parse=False) for item in args.env),
        platform=knobs,
    )
    signal.signal(signal.SIGTERM, _interrupt)
    target = LocalLambdaTarget(
        work_dir=PipelineSettings().work_dir / "local-lambda", port=args.port
    )
    try:
        with target.deployed(spec) as deployment:
            print(
                f"local-lambda endpoint: {deployment.endpoint} {deployment.deployment_id}",
                flush=True,
            )
            for name, note in deployment.details["notes"].items():
                print(f"  {name}: {note}", flush=True)
            print(f"  runtime logs: {deployment.details['log_dir']}", flush=True)
            failure = init_failure(target, deployment)
            if failure is not None:
                print(f"local-lambda: {failure}", file=sys.stderr, flush=True)
                return 1
            print("serving; Ctrl-C to stop", flush=True)
            threading.Event().wait()
    except KeyboardInterrupt:
        print("stopped; every runtime process is gone", flush=True)
    return 0


def init_failure(target: LocalLambdaTarget, deployment: Deployment) -> str | None:
    """Send one request through the front; None when an execution environment initialised.

    The platform's own record decides (a ``cold_start`` event is an init that reached its first
    ``next``); otherwise the last init failure it recorded is the answer. The environment that
    served stays warm until the idle eviction, as after any first request.
    """
    try:
        httpx.post(f"{deployment.endpoint}{PREDICT_PATH}", json=PROBE_BODY, timeout=PROBE_TIMEOUT_S)
    except httpx.HTTPError as exc:
        return f"the verification request failed: {type(exc).__name__}: {exc}"
    events = target.events()
    if any(event.kind == "cold_start" for event in events):
        return None
    failures = [
        e for e in events if e.kind in ("crash", "timeout") and e.detail.get("phase") == "init"
    ]
    if not failures:
        return "no execution environment initialised within the verification request"
    last = failures[-1].detail
    what = last.get("error_type") or f"{last.get('scope', 'init')} timeout"
    message = " ".join(str(last.get("message") or f"after {last.get('limit_s')} s").split())
    return (
        f"the function's init failed, so it does not serve: {what}: {message} "
        f"(runtime logs: {deployment.details['log_dir']})"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m nlp_bench_pipeline.targets.local_lambda", description=__doc__
    )
    parser.add_argument(
        "--memory", type=int, default=LAMBDA_DEFAULT_MEMORY_MB, help="function memory size in MB"
    )
    parser.add_argument("--port", type=int, default=9000, help="gateway port on 127.0.0.1")
    parser.add_argument("--model", default="synthetic", help="an NLP_BENCH_MODEL value")
    parser.add_argument("--handler", default=DEFAULT_HANDLER, help="Lambda handler path")
    parser.add_argument("--api", choices=["http", "rest"], default="http")
    parser.add_argument("--profile", choices=sorted(PRESETS), default="full")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KNOB=VALUE",
        help="a LocalLambdaConfig field, e.g. provisioned_concurrency=1 (repeatable)",
    )
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="function environment"
    )
    return parser


def _pair(item: str, *, parse: bool = True) -> tuple[str, Any]:
    name, sep, value = item.partition("=")
    if not sep:
        raise SystemExit(f"expected NAME=VALUE, got {item!r}")
    if not parse:
        return name, value
    try:
        return name, json.loads(value)
    except ValueError:
        return name, value


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
