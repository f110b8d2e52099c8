"""The payload corpus: seeded review-like texts with a configured mix of token lengths.

Inference cost grows with the token count, so the mix of lengths is part of the workload and must
be fixed and reproducible. Texts are built from words that are single WordPieces of the real
bert-base-uncased vocabulary, sentence by sentence, to an exact target length; every text is then
counted again with the ``tokenizers`` library over that vocabulary (special tokens included, as the
service's ``timing.input_tokens`` reports it), so the bucket a text is filed under is measured, not
assumed. Generation is offline: it happens before the run starts, never on the request path.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from inference_service.contract import MAX_TOKENS, vocabulary_path

SPECIAL_TOKENS = 2  # [CLS] and [SEP]
_BUCKET = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")

# Common words of film and product reviews; those that are not a single WordPiece are left out
# when the corpus is built, so the exact-length construction below holds.
_REVIEW_TEXT = """
the a an this that it movie film story plot acting actor actress cast director scene scenes
music score ending characters character dialogue script product price quality service delivery
was is were are felt seemed looked sounded became remained stayed had has been
very quite really too so rather pretty fairly truly simply completely totally
good great excellent wonderful amazing brilliant beautiful fun funny charming clever moving
bad terrible awful boring dull slow weak poor cheap broken disappointing confusing predictable
long short loud quiet bright dark warm cold fresh old new strange simple complex honest
and but or yet because while although though since when after before until then also still
i we you they he she my our your their its not never always often sometimes again
love loved like liked hate hated enjoyed watched bought used tried returned recommend expected
"""
REVIEW_WORDS = tuple(_REVIEW_TEXT.split())


@lru_cache(maxsize=1)
def token_counter() -> Any:
    """A fast WordPiece tokenizer over the real bert-base-uncased vocabulary (no transformers)."""
    from tokenizers import BertWordPieceTokenizer

    return BertWordPieceTokenizer(str(vocabulary_path()), lowercase=True)


@dataclass(frozen=True, order=True)
class TokenBucket:
    """An inclusive range of token counts, written ``"17-64"``."""

    low: int
    high: int

    @classmethod
    def parse(cls, text: str) -> TokenBucket:
        match = _BUCKET.match(text)
        if not match:
            raise ValueError(f"token bucket {text!r} is not of the form 'low-high', e.g. '17-64'")
        bucket = cls(int(match.group(1)), int(match.group(2)))
        if not 1 <= bucket.low <= bucket.high <= MAX_TOKENS:
            raise ValueError(f"token bucket {text!r} must satisfy 1 <= low <= high <= {MAX_TOKENS}")
        return bucket

    @property
    def label(self) -> str:
        return f"{self.low}-{self.high}"

    def contains(self, tokens: int) -> bool:
        return self.low <= tokens <= self.high


class CorpusConfig(BaseModel):
    """How many distinct texts, and the share of each token-length bucket."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    size: int = Field(512, ge=1, le=100_000, description="distinct texts in the corpus")
    mix: dict[str, float] = Field(
        default_factory=lambda: {"1-16": 0.25, "17-64": 0.45, "65-128": 0.2, "129-512": 0.1},
        description="token-length bucket 'low-high' -> weight (normalised to 1)",
    )

    @field_validator("mix")
    @classmethod
    def _valid_mix(cls, mix: dict[str, float]) -> dict[str, float]:
        """Canonical labels in bucket order; weights finite, non-negative, not all zero."""
        if not mix:
            raise ValueError("the corpus mix needs at least one bucket")
        if any(not np.isfinite(w) or w < 0 for w in mix.values()) or sum(mix.values()) <= 0:
            raise ValueError("corpus mix weights must be non-negative with a positive sum")
        weights = sorted((TokenBucket.parse(label), w) for label, w in mix.items())
        for (before, _), (after, _) in itertools.pairwise(weights):
            if after.low <= before.high:
                raise ValueError(f"token buckets {before.label} and {after.label} overlap")
        return {bucket.label: w for bucket, w in weights}

    @model_validator(mode="after")
    def _buckets_fit(self) -> CorpusConfig:
        too_short = [b for b in self.buckets() if b.high < SPECIAL_TOKENS + 1]
        if too_short:
            raise ValueError(
                f"bucket {too_short[0].label} cannot hold a text: [CLS] + word + [SEP]"
            )
        return self

    def buckets(self) -> list[TokenBucket]:
        return [TokenBucket.parse(label) for label in self.mix]

    def shares(self) -> dict[str, float]:
        """Bucket label -> normalised share, in bucket order."""
        total = sum(self.mix.values())
        return {label: weight / total for label, weight in self.mix.items()}


