"""The local Lambda platform's knobs, AWS's numbers as defaults (docs/aws-facts.md).

``LocalLambdaConfig`` is validated from ``DeploymentSpec.platform`` (unknown keys are an error, so
a typo never silently falls back to a default). ``resolve_limits`` turns it into what the pool
enforces on *this* host: where a laptop cannot hold AWS's number (1,000 concurrent environments),
the limit is lowered and the result says so, in words the deployment's details carry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import psutil
from pydantic import BaseModel, ConfigDict, Field, model_validator

from nlp_bench_pipeline.core.deployments import DeploymentSpec
from nlp_bench_pipeline.targets.cpu_quota import available_cpus

# Lambda's synchronous invoke payload limit, request and response alike (6 MB + 100 bytes, as the
# Runtime Interface Emulator enforces it).
INVOKE_PAYLOAD_LIMIT = 6 * 1024 * 1024 + 100
# API Gateway's own request payload quota.
GATEWAY_PAYLOAD_LIMIT = 10 * 1024 * 1024
AWS_DEFAULT_CONCURRENCY = 1000
MAX_INTEGRATION_TIMEOUT_S = {"http": 30.0, "rest": 29.0}
ACCOUNT_ID = "123456789012"  # the placeholder account AWS's own documentation uses
# As the service's own NLP_BENCH_BODY_TIMEOUT_S: a body that has not arrived whole by then holds
# a connection for nothing.
BODY_TIMEOUT_S = 10.0

# The quick profile shortens waits that only cost wall-clock time; timeouts and limits that shape
# the results (integration, function and init timeouts, concurrency, scale-out) keep AWS's values.
QUICK_PRESET: dict[str, Any] = {"idle_eviction_s": 10.0}
PRESETS: dict[str, dict[str, Any]] = {"full": {}, "quick": QUICK_PRESET}


def preset(profile: str, **overrides: Any) -> dict[str, Any]:
    """``DeploymentSpec.platform`` for a profile ("quick" or "full"), with ``overrides`` on top."""
    if profile not in PRESETS:
        raise ValueError(f"unknown profile {profile!r}; choose from {', '.join(PRESETS)}")
    return {**PRESETS[profile], **overrides}


class LocalLambdaConfig(BaseModel):
    """API Gateway and Lambda settings; each default is AWS's unless its description says why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    api: Literal["http", "rest"] = Field(
        "http", description="HTTP API (payload format 2.0) or REST API (payload format 1.0)"
    )
    integration_timeout_s: float | None = Field(
        None, gt=0, description="None = the API's maximum: 30 s for HTTP APIs, 29 s for REST"
    )
    gateway_rate_limit_rps: float = Field(
        10_000, gt=0, description="account-level steady-state rate"
    )
    gateway_burst: int = Field(5_000, ge=1, description="account-level burst")
    max_request_bytes: int = Field(GATEWAY_PAYLOAD_LIMIT, ge=1, description="API Gateway quota")
    body_timeout_s: float = Field(
        BODY_TIMEOUT_S,
        gt=0,
        description="seconds a request's whole body may take to reach the front (then 408); "
        "not an AWS number: API Gateway does not publish one",
    )
    function_name: str = Field("nlp-bench", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    function_timeout_s: float = Field(
        30.0,
        gt=0,
        le=900,
        description="AWS's console default is 3 s; 30 s matches the HTTP API integration timeout",
    )
    init_timeout_s: float = Field(10.0, gt=0, description="on-demand Init phase limit")
    provisioned_init_timeout_s: float = Field(
        130.0, gt=0, description="provisioned Init limit: this or the function timeout if higher"
    )
    concurrency_limit: int | None = Field(
        None, ge=1, description="None = AWS's 1,000 lowered to what this host can hold"
    )
    scale_out_limit: int = Field(1000, ge=1, description="new environments per scale-out window")
    scale_out_window_s: float = Field(10.0, gt=0)
    idle_eviction_s: float = Field(
        600.0, gt=0, description="an assumption: AWS does not publish when idle environments go"
    )
    provisioned_concurrency: int = Field(0, ge=0)
    start: Literal["cold", "zygote"] = Field(
        "cold",
        description="how an on-demand environment starts: cold (a fresh runtime process runs "
        "the init) or zygote (a fork of one process initialised at deploy: the local analogue "
        "of SnapStart, docs/adr/0043)",
    )
    restore_timeout_s: float = Field(
        10.0, gt=0, description="zygote start: runtime load and after-restore hooks (SnapStart's)"
    )
    max_concurrent_inits: int | None = Field(
        None,
        ge=1,
        description="None = the host's cores less one (parallel inits slow each other, and the "
        "environments already serving and the load generator share the host)",
    )
    region: str = "us-east-1"

    @model_validator(mode="after")
    def _integration_timeout_within_api_maximum(self) -> LocalLambdaConfig:
        ceiling = MAX_INTEGRATION_TIMEOUT_S["http"]
        if self.api == "http" and (self.integration_timeout_s or 0) > ceiling:
            raise ValueError(f"HTTP API integration timeout is at most {ceiling:g} s")
        return self

    @model_validator(mode="after")
    def _snap_start_excludes_provisioned_concurrency(self) -> LocalLambdaConfig:
        if self.start == "zygote" and self.provisioned_concurrency:
            raise ValueError(
                "start=zygote cannot be combined with provisioned_concurrency: Lambda SnapStart "
                "does not support provisioned concurrency (choose one)"
            )
        return self

    @classmethod
    def from_spec(cls, spec: DeploymentSpec) -> LocalLambdaConfig:
        return cls.model_validate(spec.platform)

    @property
    def payload_format(self) -> Literal["2.0", "1.0"]:
        return "2.0" if self.api == "http" else "1.0"

    @property
    def function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{self.function_name}"


@dataclass(frozen=True)
class HostCapacity:
    """What this machine can give the environments: cores and memory available now."""

    cores: int
    memory_mb: int

    @classmethod
    def measure(cls) -> HostCapacity:
        return cls(available_cpus(), psutil.virtual_memory().available // (1024 * 1024))


@dataclass(frozen=True)
class PlatformLimits:
    """The numbers the pool and gateway enforce, and the notes that explain the local ones."""

    concurrency_limit: int
    max_concurrent_inits: int
    integration_timeout_s: float
    provisioned_init_timeout_s: float
    notes: dict[str, str] = field(default_factory=dict)
    host_limited: tuple[str, ...] = ()  # knobs lowered from AWS's value to fit this host


def resolve_limits(config: LocalLambdaConfig, memory_mb: int, host: HostCapacity) -> PlatformLimits:
    """AWS's limits where the host can hold them; lowered and labelled where it cannot."""
    notes = {
        "idle_eviction_s": (
            f"{config.idle_eviction_s:g} s: an assumption, AWS does not publish when idle "
            "environments are reclaimed"
        )
    }
    host_limited = []
    concurrency = config.concurrency_limit
    if concurrency is None:
        memory_bound = max(1, host.memory_mb // memory_mb)
        core_bound = 2 * host.cores
        concurrency = min(AWS_DEFAULT_CONCURRENCY, memory_bound, core_bound)
        notes["concurrency_limit"] = (
            f"{concurrency}, host-limited: min(memory bound {memory_bound} = "
            f"{host.memory_mb:,} MB available / {memory_mb:,} MB, 2 x {host.cores} host cores) "
            f"instead of AWS's default {AWS_DEFAULT_CONCURRENCY:,}"
        )
        host_limited.append("concurrency_limit")
    if config.provisioned_concurrency > concurrency:
        raise ValueError(
            f"provisioned_concurrency {config.provisioned_concurrency} exceeds the concurrency "
            f"limit {concurrency}"
        )
    inits = config.max_concurrent_inits
    if inits is None:
        # On AWS every environment inits on its own CPU share; here inits take CPU from the
        # environments already serving and from the load generator. One core is left to them:
        # two parallel full-model inits on 2 cores while serving took 9-10.3 s (one alone 7.3 s)
        # and kept tripping the 10 s init limit.
        inits = max(1, host.cores - 1)
        notes["max_concurrent_inits"] = (
            f"{inits}, host-limited: the host's cores less one, so inits neither slow each "
            "other past the init limit nor starve the environments already serving; the wait "
            "for a slot is recorded apart from Init Duration"
        )
        host_limited.append("max_concurrent_inits")
    return PlatformLimits(
        concurrency_limit=concurrency,
        max_concurrent_inits=inits,
        integration_timeout_s=config.integration_timeout_s or MAX_INTEGRATION_TIMEOUT_S[config.api],
        provisioned_init_timeout_s=max(
            config.provisioned_init_timeout_s, config.function_timeout_s
        ),
        notes=notes,
        host_limited=tuple(host_limited),
    )


def memory_share_note(cores: float, host_cores: int, enforcement: str) -> str:
    """How the memory size's CPU share is applied here, and whether the host falls short."""
    note = f"{cores:.2f} vCPU requested ({host_cores} host cores), enforced by {enforcement}"
    if cores > host_cores:
        note += f"; asks for more cores than the host has, so at most {host_cores} are used"
    return note
