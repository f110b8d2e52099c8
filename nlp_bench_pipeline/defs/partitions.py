"""Partitions shared across stages: one per target, and one per (target, scenario) cell.

Every target and scenario has a partition, enabled or not: materialising a disabled one fails
with a message saying how to enable it, rather than silently skipping. Dagster keeps no text per
partition key, so what each one needs is written into the descriptions of the partitioned
assets (``partitions_guide``), where the UI shows it beside the partitions.
"""

import dagster as dg

from nlp_bench_pipeline.bench.plan import ALL_SCENARIOS
from nlp_bench_pipeline.core.records import ALL_TARGETS

target_partitions = dg.StaticPartitionsDefinition(list(ALL_TARGETS))
scenario_partitions = dg.StaticPartitionsDefinition(list(ALL_SCENARIOS))
# Multi-partition keys join dimension values in dimension-name order: "<scenario>|<target>".
cell_partitions = dg.MultiPartitionsDefinition(
    {"target": target_partitions, "scenario": scenario_partitions}
)

# What each target partition needs before it can fill, and how it is switched on.
TARGET_NEEDS: dict[str, str] = {
    "local-lambda": "runs on this machine (API Gateway and Lambda emulated); enabled by default",
    "local-k8s": "runs on this machine (pods, Service, HPA and nodes emulated); enabled by default",
    "aws-lambda": "needs AWS credentials in boto3's default chain (AWS_PROFILE, SSO, an instance "
    "profile) and NLP_BENCH_SERVICE_IMAGE (the service image in ECR by digest); enable with "
    "NLP_BENCH_TARGETS=local-lambda,local-k8s,aws-lambda or the `bench` resource's targets "
    "(docs/deploy-aws.md; it costs money while deployed)",
    "aws-eks": "needs AWS credentials, NLP_BENCH_SERVICE_IMAGE and the EKS cluster "
    "(NLP_BENCH_AWS_CLUSTER, or the Terraform environment's eks.cluster_name output); enable "
    "with NLP_BENCH_TARGETS=…,aws-eks or the `bench` resource's targets (docs/deploy-aws.md)",
}
SCENARIOS_NEED = (
    "every scenario is enabled by default; NLP_BENCH_SCENARIOS (or the `bench` resource's "
    "scenarios) narrows them, and `python -m nlp_bench_pipeline.loadgen scenarios` lists each "
    "one's rates and length"
)


def partitions_guide(*, scenarios: bool) -> str:
    """Markdown for an asset description: each target partition and what it needs."""
    rows = "\n".join(f"| `{target}` | {TARGET_NEEDS[target]} |" for target in ALL_TARGETS)
    guide = f"\n\n**Partitions**\n\n| target | to fill it |\n|---|---|\n{rows}\n"
    if scenarios:
        guide += (
            f"\nScenarios ({', '.join(f'`{s}`' for s in ALL_SCENARIOS)}): {SCENARIOS_NEED}. "
            "Keys read `<scenario>|<target>`.\n"
        )
    return guide
