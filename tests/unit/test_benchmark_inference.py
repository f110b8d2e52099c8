"""The saturation benchmark's ratios come from one round's own measurements."""

from __future__ import annotations

import pytest

from benchmarks.inference import _round_figures


def test_ratios_set_http_against_the_raw_pass_and_gain_against_gain() -> None:
    single = {"raw": 30.0, "http": 30.0, "mean_batch": 1.0}
    batched = {"raw": 90.0, "http": 81.0, "mean_batch": 8.0}

    figures = _round_figures(single, batched)

    assert figures["saturation_ratio"] == pytest.approx(0.9)  # HTTP / raw at batch 8
    assert figures["raw_gain"] == pytest.approx(3.0)  # raw batch 8 over raw batch 1
    assert figures["http_gain"] == pytest.approx(2.7)  # batched HTTP over unbatched HTTP
    assert figures["gain_ratio"] == pytest.approx(0.9)
    assert figures["served_mean_batch"] == 8.0


def test_an_unbatched_http_path_faster_than_its_raw_pass_lowers_the_gain_ratio() -> None:
    # the old accounting's failure: unbatched HTTP credited with more than the raw pass can do
    single = {"raw": 30.0, "http": 40.0, "mean_batch": 1.0}
    batched = {"raw": 90.0, "http": 81.0, "mean_batch": 8.0}

    assert _round_figures(single, batched)["gain_ratio"] == pytest.approx(0.675)
