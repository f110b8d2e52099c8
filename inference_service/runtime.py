"""What an inference runtime hands the service: an encoder, a classifier, and what they are.

Two runtimes serve the same model files (docs/adr/0041): torch eager (``torch_runtime``) and ONNX
Runtime (``onnx_runtime``, the slim one: no torch in the serving process). Both answer in numpy,
so everything above them — softmax, labels, batching, HTTP — is shared.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np

from inference_service.encoding import TextEncoder

RuntimeName = Literal["torch", "onnx"]
Precision = Literal["fp32", "bf16", "int8"]


class Classifier(Protocol):
    """One forward pass: token ids and attention mask in, float32 logits ``[texts, labels]`` out."""

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class RuntimeParts:
    """A loaded runtime; ``tokenizer`` and ``model`` are the library's own objects."""

    encoder: TextEncoder
    classifier: Classifier
    labels: dict[int, str]
    parameters: int
    tokenizer: Any
    model: Any


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float32, shifted by the row maximum so large logits cannot overflow."""
    shifted = logits.astype(np.float32) - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)
