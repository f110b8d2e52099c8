"""The torch eager runtime: transformers' tokenizer and classifier, run by torch on the CPU.

torch and transformers are imported inside the functions: importing this module stays cheap, and
the slim runtime never imports it at all.
"""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from inference_service.encoding import TextEncoder
from inference_service.runtime import Precision, RuntimeParts


def import_libraries() -> None:
    """Import torch, transformers and the model classes: most of a cold start's load time."""
    import torch  # noqa: F401
    from transformers import AutoModelForSequenceClassification, AutoTokenizer  # noqa: F401
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()


def set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    # Raises once set or once parallel work has started: keep what is there then.
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(1)


def encoder_for(tokenizer: Any, max_tokens: int) -> TextEncoder:
    """The bounded encoder over a transformers tokenizer's own Rust tokenizer."""
    return TextEncoder(
        tokenizer.backend_tokenizer,
        max_tokens,
        pad_id=tokenizer.pad_token_id,
        pad_token=tokenizer.pad_token,
    )


class TorchClassifier:
    """A transformers sequence classifier called on numpy arrays, without autograd.

    ``bf16`` runs the pass under CPU autocast (matmuls in bfloat16, which AVX-512 BF16 and AMX
    speed up; softmax and layer norms stay float32); ``int8`` modules arrive quantised.
    """

    def __init__(self, module: Any, *, autocast_bf16: bool = False) -> None:
        self.module = module
        self.autocast_bf16 = autocast_bf16

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        import torch

        with (
            torch.inference_mode(),
            torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.autocast_bf16),
        ):
            logits = self.module(
                input_ids=torch.from_numpy(input_ids),
                attention_mask=torch.from_numpy(attention_mask),
            ).logits
        return logits.float().numpy()


def quantise_linear_layers(module: Any) -> Any:
    """Dynamic int8 of every ``nn.Linear`` (weights int8, activations quantised per pass).

    torch.ao's eager dynamic quantisation is deprecated in current torch (it warns, and is slated
    to move to torchao); kept as the torch-side comparison for ONNX Runtime's (docs/adr/0041).
    """
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(module, {torch.nn.Linear}, dtype=torch.qint8)


def load(
    directory: Path, *, precision: Precision = "fp32", max_tokens: int, mmap: bool = True
) -> RuntimeParts:
    """Tokenizer and classifier from a ``save_pretrained`` directory, at ``precision``.

    transformers memory-maps safetensors weights by default; ``mmap=False`` reads them whole,
    the comparison the cold-start benchmark measures.
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(directory)
    module = AutoModelForSequenceClassification.from_pretrained(directory, disable_mmap=not mmap)
    module.eval()
    parameters = sum(p.numel() for p in module.parameters())
    if precision == "int8":
        module = quantise_linear_layers(module)
    return RuntimeParts(
        encoder=encoder_for(tokenizer, max_tokens),
        classifier=TorchClassifier(module, autocast_bf16=precision == "bf16"),
        labels={int(k): str(v) for k, v in module.config.id2label.items()},
        parameters=parameters,
        tokenizer=tokenizer,
        model=module,
    )
