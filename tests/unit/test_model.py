"""Model sources, generated weights, the digest, the tokenizer and truncation."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import pytest

from inference_service import sources as sources_module
from inference_service.digest import model_digest
from inference_service.model import load_model
from inference_service.settings import ServiceSettings
from inference_service.sources import ModelLoadError, ModelSource, resolve_model_dir
from inference_service.synthetic import generated_model_dir

# The tiny model's digest is a property of the generator, not of the machine: CI recomputes it.
TINY_DIGEST = "sha256:fe44c7665d52ddba75bf39366ec5302b91004bb6875cac564cfefb736fbd5541"


@pytest.mark.parametrize(
    ("value", "kind", "ref"),
    [
        ("synthetic", "synthetic", "synthetic"),
        ("tiny", "tiny", "tiny"),
        (
            "hf:distilbert-base-uncased-finetuned-sst-2-english",
            "hub",
            "distilbert-base-uncased-finetuned-sst-2-english",
        ),
        ("hf:org/name", "hub", "org/name"),
    ],
)
def test_model_setting_parses_to_its_source(value: str, kind: str, ref: str) -> None:
    source = ModelSource.parse(value)
    assert (source.kind, source.ref) == (kind, ref)


def test_existing_directory_is_a_directory_source(tmp_path: Path) -> None:
    source = ModelSource.parse(str(tmp_path))
    assert source.kind == "directory"
    assert source.ref == str(tmp_path.resolve())


@pytest.mark.parametrize("value", ["hf:", "/no/such/model/dir", "bert"])
def test_unusable_model_setting_fails_with_a_message(value: str) -> None:
    with pytest.raises(ModelLoadError, match=r"NLP_BENCH_MODEL|model id"):
        ModelSource.parse(value)


def test_tokenizer_uses_the_real_bert_uncased_vocabulary(tiny_model) -> None:
    ids = tiny_model.tokenizer("a gripping, beautiful film")["input_ids"]
    assert ids == [101, 1037, 13940, 1010, 3376, 2143, 102]


def test_long_text_is_truncated_at_512_tokens_and_says_so(tiny_model) -> None:
    out = tiny_model.predict(["short text", "word " * 700])
    assert out.truncated == [False, True]
    assert out.input_tokens[1] == 512
    assert out.input_tokens[0] == 4


def test_predictions_carry_a_label_and_a_probability(tiny_model) -> None:
    out = tiny_model.predict(["a gripping, beautiful film", "dull and far too long"])
    assert [p.label in ("POSITIVE", "NEGATIVE") for p in out.predictions] == [True, True]
    assert all(0.5 <= p.score <= 1.0 for p in out.predictions)


def test_generated_models_say_accuracy_is_not_meaningful(tiny_model) -> None:
    assert tiny_model.accuracy_meaningful is False
    assert tiny_model.model_id == "tiny-distilbert"


def test_tiny_digest_is_the_same_on_every_machine(tiny_model) -> None:
    assert tiny_model.digest == TINY_DIGEST


def test_digest_ignores_library_version_fields_and_memo(tiny_model, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    copy.mkdir()
    for f in tiny_model.directory.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    config = json.loads((copy / "config.json").read_text())
    config["transformers_version"] = "0.0.1"
    (copy / "config.json").write_text(json.dumps(config, indent=7))
    assert model_digest(copy) == TINY_DIGEST
    assert model_digest(copy, cache=tmp_path / "memo") == TINY_DIGEST
    assert model_digest(copy, cache=tmp_path / "memo") == TINY_DIGEST  # from the memo


def test_digest_changes_when_weights_change(tiny_model, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    copy.mkdir()
    for f in tiny_model.directory.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    weights = bytearray((copy / "model.safetensors").read_bytes())
    weights[-1] ^= 0xFF
    (copy / "model.safetensors").write_bytes(bytes(weights))
    assert model_digest(copy, cache=tmp_path / "memo") != TINY_DIGEST


def test_digest_memo_is_invalidated_when_a_file_changes(tiny_model, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    copy.mkdir()
    for f in tiny_model.directory.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    memo = tmp_path / "memo"
    assert model_digest(copy, cache=memo) == TINY_DIGEST
    (copy / "vocab.txt").write_text("[PAD]\n")
    assert model_digest(copy, cache=memo) != TINY_DIGEST


def test_concurrent_materialisation_leaves_one_complete_model(tmp_path: Path) -> None:
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(generated_model_dir("tiny", tmp_path)))
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1
    assert [p.name for p in tmp_path.iterdir()] == [results[0].name]  # no temp dirs left
    assert model_digest(results[0]) == TINY_DIGEST


def test_directory_source_loads_real_weights_through_the_same_code(tiny_model, tmp_path) -> None:
    tiny_model.model.save_pretrained(tmp_path / "saved")
    tiny_model.tokenizer.save_pretrained(tmp_path / "saved")
    loaded = load_model(
        ServiceSettings(model=str(tmp_path / "saved"), model_cache=tmp_path, threads=1)
    )
    assert loaded.source.kind == "directory"
    assert loaded.accuracy_meaningful is True
    out = loaded.predict(["a gripping, beautiful film"])
    assert out.predictions[0].score == pytest.approx(
        tiny_model.predict(["a gripping, beautiful film"]).predictions[0].score, abs=1e-5
    )


def test_unreachable_hub_falls_back_to_synthetic_with_a_loud_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def offline(repo_id: str) -> Path:
        raise OSError("Name or service not known")

    monkeypatch.setattr(sources_module, "hub_model_dir", offline)
    monkeypatch.setattr(
        sources_module, "generated_model_dir", lambda kind, cache: Path(f"/generated/{kind}")
    )
    with caplog.at_level(logging.WARNING, logger="inference_service.model"):
        directory, source = resolve_model_dir(ModelSource.parse("hf:org/model"), tmp_path)
    assert source.kind == "synthetic"
    assert directory == Path("/generated/synthetic")
    assert "FALLING BACK TO THE SYNTHETIC MODEL" in caplog.text
    assert "hf:org/model" in caplog.text


def test_load_fault_fails_the_load(tmp_path: Path, model_cache: Path) -> None:
    settings = ServiceSettings(
        model="tiny", model_cache=model_cache, threads=1, fault_load_fail=True
    )
    with pytest.raises(ModelLoadError, match="on purpose"):
        load_model(settings)


@pytest.mark.slow
@pytest.mark.full_model
def test_synthetic_model_has_the_distilbert_base_architecture(model_cache: Path) -> None:
    loaded = load_model(ServiceSettings(model="synthetic", model_cache=model_cache, threads=2))
    config = loaded.model.config
    assert (config.dim, config.hidden_dim, config.n_layers, config.n_heads) == (768, 3072, 6, 12)
    assert (config.vocab_size, config.max_position_embeddings) == (30522, 512)
    assert sum(p.numel() for p in loaded.model.parameters()) == 66_955_010
    assert loaded.digest == model_digest(loaded.directory)
