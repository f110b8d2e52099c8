"""The loaded model: tokenizer and classifier ready to serve, and how it gets loaded.

torch and transformers are imported inside the functions that need them: importing this module
must stay cheap so the HTTP server binds its port at once. Where the files come from is
``sources.py``; the generated models are ``synthetic.py``; the digest is ``digest.py``.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inference_service.digest import model_digest
from inference_service.sources import ModelLoadError, ModelSource, resolve_model_dir
from inference_service.synthetic import GENERATED_MARKER

if TYPE_CHECKING:  # pragma: no cover
    from inference_service.settings import ServiceSettings

log = logging.getLogger(__name__)


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
    """A tokenizer and classifier ready to serve, with what a benchmark needs to know about them."""

    model_id: str
    source: ModelSource
    directory: Path
    digest: str
    accuracy_meaningful: bool
    threads: int
    max_tokens: int
    tokenizer: Any = field(repr=False)
    model: Any = field(repr=False)
    timings_s: dict[str, float] = field(default_factory=dict)

    @property
    def load_seconds(self) -> float:
        return sum(self.timings_s.values())

    def predict(self, texts: Sequence[str]) -> BatchOutput:
        """Tokenise (truncating at ``max_tokens``) and classify ``texts`` in one forward pass."""
        import torch

        encoded = self.tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=self.max_tokens,
            return_tensors="pt",
        )
        truncated = [bool(e.overflowing) for e in encoded.encodings]
        with torch.inference_mode():
            logits = self.model(
                input_ids=encoded["input_ids"], attention_mask=encoded["attention_mask"]
            ).logits
        scores, label_ids = logits.softmax(dim=-1).max(dim=-1)
        id2label = self.model.config.id2label
        return BatchOutput(
            predictions=[
                Prediction(label=str(id2label[int(i)]).upper(), score=float(s))
                for s, i in zip(scores.tolist(), label_ids.tolist(), strict=True)
            ],
            input_tokens=encoded["attention_mask"].sum(dim=1).tolist(),
            truncated=truncated,
        )


def load_model(settings: ServiceSettings) -> LoadedModel:
    """Resolve, digest and load the configured model; fault injection applies here.

    ``timings_s`` splits the load into imports, materialisation/download, digest and weights so
    cold-start figures can say where the time went.
    """
    timings: dict[str, float] = {}
    started = time.perf_counter()
    source = ModelSource.parse(settings.model)
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    timings["imports"] = time.perf_counter() - started
    _set_torch_threads(torch, settings.threads)

    mark = time.perf_counter()
    directory, source = resolve_model_dir(source, settings.model_cache)
    timings["resolve"] = time.perf_counter() - mark

    mark = time.perf_counter()
    digest = model_digest(directory, settings.model_cache)
    timings["digest"] = time.perf_counter() - mark

    mark = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(directory)
    model = AutoModelForSequenceClassification.from_pretrained(directory)
    model.eval()
    timings["weights"] = time.perf_counter() - mark

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
        tokenizer=tokenizer,
        model=model,
        timings_s=timings,
    )
    log.info(
        "model loaded",
        extra={"model_id": loaded.model_id, "load_seconds": round(loaded.load_seconds, 3)},
    )
    return loaded


def _model_id(source: ModelSource, directory: Path) -> str:
    if source.kind == "hub":
        return source.ref
    if source.generated:
        return f"{source.kind}-distilbert"
    return directory.name


def _set_torch_threads(torch: Any, threads: int) -> None:
    torch.set_num_threads(threads)
    # Raises once set or once parallel work has started: keep what is there then.
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(1)
