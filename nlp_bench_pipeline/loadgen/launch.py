"""The parent's side of a load test: the runner's command line, and the summaries it reports back.

Plain Python — no Dagster, no Locust — so the asset stays a few lines::

    launch = loadgen_launch(plan.aimed_at(deployment.endpoint))
    invocation = PipesSubprocessClient().run(context=context, command=launch.command,
                                             env=launch.env)
    summary = summaries_from_messages(invocation.get_custom_messages())[0]

The plan is already resolved (``RepetitionPlan.resolve``): launching writes it to the run
directory and points the runner at it, so the child resolves nothing again.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nlp_bench_pipeline.core.runs import RunSummary
from nlp_bench_pipeline.loadgen.repetition import RepetitionPlan

SUMMARY_MESSAGE = "loadgen_summary"


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
    command = [sys.executable, "-m", "nlp_bench_pipeline.loadgen", "run", f"--plan={path}"]
    return LoadgenLaunch(
        command=command, env={"PYTHONUNBUFFERED": "1"}, run_id=plan.run_id, run_dir=plan.run_dir
    )


def summaries_from_messages(messages: Iterable[Any]) -> list[RunSummary]:
    """The run summaries among a Pipes session's custom messages, in the order reported."""
    return [
        RunSummary.model_validate(message["summary"])
        for message in messages
        if isinstance(message, Mapping) and message.get("kind") == SUMMARY_MESSAGE
    ]
