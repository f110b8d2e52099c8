"""What one service process holds: its settings, metrics, the model once loaded, its engine."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass, field

from inference_service.batching import InferenceEngine
from inference_service.logs import set_log_context
from inference_service.metrics import ServiceMetrics
from inference_service.model import LoadedModel, load_model
from inference_service.settings import ServiceSettings

log = logging.getLogger("inference_service.app")


@dataclass
class ServiceState:
    """The loaded model (once it is), the engine in front of it, and fault-injection counters."""

    settings: ServiceSettings
    metrics: ServiceMetrics = field(default_factory=ServiceMetrics)
    model: LoadedModel | None = None
    engine: InferenceEngine | None = None
    load_error: str | None = None
    predict_calls: int = 0
    cold_start_claimed: bool = False

    def attach(self, model: LoadedModel) -> None:
        self.model = model
        self.engine = InferenceEngine(
            model.predict,
            self.settings.batch_max_size,
            self.settings.batch_max_wait_ms,
            observer=self.metrics,
        )
        self.metrics.model_load.set(model.load_seconds)
        self.metrics.model_ready.set(1)
        self.metrics.model_info.labels(
            id=model.model_id, digest=model.digest, runtime=model.runtime, precision=model.precision
        ).set(1)
        set_log_context(model_digest=model.digest)

    def claim_cold_start(self) -> bool:
        """``True`` for the first prediction this process serves, unless it was initialised ahead.

        Called when a prediction has been computed, so a 503 while loading, a 422 or a failed
        pass never uses up the flag (issue 14). A process initialised ahead of demand
        (provisioned concurrency, ``AWS_LAMBDA_INITIALIZATION_TYPE``) never reports one: its
        first request did not wait for the init.
        """
        if self.cold_start_claimed:
            return False
        self.cold_start_claimed = True
        return not self.settings.initialised_ahead

    async def load_in_background(self) -> None:
        """Load on a worker thread so the event loop keeps answering probes meanwhile."""
        log.info("model loading", extra={"model": self.settings.model})
        try:
            model = await asyncio.to_thread(load_model, self.settings)
        except Exception as exc:
            self.load_error = f"{type(exc).__name__}: {exc}"
            log.exception("model load failed")
            return
        self.attach(model)
        log.info("model ready", extra={"load_seconds": round(model.load_seconds, 3)})

    def inject_request_faults(self) -> None:
        """``NLP_BENCH_FAULT_CRASH/HANG_ON_REQUEST``: die, or block the process, on the Nth."""
        self.predict_calls += 1
        if self.predict_calls == self.settings.fault_crash_on_request:
            log.error("crashing on purpose", extra={"request": self.predict_calls})
            os._exit(70)
        if self.predict_calls == self.settings.fault_hang_on_request:
            log.error("hanging on purpose", extra={"request": self.predict_calls})
            # Blocks the event loop too, as a wedged process would: liveness probes time out.
            time.sleep(10**9)
