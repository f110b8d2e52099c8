"""The service's OpenAPI document: the limits the app is configured with, stated in the schema.

A schema-valid body must be a request the server accepts (issue 17): the request model states
the fixed rules, and this module adds the ones that come from settings.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI


def document_limits(app: FastAPI, *, max_texts: int) -> None:
    """``texts`` gets ``maxItems`` = ``NLP_BENCH_MAX_TEXTS`` in the app's OpenAPI document."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()  # FastAPI builds once and caches it on the app
        request = schema["components"]["schemas"]["PredictRequest"]
        request["properties"]["texts"]["maxItems"] = max_texts
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
