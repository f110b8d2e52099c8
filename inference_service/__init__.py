"""The deployable inference service: DistilBERT sentiment behind FastAPI, also as a Lambda handler.

Imports nothing from ``nlp_bench_pipeline``: the pipeline starts this service as processes.
"""
