"""Describe the configured model by loading it in a fresh process (``inference_service.describe``).

A fresh process gives the figures a cold start pays, and keeps torch out of the orchestrator.
"""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

from pydantic import BaseModel

from nlp_bench_pipeline.core.processes import code_root, python_command


class ModelArtifact(BaseModel):
    """What ``inference_service.describe`` reports about a loaded model."""

    requested: str
    source: str
    source_kind: str
    model_id: str
    digest: str
    accuracy_meaningful: bool
    directory: str
    parameters: int
    threads: int
    load_seconds: float
    timings_s: dict[str, float]
    process_seconds: float
    sample_prediction: dict[str, Any]


class ModelDescribeError(RuntimeError):
    """The model could not be loaded; the message carries the child's last log lines."""


def describe_model(
    model: str, *, threads: int | None = None, timeout_s: float = 600
) -> ModelArtifact:
    """Load ``model`` (an NLP_BENCH_MODEL value) in a child process and return its description."""
    env = {**os.environ, "NLP_BENCH_MODEL": model}
    if threads is not None:
        env["NLP_BENCH_THREADS"] = str(threads)
    completed = subprocess.run(
        python_command("-m", "inference_service.describe"),
        env=env,
        cwd=code_root("inference_service"),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if completed.returncode != 0:
        tail = "\n".join(completed.stderr.strip().splitlines()[-15:])
        raise ModelDescribeError(f"loading model {model!r} failed:\n{tail}")
    last_line = completed.stdout.strip().splitlines()[-1]
    return ModelArtifact(**json.loads(last_line))
