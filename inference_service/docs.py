"""The service's API documentation: its OpenAPI document and an offline ``/docs`` page.

A schema-valid body must be a request the server accepts (issue 17): the request model states
the fixed rules, and this module adds the ones that come from settings.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_PATH = "/docs"
DOCS_ASSETS = "/docs/assets"


def document_limits(app: FastAPI, *, max_texts: int) -> None:
    """``texts`` gets ``maxItems`` = ``NLP_BENCH_MAX_TEXTS`` in the app's OpenAPI document."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()  # FastAPI builds once and caches it on the app
        request = schema["components"]["schemas"]["PredictRequest"]
        request["properties"]["texts"]["maxItems"] = max_texts
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def serve_docs_offline(app: FastAPI, *, title: str) -> None:
    """``/docs`` as Swagger UI from the installed ``swagger-ui-bundle`` package, no CDN.

    FastAPI's own ``/docs`` loads Swagger UI from a CDN and its favicon from fastapi.tiangolo.com,
    so offline (or in a VPC without egress) it is a blank page (issue 14). The page here names only
    this app's own URLs; Swagger UI's online spec validator is switched off for the same reason.
    """
    from swagger_ui_bundle import swagger_ui_path

    app.mount(DOCS_ASSETS, StaticFiles(directory=swagger_ui_path), name="swagger-ui")

    @app.get(DOCS_PATH, include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{title} — docs",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None},
        )
