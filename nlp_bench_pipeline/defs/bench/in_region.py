"""[bench] Load from inside AWS: a cell's load generator as a pod on the EKS cluster, via Pipes.

When the plan asks for in-region load (``load_from = "in-region"``) an AWS cell's repetitions
are not loaded from this machine: each runs as one pod on the cluster's load-generator nodes,
started, followed and deleted by dagster-k8s's ``PipesK8sClient``. Its context reaches the pod
in the environment and its messages (progress lines, the run's summary) come back in the pod's
log — the client's own injector and reader, which the runner's plain ``open_dagster_pipes()``
speaks without a change. (dagster-aws's S3 context injector and message reader would need the
runner to build an S3 loader and writer itself; the pod's log needs nothing.) The rows travel
through the results bucket: the pod uploads its run directory, this process downloads it into
the run directory a local run would have used, and ``bench.cell`` ingests it as it ingests any
run. Local cells, and every cell of a plan that loads from here, keep ``pipes_launcher``.

The pod's AWS access is the IRSA role on its service account; the pipeline's own credentials
stay here, where they describe the cluster, sign the EKS token and read the bucket.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import kubernetes
from botocore.exceptions import BotoCoreError, ClientError
from dagster_k8s import PipesK8sClient
from dagster_k8s.client import DagsterK8sError
from pydantic import Field, ValidationError

from nlp_bench_pipeline.bench.cell import Launcher
from nlp_bench_pipeline.bench.plan import BenchmarkPlan
from nlp_bench_pipeline.core.runs import RunSummary
from nlp_bench_pipeline.defs.resources import AwsConfig
from nlp_bench_pipeline.loadgen.in_pod import PLAN_JSON_ENV
from nlp_bench_pipeline.loadgen.in_region import (
    TERRAFORM_OUTPUT,
    InRegionLoad,
    collect_results,
    new_attempt,
    pod_deadline_s,
    pod_plan,
)
from nlp_bench_pipeline.loadgen.launch import summaries_from_messages
from nlp_bench_pipeline.loadgen.repetition import RepetitionPlan
from nlp_bench_pipeline.loadgen.s3_run_dir import s3_uri
from nlp_bench_pipeline.settings import PipelineSettings
from nlp_bench_pipeline.targets.aws.terraform import TerraformError
from nlp_bench_pipeline.targets.aws_eks.access import describe_cluster
from nlp_bench_pipeline.targets.aws_eks.kube import KubeApi
from nlp_bench_pipeline.targets.aws_eks.kubeconfig import write_kubeconfig
from nlp_bench_pipeline.targets.aws_eks.runner_pod import render_loadgen_space, render_runner_pod

IN_REGION = "in-region"
CLOUD_TARGETS = ("aws-lambda", "aws-eks")
RUN_ID_ANNOTATION = "nlp-bench/run-id"


class InRegionLoadResource(dg.ConfigurableResource):
    """Where in-region load runs. Every unset field comes from the Terraform environment's
    ``in_region_load`` output (``AwsConfig.terraform_dir``, where a terraform binary can read
    it); set them where it cannot (the app server, the pipeline on the cluster)."""

    cluster_name: str | None = None
    region: str | None = Field(None, description="default: the AWS resource's region")
    bucket: str | None = Field(None, description="the results bucket")
    image: str | None = Field(None, description="the pipeline image, <repository>@sha256:<hex>")
    role_arn: str | None = Field(None, description="the load generator's IRSA role")
    namespace: str | None = None
    service_account: str | None = None
    processes: int | None = Field(None, description="Locust processes in the pod (default 1)")
    memory_mb: int | None = None
    kubeconfig: str | None = Field(
        None,
        description="a kubeconfig for the cluster; default: one written for it from "
        "eks:DescribeCluster, with this package's EKS token as its exec plugin",
    )
    poll_interval_s: float = Field(5.0, gt=0, description="how often the pod's state is read")

    @classmethod
    def from_settings(cls, settings: PipelineSettings) -> InRegionLoadResource:
        """What the settings name (``NLP_BENCH_PIPELINE_IMAGE``, ``NLP_BENCH_RESULTS_BUCKET``,
        ``NLP_BENCH_AWS_CLUSTER``, as the app server's container is given them); the rest, and
        whatever they leave unset, from Terraform's output."""
        return cls(
            image=settings.pipeline_image,
            bucket=settings.results_bucket,
            cluster_name=settings.aws_cluster,
        )

    def resolve(self, *, region: str | None, terraform_outputs: dict[str, Any]) -> InRegionLoad:
        """The fields given here over Terraform's, ``region`` (the session's) where neither
        names one; a missing or bad field fails in one line."""
        given = self.model_dump(exclude={"kubeconfig", "poll_interval_s"})
        found = dict(terraform_outputs.get(TERRAFORM_OUTPUT) or {})
        given["region"] = given["region"] or found.get("region") or region
        try:
            return InRegionLoad.from_terraform(terraform_outputs, **given)
        except ValidationError as exc:
            error = exc.errors()[0]
            field = ".".join(str(part) for part in error["loc"])
            raise dg.Failure(
                f"in-region load: {field}: {error['msg']} (set it on the in_region_load "
                "resource, or give a Terraform environment whose in_region_load output has it)"
            ) from None

    def launcher(
        self, context: dg.AssetExecutionContext, aws: AwsConfig, *, work_dir: Path
    ) -> Launcher:
        """The in-region launcher for this run, with the AWS resource's credentials.

        What it cannot reach — the Terraform outputs, the cluster — fails the cell in one line.
        """
        options = aws.options()
        terraform = options.terraform()
        outputs: dict[str, Any] = {}
        try:
            if terraform is not None and terraform.available():
                outputs = terraform.outputs()
        except TerraformError as exc:
            raise dg.Failure(f"in-region load: reading the Terraform outputs: {exc}") from None
        load = self.resolve(region=options.region, terraform_outputs=outputs)
        clients = options.clients()
        kubeconfig = Path(self.kubeconfig) if self.kubeconfig else None
        if kubeconfig is None:
            try:
                access = describe_cluster(clients, load.cluster_name)
            except (BotoCoreError, ClientError, RuntimeError) as exc:
                raise dg.Failure(
                    f"in-region load: cluster {load.cluster_name} in {load.region}: {exc}"
                ) from None
            kubeconfig = write_kubeconfig(
                access,
                work_dir / "kubeconfig" / f"{load.cluster_name}.yaml",
                region=load.region,
                profile=options.profile,
            )
        return in_region_launcher(
            context,
            load,
            s3=clients.client("s3"),
            kubeconfig=kubeconfig,
            poll_interval_s=self.poll_interval_s,
        )


def choose_launcher(
    context: dg.AssetExecutionContext,
    plan: BenchmarkPlan,
    target: str,
    *,
    local: Launcher,
    in_region: InRegionLoadResource,
    aws: AwsConfig,
    work_dir: Path,
) -> Launcher:
    """In-region for an AWS cell of a plan that asks for it; ``local`` for everything else."""
    if plan.load_from != IN_REGION or target not in CLOUD_TARGETS:
        return local
    return in_region.launcher(context, aws, work_dir=work_dir)


def in_region_launcher(
    context: dg.AssetExecutionContext,
    load: InRegionLoad,
    *,
    s3: Any,
    kubeconfig: Path,
    poll_interval_s: float = 5.0,
) -> Launcher:
    """Run each repetition as a pod through ``PipesK8sClient`` and bring its rows back from S3.

    ``kubeconfig`` reaches the cluster (the client and the namespace's set-up both use it);
    ``s3`` reads the results bucket.
    """
    client = PipesK8sClient(kubeconfig_file=str(kubeconfig), poll_interval=poll_interval_s)
    kube = KubeApi(kubernetes.config.new_client_from_config(config_file=str(kubeconfig)))

    def launch(plan: RepetitionPlan) -> RunSummary:
        plan.target_host  # noqa: B018 - a plan without an endpoint fails here, before any pod
        for document in render_loadgen_space(
            role_arn=load.role_arn, namespace=load.namespace, service_account=load.service_account
        ):
            kube.apply(document)
        plan.prepare()  # the local run directory, cleared: the pod's files are downloaded here
        attempt = new_attempt()
        results = s3_uri(load.bucket, load.results_prefix(plan.run_id, attempt))
        deadline_s = pod_deadline_s(plan)
        pod = render_runner_pod(
            load.image,
            env={PLAN_JSON_ENV: pod_plan(plan, load).model_dump_json(), "AWS_REGION": load.region},
            results_uri=results,
            cpu=load.cpu,
            memory=load.memory,
            deadline_s=deadline_s,
            namespace=load.namespace,
            service_account=load.service_account,
            node_selector=load.node_selector,
            toleration=load.toleration,
            annotations={RUN_ID_ANNOTATION: plan.run_id},
        )
        context.log.info(
            f"run {plan.run_id}: load from inside {load.region}, a pod with {load.processes} "
            f"Locust process(es) on {load.cluster_name}'s load-generator nodes; rows to {results}"
        )
        reported: list[RunSummary] = []
        pod_problem: Exception | None = None
        try:
            invocation = client.run(
                context=context,
                namespace=load.namespace,
                base_pod_meta=pod["metadata"],
                base_pod_spec=pod["spec"],
                pod_wait_timeout=deadline_s,
            )
            reported = summaries_from_messages(invocation.get_custom_messages())
        except (dg.DagsterPipesExecutionError, DagsterK8sError) as exc:
            # The runner exits non-zero on an inconsistent run after writing its summary, and
            # the pod uploads its files whatever the exit: they are still ingested.
            context.log.warning(f"the load generator's pod reported a problem: {exc}")
            pod_problem = exc
        try:
            return collect_results(
                s3, load, plan, attempt=attempt, reported=reported[-1] if reported else None
            )
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}; the pod: {pod_problem or 'exited 0'}") from pod_problem

    return launch
