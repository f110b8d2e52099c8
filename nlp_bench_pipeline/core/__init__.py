"""The ground floor: records and process supervision every pipeline package shares.

It imports no other package of this project (a test enforces it, docs/architecture.md).
"""
