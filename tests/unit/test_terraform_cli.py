"""`terraform fmt -check` and `terraform validate` of every configuration, where a terraform
binary is on PATH (CI installs one). Without a binary these skip: the configurations are then
checked by the python-hcl2 tests (test_terraform.py) and checkov only. `terraform test` runs
the .tftest.hcl plans (mocked providers, no account) of the configurations that have them.
Without registry access
for a configuration's providers, `init` cannot install them and that configuration's validate
skips with the reason; any other init failure fails."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "infra" / "terraform"
CONFIGURATIONS = [
    *sorted(p.relative_to(TERRAFORM) for p in (TERRAFORM / "modules").iterdir() if p.is_dir()),
    Path("envs/bench"),
]
TESTED = [c for c in CONFIGURATIONS if (TERRAFORM / c / "tests").is_dir()]
BINARY = shutil.which("terraform")
# What `terraform init` says when it cannot reach (or find in a mirror) a provider.
UNREACHABLE = re.compile(
    r"Failed to query available provider packages|Failed to install provider|"
    r"could not connect to registry|no available releases match|dial tcp|i/o timeout|"
    r"Failed to resolve provider packages",
)

pytestmark = pytest.mark.skipif(
    BINARY is None,
    reason="no terraform binary on PATH: the modules are checked by the python-hcl2 tests "
    "and checkov, not by terraform fmt/validate",
)


def terraform(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BINARY or "terraform", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def tf_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    env = os.environ | {"TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1"}
    # One provider download for all configurations, unless the caller keeps a cache already;
    # without committed lock files Terraform uses the cache only when told it may.
    env.setdefault("TF_PLUGIN_CACHE_DIR", str(tmp_path_factory.mktemp("tf-plugin-cache")))
    env.setdefault("TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE", "true")
    return env


@pytest.fixture(scope="module")
def copy_of_the_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole tree (modules are referenced relatively), so init writes nothing in the repo."""
    target = tmp_path_factory.mktemp("terraform") / "terraform"
    shutil.copytree(TERRAFORM, target, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
    return target


def test_every_file_is_terraform_fmt_clean(tf_env: dict[str, str]) -> None:
    result = terraform("fmt", "-check", "-recursive", "-diff", str(TERRAFORM), cwd=ROOT, env=tf_env)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def initialised(copy_of_the_tree: Path, tf_env: dict[str, str]) -> Callable[[Path], Path]:
    """`terraform init` a configuration once; skip where its providers cannot be installed."""
    results: dict[Path, subprocess.CompletedProcess[str]] = {}

    def init(configuration: Path) -> Path:
        directory = copy_of_the_tree / configuration
        if configuration not in results:
            results[configuration] = terraform(
                "init", "-backend=false", "-no-color", cwd=directory, env=tf_env
            )
        result = results[configuration]
        if result.returncode != 0:
            output = result.stdout + result.stderr
            if UNREACHABLE.search(output):
                reason = next((ln for ln in output.splitlines() if "Error" in ln), output[:200])
                pytest.skip(f"terraform init cannot install the providers here: {reason.strip()}")
            pytest.fail(f"terraform init failed:\n{output}")
        return directory

    return init


@pytest.mark.slow
@pytest.mark.parametrize("configuration", CONFIGURATIONS, ids=str)
def test_every_configuration_validates(
    configuration: Path, initialised: Callable[[Path], Path], tf_env: dict[str, str]
) -> None:
    validate = terraform("validate", "-no-color", cwd=initialised(configuration), env=tf_env)
    assert validate.returncode == 0, validate.stdout + validate.stderr


@pytest.mark.slow
@pytest.mark.parametrize("configuration", TESTED, ids=str)
def test_terraform_test_plans_pass_against_mocked_providers(
    configuration: Path, initialised: Callable[[Path], Path], tf_env: dict[str, str]
) -> None:
    result = terraform("test", "-no-color", cwd=initialised(configuration), env=tf_env)
    assert result.returncode == 0, result.stdout + result.stderr
