"""A writer process for the crash test: ingests a run and stops dead inside the transaction.

``python -m tests.integration.store_writer DB RUN_ID ROWS PARQUET`` loads the run through the real
ingestion code, but once every row is inserted — before COMMIT — it prints ``inside`` and sleeps,
so the test can SIGKILL it exactly mid-ingestion.
"""

import sys
import time
from pathlib import Path

from nlp_bench_pipeline.store import MetricStore, ingest
from tests.unit.store_rows import record, row, write_rows

_mark_cold = ingest._mark_cold_from_events


def _stop_before_commit(conn, run):
    marked = _mark_cold(conn, run)
    print("inside", flush=True)
    time.sleep(120)
    return marked


def main(db: str, run_id: str, count: str, parquet: str) -> None:
    rows = [row(i) for i in range(int(count))]
    files = [write_rows(Path(parquet), rows)]
    ingest._mark_cold_from_events = _stop_before_commit
    MetricStore(db).ingest_run(
        record(run_id, rows, config={"writer": "killed"}), request_files=files
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
