"""``AwsLambdaTarget``: the service as a container-image Lambda behind an HTTP API.

Two paths make the deployment, and its details say which ran (``details.path``): Terraform,
where a binary and an initialised environment directory exist (``terraform apply`` of the
``lambda_api`` module, then its outputs), and boto3 otherwise (:mod:`.deployer`). Both end in
the same resources and the same details.

Metrics come from CloudWatch after the fact (:mod:`.metrics`): ``events()`` reads what has
arrived so far; ``teardown()`` first waits out CloudWatch's lag for the REPORT lines of every
invocation, counts those that never arrived, then removes what the boto3 path made. Events stay
readable after teardown, and ``last_deployment`` carries the final details (the REPORT count,
what was missing, CloudWatch's figures, what was removed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from nlp_bench_pipeline.core.deployments import Deployment, DeploymentSpec
from nlp_bench_pipeline.core.records import PlatformEvent, ResourceSample, TargetName, utcnow
from nlp_bench_pipeline.targets.aws.clients import AwsClients
from nlp_bench_pipeline.targets.aws.expiry import DeploymentTags, format_expiry
from nlp_bench_pipeline.targets.aws.target import AwsTarget
from nlp_bench_pipeline.targets.aws.terraform import TerraformCli
from nlp_bench_pipeline.targets.aws_lambda.config import AwsLambdaConfig
from nlp_bench_pipeline.targets.aws_lambda.deployer import (
    LambdaDeployer,
    LambdaResources,
    WaitPolicy,
)
from nlp_bench_pipeline.targets.aws_lambda.metrics import (
    FunctionLogs,
    FunctionMetrics,
    LogCollection,
    ReportWait,
    collect_reports,
    metric_summary,
    throttle_events,
)
from nlp_bench_pipeline.targets.aws_lambda.terraform_path import TerraformLambdaDeployer

log = logging.getLogger(__name__)

DeployPath = Literal["boto3", "terraform"]


class AwsLambdaTarget(AwsTarget):
    """The ``aws-lambda`` target; knobs in :class:`AwsLambdaConfig` (``DeploymentSpec.platform``).

    ``endpoint_override`` sends requests somewhere other than the API's invoke URL (a custom
    domain, a VPC endpoint, a test stand-in); ``terraform`` is the environment to deploy with
    when its binary is available.
    """

    name: TargetName = "aws-lambda"

    def __init__(
        self,
        clients: AwsClients,
        *,
        owner: str | None = None,
        expiry_hours: float = 4.0,
        project: str = "nlp-bench",
        terraform: TerraformCli | None = None,
        endpoint_override: str | None = None,
        report_wait: ReportWait | None = None,
        wait: WaitPolicy | None = None,
        sleep: Callable[[float], None] | None = None,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__(clients, owner=owner, expiry_hours=expiry_hours, project=project, now=now)
        self.terraform = terraform
        self.endpoint_override = endpoint_override
        self.report_wait = report_wait or ReportWait()
        self._boto3 = LambdaDeployer(clients, wait=wait or WaitPolicy())
        if sleep is not None:
            self._boto3.sleep = sleep
        self._sleep = sleep
        self._config: AwsLambdaConfig | None = None
        self._resources: LambdaResources | None = None
        self._path: DeployPath = "boto3"
        self._logs: FunctionLogs | None = None
        self._metric_events: list[PlatformEvent] = []
        self._collection: LogCollection | None = None
        self._expected_hint: int | None = None
        self._summary: dict[str, Any] | None = None

    # -- the Target interface -----------------------------------------------------------------

    @property
    def report_collection(self) -> LogCollection | None:
        """How the last teardown's wait for REPORT lines ended (counts, missing)."""
        return self._collection

    def deploy(self, spec: DeploymentSpec) -> Deployment:
        """Deploy; the same spec again returns the live deployment; a changed one updates it."""
        if spec.target != self.name:
            raise ValueError(f"{self.name} cannot deploy a spec for {spec.target!r}")
        config = AwsLambdaConfig.from_spec(spec)
        self.clients.require_credentials()
        with self._lock:
            moved = self._config is not None and self._config.function_name != config.function_name
            live = self._live_for(spec, moved=moved)
            if live is not None and live.spec == spec:
                return live
            started_at, tags = self._tags(live)
            path, reason = self._choose_path()
            deployer = self._boto3 if path == "boto3" else self._terraform_deployer()
            resources, changes = deployer.apply(config, spec, tags)
            if live is None:  # a fresh deployment starts fresh records
                self._logs = FunctionLogs(self.clients.client("logs"), resources.log_group)
                self._metric_events, self._collection, self._expected_hint = [], None, None
            self._config, self._resources, self._path = config, resources, path
            self._deployment = Deployment(
                deployment_id=tags.deployment_id,
                endpoint=(self.endpoint_override or resources.api_endpoint).rstrip("/"),
                target=self.name,
                spec=spec,
                started_at=started_at,
                details=self._details(config, resources, tags, path, reason, changes),
            )
            log.info("aws-lambda %s: %s", tags.deployment_id, "; ".join(changes) or "no change")
            return self._deployment

    def wait_ready(self, timeout_s: float = 300.0) -> Deployment:
        """Nothing to wait for: ``deploy`` waited for Active, Successful and provisioned READY."""
        if self._deployment is None:
            raise RuntimeError("aws-lambda: nothing is deployed")
        return self._deployment

    def expect_invocations(self, count: int) -> None:
        """How many invocations the caller made, so teardown waits for as many REPORT lines
        (CloudWatch's own ``Invocations`` count is used too; the larger wins)."""
        self._expected_hint = count

    def teardown(self) -> None:
        """Wait for the REPORT lines, count the missing, then remove what the boto3 path made."""
        with self._lock:
            live, config, resources = self._deployment, self._config, self._resources
            if live is None or config is None or resources is None:
                return
            try:
                self._collection = self._collect(resources, live.started_at, wait=True)
            except Exception:
                log.exception("aws-lambda %s: metrics collection failed", live.deployment_id)
            deployer = self._boto3 if self._path == "boto3" else self._terraform_deployer()
            removed = deployer.destroy(config)
            final = {
                "reports": self._collection.details() if self._collection else None,
                "cloudwatch": self._summary,
                "removed": removed,
            }
            self._retire(live, final)

    def events(self, since: datetime | None = None) -> list[PlatformEvent]:
        """What CloudWatch has delivered so far (after teardown: what the final wait found)."""
        with self._lock:
            live, resources = self._deployment, self._resources
            if live is not None and resources is not None:
                self._collect(resources, live.started_at, wait=False)
            found = (self._logs.events() if self._logs else []) + self._metric_events
        if since is not None:
            found = [e for e in found if e.at >= since]
        return sorted(found, key=lambda e: e.at)

    def samples(self, since: datetime | None = None) -> list[ResourceSample]:
        """None: Lambda reports no CPU or memory per environment while it runs; each invoke's
        Max Memory Used is on its ``report`` event."""
        return []

    # -- metrics ------------------------------------------------------------------------------

    def _collect(
        self, resources: LambdaResources, started_at: datetime, *, wait: bool
    ) -> LogCollection:
        assert self._logs is not None
        metrics = FunctionMetrics(self.clients.client("cloudwatch"), resources.function_name)

        def expected() -> int | None:
            counted = metrics.invocations(started_at, self._now())
            known = [n for n in (counted, self._expected_hint) if n is not None]
            return max(known) if known else None

        wait_policy = self.report_wait if wait else ReportWait(max_wait_s=0, settle_s=0)
        extra = {"sleep": self._sleep} if self._sleep is not None else {}
        collection = collect_reports(
            self._logs,
            start=started_at,
            expected=expected,
            wait=wait_policy,
            now=self._now,
            **extra,
        )
        series = metrics.fetch(started_at, self._now())
        self._metric_events = throttle_events(series)
        self._summary = metric_summary(series)
        return collection

    # -- paths --------------------------------------------------------------------------------

    def _choose_path(self) -> tuple[DeployPath, str]:
        if self.terraform is None:
            return "boto3", "no Terraform environment given"
        if not self.terraform.available():
            return "boto3", (
                f"no terraform binary on the PATH or {self.terraform.directory} is not "
                "initialised (terraform init)"
            )
        return "terraform", f"terraform apply in {self.terraform.directory}"

    def _terraform_deployer(self) -> TerraformLambdaDeployer:
        assert self.terraform is not None
        return TerraformLambdaDeployer(self.terraform)

    def _details(
        self,
        config: AwsLambdaConfig,
        resources: LambdaResources,
        tags: DeploymentTags,
        path: DeployPath,
        reason: str,
        changes: list[str],
    ) -> dict[str, Any]:
        return {
            "path": path,
            "path_reason": reason,
            "changes": changes,
            **resources.details(),
            "region": self.clients.region,
            "image": config.image,
            "architecture": config.architecture,
            "timeout_s": config.timeout_s,
            "reserved_concurrency": config.reserved_concurrency,
            "expiry": resources.tags.get("expiry", format_expiry(tags.expiry)),
            "endpoint_override": self.endpoint_override,
            "model": "the image's own, baked in at build (ADR 0003)",
            "teardown": (
                "deletes the API, function, execution role and log group"
                if path == "boto3"
                else "leaves everything to terraform destroy (Terraform owns it)"
            ),
        }
