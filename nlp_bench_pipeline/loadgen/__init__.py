"""Open-loop load generation with Locust: schedules, payloads, scenarios, the runner.

Nothing here imports Locust except ``locustfile.py``, which only Locust's own child process
loads; the Dagster side uses :mod:`nlp_bench_pipeline.loadgen.launch`.
"""
