"""The tags every AWS deployment carries, and the expiry the teardown guard acts on.

Budgets alert hours late; the expiry is the real brake (docs/deploy-aws.md). Each deployment the
pipeline makes is tagged ``project``, ``owner``, ``expiry`` (RFC 3339 UTC, the Terraform
environment's format), ``managed-by`` and its deployment id. Kubernetes label values cannot hold
``:``, so on cluster objects the expiry is a compact label (``20261224T180000Z``, selectable) and
the RFC 3339 form an annotation.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from pydantic import Field, field_validator

from nlp_bench_pipeline.core.records import Frozen

PROJECT_TAG = "project"
OWNER_TAG = "owner"
EXPIRY_TAG = "expiry"
MANAGED_BY_TAG = "managed-by"
DEPLOYMENT_TAG = "nlp-bench/deployment"
PIPELINE_MANAGER = "nlp-bench-pipeline"
TERRAFORM_MANAGER = "terraform"
# On Kubernetes objects: labels to select by, the exact expiry as an annotation.
EXPIRY_LABEL = "nlp-bench/expiry"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
EXPIRY_ANNOTATION = "nlp-bench/expiry"

_LABEL_FORMAT = "%Y%m%dT%H%M%SZ"
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$")


class ExpiryError(ValueError):
    """An expiry tag or setting that is not a time; the message names it."""


def format_expiry(at: datetime) -> str:
    """``2026-12-24T18:00:00Z``: whole seconds, UTC, as the Terraform variable is written."""
    return _utc(at).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_expiry(text: str) -> datetime:
    """An expiry in either form (RFC 3339 or the compact label), as an aware UTC datetime."""
    value = text.strip()
    try:
        if _RFC3339.match(value):
            return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
        return datetime.strptime(value, _LABEL_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        pass
    raise ExpiryError(f"expiry {text!r} is not an RFC 3339 UTC time such as 2026-12-24T18:00:00Z")


def expiry_after(hours: float, *, now: datetime) -> datetime:
    """``hours`` from ``now``, to the second."""
    if hours <= 0:
        raise ExpiryError(f"expiry_hours {hours!r} must be positive")
    return (_utc(now) + timedelta(hours=hours)).replace(microsecond=0)


class DeploymentTags(Frozen):
    """Who owns a deployment, when it expires, and which deployment it is."""

    project: str = Field("nlp-bench", pattern=r"^[a-z][a-z0-9-]{1,20}$")
    owner: str = Field(min_length=1, max_length=256)
    expiry: datetime
    deployment_id: str = Field(min_length=1, max_length=63, pattern=r"^[a-z0-9][a-z0-9-]*$")
    managed_by: str = PIPELINE_MANAGER

    @field_validator("expiry")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return _utc(value)

    def expired(self, now: datetime) -> bool:
        return _utc(now) >= self.expiry

    def aws(self) -> dict[str, str]:
        """The tags of an AWS resource."""
        return {
            PROJECT_TAG: self.project,
            OWNER_TAG: self.owner,
            EXPIRY_TAG: format_expiry(self.expiry),
            MANAGED_BY_TAG: self.managed_by,
            DEPLOYMENT_TAG: self.deployment_id,
        }

    def k8s_labels(self) -> dict[str, str]:
        """Labels a cluster object can carry (no ``:``, 63 characters at most)."""
        return {
            "app.kubernetes.io/part-of": self.project,
            MANAGED_BY_LABEL: self.managed_by,
            EXPIRY_LABEL: self.expiry.strftime(_LABEL_FORMAT),
            DEPLOYMENT_TAG: self.deployment_id,
        }

    def k8s_annotations(self) -> dict[str, str]:
        return {EXPIRY_ANNOTATION: format_expiry(self.expiry), "nlp-bench/owner": self.owner}


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ExpiryError("expiry times must be timezone-aware (UTC)")
    return value.astimezone(UTC)
