"""``python -m nlp_bench_pipeline.targets.local_k8s``: deploy, say when a pod is ready, serve
until Ctrl-C (or SIGTERM), then tear everything down.

Example: ``python -m nlp_bench_pipeline.targets.local_k8s --replicas 2 --port 9100``; add
``--max-replicas 4`` for an HPA, ``--profile quick`` for short timers.

Every option is checked first, through the models the target itself validates
(``DeploymentSpec``, ``LocalK8sConfig``): a mistake is one line naming the option, the value
and what is allowed, exit code 2, before anything starts. The Service listens as soon as it is
deployed and answers 503 (reason header ``x-nlp-bench-reason: cold_start:no_ready_endpoints``)
until a pod passes its readiness probe; "ready" is printed only then. Meanwhile the platform's
events print as ``kubectl get events -w`` shows them — pods scheduled, ready, killed and
restarted, the HPA's rescales, nodes added — and go to ``events.log`` beside the pod logs.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading

from pydantic import ValidationError

from nlp_bench_pipeline.core.deployments import DEFAULT_APP, DeploymentSpec
from nlp_bench_pipeline.core.options import number
from nlp_bench_pipeline.core.records import PlatformEvent
from nlp_bench_pipeline.settings import PipelineSettings
from nlp_bench_pipeline.targets.command_line import (
    address_in_use,
    emulator_parser,
    port_taken,
    port_taken_line,
    validation_line,
)
from nlp_bench_pipeline.targets.console import PlatformConsole, k8s_lines, kubectl_header
from nlp_bench_pipeline.targets.events import subscribed
from nlp_bench_pipeline.targets.local_k8s.config import PRESETS, LocalK8sConfig, validate_spec
from nlp_bench_pipeline.targets.local_k8s.target import LocalK8sTarget

PROG = "python -m nlp_bench_pipeline.targets.local_k8s"
# The benchmark's profiles and the timer set each one uses, as the pipeline picks them.
PROFILE_PRESETS = {"smoke": "quick", "quick": "quick", "full": "default"}
SPEC_FLAGS = {"cpu": "--cpu", "model": "--model", "app": "--app", "max_replicas": "--max-replicas"}


def parse_args(argv: list[str] | None = None) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    parser = emulator_parser(PROG, __doc__)
    parser.add_argument(
        "--replicas",
        type=number(1, integer=True),
        default=1,
        help="pods, the HPA's minimum; at least 1, as an HPA on EKS cannot scale to zero "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--max-replicas",
        type=number(1, integer=True),
        help="more than --replicas enables the HPA (default: --replicas, no HPA)",
    )
    parser.add_argument(
        "--port",
        type=number(0, 65535, integer=True),
        default=0,
        help="the Service's port on 127.0.0.1, 0 for any free one (default: %(default)s)",
    )
    parser.add_argument(
        "--app", default=DEFAULT_APP, help="ASGI app each pod serves (default: %(default)s)"
    )
    parser.add_argument(
        "--model", default="synthetic", help="an NLP_BENCH_MODEL value (default: %(default)s)"
    )
    parser.add_argument(
        "--cpu",
        type=number(0, integer=False),
        default=1.0,
        help="CPU request = limit per pod, in cores (default: %(default)s)",
    )
    timers = parser.add_mutually_exclusive_group()
    timers.add_argument(
        "--profile",
        choices=sorted(PROFILE_PRESETS),
        help="the benchmark profile's timers: smoke and quick shorten probes, HPA sync and "
        "node adds as the pipeline does, full keeps Kubernetes' (default: full)",
    )
    timers.add_argument(
        "--preset",
        choices=list(PRESETS),
        help="the timer set by its own name (an alias: default = --profile full, quick = "
        "--profile quick)",
    )
    parser.add_argument(
        "--platform",
        default="{}",
        help="more LocalK8sConfig knobs as a JSON object, e.g. "
        '\'{"hpa": {"metric": "inflight"}}\'; '
        f"knobs: {', '.join(LocalK8sConfig.model_fields)} (default: %(default)s)",
    )
    return parser, parser.parse_args(argv)


def build_spec(parser: argparse.ArgumentParser, args: argparse.Namespace) -> DeploymentSpec:
    """The spec and platform knobs, validated as the target validates them; exit 2 if not."""
    try:
        knobs = json.loads(args.platform)
    except ValueError as exc:
        parser.error(f"--platform {args.platform}: not JSON ({exc})")
    if not isinstance(knobs, dict):
        parser.error(f"--platform {args.platform}: must be a JSON object of knobs, e.g. '{{}}'")
    preset = args.preset or PROFILE_PRESETS[args.profile or "full"]
    try:
        spec = DeploymentSpec(
            target="local-k8s",
            app=args.app,
            model=args.model,
            cpu={"request": args.cpu, "limit": args.cpu},
            min_replicas=args.replicas,
            max_replicas=max(args.replicas, args.max_replicas or args.replicas),
            platform={"preset": preset, "service": {"port": args.port}, **knobs},
        )
    except ValidationError as exc:
        parser.error(validation_line(exc, DeploymentSpec, lambda loc: _spec_setting(args, loc)))
    try:
        validate_spec(spec)
    except ValidationError as exc:
        parser.error(validation_line(exc, LocalK8sConfig, _knob_setting))
    except ValueError as exc:  # an unknown preset inside --platform
        parser.error(f"--platform {args.platform}: {exc}")
    return spec


def _spec_setting(args: argparse.Namespace, loc: tuple[str | int, ...]) -> str:
    field = str(loc[0]) if loc else ""
    flag = SPEC_FLAGS.get(field, field)
    value = {"--cpu": args.cpu, "--model": args.model, "--app": args.app}.get(flag)
    return f"{flag} {value:g}" if isinstance(value, float) else f"{flag} {value or ''}".strip()


def _knob_setting(loc: tuple[str | int, ...]) -> str:
    return "--platform " + ".".join(str(part) for part in loc) if loc else "--platform"


def main(argv: list[str] | None = None) -> int:
    parser, args = parse_args(argv)
    spec = build_spec(parser, args)
    if port_taken(args.port):
        parser.error(port_taken_line(args.port, "the Service"))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    first_ready = threading.Event()
    console = PlatformConsole(k8s_lines, header=kubectl_header())

    def watch(event: PlatformEvent) -> None:
        console(event)
        if event.kind == "pod_ready":
            first_ready.set()

    target = LocalK8sTarget(work_dir=PipelineSettings().work_dir / "local-k8s")
    try:
        with subscribed(watch), target.deployed(spec) as deployment:
            console.note(
                f"local-k8s {deployment.deployment_id} Service listening at {deployment.endpoint}"
            )
            console.note(
                f"  503 until a pod is ready; pod logs and events.log: "
                f"{deployment.details['log_dir']}"
            )
            console.release()
            while not stop.is_set():
                if first_ready.wait(0.2):
                    console.note(f"ready: {deployment.endpoint} serves (Ctrl-C stops it)")
                    stop.wait()
            console.note("tearing down")
    except OSError as exc:
        if not address_in_use(exc):
            raise
        parser.error(port_taken_line(args.port, "the Service"))  # taken since the check
    finally:
        console.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
