"""Scenario configs: the built-in catalog, and clear errors for bad configs before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlp_bench_pipeline.loadgen import runner
from nlp_bench_pipeline.loadgen.scenarios import (
    PROFILES,
    SCENARIO_NAMES,
    ScenarioError,
    load_catalog,
    load_scenario,
)


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_builtin_catalog_defines_every_scenario_with_a_warmup_in_both_profiles(name, profile):
    config = load_scenario(name, profile)
    schedule = config.schedule()
    assert config.profile == profile
    assert schedule.count("warmup") > 0
    assert schedule.count("measure") > 0
    assert config.max_inflight >= 1
    assert config.timeout_s > 0


def test_builtin_catalog_holds_exactly_the_designed_scenarios():
    # The cells' scenarios, and the peak-rate search's probe (its rates chosen by the search).
    assert sorted(load_catalog().names) == sorted([*SCENARIO_NAMES, "peak"])


def test_cold_start_idles_longer_than_the_local_eviction_it_needs():
    assert load_scenario("cold_start", "quick").longest_idle_s >= 20
    assert load_scenario("cold_start", "full").longest_idle_s > 600  # past AWS's ~10 min
    assert load_scenario("warm_steady", "quick").longest_idle_s == 0


# The window in which no request can find a warm environment: from the first request after the
# idle (the earliest any new environment starts) for the shortest init a DistilBERT service
# could have. 1 s is below every figure we have: AWS's SnapStart example (docs/aws-facts.md; a
# zip that loads its model from S3) starts in 16.5 s, and in 1.6 s even restored from a
# snapshot, which a container image cannot use; torch, transformers and the weights alone load
# in 5.5 s on one core (docs/benchmarks.md, local-lambda). Lambda gives each concurrent request
# it cannot place a new environment, so every arrival in the window is a cold start.
SHORTEST_INIT_S = 1.0
AWS_IDLE_EVICTION_S = 600.0  # ~10 min, an assumption AWS does not publish
AWS_SCALE_OUT_PER_10_S = 1000  # new environments per function every 10 s (docs/aws-facts.md)
AWS_INIT_LIMIT_S = 10.0  # an on-demand init's limit (docs/aws-facts.md)


@pytest.mark.parametrize("repetition", range(load_scenario("cold_start", "full").repetitions))
def test_full_cold_start_sends_twenty_requests_before_any_init_could_end(repetition):
    config = load_scenario("cold_start", "full")
    schedule = config.schedule(repetition)
    warmup = schedule.phase("warmup").offsets_s
    measured = schedule.phase("measure").offsets_s
    first = measured[0]
    # the warm-up's environments, idle from their last init's end at the latest, are gone
    assert first - warmup[-1] > AWS_INIT_LIMIT_S + AWS_IDLE_EVICTION_S
    cold = measured[measured < first + SHORTEST_INIT_S]
    assert len(cold) >= 20
    assert len(measured[measured < first + 10]) <= AWS_SCALE_OUT_PER_10_S  # none throttled


def test_full_profile_repeats_so_summaries_have_an_interval():
    assert load_scenario("warm_steady", "full").repetitions >= 3


def test_overrides_win_over_the_catalog_and_corpus_keys_merge():
    config = load_scenario("warm_steady", "quick", overrides={"seed": 5, "corpus": {"size": 64}})
    assert config.seed == 5
    assert config.corpus.size == 64
    assert config.corpus.mix == load_scenario("warm_steady", "quick").corpus.mix


def test_unknown_scenario_names_the_ones_that_exist():
    with pytest.raises(ScenarioError, match=r"unknown scenario 'warm'.*burst, cold_start"):
        load_scenario("warm", "quick")


def test_unknown_profile_is_an_error():
    with pytest.raises(ScenarioError, match="unknown profile 'slow'"):
        load_scenario("ramp", "slow")


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"measure": [{"duration_s": 10, "rate": -5}]}, r"measure\.0\.rate"),
        ({"warmup": [{"duration_s": 0, "rate": 5}]}, r"warmup\.0\.duration_s"),
        ({"measure": [{"duration_s": 10, "rate": 0}]}, "measure phase schedules no requests"),
        ({"warmup": []}, "warmup"),
        ({"max_inflight": 0}, "max_inflight"),
        ({"repetitions": 0}, "repetitions"),
        ({"timeout_s": -1}, "timeout_s"),
        ({"rate": 10}, r"rate: Extra inputs"),
    ],
)
def test_bad_configs_fail_naming_the_scenario_profile_and_field(overrides, problem):
    with pytest.raises(ScenarioError, match=r"scenario 'ramp' \(profile quick\) is invalid") as err:
        load_scenario("ramp", "quick", overrides=overrides)
    assert err.match(problem)


def test_a_user_catalog_replaces_the_builtin_one(tmp_path: Path):
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        "defaults: {seed: 1, max_inflight: 8, timeout_s: 5}\n"
        "scenarios:\n"
        "  probe:\n"
        "    quick:\n"
        "      warmup: [{duration_s: 1, rate: 1}]\n"
        "      measure: [{duration_s: 2, rate: 3, arrivals: uniform}]\n"
    )
    assert len(load_scenario("probe", "quick", catalog=catalog).schedule()) == 6
    with pytest.raises(ScenarioError, match="no 'full' profile"):
        load_scenario("probe", "full", catalog=catalog)


def test_a_malformed_catalog_says_which_file(tmp_path: Path):
    catalog = tmp_path / "broken.yaml"
    catalog.write_text("scenarios: [1, 2]\n")
    with pytest.raises(ScenarioError, match=r"broken\.yaml is malformed"):
        load_catalog(catalog)


def test_cli_rejects_a_bad_config_before_starting_anything(tmp_path: Path, capsys):
    code = runner.main(
        [
            "run",
            "--host=http://127.0.0.1:9",
            "--scenario=burst",
            "--set=measure=[{duration_s: 0, rate: 5}]",
            f"--work-dir={tmp_path}",
        ]
    )
    assert code == 2
    assert "measure.0.duration_s" in capsys.readouterr().err
    assert not (tmp_path / "loadgen").exists()


@pytest.mark.parametrize(
    "argument", ["--set=max_inflight", "--set=measure=[{duration_s: 1", "--repetition=3"]
)
def test_cli_rejects_bad_arguments_with_a_message(tmp_path: Path, capsys, argument):
    code = runner.main(
        ["run", "--host=http://127.0.0.1:9", "--scenario=burst", argument, f"--work-dir={tmp_path}"]
    )
    assert code == 2
    assert capsys.readouterr().err.startswith(f"{runner.PROG} run: error: ")


def test_cli_rejects_a_host_that_is_not_a_url(tmp_path: Path, capsys):
    code = runner.main(["run", "--host=localhost:8000", "--scenario=burst"])
    assert code == 2
    assert "must be an http:// or https:// URL" in capsys.readouterr().err


def test_cli_lists_the_scenarios(capsys):
    assert runner.main(["scenarios"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in SCENARIO_NAMES)
