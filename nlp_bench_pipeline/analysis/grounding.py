"""Is every number the analysis states found in the facts it was given?

An LLM that invents a p99 is worse than no analysis, so the ``sre_analysis`` asset check runs
:func:`check_grounding` and fails, naming each ungrounded number with its context. The same
check holds the offline analyst to the same standard.

The rules. A number printed in the analysis (summary, findings, recommendations) is read with
its thousands separators removed and its sign ignored, and is *grounded* when it equals, to the
precision it is printed with (within half a unit of its last printed digit: ``812`` and
``812.4`` both ground 812.41, ``800`` does not), one of:

1. **a fact**, for a number followed by none of the signs of rule 2: a value of the facts
   document, a numeric key of a row (``memory_mb=1024``), or a number inside a text fact or a
   note (the ``503`` of ``HTTP 503``);
2. **a fact in its unit, the unit printed**: a number followed by ``%`` or ``percent`` is a
   percentage fact (a ``_pct`` field), or a fraction (a value from 0 to 1, such as an
   ``error_rate`` of 0.0123) × 100 (``1.2 %``); a number followed by ``s``, ``sec`` or
   ``seconds`` is a fact in seconds (``_s``) or one in milliseconds (``_ms``) ÷ 1000; a number
   followed by ``×``, ``x``, ``times`` or ``-fold`` is a count (a field without a unit). A
   number inside a text fact or a note grounds any of these;
3. **a figure derived from two comparable facts that the same item uses** — the facts a finding
   or recommendation cites in its ``evidence`` or prints as numbers in the same text (for the
   summary: every fact the analysis cites, and those it prints). Two facts are comparable when
   they are two fields of one row in one unit (the unit is a field's last ``_`` part when it is
   one of ``ms``, ``s``, ``pct``, ``rps``, ``usd``, ``mb``, ``gb``; fields without one, like
   ``cold_starts`` and ``requests``, are counts), or one field of two rows of one section
   (``p99_ms`` on two targets). The figures:

   - a difference ``a − b`` (÷ 1000 when both are ``_ms`` and seconds are printed);
   - a ratio ``a / b``, printed with ``×``, ``x``, ``times`` or ``-fold``;
   - a percentage ``a / b × 100`` or a percent change ``(a − b) / b × 100``, printed with
     ``%`` or ``percent``;
4. **"N of M"** needs no rule of its own: N and M are each checked and each must be a fact
   ("9 of the 10 slowest requests" with facts ``cold_starts`` 9 and ``requests`` 10).

Not checked, because they are names rather than figures: digits glued to letters (``p99``,
``k8s``, ``x86``, ``r0``, ``Llama-3``), status classes (``5xx``). An evidence entry must cite a
fact id of the document and give that fact's value (to its printed precision); finding and
recommendation evidence lists must cite existing ids.

Rule 3 is scoped to what the item cites, and rule 2 to facts of the printed unit, because over
a whole facts document some pair of facts yields almost any figure. Measured on an 8 KB document
of a 4 × 5 matrix of runs with random whole percentages, one-decimal ratios and whole
milliseconds: unscoped, every percentage from 0 to 100, two ratios in three and 6 % of the
millisecond values passed; scoped, a finding citing 20 facts lets about one percentage in six,
one ratio in thirty and 1 % of the millisecond values through. So the check shows that a number
*can* be computed from the facts its item uses, by these rules; it does not show that the
sentence around it computes it correctly.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict

from nlp_bench_pipeline.analysis.facts import Fact, FactsDocument
from nlp_bench_pipeline.analysis.sections import AnalysisSections

UNITS = frozenset({"ms", "s", "pct", "rps", "usd", "mb", "gb"})
CONTEXT_CHARS = 40

NUMBER = re.compile(
    r"(?<![A-Za-z_\d.,])(?<![A-Za-z]-)"  # not glued to a name: p99, k8s, Llama-3
    r"(?P<whole>\d{1,3}(?:,\d{3})+|\d+)(?P<fraction>\.\d+)?"
    r"(?!xx|\d)"  # not a status class: 5xx
)
_PERCENT = re.compile(r"\s?(?:%|percent\b|per cent\b)")
_RATIO = re.compile(r"\s?(?:×|x\b|times\b|-fold\b|fold\b)")
_SECONDS = re.compile(r"\s?(?:s|secs?|seconds?)\b")


class UngroundedNumber(BaseModel):
    """A number the facts do not support, where it stands and the words around it."""

    model_config = ConfigDict(frozen=True)

    number: str
    location: str
    context: str


class EvidenceProblem(BaseModel):
    """An evidence entry or list citing a fact id the document lacks, or giving a wrong value."""

    model_config = ConfigDict(frozen=True)

    fact: str
    location: str
    problem: str


class GroundingReport(BaseModel):
    """What the check found; ``grounded`` is what an asset check passes on."""

    model_config = ConfigDict(frozen=True)

    numbers_checked: int
    ungrounded: list[UngroundedNumber]
    evidence_problems: list[EvidenceProblem]

    @property
    def grounded(self) -> bool:
        return not self.ungrounded and not self.evidence_problems

    def describe(self) -> str:
        """One line per problem, for an asset check's description."""
        lines = [
            f"ungrounded number {u.number} in {u.location}: …{u.context}…" for u in self.ungrounded
        ]
        lines += [f"{u.location}: {u.problem} ({u.fact})" for u in self.evidence_problems]
        return "\n".join(lines) or f"all {self.numbers_checked} numbers grounded"


