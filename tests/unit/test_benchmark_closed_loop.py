"""The benchmarks' closed-loop load counts its throughput over the time to the last answer."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import uvloop

from benchmarks.closed_loop import load

ANSWER_S = 0.3
WINDOW_S = 0.1


class _SlowHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        time.sleep(ANSWER_S)
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def slow_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/predict"
    finally:
        server.shutdown()
        server.server_close()


def test_answers_after_the_window_stretch_the_seconds_they_are_counted_over(slow_server: str):
    result = uvloop.run(load(slow_server, 4, WINDOW_S))

    assert result["errors"] == 0
    assert result["requests"] == 4  # each connection's one request, sent inside the window
    assert result["seconds"] >= ANSWER_S  # not the 0.1 s window: the answers came later
    # the rate the numbers give is what a server answering in 0.3 s can do on 4 connections
    assert result["requests"] / result["seconds"] <= 4 / ANSWER_S
