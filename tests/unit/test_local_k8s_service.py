"""The Service proxy against in-process fake pods: balancing, readiness gating, its own errors."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable

import httptools
import httpx

from nlp_bench_pipeline.core.processes import free_port
from nlp_bench_pipeline.targets.local_k8s.service import ServiceProxy

Behaviour = Callable[["FakePod"], Awaitable[bool]]  # False: close instead of answering


class FakePod(asyncio.Protocol):
    """Answers each request with its name, after ``behaviour`` allows it."""

    def __init__(self, name: str, behaviour: Behaviour | None) -> None:
        self.name = name
        self.behaviour = behaviour
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_message_complete(self) -> None:
        asyncio.get_running_loop().create_task(self._answer())

    async def _answer(self) -> None:
        assert self.transport is not None
        if self.behaviour is not None and not await self.behaviour(self):
            self.transport.close()
            return
        body = self.name.encode()
        self.transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))


async def start_pod(name: str, behaviour: Behaviour | None = None) -> tuple[asyncio.Server, int]:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: FakePod(name, behaviour), "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def run(coro: Awaitable[None]) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


async def served_by(client: httpx.AsyncClient, n: int) -> collections.Counter[str]:
    responses = [await client.post("/predict", content=b"{}") for _ in range(n)]
    return collections.Counter(
        r.text if r.status_code == 200 else str(r.status_code) for r in responses
    )


def test_no_ready_endpoint_answers_503() -> None:
    async def scenario() -> None:
        proxy = ServiceProxy(upstream_timeout_s=5.0)
        port = await proxy.start()
        async with httpx.AsyncClient() as client:
            response = await client.post(f"http://127.0.0.1:{port}/predict", json={"text": "x"})
        await proxy.close()
        assert response.status_code == 503
        assert response.json()["detail"] == "no ready endpoints"

    run(scenario())


async def _with_service(body: Callable[[ServiceProxy, httpx.AsyncClient], Awaitable[None]]) -> None:
    proxy = ServiceProxy(upstream_timeout_s=0.5)
    port = await proxy.start()
    limits = httpx.Limits(max_connections=1)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits) as client:
        await body(proxy, client)
    await proxy.close()


def test_requests_on_one_keep_alive_connection_alternate_between_pods() -> None:
    async def body(proxy: ServiceProxy, client: httpx.AsyncClient) -> None:
        for name in ("a", "b"):
            _, port = await start_pod(name)
            proxy.add(name, port)
        assert await served_by(client, 10) == {"a": 5, "b": 5}

    run(_with_service(body))


def test_a_removed_endpoint_gets_no_new_requests() -> None:
    async def body(proxy: ServiceProxy, client: httpx.AsyncClient) -> None:
        for name in ("a", "b"):
            _, port = await start_pod(name)
            proxy.add(name, port)
        proxy.remove("a")
        assert await served_by(client, 4) == {"b": 4}

    run(_with_service(body))


def test_a_refused_connection_is_retried_on_the_next_pod() -> None:
    async def body(proxy: ServiceProxy, client: httpx.AsyncClient) -> None:
        proxy.add("dead", free_port())
        _, port = await start_pod("alive")
        proxy.add("alive", port)
        assert await served_by(client, 4) == {"alive": 4}

    run(_with_service(body))


def test_a_pod_closing_the_connection_mid_request_gives_502() -> None:
    async def close_instead(_: FakePod) -> bool:
        return False

    async def body(proxy: ServiceProxy, client: httpx.AsyncClient) -> None:
        _, port = await start_pod("crashing", close_instead)
        proxy.add("crashing", port)
        assert await served_by(client, 2) == {"502": 2}

    run(_with_service(body))


def test_a_pod_that_does_not_answer_in_time_gives_504() -> None:
    async def stall(_: FakePod) -> bool:
        await asyncio.sleep(5)
        return True

    async def body(proxy: ServiceProxy, client: httpx.AsyncClient) -> None:
        _, port = await start_pod("stalled", stall)
        proxy.add("stalled", port)
        assert await served_by(client, 1) == {"504": 1}

    run(_with_service(body))


def test_average_in_flight_is_measured_per_pod() -> None:
    async def slow(_: FakePod) -> bool:
        await asyncio.sleep(0.2)
        return True

    async def body(proxy: ServiceProxy, client: httpx.AsyncClient) -> None:
        _, port = await start_pod("slow", slow)
        proxy.add("slow", port)
        proxy.average_inflight("slow")  # opens the window
        async with httpx.AsyncClient(base_url=client.base_url) as many:
            await asyncio.gather(*[many.post("/predict", content=b"{}") for _ in range(4)])
        value = proxy.average_inflight("slow")
        assert value is not None
        assert 2.0 < value <= 4.0

    run(_with_service(body))
