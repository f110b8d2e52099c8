"""infra/dagster: the instance config for the pipeline on a cluster, loaded by Dagster's own
loader, and the k8s_job_executor run config checked against the executor's schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster import DagsterInstance
from dagster._config import process_config
from dagster._core.instance.config import dagster_instance_config
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster_k8s import K8sRunLauncher, k8s_job_executor

ROOT = Path(__file__).resolve().parents[2]
INSTANCE_DIR = ROOT / "infra" / "dagster"
ENV = {
    "DAGSTER_PG_HOST": "postgres.nlp-bench-pipeline.svc",
    "DAGSTER_PG_USERNAME": "dagster",
    "DAGSTER_PG_PASSWORD": "not-a-secret",
    "DAGSTER_PG_DB": "dagster",
    "NLP_BENCH_PIPELINE_IMAGE": "123456789012.dkr.ecr.us-east-1.amazonaws.com/p@sha256:" + "a" * 64,
    "NLP_BENCH_RESULTS_BUCKET": "nlp-bench-results",
}
KUBECONFIG = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
    "users": [{"name": "u", "user": {"token": "t"}}],
    "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
    "current-context": "x",
}


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


def instance_yaml() -> dict[str, Any]:
    return yaml.safe_load((INSTANCE_DIR / "dagster.yaml").read_text())


@pytest.mark.usefixtures("environment")
def test_the_instance_config_passes_dagsters_own_schema() -> None:
    config, instance_class = dagster_instance_config(str(INSTANCE_DIR))
    assert instance_class is None
    launcher = config["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_k8s", "K8sRunLauncher")
    assert "postgres" in config["storage"]


@pytest.mark.usefixtures("environment")
def test_the_run_launcher_config_is_what_k8s_run_launcher_accepts() -> None:
    result = process_config(K8sRunLauncher.config_type(), instance_yaml()["run_launcher"]["config"])
    assert result.success, result.errors
    assert result.value["job_image"] == ENV["NLP_BENCH_PIPELINE_IMAGE"]
    assert result.value["job_namespace"] == "nlp-bench-pipeline"


@pytest.mark.usefixtures("environment")
def test_an_instance_made_from_it_launches_runs_as_kubernetes_jobs_one_benchmark_at_a_time(
    tmp_path: Path,
) -> None:
    config = instance_yaml()
    # What needs a server here: Postgres (dagster-postgres) becomes SQLite, and the in-cluster
    # service account a kubeconfig that is never called.
    config["storage"] = {"sqlite": {"base_dir": str(tmp_path / "storage")}}
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(KUBECONFIG))
    config["run_launcher"]["config"].update(
        load_incluster_config=False, kubeconfig_file=str(kubeconfig)
    )
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    instance = DagsterInstance.from_config(str(home))
    try:
        launcher = instance.run_launcher
        assert isinstance(launcher, K8sRunLauncher)
        assert launcher.job_namespace == "nlp-bench-pipeline"
        assert launcher.instance_config_map == "nlp-bench-dagster-instance"
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        queue = instance.get_concurrency_config().run_queue_config
        assert {"key": "nlp-bench/exclusive", "limit": 1} in queue.tag_concurrency_limits
        assert queue.max_concurrent_runs == 4
    finally:
        instance.dispose()


def test_the_k8s_job_executor_run_config_is_what_the_executor_accepts() -> None:
    run_config = yaml.safe_load((INSTANCE_DIR / "k8s_job_executor.yaml").read_text())
    schema = k8s_job_executor.config_schema.config_type
    result = process_config(schema, run_config["execution"]["config"])
    assert result.success, result.errors
    assert result.value["max_concurrent"] == 1


def test_no_secret_is_written_into_the_instance_file() -> None:
    postgres = instance_yaml()["storage"]["postgres"]["postgres_db"]
    assert postgres["password"] == {"env": "DAGSTER_PG_PASSWORD"}
    text = (INSTANCE_DIR / "dagster.yaml").read_text().lower()
    assert "aws_secret_access_key" not in text
