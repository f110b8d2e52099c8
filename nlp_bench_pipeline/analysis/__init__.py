"""The "AI SRE": a short report on a benchmark's results, written by a model or by rules.

``facts`` turns the caller's aggregate rows into a bounded, secret-free document; ``llm`` asks a
Groq-hosted Llama model for the report's sections (``sections``) from that document alone and
falls back to ``offline``, which derives the same sections by rules; ``grounding`` checks that
every number the report states is found in the facts. Plain Python: the Dagster asset passes the
rows and the key in, and renders what comes back.
"""

from nlp_bench_pipeline.analysis.facts import FactsDocument, FactSection, build_facts
from nlp_bench_pipeline.analysis.grounding import GroundingReport, check_grounding
from nlp_bench_pipeline.analysis.llm import DEFAULT_MODELS, analyse_with_groq
from nlp_bench_pipeline.analysis.offline import analyse_offline
from nlp_bench_pipeline.analysis.sections import Analysis

__all__ = [
    "DEFAULT_MODELS",
    "Analysis",
    "FactSection",
    "FactsDocument",
    "GroundingReport",
    "analyse_offline",
    "analyse_with_groq",
    "build_facts",
    "check_grounding",
]
