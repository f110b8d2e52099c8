"""Suite-wide settings: offline hub, a repo-local model cache, and the tiny model loaded once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Set before anything imports transformers or the service settings.
os.environ.setdefault("NLP_BENCH_MODEL_CACHE", str(ROOT / ".cache" / "models"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


@pytest.fixture(scope="session")
def model_cache() -> Path:
    return Path(os.environ["NLP_BENCH_MODEL_CACHE"])


@pytest.fixture(scope="session")
def tiny_model(model_cache: Path):
    """The two-layer model: real tokenizer and code paths, milliseconds per request."""
    from inference_service.model import load_model
    from inference_service.settings import ServiceSettings

    return load_model(ServiceSettings(model="tiny", model_cache=model_cache, threads=1))
