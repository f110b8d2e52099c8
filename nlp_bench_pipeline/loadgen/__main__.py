"""``python -m nlp_bench_pipeline.loadgen``: see ``runner.py`` and ``--help``."""

import signal
import sys

from nlp_bench_pipeline.loadgen.runner import main


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    """Terminated (a cancelled Dagster run): unwind, so Locust's process group is killed too."""
    raise SystemExit(128 + signum)


signal.signal(signal.SIGTERM, _exit_on_sigterm)
sys.exit(main())
