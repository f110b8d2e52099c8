"""The torch eager runtime: transformers' tokenizer and classifier, run by torch on the CPU.

torch and transformers are imported inside the functions: importing this module stays cheap, and
the slim runtime never imports it at all.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import numpy as np

from inference_service.encoding import TextEncoder
from inference_service.runtime import RuntimeParts


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
    """A transformers sequence classifier called on numpy arrays, without autograd."""

    def __init__(self, module: Any) -> None:
        self.module = module

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            logits = self.module(
                input_ids=torch.from_numpy(input_ids),
                attention_mask=torch.from_numpy(attention_mask),
            ).logits
        return logits.float().numpy()


def load(directory: Path, *, max_tokens: int, mmap: bool = True) -> RuntimeParts:
    """Tokenizer and classifier from a ``save_pretrained`` directory.

    transformers memory-maps safetensors weights by default; ``mmap=False`` reads them whole,
    the comparison the cold-start benchmark measures.
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(directory)
    module = AutoModelForSequenceClassification.from_pretrained(directory, disable_mmap=not mmap)
    module.eval()
    return RuntimeParts(
        encoder=encoder_for(tokenizer, max_tokens),
        classifier=TorchClassifier(module),
        labels={int(k): str(v) for k, v in module.config.id2label.items()},
        parameters=sum(p.numel() for p in module.parameters()),
        tokenizer=tokenizer,
        model=module,
    )
