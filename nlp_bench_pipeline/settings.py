"""Pipeline-side settings from ``NLP_BENCH_*`` environment variables (pydantic-settings).

The service has its own settings object (``inference_service.settings``); the two packages share
the prefix, never code.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[1]


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
        "warm_steady,ramp,burst,cold_start,soak", description="enabled scenarios, comma-separated"
    )
    model: str = Field(
        "synthetic",
        description="the model the benchmark deploys (the service's own default is the hub model)",
    )
    service_image: str | None = Field(
        None, description="the service image in ECR by digest, <repo>@sha256:… (AWS targets)"
    )
    aws_owner: str | None = Field(None, description="owner tag of AWS deployments (default: you)")
    aws_expiry_hours: float = Field(4.0, gt=0, description="how long an AWS deployment may live")
    aws_cluster: str | None = Field(None, description="EKS cluster (default: Terraform's output)")
    terraform_dir: Path = Field(
        PROJECT_ROOT / "infra" / "terraform" / "envs" / "bench",
        description="the Terraform environment the AWS targets read outputs from",
    )

    @staticmethod
    def split(value: str) -> list[str]:
        return [item.strip() for item in value.split(",") if item.strip()]

    @model_validator(mode="after")
    def _report_beside_work_dir(self) -> PipelineSettings:
        """The report follows ``work_dir`` unless set, so a moved work folder moves it too."""
        if self.report_dir is None:
            self.report_dir = self.work_dir.parent / "report"
        return self


@lru_cache(maxsize=1)
def get_pipeline_settings() -> PipelineSettings:
    return PipelineSettings()
