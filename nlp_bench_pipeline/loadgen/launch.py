"""The Dagster side of a load test: the runner's command line, and the summaries it reports back.

Plain Python — no Dagster, no Locust — so the asset stays a few lines::

    launch = loadgen_launch(host=deployment.endpoint, scenario="warm_steady", profile="quick",
                            target="local-k8s", series_id=context.run_id, repetition=0)
    invocation = PipesSubprocessClient().run(context=context, command=launch.command,
                                             env=launch.env)
    summary = summaries_from_messages(invocation.get_custom_messages())[0]

The scenario is resolved here first, so a bad config fails in the asset before any process starts.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from nlp_bench_pipeline.loadgen.plan import run_id_for
from nlp_bench_pipeline.loadgen.results import RunSummary
from nlp_bench_pipeline.loadgen.scenarios import load_scenario
from nlp_bench_pipeline.settings import get_pipeline_settings

SUMMARY_MESSAGE = "loadgen_summary"


@dataclass(frozen=True)
class LoadgenLaunch:
    """Everything ``PipesSubprocessClient.run`` needs, and where the run's files will be."""

    command: list[str]
    env: dict[str, str]
    run_id: str
    run_dir: Path


def loadgen_launch(
    *,
    host: str,
    scenario: str,
    profile: str,
    target: str,
    series_id: str,
    repetition: int,
    processes: int = 1,
    path: str = "/predict",
    catalog: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    work_dir: Path | None = None,
) -> LoadgenLaunch:
    """The command for one repetition of ``scenario`` against ``host`` (validated up front)."""
    config = load_scenario(scenario, profile, catalog=catalog, overrides=overrides)
    if not 0 <= repetition < config.repetitions:
        raise ValueError(f"repetition {repetition} is outside 0..{config.repetitions - 1}")
    work_dir = work_dir or get_pipeline_settings().work_dir
    run_id = run_id_for(series_id, target, scenario, profile, repetition)
    command = [
        sys.executable,
        "-m",
        "nlp_bench_pipeline.loadgen",
        "run",
        f"--host={host}",
        f"--path={path}",
        f"--scenario={scenario}",
        f"--profile={profile}",
        f"--target={target}",
        f"--series-id={series_id}",
        f"--repetition={repetition}",
        f"--processes={processes}",
        f"--work-dir={work_dir}",
        *([f"--catalog={catalog}"] if catalog else []),
        *(f"--set={key}={_inline_yaml(value)}" for key, value in (overrides or {}).items()),
    ]
    return LoadgenLaunch(
        command=command,
        env={"PYTHONUNBUFFERED": "1"},
        run_id=run_id,
        run_dir=Path(work_dir) / "loadgen" / run_id,
    )


def summaries_from_messages(messages: Iterable[Any]) -> list[RunSummary]:
    """The run summaries among a Pipes session's custom messages, in the order reported."""
    return [
        RunSummary.model_validate(message["summary"])
        for message in messages
        if isinstance(message, Mapping) and message.get("kind") == SUMMARY_MESSAGE
    ]


def _inline_yaml(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=10**9).strip()
