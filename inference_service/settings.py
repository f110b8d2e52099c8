"""Service settings, read once from ``NLP_BENCH_*`` environment variables (pydantic-settings)."""

from __future__ import annotations

import os
import socket
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, PositiveFloat, PositiveInt, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from inference_service.contract import MAX_BODY_BYTES, MAX_TOKENS

DEFAULT_MODEL = "hf:distilbert-base-uncased-finetuned-sst-2-english"


def available_cpus() -> int:
    """CPUs this process may run on (affinity-aware, unlike ``os.cpu_count``)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


class ServiceSettings(BaseSettings):
    """Everything the service reads from its environment; docs/design.md lists the contract."""

    model_config = SettingsConfigDict(
        env_prefix="NLP_BENCH_", extra="ignore", protected_namespaces=()
    )

    model: str = Field(
        DEFAULT_MODEL,
        description="hf:<id>, a local model directory, 'synthetic' or 'tiny'",
    )
    model_cache: Path = Field(
        Path("~/.cache/nlp-bench"), description="where synthetic/tiny weights are materialised"
    )
    threads: PositiveInt = Field(
        default_factory=available_cpus, description="torch intra-op threads"
    )
    max_texts: PositiveInt = Field(64, description="most texts in one request")
    max_body_bytes: PositiveInt = Field(MAX_BODY_BYTES, description="largest request body")
    body_timeout_s: PositiveFloat = Field(
        10.0, description="seconds a request's whole body may take to arrive (then 408)"
    )
    max_tokens: PositiveInt = Field(MAX_TOKENS, description="texts are cut to this many tokens")
    environment_id: str | None = Field(
        None, description="pod name or execution environment id, set by the platform"
    )
    runtime: Literal["torch", "onnx"] = Field(
        "torch",
        description="torch (eager) or onnx (ONNX Runtime + tokenizers, no torch in the process)",
    )
    precision: Literal["fp32", "bf16", "int8"] = Field(
        "fp32", description="fp32, bf16 (torch autocast) or int8 (dynamic, Linear/MatMul weights)"
    )
    weights_mmap: bool = Field(
        True, description="torch: memory-map safetensors weights (false: read them whole)"
    )
    warmup: bool = Field(
        False, description="run one forward pass while loading (lazy imports, thread pools)"
    )
    batch_max_size: PositiveInt = Field(1, description="most texts run in one forward pass")
    batch_max_wait_ms: float = Field(
        0.0, ge=0, description="how long a batch waits for company; 0 = never wait"
    )
    fault_load_delay_s: float = Field(0.0, ge=0, description="extra seconds added to model load")
    fault_load_fail: bool = Field(False, description="make the model load fail")
    fault_crash_on_request: PositiveInt | None = Field(
        None, description="os._exit on the Nth /predict request"
    )
    fault_hang_on_request: PositiveInt | None = Field(
        None, description="hang forever on the Nth /predict request"
    )

    @property
    def initialised_ahead(self) -> bool:
        """Lambda provisioned concurrency ran this environment's init before any request came.

        Lambda says so in ``AWS_LAMBDA_INITIALIZATION_TYPE``; the local target sets it too. A
        SnapStart environment (``snap-start``) is not ahead: its first request waits for the
        restore (Restore Duration), so it is a cold start, a shorter one.
        """
        return os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "provisioned-concurrency"

    @model_validator(mode="after")
    def _precision_has_kernels(self) -> ServiceSettings:
        if self.runtime == "onnx" and self.precision == "bf16":
            raise ValueError(
                "NLP_BENCH_PRECISION=bf16 needs NLP_BENCH_RUNTIME=torch: ONNX Runtime has no "
                "bf16 CPU kernels (use fp32 or int8 with onnx)"
            )
        return self

    @field_validator("model_cache")
    @classmethod
    def _expand_cache(cls, value: Path) -> Path:
        return value.expanduser()

    def resolved_environment_id(self) -> str:
        """The id every response and log line carries.

        The target sets ``NLP_BENCH_ENVIRONMENT_ID``; on real Lambda the log stream name is unique
        per execution environment, and in a real pod ``HOSTNAME`` is the pod name.
        """
        return (
            self.environment_id
            or os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
            or os.environ.get("HOSTNAME")
            or socket.gethostname()
        )


@lru_cache(maxsize=1)
def get_settings() -> ServiceSettings:
    """The process-wide settings, read from the environment once."""
    return ServiceSettings()
