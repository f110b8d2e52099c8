"""Helpers the Dagster assets share; kept out of ``defs/`` so autoloading never sees them."""
