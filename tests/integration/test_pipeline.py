"""The pipeline end to end: every asset materialised in-process on the tiny model, both local
targets with the one-scenario smoke profile, then the results checked in DuckDB."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import psutil
import pytest

from nlp_bench_pipeline.artifacts.image import docker_engine
from nlp_bench_pipeline.core.processes import OWNER_ENV
from nlp_bench_pipeline.defs.bench.assets import load_test_run
from nlp_bench_pipeline.defs.bench.checks import (
    error_rate_bound,
    p99_slo,
    quiet_host,
    rows_equal_scheduled,
)
from nlp_bench_pipeline.defs.bench.in_region import InRegionLoadResource
from nlp_bench_pipeline.defs.build.assets import model_artifact, service_image
from nlp_bench_pipeline.defs.deploy.assets import deployment
from nlp_bench_pipeline.defs.metrics.assets import platform_metrics, run_summary
from nlp_bench_pipeline.defs.resources import (
    AwsConfig,
    BenchmarkConfig,
    MetricStoreResource,
    PlatformsResource,
)
from nlp_bench_pipeline.store.database import MetricStore

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
TINY_DIGEST = "sha256:fe44c7665d52ddba75bf39366ec5302b91004bb6875cac564cfefb736fbd5541"
ALL = [
    model_artifact,
    service_image,
    deployment,
    load_test_run,
    run_summary,
    platform_metrics,
    rows_equal_scheduled,
    error_rate_bound,
    p99_slo,
    quiet_host,
]
# Mechanics under test, not the 10 s init rule (tested with the platform): a busy 2-core CI box
# must not turn a tiny-model init into an init-timeout retry.
PLATFORM = {"local-lambda": {"init_timeout_s": 60}}
MAX_ERROR_RATE = 0.5


def bench_config(**changes) -> BenchmarkConfig:
    fields = {
        "targets": ["local-lambda", "local-k8s"],
        "scenarios": ["burst"],
        "profile": "smoke",
        "model": "tiny",
        "min_replicas": 2,
        "max_replicas": 2,
        "slo_p99_ms": {"default": 30_000.0},
        "max_error_rate": {"default": MAX_ERROR_RATE},
        "platform_overrides": json.dumps(PLATFORM),
        **changes,
    }
    return BenchmarkConfig(**fields)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    base = tmp_path_factory.mktemp("pipeline")
    resources = {
        "bench": bench_config(),
        "duckdb": MetricStoreResource(database=str(base / "bench.duckdb")),
        "aws": AwsConfig(),
        "platforms": PlatformsResource(work_dir=str(base / "work")),
        "pipes_subprocess_client": dg.PipesSubprocessClient(cwd=str(ROOT)),
        "in_region_load": InRegionLoadResource(),  # unused: the local targets load from here
    }
    with dg.instance_for_test() as instance:
        yield {"resources": resources, "instance": instance, "db": base / "bench.duckdb"}


def materialize(workspace, selection, partition_key=None, **resource_changes):
    resources = {**workspace["resources"], **resource_changes}
    return dg.materialize(
        ALL,
        selection=selection,
        partition_key=partition_key,
        resources=resources,
        instance=workspace["instance"],
        raise_on_error=False,
    )


def metadata(result, asset: str) -> dict:
    [event] = [
        e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(asset)
    ]
    return {k: v.value for k, v in event.materialization.metadata.items()}


@pytest.fixture(scope="module")
def pipeline(workspace):
    """Materialise everything once, in the order `make bench` does."""
    results = {"build": materialize(workspace, [model_artifact, service_image])}
    for target in ("local-lambda", "local-k8s"):
        results[f"deploy:{target}"] = materialize(workspace, [deployment], target)
    for target in ("local-lambda", "local-k8s"):
        results[f"cell:{target}"] = materialize(
            workspace,
            [load_test_run, rows_equal_scheduled, error_rate_bound, p99_slo, quiet_host],
            dg.MultiPartitionKey({"target": target, "scenario": "burst"}),
        )
    results["summaries"] = materialize(workspace, [run_summary, platform_metrics])
    return results


def query(workspace, sql: str, params=None) -> list[dict]:
    return MetricStore(workspace["db"]).query(sql, params).to_pylist()


def test_every_stage_succeeds(pipeline) -> None:
    failed = [name for name, result in pipeline.items() if not result.success]
    assert failed == []


def test_build_assets_record_digests(pipeline) -> None:
    built = pipeline["build"]
    model = metadata(built, "model_artifact")
    assert model["digest"] == TINY_DIGEST
    assert model["model_id"] == "tiny-distilbert"
    assert model["load_seconds"] > 0
    image = metadata(built, "service_image")
    assert image["context_digest"].startswith("sha256:")
    if docker_engine() is None:
        assert image["built"] is False
        assert image["note"].startswith("no Docker engine: context only")
    else:
        assert image["built"] is True
        assert image["image_id"].startswith("sha256:")


def test_deployments_serve_a_cold_then_warm_request(pipeline) -> None:
    lam = metadata(pipeline["deploy:local-lambda"], "deployment")
    assert lam["first_response_cold_header"] is True
    assert lam["model"]["digest"] == TINY_DIGEST
    assert lam["events"]["cold_start"] >= 1
    k8s = metadata(pipeline["deploy:local-k8s"], "deployment")
    assert k8s["events"]["pod_ready"] >= 2
    assert k8s["seconds_to_first_success"] > 0


def test_every_scheduled_request_is_one_row(pipeline, workspace) -> None:
    runs = query(
        workspace,
        "SELECT b.run_id, b.target, b.profile, b.status, b.scheduled, b.locust_requests, "
        "b.dropped, b.model_digest, count(r.seq) AS rows "
        "FROM benchmark_runs b LEFT JOIN requests r USING (run_id) GROUP BY ALL",
    )
    assert {r["target"] for r in runs} == {"local-lambda", "local-k8s"}
    for run in runs:
        assert run["status"] == "complete"
        assert run["profile"] == "smoke"
        assert run["rows"] == run["scheduled"] == run["locust_requests"] + run["dropped"]
        assert run["model_digest"] == TINY_DIGEST


def test_lambda_reports_every_invocation_and_its_cold_starts(pipeline, workspace) -> None:
    invoked = query(
        workspace,
        "SELECT count(*) AS n FROM requests JOIN benchmark_runs USING (run_id) "
        "WHERE target = 'local-lambda' AND status_code IN (200, 502)",
    )[0]["n"]
    # The harness's first-success probe and its warming requests come before the load and are
    # not rows: every invocation that ended after the load's first send is one.
    reports = query(
        workspace,
        "SELECT e.duration_ms, e.billed_ms, e.init_ms, e.environment_id FROM platform_events e "
        "JOIN (SELECT run_id, min(sent_at) AS load_at FROM requests GROUP BY run_id) l "
        "USING (run_id) WHERE e.target = 'local-lambda' AND e.kind = 'report' "
        'AND e."at" >= l.load_at',
    )
    assert len(reports) == invoked
    assert all(r["billed_ms"] >= r["duration_ms"] for r in reports)
    cold_events = {
        r["environment_id"]
        for r in query(
            workspace,
            "SELECT environment_id FROM platform_events "
            "WHERE target = 'local-lambda' AND kind = 'cold_start'",
        )
    }
    cold_requests = {
        r["environment_id"]
        for r in query(
            workspace,
            "SELECT environment_id FROM requests JOIN benchmark_runs USING (run_id) "
            "WHERE target = 'local-lambda' AND cold_start",
        )
    }
    warmed = {
        env
        for r in query(
            workspace,
            "SELECT host->'warming'->'environment_ids' AS ids FROM benchmark_runs "
            "WHERE target = 'local-lambda'",
        )
        for env in json.loads(r["ids"])
    }
    assert cold_requests  # the burst needs more than the environments warmed before it
    assert cold_events == cold_requests | warmed


def test_k8s_spreads_over_ready_pods(pipeline, workspace) -> None:
    pods = {
        r["environment_id"]
        for r in query(
            workspace,
            "SELECT DISTINCT environment_id FROM requests JOIN benchmark_runs USING (run_id) "
            "WHERE target = 'local-k8s' AND ok",
        )
    }
    ready = {
        r["environment_id"]
        for r in query(
            workspace,
            "SELECT environment_id FROM platform_events "
            "WHERE target = 'local-k8s' AND kind = 'pod_ready'",
        )
    }
    assert len(pods) > 1
    assert pods <= ready
    assert (
        query(
            workspace,
            "SELECT count(*) AS n FROM requests JOIN benchmark_runs USING (run_id) "
            "WHERE target = 'local-k8s' AND cold_start",
        )[0]["n"]
        == 0
    )


def test_every_environment_has_resource_samples(pipeline, workspace) -> None:
    seen = query(
        workspace,
        "SELECT DISTINCT b.target, r.environment_id FROM requests r "
        "JOIN benchmark_runs b USING (run_id) WHERE r.environment_id IS NOT NULL",
    )
    sampled = {
        (r["target"], r["environment_id"])
        for r in query(workspace, "SELECT DISTINCT target, environment_id FROM resource_samples")
    }
    assert seen
    assert {(r["target"], r["environment_id"]) for r in seen} <= sampled


def test_checks_pass_on_good_cells_and_the_slo_check_agrees_with_the_run(
    pipeline, workspace
) -> None:
    for target in ("local-lambda", "local-k8s"):
        evaluations = pipeline[f"cell:{target}"].get_asset_check_evaluations()
        verdicts = {e.check_name: e.passed for e in evaluations}
        assert verdicts["rows_equal_scheduled"] is True
        # Each bound's verdict agrees with the stored run: every request counts, so a burst
        # that throttled more than 1 % misses its p99 SLO, and a host too busy for the burst's
        # inits can throttle past the error bound (results, not faults of the mechanics).
        (run,) = query(workspace, "SELECT bool_and(slo_met) AS met, "
                       "max((errors + dropped) / requests) AS failed FROM run_summary "
                       "WHERE target = ? AND scenario = 'burst'", [target])  # fmt: skip
        assert verdicts["p99_slo"] is run["met"]
        assert verdicts["error_rate_bound"] is (run["failed"] <= MAX_ERROR_RATE)


def test_each_run_records_the_host_load_it_ran_under_and_is_judged_by_it(
    pipeline, workspace
) -> None:
    for target in ("local-lambda", "local-k8s"):
        evaluations = pipeline[f"cell:{target}"].get_asset_check_evaluations()
        assert "quiet_host" in {e.check_name for e in evaluations}
        (run,) = query(workspace, "SELECT host->'host_load' AS load FROM benchmark_runs "
                       "WHERE target = ? AND scenario = 'burst' ORDER BY started_at DESC "
                       "LIMIT 1", [target])  # fmt: skip
        load = json.loads(run["load"])
        assert load["seconds"] > 1
        assert load["own_cpu_s"] > 0  # the platform and Locust are the run's own processes
        assert load["host_busy_cpu_s"] >= load["own_cpu_s"] * 0.9  # ticks round both
        assert 0 <= load["foreign_share"] <= 1


def test_summaries_cover_both_targets(pipeline) -> None:
    summary = metadata(pipeline["summaries"], "run_summary")
    assert summary["cells"] == 2
    assert {row.data["target"] for row in summary["summary"].records} == {
        "local-lambda",
        "local-k8s",
    }
    platform = metadata(pipeline["summaries"], "platform_metrics")
    assert platform["runs"] == 2


def test_p99_check_fails_over_a_tighter_slo(pipeline, workspace) -> None:
    strict = bench_config(slo_p99_ms={"default": 0.001})
    # Checks run with their asset (a partitioned check cannot run alone in-process): the cell
    # runs again, and its new series is what the checks judge.
    result = materialize(
        workspace,
        [load_test_run, rows_equal_scheduled, error_rate_bound, p99_slo],
        dg.MultiPartitionKey({"target": "local-k8s", "scenario": "burst"}),
        bench=strict,
    )
    verdicts = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert (verdicts["rows_equal_scheduled"], verdicts["p99_slo"]) == (True, False)


def test_disabled_or_unavailable_targets_fail_with_a_message(workspace) -> None:
    result = materialize(workspace, [deployment], "aws-lambda")
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "not enabled" in failure.event_specific_data.error.message
    enabled_aws = bench_config(targets=["aws-lambda"])
    result = materialize(workspace, [deployment], "aws-lambda", bench=enabled_aws)
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.event_specific_data.error.message
    assert "AWS credentials: missing" in message
    assert "NLP_BENCH_SERVICE_IMAGE: not set" in message  # everything missing, in one line


def test_no_platform_process_is_left_behind(pipeline) -> None:
    """No platform process of this test's is alive: none under this process, and no orphan
    (re-parented to init) started since this test session began. Other sessions' platforms on
    the same machine are neither."""
    me = psutil.Process()
    mine = {child.pid for child in me.children(recursive=True)}
    leftovers = []
    for proc in psutil.process_iter():
        try:
            owner = proc.environ().get(OWNER_ENV, "")
            orphan = proc.ppid() == 1 and proc.create_time() >= me.create_time()
        except psutil.Error:
            continue
        if owner.startswith(("local-lambda", "local-k8s")) and (proc.pid in mine or orphan):
            leftovers.append((proc.pid, owner))
    assert leftovers == []
