"""The nlp-bench Dagster code location; ``defs`` holds every asset, check, schedule and sensor.

``defs`` is loaded on first access, not at import: the plain-Python packages beside it (targets,
loadgen, store) are imported by child processes that must not pay for, or pull in, Dagster.
"""

from typing import Any

__all__ = ["defs"]


def __getattr__(name: str) -> Any:
    if name == "defs":
        from nlp_bench_pipeline.definitions import defs

        return defs
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
