"""The service's routes: ``POST /predict``, the probes and ``/metrics``.

Each handler finds its process's :class:`ServiceState` on the app (one app per process), so the
router holds no state of its own.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from inference_service.contract import LIVE_PATH, PREDICT_PATH, READY_PATH
from inference_service.envelope import COLD_START, RECEIVED_AT
from inference_service.errors import error_response
from inference_service.schemas import (
    ErrorResponse,
    ModelInfo,
    PredictionOut,
    PredictRequest,
    PredictResponse,
    Timing,
)
from inference_service.state import ServiceState


async def service_state(request: Request) -> ServiceState:
    # async: FastAPI runs a plain ``def`` dependency on its thread pool, a thread hop per request.
    return request.app.state.service


State = Annotated[ServiceState, Depends(service_state)]
router = APIRouter()


@router.post(
    PREDICT_PATH,
    response_model=PredictResponse,
    responses={
        400: {"model": ErrorResponse, "description": "body is not valid JSON or not UTF-8"},
        408: {"model": ErrorResponse, "description": "body not received in time"},
        413: {"model": ErrorResponse, "description": "body over the size limit"},
        422: {
            "model": ErrorResponse,
            "description": "body breaks the request schema, or a text holds an unpaired "
            "surrogate escape (valid JSON, not Unicode: the one rule the schema cannot state)",
        },
        503: {"model": ErrorResponse, "description": "model not loaded yet"},
    },
)
async def predict(
    body: PredictRequest, request: Request, state: State
) -> PredictResponse | JSONResponse:
    """Classify one text or a batch of texts as POSITIVE or NEGATIVE."""
    texts = body.all_texts
    max_texts = state.settings.max_texts
    if len(texts) > max_texts:
        return error_response(
            422, f"too many texts: {len(texts)} > NLP_BENCH_MAX_TEXTS={max_texts}"
        )
    if state.engine is None or state.model is None:
        return error_response(503, state.load_error or "model is still loading")
    state.inject_request_faults()
    result = await state.engine.predict(texts)
    request.scope[COLD_START] = state.claim_cold_start()
    received = request.scope.get(RECEIVED_AT, time.perf_counter())
    return PredictResponse(
        predictions=[PredictionOut(label=p.label, score=p.score) for p in result.predictions],  # type: ignore[arg-type]
        model=ModelInfo(
            id=state.model.model_id,
            digest=state.model.digest,
            accuracy_meaningful=state.model.accuracy_meaningful,
            runtime=state.model.runtime,
            precision=state.model.precision,
        ),
        timing=Timing(
            server_ms=(time.perf_counter() - received) * 1000.0,
            queue_ms=result.queue_ms,
            inference_ms=result.inference_ms,
            input_tokens=result.input_tokens,
        ),
        truncated=result.truncated,
    )


@router.get(LIVE_PATH)
async def healthz(state: State) -> JSONResponse:
    """Liveness: the process answers. A failed model load fails it, so the pod is restarted."""
    if state.load_error:
        return error_response(503, state.load_error)
    return JSONResponse({"status": "alive"})


@router.get(READY_PATH)
async def readyz(state: State) -> JSONResponse:
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


@router.get("/metrics", response_class=Response)
async def metrics(state: State) -> Response:
    """Prometheus text exposition."""
    return Response(state.metrics.render(), media_type="text/plain; version=0.0.4")
