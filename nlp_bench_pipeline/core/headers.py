"""The local platforms' own HTTP headers: what an emulated front says of an answer it wrote.

The service's headers (which environment answered, whether it waited on a cold start) are the
service's contract and live in ``inference_service.contract``. These belong to the emulators of
API Gateway and the ALB (``targets/local_lambda``, ``targets/local_k8s``) and to the client that
reads them (``nlp_bench_pipeline.client``), so the name is spelled once for all three. Real AWS
sends none of them: a client may use them first, never only (docs/reliability.md).
"""

from __future__ import annotations

# On every answer a local front writes itself: ``<kind>:<detail>``, e.g. ``throttle:concurrency_
# limit``, ``init_error:Runtime.ImportModuleError``; the vocabulary is in client.py's docstring.
REASON_HEADER = "x-nlp-bench-reason"
# Which emulated front wrote an answer (the k8s Service: ``local-k8s-service``).
FRONT_HEADER = "x-nlp-bench-front"
