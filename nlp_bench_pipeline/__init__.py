"""The nlp-bench Dagster code location; ``defs`` holds every asset, check, schedule and sensor.

``defs`` is loaded on first access, not at import: the plain-Python packages beside it (targets,
loadgen, store) are imported by child processes that must not pay for, or pull in, Dagster.
``__dir__`` lists it, so ``dagster dev -m nlp_bench_pipeline`` finds it.

The stages live in the ``defs/`` folder (Dagster's layout), whose import binds the package
attribute ``defs`` to that folder's module; the first access therefore rebinds it to the
``Definitions`` it loaded, so the name means the definitions from then on.
"""

from typing import Any

__all__ = ["defs"]


def __getattr__(name: str) -> Any:
    if name == "defs":
        from nlp_bench_pipeline.definitions import defs

        globals()["defs"] = defs
        return defs
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), "defs"})
