"""Where a model's files come from: the ``NLP_BENCH_MODEL`` value, parsed and resolved.

* ``hf:<id>``     — the Hugging Face hub (or its local cache); offline → ``synthetic``, loudly.
* a directory     — ``save_pretrained`` output: config, tokenizer files, weights.
* ``synthetic``   — the exact distilbert-base architecture with seeded weights and the real
                    bert-base-uncased WordPiece vocabulary: full-size cost, meaningless answers.
* ``tiny``        — the same vocabulary with a two-layer, 32-wide body: fast unit tests.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from inference_service.contract import ModelFormError, model_form
from inference_service.synthetic import generated_model_dir

log = logging.getLogger("inference_service.model")

SourceKind = Literal["hub", "directory", "synthetic", "tiny"]
TOKENIZER_FILES = (
    "vocab.txt",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
)


class ModelLoadError(RuntimeError):
    """The model could not be loaded; the message says why."""


@dataclass(frozen=True)
class ModelSource:
    """A parsed ``NLP_BENCH_MODEL`` value."""

    kind: SourceKind
    ref: str

    @classmethod
    def parse(cls, value: str) -> ModelSource:
        """Turn a setting into a source; a bad value fails here, before any loading starts.

        The form rule is the contract's (``contract.model_form``), which the pipeline's
        preflight uses too.
        """
        try:
            kind, ref = model_form(value)
        except ModelFormError as exc:
            raise ModelLoadError(f"NLP_BENCH_MODEL {exc}") from None
        return cls(kind, ref)  # type: ignore[arg-type]

    @property
    def generated(self) -> bool:
        return self.kind in ("synthetic", "tiny")

    def __str__(self) -> str:
        return {"hub": f"hf:{self.ref}", "directory": self.ref}.get(self.kind, self.kind)


def hub_model_dir(repo_id: str) -> Path:
    """Download (or find in the local hub cache) the files a sequence classifier needs."""
    from huggingface_hub import snapshot_download

    patterns = ["config.json", "*.safetensors", *TOKENIZER_FILES]
    with contextlib.suppress(Exception):  # not in the local cache: try the network below
        return Path(snapshot_download(repo_id, allow_patterns=patterns, local_files_only=True))
    return Path(snapshot_download(repo_id, allow_patterns=patterns, etag_timeout=5))


def resolve_model_dir(source: ModelSource, cache: Path) -> tuple[Path, ModelSource]:
    """The directory to load from and the source it really came from (after any fallback)."""
    if source.kind == "directory":
        return Path(source.ref), source
    if source.generated:
        return generated_model_dir(source.kind, cache), source
    try:
        return hub_model_dir(source.ref), source
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
        shout(
            f"HUB UNREACHABLE: could not fetch hf:{source.ref} ({reason}).",
            "FALLING BACK TO THE SYNTHETIC MODEL: seeded weights, predictions are meaningless.",
            "Set NLP_BENCH_MODEL=synthetic to silence this, or point it at a local directory.",
        )
        log.warning(
            f"hub unreachable, hf:{source.ref}: FALLING BACK TO THE SYNTHETIC MODEL",
            extra={"reason": reason},
        )
        fallback = ModelSource("synthetic", "synthetic")
        return generated_model_dir("synthetic", cache), fallback


def shout(*lines: str) -> None:
    """Plain lines between banners straight to stderr, where a person reads them.

    Through the JSON log handler a multi-line warning becomes one escaped string inside a JSON
    line, which nobody notices (issue 14); the log line beside it is for machines.
    """
    banner = "!" * 78
    sys.stderr.write("\n".join([banner, *lines, banner]) + "\n")
    sys.stderr.flush()
