"""The Groq analyst: a Llama model writes the report's sections from the facts document alone.

Design:

- **What is sent.** Two messages: a system message saying what to write and the rules a number
  must follow (those of ``grounding.py``), and a user message that is the facts document's JSON
  and nothing else. No key, hostname, path or raw row can be in it: the document's filter saw to
  that, and the key is only ever given to the ``groq`` client, which sends it as the
  ``Authorization`` header. The key is a parameter (the Dagster layer reads it with
  ``dg.EnvVar("GROQ_API_KEY")``); it is never logged, and any text that reaches a warning is
  scrubbed of it.
- **Models.** ``models`` is tried in order (default :data:`DEFAULT_MODELS`, a current Llama 3
  family model first): a model the API does not know (HTTP 404, or error code
  ``model_not_found`` / ``model_decommissioned``) moves on to the next, with a warning.
- **Failure.** Any other failure — an HTTP error, a timeout, no connection, a reply that is not
  the JSON asked for — falls back to the offline analyst, with a warning saying why, so the
  report always has an analysis and says who wrote it (``groq:<model>`` or ``offline``).
  The client runs with ``max_retries=0``: one request per model, and a failure is reported
  rather than retried for minutes.
- JSON mode (``response_format={"type": "json_object"}``) and temperature 0; the reply is
  validated against :class:`~nlp_bench_pipeline.analysis.sections.AnalysisSections`. Whether its
  numbers are grounded is the asset check's question (``grounding.check_grounding``), not this
  module's: an ungrounded reply is kept and shown failing, not silently replaced.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import groq
from groq import Groq
from pydantic import ValidationError

from nlp_bench_pipeline.analysis.facts import FactsDocument
from nlp_bench_pipeline.analysis.offline import analyse_offline
from nlp_bench_pipeline.analysis.sections import AREAS, Analysis, AnalysisSections

log = logging.getLogger(__name__)

DEFAULT_MODELS = ("llama-3.3-70b-versatile", "llama-3.1-8b-instant")
DEFAULT_TIMEOUT_S = 60.0
MAX_REPLY_TOKENS = 2048
MISSING_MODEL_CODES = frozenset({"model_not_found", "model_decommissioned"})
WARNING_CHARS = 300

SYSTEM_PROMPT = f"""\
You are a site reliability engineer reviewing a benchmark of one DistilBERT sentiment service \
deployed to AWS Lambda-style and Kubernetes-style targets. The user message is a JSON facts \
document: "rows" of aggregate figures, each labelled "<section>: <key values>" (the key fields of \
each section are listed under "keys"), and "notes". A fact's id is "<row label> <field>", for \
example "run_summary: local-lambda burst quick p99_ms". Fields ending in _ms are milliseconds, \
_rate fields are fractions, _usd US dollars.

Write a short SRE report as one JSON object with exactly these keys:
- "summary": one or two sentences;
- "findings": a list (at most 8) of {{"title": str, "detail": str, "evidence": [fact ids]}}, \
most important first: which target met its latency best, where the tail comes from (cold \
starts, throttles, queueing, scaling), errors;
- "evidence": a list of {{"fact": fact id, "value": that fact's value}} for every fact you used;
- "recommendations": a list (at most 6) of {{"area": one of {", ".join(AREAS)}, \
"action": str, "rationale": str, "evidence": [fact ids]}}.

Rules for numbers: use only the facts given. Every number you write must be a fact's value \
(rounded, not to fewer digits than whole units), a fraction (such as an _rate) written as a \
percentage with "%", milliseconds written as seconds with "s", or derived from two comparable \
facts (two fields of one row in one unit, or one field of two rows) that the same finding or \
recommendation cites in its "evidence": a difference, a ratio written with "×", or a \
percentage written with "%". Write no other numbers: no thresholds, counts or sizes of your \
own. Reply with the \
JSON object only."""


def build_messages(facts: FactsDocument) -> list[dict[str, str]]:
    """The two chat messages: instructions, and the facts document's JSON."""
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": facts.to_prompt_json()},
    ]


def analyse_with_groq(
    facts: FactsDocument,
    *,
    api_key: str,
    models: Sequence[str] = DEFAULT_MODELS,
    base_url: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> Analysis:
    """The first known model's analysis of ``facts``, or the offline one with warnings."""
    if not models:
        raise ValueError("models is empty: name at least one Groq model id")
    client = Groq(api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout_s)
    messages = build_messages(facts)
    warnings: list[str] = []
    for model in models:
        try:
            completion = client.chat.completions.create(
                model=model,
                messages=messages,
                temperature=0,
                max_tokens=MAX_REPLY_TOKENS,
                response_format={"type": "json_object"},
            )
        except groq.APIStatusError as exc:
            if _model_missing(exc):
                warnings.append(_scrub(f"model {model} not found ({_describe(exc)})", api_key))
                continue
            return _offline(facts, warnings, f"Groq answered {_describe(exc)} for {model}", api_key)
        except groq.APIConnectionError as exc:
            why = f"could not reach Groq for {model} ({type(exc).__name__})"
            return _offline(facts, warnings, why, api_key)
        except groq.APIError as exc:
            why = f"the Groq call for {model} failed ({type(exc).__name__})"
            return _offline(facts, warnings, why, api_key)
        try:
            sections = AnalysisSections.model_validate_json(_reply_text(completion))
        except ValidationError as exc:
            why = f"the reply of {model} is not the JSON asked for ({_first_error(exc)})"
            return _offline(facts, warnings, why, api_key)
        return Analysis(**sections.model_dump(), author=f"groq:{model}", warnings=warnings)
    return _offline(facts, warnings, "none of the models was found", api_key)


def _reply_text(completion: object) -> str:
    """The first choice's message, or "" (then malformed) when the reply has none."""
    try:
        return completion.choices[0].message.content or ""  # type: ignore[attr-defined]
    except (AttributeError, IndexError, TypeError):
        return ""


def _offline(facts: FactsDocument, warnings: list[str], why: str, api_key: str) -> Analysis:
    warning = _scrub(f"{why}; the offline analyst wrote this analysis", api_key)
    log.warning("%s", warning)
    return analyse_offline(facts, warnings=[*warnings, warning])


def _model_missing(exc: groq.APIStatusError) -> bool:
    return exc.status_code == 404 or _error_code(exc) in MISSING_MODEL_CODES


def _error_code(exc: groq.APIStatusError) -> str | None:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("code"), str):
            return error["code"]
    return None


def _describe(exc: groq.APIStatusError) -> str:
    code = _error_code(exc)
    return f"HTTP {exc.status_code}" + (f", {code}" if code else "")


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error["loc"]) or "reply"
    return f"{where}: {error['msg']}"


def _scrub(text: str, api_key: str) -> str:
    """A warning is shown in the report: bounded, and never holding the key."""
    if api_key:
        text = text.replace(api_key, "[redacted]")
    return text[:WARNING_CHARS]
