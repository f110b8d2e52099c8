"""Partition keys to cells, enabled-target checks and provenance lookups for the assets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from nlp_bench_pipeline.bench.plan import BenchmarkPlan, Cell
from nlp_bench_pipeline.targets.base import Target
from nlp_bench_pipeline.targets.registry import TargetUnavailable


def cell_of(partition_key: str | dg.MultiPartitionKey) -> Cell:
    """The (target, scenario) of a ``load_test_run`` partition key such as ``burst|local-k8s``."""
    if isinstance(partition_key, dg.MultiPartitionKey):
        dims = partition_key.keys_by_dimension
    else:
        scenario, target = str(partition_key).split("|")
        dims = {"target": target, "scenario": scenario}
    return Cell(target=dims["target"], scenario=dims["scenario"])


def enabled_target(
    plan: BenchmarkPlan, platforms, aws, target: str, scenario: str | None = None
) -> Target:
    """The target behind a partition, or a ``dg.Failure`` that says how to make it runnable.

    A disabled or unavailable target fails its partition on purpose: a green "skipped" would
    read as a result.
    """
    cloud = target.startswith("aws-")
    if not plan.is_enabled(target, scenario):
        what = f"{target} × {scenario}" if scenario else target
        raise dg.Failure(
            f"{what} is not enabled in this benchmark (targets {plan.targets}, scenarios "
            f"{plan.scenarios}): set NLP_BENCH_TARGETS / NLP_BENCH_SCENARIOS, or the `bench` "
            "resource's targets and scenarios in the Launchpad"
            + ("; it also needs AWS credentials and NLP_BENCH_SERVICE_IMAGE (docs/deploy-aws.md)"
               if cloud else "")
        )  # fmt: skip
    try:
        return platforms.create(target, aws)
    except TargetUnavailable as exc:
        if not cloud:
            raise dg.Failure(str(exc)) from exc
        image = "set" if plan.deployment_spec(target).platform.get("image") else "not set"
        raise dg.Failure(
            f"{target}: enabled (NLP_BENCH_TARGETS); {exc}; NLP_BENCH_SERVICE_IMAGE: {image}; "
            "see docs/deploy-aws.md"
        ) from exc


@dataclass(frozen=True)
class LatestMaterialization:
    """What the latest materialisation of an asset recorded (empty when it has none)."""

    data_version: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def metadata_text(self, key: str) -> str | None:
        value = self.metadata.get(key)
        return None if value is None else str(getattr(value, "value", value))


def latest_materialization(
    instance: dg.DagsterInstance, asset: str | dg.AssetKey
) -> LatestMaterialization:
    """The data version (a digest) and metadata of ``asset``'s latest materialisation."""
    event = instance.get_latest_materialization_event(dg.AssetKey.from_coercible(asset))
    materialization = event.asset_materialization if event else None
    if materialization is None:
        return LatestMaterialization()
    return LatestMaterialization(
        data_version=(materialization.tags or {}).get("dagster/data_version"),
        metadata=materialization.metadata,
    )
