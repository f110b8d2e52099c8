"""Where the model comes from, as a person sees it: the hub fallback's warning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inference_service import sources as sources_module
from inference_service.logs import configure_logging
from inference_service.sources import ModelSource, resolve_model_dir


def test_hub_fallback_warning_is_plain_loud_lines_on_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def offline(repo_id: str) -> Path:
        raise OSError("Name or service not known")

    monkeypatch.setattr(sources_module, "hub_model_dir", offline)
    monkeypatch.setattr(sources_module, "generated_model_dir", lambda kind, cache: tmp_path)
    configure_logging()  # the service's JSON log lines on stderr, as in a server process
    resolve_model_dir(ModelSource.parse("hf:org/model"), tmp_path)
    lines = capsys.readouterr().err.splitlines()
    banner = lines.index("!" * 78)
    assert lines[banner + 1].startswith("HUB UNREACHABLE: could not fetch hf:org/model (OSError")
    assert lines[banner + 2].startswith("FALLING BACK TO THE SYNTHETIC MODEL")
    assert lines[banner + 4] == "!" * 78
    logged = [json.loads(line) for line in lines if line.startswith("{")]
    assert [e["level"] for e in logged] == ["WARNING"]
    assert "\n" not in logged[0]["message"]
    assert logged[0]["reason"] == "OSError: Name or service not known"
