"""How far a runtime × precision strays from torch fp32 on a fixed corpus (issue 15).

Three figures: the largest change of any probability, the largest change of any logit, and the
label agreement on the items whose fp32 margin (top logit less the next) exceeds that logit
error. On the synthetic model's random weights most margins are tiny, so plain agreement says
little; agreement where the margin is wider than the error is what a real model's confident
answers would see. The corpus is fixed (seeded), so every run compares the same texts.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass

import numpy as np

from inference_service.runtime import softmax

_OPENINGS = [
    "the film",
    "this restaurant",
    "the new phone",
    "our stay at the hotel",
    "the second season",
    "the concert last night",
    "her latest novel",
    "the customer service",
]
_VERDICTS = [
    "was a gripping and beautiful story",
    "was dull and far too long",
    "felt honest, warm and surprisingly funny",
    "was a complete waste of money",
    "exceeded every expectation we had",
    "broke after two days and nobody answered our emails",
    "is the best thing I have seen this year",
    "left me bored, tired and a little annoyed",
    "was fine, neither good nor bad",
    "had moments of brilliance buried in a confused plot",
]
_ASIDES = [
    "and the ending made the whole family cry",
    "although the first hour drags badly",
    "so I would recommend it to anyone",
    "but the price is hard to justify",
    "with a cast that clearly loved the material",
    "and I will never go back",
]


def fidelity_corpus(count: int = 200, seed: int = 15) -> list[str]:
    """``count`` review-like texts of 8 to about 120 tokens, the same on every run."""
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        sentences = [
            f"{rng.choice(_OPENINGS)} {rng.choice(_VERDICTS)}"
            + (f", {rng.choice(_ASIDES)}" if rng.random() < 0.6 else "")
            + "."
            for _ in range(rng.choice([1, 1, 2, 3, 5]))
        ]
        texts.append(" ".join(sentences))
    return texts


@dataclass(frozen=True)
class Fidelity:
    """A configuration's logits set against fp32's for the same texts."""

    items: int
    max_abs_probability_error: float
    max_abs_logit_error: float
    confident_items: int  # fp32 margin > max_abs_logit_error
    confident_label_agreement: float  # share of those whose label is fp32's
    label_agreement: float  # share of all items (says little on random weights)

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def compare(reference: np.ndarray, candidate: np.ndarray) -> Fidelity:
    """``candidate`` logits against ``reference`` (fp32) logits, both ``[items, labels]``."""
    reference = reference.astype(np.float64)
    candidate = candidate.astype(np.float64)
    logit_error = float(np.abs(candidate - reference).max())
    probability_error = float(np.abs(softmax(candidate) - softmax(reference)).max())
    ordered = np.sort(reference, axis=-1)
    margins = ordered[:, -1] - ordered[:, -2]
    agree = reference.argmax(axis=-1) == candidate.argmax(axis=-1)
    confident = margins > logit_error
    return Fidelity(
        items=len(reference),
        max_abs_probability_error=probability_error,
        max_abs_logit_error=logit_error,
        confident_items=int(confident.sum()),
        confident_label_agreement=float(agree[confident].mean()) if confident.any() else 1.0,
        label_agreement=float(agree.mean()),
    )
