"""``python -m inference_service``: serve the app with uvicorn on 127.0.0.1 (see ``--help``)."""

from __future__ import annotations

import argparse

import uvicorn

from inference_service.http_protocol import JsonErrorHttpProtocol


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m inference_service",
        description=__doc__,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address")
    parser.add_argument("--port", type=int, default=8000, help="port")
    parser.add_argument("--app", default="inference_service.app:app", help="ASGI app path")
    parser.add_argument("--access-log", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    uvicorn.run(
        args.app,
        host=args.host,
        port=args.port,
        http=JsonErrorHttpProtocol,
        access_log=args.access_log,
        log_config=None,
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()
