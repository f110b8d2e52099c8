"""``python -m inference_service.describe``: load the configured model once and print what it is.

The pipeline runs this as a child process, so the figures are those of a fresh process (what a
cold start pays) and torch never loads into the orchestrator. Prints one JSON object, once the
first prediction is made (the cold-start benchmark times the line's arrival).
"""

from __future__ import annotations

import json
import sys
import time


def main() -> int:
    started = time.perf_counter()
    from inference_service.model import load_model
    from inference_service.settings import get_settings

    settings = get_settings()
    model = load_model(settings)
    loaded = time.perf_counter()
    sample = model.predict(["a gripping, beautiful film"]).predictions[0]
    first_prediction_ms = (time.perf_counter() - loaded) * 1000.0
    result = {
        "requested": settings.model,
        "source": str(model.source),
        "source_kind": model.source.kind,
        "model_id": model.model_id,
        "digest": model.digest,
        "accuracy_meaningful": model.accuracy_meaningful,
        "directory": str(model.directory),
        "parameters": model.parameters,
        "runtime": model.runtime,
        "precision": model.precision,
        "threads": model.threads,
        "load_seconds": round(model.load_seconds, 3),
        "timings_s": {k: round(v, 3) for k, v in model.timings_s.items()},
        "process_seconds": round(loaded - started, 3),
        "first_prediction_ms": round(first_prediction_ms, 3),
        "sample_prediction": sample.__dict__,
    }
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
