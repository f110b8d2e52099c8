"""A trivial ``/predict`` endpoint for calibrating the load generator, and for testing it.

It speaks enough of the service's contract — the ``x-nlp-bench-*`` headers and the ``timing``
body — that its rows look like real ones, costs next to nothing, and can stall on purpose:
with ``NLP_BENCH_LOOPBACK_STALL_AFTER_S`` and ``NLP_BENCH_LOOPBACK_STALL_S`` set, every request
arriving in the window that opens that long after the first ``/predict`` is held until the window
closes. ``GET /arrivals`` returns when each ``/predict`` request arrived and the stall window, so a
test can count arrivals at the server rather than trust the generator's own account.

Raw ASGI under uvicorn (uvloop, httptools, TCP_NODELAY, one send per response):
``python -m uvicorn nlp_bench_pipeline.loadgen.loopback:app --host 127.0.0.1 --port 8000``, or
:func:`serve` from Python.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from inference_service.contract import COLD_START_HEADER, ENVIRONMENT_HEADER, send_json

Scope = dict[str, Any]
STALL_AFTER_ENV = "NLP_BENCH_LOOPBACK_STALL_AFTER_S"
STALL_ENV = "NLP_BENCH_LOOPBACK_STALL_S"
PREDICTION = (
    b'{"predictions":[{"label":"POSITIVE","score":0.5}],'
    b'"timing":{"server_ms":%.3f,"input_tokens":%d}}'
)


class LoopbackEndpoint:
    """Answers ``POST /predict`` at once (or after the stall) and remembers every arrival."""

    def __init__(self, stall_after_s: float | None, stall_s: float) -> None:
        self.stall_after_s = stall_after_s
        self.stall_s = stall_s
        self.arrivals: list[float] = []
        self.environment_id = f"loopback-{os.getpid()}"

    @classmethod
    def from_env(cls) -> LoopbackEndpoint:
        after = os.environ.get(STALL_AFTER_ENV)
        return cls(float(after) if after else None, float(os.environ.get(STALL_ENV, "0")))

    def stall_window(self) -> tuple[float, float] | None:
        if self.stall_after_s is None or not self.arrivals:
            return None
        start = self.arrivals[0] + self.stall_after_s
        return start, start + self.stall_s

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/arrivals":
            body = json.dumps({"arrivals": self.arrivals, "stall": self.stall_window()}).encode()
            await send_json(send, 200, body)
            return
        arrived = time.time()
        self.arrivals.append(arrived)
        spaces = 0
        more = True
        while more:  # the body must be read before answering, as a real service would
            message = await receive()
            spaces += message.get("body", b"").count(b" ")
            more = message.get("more_body", False)
        window = self.stall_window()
        if window and window[0] <= arrived < window[1]:
            await asyncio.sleep(window[1] - arrived)
        cold = b"1" if len(self.arrivals) == 1 else b"0"
        # A rough token count (words + [CLS] + [SEP]): this endpoint has no tokenizer.
        body = PREDICTION % ((time.time() - arrived) * 1000.0, spaces + 3)
        headers = [
            (ENVIRONMENT_HEADER.encode(), self.environment_id.encode()),
            (COLD_START_HEADER.encode(), cold),
        ]
        await send_json(send, 200, body, headers)


app = LoopbackEndpoint.from_env()


@contextlib.contextmanager
def serve(
    log_dir: Path, *, stall_after_s: float | None = None, stall_s: float = 0.0
) -> Iterator[str]:
    """Run the endpoint under uvicorn on a free loopback port; yields its base URL."""
    import httpx  # here, not above: the server process imports this module for ``app`` alone

    from nlp_bench_pipeline.core.processes import ChildProcess, free_port, python_command

    port = free_port()
    env = {STALL_ENV: str(stall_s)}
    if stall_after_s is not None:
        env[STALL_AFTER_ENV] = str(stall_after_s)
    command = python_command(
        "-m", "uvicorn", f"{__name__}:app", "--host=127.0.0.1", f"--port={port}",
        "--no-access-log", "--log-level=warning",
    )  # fmt: skip
    child = ChildProcess.start(
        f"loopback-{port}", command, owner=f"loopback-{port}", env=env, log_dir=log_dir
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if not child.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"loopback endpoint did not start:\n{child.log_tail()}")
            with contextlib.suppress(httpx.TransportError):
                httpx.get(f"{url}/arrivals", timeout=1)
                break
            time.sleep(0.1)
        yield url
    finally:
        child.stop(grace_s=3)


def arrivals(url: str) -> tuple[list[float], tuple[float, float] | None]:
    """When each ``/predict`` arrived at a running endpoint, and its stall window."""
    import httpx

    body = httpx.get(f"{url}/arrivals", timeout=5).json()
    return body["arrivals"], tuple(body["stall"]) if body["stall"] else None
