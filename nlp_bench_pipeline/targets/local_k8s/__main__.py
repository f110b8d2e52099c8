"""``python -m nlp_bench_pipeline.targets.local_k8s``: deploy, print the endpoint, serve until
Ctrl-C (or SIGTERM), then tear everything down.

Example: ``python -m nlp_bench_pipeline.targets.local_k8s --replicas 2 --port 9100``; add
``--max-replicas 4`` for an HPA, ``--preset quick`` for short timers.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading

from nlp_bench_pipeline.core.deployments import DEFAULT_APP, DeploymentSpec, ResourceQuantity
from nlp_bench_pipeline.settings import PipelineSettings
from nlp_bench_pipeline.targets.local_k8s.config import PRESETS
from nlp_bench_pipeline.targets.local_k8s.target import LocalK8sTarget


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m nlp_bench_pipeline.targets.local_k8s", description=__doc__
    )
    parser.add_argument("--replicas", type=int, default=1, help="pods (the HPA's minimum)")
    parser.add_argument("--max-replicas", type=int, help="more than --replicas enables the HPA")
    parser.add_argument("--port", type=int, default=0, help="the Service's port (0: any free)")
    parser.add_argument("--app", default=DEFAULT_APP, help="ASGI app each pod serves")
    parser.add_argument("--model", default="synthetic", help="an NLP_BENCH_MODEL value")
    parser.add_argument("--cpu", type=float, default=1.0, help="CPU request = limit, in cores")
    parser.add_argument("--preset", choices=list(PRESETS), default="default")
    parser.add_argument(
        "--platform",
        default="{}",
        help='more knobs as JSON, e.g. \'{"hpa": {"metric": "inflight"}}\'',
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    spec = DeploymentSpec(
        target="local-k8s",
        app=args.app,
        model=args.model,
        cpu=ResourceQuantity(request=args.cpu, limit=args.cpu),
        min_replicas=args.replicas,
        max_replicas=max(args.replicas, args.max_replicas or args.replicas),
        platform={
            "preset": args.preset,
            "service": {"port": args.port},
            **json.loads(args.platform),
        },
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    target = LocalK8sTarget(work_dir=PipelineSettings().work_dir / "local-k8s")
    with target.deployed(spec) as deployment:
        print(f"local-k8s {deployment.deployment_id} serving at {deployment.endpoint}", flush=True)
        print(f"pod logs in {deployment.details['log_dir']}; Ctrl-C to stop", flush=True)
        stop.wait()
        print("tearing down", flush=True)


if __name__ == "__main__":
    main()
