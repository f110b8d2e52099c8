"""The project's Dagster home, created on first use with the instance settings we need."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from nlp_bench_pipeline.settings import PROJECT_ROOT

INSTANCE_TEMPLATE = Path(__file__).with_name("dagster.yaml")
DEFAULT_HOME = PROJECT_ROOT / ".dagster_home"


def ensure_dagster_home() -> Path:
    """``$DAGSTER_HOME`` (default ``.dagster_home``), with our ``dagster.yaml`` if it has none.

    The instance's storage is created here, once: two Dagster processes started together on an
    empty home (``make bench`` and ``make ui``) both run the schema setup, and the loser fails
    with "alembic_version has more than one head present".
    """
    home = Path(os.environ.get("DAGSTER_HOME") or DEFAULT_HOME).resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        shutil.copyfile(INSTANCE_TEMPLATE, config)
    os.environ["DAGSTER_HOME"] = str(home)
    if not (home / "history").exists():
        from dagster import DagsterInstance

        with DagsterInstance.get():
            pass
    return home
