"""``python -m nlp_bench_pipeline.loadgen.in_pod``: the load generator's pod, start to finish.

What the pod that Dagster's ``PipesK8sClient`` starts on the EKS load-generator nodes runs
(``infra/k8s/loadgen/runner-pod.yaml``):

1. the repetition's plan, resolved by the pipeline, arrives in ``NLP_BENCH_LOADGEN_PLAN_JSON``
   and is written to ``plan.json`` in a run directory under ``--work-dir`` (the pod's volume);
2. the runner runs it as a child process — ``python -m nlp_bench_pipeline.loadgen run --plan``,
   the same command as on a laptop — with the pod's environment: the Dagster Pipes session's
   variables (its messages go to the pod's log, which Pipes reads) and the pod's IRSA role
   (web identity, no key), which the runner hands on where a plan signs requests;
3. the run directory goes to ``--results s3://bucket/prefix/`` whatever the runner's exit, so
   even a failed run's rows and Locust log reach the pipeline;
4. the pod exits with the runner's code, or 1 when the upload failed.

A child rather than a call: the runner stops when its parent exits (it watches its parent's
pidfd), and a container's first process has no parent to watch. This process is that parent,
and hands the pod's SIGTERM (a deleted pod, a cancelled Dagster run) on to the runner.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import boto3

from nlp_bench_pipeline.core.processes import python_command
from nlp_bench_pipeline.loadgen.repetition import RepetitionPlan
from nlp_bench_pipeline.loadgen.s3_run_dir import parse_s3_uri, s3_uri, upload_run_dir

PLAN_JSON_ENV = "NLP_BENCH_LOADGEN_PLAN_JSON"
EXIT_UPLOAD_FAILED = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m nlp_bench_pipeline.loadgen.in_pod",
        description=f"Run the repetition in ${PLAN_JSON_ENV} and upload its run directory.",
    )
    parser.add_argument("--work-dir", type=Path, required=True, help="the pod's writable volume")
    parser.add_argument("--results", required=True, help="s3://bucket/prefix/ for the run's files")
    return parser


def main(argv: Sequence[str], environ: Mapping[str, str], *, s3: Any = None) -> int:
    """Run the plan in ``environ``; ``s3`` is a boto3 client (default: the pod's credentials)."""
    args = build_parser().parse_args(argv)
    try:
        bucket, prefix = parse_s3_uri(args.results)
        plan = RepetitionPlan.model_validate_json(environ.get(PLAN_JSON_ENV) or "")
    except ValueError as exc:  # pydantic's ValidationError is one
        first = str(exc).splitlines()[0]
        print(f"in_pod: error: ${PLAN_JSON_ENV} or --results: {first}", file=sys.stderr)
        return EXIT_USAGE
    plan = plan.model_validate(
        {**plan.model_dump(), "run_dir": args.work_dir / "loadgen" / plan.run_id}
    )
    path = plan.prepare()
    code = run_runner(path, {k: v for k, v in environ.items() if k != PLAN_JSON_ENV})
    where = s3_uri(bucket, prefix)
    try:
        keys = upload_run_dir(s3 or boto3.client("s3"), bucket, prefix, plan.run_dir)
    except Exception as exc:  # any failure to store the rows fails the pod, in one line
        print(f"in_pod: uploading {plan.run_dir} to {where} failed: {exc}", file=sys.stderr)
        return EXIT_UPLOAD_FAILED
    print(f"in_pod: {len(keys)} files of run {plan.run_id} in {where}; runner exit {code}")
    return code


def run_runner(plan_path: Path, env: Mapping[str, str]) -> int:
    """The runner on ``plan_path`` as a child, with SIGTERM handed on; its exit code."""
    runner = subprocess.Popen(
        python_command("-m", "nlp_bench_pipeline.loadgen", "run", f"--plan={plan_path}"),
        env=dict(env),
    )

    def hand_on(signum: int, _frame: object) -> None:
        runner.send_signal(signum)

    previous = signal.signal(signal.SIGTERM, hand_on)
    try:
        return runner.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], os.environ))