def check_grounding(analysis: AnalysisSections, facts: FactsDocument) -> GroundingReport:
    """Every number of ``analysis`` against ``facts`` by the rules of the module docstring."""
    numeric = {f.id: f for f in facts.facts() if _is_number(f.value)}
    single = _Candidates.of_facts(facts, list(numeric.values()))
    everything_cited = [i for _, _, cited in _texts(analysis, []) for i in cited]
    everything_cited += [e.fact for e in analysis.evidence]
    checked = 0
    ungrounded: list[UngroundedNumber] = []
    for location, text, cited in _texts(analysis, everything_cited):
        matches = list(NUMBER.finditer(text))
        scope = {i for i in cited if i in numeric} | _printed(matches, numeric.values())
        derived = _Candidates.of_pairs([numeric[i] for i in sorted(scope)])
        for match in matches:
            checked += 1
            if not (single.grounds(match, text) or derived.grounds(match, text)):
                start, end = match.span()
                context = text[max(0, start - CONTEXT_CHARS) : end + CONTEXT_CHARS]
                ungrounded.append(
                    UngroundedNumber(number=match.group(0), location=location, context=context)
                )
    return GroundingReport(
        numbers_checked=checked,
        ungrounded=ungrounded,
        evidence_problems=_evidence_problems(analysis, facts),
    )


def _texts(
    analysis: AnalysisSections, summary_cites: list[str]
) -> Iterator[tuple[str, str, list[str]]]:
    """Each text with the fact ids its item cites."""
    yield "summary", analysis.summary, summary_cites
    for i, finding in enumerate(analysis.findings):
        yield f"findings[{i}].title", finding.title, finding.evidence
        yield f"findings[{i}].detail", finding.detail, finding.evidence
    for i, recommendation in enumerate(analysis.recommendations):
        yield f"recommendations[{i}].action", recommendation.action, recommendation.evidence
        yield f"recommendations[{i}].rationale", recommendation.rationale, recommendation.evidence


def _printed(matches: list[re.Match[str]], numeric: Iterable[Fact]) -> set[str]:
    """The ids of the facts whose values the text prints as they are (rule 1)."""
    printed = set()
    for fact in numeric:
        value = abs(float(fact.value))
        if any(abs(value - _number(m)) <= _tolerance(_number(m), _decimals(m)) for m in matches):
            printed.add(fact.id)
    return printed


def _evidence_problems(analysis: AnalysisSections, facts: FactsDocument) -> list[EvidenceProblem]:
    by_id = {fact.id: fact for fact in facts.facts()}
    problems = []
    for i, entry in enumerate(analysis.evidence):
        fact = by_id.get(entry.fact)
        location = f"evidence[{i}]"
        if fact is None:
            problem = EvidenceProblem(fact=entry.fact, location=location, problem="no such fact")
            problems.append(problem)
        elif not _same_value(entry.value, fact.value):
            problems.append(
                EvidenceProblem(
                    fact=entry.fact,
                    location=location,
                    problem=f"value {entry.value!r} is not the fact's {fact.value!r}",
                )
            )
    cited = [
        (f"findings[{i}].evidence", fact_id)
        for i, finding in enumerate(analysis.findings)
        for fact_id in finding.evidence
    ] + [
        (f"recommendations[{i}].evidence", fact_id)
        for i, recommendation in enumerate(analysis.recommendations)
        for fact_id in recommendation.evidence
    ]
    problems += [
        EvidenceProblem(fact=fact_id, location=location, problem="no such fact")
        for location, fact_id in cited
        if fact_id not in by_id
    ]
    return problems


