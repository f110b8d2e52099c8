"""Bounded tokenisation: a prefix's ids, counts and truncation equal the whole text's."""

from __future__ import annotations

import random
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inference_service.contract import MAX_TOKENS
from inference_service.encoding import MAX_BUDGET_CHARS_PER_TOKEN, TextEncoder

# Pieces a corpus is built from: every kind of text the pre-tokeniser and normaliser treat apart.
PIECES = [
    "the film was a gripping and beautiful story",
    "dull, far too long; and yet?",
    "supercalifragilisticexpialidocious" * 5,  # a long word, still under the [UNK] length
    "x" * 150,  # over WordPiece's 100-character word limit: one [UNK]
    "ünïcödé façade naïve résumé",
    "e\u0301 a\u0308 o\u0302\u0323",  # combining marks, stripped with the accents
    "Ελληνικά кириллица العربية עברית हिन्दी",
    "电影很好看我们都喜欢这个故事",  # CJK: every ideograph is a word
    "日本語のテキスト 한국어 텍스트",
    "😀 👍🏽 👨\u200d👩\u200d👧 🇫🇷😀😀😀",
    "!!!???... -- «quotes» “curly” ‘single’ (brackets) [x] {y}",
    "12,345.67 3.14159 1e10 #hashtag @user http://example.com/a?b=c",
    " " * 300,
    "\t\n\r\t\n",
    "\u3000\u00a0\u2028\u2029\u202f\u205f",
    "\x00\x1c\x1f\x7f\ufffd\u200b\u200d\ufeff",
    "don't can't it's O'Neil's",
]
SEPARATORS = [" ", "", "\n", "  ", "\t", "\u3000"]


def corpus(seed: int, count: int, chars: tuple[int, int]) -> list[str]:
    """Texts of random pieces and separators, of lengths in ``chars`` (seeded, so stable)."""
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        target = rng.randint(*chars)
        parts: list[str] = []
        while sum(map(len, parts)) < target:
            parts += [rng.choice(PIECES), rng.choice(SEPARATORS)]
        texts.append("".join(parts)[:target])
    return texts


def whole_text_reference(tokenizer, texts: list[str], max_tokens: int):
    """The tokenizer's own answer, on whole texts: ids, mask, and whether any token was cut."""
    encoded = tokenizer(texts, truncation=True, max_length=max_tokens, padding=True)
    truncated = [len(tokenizer(t)["input_ids"]) > max_tokens for t in texts]
    return encoded["input_ids"], encoded["attention_mask"], truncated


def assert_same_as_whole_text(tokenizer, encoder: TextEncoder, texts: list[str]) -> None:
    ids, mask, truncated = whole_text_reference(tokenizer, texts, encoder.max_tokens)
    batch = encoder.encode(texts)
    assert batch.input_ids.tolist() == ids
    assert batch.attention_mask.tolist() == mask
    assert batch.truncated == truncated
    assert batch.tokens == [sum(m) for m in mask]


@pytest.fixture(scope="module")
def tokenizer(tiny_model):
    return tiny_model.tokenizer


def encoder_for(tokenizer, max_tokens: int, **budgets: int) -> TextEncoder:
    return TextEncoder(
        tokenizer.backend_tokenizer,
        max_tokens,
        pad_id=tokenizer.pad_token_id,
        pad_token=tokenizer.pad_token,
        **budgets,
    )


@pytest.mark.parametrize("seed", range(4))
def test_texts_around_the_budget_encode_as_whole_texts_do(tokenizer, seed: int) -> None:
    encoder = encoder_for(tokenizer, MAX_TOKENS)
    # From well under the first budget (8 × 512 characters) to several doublings past it.
    assert_same_as_whole_text(tokenizer, encoder, corpus(seed, 12, (50, 20_000)))


@pytest.mark.parametrize("seed", range(6))
def test_small_limits_cut_inside_every_kind_of_text_as_whole_texts_do(tokenizer, seed) -> None:
    # A 16-token limit with a 64-character first budget: the probe decides on nearly every text.
    encoder = encoder_for(tokenizer, 16, first_budget_chars=64)
    assert_same_as_whole_text(tokenizer, encoder, corpus(100 + seed, 40, (1, 3_000)))


TRICKY = st.sampled_from(
    [
        *"ab z.,!?'-",
        *["e\u0301", "x" * 101, " " * 40, "\t", "\n", "\u3000", "\u00a0"],
        *"电影한😀👍\u200d\ufeff\x00\u0301ßİ",
    ]
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pieces=st.lists(TRICKY, max_size=120),
    max_tokens=st.integers(min_value=3, max_value=24),
    first_budget=st.integers(min_value=1, max_value=64),
)
def test_any_text_encodes_as_the_whole_text_when_no_blind_cut_is_allowed(
    tokenizer, pieces: list[str], max_tokens: int, first_budget: int
) -> None:
    encoder = unbounded_encoder(tokenizer, max_tokens, first_budget)
    assert_same_as_whole_text(tokenizer, encoder, ["".join(pieces) or "a"])


@cache
def unbounded_encoder(tokenizer, max_tokens: int, first_budget: int) -> TextEncoder:
    """Encoders are built once per shape: copying a 30,522-word tokenizer takes milliseconds."""
    return encoder_for(
        tokenizer, max_tokens, first_budget_chars=first_budget, max_budget_chars=10**9
    )


@pytest.mark.parametrize(
    "text",
    [
        ("the film was a gripping and beautiful story " * 140_000)[:6_000_000],
        "电影" * 3_000_000,
        "a" * 6_000_000,
        "a" + " " * 6_000_000 + "b",
    ],
    ids=["english", "cjk", "one-word", "whitespace-run"],
)
def test_a_six_megabyte_text_is_tokenised_only_up_to_the_budget(tokenizer, text: str) -> None:
    encoder = encoder_for(tokenizer, MAX_TOKENS)
    prefix, _ = encoder.bounded(text)
    assert text.startswith(prefix)
    assert len(prefix) <= MAX_BUDGET_CHARS_PER_TOKEN * MAX_TOKENS


def test_natural_six_megabyte_text_keeps_the_whole_texts_first_tokens(tokenizer) -> None:
    text = ("the film was a gripping and beautiful story " * 140_000)[:6_000_000]
    encoder = encoder_for(tokenizer, MAX_TOKENS)
    batch = encoder.encode([text])
    ids, _, _ = whole_text_reference(tokenizer, [text[:10_000]], MAX_TOKENS)
    assert batch.input_ids.tolist() == ids
    assert (batch.tokens, batch.truncated) == ([MAX_TOKENS], [True])


def test_text_too_sparse_to_reach_the_limit_within_the_cap_is_cut_and_flagged(tokenizer) -> None:
    # 40,000 characters of one word hold one token; what follows is never looked at.
    encoder = encoder_for(tokenizer, MAX_TOKENS)
    batch = encoder.encode(["x" * 40_000 + " a gripping film"])
    assert batch.tokens == [3]  # [CLS] [UNK] [SEP]
    assert batch.truncated == [True]
