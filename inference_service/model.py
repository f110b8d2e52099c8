"""The loaded model: an encoder and a classifier ready to serve, and how they get loaded.

Runtime libraries are imported inside the functions that need them: importing this module must
stay cheap so the HTTP server binds its port at once. Where the files come from is
``sources.py``; the generated models are ``synthetic.py``; the digest is ``digest.py``; the
runtimes are ``torch_runtime.py`` (and ``runtime.py`` for what they share).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from inference_service.digest import model_digest
from inference_service.encoding import EncodedBatch, TextEncoder
from inference_service.runtime import Classifier, Precision, RuntimeName, softmax
from inference_service.sources import ModelLoadError, ModelSource, resolve_model_dir
from inference_service.synthetic import GENERATED_MARKER, materialised_model_dir

if TYPE_CHECKING:  # pragma: no cover
    from inference_service.settings import ServiceSettings

log = logging.getLogger(__name__)
T = TypeVar("T")
WARMUP_TEXT = "a warm-up pass before the first request"


@dataclass(frozen=True)
class Prediction:
    label: str
    score: float


@dataclass(frozen=True)
class BatchOutput:
    """One forward pass: a prediction, a token count and a truncation flag per text."""

    predictions: list[Prediction]
    input_tokens: list[int]
    truncated: list[bool]


@dataclass
class LoadedModel:
    """An encoder and classifier ready to serve, with what a benchmark needs to know about them.

    ``tokenizer`` and ``model`` are the runtime library's own objects (for torch: transformers'
    tokenizer and ``nn.Module``), kept for callers that need the library itself.
    """

    model_id: str
    source: ModelSource
    directory: Path
    digest: str
    accuracy_meaningful: bool
    threads: int
    max_tokens: int
    runtime: RuntimeName
    precision: Precision
    encoder: TextEncoder = field(repr=False)
    classifier: Classifier = field(repr=False)
    labels: dict[int, str]
    parameters: int
    tokenizer: Any = field(repr=False)
    model: Any = field(repr=False)
    timings_s: dict[str, float] = field(default_factory=dict)

    @property
    def load_seconds(self) -> float:
        return sum(self.timings_s.values())

    def logits(self, texts: Sequence[str]) -> tuple[EncodedBatch, np.ndarray]:
        """Tokenise (bounded, truncating at ``max_tokens``) and run one forward pass."""
        batch = self.encoder.encode(texts)
        return batch, self.classifier(batch.input_ids, batch.attention_mask)

    def predict(self, texts: Sequence[str]) -> BatchOutput:
        """Classify ``texts`` in one forward pass: the most probable label and its probability."""
        batch, logits = self.logits(texts)
        probabilities = softmax(logits)
        label_ids = probabilities.argmax(axis=-1)
        return BatchOutput(
            predictions=[
                Prediction(label=self.labels[int(i)].upper(), score=float(p[i]))
                for p, i in zip(probabilities, label_ids, strict=True)
            ],
            input_tokens=batch.tokens,
            truncated=batch.truncated,
        )


def load_model(settings: ServiceSettings) -> LoadedModel:
    """Resolve, digest and load the configured model on its runtime; fault injection applies here.

    ``timings_s`` splits the load into imports, materialisation/download, digest, export (slim
    runtime, first load only), weights and warm-up, so cold-start figures can say where the time
    went.
    """
    from inference_service import onnx_export, onnx_runtime, torch_runtime

    timings: dict[str, float] = {}
    started = time.perf_counter()
    source = ModelSource.parse(settings.model)
    slim = settings.runtime == "onnx"
    (onnx_runtime if slim else torch_runtime).import_libraries()
    timings["imports"] = time.perf_counter() - started

    cache = settings.model_cache
    if slim and source.generated and materialised_model_dir(source.kind, cache) is None:
        # Writing the generated weights needs torch: the export child writes them too.
        _timed(timings, "export", onnx_runtime.export_in_child, str(source), cache)
    directory, source = _timed(timings, "resolve", resolve_model_dir, source, cache)
    digest = _timed(timings, "digest", model_digest, directory, cache)
    if slim:
        if not onnx_export.is_complete(onnx_export.export_dir(cache, digest)):
            _timed(timings, "export", onnx_runtime.export_in_child, str(source), cache)
        parts = _timed(
            timings,
            "weights",
            onnx_runtime.load,
            cache,
            digest,
            precision=settings.precision,
            threads=settings.threads,
            max_tokens=settings.max_tokens,
        )
    else:
        torch_runtime.set_threads(settings.threads)
        parts = _timed(
            timings,
            "weights",
            torch_runtime.load,
            directory,
            precision=settings.precision,
            max_tokens=settings.max_tokens,
            mmap=settings.weights_mmap,
        )

    if settings.fault_load_delay_s:
        time.sleep(settings.fault_load_delay_s)
        timings["fault_delay"] = settings.fault_load_delay_s
    if settings.fault_load_fail:
        raise ModelLoadError("model load failed on purpose (NLP_BENCH_FAULT_LOAD_FAIL)")

    loaded = LoadedModel(
        model_id=_model_id(source, directory),
        source=source,
        directory=directory,
        digest=digest,
        accuracy_meaningful=not source.generated and not (directory / GENERATED_MARKER).exists(),
        threads=settings.threads,
        max_tokens=settings.max_tokens,
        runtime=settings.runtime,
        precision=settings.precision,
        encoder=parts.encoder,
        classifier=parts.classifier,
        labels=parts.labels,
        parameters=parts.parameters,
        tokenizer=parts.tokenizer,
        model=parts.model,
        timings_s=timings,
    )
    if settings.warmup:
        # The first pass pays for lazy imports, kernel selection and starting the thread pool:
        # paid here, in the init, instead of by the first request.
        _timed(timings, "warmup", loaded.predict, [WARMUP_TEXT])
    log.info(
        "model loaded",
        extra={
            "model_id": loaded.model_id,
            "runtime": loaded.runtime,
            "precision": loaded.precision,
            "load_seconds": round(loaded.load_seconds, 3),
        },
    )
    return loaded


def _timed(timings: dict[str, float], key: str, call: Callable[..., T], *args, **kwargs) -> T:
    """``call(*args, **kwargs)``, adding its seconds to ``timings[key]``."""
    mark = time.perf_counter()
    try:
        return call(*args, **kwargs)
    finally:
        timings[key] = timings.get(key, 0.0) + time.perf_counter() - mark


def _model_id(source: ModelSource, directory: Path) -> str:
    if source.kind == "hub":
        return source.ref
    if source.generated:
        return f"{source.kind}-distilbert"
    return directory.name
