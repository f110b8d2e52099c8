"""``nlp-bench peak``: one-line usage errors with exit 2, before any platform starts."""

from __future__ import annotations

import pytest

from nlp_bench_pipeline.cli import main
from nlp_bench_pipeline.cli.peak import print_searches


def exit_code(argv: list[str]) -> int | str | None:
    """``main``'s exit code, whether argparse exits (its own errors) or the command returns."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--slo-ms", "0"], "argument --slo-ms: 0 is not between 1 and 60000"),
        (["--target", "laptop"], "argument --target: invalid choice: 'laptop'"),
        (["--policy", "warmed,tepid"], "argument --policy: unknown ['tepid']"),
        (
            ["--start-rps", "100", "--max-rps", "10"],
            "start rate 100 req/s must lie between min_rps 3 and max_rps 10",  # quick's floor
        ),
        (["--memory-mb", "64"], "argument --memory-mb: 64 is not between 128 and 10240"),
        (["--tolerance", "abc"], "argument --tolerance: 'abc' is not a finite number"),
    ],
)
def test_a_bad_option_is_one_line_naming_it_and_exit_2(argv, message, capsys, tmp_path) -> None:
    assert exit_code(["peak", "--db", str(tmp_path / "x.duckdb"), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.duckdb").exists()  # nothing started, nothing written


def test_each_search_prints_its_peak_per_vcpu_label_and_reasons(capsys) -> None:
    print_searches(
        [
            {"target": "local-k8s", "size": "1 CPU x 2 pods", "policy": "warmed",
             "slo_p99_ms": 500.0, "method": "measured", "peak_rps": 9.0, "per_vcpu_rps": 4.5,
             "vcpus": 2.0, "status": "found", "host_limited": True,
             "reason": "VALID at 9 req/s, INVALID at 10.5 req/s",
             "host_limited_reasons": ["measured on this host's 2 cores"]},
            {"target": "local-k8s", "size": "1 CPU x 2 pods", "policy": "warmed",
             "slo_p99_ms": 130.0, "method": "simulated", "peak_rps": None, "per_vcpu_rps": None,
             "vcpus": 2.0, "status": "no rate passed", "host_limited": False,
             "reason": "no probed rate held the bound", "host_limited_reasons": []},
        ]
    )  # fmt: skip
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        "local-k8s · 1 CPU x 2 pods · warmed · p99 <= 500 ms · measured: peak 9 req/s "
        "(4.5 per vCPU of 2) [found; host-limited]"
    )
    assert lines[2] == "  host-limited: measured on this host's 2 cores"
    assert lines[3].endswith("simulated: no rate held the bound [no rate passed; simulated]")
