"""Service settings per benchmark: NLP_BENCH_SERVICE_ENV → the plan → every deployment's env,
and the run's record; only the service's own settings, never a credential."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from nlp_bench_pipeline.bench.plan import (
    SELECTABLE_SERVICE_SETTINGS,
    SET_BY_THE_PLATFORM,
    BenchmarkPlan,
)
from nlp_bench_pipeline.core.runs import Provenance, RunRecord
from nlp_bench_pipeline.settings import PipelineSettings, parse_service_env

INT8 = {"NLP_BENCH_PRECISION": "int8"}


def test_the_setting_reads_every_target_and_one_target_items() -> None:
    parsed = parse_service_env(
        " NLP_BENCH_PRECISION=int8, local-k8s:NLP_BENCH_BATCH_MAX_SIZE=16,"
        "local-k8s:NLP_BENCH_BATCH_MAX_WAIT_MS = 2 ,NLP_BENCH_RUNTIME=onnx,"
    )
    assert parsed == {
        "default": {"NLP_BENCH_PRECISION": "int8", "NLP_BENCH_RUNTIME": "onnx"},
        "local-k8s": {"NLP_BENCH_BATCH_MAX_SIZE": "16", "NLP_BENCH_BATCH_MAX_WAIT_MS": "2"},
    }
    assert parse_service_env("") == {}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("NLP_BENCH_PRECISION", "is not KEY=VALUE"),
        ("=int8", "is not KEY=VALUE"),
        (":NLP_BENCH_PRECISION=int8", "is not KEY=VALUE"),
        ("NLP_BENCH_WARMUP=1,NLP_BENCH_WARMUP=0", "NLP_BENCH_WARMUP is set twice"),
    ],
)
def test_a_setting_of_the_wrong_form_fails_as_the_settings_are_read(
    value: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NLP_BENCH_SERVICE_ENV", value)
    with pytest.raises(ValidationError, match=message) as caught:
        PipelineSettings()
    assert caught.value.errors()[0]["loc"] == ("service_env",)


def test_every_deployment_gets_the_default_scope_then_its_own() -> None:
    plan = BenchmarkPlan(
        service_env={"default": INT8, "local-k8s": {"NLP_BENCH_PRECISION": "fp32"}},
    )
    assert plan.deployment_spec("local-lambda").env == INT8
    assert plan.deployment_spec("local-k8s").env == {"NLP_BENCH_PRECISION": "fp32"}
    assert BenchmarkPlan().deployment_spec("local-k8s").env == {}


@pytest.mark.parametrize(
    ("service_env", "message"),
    [
        ({"default": {"AWS_SECRET_ACCESS_KEY": "x"}}, "AWS_SECRET_ACCESS_KEY is not a service"),
        ({"default": {"GROQ_API_KEY": "x"}}, "GROQ_API_KEY is not a service setting"),
        ({"default": {"NLP_BENCH_PRECISON": "int8"}}, "NLP_BENCH_PRECISON is not a service"),
        ({"local-k8s": {"NLP_BENCH_THREADS": "4"}}, "NLP_BENCH_THREADS is set by the platform"),
        ({"default": {"NLP_BENCH_MODEL": "tiny"}}, "NLP_BENCH_MODEL is set by the platform"),
        ({"gcp-run": INT8}, "'gcp-run' is neither 'default' nor a target"),
    ],
)
def test_only_the_services_own_settings_may_be_given(
    service_env: dict[str, dict[str, str]], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        BenchmarkPlan(service_env=service_env)


def test_the_selectable_settings_are_the_services_own_but_what_a_platform_sets() -> None:
    from inference_service.settings import ServiceSettings

    service = {f"NLP_BENCH_{name.upper()}" for name in ServiceSettings.model_fields}
    assert service == SELECTABLE_SERVICE_SETTINGS | SET_BY_THE_PLATFORM
    assert not SELECTABLE_SERVICE_SETTINGS & SET_BY_THE_PLATFORM


def test_the_dagster_resource_takes_the_setting_as_its_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from nlp_bench_pipeline.defs.resources import BenchmarkConfig

    monkeypatch.setenv(
        "NLP_BENCH_SERVICE_ENV", "NLP_BENCH_WARMUP=1,local-k8s:NLP_BENCH_RUNTIME=onnx"
    )
    plan = BenchmarkConfig.from_settings(PipelineSettings()).plan()
    assert plan.service_env_for("local-lambda") == {"NLP_BENCH_WARMUP": "1"}
    assert plan.deployment_spec("local-k8s").env == {
        "NLP_BENCH_WARMUP": "1",
        "NLP_BENCH_RUNTIME": "onnx",
    }


def record(provenance: Provenance, **host: object) -> RunRecord:
    return RunRecord(
        run_id="r",
        series_id="s",
        target="local-k8s",
        scenario="burst",
        repetition=0,
        repetitions=1,
        profile="quick",
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
        status="failed",
        scheduled=0,
        dropped=0,
        host=dict(host),
        **provenance.model_dump(),
    )


def test_the_runs_record_keeps_the_service_settings_beside_its_host_facts() -> None:
    kept = record(Provenance(model_id="m", service_env=INT8), error="boom")
    assert kept.host == {"error": "boom", "service_env": INT8}
    assert kept.model_id == "m"
    assert "service_env" not in record(Provenance()).host
