"""The expiry guard: find what outlived its ``expiry`` tag, and remove what the pipeline made.

Budgets alert hours late; this is the brake that acts on time. Each platform contributes a
:class:`Sweeper` that lists its tagged resources and knows how to remove one (the Lambda side's
functions, APIs, roles and log groups; the EKS side's namespaces, Ingress first so the ALB goes
too). :func:`expired_deployments` selects — past their expiry, or everything with ``everything``
— and :func:`teardown_expired` removes the pipeline's own and *reports* Terraform's (managed-by
``terraform``): those go with ``terraform destroy``, which keeps its state true, never behind its
back. A resource tagged with the project but no readable expiry is reported too, never removed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from nlp_bench_pipeline.targets.aws.expiry import (
    DEPLOYMENT_TAG,
    EXPIRY_TAG,
    MANAGED_BY_TAG,
    PIPELINE_MANAGER,
    PROJECT_TAG,
    TERRAFORM_MANAGER,
    ExpiryError,
    format_expiry,
    parse_expiry,
)

log = logging.getLogger(__name__)

Action = Literal["removed", "would remove", "left", "failed"]


@dataclass(frozen=True)
class TaggedResource:
    """One resource carrying the project's tags, as a sweeper found it."""

    kind: str  # "Lambda function", "HTTP API", "EKS namespace", ...
    name: str
    sweeper: str  # which sweeper removes it
    expiry: datetime | None
    managed_by: str | None
    deployment_id: str | None = None
    arn: str | None = None
    report_only: str | None = None  # why the guard only reports it (what removes it instead)

    @classmethod
    def from_aws_tags(
        cls,
        kind: str,
        name: str,
        tags: dict[str, str],
        *,
        sweeper: str,
        arn: str | None,
        report_only: str | None = None,
    ) -> TaggedResource:
        """An AWS resource as its tags describe it: expiry, manager, deployment id."""
        return cls(
            kind=kind,
            name=name,
            sweeper=sweeper,
            expiry=read_expiry(tags, EXPIRY_TAG),
            managed_by=tags.get(MANAGED_BY_TAG),
            deployment_id=tags.get(DEPLOYMENT_TAG),
            arn=arn,
            report_only=report_only,
        )

    @property
    def removable(self) -> bool:
        """Ours to remove: made by the pipeline, with an expiry we could read."""
        return (
            self.managed_by == PIPELINE_MANAGER
            and self.expiry is not None
            and self.report_only is None
        )

    def describe(self) -> str:
        expiry = format_expiry(self.expiry) if self.expiry else "no readable expiry"
        owner = f", deployment {self.deployment_id}" if self.deployment_id else ""
        return f"{self.kind} {self.name} (expiry {expiry}, managed by {self.managed_by}{owner})"


class Sweeper(Protocol):
    """One platform's tagged resources."""

    name: str

    def resources(self) -> list[TaggedResource]:
        """Every resource tagged with the project, in the order they should be removed."""
        ...

    def remove(self, resource: TaggedResource) -> None: ...


@dataclass(frozen=True)
class TeardownResult:
    resource: TaggedResource
    action: Action
    note: str = ""

    def line(self) -> str:
        note = f": {self.note}" if self.note else ""
        return f"{self.action:<12} {self.resource.describe()}{note}"


def read_expiry(tags: dict[str, str], key: str) -> datetime | None:
    """The expiry tag, or None when absent or unreadable (such a resource is only reported)."""
    text = tags.get(key)
    if not text:
        return None
    try:
        return parse_expiry(text)
    except ExpiryError:
        return None


def expired_deployments(
    sweepers: Iterable[Sweeper], *, now: datetime, everything: bool = False
) -> list[TaggedResource]:
    """What outlived its expiry (``everything``: all the project's resources), sweeper by
    sweeper in removal order; resources without a readable expiry are always listed."""
    found = []
    for sweeper in sweepers:
        for resource in sweeper.resources():
            if everything or resource.expiry is None or resource.expiry <= now:
                found.append(resource)
    return found


def teardown_expired(
    sweepers: Sequence[Sweeper], resources: Iterable[TaggedResource], *, dry_run: bool = False
) -> list[TeardownResult]:
    """Remove the pipeline's resources among ``resources``; report the rest. One result each."""
    by_name = {sweeper.name: sweeper for sweeper in sweepers}
    results = []
    for resource in resources:
        if resource.managed_by == TERRAFORM_MANAGER:
            results.append(TeardownResult(resource, "left", "Terraform's: terraform destroy"))
        elif resource.report_only is not None:
            results.append(TeardownResult(resource, "left", resource.report_only))
        elif not resource.removable:
            results.append(TeardownResult(resource, "left", "not the pipeline's, or no expiry"))
        elif dry_run:
            results.append(TeardownResult(resource, "would remove"))
        else:
            try:
                by_name[resource.sweeper].remove(resource)
            except Exception as exc:  # one failure must not stop the rest from going
                log.warning("teardown of %s failed", resource.describe(), exc_info=True)
                results.append(TeardownResult(resource, "failed", f"{type(exc).__name__}: {exc}"))
            else:
                results.append(TeardownResult(resource, "removed"))
    return results


@dataclass
class AccountSweeper:
    """Everything else tagged with the project (the tagging API): reported, never removed.

    What the other sweepers do not cover — the EKS cluster, its nodes, the NAT gateway, the
    ALB the controller made — so the teardown says what is still billing and why.
    """

    tagging: Any  # boto3 Resource Groups Tagging API
    covered_services: frozenset[str]  # the ARN services another sweeper lists
    project: str = "nlp-bench"
    name: str = "aws-account"

    def resources(self) -> list[TaggedResource]:
        found = []
        filters = [{"Key": PROJECT_TAG, "Values": [self.project]}]
        for page in self.tagging.get_paginator("get_resources").paginate(TagFilters=filters):
            for mapping in page["ResourceTagMappingList"]:
                arn = mapping["ResourceARN"]
                # arn:<partition>:<service>:<region>:<account>:<resource>
                parts = arn.split(":", 5)
                service, rest = parts[2], parts[-1]
                if service in self.covered_services:
                    continue
                tags = {t["Key"]: t["Value"] for t in mapping.get("Tags", [])}
                found.append(
                    TaggedResource.from_aws_tags(
                        service,
                        rest,
                        tags,
                        sweeper=self.name,
                        arn=arn,
                        report_only=_remover(service),
                    )
                )
        return found

    def remove(self, resource: TaggedResource) -> None:
        raise ValueError(f"the guard only reports {resource.describe()}")


def _remover(service: str) -> str:
    if service == "elasticloadbalancing":
        return "the load balancer controller deletes it with its Ingress (the EKS namespace)"
    return "not one the pipeline makes"
