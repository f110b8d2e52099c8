"""The payload corpus: seeded texts whose measured token lengths follow the configured mix."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nlp_bench_pipeline.loadgen.corpus import CorpusConfig, PayloadCorpus, token_counter

MIX = {"1-16": 0.1, "17-64": 0.3, "65-128": 0.4, "129-512": 0.2}


@pytest.fixture(scope="module")
def corpus() -> PayloadCorpus:
    return PayloadCorpus.build(CorpusConfig(size=1000, mix=MIX), seed=11)


def test_same_seed_gives_identical_payloads(corpus):
    again = PayloadCorpus.build(CorpusConfig(size=1000, mix=MIX), seed=11)
    assert again.texts == corpus.texts
    assert again.bodies == corpus.bodies


def test_different_seed_gives_different_payloads(corpus):
    other = PayloadCorpus.build(CorpusConfig(size=1000, mix=MIX), seed=12)
    assert other.texts != corpus.texts


def test_length_histogram_matches_the_configured_mix_within_five_percent(corpus):
    config = CorpusConfig(size=1000, mix=MIX)
    histogram = corpus.histogram(config.buckets())
    for label, share in config.shares().items():
        assert histogram[label] == pytest.approx(share, abs=0.05), label


def test_token_counts_are_measured_with_the_real_bert_vocabulary(corpus):
    encoded = token_counter().encode_batch(list(corpus.texts[:200]))
    assert [len(e.ids) for e in encoded] == corpus.tokens[:200].tolist()
    assert encoded[0].tokens[0] == "[CLS]"
    assert encoded[0].tokens[-1] == "[SEP]"
    assert "[UNK]" not in {token for e in encoded for token in e.tokens}


def test_every_length_of_a_bucket_can_occur(corpus):
    assert corpus.tokens.min() >= 3
    assert corpus.tokens.max() <= 512
    assert len(np.unique(corpus.tokens)) > 200


def test_bodies_are_the_single_text_json_the_service_takes(corpus):
    assert json.loads(corpus.bodies[5]) == {"text": corpus.texts[5]}


def test_mix_labels_are_normalised_and_weights_need_not_sum_to_one():
    config = CorpusConfig(mix={" 17 - 64 ": 3, "1-16": 1})
    assert list(config.mix) == ["1-16", "17-64"]
    assert config.shares() == {"1-16": 0.25, "17-64": 0.75}


@pytest.mark.parametrize(
    ("mix", "problem"),
    [
        ({"1-16": 1, "10-64": 1}, "overlap"),
        ({"short": 1}, "low-high"),
        ({"0-16": 1}, "1 <= low"),
        ({"1-600": 1}, "512"),
        ({"1-16": -1}, "non-negative"),
        ({"1-16": 0}, "positive sum"),
        ({"1-2": 1}, "cannot hold a text"),
        ({}, "at least one bucket"),
    ],
)
def test_bad_mixes_are_rejected(mix, problem):
    with pytest.raises(ValueError, match=problem):
        CorpusConfig(mix=mix)
