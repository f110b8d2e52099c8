"""The images' Dockerfiles keep Lambda's rules and the pods' hardening (infra/docker/README.md)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "infra" / "docker"
FILESYSTEM_CHANGES = {"RUN", "COPY", "ADD"}


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in dockerfile.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1]) for text in logical]


def env_values(steps: list[tuple[str, str]]) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, args in steps:
        if name == "ENV":
            values |= dict(re.findall(r"(\w+)=(\S+)", args))
    return values


def pins(requirements: Path) -> dict[str, str]:
    found = re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", requirements.read_text(), flags=re.M)
    return {name.lower().replace("_", "-"): version for name, version in found}


SERVICE = instructions(DOCKER / "Dockerfile")
PIPELINE = instructions(DOCKER / "pipeline.Dockerfile")


@pytest.mark.parametrize("steps", [SERVICE, PIPELINE], ids=["service", "pipeline"])
def test_one_stage_whose_platform_comes_from_the_build(steps: list[tuple[str, str]]) -> None:
    stages = [args for name, args in steps if name == "FROM"]
    assert len(stages) == 1
    # No --platform in FROM: buildx --platform picks amd64 or arm64, one image per platform.
    assert "--platform" not in stages[0]


@pytest.mark.parametrize("steps", [SERVICE, PIPELINE], ids=["service", "pipeline"])
def test_the_image_runs_as_a_numeric_non_root_user(steps: list[tuple[str, str]]) -> None:
    users = [args for name, args in steps if name == "USER"]
    assert users, "no USER: the container would run as root"
    assert users[-1].isdigit(), "runAsNonRoot can only verify a numeric user"
    assert int(users[-1]) >= 10000


def test_lambda_starts_awslambdaric_and_pods_start_the_http_server() -> None:
    (entrypoint,) = [args for name, args in SERVICE if name == "ENTRYPOINT"]
    assert entrypoint == '["/entrypoint.sh"]'  # exec form: signals reach the process
    script = (DOCKER / "entrypoint.sh").read_text()
    assert os.access(DOCKER / "entrypoint.sh", os.X_OK)
    lambda_branch = re.search(
        r'if \[ -n "\$\{AWS_LAMBDA_RUNTIME_API:-\}" \]; then(.*?)fi', script, re.S
    )
    assert lambda_branch is not None
    assert "exec python -m awslambdaric" in lambda_branch.group(1)
    assert "inference_service.lambda_handler.handler" in lambda_branch.group(1)
    assert re.search(r"exec python -m inference_service .*--port \"\$\{PORT:-8080\}\"", script)


def test_the_service_listens_where_the_pods_send_traffic() -> None:
    (exposed,) = [args for name, args in SERVICE if name == "EXPOSE"]
    deployment = yaml.safe_load((ROOT / "infra/k8s/service/deployment.yaml").read_text())
    (port,) = deployment["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert int(exposed) == port["containerPort"] == 8080


def test_the_lambda_runtime_client_and_adapter_are_pinned() -> None:
    required = pins(DOCKER / "requirements.txt")
    assert "awslambdaric" in required
    assert "mangum" in required


def test_the_service_image_pins_the_same_versions_as_the_project_lock() -> None:
    service, project = pins(DOCKER / "requirements.txt"), pins(ROOT / "requirements.lock")
    drifted = {n: (v, project.get(n)) for n, v in service.items() if project.get(n) != v}
    assert not drifted, f"infra/docker/requirements.txt drifted from requirements.lock: {drifted}"


def test_the_pipeline_image_installs_the_project_lock() -> None:
    copies = [args for name, args in PIPELINE if name == "COPY"]
    assert any(args.startswith("requirements.lock ") for args in copies)
    (entrypoint,) = [args for name, args in PIPELINE if name == "ENTRYPOINT"]
    assert entrypoint == '["nlp-bench"]'
    # The in-region runner pod runs the load generator's pod entry (infra/k8s/loadgen).
    assert (ROOT / "nlp_bench_pipeline" / "loadgen" / "in_pod.py").is_file()


def test_the_model_is_the_last_layer_and_is_built_for_a_read_only_filesystem() -> None:
    layers = [(name, args) for name, args in SERVICE if name in FILESYSTEM_CHANGES]
    name, model_step = layers[-1]
    assert name == "RUN"
    describe, normalise = "python -m inference_service.describe", "touch -h -d @0"
    # materialise, give whole-second mtimes, record the digest memo against them
    assert model_step.count(describe) == 2
    assert model_step.index(normalise) < model_step.rindex(describe)


def test_the_model_step_exports_the_slim_runtimes_graphs_before_mtimes_are_fixed() -> None:
    layers = [(name, args) for name, args in SERVICE if name in FILESYSTEM_CHANGES]
    _, model_step = layers[-1]
    export = "python -m inference_service.onnx_export"
    assert export in model_step, "a slim-runtime init would export ONNX inside its 10 s"
    # after the weights exist, before the first whole-second mtimes and the final memo
    describe, normalise = "python -m inference_service.describe", "touch -h -d @0"
    assert model_step.index(describe) < model_step.index(export) < model_step.index(normalise)
    command = model_step[model_step.index(export) :].split("&&")[0].split()
    assert command[command.index("--model") + 1] == '"$NLP_BENCH_MODEL"'
    assert command[command.index("--model-cache") + 1] == '"$NLP_BENCH_MODEL_CACHE"'
    assert env_values(SERVICE)["NLP_BENCH_MODEL_CACHE"] == "/opt/nlp-bench/models"


def test_the_image_installs_the_slim_runtime_and_the_offline_docs() -> None:
    required = pins(DOCKER / "requirements.txt")
    assert {"onnxruntime", "onnx", "swagger-ui-bundle"} <= set(required)
    assert required["torch"] == "2.13.0+cpu"


def test_run_time_caches_point_at_tmp_the_only_writable_path() -> None:
    env = env_values(SERVICE)
    assert env["HOME"].startswith("/tmp")
    assert env["XDG_CACHE_HOME"].startswith("/tmp/")
    assert env["HF_HUB_OFFLINE"] == "1"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["NLP_BENCH_MODEL_CACHE"].startswith("/opt/nlp-bench")


def documented_builds(dockerfile: Path) -> list[str]:
    """The `docker buildx build` commands a Dockerfile's header comment tells a reader to run."""
    commands: list[str] = []
    for line in dockerfile.read_text().splitlines():
        text = line.lstrip("# ").rstrip("\\ ")
        if text.startswith("docker buildx build"):
            commands.append(text)
        elif commands and line.startswith("#       "):
            commands[-1] += " " + text
    return commands


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "pipeline.Dockerfile"])
def test_documented_builds_push_one_platform_without_attestations(dockerfile: str) -> None:
    commands = documented_builds(DOCKER / dockerfile)
    assert commands
    for command in commands:
        assert "--provenance=false" in command
        assert "--sbom=false" in command
        assert len(re.findall(r"--platform linux/(?:amd64|arm64)\b", command)) == 1
        assert "," not in command.split("--platform", 1)[1].split()[0]


