"""The ``local-lambda`` target: API Gateway, Lambda Runtime API and awslambdaric on one machine.

Modules, one concern each: ``config`` (knobs, AWS defaults, host limits, the quick preset),
``payloads`` (API Gateway's event and response formats), ``gateway`` (the HTTP front),
``runtime_api`` (the Runtime API each runtime process talks to), ``environment`` (execution
environments and runtime processes), ``pool`` (scaling and lifecycle rules), ``report`` (REPORT
records), ``limits`` (rate limits), ``zygote`` and ``zygote_runtime`` (the ``start: zygote``
mode: environments forked from one initialised process, the pool's side and the zygote's own),
``target`` (the ``Target`` implementation). Decisions: docs/adr/0010 to 0012 and 0043.
"""

from nlp_bench_pipeline.targets.local_lambda.config import (
    PRESETS,
    QUICK_PRESET,
    LocalLambdaConfig,
    preset,
)
from nlp_bench_pipeline.targets.local_lambda.target import LocalLambdaTarget

__all__ = ["PRESETS", "QUICK_PRESET", "LocalLambdaConfig", "LocalLambdaTarget", "preset"]
