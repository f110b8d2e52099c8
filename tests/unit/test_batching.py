"""Dynamic micro-batching: one forward pass at a time, batches formed from what queued meanwhile."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence

import pytest

from inference_service.batching import InferenceEngine
from inference_service.model import BatchOutput, Prediction


class RecordingModel:
    """Stands in for the model: records each forward pass and can be held open by a test."""

    def __init__(self, pass_seconds: float = 0.0) -> None:
        self.passes: list[list[str]] = []
        self.pass_seconds = pass_seconds
        self.concurrent = 0
        self.max_concurrent = 0
        self._lock = threading.Lock()

    def __call__(self, texts: Sequence[str]) -> BatchOutput:
        with self._lock:
            self.concurrent += 1
            self.max_concurrent = max(self.max_concurrent, self.concurrent)
        time.sleep(self.pass_seconds)
        self.passes.append(list(texts))
        with self._lock:
            self.concurrent -= 1
        return BatchOutput(
            predictions=[Prediction("POSITIVE", 0.9) for _ in texts],
            input_tokens=[len(t) for t in texts],
            truncated=[t == "long" for t in texts],
        )


def run(coro):
    return asyncio.run(coro)


def test_idle_engine_runs_a_request_at_once_without_waiting() -> None:
    model = RecordingModel()
    engine = InferenceEngine(model, max_batch_texts=8, max_wait_ms=0)
    result = run(engine.predict(["abc"]))
    assert model.passes == [["abc"]]
    assert result.input_tokens == 3
    assert result.queue_ms < 50


def test_batch_size_one_never_runs_two_passes_at_once() -> None:
    model = RecordingModel(pass_seconds=0.02)
    engine = InferenceEngine(model, max_batch_texts=1)

    async def burst():
        return await asyncio.gather(*(engine.predict([f"t{i}"]) for i in range(5)))

    results = run(burst())
    assert [len(p) for p in model.passes] == [1, 1, 1, 1, 1]
    assert model.max_concurrent == 1
    assert results[-1].queue_ms > results[0].queue_ms


def test_requests_arriving_during_a_pass_share_the_next_one() -> None:
    model = RecordingModel(pass_seconds=0.05)
    engine = InferenceEngine(model, max_batch_texts=8)

    async def burst():
        return await asyncio.gather(*(engine.predict([f"t{i}"]) for i in range(4)))

    results = run(burst())
    assert model.passes == [["t0"], ["t1", "t2", "t3"]]
    assert [r.batch_texts for r in results] == [1, 3, 3, 3]
    assert [r.predictions[0].label for r in results] == ["POSITIVE"] * 4


def test_batches_respect_the_size_bound_and_keep_order() -> None:
    model = RecordingModel(pass_seconds=0.02)
    engine = InferenceEngine(model, max_batch_texts=3)

    async def burst():
        return await asyncio.gather(
            engine.predict(["a"]),
            engine.predict(["b", "c"]),
            engine.predict(["d", "e"]),
            engine.predict(["f"]),
        )

    results = run(burst())
    assert model.passes == [["a"], ["b", "c"], ["d", "e", "f"]]
    assert [r.input_tokens for r in results] == [1, 2, 2, 1]


def test_request_larger_than_the_bound_runs_alone() -> None:
    model = RecordingModel()
    engine = InferenceEngine(model, max_batch_texts=2)
    result = run(engine.predict(["a", "b", "c", "d"]))
    assert model.passes == [["a", "b", "c", "d"]]
    assert len(result.predictions) == 4


def test_wait_gathers_company_for_an_idle_engine() -> None:
    model = RecordingModel()
    engine = InferenceEngine(model, max_batch_texts=4, max_wait_ms=50)

    async def staggered():
        first = asyncio.ensure_future(engine.predict(["a"]))
        await asyncio.sleep(0.01)
        second = asyncio.ensure_future(engine.predict(["b"]))
        return await asyncio.gather(first, second)

    results = run(staggered())
    assert model.passes == [["a", "b"]]
    assert results[0].queue_ms >= 40


def test_full_batch_does_not_wait_out_the_timer() -> None:
    model = RecordingModel()
    engine = InferenceEngine(model, max_batch_texts=2, max_wait_ms=5_000)
    started = time.perf_counter()
    run(engine.predict(["a", "b"]))
    assert time.perf_counter() - started < 1.0


def test_each_request_gets_its_own_truncation_flag() -> None:
    engine = InferenceEngine(RecordingModel(pass_seconds=0.02), max_batch_texts=8)

    async def burst():
        return await asyncio.gather(
            engine.predict(["x"]), engine.predict(["long"]), engine.predict(["y"])
        )

    assert [r.truncated for r in run(burst())] == [False, True, False]


def test_a_failed_pass_fails_only_its_requests() -> None:
    calls = {"n": 0}

    def flaky(texts: Sequence[str]) -> BatchOutput:
        calls["n"] += 1
        time.sleep(0.02)
        if calls["n"] == 1:
            raise RuntimeError("boom")
        return RecordingModel()(texts)

    engine = InferenceEngine(flaky, max_batch_texts=1)

    async def two():
        return await asyncio.gather(
            engine.predict(["a"]), engine.predict(["b"]), return_exceptions=True
        )

    first, second = run(two())
    assert isinstance(first, RuntimeError)
    assert second.predictions[0].label == "POSITIVE"


def test_engine_works_across_event_loops_as_under_mangum() -> None:
    engine = InferenceEngine(RecordingModel(), max_batch_texts=4)
    for _ in range(3):
        assert run(engine.predict(["again"])).input_tokens == 5


@pytest.mark.parametrize("wait_ms", [0, 5])
def test_cancelled_request_does_not_stall_the_queue(wait_ms: float) -> None:
    model = RecordingModel(pass_seconds=0.03)
    engine = InferenceEngine(model, max_batch_texts=1, max_wait_ms=wait_ms)

    async def scenario():
        first = asyncio.ensure_future(engine.predict(["a"]))
        doomed = asyncio.ensure_future(engine.predict(["b"]))
        await asyncio.sleep(0)
        doomed.cancel()
        third = await engine.predict(["c"])
        await first
        return third

    assert run(scenario()).predictions
    assert ["b"] not in model.passes


def test_wait_counts_from_the_oldest_arrival_not_from_the_end_of_the_last_pass() -> None:
    # "a" waits out the timer and runs alone (0.3 s); "b" arrives during that pass and has waited
    # longer than the max wait when it ends, so it runs at once instead of waiting again.
    model = RecordingModel(pass_seconds=0.3)
    engine = InferenceEngine(model, max_batch_texts=4, max_wait_ms=100)

    async def scenario():
        first = asyncio.ensure_future(engine.predict(["a"]))
        await asyncio.sleep(0.2)
        second = await engine.predict(["b"])
        return await first, second

    first, second = run(scenario())
    assert model.passes == [["a"], ["b"]]
    # Waiting again would put b's queue time at 0.2 s of pass + 0.1 s of timer.
    assert second.queue_ms < first.inference_ms
