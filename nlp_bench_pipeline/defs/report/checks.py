"""[report] The analysis states only what its facts say: every number grounded, or the check fails.

Re-runs ``analysis.grounding.check_grounding`` on what ``sre_analysis`` wrote (the analysis and
the facts it was given, from ``analysis.json``), rather than trusting the verdict stored beside
them; the description names each ungrounded number with the words around it. The rules — which
derived figures count (percentages, ratios, differences, "N of M") — are in that module.
"""

import dagster as dg

from nlp_bench_pipeline.analysis import check_grounding
from nlp_bench_pipeline.defs.report.assets import sre_analysis
from nlp_bench_pipeline.defs.resources import ReportResource
from nlp_bench_pipeline.report.sre import read_analysis

DESCRIPTION_CHARS = 2000


@dg.asset_check(
    asset=sre_analysis,
    description="Every number the analysis states is found in the facts it was given (within "
    "rounding; percentages, ratios and differences of facts it cites count).",
)
def analysis_numbers_grounded(report: ReportResource) -> dg.AssetCheckResult:
    try:
        written = read_analysis(report.path)
    except FileNotFoundError:
        return dg.AssetCheckResult(passed=False, description="no analysis.json: nothing to check")
    grounding = check_grounding(written.analysis, written.facts)
    return dg.AssetCheckResult(
        passed=grounding.grounded,
        description=grounding.describe()[:DESCRIPTION_CHARS],
        metadata={
            "author": written.analysis.author,
            "numbers_checked": grounding.numbers_checked,
            "ungrounded": len(grounding.ungrounded),
            "evidence_problems": len(grounding.evidence_problems),
        },
    )
