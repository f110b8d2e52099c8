"""The ONNX export of a model: fp32 and dynamic-int8 graphs and the tokenizer, cached by digest.

The slim runtime serves from this directory without torch or transformers, so everything it needs
is here: ``model.fp32.onnx``, ``model.int8.onnx`` (ONNX Runtime's dynamic quantisation of the
MatMul weights), ``tokenizer.json`` (the Rust tokenizer with its padding token) and
``export.json`` (labels, parameter count, what made it). The directory is keyed by the model's
content digest and the exporter's version, and built in a private temp directory then renamed
into place, so concurrent environments never see half an export (as ``synthetic.py`` does).

Exporting needs torch; ``python -m inference_service.onnx_export --model M --model-cache C`` runs
it as a child process, so the serving process of the slim runtime never imports torch
(docs/adr/0041).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

from inference_service.digest import model_digest
from inference_service.sources import ModelLoadError, ModelSource, resolve_model_dir

log = logging.getLogger("inference_service.model")

# Bumping this invalidates every cached export.
EXPORT_VERSION = 1
OPSET = 17
MARKER = "export.json"
GRAPHS = {"fp32": "model.fp32.onnx", "int8": "model.int8.onnx"}
TOKENIZER = "tokenizer.json"


def export_dir(cache: Path, digest: str) -> Path:
    """Where the export of the model with ``digest`` lives (or will)."""
    return cache / "onnx" / f"{digest.removeprefix('sha256:')[:24]}-v{EXPORT_VERSION}"


def is_complete(directory: Path) -> bool:
    return (directory / MARKER).is_file()


def ensure_export(model_dir: Path, digest: str, cache: Path) -> Path:
    """Export the model once (both precisions) and return the directory; reuse it after."""
    target = export_dir(cache, digest)
    if is_complete(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        _export(model_dir, digest, staging)
        try:
            os.rename(staging, target)
        except OSError:
            if not is_complete(target):
                raise
            log.info("another process exported %s first; using its copy", target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _export(model_dir: Path, digest: str, out: Path) -> None:
    import onnx
    import onnxruntime
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from inference_service import torch_runtime

    torch_runtime.import_libraries()  # transformers without its progress bars
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    module = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    example = torch.ones((1, 8), dtype=torch.long)
    axes = {0: "batch", 1: "sequence"}
    with _quiet():
        # The TorchScript exporter: its graphs quantise and run faster under ONNX Runtime than
        # the dynamo exporter's on this model (measured, docs/adr/0041).
        torch.onnx.export(
            module,
            (example, example),
            out / GRAPHS["fp32"],
            input_names=["input_ids", "attention_mask"],
            output_names=["logits"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "logits": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )
        quantize_dynamic(out / GRAPHS["fp32"], out / GRAPHS["int8"], weight_type=QuantType.QInt8)
    backend = tokenizer.backend_tokenizer
    backend.no_truncation()
    backend.enable_padding(pad_id=tokenizer.pad_token_id, pad_token=tokenizer.pad_token)
    backend.save(str(out / TOKENIZER))
    (out / MARKER).write_text(
        json.dumps(
            {
                "digest": digest,
                "export_version": EXPORT_VERSION,
                "labels": {str(k): v for k, v in module.config.id2label.items()},
                "parameters": sum(p.numel() for p in module.parameters()),
                "torch": torch.__version__,
                "onnx": onnx.__version__,
                "onnxruntime": onnxruntime.__version__,
                "opset": OPSET,
            },
            indent=2,
            sort_keys=True,
        )
    )


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The exporters' advice (warnings, root-logger lines) is for their developers, not ours."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m inference_service.onnx_export",
        description="Materialise (synthetic/tiny) and export a model to ONNX; print the directory.",
    )
    parser.add_argument("--model", required=True, help="an NLP_BENCH_MODEL value")
    parser.add_argument("--model-cache", required=True, type=Path, help="NLP_BENCH_MODEL_CACHE")
    args = parser.parse_args(argv)
    cache = args.model_cache.expanduser()
    try:
        model_dir, _ = resolve_model_dir(ModelSource.parse(args.model), cache)
        print(ensure_export(model_dir, model_digest(model_dir, cache), cache))
    except ModelLoadError as exc:
        print(f"onnx_export: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
