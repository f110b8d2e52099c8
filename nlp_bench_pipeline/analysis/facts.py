"""The facts an analyst may read: aggregate figures, named, filtered and bounded in size.

Both analysts (the Groq model and the offline rules) see the same document, and the grounding
check holds their output against it, so it is the single place that decides what leaves the
metric store. Design:

- **Aggregates only.** The caller passes rows it already aggregated (``run_summary``,
  ``platform_metrics``, cost rows, event counts — plain dicts, as ``MetricStore`` returns them),
  each section under its name. Raw request rows are the caller's to keep out; this module keeps
  out what must never leave even inside an aggregate row.
- **A field filter.** A field is dropped when its *name* says what it holds is sensitive or
  identifying (``*_id``, key, token, secret, password, credential, auth, cookie, ARN, URL, URI,
  host, path, dir, file, endpoint, address, IP, port, account, digest, env) or when its *value*
  is text that looks like a path, URL, hostname, IP address, e-mail, ARN, access key or token
  (a long unbroken run of letters and digits), is longer than :data:`MAX_TEXT_CHARS`, or is not
  a number, a boolean or short text (JSON, lists, timestamps). Missing values (None, NaN) are
  left out without a note: optional fields come and go. Only field *names* are named in the
  notes, never the values dropped.
- **Traceable numbers.** Each row gets a label, ``<section>: <key values>`` (the section's
  ``keys``, in order, that the row has: ``run_summary: local-lambda burst quick``), and each
  value an id, ``<row label> <field>`` (``run_summary: local-lambda burst quick p99_ms``), so
  a figure in the analysis leads back to the query that produced it. Two rows with one label
  are a caller's mistake (pass keys that tell them apart) and raise ``ValueError``.
- **A size bound.** The document's JSON is at most ``max_bytes`` (default
  :data:`DEFAULT_MAX_BYTES`, 8 KB): rows are taken from the sections in turn (the first row of
  each, then the second of each, …) so every section is represented, and a note says how many
  rows of which section were left out.
"""

from __future__ import annotations

import json
import math
import numbers
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict

DEFAULT_KEYS = ("target", "scenario", "profile", "repetition", "kind")
DEFAULT_MAX_BYTES = 8192
MAX_TEXT_CHARS = 48
SIGNIFICANT_DIGITS = 6

Value = float | int | str | bool
KeyValue = str | int

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_SENSITIVE_NAME_PARTS = frozenset(
    {
        "key", "keys", "token", "secret", "secrets", "password", "passwd", "credential",
        "credentials", "auth", "authorization", "cookie", "arn", "url", "uri", "host",
        "hostname", "path", "dir", "file", "filename", "endpoint", "address", "ip", "port",
        "account", "digest", "env", "environ", "email",
    }
)  # fmt: skip
_SENSITIVE_TEXT = [
    re.compile(r"[/\\~]"),  # a path (or a URL)
    re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://"),  # a URL
    re.compile(r"(?i)\barn:"),
    re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b"),  # IPv4
    re.compile(r"(?i)\b[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,}\b"),  # IPv6
    # a dotted hostname (a lower-case last label, so "Runtime.ExitError" is not one)
    re.compile(r"\b[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[a-z]{2,24}\b"),
    re.compile(r"(?i)\blocalhost\b|\w:\d{2,5}\b"),  # localhost, host:port
    re.compile(r"\S@\S"),  # an e-mail address
    re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{12,}|\bgsk_|\bsk-"),  # AWS, Groq, OpenAI-style keys
    re.compile(r"(?=[A-Za-z0-9_+=-]*\d)(?=[A-Za-z0-9_+=-]*[A-Za-z])[A-Za-z0-9_+=-]{20,}"),
]


@dataclass(frozen=True)
class FactSection:
    """One kind of aggregate row, e.g. ``run_summary``, and the fields that name a row."""

    name: str
    rows: Sequence[Mapping[str, Any]]
    keys: Sequence[str] = DEFAULT_KEYS


class FactRow(BaseModel):
    """One aggregate row as the analysts see it."""

    model_config = ConfigDict(frozen=True)

    section: str
    label: str
    subject: dict[str, KeyValue]
    values: dict[str, Value]


class Fact(NamedTuple):
    """One named value: ``id`` is ``<row label> <field>``."""

    id: str
    row: FactRow
    field: str
    value: Value


class FactsDocument(BaseModel):
    """The bounded, filtered facts; ``to_prompt_json`` is exactly what an LLM is sent."""

    model_config = ConfigDict(frozen=True)

    keys: dict[str, list[str]]
    rows: list[FactRow]
    notes: list[str]

    def facts(self) -> Iterator[Fact]:
        """Every value, the numeric key values of each row (``memory_mb=1024``) included."""
        for row in self.rows:
            for name, value in row.subject.items():
                if isinstance(value, int):
                    yield Fact(f"{row.label} {name}", row, name, value)
            for name, value in row.values.items():
                yield Fact(f"{row.label} {name}", row, name, value)

    def fact(self, fact_id: str) -> Fact | None:
        return next((f for f in self.facts() if f.id == fact_id), None)

    def section(self, name: str) -> list[FactRow]:
        return [row for row in self.rows if row.section == name]

    def to_prompt_json(self) -> str:
        return _compact(_prompt_shape(self.keys, self.rows, self.notes)).decode()


