"""schemathesis over the app's own OpenAPI document: a schema-valid body is never refused.

Every check schemathesis has is on, positive and negative generation both: a body the schema
allows must get a 200, one it forbids a documented 4xx, and every answer must match its
documented status, content type and schema. The only 422 a schema-valid body can get is the
documented one JSON Schema cannot state (an unpaired surrogate escape), which schemathesis does not
generate.
"""

from __future__ import annotations

import collections

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from inference_service.app import create_app
from inference_service.settings import ServiceSettings

pytestmark = pytest.mark.slow
PREDICT = "POST /predict"
MIN_PREDICT_REQUESTS = 1_000
SENT: collections.Counter[str] = collections.Counter()


# Built at import, as schemathesis parametrises at collection time; the model is attached by the
# fixture below, so collecting this module loads nothing. The document is taken from the app
# directly rather than through ``from_asgi``, whose request would run the lifespan and start a
# model load of its own; ``app`` is then set as ``from_asgi`` sets it.
APP = create_app(ServiceSettings(model="tiny", threads=1, max_texts=4))
schema = schemathesis.openapi.from_dict(
    APP.openapi(), config=schemathesis.Config.from_dict({"generation": {"mode": "all"}})
)
schema.app = APP


@pytest.fixture(scope="module", autouse=True)
def _serving_the_tiny_model(tiny_model) -> None:
    APP.state.service.attach(tiny_model)


@schema.parametrize()
@settings(max_examples=1_200, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_generated_request_gets_its_documented_answer(case) -> None:
    SENT[case.operation.label] += 1
    case.call_and_validate()


def test_schemathesis_sent_at_least_a_thousand_predict_requests() -> None:
    if not SENT:
        pytest.skip("counts the requests of the test above; run the module")
    assert SENT[PREDICT] >= MIN_PREDICT_REQUESTS
