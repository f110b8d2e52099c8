"""Closed-loop keep-alive HTTP load, in a process of its own, for benchmarks of the fronts.

``python -m benchmarks.closed_loop URL --connections N --seconds S`` prints one JSON object:
requests, errors, seconds (until the last answer) and every latency in milliseconds. Each
connection sends the next request as soon as the previous response is complete. It runs apart
from the process under test so the two never share a GIL, and it is uvloop + httptools over raw
sockets so its own cost per request stays in the tens of microseconds (any HTTP library would
add more than the Service under test). Imports nothing of the project: it starts in a fraction
of a second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httptools
import uvloop

ROOT = Path(__file__).resolve().parents[1]
BODY = b'{"text": "a gripping, beautiful film"}'


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.done: asyncio.Future[int] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_message_complete(self) -> None:
        if self.done is not None:
            self.done.set_result(self.parser.get_status_code())

    def connection_lost(self, exc: Exception | None) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_exception(ConnectionError("connection closed"))

    async def send(self, request: bytes) -> int:
        assert self.transport is not None
        self.done = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self.done


async def _connection_loop(
    host: str, port: int, request: bytes, until: float, latencies: list[float], errors: list[int]
) -> None:
    loop = asyncio.get_running_loop()
    _, connection = await loop.create_connection(_Connection, host, port)
    while time.perf_counter() < until:
        started = time.perf_counter()
        status = await connection.send(request)
        latencies.append((time.perf_counter() - started) * 1000.0)
        if status != 200:
            errors.append(status)


async def load(
    url: str, connections: int, seconds: float, *, body: bytes = BODY
) -> dict[str, object]:
    """``connections`` keep-alive connections POSTing ``body`` for ``seconds``; the result is
    what the command prints (``benchmarks.inference_load`` sends its own body through here).

    Each connection sends its last request before ``seconds`` are up and waits for its answer,
    so the result's ``seconds`` is the time until the last answer, not ``seconds``: requests
    over it is the throughput. (Over the nominal window, a slow service's last round of
    answers — up to one per connection — counted as if served inside it: unbatched at 64
    connections that overstated the rate by half.)"""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = (
        b"POST %s HTTP/1.1\r\nhost: %s:%d\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\n\r\n%s"
    ) % ((parts.path or "/").encode(), host.encode(), port, len(body), body)
    latencies: list[float] = []
    errors: list[int] = []
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(
        *(
            _connection_loop(host, port, request, until, latencies, errors)
            for _ in range(connections)
        )
    )
    return {
        "requests": len(latencies),
        "errors": len(errors),
        "seconds": time.perf_counter() - started,
        "latencies_ms": latencies,
    }


def measure(url: str, connections: int, seconds: float) -> dict[str, object]:
    """Run the load in a child process and return its result."""
    command = [
        sys.executable,
        "-m",
        "benchmarks.closed_loop",
        url,
        "--connections",
        str(connections),
        "--seconds",
        str(seconds),
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, check=True, timeout=seconds + 60, cwd=ROOT
    )
    return json.loads(done.stdout)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.closed_loop", description=__doc__)
    parser.add_argument("url", help="e.g. http://127.0.0.1:9100/predict")
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args(argv)
    result = uvloop.run(load(args.url, args.connections, args.seconds))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
