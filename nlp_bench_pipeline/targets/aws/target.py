"""``AwsTarget``: the deployment records the ``aws-lambda`` and ``aws-eks`` targets share.

Both tag what they make with an owner (as given, or who the credentials belong to), the project
and an expiry the guard acts on; both keep a deployment's id and start across an update, so the
runs of one deployment stay one deployment; and both keep the last deployment after teardown,
with what the teardown found. The platforms' own steps stay in their targets.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from nlp_bench_pipeline.core.deployments import Deployment, DeploymentSpec
from nlp_bench_pipeline.core.records import TargetName
from nlp_bench_pipeline.targets.aws.clients import AwsClients
from nlp_bench_pipeline.targets.aws.expiry import DeploymentTags, expiry_after
from nlp_bench_pipeline.targets.base import DeployedContext


class AwsTarget(DeployedContext):
    """The base of both AWS targets: owner, tags, the live deployment and the last one."""

    name: TargetName

    def __init__(
        self,
        clients: AwsClients,
        *,
        owner: str | None,
        expiry_hours: float,
        project: str,
        now: Callable[[], datetime],
    ) -> None:
        self.clients = clients
        self.owner = owner
        self.expiry_hours = expiry_hours
        self.project = project
        self._now = now
        self._lock = threading.RLock()
        self._deployment: Deployment | None = None
        self._last: Deployment | None = None

    @property
    def deployment(self) -> Deployment | None:
        """The live deployment, if any."""
        return self._deployment

    @property
    def last_deployment(self) -> Deployment | None:
        """The live deployment, or the last one with its final details after teardown."""
        return self._deployment or self._last

    def _owner(self) -> str:
        """The owner tag: as given, or who the credentials belong to (asked once)."""
        if self.owner is None:
            self.owner = self.clients.caller_arn()
        return self.owner

    def _live_for(self, spec: DeploymentSpec, *, moved: bool) -> Deployment | None:
        """The live deployment a deploy of ``spec`` starts from: none, itself when ``spec`` is
        its own (nothing to do), or the one to update; one that lived elsewhere (``moved``:
        another namespace or function) goes first, and the new one starts fresh."""
        live = self._deployment
        if live is None or live.spec == spec:
            return live
        if moved:
            self.teardown()
            return None
        return live

    def _tags(self, live: Deployment | None) -> tuple[datetime, DeploymentTags]:
        """A deploy's start and tags: an update keeps the live deployment's id and start, a
        fresh deployment gets new ones; the expiry counts from now either way."""
        deployment_id = live.deployment_id if live else f"{self.name}-{uuid.uuid4().hex[:12]}"
        started_at = live.started_at if live else self._now()
        tags = DeploymentTags(
            project=self.project,
            owner=self._owner(),
            expiry=expiry_after(self.expiry_hours, now=self._now()),
            deployment_id=deployment_id,
        )
        return started_at, tags

    def _retire(self, live: Deployment, final: dict[str, Any]) -> None:
        """Nothing is live now; ``last_deployment`` is ``live`` with ``final`` and the time."""
        details = {**live.details, **final, "torn_down_at": self._now().isoformat()}
        self._last = live.model_copy(update={"details": details})
        self._deployment = None
