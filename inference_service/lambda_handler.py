"""AWS Lambda entry point: Mangum over the same FastAPI app.

The model loads at import, in Lambda's init phase, so its cost lands in Init Duration rather than
in the first invocation. Mangum runs with ``lifespan="off"``: with lifespan on it would run startup
and shutdown around every invocation. Mangum handles API Gateway HTTP API (payload 2.0), REST API
(1.0) and function-URL events, base64 bodies included.

Under SnapStart (and the local Lambda's zygote start, its analogue) the init ran once, for a
snapshot that many environments resume from, with the environment the snapshot was taken in. The
after-restore hook re-reads the settings from the restored environment's own variables and
builds the app again around the model already loaded, so each environment answers with its own
id and init type, and counts its own first request (docs/adr/0043).
"""

from __future__ import annotations

from mangum import Mangum
from snapshot_restore_py import register_after_restore

from inference_service.app import create_app
from inference_service.model import load_model
from inference_service.settings import get_settings

_settings = get_settings()
_model = load_model(_settings)
app = create_app(_settings, model=_model)
handler = Mangum(app, lifespan="off")


@register_after_restore
def _rebuild_for_this_environment() -> None:
    global app
    get_settings.cache_clear()
    app = create_app(get_settings(), model=_model)
    handler.app = app  # the handler awslambdaric holds keeps working, on the new app
