"""Dynamic micro-batching in front of one inference thread.

Forward passes run one at a time on a dedicated thread (torch already spreads one pass over
``NLP_BENCH_THREADS`` cores; two passes at once would only fight). Requests that arrive while a
pass runs wait together and go in the next pass, up to ``batch_max_size`` texts, padded to the
batch's longest text. With ``batch_max_wait_ms`` > 0 a batch that is not full also waits for
company, until its oldest request has waited that long — never longer, so the wait adds at most
``batch_max_wait_ms`` to any request's latency.

The batcher keeps no background task, only loop callbacks, so it works the same under uvicorn's
long-lived loop and under Mangum, which drives the app one invocation at a time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from inference_service.model import BatchOutput, Prediction


@dataclass(frozen=True)
class EngineResult:
    """What one request gets back: its own slice of a batch, and where its time went."""

    predictions: list[Prediction]
    input_tokens: int
    truncated: bool
    queue_ms: float
    inference_ms: float
    batch_texts: int


class PassObserver(Protocol):
    """Told of each forward pass and each request's wait (the service's metrics)."""

    def observe_pass(self, texts: int, seconds: float) -> None: ...

    def observe_queue(self, seconds: float) -> None: ...


@dataclass
class _Pending:
    texts: Sequence[str]
    future: asyncio.Future[EngineResult]
    enqueued: float


class InferenceEngine:
    """Serialises forward passes and forms batches from whatever queued while the last one ran."""

    def __init__(
        self,
        predict: Callable[[Sequence[str]], BatchOutput],
        max_batch_texts: int = 1,
        max_wait_ms: float = 0.0,
        observer: PassObserver | None = None,
    ) -> None:
        self._predict = predict
        self._observer = observer
        self._max_batch_texts = max_batch_texts
        self._max_wait_s = max_wait_ms / 1000.0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inference")
        self._pending: list[_Pending] = []
        self._busy = False
        self._timer: asyncio.TimerHandle | None = None

    @property
    def queued(self) -> int:
        """Requests waiting for a forward pass."""
        return len(self._pending)

    async def predict(self, texts: Sequence[str]) -> EngineResult:
        loop = asyncio.get_running_loop()
        item = _Pending(texts, loop.create_future(), time.perf_counter())
        self._pending.append(item)
        self._schedule(loop)
        return await item.future

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._busy or not self._pending or self._timer is not None:
            return
        queued_texts = sum(len(p.texts) for p in self._pending)
        waited = time.perf_counter() - self._pending[0].enqueued
        if queued_texts >= self._max_batch_texts or waited >= self._max_wait_s:
            self._dispatch(loop)
        else:
            self._timer = loop.call_later(self._max_wait_s - waited, self._on_timer, loop)

    def _on_timer(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        if not self._busy:
            self._dispatch(loop)

    def _take_batch(self) -> list[_Pending]:
        """Oldest first, up to the size bound; a request larger than the bound goes alone."""
        batch: list[_Pending] = []
        texts = 0
        while self._pending:
            nxt = self._pending[0]
            if batch and texts + len(nxt.texts) > self._max_batch_texts:
                break
            batch.append(self._pending.pop(0))
            texts += len(nxt.texts)
        return batch

    def _dispatch(self, loop: asyncio.AbstractEventLoop) -> None:
        batch = [p for p in self._take_batch() if not p.future.cancelled()]
        if not batch:
            self._schedule(loop)
            return
        self._busy = True
        started = time.perf_counter()
        if self._observer is not None:
            for item in batch:
                self._observer.observe_queue(started - item.enqueued)
        texts = [t for p in batch for t in p.texts]
        job = loop.run_in_executor(self._executor, self._predict, texts)
        job.add_done_callback(lambda done: self._complete(loop, batch, started, done))

    def _complete(
        self,
        loop: asyncio.AbstractEventLoop,
        batch: list[_Pending],
        started: float,
        done: asyncio.Future[BatchOutput],
    ) -> None:
        self._busy = False
        finished = time.perf_counter()
        error = done.exception()
        if error is None and self._observer is not None:
            self._observer.observe_pass(len(done.result().predictions), finished - started)
        offset = 0
        for item in batch:
            n = len(item.texts)
            if item.future.done():
                offset += n
                continue
            if error is not None:
                item.future.set_exception(error)
                continue
            output = done.result()
            item.future.set_result(
                EngineResult(
                    predictions=output.predictions[offset : offset + n],
                    input_tokens=sum(output.input_tokens[offset : offset + n]),
                    truncated=any(output.truncated[offset : offset + n]),
                    queue_ms=(started - item.enqueued) * 1000.0,
                    inference_ms=(finished - started) * 1000.0,
                    batch_texts=len(output.predictions),
                )
            )
            offset += n
        self._schedule(loop)
