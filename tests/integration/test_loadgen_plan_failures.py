"""A parent's run (``run --plan``) keeps failed requests as data and exits 0, where a person's run
that nothing answered exits 1 (issue 14: "Under the pipeline failed requests stay data").

The person's side, against the same server (every POST answered with a 503), is
``test_a_server_that_answers_nothing_but_errors_fails_the_run_and_says_so`` in
``test_friendliness_loadgen.py``; here the plan a parent writes runs against it, outside Pipes,
so only ``--plan`` differs.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from nlp_bench_pipeline.loadgen.repetition import REQUESTS_GLOB, RepetitionPlan
from nlp_bench_pipeline.loadgen.scenarios import load_scenario
from tests.integration.test_friendliness_loadgen import failing_server

pytestmark = pytest.mark.slow
SHAPE = {"warmup": [{"duration_s": 0.5, "rate": 4}], "measure": [{"duration_s": 2, "rate": 5}]}


def test_a_plan_run_whose_every_request_failed_exits_0_with_its_failures_as_rows(tmp_path: Path):
    with failing_server() as url:
        (plan,) = RepetitionPlan.resolve(
            load_scenario("warm_steady", "smoke", overrides=SHAPE),
            series_id="parent",
            target="local-k8s",
            work_dir=tmp_path,
        )
        path = plan.aimed_at(url).prepare()  # what the launcher writes before starting the runner
        done = subprocess.run(
            [sys.executable, "-m", "nlp_bench_pipeline.loadgen", "run", f"--plan={path}"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "no request succeeded" not in done.stderr
    assert "Traceback" not in done.stderr
    rows = pq.ParquetDataset(sorted(plan.run_dir.glob(REQUESTS_GLOB))).read().to_pylist()
    assert len(rows) == len(plan.schedule())  # every scheduled request is a row
    assert {(r["outcome"], r["status_code"], r["error"]) for r in rows} == {
        ("http_error", 503, "HTTP 503")
    }
    assert "errors by class (measure phase):" in done.stdout  # reported, not judged
    assert "-- consistent" in done.stdout
