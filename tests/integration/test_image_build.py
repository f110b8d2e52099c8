"""The service image is built where a Docker engine runs, as Lambda accepts it."""

from __future__ import annotations

import json
import subprocess

import pytest

from nlp_bench_pipeline.artifacts.image import build_command, build_image, docker_engine
from nlp_bench_pipeline.core.processes import code_root

ROOT = code_root("inference_service")


def test_the_build_is_single_platform_without_attestations() -> None:
    command = build_command("tiny", "nlp-bench-service:test", "linux/arm64")
    assert command[:3] == ["docker", "buildx", "build"]
    assert {"--provenance=false", "--sbom=false", "--load"} <= set(command)
    assert command[command.index("--platform") + 1] == "linux/arm64"


@pytest.mark.slow
def test_the_image_builds_where_an_engine_runs() -> None:
    if docker_engine() is None:
        pytest.skip("no Docker engine on this machine (docker info found no server)")
    build = build_image("tiny", ROOT)
    assert build.built
    assert build.image_id.startswith("sha256:")
    inspected = json.loads(
        subprocess.run(
            ["docker", "image", "inspect", build.tag], capture_output=True, text=True, check=True
        ).stdout
    )[0]
    assert inspected["Os"] == "linux"