def _same_value(given: object, fact: object) -> bool:
    if _is_number(given) and _is_number(fact):
        printed = repr(given)
        decimals = len(printed.partition(".")[2]) if "e" not in printed else 12
        return abs(float(given) - float(fact)) <= _tolerance(float(given), decimals)
    return given == fact


@dataclass(frozen=True)
class _Candidates:
    """Sorted values a printed number may be: plain, a percentage, a ratio, seconds."""

    plain: np.ndarray
    percent: np.ndarray
    ratio: np.ndarray
    seconds: np.ndarray

    @classmethod
    def of_facts(cls, facts: FactsDocument, numeric: list[Fact]) -> _Candidates:
        """Rules 1 and 2: the facts, numbers in text facts and notes, and their other units."""
        texts = [str(f.value) for f in facts.facts() if isinstance(f.value, str)] + facts.notes
        in_text = [_number(m) for text in texts for m in NUMBER.finditer(text)]
        values = [float(f.value) for f in numeric]
        percentages = [float(f.value) for f in numeric if _unit(f.field) == "pct"]
        fractions = [float(f.value) * 100.0 for f in numeric if 0 <= float(f.value) <= 1]
        counts = [float(f.value) for f in numeric if _unit(f.field) == "count"]
        seconds = [float(f.value) for f in numeric if _unit(f.field) == "s"]
        in_seconds = [float(f.value) / 1000.0 for f in numeric if _unit(f.field) == "ms"]
        return cls(
            plain=_sorted([*values, *in_text]),
            percent=_sorted([*percentages, *fractions, *in_text]),
            ratio=_sorted([*counts, *in_text]),
            seconds=_sorted([*seconds, *in_seconds, *in_text]),
        )

    @classmethod
    def of_pairs(cls, scope: list[Fact]) -> _Candidates:
        """Rule 3: figures derived from comparable pairs of the facts in ``scope``."""
        differences, ms_differences, ratios, percents = [], [], [], []
        for a, b in _comparable_pairs(scope):
            x, y = float(a.value), float(b.value)
            differences.append(x - y)
            if _unit(a.field) == "ms" and _unit(b.field) == "ms":
                ms_differences.append((x - y) / 1000.0)
            for num, den in ((x, y), (y, x)):
                if den != 0:
                    ratios.append(num / den)
                    percents += [num / den * 100.0, (num - den) / den * 100.0]
        return cls(
            plain=_sorted(differences),
            percent=_sorted(percents),
            ratio=_sorted(ratios),
            seconds=_sorted(ms_differences),
        )

    def grounds(self, match: re.Match[str], text: str) -> bool:
        number = _number(match)
        after = text[match.end() :]
        if _PERCENT.match(after):
            pool = self.percent
        elif _RATIO.match(after):
            pool = self.ratio
        elif _SECONDS.match(after):
            pool = self.seconds
        else:
            pool = self.plain
        tolerance = _tolerance(number, _decimals(match))
        i = int(np.searchsorted(pool, number - tolerance))
        return i < len(pool) and pool[i] <= number + tolerance


def _comparable_pairs(numeric: list[Fact]) -> Iterator[tuple[Fact, Fact]]:
    """Two fields of one row in one unit, or one field of two rows of one section."""
    by_row: dict[str, list[Fact]] = defaultdict(list)
    by_field: dict[tuple[str, str], list[Fact]] = defaultdict(list)
    for fact in numeric:
        by_row[fact.row.label].append(fact)
        by_field[(fact.row.section, fact.field)].append(fact)
    for row_facts in by_row.values():
        for a, b in itertools.combinations(row_facts, 2):
            if _unit(a.field) == _unit(b.field):
                yield a, b
    for field_facts in by_field.values():
        yield from itertools.combinations(field_facts, 2)


def _unit(field: str) -> str:
    suffix = field.rpartition("_")[2].lower()
    return suffix if suffix in UNITS else "count"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(match: re.Match[str]) -> float:
    return float(match.group("whole").replace(",", "") + (match.group("fraction") or ""))


def _decimals(match: re.Match[str]) -> int:
    return len(match.group("fraction") or ".") - 1


def _tolerance(number: float, decimals: int) -> float:
    return 0.5 * 10.0**-decimals + 1e-9 * abs(number)


def _sorted(values: Iterable[float]) -> np.ndarray:
    return np.unique(np.abs(np.asarray(list(values), dtype=float)))
