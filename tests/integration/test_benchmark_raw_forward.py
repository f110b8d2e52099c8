"""The saturation benchmark's raw forward passes: a process loaded from the service's settings."""

from __future__ import annotations

import os

import pytest

from benchmarks.raw_forward import RawForward

pytestmark = pytest.mark.slow  # starts a model-loading process


@pytest.fixture
def tiny_env(model_cache) -> dict[str, str]:
    return {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "NLP_BENCH_MODEL": "tiny",
        "NLP_BENCH_THREADS": "1",
        "NLP_BENCH_MODEL_CACHE": str(model_cache),
    }


def test_the_child_answers_a_rate_per_request_and_stops_when_closed(tiny_env) -> None:
    with RawForward(tiny_env) as forward:
        one = forward.rate(16, 1, 0.05)
        four = forward.rate(16, 4, 0.05)
        assert one > 0
        assert four > 0
        child = forward._child
    assert child.returncode == 0


def test_a_child_that_cannot_load_its_model_says_so(tmp_path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "NLP_BENCH_MODEL": str(tmp_path / "absent")}
    with pytest.raises(RuntimeError, match=r"ended \(exit 1\)") as raised:
        RawForward(env)
    assert "is neither" in str(raised.value)  # the tail of its log: the settings error


def test_a_child_that_dies_mid_protocol_is_reaped_and_says_why(tiny_env) -> None:
    forward = RawForward(tiny_env)
    forward._child.stdin.write("not a request\n")
    forward._child.stdin.flush()
    with pytest.raises(RuntimeError, match="ended") as raised:
        forward._read()
    assert "ValueError" in str(raised.value)
    forward.close()
    assert forward._child.returncode not in (None, 0)
