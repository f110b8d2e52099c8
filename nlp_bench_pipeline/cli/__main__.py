"""``python -m nlp_bench_pipeline.cli``: the ``nlp-bench`` command (``make bench`` uses it)."""

import sys

from nlp_bench_pipeline.cli import main

sys.exit(main())
