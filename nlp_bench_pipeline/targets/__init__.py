"""Platforms behind one interface (``base.Target``); plain Python, no Dagster."""
