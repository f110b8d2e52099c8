"""One hall for a benchmark run: the plan, one cell's repetitions, and the checks' judges.

Plain Python, no Dagster: the assets, the CLI and the tests call these. docs/architecture.md
shows how one cell flows through them.
"""
