"""The benchmarks' closed-loop load counts its throughput over the time to the last answer."""

from __future__ import annotations

import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest
import uvloop

from benchmarks.closed_loop import load
from tests.fixtures.threaded_http import serving_in_thread

ANSWER_S = 0.3
WINDOW_S = 0.1


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    answer_s = 0.0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        time.sleep(self.answer_s)
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_: object) -> None:
        pass


class _SlowHandler(_Handler):
    answer_s = ANSWER_S


@pytest.fixture
def slow_server() -> Iterator[str]:
    with serving_in_thread(_SlowHandler) as url:
        yield f"{url}/predict"


@pytest.fixture
def fast_server() -> Iterator[str]:
    with serving_in_thread(_Handler) as url:
        yield f"{url}/predict"


def test_answers_after_the_window_stretch_the_seconds_they_are_counted_over(slow_server: str):
    result = uvloop.run(load(slow_server, 4, WINDOW_S))

    assert result["errors"] == 0
    assert result["requests"] == 4  # each connection's one request, sent inside the window
    assert result["seconds"] >= ANSWER_S  # not the 0.1 s window: the answers came later


def test_a_fast_server_is_measured_over_about_the_window(fast_server: str):
    result = uvloop.run(load(fast_server, 2, WINDOW_S))

    assert result["errors"] == 0
    assert result["requests"] > 2  # many requests a connection
    assert WINDOW_S <= result["seconds"] < WINDOW_S + 0.2
