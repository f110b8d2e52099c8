"""The one interface every platform implements (docs/design.md "Targets").

Plain Python, no Dagster: the records a target takes and produces live in the ground floor
(``nlp_bench_pipeline.core``), so the pipeline, the load generator and the tests share them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from typing import Protocol, runtime_checkable

from nlp_bench_pipeline.core.deployments import Deployment, DeploymentSpec
from nlp_bench_pipeline.core.records import PlatformEvent, ResourceSample, TargetName


@runtime_checkable
class Target(Protocol):
    """A platform the service can be deployed to and measured on."""

    name: TargetName

    def deploy(self, spec: DeploymentSpec) -> Deployment:
        """Deploy, or return the existing deployment for an identical spec (idempotent)."""
        ...

    def deployed(self, spec: DeploymentSpec) -> contextlib.AbstractContextManager[Deployment]:
        """Deploy for the duration of a ``with`` block and always tear down after."""
        ...

    def wait_ready(self, timeout_s: float = 300.0) -> Deployment:
        """Block until the deployment serves at its minimum capacity.

        Pods ready on Kubernetes; on Lambda ``deploy`` already initialised any provisioned
        environments and on-demand ones are created by requests, so it returns at once.
        """
        ...

    def teardown(self) -> None:
        """Stop everything this target started; events and samples stay readable."""
        ...

    def events(self, since: datetime | None = None) -> list[PlatformEvent]:
        """Events at or after ``since`` (all when None), oldest first; does not drain."""
        ...

    def samples(self, since: datetime | None = None) -> list[ResourceSample]:
        """Resource samples at or after ``since`` (all when None), oldest first; does not drain."""
        ...


class DeployedContext:
    """Mixin giving a target ``deployed(spec)`` from its ``deploy`` and ``teardown``."""

    def deploy(self, spec: DeploymentSpec) -> Deployment:  # pragma: no cover - overridden
        raise NotImplementedError

    def teardown(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    @contextlib.contextmanager
    def deployed(self, spec: DeploymentSpec) -> Iterator[Deployment]:
        try:
            yield self.deploy(spec)
        finally:
            self.teardown()
