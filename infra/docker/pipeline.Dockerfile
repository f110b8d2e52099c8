# The pipeline image: the whole project as `make venv` installs it (the same requirements.lock),
# for the app server (Dagster webserver + daemon: `nlp-bench ui`) and the in-region runner pod in
# EKS (`python -m nlp_bench_pipeline.loadgen.in_pod`, infra/k8s/loadgen). Not the service image:
# that one stays ADR 0003's single image for Lambda and pods.
#   docker buildx build -f infra/docker/pipeline.Dockerfile --platform linux/amd64 \
#       --provenance=false --sbom=false --push -t <repo>:<git sha>-amd64 .
FROM python:3.11-slim AS pipeline

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    NLP_BENCH_MODEL=synthetic

WORKDIR /opt/nlp-bench
COPY requirements.lock /tmp/requirements.lock
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu -r /tmp/requirements.lock

RUN useradd --uid 10001 --no-create-home pipeline
COPY pyproject.toml README.md workspace.yaml ./
COPY inference_service/ inference_service/
COPY nlp_bench_pipeline/ nlp_bench_pipeline/
COPY infra/k8s/ infra/k8s/
# Editable, as in .venv: the manifest renderer finds infra/k8s beside the package.
RUN pip install --no-deps --no-build-isolation -e . && chmod -R a+rX /opt/nlp-bench

# Writable paths come from volumes (the app server's /var/lib/nlp-bench, the pods' emptyDirs).
ENV HOME=/tmp \
    XDG_CACHE_HOME=/tmp/.cache
USER 10001
# No single probe fits: the same image runs the UI (systemd restarts it on the app server) and
# Locust Jobs (Kubernetes watches those).
HEALTHCHECK NONE
ENTRYPOINT ["nlp-bench"]
