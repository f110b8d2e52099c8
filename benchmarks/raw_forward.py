"""Raw forward passes in a process of their own, loaded as the service loads its model.

The saturation benchmark sets the service's throughput over HTTP against this: the same model,
loaded from the same environment (``ServiceSettings()`` reads ``NLP_BENCH_*`` as the server
does) in a fresh interpreter, so neither the benchmark process's history (other sections' models
and runtimes loaded before it) nor its own threads bend the baseline. Measured in the benchmark
process instead, the raw pass came out slower than the same pass behind HTTP (128 tokens × 8:
HTTP at 1.13× "raw", together with a throughput count that credited answers after the window
to it; see docs/adr/0042).

``python -m benchmarks.raw_forward`` prints ``ready``, then answers each stdin line
``TOKENS BATCH SECONDS`` with the texts per second of back-to-back passes on that batch.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from contextlib import suppress
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class RawForward:
    """The child process, asked for one rate at a time; its stderr goes to a log of its own."""

    def __init__(self, env: dict[str, str]) -> None:
        self._log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed by close()
        self._child = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.raw_forward"],
            env=env,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        try:
            if self._read() != "ready":
                raise RuntimeError(f"raw forward process did not start:\n{self._log_tail()}")
        except BaseException:
            self.close()
            raise

    def rate(self, tokens: int, batch: int, seconds: float) -> float:
        """Texts per second of back-to-back forward passes of ``batch`` texts of ``tokens``."""
        try:
            self._child.stdin.write(f"{tokens} {batch} {seconds}\n")
            self._child.stdin.flush()
        except BrokenPipeError:
            self._read()  # raises, with the child's exit and its log
        return float(self._read())

    def close(self) -> None:
        """Ask the child to stop (end of its input), and make sure it has."""
        with suppress(OSError):
            self._child.stdin.close()
        try:
            self._child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._child.kill()
            self._child.wait()
        self._child.stdout.close()
        self._log.close()

    def __enter__(self) -> RawForward:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _read(self) -> str:
        line = self._child.stdout.readline().strip()
        if not line:
            with suppress(subprocess.TimeoutExpired):
                self._child.wait(timeout=5)
            raise RuntimeError(
                f"raw forward process ended (exit {self._child.returncode}):\n{self._log_tail()}"
            )
        return line

    def _log_tail(self, lines: int = 20) -> str:
        self._log.seek(0)
        return "".join(self._log.readlines()[-lines:])


def _rate(model, batch, seconds: float) -> float:
    model.classifier(batch.input_ids, batch.attention_mask)  # the first pass is not timed
    passes, started = 0, time.perf_counter()
    while passes < 3 or time.perf_counter() - started < seconds:
        model.classifier(batch.input_ids, batch.attention_mask)
        passes += 1
    return passes * len(batch.tokens) / (time.perf_counter() - started)


def main() -> None:
    from benchmarks.service import text_of_tokens
    from inference_service.model import load_model
    from inference_service.settings import ServiceSettings

    model = load_model(ServiceSettings())
    encoded = {}
    print("ready", flush=True)
    for line in sys.stdin:
        tokens, batch, seconds = line.split()
        key = (int(tokens), int(batch))
        if key not in encoded:
            text = text_of_tokens(model.tokenizer, key[0])
            encoded[key] = model.encoder.encode([text] * key[1])
        print(f"{_rate(model, encoded[key], float(seconds)):.3f}", flush=True)


if __name__ == "__main__":
    main()
