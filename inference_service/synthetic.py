"""The generated models (``synthetic``, ``tiny``): seeded weights written once, atomically.

They are written to ``NLP_BENCH_MODEL_CACHE`` as an ordinary model directory (temp directory +
rename, so parallel environments never see half a model) and then load through the same code as
real weights. numpy's PCG64 stream is the same on every machine, so the weights — and the
digest — are too (docs/adr/0002).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from inference_service.contract import vocabulary_path

log = logging.getLogger("inference_service.model")

LABELS = {0: "NEGATIVE", 1: "POSITIVE"}
# Bumping this changes every generated model and therefore its digest.
GENERATOR_VERSION = 1
GENERATOR_SEED = 1769
GENERATED_MARKER = "nlp_bench_generated.json"

# distilbert-base-uncased, as DistilBertConfig defines it, with the SST-2 head's two labels.
ARCHITECTURES: dict[str, dict[str, Any]] = {
    "synthetic": {"dim": 768, "hidden_dim": 3072, "n_layers": 6, "n_heads": 12},
    "tiny": {"dim": 32, "hidden_dim": 64, "n_layers": 2, "n_heads": 2},
}


def materialised_model_dir(kind: str, cache: Path) -> Path | None:
    """The generated model's directory if it is already written, without writing it (or torch)."""
    target = _model_path(kind, cache)
    return target if (target / GENERATED_MARKER).is_file() else None


def _model_path(kind: str, cache: Path) -> Path:
    return cache / f"{kind}-v{GENERATOR_VERSION}-seed{GENERATOR_SEED}"


def generated_model_dir(kind: str, cache: Path) -> Path:
    """Materialise the ``synthetic`` or ``tiny`` model under ``cache`` once and return its path.

    Concurrent callers each build in a private temp directory and rename it into place; the
    loser of the race discards its copy, so a reader never sees a partial model.
    """
    target = _model_path(kind, cache)
    if (target / GENERATED_MARKER).is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{kind}-", dir=cache))
    try:
        _write_generated_model(kind, staging)
        try:
            os.rename(staging, target)
        except OSError:
            if not (target / GENERATED_MARKER).is_file():
                raise
            log.info("another process materialised %s first; using its copy", target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _write_generated_model(kind: str, directory: Path) -> None:
    """Write config, tokenizer files and seeded safetensors weights as ``save_pretrained`` would."""
    import numpy as np
    import torch
    from safetensors.torch import save_file
    from transformers import DistilBertConfig, DistilBertForSequenceClassification

    config = DistilBertConfig(
        **ARCHITECTURES[kind],
        vocab_size=30522,
        max_position_embeddings=512,
        id2label=LABELS,
        label2id={v: k for k, v in LABELS.items()},
        architectures=["DistilBertForSequenceClassification"],
    )
    config.save_pretrained(directory)
    shutil.copyfile(vocabulary_path(), directory / "vocab.txt")
    (directory / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "DistilBertTokenizer",
                "do_lower_case": True,
                "model_max_length": 512,
            },
            indent=2,
            sort_keys=True,
        )
    )
    with torch.device("meta"):
        shapes = {
            k: tuple(v.shape)
            for k, v in DistilBertForSequenceClassification(config).state_dict().items()
        }
    # numpy's PCG64 stream is the same on every machine; torch's CPU generator promises no such.
    rng = np.random.Generator(np.random.PCG64(GENERATOR_SEED))
    tensors = {
        name: torch.from_numpy(_seeded_parameter(name, shape, rng))
        for name, shape in sorted(shapes.items())
    }
    save_file(tensors, directory / "model.safetensors", metadata={"format": "pt"})
    (directory / GENERATED_MARKER).write_text(
        json.dumps({"kind": kind, "generator_version": GENERATOR_VERSION, "seed": GENERATOR_SEED})
    )


def _seeded_parameter(name: str, shape: tuple[int, ...], rng: Any) -> Any:
    """BERT-style init: N(0, 0.02) matrices, zero biases, unit LayerNorm gains."""
    import numpy as np

    if name.endswith("bias"):
        return np.zeros(shape, dtype=np.float32)
    if "layer_norm" in name.lower() or "LayerNorm" in name:
        return np.ones(shape, dtype=np.float32)
    return (rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02)).astype(np.float32)
