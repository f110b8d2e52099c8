"""``python -m nlp_bench_pipeline.loadgen``: see ``runner.py`` and ``--help``.

The standalone entry point, so the one place here that reads settings: run directories go to
``NLP_BENCH_WORK_DIR`` unless ``--work-dir`` says otherwise.
"""

import signal
import sys

from nlp_bench_pipeline.loadgen.runner import main
from nlp_bench_pipeline.settings import PipelineSettings


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    """Terminated (a cancelled Dagster run): unwind, so Locust's process group is killed too."""
    raise SystemExit(128 + signum)


signal.signal(signal.SIGTERM, _exit_on_sigterm)
sys.exit(main(default_work_dir=PipelineSettings().work_dir))
