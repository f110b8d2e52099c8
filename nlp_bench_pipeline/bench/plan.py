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
from nlp_bench_pipeline.core.records import ALL_TARGETS, LOCAL_TARGETS, TargetName
from nlp_bench_pipeline.loadgen.scenarios import BENCHED_BY_DEFAULT, SCENARIO_NAMES, Profile
from nlp_bench_pipeline.targets.registry import platform_knobs

ALL_SCENARIOS = SCENARIO_NAMES


def profile_scenarios(profile: str) -> list[str]:
    """The scenarios a benchmark in ``profile`` runs when none are named (quick: all but soak)."""
    return list(BENCHED_BY_DEFAULT[profile])


DEFAULT_SCOPE = "default"
# The service's settings (inference_service/settings.py) a benchmark may choose for its
# deployments, as the variables the service reads: runtime, precision, batching, cold-start
# mitigations, request limits, faults. A test keeps the list in step with the service.
SELECTABLE_SERVICE_SETTINGS = frozenset(
    {
        "NLP_BENCH_RUNTIME",
        "NLP_BENCH_PRECISION",
        "NLP_BENCH_BATCH_MAX_SIZE",
        "NLP_BENCH_BATCH_MAX_WAIT_MS",
        "NLP_BENCH_WARMUP",
        "NLP_BENCH_WEIGHTS_MMAP",
        "NLP_BENCH_MAX_TEXTS",
        "NLP_BENCH_MAX_BODY_BYTES",
        "NLP_BENCH_BODY_TIMEOUT_S",
        "NLP_BENCH_MAX_TOKENS",
        "NLP_BENCH_FAULT_LOAD_DELAY_S",
        "NLP_BENCH_FAULT_LOAD_FAIL",
        "NLP_BENCH_FAULT_CRASH_ON_REQUEST",
        "NLP_BENCH_FAULT_HANG_ON_REQUEST",
    }
)
# The service's settings a platform sets itself: the plan's own model, where this host keeps
# model files, torch threads from the CPU share, the environment's id.
SET_BY_THE_PLATFORM = frozenset(
    {"NLP_BENCH_MODEL", "NLP_BENCH_MODEL_CACHE", "NLP_BENCH_THREADS", "NLP_BENCH_ENVIRONMENT_ID"}
)


def service_setting_problem(name: str) -> str | None:
    """Why ``name`` may not be set in a deployment's environment by a plan, or None."""
    if name in SELECTABLE_SERVICE_SETTINGS:
        return None
    if name in SET_BY_THE_PLATFORM:
        return f"{name} is set by the platform itself (the plan's model, the CPU share, ...)"
    return f"{name} is not a service setting a benchmark may choose; choose from " + ", ".join(
        sorted(SELECTABLE_SERVICE_SETTINGS)
    )


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
    service_env: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="service settings in every deployment's environment, by target "
        "('default' for all): batching, runtime, precision, warm-up, mmap (NLP_BENCH_SERVICE_ENV)",
    )
    load_mode: Literal["http", "direct"] = Field(
        "http",
        description="http: through each target's endpoint; direct: Lambda's Invoke API, "
        "bypassing API Gateway (aws-lambda only)",
    )
    load_from: Literal["here", "in-region"] = Field(
        "here",
        description="here: the load generator runs on the machine running the pipeline; "
        "in-region: the aws-lambda and aws-eks cells' load comes from a pod on the EKS "
        "cluster's load-generator nodes, so the laptop's network is not measured (local "
        "targets always load from here; NLP_BENCH_LOAD_FROM)",
    )

    @field_validator("scenarios")
    @classmethod
    def _known_scenarios(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(ALL_SCENARIOS))
        if unknown:
            raise ValueError(f"unknown scenario(s) {unknown}; choose from {list(ALL_SCENARIOS)}")
        return value

    @field_validator("service_env")
    @classmethod
    def _service_settings_only(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        """Only the service's own settings, never a credential or another process's variable:
        a deployment's environment is the function's or the pod's, as on AWS and Kubernetes."""
        for scope, env in value.items():
            if scope != DEFAULT_SCOPE and scope not in ALL_TARGETS:
                targets = ", ".join(ALL_TARGETS)
                raise ValueError(f"{scope!r} is neither {DEFAULT_SCOPE!r} nor a target ({targets})")
            for name in env:
                problem = service_setting_problem(name)
                if problem:
                    raise ValueError(problem)
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

    def service_env_for(self, target: str) -> dict[str, str]:
        """The service settings ``target``'s deployments get: every target's, then its own."""
        return {**self.service_env.get(DEFAULT_SCOPE, {}), **self.service_env.get(target, {})}

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
            env=self.service_env_for(target),
            platform=knobs,
        )
