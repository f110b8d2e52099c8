"""Load from inside AWS: one repetition's runner as a pod in the region, its rows back from S3.

Measured from a laptop, a cloud target's latency includes the laptop's network; measured from a
pod on the EKS cluster's load-generator nodes it does not. This module is the plain-Python half
of that (no Dagster, no Kubernetes client): :class:`InRegionLoad` says where the pod runs and
where its rows go, :func:`pod_plan` is the repetition as the pod runs it, and
:func:`collect_results` brings the pod's run directory back from S3 into the local run
directory, so the rows are ingested exactly as a local run's are.

One pod runs the whole repetition: the same runner (``python -m nlp_bench_pipeline.loadgen run
--plan``) with ``--processes``-style Locust processes in it (``RepetitionPlan.workers``), rather
than a master pod and worker pods. Every row is then written on one machine with one clock (the
intended send times and the corrected latency depend on it), the runner's consistency check
sees every Parquet file (with remote workers it cannot: ``consistent`` would be unknown), and
Dagster Pipes has exactly one pod to start, follow and delete. A process gets a whole core
(request = limit), and a node keeps some for the kubelet and its daemons: the default c6i.large
load node (2 vCPUs) holds one process, a c6i.2xlarge seven; past what one node can offer, the
scale simulator covers the rest.

The pod's files land under ``<key_prefix>/<run id>/<attempt>/`` in the results bucket: a retried
run keeps its run id but never sees an earlier attempt's files, and nothing has to be deleted.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from nlp_bench_pipeline.core.runs import RunSummary
from nlp_bench_pipeline.loadgen.repetition import SUMMARY_FILE, RepetitionPlan
from nlp_bench_pipeline.loadgen.s3_run_dir import download_run_dir, s3_uri

# Where the pod's work volume is mounted (infra/k8s/loadgen/runner-pod.yaml).
POD_WORK_DIR = PurePosixPath("/work")
# Terraform's output (infra/terraform/envs/bench/outputs.tf) with every field below but the knobs.
TERRAFORM_OUTPUT = "in_region_load"
# Beyond the plan's own deadline: pulling the image onto a fresh node and starting Python.
POD_START_ALLOWANCE_S = 600.0


class InRegionLoad(BaseModel):
    """Where a repetition's load is generated inside the region, and where its rows go.

    Every field but the knobs at the end is a Terraform output (``in_region_load``); the knobs
    size the pod.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    cluster_name: str = Field(min_length=1, description="the EKS cluster the pod runs on")
    region: str = Field(min_length=1, description="the cluster's and the bucket's region")
    bucket: str = Field(min_length=3, description="the results bucket (Terraform results_bucket)")
    image: str = Field(description="the pipeline image, <repository>@sha256:<64 hex>")
    role_arn: str = Field(description="the pod's IRSA role, written on its service account")
    namespace: str = Field("nlp-bench-loadgen", description="the load generator's namespace")
    service_account: str = Field("nlp-bench-loadgen", description="annotated with role_arn")
    node_selector: dict[str, str] = Field(
        default_factory=lambda: {"nlp-bench/role": "loadgen"},
        description="the load-generator node group's labels",
    )
    toleration: dict[str, str] = Field(
        default_factory=lambda: {
            "key": "nlp-bench/role",
            "operator": "Equal",
            "value": "loadgen",
            "effect": "NoSchedule",
        },
        description="what the load-generator node group's taint asks of a pod",
    )
    key_prefix: str = Field("loadgen", pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*[A-Za-z0-9]$")
    processes: int = Field(
        1, ge=1, le=64, description="Locust processes in the pod, a core each (c6i.large: 1)"
    )
    memory_mb: int = Field(2048, ge=256, description="the pod's memory request = limit")

    @classmethod
    def from_terraform(cls, outputs: dict[str, Any], **given: Any) -> InRegionLoad:
        """From ``terraform output -json`` values, with ``given`` (not None) taking precedence."""
        found = outputs.get(TERRAFORM_OUTPUT) or {}
        return cls.model_validate({**found, **{k: v for k, v in given.items() if v is not None}})

    @property
    def cpu(self) -> str:
        """CPU request = limit: a core per Locust process, so none waits on another."""
        return str(self.processes)

    @property
    def memory(self) -> str:
        return f"{self.memory_mb}Mi"

    def results_prefix(self, run_id: str, attempt: str) -> str:
        return f"{self.key_prefix}/{run_id}/{attempt}/"


def new_attempt() -> str:
    """A name for one launch of a run id: sortable by time, unique among retries."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def pod_plan(plan: RepetitionPlan, load: InRegionLoad) -> RepetitionPlan:
    """``plan`` as the pod runs it: its Locust processes, its run directory on the pod's volume."""
    run_dir = Path(POD_WORK_DIR / "loadgen" / plan.run_id)
    return plan.model_validate({**plan.model_dump(), "workers": load.processes, "run_dir": run_dir})


def pod_deadline_s(plan: RepetitionPlan) -> int:
    """How long the pod may live: the plan's own deadline and the time to start on a new node."""
    return int(plan.deadline_s + POD_START_ALLOWANCE_S)


def collect_results(
    s3: Any,
    load: InRegionLoad,
    plan: RepetitionPlan,
    *,
    attempt: str,
    reported: RunSummary | None,
) -> RunSummary:
    """The pod's run directory from S3 into ``plan.run_dir``, and its summary pointing there.

    ``reported`` is the summary the runner sent through Dagster Pipes (None when no message
    arrived: then the ``summary.json`` the pod uploaded). A file the summary names that is not
    in S3 makes the run inconsistent, with the reason among its problems, rather than silently
    ingesting fewer rows.
    """
    prefix = load.results_prefix(plan.run_id, attempt)
    where = s3_uri(load.bucket, prefix)
    local = {path.name: path for path in download_run_dir(s3, load.bucket, prefix, plan.run_dir)}
    summary = reported
    if summary is None:
        if SUMMARY_FILE not in local:
            raise RuntimeError(f"the load generator's pod left no {SUMMARY_FILE} in {where}")
        summary = RunSummary.model_validate_json(local[SUMMARY_FILE].read_text())
    names = [PurePosixPath(f).name for f in summary.files]
    missing = [name for name in names if name not in local]
    problems = [*summary.problems, *(f"{name} never reached {where}" for name in missing)]
    collected = summary.model_copy(
        update={
            "run_dir": str(plan.run_dir),
            "files": [str(local[name]) for name in names if name in local],
            "problems": problems,
            "consistent": False if missing else summary.consistent,
        }
    )
    (Path(plan.run_dir) / SUMMARY_FILE).write_text(collected.model_dump_json(indent=2))
    return collected
