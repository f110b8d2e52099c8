"""``nlp-bench ui``: the Dagster UI and daemon on 127.0.0.1, stopped as one process group."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from nlp_bench_pipeline.cli.dagster_home import ensure_dagster_home
from nlp_bench_pipeline.core.options import number
from nlp_bench_pipeline.core.processes import OWNER_ENV, ChildProcess
from nlp_bench_pipeline.settings import PROJECT_ROOT
from nlp_bench_pipeline.targets.command_line import port_taken, port_taken_line

UI_OWNER = "nlp-bench-ui"


def register(subparsers: argparse._SubParsersAction) -> None:
    ui = subparsers.add_parser("ui", help="the Dagster UI and daemon (dg dev) on 127.0.0.1")
    ui.add_argument(
        "--port",
        type=number(1, 65535, integer=True),
        default=3000,
        help="the UI's port on 127.0.0.1 (default: %(default)s)",
    )

    def handler(args: argparse.Namespace) -> int:
        if port_taken(args.port):
            ui.error(port_taken_line(args.port, "the Dagster UI", any_free=False))
        return ui_command(args.port)

    ui.set_defaults(handler=handler)


def ui_command(port: int) -> int:
    """``dg dev`` in its own process group, stopped as a group on Ctrl-C or SIGTERM.

    ``dagster dev`` (which ``dg dev`` runs) has been seen to ignore SIGINT/SIGTERM and leave its
    webserver, daemon and code server behind; killing the whole group leaves nothing.
    """
    home = ensure_dagster_home()
    dagster_dev = ChildProcess.start(
        "dg-dev",
        # dg reads the code location from pyproject.toml ([tool.dg.project]) in the project.
        [
            str(Path(sys.executable).with_name("dg")),
            "dev",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        # Started by a supervisor (the browser test), keep its tag: its orphan scan then sees
        # dg dev's webserver, daemon and code servers too.
        owner=os.environ.get(OWNER_ENV, UI_OWNER),
        log_dir=None,
        cwd=PROJECT_ROOT,
    )
    print(f"Dagster UI: http://127.0.0.1:{port}  (home {home}; Ctrl-C stops it)", flush=True)

    # SIGTERM takes the Ctrl-C path. A handler that stopped the child itself would run inside
    # popen.wait(), whose waitpid lock it cannot take, and so sat out both of stop's timeouts.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return dagster_dev.popen.wait()
    except KeyboardInterrupt:
        dagster_dev.stop(grace_s=10)
        return 0
