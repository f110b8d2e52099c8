"""An event loop on a daemon thread, so a platform's servers run behind a synchronous API.

Both local targets are called from plain code (tests, a Dagster asset, the command line) that
must not own an event loop; everything asynchronous is submitted here and waited for. uvloop,
because the fronts (gateway, Runtime API, Service) sit on every request's path.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import uvloop

T = TypeVar("T")


class BackgroundLoop:
    """Starts on construction; ``run`` a coroutine or ``call`` a function there; ``close`` once."""

    def __init__(self, name: str) -> None:
        self.loop = uvloop.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def call(self, function: Callable[..., T], *args: Any, timeout: float | None = None) -> T:
        """Run a plain function on the loop: asyncio objects must be created there, and state
        read there is consistent between the loop's steps."""

        async def invoke() -> T:
            return function(*args)

        return self.run(invoke(), timeout)

    def close(self) -> None:
        """Cancel what is still running, join worker threads, stop the loop and its thread."""
        if self.loop.is_closed():
            return
        self.run(_finish(), timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()


async def _finish() -> None:
    """Cancel leftover tasks (e.g. a client connection's last forward), then the executor."""
    current = asyncio.current_task()
    leftover = [t for t in asyncio.all_tasks() if t is not current]
    for task in leftover:
        task.cancel()
    await asyncio.gather(*leftover, return_exceptions=True)
    await asyncio.get_running_loop().shutdown_default_executor()
