"""What a local-k8s pod is started with: batching on by default, the spec's env over it, the
service's JSON errors for malformed HTTP, and the Service's body deadline from the config."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from nlp_bench_pipeline.core.deployments import DeploymentSpec
from nlp_bench_pipeline.targets.cpu_quota import CpuQuotas
from nlp_bench_pipeline.targets.events import EventLog, SampleLog
from nlp_bench_pipeline.targets.local_k8s.cluster import Cluster
from nlp_bench_pipeline.targets.local_k8s.config import BatchingConfig, LocalK8sConfig
from nlp_bench_pipeline.targets.local_k8s.pods import (
    HTTP_PROTOCOL,
    ContainerRuntime,
    Pod,
    PodTemplate,
)
from nlp_bench_pipeline.targets.local_k8s.service import REQUEST_TIMEOUT_S

BATCH_SIZE, BATCH_WAIT = "NLP_BENCH_BATCH_MAX_SIZE", "NLP_BENCH_BATCH_MAX_WAIT_MS"


def spec(env: dict[str, str] | None = None, **platform: object) -> DeploymentSpec:
    return DeploymentSpec(target="local-k8s", model="tiny", env=env or {}, platform=platform)


def template_of(deployment: DeploymentSpec) -> PodTemplate:
    config = LocalK8sConfig.from_platform(deployment.platform)
    return PodTemplate.from_spec(deployment, config.batching)


def test_pods_batch_by_default_and_never_wait_for_company() -> None:
    env = dict(template_of(spec()).env)
    assert env == {BATCH_SIZE: "8", BATCH_WAIT: "0"}


def test_batching_is_a_knob_of_the_target() -> None:
    env = dict(template_of(spec(batching={"max_size": 32, "max_wait_ms": 2.5})).env)
    assert (env[BATCH_SIZE], env[BATCH_WAIT]) == ("32", "2.5")
    assert dict(template_of(spec(batching={"max_size": 1})).env)[BATCH_SIZE] == "1"  # off
    with pytest.raises(ValidationError):
        LocalK8sConfig.from_platform({"batching": {"max_size": 0}})
    with pytest.raises(ValidationError, match="max_batch"):
        LocalK8sConfig.from_platform({"batching": {"max_batch": 4}})


def test_the_specs_own_environment_wins_over_the_targets_batching() -> None:
    env = dict(template_of(spec({BATCH_SIZE: "4", "NLP_BENCH_PRECISION": "int8"})).env)
    assert env == {BATCH_SIZE: "4", BATCH_WAIT: "0", "NLP_BENCH_PRECISION": "int8"}


def test_a_batching_change_is_a_new_revision() -> None:
    one = PodTemplate.from_spec(spec(), BatchingConfig())
    other = PodTemplate.from_spec(spec(), BatchingConfig(max_size=16))
    assert one.revision != other.revision


def test_a_container_serves_with_the_services_json_errors_and_its_templates_env(
    tmp_path: Path,
) -> None:
    runtime = ContainerRuntime("owner", tmp_path, CpuQuotas("owner"), grace_s=2.0)
    pod = Pod("nlp-bench-abc-1", template_of(spec({"NLP_BENCH_WARMUP": "1"})), port=8123)
    command = runtime.command(pod)
    assert command[command.index("--http") + 1] == HTTP_PROTOCOL
    env = runtime.environment(pod)
    assert (env[BATCH_SIZE], env["NLP_BENCH_WARMUP"]) == ("8", "1")
    assert (env["HOSTNAME"], env["NLP_BENCH_MODEL"]) == ("nlp-bench-abc-1", "tiny")


def test_the_http_protocol_names_the_services_class() -> None:
    from inference_service import http_protocol

    module, name = HTTP_PROTOCOL.split(":")
    assert module == http_protocol.__name__
    assert getattr(http_protocol, name) is http_protocol.JsonErrorHttpProtocol


def cluster(tmp_path: Path, deployment: DeploymentSpec) -> Cluster:
    config = LocalK8sConfig.from_platform(deployment.platform)
    return Cluster("d", deployment, config, EventLog("local-k8s"), SampleLog(), tmp_path)


def test_the_services_body_deadline_is_a_setting_of_the_target(tmp_path: Path) -> None:
    assert cluster(tmp_path, spec()).service.request_timeout_s == REQUEST_TIMEOUT_S == 10.0
    tuned = cluster(tmp_path, spec(service={"request_timeout_s": 2.5}))
    assert tuned.service.request_timeout_s == 2.5
    with pytest.raises(ValidationError):
        LocalK8sConfig.from_platform({"service": {"request_timeout_s": 0}})


def test_the_deployments_details_say_what_the_pods_run_with(tmp_path: Path) -> None:
    details = cluster(tmp_path, spec({BATCH_SIZE: "2"})).details()
    assert details["pod_env"] == {BATCH_SIZE: "2", BATCH_WAIT: "0"}
    assert details["config"]["batching"] == {"max_size": 8, "max_wait_ms": 0.0}
    assert details["config"]["service"]["request_timeout_s"] == 10.0
