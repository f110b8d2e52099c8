"""The EKS side of the expiry guard: the project's namespaces in one cluster.

A deployment's namespace carries its deployment id and expiry (labels; the exact expiry as an
annotation). Removing one deletes its Ingresses first and waits until they are gone — the load
balancer controller deletes the ALB and its security groups on the way, which otherwise keep
billing and keep the VPC from being destroyed — then the namespace, with everything in it.
"""

from __future__ import annotations

from dataclasses import dataclass

from nlp_bench_pipeline.targets.aws.expiry import (
    DEPLOYMENT_TAG,
    EXPIRY_ANNOTATION,
    EXPIRY_LABEL,
    MANAGED_BY_LABEL,
)
from nlp_bench_pipeline.targets.aws.guard import TaggedResource, read_expiry
from nlp_bench_pipeline.targets.aws_eks.kube import KubeApi
from nlp_bench_pipeline.targets.aws_eks.rollout import Poll, wait_deleted

NAMESPACE = "EKS namespace"


@dataclass
class EksSweeper:
    """The project's namespaces in ``cluster_name``."""

    kube: KubeApi
    cluster_name: str
    poll: Poll
    project: str = "nlp-bench"
    name: str = "aws-eks"

    def resources(self) -> list[TaggedResource]:
        namespaces = self.kube.list(
            "v1", "Namespace", label_selector=f"app.kubernetes.io/part-of={self.project}"
        )
        found = []
        for namespace in namespaces:
            metadata = namespace["metadata"]
            labels, annotations = metadata.get("labels") or {}, metadata.get("annotations") or {}
            expiry = read_expiry(annotations, EXPIRY_ANNOTATION) or read_expiry(
                labels, EXPIRY_LABEL
            )
            found.append(
                TaggedResource(
                    kind=NAMESPACE,
                    name=metadata["name"],
                    sweeper=self.name,
                    expiry=expiry,
                    managed_by=labels.get(MANAGED_BY_LABEL),
                    deployment_id=labels.get(DEPLOYMENT_TAG),
                    arn=f"{self.cluster_name}/{metadata['name']}",
                )
            )
        return found

    def remove(self, resource: TaggedResource) -> None:
        namespace = resource.name
        for ingress in self.kube.list("networking.k8s.io/v1", "Ingress", namespace):
            name = ingress["metadata"]["name"]
            self.kube.delete("networking.k8s.io/v1", "Ingress", name, namespace)
            wait_deleted(self.kube, "networking.k8s.io/v1", "Ingress", name, namespace, self.poll)
        self.kube.delete("v1", "Namespace", namespace)
        wait_deleted(self.kube, "v1", "Namespace", namespace, None, self.poll)
