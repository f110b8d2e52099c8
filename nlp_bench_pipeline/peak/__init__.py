"""The peak rate under an SLO: the highest Poisson rate whose p99 over every request holds a bound.

Plain Python, no Dagster and no settings (docs/peak.md). Modules, one concern each: ``search``
(MLPerf LoadGen's FindPeakPerformance over any probe), ``plan`` (bounds, policies, sizes, each
probe's scenario), ``probes`` (a probe as an ordinary run of scenario ``peak`` through
``bench.cell``), ``capacity`` (sizes, per-vCPU capacity, the host-limited label),
``projection`` (the same search on the scale simulator under AWS's rules), ``run`` (one
invocation: every size, policy and bound, stored through ``store.peak``).
"""

from nlp_bench_pipeline.peak.plan import (
    DEFAULT_SLO_MS,
    MLPERF_BERT_SLO_MS,
    PEAK_SCENARIO,
    POLICIES,
    PeakPlan,
)
from nlp_bench_pipeline.peak.run import PeakOutcome, PeakRequest, run_peak
from nlp_bench_pipeline.peak.search import (
    ProbeFailed,
    ProbeOutcome,
    SearchBounds,
    SearchResult,
    bracket,
    find_peak,
)

# What a peak search's runs depend on, for their code version (the assets' and the command's).
SOURCES = (
    "nlp_bench_pipeline/peak",
    "nlp_bench_pipeline/bench",
    "nlp_bench_pipeline/loadgen",
    "nlp_bench_pipeline/store",
    "nlp_bench_pipeline/targets",
    "nlp_bench_pipeline/simulate",
    "nlp_bench_pipeline/core",
    "nlp_bench_pipeline/client.py",
)

__all__ = [
    "DEFAULT_SLO_MS",
    "MLPERF_BERT_SLO_MS",
    "PEAK_SCENARIO",
    "POLICIES",
    "SOURCES",
    "PeakOutcome",
    "PeakPlan",
    "PeakRequest",
    "ProbeFailed",
    "ProbeOutcome",
    "SearchBounds",
    "SearchResult",
    "bracket",
    "find_peak",
    "run_peak",
]
