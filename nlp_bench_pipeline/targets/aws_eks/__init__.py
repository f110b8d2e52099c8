"""The ``aws-eks`` target: the service on EKS behind an ALB, load from Locust pods in the cluster.

``manifests`` renders the Kubernetes objects from the templates in ``infra/k8s``; ``target`` is
the ``Target`` (``access`` for the endpoint and token, ``kube`` for the calls, ``rollout`` for
the waits, ``observer`` for events and samples); ``sweeper`` finds namespaces past their expiry.
Plain Python, no Dagster, no settings.
"""

from nlp_bench_pipeline.targets.aws_eks.config import AwsEksConfig
from nlp_bench_pipeline.targets.aws_eks.target import AwsEksTarget

__all__ = ["AwsEksConfig", "AwsEksTarget"]
