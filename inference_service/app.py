"""The FastAPI application factory; ``inference_service.app:app`` is built on first use.

One app per process: uvicorn imports ``inference_service.app:app``, which builds it then (under
uvicorn the model loads in a background task started by the lifespan, so the port is bound at
once and ``/readyz`` says 503 until the model is ready); the Lambda handler calls
:func:`create_app` itself with the model it loaded at import (its init phase) and never touches
``app``. Building the app lazily keeps importing this module free of side effects.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from functools import cache
from typing import Any

from fastapi import FastAPI

from inference_service.docs import document_limits, serve_docs_offline
from inference_service.envelope import RequestEnvelope
from inference_service.errors import add_error_handlers
from inference_service.logs import configure_logging, set_log_context
from inference_service.model import LoadedModel
from inference_service.routes import router
from inference_service.schemas import ErrorResponse
from inference_service.settings import ServiceSettings, get_settings
from inference_service.state import ServiceState

TITLE = "nlp-bench inference service"


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
        title=TITLE,
        summary="DistilBERT sentiment, deployed to Lambda and to Kubernetes for benchmarking",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served offline by serve_docs_offline
        redoc_url=None,  # ReDoc has no offline bundle installed; /docs covers it
        responses={
            "4XX": {"model": ErrorResponse, "description": "bad input, with a message"},
        },
    )
    app.state.service = state
    add_error_handlers(app)
    app.include_router(router)
    document_limits(app, max_texts=settings.max_texts)
    serve_docs_offline(app, title=TITLE)
    app.add_middleware(
        RequestEnvelope,
        environment_id=lambda: environment_id,
        max_body_bytes=settings.max_body_bytes,
        body_timeout_s=settings.body_timeout_s,
        metrics=state.metrics,
    )
    return app


@cache
def _process_app() -> FastAPI:
    return create_app()


def __getattr__(name: str) -> Any:
    """``app``: this process's one app, built from the environment's settings on first access."""
    if name == "app":
        return _process_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
