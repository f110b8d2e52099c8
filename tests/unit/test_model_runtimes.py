"""Runtimes and precisions: each loads, says what it is, and stays close to torch fp32."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from inference_service import onnx_export
from inference_service.fidelity import compare, fidelity_corpus
from inference_service.model import LoadedModel, load_model
from inference_service.settings import ServiceSettings

CONFIGURATIONS = [("torch", "bf16"), ("torch", "int8"), ("onnx", "fp32"), ("onnx", "int8")]
# Largest probability change allowed against fp32 on the tiny model; exact fp32 runtimes much less.
PROBABILITY_BOUND = {"fp32": 1e-5, "bf16": 5e-3, "int8": 5e-3}
CORPUS = fidelity_corpus(60)


@pytest.fixture(scope="module")
def loaded(model_cache) -> dict[tuple[str, str], LoadedModel]:
    return {
        (runtime, precision): load_model(
            ServiceSettings(
                model="tiny",
                model_cache=model_cache,
                threads=1,
                runtime=runtime,
                precision=precision,
            )
        )
        for runtime, precision in CONFIGURATIONS
    }


def logits_one_by_one(model: LoadedModel) -> np.ndarray:
    return np.concatenate([model.logits([text])[1] for text in CORPUS])


@pytest.fixture(scope="module")
def reference(tiny_model) -> np.ndarray:
    return logits_one_by_one(tiny_model)


@pytest.mark.parametrize(("runtime", "precision"), CONFIGURATIONS)
def test_each_configuration_stays_within_its_bound_of_fp32(
    loaded, reference, runtime: str, precision: str
) -> None:
    model = loaded[(runtime, precision)]
    assert (model.runtime, model.precision) == (runtime, precision)
    fidelity = compare(reference, logits_one_by_one(model))
    assert fidelity.max_abs_probability_error <= PROBABILITY_BOUND[precision]
    assert fidelity.confident_items > 0
    assert fidelity.confident_label_agreement == 1.0


@pytest.mark.parametrize(("runtime", "precision"), [c for c in CONFIGURATIONS if c[1] != "fp32"])
def test_a_reduced_precision_really_changes_the_arithmetic(
    loaded, reference, runtime: str, precision: str
) -> None:
    fidelity = compare(reference, logits_one_by_one(loaded[(runtime, precision)]))
    assert fidelity.max_abs_logit_error > 1e-6


def test_torch_int8_quantises_every_linear_layer(loaded) -> None:
    import torch

    module = loaded[("torch", "int8")].model
    kinds = {type(m) for m in module.modules()}
    assert torch.nn.Linear not in kinds
    assert any("quantized" in k.__module__ for k in kinds)


def test_onnx_int8_graph_quantises_its_matmuls(loaded, model_cache: Path) -> None:
    import onnx

    digest = loaded[("onnx", "int8")].digest
    directory = onnx_export.export_dir(model_cache, digest)
    ops = {n.op_type for n in onnx.load(directory / onnx_export.GRAPHS["int8"]).graph.node}
    assert {"DynamicQuantizeLinear", "MatMulInteger"} <= ops
    fp32_ops = {n.op_type for n in onnx.load(directory / onnx_export.GRAPHS["fp32"]).graph.node}
    assert "MatMulInteger" not in fp32_ops


def test_onnx_predictions_have_the_torch_shape(loaded, tiny_model) -> None:
    texts = ["short", "word " * 700]
    onnx_out = loaded[("onnx", "fp32")].predict(texts)
    torch_out = tiny_model.predict(texts)
    assert (onnx_out.input_tokens, onnx_out.truncated) == ([3, 512], [False, True])
    assert (onnx_out.input_tokens, onnx_out.truncated) == (
        torch_out.input_tokens,
        torch_out.truncated,
    )
    for a, b in zip(onnx_out.predictions, torch_out.predictions, strict=True):
        assert a.label == b.label
        assert a.score == pytest.approx(b.score, abs=1e-6)


def test_bf16_on_onnx_runtime_is_refused_naming_both_settings() -> None:
    with pytest.raises(ValidationError, match="NLP_BENCH_PRECISION=bf16 needs NLP_BENCH_RUNTIME"):
        ServiceSettings(runtime="onnx", precision="bf16")


def test_warm_up_runs_a_pass_during_the_load(model_cache: Path) -> None:
    settings = ServiceSettings(model="tiny", model_cache=model_cache, threads=1, warmup=True)
    assert load_model(settings).timings_s["warmup"] > 0


def test_reading_weights_whole_gives_the_memory_mapped_answers(model_cache, tiny_model) -> None:
    settings = ServiceSettings(model="tiny", model_cache=model_cache, threads=1, weights_mmap=False)
    whole = load_model(settings)
    assert np.array_equal(whole.logits(CORPUS[:5])[1], tiny_model.logits(CORPUS[:5])[1])


def test_the_export_is_keyed_by_the_model_digest(tiny_model, model_cache: Path) -> None:
    directory = onnx_export.export_dir(model_cache, tiny_model.digest)
    assert tiny_model.digest.removeprefix("sha256:")[:24] in directory.name
    assert f"-v{onnx_export.EXPORT_VERSION}" in directory.name
    assert onnx_export.export_dir(model_cache, "sha256:" + "0" * 64) != directory


def test_a_complete_export_is_reused_without_exporting(tmp_path: Path, monkeypatch) -> None:
    target = onnx_export.export_dir(tmp_path, "sha256:" + "a" * 64)
    target.mkdir(parents=True)
    (target / onnx_export.MARKER).write_text("{}")

    def must_not_run(*args) -> None:
        raise AssertionError("exported again")

    monkeypatch.setattr(onnx_export, "_export", must_not_run)
    assert onnx_export.ensure_export(tmp_path, "sha256:" + "a" * 64, tmp_path) == target


def test_losing_an_export_race_keeps_the_winners_copy_and_no_temp_dir(
    tmp_path: Path, monkeypatch
) -> None:
    digest = "sha256:" + "b" * 64
    target = onnx_export.export_dir(tmp_path, digest)

    def racing_export(model_dir: Path, digest_: str, out: Path) -> None:
        (out / onnx_export.MARKER).write_text("{}")
        target.mkdir(parents=True)  # another environment finished first
        (target / onnx_export.MARKER).write_text('{"winner": true}')
        (target / "model.fp32.onnx").write_text("winner")

    monkeypatch.setattr(onnx_export, "_export", racing_export)
    assert onnx_export.ensure_export(tmp_path, digest, tmp_path) == target
    assert (target / "model.fp32.onnx").read_text() == "winner"
    assert [p.name for p in target.parent.iterdir()] == [target.name]


def test_a_failed_export_leaves_nothing_behind(tmp_path: Path, monkeypatch) -> None:
    def broken(model_dir: Path, digest: str, out: Path) -> None:
        (out / "model.fp32.onnx").write_text("half")
        raise RuntimeError("exporter crashed")

    monkeypatch.setattr(onnx_export, "_export", broken)
    with pytest.raises(RuntimeError, match="exporter crashed"):
        onnx_export.ensure_export(tmp_path, "sha256:" + "c" * 64, tmp_path)
    assert list((tmp_path / "onnx").iterdir()) == []