@pytest.mark.slow
def test_the_model_step_leaves_nothing_to_write_at_start(tmp_path: Path) -> None:
    """Run the Dockerfile's own model step on the tiny model, cut mtimes to whole seconds as an
    image layer does, and start the model again: it must not rewrite its digest memo (on Lambda
    and in the pods that write would hit a read-only filesystem)."""
    layers = [args for name, args in SERVICE if name in FILESYSTEM_CHANGES]
    step = layers[-1].replace("/opt/nlp-bench", str(tmp_path))
    env = os.environ | {
        "NLP_BENCH_MODEL": "tiny",
        "NLP_BENCH_MODEL_CACHE": str(tmp_path / "models"),
        "HF_HOME": str(tmp_path / "hf"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    subprocess.run(["sh", "-c", step], env=env, check=True, capture_output=True, timeout=240)
    for path in tmp_path.rglob("*"):
        whole = path.lstat().st_mtime_ns // 10**9 * 10**9
        os.utime(path, ns=(whole, whole), follow_symlinks=False)
    before = {p: p.lstat().st_mtime_ns for p in tmp_path.rglob("*")}
    assert any(p.parent.name == "digests" for p in before), "no digest memo was written"
    assert list(tmp_path.glob("models/onnx/*/export.json")), "no ONNX export was made"
    describe = [sys.executable, "-m", "inference_service.describe"]
    for runtime in ("torch", "onnx"):  # the slim runtime finds its export: no export at start
        subprocess.run(
            describe,
            env={**env, "NLP_BENCH_RUNTIME": runtime},
            check=True,
            capture_output=True,
            timeout=240,
        )
        after = {p: p.lstat().st_mtime_ns for p in tmp_path.rglob("*")}
        assert after == before, f"starting the model ({runtime}) wrote to its cache"
