"""Waiting on the cluster: a Deployment's rollout, and the Ingress's load balancer address.

The rollout is complete by ``kubectl rollout status``'s rule: the controller has seen the
latest generation, every replica runs the new template, no old replica is left, and all of them
are available; a Deployment past its ``progressDeadlineSeconds`` fails at once, with the
controller's message. The load balancer is ready when the AWS Load Balancer Controller has
written its hostname into the Ingress's status — two to three minutes after the Ingress exists.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from nlp_bench_pipeline.targets.aws_eks.kube import KubeApi

T = TypeVar("T")


class ClusterWaitError(RuntimeError):
    """A wait ran out of time or the cluster reported failure; the message says what was seen."""


@dataclass(frozen=True)
class Poll:
    """How often to look, how long to keep looking, and the clock to do it by."""

    timeout_s: float
    interval_s: float = 5.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


def wait_until(check: Callable[[], tuple[T | None, str]], poll: Poll, what: str) -> T:
    """Call ``check`` until it returns a value; its second item says why not, for the error."""
    deadline = poll.clock() + poll.timeout_s
    while True:
        value, state = check()
        if value is not None:
            return value
        if poll.clock() >= deadline:
            raise ClusterWaitError(f"{what}: not done after {poll.timeout_s:.0f} s ({state})")
        poll.sleep(min(poll.interval_s, max(0.0, deadline - poll.clock())))


def rollout_state(deployment: dict[str, Any] | None) -> tuple[bool, str]:
    """(complete, what is happening) of a Deployment, as ``kubectl rollout status`` decides."""
    if deployment is None:
        return False, "the Deployment does not exist"
    metadata, spec, status = (
        deployment["metadata"],
        deployment["spec"],
        deployment.get("status") or {},
    )
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Progressing" and condition.get("reason") == (
            "ProgressDeadlineExceeded"
        ):
            raise ClusterWaitError(
                f"deployment {metadata['name']} exceeded its progress deadline: "
                f"{condition.get('message', '')}"
            )
    if status.get("observedGeneration", 0) < metadata.get("generation", 0):
        return False, "waiting for the controller to see the new spec"
    wanted = spec.get("replicas", 1)
    updated = status.get("updatedReplicas", 0)
    if updated < wanted:
        return False, f"{updated} of {wanted} replicas updated"
    if status.get("replicas", 0) > updated:
        return False, f"{status['replicas'] - updated} old replicas pending termination"
    available = status.get("availableReplicas", 0)
    if available < updated:
        return False, f"{available} of {updated} updated replicas available"
    return True, f"{available} replicas available"


@dataclass(frozen=True)
class LoadBalancerAddress:
    """Where the Ingress's load balancer answers."""

    host: str
    port: int | None = None

    @property
    def url(self) -> str:
        port = "" if self.port in (None, 80) else f":{self.port}"
        return f"http://{self.host}{port}"


def load_balancer_address(ingress: dict[str, Any] | None) -> LoadBalancerAddress | None:
    """The first address in the Ingress's status, once the controller has written one."""
    if ingress is None:
        return None
    entries = ((ingress.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    for entry in entries:
        host = entry.get("hostname") or entry.get("ip")
        if host:
            ports = entry.get("ports") or []
            return LoadBalancerAddress(host, int(ports[0]["port"]) if ports else None)
    return None


def wait_deleted(
    kube: KubeApi, api_version: str, kind: str, name: str, namespace: str | None, poll: Poll
) -> None:
    """Until the object is gone: its finalizers (the ALB's removal, a namespace's contents) ran."""

    def check() -> tuple[bool | None, str]:
        gone = kube.get(api_version, kind, name, namespace) is None
        return (True if gone else None), "still there (finalizers running)"

    wait_until(check, poll, f"deletion of {kind}/{name}")
