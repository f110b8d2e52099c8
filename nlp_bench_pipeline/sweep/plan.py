"""What a memory-size sweep runs: the sizes, how many invocations of each kind, the weight.

The defaults per profile keep quick ``make bench`` to one size (1,769 MB, one vCPU, the size the
benchmark runs) while the ``full`` profile sweeps AWS Lambda Power Tuning's range up to the
largest size. Power Tuning asks for at least five invocations per size; warm and cold are
counted apart here because they answer different questions (the steady cost, the first
request's wait).
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator

from nlp_bench_pipeline.core.platform_facts import (
    LAMBDA_DEFAULT_MEMORY_MB,
    LAMBDA_MAX_MEMORY_MB,
    LAMBDA_MB_PER_VCPU,
    LAMBDA_MIN_MEMORY_MB,
)
from nlp_bench_pipeline.core.profiles import profile_fields

DEFAULT_SIZES_MB = (512, 1024, LAMBDA_MB_PER_VCPU, 3008, 5120, LAMBDA_MAX_MEMORY_MB)
QUICK_SIZES_MB = (LAMBDA_DEFAULT_MEMORY_MB,)
DEFAULT_BALANCE_WEIGHT = 0.5  # Power Tuning's default for its "balanced" strategy


class SweepPlan(BaseModel):
    """The sizes to try and the invocations at each; validated before any deployment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    memory_sizes_mb: tuple[int, ...] = Field(DEFAULT_SIZES_MB, min_length=1)
    warm_invocations: int = Field(50, ge=1, le=10_000, description="sequential, on a warm one")
    cold_invocations: int = Field(5, ge=1, le=100, description="one fresh deployment each")
    balance_weight: float = Field(
        DEFAULT_BALANCE_WEIGHT,
        ge=0,
        le=1,
        description="w in w·cost/max + (1−w)·duration/max: 1 is cost only, 0 speed only",
    )

    @field_validator("memory_sizes_mb")
    @classmethod
    def _lambda_sizes(cls, sizes: tuple[int, ...]) -> tuple[int, ...]:
        wrong = [s for s in sizes if not LAMBDA_MIN_MEMORY_MB <= s <= LAMBDA_MAX_MEMORY_MB]
        if wrong:
            raise ValueError(
                f"memory sizes {wrong} are outside Lambda's {LAMBDA_MIN_MEMORY_MB:,}–"
                f"{LAMBDA_MAX_MEMORY_MB:,} MB"
            )
        return tuple(sorted(set(sizes)))

    @classmethod
    def for_profile(cls, profile: str, **overrides: object) -> Self:
        """The profile's defaults (``PROFILE_DEFAULTS``) with ``overrides`` on top (None: keep)."""
        return cls(**profile_fields(PROFILE_DEFAULTS, profile, overrides))


PROFILE_DEFAULTS: dict[str, dict[str, object]] = {
    "smoke": {"memory_sizes_mb": QUICK_SIZES_MB, "warm_invocations": 5, "cold_invocations": 1},
    "quick": {"memory_sizes_mb": QUICK_SIZES_MB, "warm_invocations": 20, "cold_invocations": 2},
    "full": {"memory_sizes_mb": DEFAULT_SIZES_MB, "warm_invocations": 50, "cold_invocations": 5},
}
