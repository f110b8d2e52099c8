"""The nlp-bench Dagster code location; ``defs`` holds every asset, check, schedule and sensor."""

from nlp_bench_pipeline.definitions import defs

__all__ = ["defs"]
