"""Speed and memory targets, measured against a baseline in the same run (``make benchmark``).

Each module measures one part and returns a :class:`benchmarks.report.Section`; ``python -m
benchmarks [name ...]`` runs them and rewrites their sections of docs/benchmarks.md in place.
"""
