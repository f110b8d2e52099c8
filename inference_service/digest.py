"""The model's content digest: what "the same model" means across runs, machines and libraries.

Config and tokenizer JSON are canonicalised (sorted keys, library-version fields dropped);
weights and vocabulary are hashed byte for byte (docs/adr/0002).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from inference_service.sources import TOKENIZER_FILES, ModelLoadError

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
# Written by whatever library version saved the files; not part of what the model *is*.
VOLATILE_CONFIG_KEYS = {"transformers_version", "_name_or_path", "torch_dtype", "dtype"}


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
