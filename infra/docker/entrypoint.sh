#!/bin/sh
# Lambda sets AWS_LAMBDA_RUNTIME_API; anywhere else the image serves HTTP with uvicorn.
set -e
if [ -n "${AWS_LAMBDA_RUNTIME_API:-}" ]; then
    exec python -m awslambdaric "${HANDLER:-inference_service.lambda_handler.handler}"
fi
exec python -m inference_service --host "${HOST:-0.0.0.0}" --port "${PORT:-8080}"
