"""What the Dagster side imports of the load generator must never patch or pull in."""

import json
import subprocess
import sys

import pytest

DAGSTER_SIDE = (
    "nlp_bench_pipeline.loadgen.runner",
    "nlp_bench_pipeline.loadgen.launch",
    "nlp_bench_pipeline.store",
)


def modules_after_importing(*names: str) -> set[str]:
    code = (
        "import importlib, json, sys\n"
        f"for name in {list(names)!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout))


@pytest.fixture(scope="module")
def loaded() -> set[str]:
    return modules_after_importing(*DAGSTER_SIDE)


def test_the_runner_and_launch_helper_never_import_locust_or_gevent(loaded):
    assert "locust" not in loaded
    assert "gevent" not in loaded


def test_the_runner_imports_dagster_pipes_but_not_dagster(loaded):
    assert "dagster_pipes" in loaded
    assert "dagster" not in loaded
