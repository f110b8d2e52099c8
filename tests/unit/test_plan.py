"""The benchmark plan: cells, bounds, deployment specs, and its Dagster mirror."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from nlp_bench_pipeline.bench.plan import ALL_SCENARIOS, BenchmarkPlan, Cell


def test_default_plan_covers_both_local_targets_and_every_scenario() -> None:
    plan = BenchmarkPlan()
    cells = plan.cells()
    assert len(cells) == 2 * len(ALL_SCENARIOS)
    assert cells[0] == Cell(target="local-lambda", scenario="warm_steady")
    assert plan.profile == "quick"
    assert plan.repetitions is None


def test_unknown_scenario_is_rejected_with_the_choices() -> None:
    with pytest.raises(ValidationError, match="unknown scenario"):
        BenchmarkPlan(scenarios=["warm_steady", "stampede"])


def test_unknown_target_is_rejected() -> None:
    with pytest.raises(ValidationError):
        BenchmarkPlan(targets=["gcp-run"])


def test_replica_bounds_are_checked() -> None:
    with pytest.raises(ValidationError, match="min_replicas"):
        BenchmarkPlan(min_replicas=3, max_replicas=2)


def test_per_scenario_bounds_fall_back_to_default() -> None:
    plan = BenchmarkPlan(slo_p99_ms={"default": 500, "burst": 900})
    assert plan.slo_for("burst") == 900
    assert plan.slo_for("ramp") == 500
    assert BenchmarkPlan().error_bound_for("cold_start") == 0.2
    assert BenchmarkPlan().error_bound_for("soak") == 0.01


def test_deployment_spec_carries_the_plan_and_platform_knobs() -> None:
    plan = BenchmarkPlan(
        model="tiny",
        lambda_memory_mb=3008,
        pod_cpu=2,
        max_replicas=4,
        platform_overrides={"local-k8s": {"pods_per_node": 2}},
    )
    spec = plan.deployment_spec("local-k8s")
    assert spec.model == "tiny"
    assert spec.memory_mb == 3008
    assert (spec.cpu.request, spec.cpu.limit) == (2, 2)
    assert spec.max_replicas == 4
    assert spec.platform == {"pods_per_node": 2, "preset": "quick"}
    assert BenchmarkPlan(profile="full").deployment_spec("local-k8s").platform == {}


def test_lambda_keeps_aws_eviction_unless_a_scenario_idles_less() -> None:
    plan = BenchmarkPlan()
    assert plan.deployment_spec("local-lambda").platform == {}
    assert plan.deployment_spec("local-lambda", idle_s=25).platform == {"idle_eviction_s": 12.5}
    # The full cold_start idles 720 s, past the 600 s AWS-like default: nothing to fit.
    assert plan.deployment_spec("local-lambda", idle_s=720).platform == {}
    tuned = BenchmarkPlan(platform_overrides={"local-lambda": {"idle_eviction_s": 5}})
    assert tuned.deployment_spec("local-lambda", idle_s=25).platform == {"idle_eviction_s": 5}


def test_dagster_config_resource_mirrors_the_plan_field_for_field() -> None:
    from nlp_bench_pipeline.defs.resources import BenchmarkConfig

    assert set(BenchmarkConfig.model_fields) == set(BenchmarkPlan.model_fields)
    config = BenchmarkConfig(
        targets=["local-k8s"], scenarios=["burst"], platform_overrides='{"local-k8s": {"a": 1}}'
    )
    plan = config.plan()
    assert plan.cells() == [Cell(target="local-k8s", scenario="burst")]
    assert plan.platform_overrides == {"local-k8s": {"a": 1}}
    assert plan.slo_p99_ms == BenchmarkPlan().slo_p99_ms


def test_load_comes_from_here_unless_the_plan_asks_for_in_region() -> None:
    assert BenchmarkPlan().load_from == "here"
    assert BenchmarkPlan(load_from="in-region").load_from == "in-region"
    with pytest.raises(ValidationError, match="'here' or 'in-region'"):
        BenchmarkPlan(load_from="laptop")


def test_the_dagster_config_resource_carries_load_from_into_the_plan() -> None:
    from nlp_bench_pipeline.defs.resources import BenchmarkConfig

    config = BenchmarkConfig(targets=["aws-eks"], scenarios=["burst"], load_from="in-region")
    assert config.plan().load_from == "in-region"
    assert BenchmarkConfig(targets=["aws-eks"], scenarios=["burst"]).plan().load_from == "here"


def test_a_benchmark_that_names_no_scenario_runs_its_profiles_own(monkeypatch) -> None:
    from nlp_bench_pipeline.defs.resources import BenchmarkConfig
    from nlp_bench_pipeline.settings import PipelineSettings

    monkeypatch.delenv("NLP_BENCH_SCENARIOS", raising=False)
    for profile, soak in (("smoke", True), ("quick", False), ("full", True)):
        monkeypatch.setenv("NLP_BENCH_PROFILE", profile)
        scenarios = BenchmarkConfig.from_settings(PipelineSettings()).scenarios
        assert ("soak" in scenarios) is soak, profile
        assert {"warm_steady", "ramp", "burst", "cold_start"} <= set(scenarios)
    monkeypatch.setenv("NLP_BENCH_SCENARIOS", "soak")  # named, it runs in quick too
    monkeypatch.setenv("NLP_BENCH_PROFILE", "quick")
    assert BenchmarkConfig.from_settings(PipelineSettings()).scenarios == ["soak"]
