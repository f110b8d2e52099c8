"""The memory-size sweep: one function at several memory sizes, as AWS Lambda Power Tuning
runs it, and more (docs/costs.md, "The memory-size sweep").

Plain Python, no Dagster and no settings. ``plan`` (sizes, invocations, the balance weight;
defaults per profile), ``capacity`` (what the host or the account can run), ``invocations``
(cold and warm invocations through the backoff client, each paired with its REPORT record),
``results`` (percentiles, cost per invocation, the best size by cost, speed and balance) and
``run`` (the sweep end to end).
"""

from nlp_bench_pipeline.sweep.capacity import AccountQuota, LocalHost, Refusal
from nlp_bench_pipeline.sweep.plan import DEFAULT_SIZES_MB, SweepPlan
from nlp_bench_pipeline.sweep.results import Best, SizeResult, SweepResult, choose_best
from nlp_bench_pipeline.sweep.run import run_sweep

__all__ = [
    "DEFAULT_SIZES_MB",
    "AccountQuota",
    "Best",
    "LocalHost",
    "Refusal",
    "SizeResult",
    "SweepPlan",
    "SweepResult",
    "choose_best",
    "run_sweep",
]
