"""The app under a real uvicorn server (in a thread): what reaches a client over TCP."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from inference_service.app import create_app
from inference_service.http_protocol import (
    JsonErrorH11Protocol,
    JsonErrorHttpProtocol,
    JsonErrorHttpToolsProtocol,
)
from inference_service.settings import ServiceSettings

PROTOCOLS = [JsonErrorH11Protocol, JsonErrorHttpToolsProtocol]


@contextlib.contextmanager
def serving(app, protocol) -> Iterator[int]:
    """uvicorn with ``protocol`` on a free loopback port, in a thread; yields the port."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, http=protocol, lifespan="off", log_config=None
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not (server.started and server.servers):
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def exchange(port: int, raw: bytes, timeout_s: float = 5) -> bytes:
    """Send ``raw`` and read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as conn:
        conn.sendall(raw)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.fixture(scope="module")
def app(model_cache, tiny_model):
    return create_app(ServiceSettings(model="tiny", model_cache=model_cache, threads=1), tiny_model)


@pytest.mark.parametrize(
    "raw",
    [
        b"GARBAGE-LINE-\xff\xfe\r\n\r\n",
        b"POST /predict HTTP/1.1\r\nHost: x\r\nBad Header-\x01: v\r\n\r\n",
        b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: nope-secret\r\n\r\n",
    ],
    ids=["request-line", "header-name", "content-length"],
)
@pytest.mark.parametrize("protocol", PROTOCOLS, ids=lambda p: p.__name__)
def test_malformed_http_gets_a_json_400_that_echoes_nothing(app, protocol, raw: bytes) -> None:
    with serving(app, protocol) as port:
        answer = exchange(port, raw)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert b"content-type: application/json" in head.lower()
    assert json.loads(body) == {"message": "malformed HTTP request", "detail": None}
    for sent in (b"GARBAGE", b"Bad Header", b"nope-secret"):
        assert sent not in answer


def test_the_default_protocol_is_uvicorns_auto_choice_with_json_errors() -> None:
    assert JsonErrorHttpProtocol is (JsonErrorHttpToolsProtocol or JsonErrorH11Protocol)


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=lambda p: p.__name__)
def test_well_formed_requests_pass_through_the_protocol_unchanged(app, protocol) -> None:
    body = b'{"text": "a gripping, beautiful film"}'
    request = (
        b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Connection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    with serving(app, protocol) as port:
        answer = exchange(port, request)
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert json.loads(payload)["timing"]["input_tokens"] == 7
