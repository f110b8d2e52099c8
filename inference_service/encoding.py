"""Texts to padded token-id arrays, with the work per text bounded by the token limit.

Only a text's first ``max_tokens`` tokens reach the model, so a 6 MB text must not cost 6 MB of
tokenising (issue 17: it tied up the inference thread for 11–13 s). A text longer than a
character budget (``8 × max_tokens`` characters) is tokenised by prefixes first. A prefix is
enough when more than the limit's worth of tokens come from words that end inside it: the
pre-tokeniser splits on whitespace, punctuation or script boundaries, which a later character
cannot move, so every word before the prefix's last one tokenises exactly as in the whole text.
The tokenizer's own truncation then cuts that prefix, and ids, ``truncated`` and the token count
are those of the whole text (tested against ``truncation=True`` on the whole text). A prefix that
is not enough doubles, up to ``64 × max_tokens`` characters; a text whose first ``64 ×
max_tokens`` characters still hold fewer tokens than the limit (a giant word, a whitespace run)
is cut there and marked truncated — the one place where the result may differ from tokenising
the whole text (docs/adr/0040).

Depends on ``tokenizers`` and numpy only, so the slim runtime (no torch, no transformers) uses it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from tokenizers import Tokenizer

FIRST_BUDGET_CHARS_PER_TOKEN = 8
MAX_BUDGET_CHARS_PER_TOKEN = 64


@dataclass(frozen=True)
class EncodedBatch:
    """A batch padded to its longest sequence, with each text's token count and truncation."""

    input_ids: np.ndarray  # int64, [texts, longest]
    attention_mask: np.ndarray  # int64, [texts, longest]
    tokens: list[int]  # special tokens included
    truncated: list[bool]


class TextEncoder:
    """Tokenises batches the way ``tokenizer(texts, truncation=True, padding=True)`` does."""

    def __init__(
        self,
        tokenizer: Tokenizer,
        max_tokens: int,
        *,
        pad_id: int,
        pad_token: str,
        first_budget_chars: int | None = None,
        max_budget_chars: int | None = None,
    ) -> None:
        from tokenizers import Tokenizer

        self.max_tokens = max_tokens
        # Two private copies: the caller's tokenizer keeps its own truncation/padding settings.
        self._encoder = Tokenizer.from_str(tokenizer.to_str())
        self._encoder.enable_truncation(max_tokens, strategy="longest_first", direction="right")
        self._encoder.enable_padding(direction="right", pad_id=pad_id, pad_token=pad_token)
        self._probe = Tokenizer.from_str(tokenizer.to_str())
        self._probe.no_truncation()
        self._probe.no_padding()
        self._max_content = max_tokens - self._encoder.num_special_tokens_to_add(False)
        self._first_budget = first_budget_chars or FIRST_BUDGET_CHARS_PER_TOKEN * max_tokens
        self._max_budget = max(
            self._first_budget, max_budget_chars or MAX_BUDGET_CHARS_PER_TOKEN * max_tokens
        )

    def encode(self, texts: Sequence[str]) -> EncodedBatch:
        bounded = [self.bounded(text) for text in texts]
        encodings = self._encoder.encode_batch([text for text, _ in bounded])
        cut_blindly = [cut for _, cut in bounded]
        input_ids = np.array([e.ids for e in encodings], dtype=np.int64)
        attention_mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        return EncodedBatch(
            input_ids=input_ids,
            attention_mask=attention_mask,
            tokens=attention_mask.sum(axis=1).tolist(),
            truncated=[
                bool(e.overflowing) or cut for e, cut in zip(encodings, cut_blindly, strict=True)
            ],
        )

    def bounded(self, text: str) -> tuple[str, bool]:
        """The shortest probed prefix that tokenises like ``text``; ``True`` if cut blindly."""
        budget = self._first_budget
        while budget < len(text):
            prefix = text[:budget]
            if self._holds_the_limit(prefix):
                return prefix, False
            if budget >= self._max_budget:
                return prefix, True
            budget = min(2 * budget, self._max_budget)
        return text, False

    def _holds_the_limit(self, prefix: str) -> bool:
        """More than the limit's tokens come from words that end before the prefix does."""
        words = self._probe.encode(prefix, add_special_tokens=False).word_ids
        if len(words) <= self._max_content:
            return False
        first_dropped, last = words[self._max_content], words[-1]
        return first_dropped is not None and last is not None and first_dropped < last
