"""The /predict contract of docs/design.md as pydantic models (they also drive the OpenAPI docs)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, model_validator

# A text must hold a character that is not whitespace. The class is the union of Python's ``\s``
# (what ``str.strip`` removes) and ECMA-262's (what JSON Schema validators use), so the server, the
# schema and any client's validator draw the same line.
NON_BLANK_PATTERN = r"[^\s\x1c-\x1f\x85\ufeff]"
_NON_BLANK = re.compile(NON_BLANK_PATTERN)
_TEXT_SCHEMA: dict[str, Any] = {"type": "string", "minLength": 1, "pattern": NON_BLANK_PATTERN}


def _request_schema(schema: dict[str, Any]) -> None:
    """State every rule the validator enforces, so a schema-valid body is a valid request.

    Exactly one of the two fields (``oneOf``), neither null, ``texts`` non-empty, every text
    non-blank. The app adds ``maxItems`` from its ``NLP_BENCH_MAX_TEXTS``. Unpaired surrogates are
    the one rule JSON Schema cannot state (its strings are Unicode; a JSON ``\\ud800`` escape is
    not): the 422 response documents it.
    """
    properties = schema["properties"]
    properties["text"] = {**_TEXT_SCHEMA, "description": properties["text"]["description"]}
    properties["texts"] = {
        "type": "array",
        "items": _TEXT_SCHEMA,
        "minItems": 1,
        "description": properties["texts"]["description"],
    }
    schema["oneOf"] = [{"required": ["text"]}, {"required": ["texts"]}]
    schema["additionalProperties"] = False
    schema["examples"] = [{"text": "a gripping, beautiful film"}]


class PredictRequest(BaseModel):
    """One text or a list of texts; exactly one of the two."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra=lambda schema, _: _request_schema(schema),
    )

    text: StrictStr | None = Field(None, description="a single text to classify")
    texts: list[StrictStr] | None = Field(None, description="several texts, one forward pass")

    @model_validator(mode="after")
    def _one_non_empty_input(self) -> PredictRequest:
        for name in ("text", "texts"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"'{name}' must not be null")
        if (self.text is None) == (self.texts is None):
            raise ValueError("send exactly one of 'text' or 'texts'")
        if self.texts is not None and not self.texts:
            raise ValueError("'texts' must not be empty")
        for text in self.all_texts:
            if not _NON_BLANK.search(text):
                raise ValueError("texts must not be empty or whitespace only")
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as exc:  # a lone surrogate: valid JSON, not valid text
                raise ValueError(
                    f"texts must be valid Unicode (unpaired surrogate at character {exc.start})"
                ) from None
        return self

    @property
    def all_texts(self) -> list[str]:
        return [self.text] if self.text is not None else list(self.texts or [])


class PredictionOut(BaseModel):
    label: Literal["POSITIVE", "NEGATIVE"]
    score: float = Field(ge=0.0, le=1.0)


class ModelInfo(BaseModel):
    id: str
    digest: str = Field(description="sha256 over weights, tokenizer and config")
    accuracy_meaningful: bool = Field(description="false for synthetic and tiny models")
    runtime: Literal["torch", "onnx"] = Field(description="what runs the forward pass")
    precision: Literal["fp32", "bf16", "int8"] = Field(description="arithmetic of the pass")


class Timing(BaseModel):
    server_ms: float = Field(description="request received to response ready, in this process")
    queue_ms: float = Field(description="waiting for the inference thread")
    inference_ms: float = Field(description="tokenise + forward pass of the batch")
    input_tokens: int = Field(description="tokens after truncation, special tokens included")


class PredictResponse(BaseModel):
    predictions: list[PredictionOut]
    model: ModelInfo
    timing: Timing
    truncated: bool = Field(description="true when any text was cut at the token limit")


class ErrorResponse(BaseModel):
    """Every error the service returns: a message a person can read, details for a program."""

    message: str
    detail: Any | None = None
