"""``python -m nlp_bench_pipeline.loadgen``: see ``runner.py`` and ``--help``."""

import sys

from nlp_bench_pipeline.loadgen.runner import main

sys.exit(main())
