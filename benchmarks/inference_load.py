"""Closed-loop keep-alive load with a chosen body, in a process of its own (see closed_loop.py).

``python -m benchmarks.inference_load URL --body-file F --connections N --seconds S`` prints the
same JSON object as ``benchmarks.closed_loop``, from the same load (``closed_loop.load``: uvloop +
httptools over raw sockets, tens of microseconds a request); only the body differs, so the
service's saturation can be measured at chosen token lengths.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import uvloop

from benchmarks.closed_loop import load

ROOT = Path(__file__).resolve().parents[1]


def measure(url: str, body: bytes, connections: int, seconds: float) -> dict[str, object]:
    """Run the load in a child process and return its result."""
    with tempfile.NamedTemporaryFile(suffix=".json") as handle:
        handle.write(body)
        handle.flush()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.inference_load",
                url,
                "--body-file",
                handle.name,
                "--connections",
                str(connections),
                "--seconds",
                str(seconds),
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 60,
            cwd=ROOT,
        )
    return json.loads(done.stdout)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.inference_load", description=__doc__
    )
    parser.add_argument("url", help="e.g. http://127.0.0.1:8000/predict")
    parser.add_argument("--body-file", type=Path, required=True, help="the request body")
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args(argv)
    body = args.body_file.read_bytes()
    print(json.dumps(uvloop.run(load(args.url, args.connections, args.seconds, body=body))))


if __name__ == "__main__":
    main()
