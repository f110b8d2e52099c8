"""``nlp-bench simulate``: its JSON, its defaults, and one-line errors for bad options."""

from __future__ import annotations

import argparse
import json

import pytest

from nlp_bench_pipeline.core.options import OneLineParser
from nlp_bench_pipeline.simulate.command import register
from tests.unit.test_simulate_calibration import Event, StoreBuilder, warm_requests


def main(argv: list[str]) -> int:
    parser = OneLineParser(prog="nlp-bench")  # as the main CLI builds it
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["simulate", *argv])
    return args.handler(args)


def run_json(capsys, argv: list[str]) -> dict:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_lambda_json_says_what_was_simulated_and_that_defaults_were_used(capsys, tmp_path):
    out = run_json(capsys, ["--platform", "lambda", "--rate", "200", "--hours", "0.05",
                            "--db", str(tmp_path / "none.duckdb")])  # fmt: skip
    assert 0.8 * 36_000 < out["requests"] < 1.2 * 36_000
    assert out["requests"] == sum(out["outcomes"].values())
    assert set(out["latency_ms"]) >= {"p50_ms", "p90_ms", "p99_ms", "p999_ms"}
    assert out["slo"]["p99_bound_ms"] == 500.0
    assert out["usage"]["invocations"] == out["counts"]["invocations"]
    assert out["cost"]["total_usd"] == pytest.approx(
        sum(v for k, v in out["cost"].items() if k.endswith("_usd") and k not in
            ("total_usd", "per_million_requests_usd", "per_month_usd"))
    )  # fmt: skip
    assert out["distributions"]["source"] == "defaults"
    assert out["settings"]["memory_mb"] == 1769
    assert out["settings"]["warm_at_start"] > 0  # a period cut out of a running service


def test_eks_json_carries_nodes_and_replicas(capsys):
    out = run_json(capsys, ["--platform", "eks", "--rate", "50", "--hours", "0.1",
                            "--pattern", "diurnal", "--node-type", "c7g.xlarge"])  # fmt: skip
    assert out["usage"]["node_type"] == "c7g.xlarge"
    assert out["usage"]["node_hours"] > 0
    assert out["counts"]["pods_per_node"] >= 1
    assert "replicas" in out["series"]
    assert out["cost"]["nodes_usd"] > 0


def test_the_same_seed_prints_the_same_figures(capsys):
    argv = ["--platform", "lambda", "--rate", "100", "--hours", "0.02", "--seed", "7"]
    first, second = run_json(capsys, argv), run_json(capsys, argv)
    for key in ("requests", "latency_ms", "counts", "usage"):
        assert first[key] == second[key]


def test_measured_distributions_when_the_store_has_runs(capsys, tmp_path):
    builder = StoreBuilder(tmp_path / "m.duckdb")
    events = [Event("report", 1.0, "env-1", duration_ms=80.0, memory_mb=1769)]
    builder.run("r1", "local-lambda", warm_requests(40, 80.0), events)
    out = run_json(capsys, ["--platform", "lambda", "--rate", "10", "--hours", "0.01",
                            "--db", str(builder.store.path)])  # fmt: skip
    assert out["distributions"]["runs"] == ["r1"]
    assert "work" not in out["distributions"]["defaults_used_for"]
    assert out["distributions"]["quantities"]["work"]["median_ms"] == 80.0


def test_text_summary(capsys):
    assert main(["--platform", "lambda", "--rate", "20", "--hours", "0.01"]) == 0
    text = capsys.readouterr().out
    assert "requests simulated" in text
    assert "SLO p99 <= 500 ms" in text
    assert "distributions: defaults" in text


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--platform", "lambda", "--rate", "-1"], "--rate"),
        (["--platform", "lambda", "--hours", "lots"], "--hours"),
        (["--platform", "gcp"], "--platform"),
        (["--platform", "lambda", "--memory-mb", "64"], "--memory-mb"),
        (["--platform", "lambda", "--pattern", "weekly"], "--pattern"),
    ],
)
def test_a_bad_option_is_one_line_naming_it_and_exit_2(capsys, argv, named):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert named in err[0]


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--platform", "eks", "--node-type", "t9.huge"], "t9.huge"),
        (["--platform", "eks", "--min-replicas", "5", "--max-replicas", "2"], "--max-replicas"),
        (["--platform", "lambda", "--run", "r-404"], "r-404"),
        (["--platform", "lambda", "--concurrency-limit", "2", "--provisioned", "3"], "provisioned"),
    ],
)
def test_an_impossible_request_is_one_line_and_exit_2(capsys, argv, said):
    assert main([*argv, "--hours", "0.01"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert said in err[0]


def test_help_lists_the_options(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for option in ("--platform", "--rate", "--hours", "--pattern", "--memory-mb", "--slo-ms",
                   "--seed", "--db", "--json"):  # fmt: skip
        assert option in text


def test_db_default_is_none_unless_the_main_cli_gives_one(tmp_path):
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    assert parser.parse_args(["simulate", "--platform", "eks"]).db is None
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"), default_db=tmp_path / "x.duckdb")
    assert parser.parse_args(["simulate", "--platform", "eks"]).db == tmp_path / "x.duckdb"
