"""What a benchmark run covers: targets, scenarios, profile, sizes and pass/fail bounds.

Plain pydantic, no Dagster: the Dagster config resource, the ``nlp-bench`` CLI and the tests all
build a :class:`BenchmarkPlan` and ask it for cells and deployment specs.
"""

from __future__ import annotations

from itertools import product
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from nlp_bench_pipeline.core.deployments import DeploymentSpec, ResourceQuantity
from nlp_bench_pipeline.core.platform_facts import (
    LAMBDA_DEFAULT_MEMORY_MB,
    LAMBDA_MAX_MEMORY_MB,
    LAMBDA_MIN_MEMORY_MB,
)
from nlp_bench_pipeline.core.records import LOCAL_TARGETS, TargetName
from nlp_bench_pipeline.loadgen.scenarios import SCENARIO_NAMES, Profile
from nlp_bench_pipeline.targets.registry import platform_knobs

ALL_SCENARIOS = SCENARIO_NAMES


class Cell(BaseModel):
    """One (target, scenario) pair: a partition of ``load_test_run``."""

    model_config = ConfigDict(frozen=True)

    target: TargetName
    scenario: str

    def __str__(self) -> str:
        return f"{self.target} × {self.scenario}"


class BenchmarkPlan(BaseModel):
    """The knobs a person turns; defaults reproduce the embedded local benchmark."""

    model_config = ConfigDict(extra="forbid")

    targets: list[TargetName] = Field(
        default_factory=lambda: list(LOCAL_TARGETS), description="enabled targets"
    )
    scenarios: list[str] = Field(
        default_factory=lambda: list(ALL_SCENARIOS), description="enabled scenarios"
    )
    profile: Profile = Field(
        "quick", description="smoke: seconds (tests); quick: short timers; full: the real thing"
    )
    model: str = Field("synthetic", description="an NLP_BENCH_MODEL value")
    repetitions: int | None = Field(
        None, ge=1, le=20, description="runs per cell; default: the scenario's own (full: 3)"
    )
    lambda_memory_mb: int = Field(
        LAMBDA_DEFAULT_MEMORY_MB,
        ge=LAMBDA_MIN_MEMORY_MB,
        le=LAMBDA_MAX_MEMORY_MB,
        description="Lambda memory size",
    )
    pod_cpu: float = Field(1.0, gt=0, description="CPU request = limit per pod, in cores")
    pod_memory_mb: int = Field(2048, ge=256, description="memory request = limit per pod")
    min_replicas: int = Field(1, ge=1, description="HPA minReplicas (≥ 1, as on EKS)")
    max_replicas: int = Field(2, ge=1, description="HPA maxReplicas")
    slo_p99_ms: dict[str, float] = Field(
        default_factory=lambda: {"default": 2_000.0, "cold_start": 30_000.0},
        description="p99 bound per scenario ('default' for the rest), MLPerf-style pass/fail",
    )
    max_error_rate: dict[str, float] = Field(
        default_factory=lambda: {"default": 0.01, "burst": 0.2, "cold_start": 0.2},
        description="error-rate bound per scenario ('default' for the rest)",
    )
    platform_overrides: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="extra platform knobs per target"
    )
    load_mode: Literal["http", "direct"] = Field(
        "http",
        description="http: through each target's endpoint; direct: Lambda's Invoke API, "
        "bypassing API Gateway (aws-lambda only)",
    )

    @field_validator("scenarios")
    @classmethod
    def _known_scenarios(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(ALL_SCENARIOS))
        if unknown:
            raise ValueError(f"unknown scenario(s) {unknown}; choose from {list(ALL_SCENARIOS)}")
        return value

    @model_validator(mode="after")
    def _replica_bounds(self) -> BenchmarkPlan:
        if self.min_replicas > self.max_replicas:
            raise ValueError("min_replicas exceeds max_replicas")
        return self

    def cells(self) -> list[Cell]:
        """Every enabled (target, scenario), in the order ``make bench`` runs them."""
        return [Cell(target=t, scenario=s) for t, s in product(self.targets, self.scenarios)]

    def is_enabled(self, target: str, scenario: str | None = None) -> bool:
        return target in self.targets and (scenario is None or scenario in self.scenarios)

    def slo_for(self, scenario: str) -> float:
        return self.slo_p99_ms.get(scenario, self.slo_p99_ms.get("default", 2_000.0))

    def error_bound_for(self, scenario: str) -> float:
        return self.max_error_rate.get(scenario, self.max_error_rate.get("default", 0.01))

    def deployment_spec(self, target: TargetName, *, idle_s: float = 0.0) -> DeploymentSpec:
        """The spec for ``target`` under this plan (and a scenario idling ``idle_s``)."""
        knobs = platform_knobs(
            target, self.profile, idle_s=idle_s, overrides=self.platform_overrides.get(target)
        )
        return DeploymentSpec(
            target=target,
            model=self.model,
            memory_mb=self.lambda_memory_mb,
            cpu=ResourceQuantity(request=self.pod_cpu, limit=self.pod_cpu),
            memory=ResourceQuantity(request=self.pod_memory_mb, limit=self.pod_memory_mb),
            min_replicas=self.min_replicas,
            max_replicas=self.max_replicas,
            platform=knobs,
        )
