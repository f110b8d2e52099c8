"""``python -m nlp_bench_pipeline.targets.local_lambda``: serve the function until Ctrl-C.

Every option is checked first, through the models the target itself validates (the
``DeploymentSpec`` and ``LocalLambdaConfig``): a mistake is one line naming the option, the
value and what is allowed, exit code 2, before anything starts. Then it deploys, prints the
endpoint and the deployment's host-limited notes, verifies that the function initialises (one
request through the front), says it is ready and serves; on Ctrl-C (or SIGTERM) it tears
everything down, every runtime process included. While it serves it prints what Lambda did as
CloudWatch shows it — START, END and REPORT for each invoke (``-q`` leaves those out), one line
per cold start, throttle, timeout, crash and eviction — and keeps every line in ``events.log``
beside the runtime logs.

A function whose init fails — a model that cannot load — is reported in one line and the command
exits 1 without saying it serves: the emulator stays faithful (Lambda re-runs a failed init on
every invoke), so serving it would only start a failing runtime per request.

Answers the front writes itself (a throttle's 500, a timeout's 503) carry the emulator-only
header ``x-nlp-bench-reason`` (e.g. ``throttle:concurrency_limit``); AWS sends no such header.
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
from pydantic import ValidationError

from inference_service.contract import PREDICT_PATH
from nlp_bench_pipeline.core.deployments import DEFAULT_HANDLER, Deployment, DeploymentSpec
from nlp_bench_pipeline.core.options import number
from nlp_bench_pipeline.core.platform_facts import (
    LAMBDA_DEFAULT_MEMORY_MB,
    LAMBDA_MAX_MEMORY_MB,
    LAMBDA_MIN_MEMORY_MB,
)
from nlp_bench_pipeline.settings import PipelineSettings
from nlp_bench_pipeline.targets.command_line import (
    address_in_use,
    emulator_parser,
    pair,
    port_taken,
    port_taken_line,
    validation_line,
)
from nlp_bench_pipeline.targets.console import PlatformConsole, lambda_lines
from nlp_bench_pipeline.targets.events import subscribed
from nlp_bench_pipeline.targets.local_lambda.config import LocalLambdaConfig, preset
from nlp_bench_pipeline.targets.local_lambda.pool import InitAheadFailed
from nlp_bench_pipeline.targets.local_lambda.target import LocalLambdaTarget

PROG = "python -m nlp_bench_pipeline.targets.local_lambda"
PROBE_BODY = {"text": "a gripping, beautiful film"}
# The HTTP API's integration timeout, and a little: an init slower than that is reported too.
PROBE_TIMEOUT_S = 35.0
# The benchmark's profiles and the emulator's timer set each one uses (smoke and quick evict an
# idle environment after 10 s; full keeps AWS's assumed 10 minutes).
PROFILE_PRESETS = {"smoke": "quick", "quick": "quick", "full": "full"}
# Where each DeploymentSpec field comes from on this command line.
SPEC_FLAGS = {"memory_mb": "--memory", "model": "--model", "handler": "--handler", "env": "--env"}


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    spec = build_spec(parser, args)
    if port_taken(args.port):
        parser.error(port_taken_line(args.port, "the API gateway"))
    # Both, explicitly: started from a script's background job, a process inherits SIGINT
    # ignored, and Python then installs no KeyboardInterrupt for it (local-k8s does the same).
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _interrupt)
    console = PlatformConsole(lambda_lines, quiet=args.quiet)
    target = LocalLambdaTarget(
        work_dir=PipelineSettings().work_dir / "local-lambda", port=args.port
    )
    try:
        with subscribed(console), target.deployed(spec) as deployment:
            console.note(f"local-lambda endpoint: {deployment.endpoint} {deployment.deployment_id}")
            for name, note in deployment.details["notes"].items():
                console.note(f"  {name}: {note}")
            console.note(f"  runtime logs and events.log: {deployment.details['log_dir']}")
            console.release()
            failure = init_failure(target, deployment)
            if failure is not None:
                print(f"local-lambda: {failure}", file=sys.stderr, flush=True)
                return 1
            console.note(f"ready: POST {deployment.endpoint}{PREDICT_PATH} (Ctrl-C stops it)")
            threading.Event().wait()
    except KeyboardInterrupt:
        console.note("stopped; every runtime process is gone")
    except InitAheadFailed as exc:  # a zygote or provisioned environment could not initialise
        summary = " ".join(str(exc).split("\n", 1)[0].split())
        print(f"local-lambda: {summary} (runtime logs: {target.work_dir})", file=sys.stderr)
        return 1
    except ValueError as exc:  # a limit only the host's capacity decides (resolve_limits)
        parser.error(f"--set: {exc}")
    except OSError as exc:
        if not address_in_use(exc):
            raise
        parser.error(port_taken_line(args.port, "the API gateway"))  # taken since the check
    finally:
        console.close()
    return 0


def build_spec(parser: argparse.ArgumentParser, args: argparse.Namespace) -> DeploymentSpec:
    """The spec and platform knobs, validated as the target validates them; exit 2 if not."""
    knobs = preset(PROFILE_PRESETS[args.profile], **{"api": args.api, **dict(args.set)})
    try:
        spec = DeploymentSpec(
            target="local-lambda",
            model=args.model,
            handler=args.handler,
            memory_mb=args.memory,
            env=dict(args.env),
            platform=knobs,
        )
    except ValidationError as exc:
        parser.error(validation_line(exc, DeploymentSpec, lambda loc: _spec_setting(args, loc)))
    try:
        LocalLambdaConfig.from_spec(spec)
    except ValidationError as exc:
        parser.error(validation_line(exc, LocalLambdaConfig, lambda loc: _knob_setting(args, loc)))
    return spec


def _spec_setting(args: argparse.Namespace, loc: tuple[str | int, ...]) -> str:
    field = str(loc[0]) if loc else ""
    flag = SPEC_FLAGS.get(field, field)
    value = {"--memory": args.memory, "--model": args.model, "--handler": args.handler}.get(flag)
    return f"{flag} {value}" if value is not None else flag


def _knob_setting(args: argparse.Namespace, loc: tuple[str | int, ...]) -> str:
    given = dict(args.set)
    if not loc:  # a rule across knobs
        return " ".join(f"--set {k}={json.dumps(v)}" for k, v in given.items()) or "--set"
    knob = str(loc[0])
    if knob in given:
        return f"--set {knob}={json.dumps(given[knob])}"
    return f"--api {args.api}" if knob == "api" else knob


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


def _knob(text: str) -> tuple[str, Any]:
    """``--set KNOB=VALUE``: the value as JSON where it parses (numbers, null), else text."""
    name, value = pair(text)
    try:
        return name, json.loads(value)
    except ValueError:
        return name, value


def _parser() -> argparse.ArgumentParser:
    parser = emulator_parser(PROG, __doc__)
    parser.add_argument(
        "--memory",
        type=number(1, integer=True),
        default=LAMBDA_DEFAULT_MEMORY_MB,
        help=f"function memory size in MB, {LAMBDA_MIN_MEMORY_MB} to {LAMBDA_MAX_MEMORY_MB}; "
        "sets the CPU share (default: %(default)s)",
    )
    parser.add_argument(
        "--port",
        type=number(0, 65535, integer=True),
        default=9000,
        help="the gateway's port on 127.0.0.1, 0 for any free one (default: %(default)s)",
    )
    parser.add_argument(
        "--model", default="synthetic", help="an NLP_BENCH_MODEL value (default: %(default)s)"
    )
    parser.add_argument(
        "--handler", default=DEFAULT_HANDLER, help="Lambda handler path (default: %(default)s)"
    )
    parser.add_argument(
        "--api",
        choices=["http", "rest"],
        default="http",
        help="HTTP API (payload 2.0) or REST API (payload 1.0) (default: %(default)s)",
    )
    parser.add_argument(
        "--profile",
        choices=sorted(PROFILE_PRESETS),
        default="full",
        help="the benchmark profile's timers: smoke and quick evict an idle environment after "
        "10 s, full keeps AWS's assumed 10 minutes (default: %(default)s)",
    )
    parser.add_argument(
        "--set",
        type=_knob,
        action="append",
        default=[],
        metavar="KNOB=VALUE",
        help="a LocalLambdaConfig knob, e.g. provisioned_concurrency=1 (repeatable): "
        + ", ".join(LocalLambdaConfig.model_fields),
    )
    parser.add_argument(
        "--env",
        type=pair,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="the function's environment, e.g. NLP_BENCH_FAULT_LOAD_DELAY_S=3 (repeatable)",
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="leave the START/END/REPORT lines of each invoke off the terminal (events.log "
        "keeps them); cold starts, throttles, timeouts and crashes still print",
    )
    return parser


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
