"""The generator against the real service (uvicorn, tiny model): over two Locust processes, and
launched the way the pipeline launches it, through Dagster Pipes."""

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import httpx
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from nlp_bench_pipeline.core.processes import ChildProcess, free_port, python_command
from nlp_bench_pipeline.loadgen.launch import loadgen_launch, summaries_from_messages
from nlp_bench_pipeline.loadgen.repetition import RepetitionPlan
from nlp_bench_pipeline.loadgen.scenarios import load_scenario
from tests.integration.loadgen_support import run_loadgen

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def service_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One service for the module: it takes longer to start (torch) than the tests take to run."""
    with tiny_service(tmp_path_factory.mktemp("service")) as url:
        yield url


@contextlib.contextmanager
def tiny_service(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {
        "NLP_BENCH_MODEL": "tiny",
        "NLP_BENCH_THREADS": "1",
        "NLP_BENCH_ENVIRONMENT_ID": "svc-under-load",
        "NLP_BENCH_MODEL_CACHE": os.environ["NLP_BENCH_MODEL_CACHE"],
    }
    child = ChildProcess.start(
        "service",
        python_command("-m", "inference_service", f"--port={port}"),
        owner=f"loadgen-service-{port}",
        env=env,
        log_dir=tmp_path,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert child.alive(), child.log_tail()
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            time.sleep(0.2)
        else:
            pytest.fail(f"service not ready:\n{child.log_tail()}")
        yield url
    finally:
        child.stop(grace_s=5)


def test_two_locust_processes_account_for_every_scheduled_request(service_url, tmp_path):
    summary = run_loadgen(
        service_url,
        tmp_path,
        "warmup=[{duration_s: 1, rate: 10}]",
        "measure=[{duration_s: 3, rate: 40}]",
        processes=2,
    )
    assert summary.workers_reported == 2
    assert summary.rows == summary.scheduled
    assert summary.rows == summary.locust_requests + summary.dropped
    assert summary.consistent
    rows = pa.concat_tables([pq.read_table(f) for f in summary.files])
    assert set(rows.column("worker").to_pylist()) == {0, 1}
    assert sorted(rows.column("seq").to_pylist()) == list(range(summary.scheduled))
    ok = rows.filter(pc.equal(rows.column("outcome"), "ok")).to_pylist()
    assert len(ok) >= 0.95 * summary.scheduled
    # The service counts tokens as the corpus did, and its headers reach every row.
    assert all(r["input_tokens"] == r["payload_tokens"] for r in ok)
    assert {r["environment_id"] for r in ok} == {"svc-under-load"}
    assert all(r["cold_start_header"] is not None for r in ok)
    assert sum(r["cold_start_header"] for r in ok) <= 1  # only the process's first /predict
    assert all(r["server_ms"] is not None and r["server_ms"] > 0 for r in ok)


def test_the_runner_reports_progress_and_summary_through_dagster_pipes(service_url, tmp_path):
    scenario = load_scenario(
        "warm_steady",
        "quick",
        overrides={
            "warmup": [{"duration_s": 1, "rate": 5}],
            "measure": [{"duration_s": 2, "rate": 20}],
        },
    )
    (plan,) = RepetitionPlan.resolve(
        scenario, series_id="pipes", target="local-k8s", work_dir=tmp_path
    )
    launch = loadgen_launch(plan.aimed_at(service_url))

    @dg.asset
    def load_test_run(
        context: dg.AssetExecutionContext, pipes: dg.PipesSubprocessClient
    ) -> dg.MaterializeResult:
        invocation = pipes.run(context=context, command=launch.command, env=launch.env)
        (summary,) = summaries_from_messages(invocation.get_custom_messages())
        return dg.MaterializeResult(
            metadata={
                "run_id": summary.run_id,
                "rows": summary.rows,
                "scheduled": summary.scheduled,
            }
        )

    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [load_test_run], resources={"pipes": dg.PipesSubprocessClient()}, instance=instance
    )
    assert result.success
    (materialization,) = result.asset_materializations_for_node("load_test_run")
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    assert metadata["run_id"] == launch.run_id == "pipes-local-k8s-warm_steady-quick-r0"
    assert metadata["rows"] == metadata["scheduled"] > 0
    assert (launch.run_dir / "summary.json").is_file()
    messages = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert any(m.startswith(f"run {launch.run_id}: ") and "consistent" in m for m in messages)
