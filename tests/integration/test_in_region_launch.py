"""In-region load end to end: an aws-eks cell whose load generator runs as a pod, via Pipes.

The fake Kubernetes API server (tests/fixtures/fake_kubernetes.py) plays the cluster: the
aws-eks target deploys the service to it, Dagster's ``PipesK8sClient`` creates the runner's pod,
and the fake's kubelet runs the pod's command — the real ``loadgen.in_pod``, the real runner and
Locust — with the pod's environment and what EKS's IRSA webhook adds, nothing else; the load
goes to the fake's ALB. moto in server mode is STS (the EKS token, the pod's web identity) and
S3 (the results bucket). The cell ends with rows in a real DuckDB file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from nlp_bench_pipeline.bench.cell import plan_cell, run_cell
from nlp_bench_pipeline.bench.plan import BenchmarkPlan, Cell
from nlp_bench_pipeline.client import RetryPolicy
from nlp_bench_pipeline.core.runs import Provenance
from nlp_bench_pipeline.defs.bench.in_region import in_region_launcher
from nlp_bench_pipeline.loadgen.in_pod import PLAN_JSON_ENV
from nlp_bench_pipeline.loadgen.in_region import InRegionLoad
from nlp_bench_pipeline.store.database import MetricStore
from nlp_bench_pipeline.targets.aws.clients import AwsClients
from nlp_bench_pipeline.targets.aws_eks import AwsEksTarget
from nlp_bench_pipeline.targets.aws_eks.access import ClusterAccess
from nlp_bench_pipeline.targets.aws_eks.kubeconfig import write_kubeconfig
from tests.fixtures.apigw_standin import REGION, moto_server, moto_session
from tests.fixtures.fake_kubernetes import IMAGE_ENV, FakeKubernetes

pytestmark = [pytest.mark.slow, pytest.mark.aws]

CLUSTER = "nlp-bench"
BUCKET = "nlp-bench-results-test"
DIGEST = "sha256:" + "ab" * 32
SERVICE_IMAGE = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/nlp-bench-service@{DIGEST}"
PIPELINE_IMAGE = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/nlp-bench-pipeline@{DIGEST}"
ROLE_ARN = "arn:aws:iam::123456789012:role/nlp-bench-loadgen"
# In the operator's shell, never to reach the pod.
CANARIES = {"AWS_SECRET_ACCESS_KEY": "canary-secret", "GROQ_API_KEY": "canary-groq"}


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture
def operator_env(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pipeline's credentials (moto's), and STS at moto for the kubeconfig's token plugin."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CANARIES["AWS_SECRET_ACCESS_KEY"])
    monkeypatch.setenv("GROQ_API_KEY", CANARIES["GROQ_API_KEY"])
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", moto_url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


def test_an_aws_eks_cell_loaded_from_a_pod_ends_with_its_rows_in_duckdb(
    moto_url: str, operator_env: None, tmp_path: Path
) -> None:
    clients = AwsClients(moto_session(), endpoint_url=moto_url)
    s3 = clients.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    # The pod's boto3 reaches moto too: the image's environment, as a VPC endpoint would be.
    image_env = {**IMAGE_ENV, "AWS_ENDPOINT_URL": moto_url}
    with FakeKubernetes(cluster_name=CLUSTER, sts_endpoint=moto_url, image_env=image_env) as fake:
        kubeconfig = write_kubeconfig(
            ClusterAccess(CLUSTER, fake.url, None), tmp_path / "kubeconfig", region=REGION
        )
        load = InRegionLoad(
            cluster_name=CLUSTER,
            region=REGION,
            bucket=BUCKET,
            image=PIPELINE_IMAGE,
            role_arn=ROLE_ARN,
            processes=2,
        )
        target = AwsEksTarget(
            clients,
            cluster_name=CLUSTER,
            owner="bench@example.com",
            work_dir=tmp_path / "work",
            access=ClusterAccess(CLUSTER, fake.url, None),
            poll_s=0.05,
            observe_interval_s=0.2,
            health_policy=RetryPolicy(max_attempts=40, base_s=0.05, cap_s=0.2, budget_s=15),
        )
        plan = BenchmarkPlan(
            targets=["aws-eks"],
            scenarios=["warm_steady"],
            profile="smoke",
            min_replicas=2,
            max_replicas=2,
            platform_overrides={
                "aws-eks": {
                    "image": SERVICE_IMAGE,
                    "rollout_timeout_s": 10,
                    "load_balancer_timeout_s": 10,
                }
            },
        )
        repetitions = plan_cell(
            Cell(target="aws-eks", scenario="warm_steady"),
            plan,
            series_id="in-region-test",
            provenance=Provenance(),
            work_dir=tmp_path / "work",
        )
        store = MetricStore(tmp_path / "bench.duckdb")
        outcome = {}

        @dg.asset
        def load_test_run(context) -> dg.MaterializeResult:  # (a string annotation is refused here)
            launch = in_region_launcher(
                context, load, s3=s3, kubeconfig=kubeconfig, poll_interval_s=0.1
            )
            outcome["cell"] = run_cell(repetitions, target, store, launch=launch)
            return dg.MaterializeResult()

        instance = dg.DagsterInstance.ephemeral()
        result = dg.materialize([load_test_run], instance=instance, raise_on_error=False)
        logs = ["\n".join(text for _, text in pod.lines) for pod in fake.deleted_pods]
        assert result.success, logs
        (created,) = fake.created_pods
        assert not fake.bare_pods  # Pipes deleted the pod after it ended

    (repetition,) = outcome["cell"].repetitions
    summary = repetition.summary
    assert summary.consistent, summary.problems
    assert summary.rows == summary.scheduled == len(repetitions[0].schedule())
    assert summary.ok == summary.rows
    assert summary.workers == summary.workers_reported == 2  # Locust processes in the pod
    # The rows came back from the bucket, under the run id, into the local run directory.
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    run_id = repetitions[0].run_id
    assert {Path(k).name for k in keys} >= {"plan.json", "summary.json", "requests-w000.parquet"}
    assert all(k.startswith(f"loadgen/{run_id}/") for k in keys)
    assert all(Path(f).parent == repetitions[0].run_dir for f in summary.files)
    # ... and into the same tables as a local run's.
    (row,) = store.summary_rows([run_id])
    assert row["requests"] == summary.scheduled_measure
    assert row["ok"] == row["requests"]
    counted = store.query("select count(*) as n from requests where run_id = ?", [run_id])
    assert counted.column("n").to_pylist() == [summary.rows]
    # The pod ran on the tainted loadgen node, as the load generator's IRSA identity, and its
    # environment held no key and nothing of the operator's shell.
    spec = created["spec"]
    assert spec["serviceAccountName"] == "nlp-bench-loadgen"
    assert spec["nodeSelector"] == {"nlp-bench/role": "loadgen"}
    env = {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}
    assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} & env.keys()
    assert not set(CANARIES.values()) & set(env.values())
    assert PLAN_JSON_ENV in env
    # The runner's progress and summary came through Dagster Pipes, out of the pod's log.
    lines = [r.user_message for r in instance.all_logs(result.run_id)]
    assert any(f"run {run_id}: " in m and "Locust counted" in m for m in lines)
