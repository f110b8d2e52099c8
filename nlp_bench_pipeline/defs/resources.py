"""Resources shared by every stage: the benchmark plan, the DuckDB file, AWS, and the platforms.

Local by default; AWS when credentials are configured (``dg.EnvVar``, never literal secrets).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource
from pydantic import Field

from nlp_bench_pipeline.plan import BenchmarkPlan
from nlp_bench_pipeline.settings import PROJECT_ROOT, PipelineSettings, get_pipeline_settings
from nlp_bench_pipeline.targets.base import Target
from nlp_bench_pipeline.targets.registry import create_target


class BenchmarkConfig(dg.ConfigurableResource):
    """The benchmark plan, editable in the Launchpad; defaults come from ``NLP_BENCH_*``.

    Mirrors :class:`nlp_bench_pipeline.plan.BenchmarkPlan` field for field (a test keeps the two
    in step); the plan validates.
    """

    targets: list[str]
    scenarios: list[str]
    profile: str = "quick"
    model: str = "synthetic"
    repetitions: int | None = None
    lambda_memory_mb: int = 1769
    pod_cpu: float = 1.0
    pod_memory_mb: int = 2048
    min_replicas: int = 1
    max_replicas: int = 2
    slo_p99_ms: dict[str, float] = Field(
        default_factory=lambda: dict(BenchmarkPlan.model_fields["slo_p99_ms"].default_factory())
    )
    max_error_rate: dict[str, float] = Field(
        default_factory=lambda: dict(BenchmarkPlan.model_fields["max_error_rate"].default_factory())
    )
    platform_overrides: str = Field(
        "{}",
        description='JSON, extra platform knobs per target: {"local-k8s": {"pods_per_node": 2}}',
    )

    @classmethod
    def from_settings(cls, settings: PipelineSettings) -> BenchmarkConfig:
        return cls(
            targets=settings.split(settings.targets),
            scenarios=settings.split(settings.scenarios),
            profile=settings.profile,
            model=settings.model,
        )

    def plan(self) -> BenchmarkPlan:
        fields = self.model_dump()
        fields["platform_overrides"] = json.loads(self.platform_overrides or "{}")
        return BenchmarkPlan(**fields)


class AwsConfig(dg.ConfigurableResource):
    """Region and credentials for the AWS targets; secrets arrive through ``dg.EnvVar``."""

    region: str = "us-east-1"
    profile_name: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None

    @classmethod
    def from_environment(cls) -> AwsConfig:
        def env(name: str) -> dg.EnvVar | None:
            return dg.EnvVar(name) if os.environ.get(name) else None

        return cls(
            region=os.environ.get("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1")),
            profile_name=os.environ.get("AWS_PROFILE"),
            access_key_id=env("AWS_ACCESS_KEY_ID"),
            secret_access_key=env("AWS_SECRET_ACCESS_KEY"),
            session_token=env("AWS_SESSION_TOKEN"),
        )

    def has_credentials(self) -> bool:
        """Whether boto3 finds credentials (explicit, profile, or the default chain)."""
        try:
            import boto3
        except ImportError:
            return False
        session = boto3.Session(
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            aws_session_token=self.session_token,
            profile_name=self.profile_name,
            region_name=self.region,
        )
        return session.get_credentials() is not None


class PlatformsResource(dg.ConfigurableResource):
    """Creates the target behind a partition: local platforms, or AWS when configured."""

    work_dir: str

    def create(self, name: str, aws: AwsConfig) -> Target:
        return create_target(
            name,  # type: ignore[arg-type]
            work_dir=Path(self.work_dir),
            aws_credentials=name.startswith("aws-") and aws.has_credentials(),
        )


@dg.definitions
def resources() -> dg.Definitions:
    settings = get_pipeline_settings()
    return dg.Definitions(
        resources={
            "bench": BenchmarkConfig.from_settings(settings),
            "duckdb": DuckDBResource(database=str(settings.db)),
            "aws": AwsConfig.from_environment(),
            "platforms": PlatformsResource(work_dir=str(settings.work_dir)),
            "pipes_subprocess_client": dg.PipesSubprocessClient(cwd=str(PROJECT_ROOT)),
        }
    )
