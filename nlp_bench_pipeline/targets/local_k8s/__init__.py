"""The ``local-k8s`` target: pods, probes, a Service, an HPA and nodes on one machine."""

from nlp_bench_pipeline.targets.local_k8s.config import PRESETS, LocalK8sConfig
from nlp_bench_pipeline.targets.local_k8s.target import LocalK8sTarget

__all__ = ["PRESETS", "LocalK8sConfig", "LocalK8sTarget"]
