"""The parent's side of a load test: the runner's command line, and the summaries it reports back.

Plain Python — no Dagster, no Locust — so the asset stays a few lines::

    launch = loadgen_launch(plan.aimed_at(deployment.endpoint))
    invocation = PipesSubprocessClient().run(context=context, command=launch.command,
                                             env=launch.env)
    summary = summaries_from_messages(invocation.get_custom_messages())[0]

The plan is already resolved (``RepetitionPlan.resolve``): launching writes it to the run
directory and points the runner at it, so the child resolves nothing again.

Dagster's ``PipesSubprocessClient`` merges this process's whole environment into its child's,
whatever ``env`` says, so the command is wrapped (``core.processes.scrubbed``): the runner runs
with what a process needs, unbuffered output and the Pipes session's variables, and nothing else
of the operator's shell — no AWS key, no ``GROQ_API_KEY``, no ``HF_TOKEN``. Only a plan that acts
on AWS itself (SigV4-signed requests to an IAM-authorised API, or direct invokes) also passes
boto3's credential chain (:func:`aws_credentials_for`), which the runner hands on to Locust.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nlp_bench_pipeline.core.processes import (
    AWS_CREDENTIAL_CHAIN,
    PROCESS_ESSENTIALS,
    PassedEnvironment,
    python_command,
    scrubbed,
)
from nlp_bench_pipeline.core.runs import RunSummary
from nlp_bench_pipeline.loadgen.repetition import SUMMARY_FILE, RepetitionPlan

SUMMARY_MESSAGE = "loadgen_summary"
# What the runner takes of the environment it is started with: a process's essentials, unbuffered
# output (Pipes reads its log as it goes) and the Pipes session (context and messages channel).
RUNNER_ENVIRONMENT = PROCESS_ESSENTIALS.plus("PYTHONUNBUFFERED", prefixes=["DAGSTER_PIPES_"])


@dataclass(frozen=True)
class LoadgenLaunch:
    """Everything ``PipesSubprocessClient.run`` needs, and where the run's files will be."""

    command: list[str]
    env: dict[str, str]
    run_id: str
    run_dir: Path


def loadgen_launch(plan: RepetitionPlan) -> LoadgenLaunch:
    """Write ``plan`` (after clearing an earlier attempt) and the command that runs it."""
    plan.target_host  # noqa: B018 - a plan without an endpoint fails here, before any process
    path = plan.prepare()
    runner = python_command("-m", "nlp_bench_pipeline.loadgen", "run", f"--plan={path}")
    return LoadgenLaunch(
        command=scrubbed(runner, RUNNER_ENVIRONMENT | aws_credentials_for(plan)),
        env={"PYTHONUNBUFFERED": "1"},
        run_id=plan.run_id,
        run_dir=plan.run_dir,
    )


def aws_credentials_for(plan: RepetitionPlan) -> PassedEnvironment:
    """boto3's credential chain for a plan that signs or invokes on AWS; nothing otherwise.

    An IAM-authorised API (``auth.authorization == "AWS_IAM"``) needs every request SigV4-signed,
    and the direct mode calls Lambda's Invoke API: both with the operator's credentials. A JWT
    API, the EKS ALB and every local target need none.
    """
    signs = (plan.auth or {}).get("authorization") == "AWS_IAM"
    return AWS_CREDENTIAL_CHAIN if signs or plan.mode == "direct" else PassedEnvironment()


def run_in_subprocess(plan: RepetitionPlan, *, timeout_s: float | None = None) -> RunSummary:
    """Launch ``plan`` as a plain child process (no Dagster) and read the summary it saved.

    What the command line and the tests use where the asset uses Dagster Pipes.
    """
    launch = loadgen_launch(plan)
    limit = timeout_s if timeout_s is not None else plan.deadline_s + 60.0
    subprocess.run(launch.command, env={**os.environ, **launch.env}, check=False, timeout=limit)
    summary_file = launch.run_dir / SUMMARY_FILE
    if not summary_file.is_file():
        raise RuntimeError(f"the load generator left no summary in {launch.run_dir}")
    return RunSummary.model_validate_json(summary_file.read_text())


def summaries_from_messages(messages: Iterable[Any]) -> list[RunSummary]:
    """The run summaries among a Pipes session's custom messages, in the order reported."""
    return [
        RunSummary.model_validate(message["summary"])
        for message in messages
        if isinstance(message, Mapping) and message.get("kind") == SUMMARY_MESSAGE
    ]