def build_facts(
    sections: Sequence[FactSection], *, max_bytes: int = DEFAULT_MAX_BYTES
) -> FactsDocument:
    """The facts document from the caller's aggregate rows (see the module docstring)."""
    notes: list[str] = []
    keys: dict[str, list[str]] = {}
    candidates: list[list[FactRow]] = []
    for section in sections:
        if not _NAME.match(section.name):
            raise ValueError(f"section name {section.name!r} is not an identifier")
        rows, dropped = _section_rows(section)
        keys[section.name] = [k for k in section.keys if any(k in r.subject for r in rows)]
        candidates.append(rows)
        if dropped:
            notes.append(
                f"{section.name}: left out fields that are identifiers, look sensitive or are "
                f"not figures: {', '.join(sorted(dropped))}"
            )
    kept = _bounded(keys, candidates, notes, max_bytes)
    return FactsDocument(keys=keys, rows=kept, notes=notes)


def _section_rows(section: FactSection) -> tuple[list[FactRow], set[str]]:
    rows: list[FactRow] = []
    dropped: set[str] = set()
    labels: set[str] = set()
    for raw in section.rows:
        subject = {k: raw[k] for k in section.keys if raw.get(k) is not None and _NAME.match(k)}
        if not all(_safe_key_value(v) for v in subject.values()):
            dropped.update(k for k, v in subject.items() if not _safe_key_value(v))
            continue
        label = _label(section.name, subject)
        if label in labels:
            raise ValueError(
                f"two {section.name} rows are both {label!r}: pass keys that tell them apart"
            )
        labels.add(label)
        values: dict[str, Value] = {}
        for name, value in raw.items():
            if name in subject or value is None:
                continue
            kept = _kept_value(name, value)
            if kept is _DROP:
                dropped.add(name if _NAME.match(name) else "(an unnamed field)")
            elif kept is not _MISSING:
                values[name] = kept
        rows.append(FactRow(section=section.name, label=label, subject=subject, values=values))
    return rows, dropped


_DROP = object()
_MISSING = object()


def _kept_value(name: str, value: Any) -> Any:
    """The value as the document holds it, ``_DROP`` (with a note) or ``_MISSING`` (silently)."""
    if not _NAME.match(name) or _sensitive_name(name):
        return _DROP
    if isinstance(value, bool):
        return value
    if isinstance(value, numbers.Integral):  # numpy's integers too
        return int(value)
    if isinstance(value, numbers.Real | Decimal):
        number = float(value)
        if not math.isfinite(number):
            return _MISSING
        return float(f"{number:.{SIGNIFICANT_DIGITS}g}")
    if isinstance(value, str) and _safe_text(value):
        return value
    return _DROP


def _sensitive_name(name: str) -> bool:
    parts = name.lower().split("_")
    return name.lower() == "id" or parts[-1] == "id" or bool(_SENSITIVE_NAME_PARTS & set(parts))


def _safe_text(text: str) -> bool:
    return len(text) <= MAX_TEXT_CHARS and not any(p.search(text) for p in _SENSITIVE_TEXT)


def _safe_key_value(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, str) and _safe_text(value))


def _label(section: str, subject: Mapping[str, KeyValue]) -> str:
    parts = [v if isinstance(v, str) else f"{k}={v}" for k, v in subject.items()]
    return " ".join([f"{section}:", *parts])


def _prompt_shape(
    keys: Mapping[str, list[str]], rows: Sequence[FactRow], notes: Sequence[str]
) -> dict[str, Any]:
    return {
        "keys": {name: keys[name] for name in keys},
        "rows": [{"row": row.label, "values": row.values} for row in rows],
        "notes": list(notes),
    }


def _bounded(
    keys: dict[str, list[str]],
    candidates: list[list[FactRow]],
    notes: list[str],
    max_bytes: int,
) -> list[FactRow]:
    """Rows taken from the sections in turn while the JSON stays within ``max_bytes``."""
    order = [
        rows[i]
        for i in range(max((len(r) for r in candidates), default=0))
        for rows in candidates
        if i < len(rows)
    ]
    sizes = [len(_compact({"row": row.label, "values": row.values})) + 1 for row in order]
    worst_notes = _left_out_notes(candidates, [], max_bytes)
    room = max_bytes - len(_compact(_prompt_shape(keys, [], notes + worst_notes)))
    kept: list[FactRow] = []
    for row, size in zip(order, sizes, strict=True):
        if size > room:
            break
        kept.append(row)
        room -= size
    left_out = _left_out_notes(candidates, kept, max_bytes)
    notes.extend(left_out)
    return kept


def _compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _left_out_notes(
    candidates: list[list[FactRow]], kept: list[FactRow], max_bytes: int
) -> list[str]:
    kept_labels = {(row.section, row.label) for row in kept}
    notes = []
    for rows in candidates:
        missing = sum((row.section, row.label) not in kept_labels for row in rows)
        if missing:
            notes.append(
                f"{rows[0].section}: {missing} of {len(rows)} rows left out "
                f"(facts are bounded to {max_bytes} bytes)"
            )
    return notes
