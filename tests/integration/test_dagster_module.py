"""The code location loads the way Dagster's own CLI finds it: ``-m nlp_bench_pipeline``.

The package's ``defs`` is lazy (a module ``__getattr__``, with ``__dir__`` so Dagster sees it);
``dg check defs`` is run by the README test, and this runs the ``dagster`` command the README
names beside it, in a fresh process as a user types it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DAGSTER = Path(sys.executable).with_name("dagster")

pytestmark = pytest.mark.slow


def test_dagster_definitions_validate_finds_the_code_location_by_module(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(DAGSTER), "definitions", "validate", "-m", "nlp_bench_pipeline"],
        cwd=ROOT,
        env={"PATH": str(DAGSTER.parent), "HOME": str(tmp_path), "DAGSTER_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Validation successful" in done.stdout + done.stderr
