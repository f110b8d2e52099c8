"""``cost`` through ``register()`` on a fresh parser: JSON lines, totals, bad options."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from nlp_bench_pipeline.costs.command import register
from tests.unit.test_economics_estimates import bench_store


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="nlp-bench")
    register(parser.add_subparsers(dest="command", required=True))
    try:
        args = parser.parse_args(argv)
        code = args.handler(args)
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def lines_of(document: dict) -> dict[str, float]:
    return {k: v for k, v in document.items() if k.endswith("_usd") and k != "total_usd"}


def test_lambda_json_answers_aws_worked_example(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["cost", "lambda", "--memory-mb", "512", "--invocations", "3000000"]
    code, out, _ = run([*argv, "--duration-ms", "1000", "--free-tier", "--json"], capsys)
    document = json.loads(out)
    assert code == 0
    assert set(lines_of(document)) == {"compute_usd", "requests_usd"}
    assert document["compute_usd"] == pytest.approx(18.34, abs=0.01)
    assert document["requests_usd"] == pytest.approx(0.40, abs=0.01)
    assert document["total_usd"] == pytest.approx(18.74, abs=0.01)


def test_lambda_defaults_charge_no_free_tier_gateway_init_or_provisioned(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["cost", "lambda", "--memory-mb", "512", "--invocations", "3000000"]
    code, out, _ = run([*argv, "--duration-ms", "1000", "--json"], capsys)
    document = json.loads(out)
    assert code == 0
    assert set(lines_of(document)) == {"compute_usd", "requests_usd"}
    assert document["compute_usd"] == pytest.approx(1.5e6 * 0.0000166667)
    assert document["requests_usd"] == pytest.approx(0.60)


def test_total_is_the_sum_of_the_printed_lines(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["cost", "lambda", "--memory-mb", "1769", "--invocations", "1e9", "--duration-ms"]
    argv += ["61.2", "--arch", "arm", "--gateway", "http", "--init-ms", "6500"]
    argv += ["--cold-starts", "4000", "--provisioned", "10", "--logs", "--json"]
    code, out, _ = run(argv, capsys)
    document = json.loads(out)
    assert code == 0
    assert {"compute_usd", "init_usd", "requests_usd", "gateway_usd", "provisioned_usd"} <= set(
        document
    )
    assert document["total_usd"] == sum(lines_of(document).values())


def test_rest_gateway_bills_its_own_rate(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["cost", "lambda", "--memory-mb", "128", "--invocations", "5000000"]
    code, out, _ = run([*argv, "--duration-ms", "1", "--gateway", "rest", "--json"], capsys)
    assert code == 0
    assert json.loads(out)["gateway_usd"] == pytest.approx(17.50)


def test_lambda_table_shows_lines_and_total(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["cost", "lambda", "--memory-mb", "128", "--invocations", "30000000"]
    code, out, _ = run([*argv, "--duration-ms", "200", "--free-tier"], capsys)
    assert code == 0
    assert "compute" in out
    assert "total" in out
    assert "11.63" in out


@pytest.mark.parametrize(
    ("extra", "option"),
    [
        (["--arch", "mips"], "--arch"),
        (["--memory-mb", "64"], "--memory-mb"),
        (["--invocations", "many"], "--invocations"),
        (["--cold-starts", "5"], "--cold-starts"),
        (["--duration-ms", "nan"], "--duration-ms"),
        (["--hours", "3"], "--hours"),
    ],
)
def test_a_bad_option_is_one_line_naming_it_and_exit_2(
    capsys: pytest.CaptureFixture[str], extra: list[str], option: str
) -> None:
    argv = ["cost", "lambda", "--memory-mb", "512", "--invocations", "10", "--duration-ms", "5"]
    code, out, err = run([*argv, *extra], capsys)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert option in err
    assert "Traceback" not in err


def test_eks_json_prices_a_month_of_nodes(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["cost", "eks", "--node-type", "c7i.xlarge", "--nodes", "3", "--hours", "730"]
    code, out, _ = run([*argv, "--load-balancer", "--rps", "100", "--json"], capsys)
    document = json.loads(out)
    assert code == 0
    assert document["nodes_usd"] == pytest.approx(3 * 730 * 0.1785)
    assert document["control_plane_usd"] == pytest.approx(73.0)
    assert document["load_balancer_usd"] == pytest.approx(730 * (0.0225 + 4 * 0.008))
    assert document["node"]["allocatable_cpu_m"] == 3920
    assert document["total_usd"] == sum(lines_of(document).values())


def test_eks_unknown_node_type_is_one_line_naming_the_option(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(["cost", "eks", "--node-type", "t3.medium", "--nodes", "2"], capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "--node-type" in err


def test_breakeven_without_a_store_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["cost", "breakeven"], capsys)
    assert code == 2
    assert "--db" in err


def test_breakeven_with_a_missing_store_says_so_and_exits_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = run(["cost", "breakeven", "--db", str(tmp_path / "none.duckdb")], capsys)
    assert code == 1
    assert len(out.strip().splitlines()) == 1
    assert "no metric store" in out
    assert not (tmp_path / "none.duckdb").exists()


def test_every_subcommand_sets_a_handler() -> None:
    parser = argparse.ArgumentParser(prog="nlp-bench")
    register(parser.add_subparsers(dest="command", required=True))
    for argv in (
        ["cost", "lambda", "--memory-mb", "128", "--invocations", "1", "--duration-ms", "1"],
        ["cost", "eks", "--node-type", "c7g.large", "--nodes", "1"],
        ["cost", "breakeven", "--db", "x.duckdb"],
    ):
        assert callable(parser.parse_args(argv).handler)


def test_the_cli_can_give_breakeven_its_default_store(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser(prog="nlp-bench")
    register(parser.add_subparsers(dest="command", required=True), default_db=tmp_path / "m.db")
    assert parser.parse_args(["cost", "breakeven"]).db == tmp_path / "m.db"
    assert parser.parse_args(["cost", "breakeven", "--db", "o.db"]).db == Path("o.db")


def test_breakeven_prices_lambda_with_its_provisioned_concurrency(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bench_store(tmp_path)
    argv = ["cost", "breakeven", "--db", str(tmp_path / "bench.duckdb"), "--shape", "spiky"]
    code, out, _ = run([*argv, "--provisioned", "10", "--json"], capsys)
    assert code == 0
    document = json.loads(out)
    assert document["lambda_profile"]["provisioned_concurrency"] == 10
    assert any(n.startswith("Lambda with 10 provisioned environments") for n in document["notes"])
    # 10 environments of the chosen size kept warm all month, whatever the rate
    capacity = 10 * document["lambda_profile"]["memory_mb"] / 1024 * 730 * 3600 * 0.0000041667
    assert min(p["lambda_usd_month"] for p in document["curve"]) > capacity


def test_breakeven_refuses_a_negative_provisioned_concurrency_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(["cost", "breakeven", "--db", "x.duckdb", "--provisioned", "-1"], capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "--provisioned" in err
