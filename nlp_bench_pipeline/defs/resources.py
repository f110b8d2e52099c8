"""Resources shared by every stage: the benchmark plan, the metric store, AWS, the platforms.

The one place (with the command line) that reads settings: every default comes from
``NLP_BENCH_*`` through ``PipelineSettings`` here, and reaches the plain-Python packages as a
parameter. Local by default; AWS when credentials are configured (``dg.EnvVar``, never literal
secrets).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg
from pydantic import Field

from nlp_bench_pipeline.bench.plan import BenchmarkPlan
from nlp_bench_pipeline.settings import PROJECT_ROOT, PipelineSettings, get_pipeline_settings
from nlp_bench_pipeline.store.database import MetricStore
from nlp_bench_pipeline.targets.base import Target
from nlp_bench_pipeline.targets.registry import create_target

# The plan's own defaults: the Launchpad shows them, and nothing here repeats a literal.
PLAN_DEFAULTS = BenchmarkPlan()


class BenchmarkConfig(dg.ConfigurableResource):
    """The benchmark plan, editable in the Launchpad; defaults come from ``NLP_BENCH_*``.

    Field for field :class:`nlp_bench_pipeline.bench.plan.BenchmarkPlan` (a test keeps the two
    in step), which validates; ``platform_overrides`` is JSON text here because Dagster config
    has no free-form mapping type.
    """

    targets: list[str]
    scenarios: list[str]
    profile: str = PLAN_DEFAULTS.profile
    model: str = PLAN_DEFAULTS.model
    repetitions: int | None = PLAN_DEFAULTS.repetitions
    lambda_memory_mb: int = PLAN_DEFAULTS.lambda_memory_mb
    pod_cpu: float = PLAN_DEFAULTS.pod_cpu
    pod_memory_mb: int = PLAN_DEFAULTS.pod_memory_mb
    min_replicas: int = PLAN_DEFAULTS.min_replicas
    max_replicas: int = PLAN_DEFAULTS.max_replicas
    slo_p99_ms: dict[str, float] = Field(default_factory=lambda: dict(PLAN_DEFAULTS.slo_p99_ms))
    max_error_rate: dict[str, float] = Field(
        default_factory=lambda: dict(PLAN_DEFAULTS.max_error_rate)
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


class MetricStoreResource(dg.ConfigurableResource):
    """The DuckDB metric store file; ``get_store()`` is the one access layer over it."""

    database: str = Field(description="path of the DuckDB file")

    def get_store(self) -> MetricStore:
        return MetricStore(Path(self.database))


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

    work_dir: str = Field(description="platform process logs and load-generator run directories")

    @property
    def work_path(self) -> Path:
        return Path(self.work_dir)

    def create(self, name: str, aws: AwsConfig) -> Target:
        return create_target(
            name,  # type: ignore[arg-type]
            work_dir=self.work_path,
            aws_credentials=name.startswith("aws-") and aws.has_credentials(),
        )


class ReportResource(dg.ConfigurableResource):
    """Where the charts, the analysis and the HTML report are written (default ``data/report``,
    beside the work directory)."""

    report_dir: str = Field(description="the report folder: index.html, charts/, analysis.json")

    @property
    def path(self) -> Path:
        return Path(self.report_dir)


@dg.definitions
def resources() -> dg.Definitions:
    settings = get_pipeline_settings()
    return dg.Definitions(
        resources={
            "bench": BenchmarkConfig.from_settings(settings),
            "duckdb": MetricStoreResource(database=str(settings.db)),
            "aws": AwsConfig.from_environment(),
            "platforms": PlatformsResource(work_dir=str(settings.work_dir)),
            "report": ReportResource(report_dir=str(settings.work_dir.parent / "report")),
            "pipes_subprocess_client": dg.PipesSubprocessClient(cwd=str(PROJECT_ROOT)),
        }
    )
