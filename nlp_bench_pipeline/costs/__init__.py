"""Pricing catalog and cost model: what a Lambda or EKS deployment costs at a given traffic.

Plain Python, no Dagster: the catalog (``catalog.yaml``, validated by ``catalog.py``) holds every
price with its source and date; ``model.py`` prices usage records (``usage.py``) line by line.
docs/costs.md explains each rule and assumption.
"""
