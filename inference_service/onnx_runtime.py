"""The slim runtime: ONNX Runtime and ``tokenizers``, no torch or transformers in the process.

Imports are most of a torch cold start (torch and transformers' model classes: 1.5–3 s here);
ONNX Runtime imports in about 0.1 s. The graphs and tokenizer come from the model's cached export
(``onnx_export.py``); a missing export is made by a child process, so torch never enters this one
(docs/adr/0041). Precisions: ``fp32`` and ``int8`` (ONNX Runtime's dynamic quantisation); bf16
has no CPU kernels in ONNX Runtime and is refused by the settings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from inference_service.encoding import TextEncoder
from inference_service.onnx_export import GRAPHS, MARKER, TOKENIZER, export_dir, is_complete
from inference_service.runtime import Precision, RuntimeParts
from inference_service.sources import ModelLoadError


def import_libraries() -> None:
    import onnxruntime  # noqa: F401
    import tokenizers  # noqa: F401


class OnnxClassifier:
    """An ONNX Runtime session over the exported graph, called on numpy arrays."""

    def __init__(self, session) -> None:
        self.session = session

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        (logits,) = self.session.run(
            ["logits"], {"input_ids": input_ids, "attention_mask": attention_mask}
        )
        return logits


def export_in_child(model: str, cache: Path) -> None:
    """Run the exporter (which needs torch) in a child process; raise with its last lines."""
    # The child finds this package where this process found it, installed or not.
    package_root = str(Path(__file__).resolve().parents[1])
    path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "inference_service.onnx_export",
            "--model",
            model,
            "--model-cache",
            str(cache),
        ],
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        tail = "\n".join(completed.stderr.strip().splitlines()[-10:])
        raise ModelLoadError(f"ONNX export of {model!r} failed:\n{tail}")


def load(
    cache: Path, digest: str, *, precision: Precision, threads: int, max_tokens: int
) -> RuntimeParts:
    """Session and tokenizer from the export of the model with ``digest``."""
    import onnxruntime
    from tokenizers import Tokenizer

    directory = export_dir(cache, digest)
    if not is_complete(directory):
        raise ModelLoadError(f"no ONNX export in {directory}")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = onnxruntime.InferenceSession(
        str(directory / GRAPHS[precision]), options, providers=["CPUExecutionProvider"]
    )
    tokenizer = Tokenizer.from_file(str(directory / TOKENIZER))
    padding = tokenizer.padding or {}
    meta = json.loads((directory / MARKER).read_text())
    return RuntimeParts(
        encoder=TextEncoder(
            tokenizer, max_tokens, pad_id=padding["pad_id"], pad_token=padding["pad_token"]
        ),
        classifier=OnnxClassifier(session),
        labels={int(k): v for k, v in meta["labels"].items()},
        parameters=int(meta["parameters"]),
        tokenizer=tokenizer,
        model=session,
    )
