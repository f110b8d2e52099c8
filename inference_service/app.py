"""The FastAPI application: ``POST /predict``, probes, metrics and OpenAPI docs.

Under uvicorn the model loads in a background thread started by the lifespan, so the port is
bound at once and ``/readyz`` says 503 until the model is ready. The Lambda handler loads the
model at import instead (its init phase) and hands it to :func:`create_app`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from inference_service.batching import InferenceEngine
from inference_service.envelope import RECEIVED_AT, RequestEnvelope
from inference_service.logs import configure_logging, set_log_context
from inference_service.metrics import ServiceMetrics
from inference_service.model import LoadedModel, load_model
from inference_service.schemas import (
    ErrorResponse,
    ModelInfo,
    PredictionOut,
    PredictRequest,
    PredictResponse,
    Timing,
)
from inference_service.settings import ServiceSettings, get_settings

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

    def attach(self, model: LoadedModel) -> None:
        self.model = model
        self.engine = InferenceEngine(
            model.predict, self.settings.batch_max_size, self.settings.batch_max_wait_ms
        )
        self.metrics.model_load.set(model.load_seconds)
        self.metrics.model_ready.set(1)
        set_log_context(model_digest=model.digest)

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


def create_app(
    settings: ServiceSettings | None = None, model: LoadedModel | None = None
) -> FastAPI:
    """Build the app; with ``model`` given it is ready at once (Lambda), else it loads itself."""
    settings = settings or get_settings()
    configure_logging()
    environment_id = settings.resolved_environment_id()
    set_log_context(environment_id=environment_id)
    state = ServiceState(settings)
    if model is not None:
        state.attach(model)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        loading = None if state.model else asyncio.create_task(state.load_in_background())
        yield
        if loading is not None and not loading.done():
            loading.cancel()
        if state.engine is not None:
            state.engine.close()

    app = FastAPI(
        title="nlp-bench inference service",
        summary="DistilBERT sentiment, deployed to Lambda and to Kubernetes for benchmarking",
        version="0.1.0",
        lifespan=lifespan,
        responses={
            "4XX": {"model": ErrorResponse, "description": "bad input, with a message"},
        },
    )
    app.state.service = state
    _add_error_handlers(app)

    @app.post(
        "/predict",
        response_model=PredictResponse,
        responses={
            413: {"model": ErrorResponse, "description": "body over the size limit"},
            503: {"model": ErrorResponse, "description": "model not loaded yet"},
        },
    )
    async def predict(body: PredictRequest, request: Request) -> PredictResponse | JSONResponse:
        """Classify one text or a batch of texts as POSITIVE or NEGATIVE."""
        texts = body.all_texts
        if len(texts) > settings.max_texts:
            return _error(
                422, f"too many texts: {len(texts)} > NLP_BENCH_MAX_TEXTS={settings.max_texts}"
            )
        if state.engine is None or state.model is None:
            return _error(503, state.load_error or "model is still loading")
        state.inject_request_faults()
        result = await state.engine.predict(texts)
        received = request.scope.get(RECEIVED_AT, time.perf_counter())
        return PredictResponse(
            predictions=[PredictionOut(label=p.label, score=p.score) for p in result.predictions],  # type: ignore[arg-type]
            model=ModelInfo(
                id=state.model.model_id,
                digest=state.model.digest,
                accuracy_meaningful=state.model.accuracy_meaningful,
            ),
            timing=Timing(
                server_ms=(time.perf_counter() - received) * 1000.0,
                queue_ms=result.queue_ms,
                inference_ms=result.inference_ms,
                input_tokens=result.input_tokens,
            ),
            truncated=result.truncated,
        )

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        """Liveness: the process answers. A failed model load fails it, so the pod is restarted."""
        if state.load_error:
            return _error(503, state.load_error)
        return JSONResponse({"status": "alive"})

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        """Readiness: 200 once the model is loaded, 503 while it loads or after it failed."""
        if state.model is None:
            status = "failed" if state.load_error else "loading"
            return JSONResponse(
                {"status": status, "message": state.load_error or "model is loading"},
                status_code=503,
            )
        return JSONResponse(
            {
                "status": "ready",
                "model": {"id": state.model.model_id, "digest": state.model.digest},
                "load_seconds": round(state.model.load_seconds, 3),
            }
        )

    @app.get("/metrics", response_class=Response)
    async def metrics() -> Response:
        """Prometheus text exposition."""
        return Response(state.metrics.render(), media_type="text/plain; version=0.0.4")

    app.add_middleware(
        RequestEnvelope,
        environment_id=lambda: environment_id,
        max_body_bytes=settings.max_body_bytes,
        metrics=state.metrics,
        initialised_ahead=settings.initialised_ahead,
    )
    return app


def _error(status: int, message: str, detail: Any = None) -> JSONResponse:
    return JSONResponse({"message": message, "detail": detail}, status_code=status)


def _add_error_handlers(app: FastAPI) -> None:
    """Every error leaves as ``{"message", "detail"}`` JSON; nothing leaks a stack trace."""

    @app.exception_handler(RequestValidationError)
    async def on_invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        if any(e["type"] == "json_invalid" for e in errors):
            return _error(400, "request body is not valid JSON", jsonable_encoder(errors))
        summary = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'] if p != 'body') or 'body'}: {e['msg']}"
            for e in errors
        )
        return _error(422, f"invalid request: {summary}", jsonable_encoder(errors))

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = str(exc.detail)
        if exc.status_code in (404, 405):
            message = f"{message}: {request.method} {request.url.path}"
        response = _error(exc.status_code, message)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(Exception)
    async def on_unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return _error(500, "Internal server error")


app = create_app()
