"""Pricing catalog and cost model: what a Lambda or EKS deployment costs at a given traffic.

Plain Python, no Dagster: the catalog (``catalog.yaml``, validated by ``catalog.py``) holds every
price with its source and date; usage records (``usage.py``, built by ``lambda_usage.py`` and
``eks_sizing.py``) say what a platform consumed; ``model.py`` prices them line by line;
``breakeven.py`` compares the platforms at equal SLO; ``measured.py`` reads the runs;
``command.py`` is ``nlp-bench cost``. docs/costs.md explains each rule and assumption.
"""

from nlp_bench_pipeline.costs.catalog import (
    CatalogError,
    CatalogLookupError,
    PriceCatalog,
    StaleEntry,
    load_catalog,
    stale_entries,
)
from nlp_bench_pipeline.costs.eks_sizing import AlbTraffic, EksSizing, eks_usage, size_eks_cluster
from nlp_bench_pipeline.costs.lambda_usage import lambda_usage, lambda_usage_from_reports
from nlp_bench_pipeline.costs.model import (
    CostBreakdown,
    eks_cost,
    gateway_cost,
    lambda_cost,
    per_million_inferences,
)
from nlp_bench_pipeline.costs.usage import EksUsage, LambdaUsage

__all__ = [
    "AlbTraffic",
    "CatalogError",
    "CatalogLookupError",
    "CostBreakdown",
    "EksSizing",
    "EksUsage",
    "LambdaUsage",
    "PriceCatalog",
    "StaleEntry",
    "eks_cost",
    "eks_usage",
    "gateway_cost",
    "lambda_cost",
    "lambda_usage",
    "lambda_usage_from_reports",
    "load_catalog",
    "per_million_inferences",
    "size_eks_cluster",
    "stale_entries",
]
