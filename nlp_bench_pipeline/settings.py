"""Pipeline-side settings from ``NLP_BENCH_*`` environment variables (pydantic-settings).

The service has its own settings object (``inference_service.settings``); the two packages share
the prefix, never code.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SCOPE = "default"  # a service setting for every target
# <repository>@sha256:<64 hex>: an image pinned by digest (a tag can move under a benchmark).
# The pod renderer checks the reference's full grammar; this catches a tag or a typo at once.
DIGEST_PINNED_IMAGE = re.compile(r"^[^@\s]+@sha256:[0-9a-f]{64}$")
# S3's bucket naming rules: 3-63 lowercase letters, digits, dots and hyphens, letter or digit
# at both ends.
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def parse_service_env(value: str) -> dict[str, dict[str, str]]:
    """``NLP_BENCH_SERVICE_ENV``: comma-separated ``KEY=VALUE``, each for every target, or
    ``<target>:KEY=VALUE`` for one; returned by scope (``default`` or the target's name).

    Only the form is checked here; which names a deployment may be given is the plan's rule
    (``bench.plan``). Values cannot hold commas (no service setting needs one).
    """
    scopes: dict[str, dict[str, str]] = {}
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        left, equals, setting = item.partition("=")
        scope, colon, name = left.rpartition(":")
        scope, name = scope.strip(), name.strip()
        if not equals or not name or (colon and not scope):
            raise ValueError(f"{item!r} is not KEY=VALUE or <target>:KEY=VALUE")
        env = scopes.setdefault(scope or DEFAULT_SCOPE, {})
        if name in env:
            raise ValueError(f"{name} is set twice for {scope or 'every target'}")
        env[name] = setting.strip()
    return scopes


class PipelineSettings(BaseSettings):
    """Where results go, where local platforms keep their files, and the plan's defaults.

    ``NLP_BENCH_TARGETS`` and ``NLP_BENCH_SCENARIOS`` are comma-separated lists; each setting is
    the default of the matching field of the Dagster ``BenchmarkConfig`` resource.
    """

    model_config = SettingsConfigDict(
        env_prefix="NLP_BENCH_", extra="ignore", protected_namespaces=()
    )

    db: Path = Field(PROJECT_ROOT / "data" / "nlp_bench.duckdb", description="the DuckDB file")
    work_dir: Path = Field(
        PROJECT_ROOT / "data" / "work",
        description="run directories: load-generator Parquet files, platform process logs",
    )
    report_dir: Path | None = Field(
        None,  # never None once validated: _report_beside_work_dir fills it in
        description="the HTML report (index.html, charts/, analysis.json); default: a 'report' "
        "folder beside work_dir (data/report)",
    )
    profile: Literal["smoke", "quick", "full"] = Field("quick", description="benchmark profile")
    targets: str = Field("local-lambda,local-k8s", description="enabled targets, comma-separated")
    scenarios: str = Field(
        "",
        description="enabled scenarios, comma-separated; empty: the profile's own (quick: all "
        "but soak; smoke and full: all)",
    )
    model: str = Field(
        "synthetic",
        description="the model the benchmark deploys (the service's own default is the hub model)",
    )
    service_env: str = Field(
        "",
        description="service settings for the deployments: KEY=VALUE,... for every target, "
        "<target>:KEY=VALUE for one (e.g. NLP_BENCH_PRECISION=int8,"
        "local-k8s:NLP_BENCH_BATCH_MAX_SIZE=16)",
    )
    service_image: str | None = Field(
        None, description="the service image in ECR by digest, <repo>@sha256:… (AWS targets)"
    )
    aws_owner: str | None = Field(None, description="owner tag of AWS deployments (default: you)")
    aws_expiry_hours: float = Field(4.0, gt=0, description="how long an AWS deployment may live")
    aws_cluster: str | None = Field(None, description="EKS cluster (default: Terraform's output)")
    load_from: Literal["here", "in-region"] = Field(
        "here",
        description="where the AWS cells' load comes from: here (this machine) or in-region (a "
        "pod on the EKS cluster's load-generator nodes)",
    )
    pipeline_image: str | None = Field(
        None,
        description="the pipeline image in ECR by digest, <repository>@sha256:<hex>: what the "
        "in-region load generator's pod runs (default: Terraform's in_region_load output)",
    )
    results_bucket: str | None = Field(
        None,
        description="the S3 bucket the in-region load generator's rows travel through "
        "(default: Terraform's in_region_load output)",
    )
    terraform_dir: Path = Field(
        PROJECT_ROOT / "infra" / "terraform" / "envs" / "bench",
        description="the Terraform environment the AWS targets read outputs from",
    )

    @staticmethod
    def split(value: str) -> list[str]:
        return [item.strip() for item in value.split(",") if item.strip()]

    @field_validator("service_env")
    @classmethod
    def _service_env_form(cls, value: str) -> str:
        parse_service_env(value)
        return value

    @field_validator("pipeline_image")
    @classmethod
    def _pinned_by_digest(cls, value: str | None) -> str | None:
        if value is not None and not DIGEST_PINNED_IMAGE.match(value):
            raise ValueError("is not pinned by digest: use <repository>@sha256:<64 hex>, no tag")
        return value

    @field_validator("results_bucket")
    @classmethod
    def _bucket_name(cls, value: str | None) -> str | None:
        if value is not None and not BUCKET_NAME.match(value):
            raise ValueError(
                "is not an S3 bucket name (3-63 lowercase letters, digits, dots and hyphens)"
            )
        return value

    def service_env_by_scope(self) -> dict[str, dict[str, str]]:
        return parse_service_env(self.service_env)

    @model_validator(mode="after")
    def _report_beside_work_dir(self) -> PipelineSettings:
        """The report follows ``work_dir`` unless set, so a moved work folder moves it too."""
        if self.report_dir is None:
            self.report_dir = self.work_dir.parent / "report"
        return self


@lru_cache(maxsize=1)
def get_pipeline_settings() -> PipelineSettings:
    return PipelineSettings()
