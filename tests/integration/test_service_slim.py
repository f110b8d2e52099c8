"""The slim runtime in a fresh process: ONNX Runtime and tokenizers, never torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]

# Loads the model as the service does, serves one prediction through the app, and reports which
# heavy libraries the process imported on the way.
CHILD = """
import json, sys
from fastapi.testclient import TestClient
from inference_service.app import create_app
from inference_service.model import load_model
from inference_service.settings import ServiceSettings

settings = ServiceSettings()
with TestClient(create_app(settings, model=load_model(settings))) as client:
    body = client.post("/predict", json={"text": "a gripping, beautiful film"}).json()
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"torch", "transformers", "onnx"})
print(json.dumps({"model": body["model"], "timing": body["timing"], "heavy": heavy}))
"""


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_slim_process_serves_a_prediction_without_importing_torch(
    model_cache: Path, tiny_model, precision: str
) -> None:
    env = {
        **os.environ,
        "NLP_BENCH_MODEL": "tiny",
        "NLP_BENCH_MODEL_CACHE": str(model_cache),
        "NLP_BENCH_THREADS": "1",
        "NLP_BENCH_RUNTIME": "onnx",
        "NLP_BENCH_PRECISION": precision,
    }
    completed = subprocess.run(
        [sys.executable, "-c", CHILD],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["heavy"] == []
    assert report["model"]["runtime"] == "onnx"
    assert report["model"]["precision"] == precision
    assert report["model"]["digest"] == tiny_model.digest
    assert report["timing"]["input_tokens"] == 7
