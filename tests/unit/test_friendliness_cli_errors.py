"""Each command-line mistake the issue lists ends in one line naming the setting, the value and
what is allowed, and exit code 2, before anything starts (issue 14)."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterator

import pytest

from nlp_bench_pipeline.cli import main as nlp_bench
from nlp_bench_pipeline.loadgen import runner
from nlp_bench_pipeline.targets.local_k8s import __main__ as local_k8s
from nlp_bench_pipeline.targets.local_lambda import __main__ as local_lambda


@contextlib.contextmanager
def port_in_use() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def exit_with(command: Callable[[list[str]], object], argv: list[str]) -> None:
    """A command that returns its code and one that exits with it, alike."""
    raise SystemExit(command(argv))


def one_line_exit_2(command: Callable[[list[str]], object], argv: list[str], capsys) -> str:
    """Run ``command(argv)``; it must exit 2 with exactly one line on stderr, which is returned."""
    with pytest.raises(SystemExit) as exited:
        exit_with(command, argv)
    assert exited.value.code == 2
    captured = capsys.readouterr()
    [line] = captured.err.strip().splitlines()
    assert "Traceback" not in captured.err
    return line


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--set", "bogus=1"], "--set bogus=1: unknown knob 'bogus'; knobs: api, "),
        (["--memory", "50"], "--memory 50: input should be greater than or equal to 128"),
        (["--set", "concurrency_limit=0"], "--set concurrency_limit=0: input should be greater"),
        (["--set", "api=soap"], "--set api=\"soap\": input should be 'http' or 'rest'"),
        (["--env", "NO_VALUE"], "argument --env: expected NAME=VALUE, got 'NO_VALUE'"),
    ],
)
def test_local_lambda_names_the_option_it_refuses(argv, said, capsys):
    line = one_line_exit_2(local_lambda.main, argv, capsys)
    assert line.startswith(f"{local_lambda.PROG}: error: ")
    assert said in line


def test_local_lambda_says_when_its_port_is_taken(capsys):
    with port_in_use() as port:
        line = one_line_exit_2(local_lambda.main, ["--port", str(port), "--model", "tiny"], capsys)
    assert f"--port {port}: 127.0.0.1:{port} is already in use" in line


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--replicas", "0"], "argument --replicas: 0 is not ≥ 1"),
        (["--platform", "{bad"], "--platform {bad: not JSON ("),
        (["--platform", "[1]"], "--platform [1]: must be a JSON object of knobs"),
        (["--platform", '{"hpa": {"metrc": "cpu"}}'], "--platform hpa.metrc: unknown knob"),
        (["--platform", '{"preset": "fast"}'], "unknown preset 'fast'; choose from default"),
        (["--cpu", "0"], "--cpu 0: input should be greater than 0"),
        (["--profile", "quick", "--preset", "quick"], "not allowed with argument --profile"),
    ],
)
def test_local_k8s_names_the_option_it_refuses(argv, said, capsys):
    line = one_line_exit_2(local_k8s.main, argv, capsys)
    assert line.startswith(f"{local_k8s.PROG}: error: ")
    assert said in line


def test_local_k8s_says_when_its_port_is_taken(capsys):
    with port_in_use() as port:
        line = one_line_exit_2(local_k8s.main, ["--port", str(port)], capsys)
    assert f"--port {port}: 127.0.0.1:{port} is already in use (the Service needs it free)" in line


def test_local_k8s_takes_the_profile_of_the_benchmark_and_the_preset_as_an_alias():
    parser, args = local_k8s.parse_args(["--profile", "smoke"])
    assert local_k8s.build_spec(parser, args).platform["preset"] == "quick"
    parser, args = local_k8s.parse_args(["--preset", "quick"])
    assert local_k8s.build_spec(parser, args).platform["preset"] == "quick"
    parser, args = local_k8s.parse_args([])
    assert local_k8s.build_spec(parser, args).platform["preset"] == "default"


def test_export_names_a_relation_it_does_not_have(capsys):
    code = nlp_bench(["export", "--what", "run_summary,bogus"])
    assert code == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("nlp-bench export: error: --what bogus: choose from ")


def test_ui_says_when_its_port_is_taken(capsys):
    with port_in_use() as port:
        line = one_line_exit_2(nlp_bench, ["ui", "--port", str(port)], capsys)
    assert line == (
        f"nlp-bench ui: error: --port {port}: 127.0.0.1:{port} is already in use (the Dagster UI "
        "needs it free); choose another port"
    )


def test_loadgen_names_a_threshold_it_cannot_read(capsys):
    line = one_line_exit_2(
        runner.main,
        ["run", "--host=http://127.0.0.1:9", "--scenario=burst", "--fail-on=p99>500"],
        capsys,
    )
    assert "argument --fail-on: 'p99>500': unknown metric 'p99'; choose from p50_ms" in line


@pytest.mark.parametrize("command", ["run", "scenarios"])
def test_every_loadgen_help_shows_its_defaults(command, capsys):
    with pytest.raises(SystemExit):
        runner.main([command, "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    if command == "run":
        assert "(default: quick)" in help_text
        assert "(default: 1)" in help_text
    assert "(default: the built-in one)" in help_text


@pytest.mark.parametrize("module", [local_lambda, local_k8s])
def test_every_emulator_help_shows_its_defaults(module, capsys):
    with pytest.raises(SystemExit):
        module.main(["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "(default: synthetic)" in help_text
    assert "--profile" in help_text
    assert "(default: 9000)" in help_text or "(default: 0)" in help_text
