"""The saturation benchmark's raw forward passes: a process loaded from the service's settings."""

from __future__ import annotations

import os

import pytest

from benchmarks.raw_forward import RawForward


def test_the_child_answers_a_rate_per_request_and_stops_when_closed(model_cache) -> None:
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "NLP_BENCH_MODEL": "tiny",
        "NLP_BENCH_THREADS": "1",
        "NLP_BENCH_MODEL_CACHE": str(model_cache),
    }
    with RawForward(env) as forward:
        one = forward.rate(16, 1, 0.05)
        four = forward.rate(16, 4, 0.05)
        assert one > 0
        assert four > 0
        child = forward._child
    assert child.returncode == 0


def test_a_child_that_cannot_load_its_model_says_so(tmp_path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "NLP_BENCH_MODEL": str(tmp_path / "absent")}
    with pytest.raises(RuntimeError, match=r"did not start|ended"):
        RawForward(env)
