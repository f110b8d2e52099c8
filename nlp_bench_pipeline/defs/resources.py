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
from typing import Any

import dagster as dg
from pydantic import Field

from nlp_bench_pipeline.bench.plan import BenchmarkPlan, profile_scenarios
from nlp_bench_pipeline.core.run_owners import owner_of, owner_tags, run_owner
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
    service_env: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description='service settings by target ("default": all), e.g. '
        '{"local-k8s": {"NLP_BENCH_BATCH_MAX_SIZE": "16"}}',
    )
    load_mode: str = PLAN_DEFAULTS.load_mode
    load_from: str = Field(
        PLAN_DEFAULTS.load_from,
        description="here, or in-region: the AWS cells' load from a pod on the EKS cluster",
    )

    @classmethod
    def from_settings(cls, settings: PipelineSettings) -> BenchmarkConfig:
        # The AWS targets deploy the service image pushed to ECR (by digest).
        image = {"image": settings.service_image} if settings.service_image else {}
        overrides = {target: dict(image) for target in ("aws-lambda", "aws-eks")} if image else {}
        return cls(
            targets=settings.split(settings.targets),
            scenarios=settings.split(settings.scenarios) or profile_scenarios(settings.profile),
            profile=settings.profile,
            model=settings.model,
            platform_overrides=json.dumps(overrides),
            service_env=settings.service_env_by_scope(),
            load_from=settings.load_from,
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
    """The account side of the AWS targets. Credentials come from boto3's default chain only
    (profile, SSO, instance profile, OIDC, the standard environment variables): never a key in
    configuration, in the repository or in Dagster's storage."""

    region: str | None = None
    profile_name: str | None = None
    owner: str | None = None
    expiry_hours: float = 4.0
    cluster_name: str | None = None
    terraform_dir: str | None = None

    @classmethod
    def from_settings(cls, settings: PipelineSettings) -> AwsConfig:
        return cls(
            region=os.environ.get("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION")),
            profile_name=os.environ.get("AWS_PROFILE"),
            owner=settings.aws_owner,
            expiry_hours=settings.aws_expiry_hours,
            cluster_name=settings.aws_cluster,
            terraform_dir=str(settings.terraform_dir),
        )

    def has_credentials(self) -> bool:
        """Whether boto3's default chain finds credentials."""
        try:
            import boto3
        except ImportError:
            return False
        session = boto3.Session(profile_name=self.profile_name, region_name=self.region)
        return session.get_credentials() is not None

    def options(self) -> Any:
        """``AwsTargetOptions`` for the registry (imported here: boto3 only for AWS targets)."""
        from nlp_bench_pipeline.targets.aws.options import AwsTargetOptions

        return AwsTargetOptions(
            region=self.region,
            profile=self.profile_name,
            owner=self.owner,
            expiry_hours=self.expiry_hours,
            cluster_name=self.cluster_name,
            terraform_dir=Path(self.terraform_dir) if self.terraform_dir else None,
        )


class PlatformsResource(dg.ConfigurableResource):
    """Creates the target behind a partition: local platforms, or AWS when configured.

    Every asset that starts a platform (and holds the ``nlp_bench_platform`` pool's slot) uses
    this resource, so its setup is where a run launched from the UI or the daemon gets the owner
    tags ``nlp-bench bench`` gives its own runs at launch: should the run's process then die
    without a word, the next ``bench`` recovers the run (``cli/dagster_home.py``).
    """

    work_dir: str = Field(description="platform process logs and load-generator run directories")

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        tag_run_owner(context)

    @property
    def work_path(self) -> Path:
        return Path(self.work_dir)

    def create(self, name: str, aws: AwsConfig) -> Target:
        cloud = name.startswith("aws-") and aws.has_credentials()
        return create_target(
            name,  # type: ignore[arg-type]
            work_dir=self.work_path,
            aws_credentials=cloud,
            aws=aws.options() if cloud else None,
        )


class ReportResource(dg.ConfigurableResource):
    """Where the charts, the analysis and the HTML report are written (default ``data/report``,
    beside the work directory)."""

    report_dir: str = Field(description="the report folder: index.html, charts/, analysis.json")

    @property
    def path(self) -> Path:
        return Path(self.report_dir)


def tag_run_owner(context: dg.InitResourceContext) -> None:
    """Tag the executing run with its owner process, unless it names one already (``bench``)."""
    run = context.run
    if context.instance is None or run is None or owner_of(run.tags) is not None:
        return
    context.instance.add_run_tags(run.run_id, owner_tags(run_owner()))


@dg.definitions
def resources() -> dg.Definitions:
    # Imported here, not above: the in-region resource's module builds on this one (AwsConfig),
    # and what reads only the plan (the CLI's preflight) need not load the Kubernetes client.
    from nlp_bench_pipeline.defs.bench.in_region import InRegionLoadResource

    settings = get_pipeline_settings()
    return dg.Definitions(
        resources={
            "bench": BenchmarkConfig.from_settings(settings),
            "duckdb": MetricStoreResource(database=str(settings.db)),
            "aws": AwsConfig.from_settings(settings),
            "platforms": PlatformsResource(work_dir=str(settings.work_dir)),
            "report": ReportResource(report_dir=str(settings.report_dir)),
            "pipes_subprocess_client": dg.PipesSubprocessClient(cwd=str(PROJECT_ROOT)),
            "in_region_load": InRegionLoadResource.from_settings(settings),
        }
    )