@dataclass(frozen=True)
class PayloadCorpus:
    """The texts, their measured token counts, and the JSON request bodies sent for them."""

    texts: tuple[str, ...]
    tokens: np.ndarray  # int32, as the service counts them
    bodies: tuple[bytes, ...]  # '{"text": ...}' encoded once, so the send path does no work

    @classmethod
    def build(cls, config: CorpusConfig, seed: int) -> PayloadCorpus:
        """Texts in exact proportion to the mix (largest remainder), shuffled, from ``seed``."""
        rng = np.random.default_rng(np.random.SeedSequence([seed, 0x0C0A9]))
        words = _single_piece_words()
        targets = _target_lengths(config, rng)
        texts = tuple(_text_of_length(int(n), words, rng) for n in targets)
        tokens = np.array(
            [len(e.ids) for e in token_counter().encode_batch(list(texts))], dtype=np.int32
        )
        if not np.array_equal(tokens, targets):
            raise RuntimeError("corpus construction missed its token targets; vocabulary changed?")
        bodies = tuple(json.dumps({"text": t}).encode() for t in texts)
        return cls(texts=texts, tokens=tokens, bodies=bodies)

    def __len__(self) -> int:
        return len(self.texts)

    def histogram(self, buckets: list[TokenBucket]) -> dict[str, float]:
        """Share of texts per bucket, by measured token count."""
        return {
            b.label: float(np.mean((self.tokens >= b.low) & (self.tokens <= b.high)))
            for b in buckets
        }


@lru_cache(maxsize=1)
def _single_piece_words() -> tuple[str, ...]:
    tokenizer = token_counter()
    return tuple(w for w in dict.fromkeys(REVIEW_WORDS) if tokenizer.token_to_id(w) is not None)


def _target_lengths(config: CorpusConfig, rng: np.random.Generator) -> np.ndarray:
    """Exact bucket counts by largest remainder, a uniform length within each bucket, shuffled."""
    shares = config.shares()
    buckets = config.buckets()
    quotas = np.array([shares[b.label] * config.size for b in buckets])
    counts = np.floor(quotas).astype(int)
    leftover = config.size - counts.sum()
    counts[np.argsort(-(quotas - counts), kind="stable")[:leftover]] += 1
    lengths = [
        rng.integers(max(b.low, SPECIAL_TOKENS + 1), b.high + 1, count)
        for b, count in zip(buckets, counts, strict=True)
    ]
    return rng.permutation(np.concatenate(lengths)).astype(np.int32)


def _text_of_length(tokens: int, words: tuple[str, ...], rng: np.random.Generator) -> str:
    """Sentences of single-piece words and full stops adding up to exactly ``tokens`` tokens."""
    remaining = tokens - SPECIAL_TOKENS
    sentences: list[str] = []
    while remaining > 0:
        # A sentence of n words ends with '.', costing n + 1 tokens; a single leftover token is
        # one last word without a full stop.
        n_words = min(int(rng.integers(4, 16)), remaining - 1) if remaining > 1 else 1
        chosen = [words[i] for i in rng.integers(0, len(words), n_words)]
        sentence = " ".join(chosen).capitalize()
        if remaining > 1:
            sentence += "."
        sentences.append(sentence)
        remaining -= n_words + (1 if remaining > 1 else 0)
    return " ".join(sentences)
