"""AWS Lambda entry point: Mangum over the same FastAPI app.

The model loads at import, in Lambda's init phase, so its cost lands in Init Duration rather than
in the first invocation. Mangum runs with ``lifespan="off"``: with lifespan on it would run startup
and shutdown around every invocation. Mangum handles API Gateway HTTP API (payload 2.0), REST API
(1.0) and function-URL events, base64 bodies included.
"""

from __future__ import annotations

from mangum import Mangum

from inference_service.app import create_app
from inference_service.model import load_model
from inference_service.settings import get_settings

_settings = get_settings()
app = create_app(_settings, model=load_model(_settings))
handler = Mangum(app, lifespan="off")
