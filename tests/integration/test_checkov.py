"""checkov passes on the infrastructure, from its own environment (.venv-checkov).

checkov depends on bc-python-hcl2, which installs the same importable `hcl2` module as the
python-hcl2 the Terraform tests use; scripts/ensure-checkov.sh keeps the two apart.
"""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / ".checkov.yaml"
ENSURE = ROOT / "scripts" / "ensure-checkov.sh"


def test_every_skipped_check_gives_its_reason() -> None:
    skipped = yaml.safe_load(CONFIG.read_text())["skip-check"]
    lines = CONFIG.read_text().splitlines()
    for check in skipped:
        (index,) = [i for i, line in enumerate(lines) if line.strip() == f"- {check}"]
        reason = lines[index - 1].strip()
        assert reason.startswith("# "), f"{check} has no reason on the line above it"
        assert len(reason) > 40, f"{check}: {reason!r} is not a reason"


def test_checkov_stays_out_of_the_project_environment() -> None:
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.distribution("bc-python-hcl2")
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.distribution("checkov")
    assert importlib.metadata.distribution("python-hcl2")


def test_checkov_is_pinned_by_its_own_lock() -> None:
    lock = (ROOT / "infra" / "checkov" / "requirements.lock").read_text()
    assert re.search(r"^checkov==\d+\.\d+\.\d+$", lock, flags=re.M)
    assert re.search(r"^bc-python-hcl2==", lock, flags=re.M)
    assert "pip-compile" in lock


def test_ensure_checkov_exits_2_where_it_cannot_install(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(ENSURE)],
        env={"PATH": "/usr/bin:/bin", "PYTHON": "no-such-python", "CHECKOV_VENV": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "no no-such-python on PATH" in result.stderr


@pytest.fixture(scope="module")
def checkov() -> str:
    ensure = subprocess.run([str(ENSURE)], capture_output=True, text=True, timeout=900)
    if ensure.returncode == 2:
        pytest.skip(f"checkov cannot be installed here: {ensure.stderr.strip().splitlines()[-1]}")
    assert ensure.returncode == 0, ensure.stderr
    executable = ensure.stdout.strip().splitlines()[-1]
    assert Path(executable).is_relative_to(ROOT / ".venv-checkov")
    return executable


@pytest.mark.slow
def test_checkov_fails_a_privileged_pod(checkov: str, tmp_path: Path) -> None:
    """The gate can close: the same config rejects a manifest that breaks the rules."""
    deployment = yaml.safe_load((ROOT / "infra/k8s/service/deployment.yaml").read_text())
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"] = {
        "privileged": True
    }
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(deployment))
    result = subprocess.run(
        [checkov, "-d", str(tmp_path), "--framework", "kubernetes", "--compact", "--quiet"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    assert "CKV_K8S_16" in result.stdout  # privileged containers


@pytest.mark.slow
def test_checkov_passes_on_terraform_kubernetes_docker_and_workflows(checkov: str) -> None:
    result = subprocess.run(
        [checkov, "--config-file", str(CONFIG)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    for framework in ("terraform", "kubernetes", "dockerfile", "github_actions"):
        assert f"{framework} scan results" in result.stdout, framework
    passed = [int(n) for n in re.findall(r"Passed checks: (\d+)", result.stdout)]
    assert passed
    assert min(passed) > 50
    assert set(re.findall(r"Failed checks: (\d+)", result.stdout)) == {"0"}
